package auditor.tests.pci

import data.auditor.rules.pci

ids(vs) := {v.rule_id | some v in vs}

test_card_to_copilot_is_critical if {
	some v in pci.deny with input as data.auditor_examples.card_to_copilot
	v.rule_id == "card-data-outside-pci-scope"
	v.severity == "critical"
	v.entity_types == ["CREDIT_CARD"]
}

test_card_to_contracted_tool_outside_scope_fires if {
	"card-data-outside-pci-scope" in ids(pci.deny) with input as data.auditor_examples.card_to_chatgpt_enterprise
}

test_card_to_tool_in_pci_scope_passes if {
	count(pci.deny) == 0 with input as data.auditor_examples.card_to_internal
}

test_card_to_unregistered_tool_fires if {
	"card-data-outside-pci-scope" in ids(pci.deny) with input as data.auditor_examples.unregistered_tool
}

test_card_below_min_score_passes if {
	count(pci.deny) == 0 with input as data.auditor_examples.card_to_copilot
		with input.detections as {"CREDIT_CARD": {"count": 1, "max_score": 0.69}}
}

test_card_at_min_score_fires if {
	count(pci.deny) == 1 with input as data.auditor_examples.card_to_copilot
		with input.detections as {"CREDIT_CARD": {"count": 1, "max_score": 0.7}}
}

test_no_detections_passes if {
	count(pci.deny) == 0 with input as data.auditor_examples.prohibited_tool
}

test_message_counts_and_names_tool if {
	some v in pci.deny with input as data.auditor_examples.card_to_chatgpt_enterprise
	contains(v.message, "2 card number")
	contains(v.message, "chatgpt-enterprise")
}

test_security_code_alone_fires if {
	some v in pci.deny with input as data.auditor_examples.card_to_copilot
		with input.detections as {"CARD_SECURITY_CODE": {"count": 1, "max_score": 0.9}}
	v.entity_types == ["CARD_SECURITY_CODE"]
	contains(v.message, "1 card data detection(s)")
}

test_track_data_alone_fires if {
	some v in pci.deny with input as data.auditor_examples.card_to_copilot
		with input.detections as {"CARD_TRACK_DATA": {"count": 2, "max_score": 0.95}}
	v.entity_types == ["CARD_TRACK_DATA"]
	contains(v.message, "2 card data detection(s)")
}

test_card_with_security_code_counts_both if {
	some v in pci.deny with input as data.auditor_examples.card_to_copilot
		with input.detections as {
			"CREDIT_CARD": {"count": 1, "max_score": 1.0},
			"CARD_SECURITY_CODE": {"count": 1, "max_score": 0.9},
		}
	v.entity_types == ["CARD_SECURITY_CODE", "CREDIT_CARD"]
	contains(v.message, "2 card data detection(s)")
}

test_expiry_alone_passes if {
	count(pci.deny) == 0 with input as data.auditor_examples.card_to_copilot
		with input.detections as {"CARD_EXPIRY": {"count": 1, "max_score": 0.9}}
}

test_security_code_to_tool_in_pci_scope_passes if {
	count(pci.deny) == 0 with input as data.auditor_examples.card_to_internal
		with input.detections as {"CARD_SECURITY_CODE": {"count": 1, "max_score": 0.9}}
}

test_security_code_below_min_score_passes if {
	count(pci.deny) == 0 with input as data.auditor_examples.card_to_copilot
		with input.detections as {"CARD_SECURITY_CODE": {"count": 1, "max_score": 0.69}}
}
