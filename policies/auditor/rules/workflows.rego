# Approved tools are used only for the workflows they are approved for.
package auditor.rules.workflows

import data.auditor.lib

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
	lib.tool.approval_status in params.checked_statuses
	lib.workflow != ""
	not lib.workflow in lib.tool.approved_workflows
	msg := sprintf("%s is not approved for %s work", [lib.tool_label, lib.workflow])
	v := lib.violation(metadata, msg, set())
}
