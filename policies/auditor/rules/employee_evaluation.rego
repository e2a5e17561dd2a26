# Using AI to evaluate staff is high-risk under the EU AI Act; only on assessed tools.
package auditor.rules.employee_evaluation

metadata := {
	"id": "ai-for-employee-evaluation",
	"severity": "high",
	"title": "AI used to evaluate staff on a tool not assessed for it",
	"description": "An interaction tagged as HR evaluation used a tool without a recorded high-risk assessment (EU AI Act Annex III 4(b)) and worker notice.",
	"remediation": "Stop using the tool for staff evaluation until it is assessed, workers and their representatives are informed, and a DPIA covers it.",
	"references": [
		"EU AI Act Annex III 4(b)",
		"EU AI Act Art. 26(7)",
		"GDPR Art. 88",
		"BetrVG §87(1) no. 6",
	],
}

params := data.auditor_data.thresholds[metadata.id]

deny contains v if {
	input.interaction.workflow in params.workflows
	not data.auditor.lib.tool.employee_evaluation_assessed == true
	msg := sprintf("%s work done with %s, which is not assessed for evaluating staff", [data.auditor.lib.workflow, data.auditor.lib.tool_label])
	v := data.auditor.lib.violation(metadata, msg, set())
}
