# Firm work only on approved, registered tools.
package auditor.rules.tools

metadata := {
	"id": "unapproved-tool",
	"severity": "high",
	"title": "Use of a prohibited, pending or unregistered AI tool",
	"description": "The interaction used a tool that is prohibited, still pending approval, or not in the tool registry at all.",
	"remediation": "Stop using the tool for firm work; if it is needed, take it through vendor due diligence and approval first.",
	"references": [
		"FINRA Regulatory Notice 24-09",
		"OCC Bulletin 2023-17",
		"DORA Art. 28",
		"ISO/IEC 42001 A.9.2",
	],
}

params := data.auditor_data.thresholds[metadata.id]

deny contains v if {
	not data.auditor.lib.registered
	msg := sprintf("%s is not in the tool registry", [data.auditor.lib.tool_label])
	v := data.auditor.lib.violation(metadata, msg, set())
}

deny contains v if {
	data.auditor.lib.registered
	not data.auditor.lib.tool.approval_status in params.allowed_statuses
	msg := sprintf("%s has approval status %s", [data.auditor.lib.tool_label, data.auditor.lib.tool.approval_status])
	v := data.auditor.lib.violation(metadata, msg, set())
}
