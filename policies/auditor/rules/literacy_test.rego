package auditor.tests.literacy

import data.auditor.rules.literacy

test_training_not_done_fires if {
	some v in literacy.deny with input as data.auditor_examples.literacy_not_done
	v.rule_id == "ai-literacy-training-missing"
	v.severity == "medium"
}

test_training_after_the_interaction_fires if {
	some v in literacy.deny with input as data.auditor_examples.literacy_completed_after_use
	contains(v.message, "2026-10-20")
}

test_training_on_the_same_day_passes if {
	count(literacy.deny) == 0 with input as data.auditor_examples.literacy_completed_after_use
		with input.user.ai_literacy_completed_on as "2026-10-12"
}

test_trained_user_passes if {
	count(literacy.deny) == 0 with input as data.auditor_examples.clean_internal
}

test_unknown_training_passes_unless_configured if {
	count(literacy.deny) == 0 with input as data.auditor_examples.literacy_not_done
		with input.user.ai_literacy_done as null
	count(literacy.deny) == 1 with input as data.auditor_examples.literacy_not_done
		with input.user.ai_literacy_done as null
		with data.auditor_data.thresholds["ai-literacy-training-missing"].unknown_counts_as_missing as true
}

test_person_not_in_directory_passes if {
	count(literacy.deny) == 0 with input as data.auditor_examples.unregistered_tool
}
