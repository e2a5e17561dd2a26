package auditor.tests.tools

import data.auditor.rules.tools

only_unapproved(vs) if {
	count(vs) == 1
	some v in vs
	v.rule_id == "unapproved-tool"
	v.severity == "high"
	v.entity_types == []
}

test_prohibited_tool_fires if {
	only_unapproved(tools.deny) with input as data.auditor_examples.prohibited_tool
}

test_pending_tool_fires if {
	only_unapproved(tools.deny) with input as data.auditor_examples.pending_tool
}

test_unregistered_tool_fires_once if {
	only_unapproved(tools.deny) with input as data.auditor_examples.unregistered_tool
	some v in tools.deny with input as data.auditor_examples.unregistered_tool
	contains(v.message, "not in the tool registry")
}

test_missing_tool_name_fires if {
	only_unapproved(tools.deny) with input as data.auditor_examples.unnamed_tool
	some v in tools.deny with input as data.auditor_examples.unnamed_tool
	contains(v.message, "an unnamed tool")
}

test_approved_tools_pass if {
	every name in ["clean_internal", "card_to_copilot", "npi_to_claude_enterprise", "not_stored_enterprise"] {
		count(tools.deny) == 0 with input as data.auditor_examples[name]
	}
}

test_restricted_status_passes if {
	count(tools.deny) == 0 with input as data.auditor_examples.card_to_copilot
		with data.auditor_data.tools["copilot-business"].approval_status as "restricted"
}
