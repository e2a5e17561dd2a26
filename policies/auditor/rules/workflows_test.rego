package auditor.tests.workflows

import data.auditor.rules.workflows

test_workflow_off_the_list_fires if {
	some v in workflows.deny with input as data.auditor_examples.research_on_copilot
	v.rule_id == "workflow-not-approved-for-tool"
	v.severity == "medium"
	v.message == "copilot-business is not approved for research work"
}

test_workflow_on_the_list_passes if {
	count(workflows.deny) == 0 with input as data.auditor_examples.card_to_copilot
}

test_untagged_work_passes if {
	count(workflows.deny) == 0 with input as data.auditor_examples.research_on_copilot
		with input.interaction.workflow as null
}

test_unapproved_tools_are_left_to_unapproved_tool if {
	count(workflows.deny) == 0 with input as data.auditor_examples.pending_tool
}
