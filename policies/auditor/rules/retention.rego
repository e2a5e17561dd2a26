# The tool keeps its logs at least as long as the workflow's records must be kept.
package auditor.rules.retention

metadata := {
	"id": "log-retention-below-floor",
	"severity": "medium",
	"title": "Tool keeps logs for less than the retention floor",
	"description": "The tool's log retention in the registry is shorter than the floor for the interaction's workflow (data/retention.json), or not recorded for an approved tool.",
	"remediation": "Raise the tool's retention (or export its logs to the archive) to at least the floor, and record the setting in the tool registry.",
	"references": [
		"EU AI Act Art. 12, Art. 26(6)",
		"SEC Rule 17a-4(b)(4), 17a-4(f)",
		"Regulation B, 12 CFR 1002.12(b)",
	],
}

params := data.auditor_data.thresholds[metadata.id]

floors := data.auditor_data.retention

required_days := object.get(floors.workflow_days, data.auditor.lib.workflow, floors.default_days)

deny contains v if {
	data.auditor.lib.tool.approval_status in params.checked_statuses
	days := data.auditor.lib.retention_days
	is_number(days)
	days < required_days
	msg := sprintf(
		"%s keeps logs %v days; %s needs at least %v",
		[data.auditor.lib.tool_label, days, data.auditor.lib.workflow_label, required_days],
	)
	v := data.auditor.lib.violation(metadata, msg, set())
}

deny contains v if {
	data.auditor.lib.tool.approval_status in params.checked_statuses
	data.auditor.lib.retention_days == null
	msg := sprintf("%s has no log retention recorded in the registry", [data.auditor.lib.tool_label])
	v := data.auditor.lib.violation(metadata, msg, set())
}
