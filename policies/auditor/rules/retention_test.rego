package auditor.tests.retention

import data.auditor.rules.retention

test_short_retention_for_client_comm_fires if {
	some v in retention.deny with input as data.auditor_examples.client_comm_on_claude_enterprise
	v.rule_id == "log-retention-below-floor"
	v.severity == "medium"
	contains(v.message, "365 days; client_comm needs at least 1095")
}

test_retention_meets_default_floor_passes if {
	count(retention.deny) == 0 with input as data.auditor_examples.grey_zone_ssn
}

test_retention_not_recorded_fires if {
	count(retention.deny) == 1 with input as data.auditor_examples.clean_internal
		with data.auditor_data.tools["atlas-internal"].log_retention_days as null
}

test_unapproved_tools_are_left_to_unapproved_tool if {
	count(retention.deny) == 0 with input as data.auditor_examples.client_comm_on_pending_tool
}

test_floor_is_inclusive if {
	count(retention.deny) == 0 with input as data.auditor_examples.client_comm_on_claude_enterprise
		with data.auditor_data.tools["claude-enterprise"].log_retention_days as 1095
}
