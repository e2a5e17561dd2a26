package auditor.tests.npi

import data.auditor.rules.npi

test_ssn_and_name_to_copilot_is_high if {
	some v in npi.deny with input as data.auditor_examples.npi_to_copilot
	v.rule_id == "client-npi-to-uncontracted-tool"
	v.severity == "high"
	v.entity_types == ["PERSON", "US_SSN"]
}

test_many_identifiers_escalate_to_critical if {
	some v in npi.deny with input as data.auditor_examples.npi_bulk_to_copilot
	v.severity == "critical"
	v.entity_types == ["EMAIL_ADDRESS", "US_BANK_NUMBER", "US_SSN"]
}

test_identity_without_identifier_passes if {
	count(npi.deny) == 0 with input as data.auditor_examples.identity_only_to_copilot
}

test_tool_with_npi_contract_passes if {
	count(npi.deny) == 0 with input as data.auditor_examples.npi_to_claude_enterprise
}

test_card_number_is_npi if {
	count(npi.deny) == 1 with input as data.auditor_examples.card_to_copilot
}

test_unregistered_tool_has_no_contract if {
	count(npi.deny) == 1 with input as data.auditor_examples.unregistered_tool
}

test_identifier_below_min_score_passes if {
	count(npi.deny) == 0 with input as data.auditor_examples.npi_to_copilot
		with input.detections as {"US_SSN": {"count": 1, "max_score": 0.55}}
}
