# Business communications drafted or conducted with AI are captured for books and records.
package auditor.rules.capture

metadata := {
	"id": "business-communication-not-captured",
	"severity": "high",
	"title": "Business communication on an AI tool that is not captured",
	"description": "An interaction tagged as business communication was made with a tool whose traffic is not captured into the firm's books-and-records archive (or a tool not in the registry).",
	"remediation": "Preserve the communication in the archive, and use a captured tool for client and deal communications.",
	"references": [
		"SEC Rule 17a-4(b)(4)",
		"Advisers Act Rule 204-2(a)(7)",
		"FINRA Rule 4511",
	],
}

params := data.auditor_data.thresholds[metadata.id]

deny contains v if {
	input.interaction.workflow in params.workflows
	not data.auditor.lib.captured
	msg := sprintf("%s work done with %s, which is not captured for retention", [data.auditor.lib.workflow, data.auditor.lib.tool_label])
	v := data.auditor.lib.violation(metadata, msg, set())
}
