package auditor.tests.capture

import data.auditor.rules.capture

test_client_comm_on_uncaptured_tool_fires if {
	some v in capture.deny with input as data.auditor_examples.client_comm_on_pending_tool
	v.rule_id == "business-communication-not-captured"
	v.severity == "high"
	contains(v.message, "perplexity")
}

test_client_comm_on_captured_tool_passes if {
	count(capture.deny) == 0 with input as data.auditor_examples.client_comm_sent_reviewed
}

test_unregistered_tool_is_not_captured if {
	count(capture.deny) == 1 with input as data.auditor_examples.client_comm_sent_reviewed
		with input.interaction.tool as "gemini-free"
}

test_non_communication_work_passes if {
	count(capture.deny) == 0 with input as data.auditor_examples.client_comm_on_pending_tool
		with input.interaction.workflow as "coding"
}
