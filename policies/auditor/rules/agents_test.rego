package auditor.tests.agents

import data.auditor.rules.agents

test_unapproved_execute_fires if {
	some v in agents.deny with input as data.auditor_examples.agent_execute_unapproved
	v.rule_id == "agent-action-without-approval"
	v.severity == "high"
	contains(v.message, "(execute)")
}

test_approved_execute_passes if {
	count(agents.deny) == 0 with input as data.auditor_examples.agent_execute_approved
}

test_approval_not_logged_fires if {
	count(agents.deny) == 1 with input as data.auditor_examples.agent_execute_unapproved
		with input.oversight.action_approved as null
}

test_drafts_and_no_action_pass if {
	every action in ["none", "draft"] {
		count(agents.deny) == 0 with input as data.auditor_examples.agent_execute_unapproved
			with input.oversight.agent_action as action
	}
}
