package auditor.tests.model_inventory

import data.auditor.rules.model_inventory

test_credit_decision_on_uninventoried_tool_fires if {
	some v in model_inventory.deny with input as data.auditor_examples.credit_decision_on_claude_enterprise
	v.rule_id == "decision-use-on-uninventoried-tool"
	v.severity == "high"
}

test_credit_decision_on_inventoried_tool_passes if {
	count(model_inventory.deny) == 0 with input as data.auditor_examples.credit_decision_on_internal
}

test_empty_inventory_id_is_not_inventoried if {
	count(model_inventory.deny) == 1 with input as data.auditor_examples.credit_decision_on_internal
		with data.auditor_data.tools["atlas-internal"].model_inventory_id as ""
}

test_other_work_on_uninventoried_tool_passes if {
	count(model_inventory.deny) == 0 with input as data.auditor_examples.credit_decision_on_claude_enterprise
		with input.interaction.workflow as "research"
}
