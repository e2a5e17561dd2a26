# AI output that reaches clients or the public is reviewed by a person first.
package auditor.rules.review

metadata := {
	"id": "client-communication-without-review",
	"severity": "high",
	"title": "AI output sent to clients without recorded human review",
	"description": "The output of an interaction tagged as client communication or marketing was used outside the bank, and no human review of it was recorded.",
	"remediation": "Have a principal review the communication after the fact, record it, and route such drafts through the review step before sending.",
	"references": [
		"FINRA Rule 2210",
		"FINRA Rule 3110",
		"FINRA Regulatory Notice 24-09",
	],
}

params := data.auditor_data.thresholds[metadata.id]

deny contains v if {
	input.oversight.output_used_externally == true
	input.interaction.workflow in params.workflows
	not input.oversight.human_reviewed == true
	msg := sprintf(
		"%s output from %s used outside the bank with no human review recorded",
		[data.auditor.lib.workflow, data.auditor.lib.tool_label],
	)
	v := data.auditor.lib.violation(metadata, msg, set())
}
