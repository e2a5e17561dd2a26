# Approved tools are used only for the workflows they are approved for.
package auditor.rules.workflows

metadata := {
	"id": "workflow-not-approved-for-tool",
	"severity": "medium",
	"title": "Tool used for a workflow it is not approved for",
	"description": "An approved tool was used for work tagged with a workflow that is not on the tool's approved-use list.",
	"remediation": "Use a tool approved for this workflow, or take the use case through approval and add it to the registry.",
	"references": ["ISO/IEC 42001 A.9.4", "ISO/IEC 42001 A.9.2", "NIST AI RMF MAP 3.4"],
}

params := data.auditor_data.thresholds[metadata.id]

deny contains v if {
	data.auditor.lib.tool.approval_status in params.checked_statuses
	data.auditor.lib.workflow != ""
	not data.auditor.lib.workflow in data.auditor.lib.tool.approved_workflows
	msg := sprintf("%s is not approved for %s work", [data.auditor.lib.tool_label, data.auditor.lib.workflow])
	v := data.auditor.lib.violation(metadata, msg, set())
}
