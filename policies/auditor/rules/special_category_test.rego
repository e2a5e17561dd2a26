package auditor.tests.special_category

import data.auditor.rules.special_category

test_special_category_with_person_fires if {
	some v in special_category.deny with input as data.auditor_examples.special_category_to_chatgpt_enterprise
	v.rule_id == "special-category-data-to-external-ai"
	v.severity == "high"
	v.entity_types == ["PERSON", "SPECIAL_CATEGORY"]
}

test_special_category_without_person_passes if {
	count(special_category.deny) == 0 with input as data.auditor_examples.special_category_without_person
}

test_client_name_counts_as_person if {
	count(special_category.deny) == 1 with input as data.auditor_examples.special_category_without_person
		with input.detections.CLIENT_NAME as {"count": 1, "max_score": 0.9}
}

test_internal_platform_passes if {
	count(special_category.deny) == 0 with input as data.auditor_examples.special_category_to_chatgpt_enterprise
		with input.interaction.tool as "atlas-internal"
}
