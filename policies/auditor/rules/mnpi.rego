# Material non-public information stays behind the information barrier: never external AI.
package auditor.rules.mnpi

metadata := {
	"id": "mnpi-to-external-ai",
	"monitor": true,
	"severity": "critical",
	"title": "Possible MNPI sent to an external AI tool",
	"description": "A restricted-list term (deal code name, restricted issuer or ticker) was detected, or the work was tagged as private-side deal work, in an interaction with a tool outside the bank.",
	"remediation": "Escalate to Control Room today: record the possible leak, ask the vendor to delete the conversation, and move deal work to the internal platform.",
	"references": [
		"Securities Exchange Act §15(g)",
		"Investment Advisers Act §204A",
		"FINRA Rule 3110",
	],
}

params := data.auditor_data.thresholds[metadata.id]

deny contains v if {
	terms := data.auditor.lib.detected(params.entity_types, params.min_score)
	count(terms) > 0
	not data.auditor.lib.internal_destination
	msg := sprintf(
		"%d restricted-list term detection(s) in an interaction with %s, which is outside the bank",
		[data.auditor.lib.detection_count(terms), data.auditor.lib.tool_label],
	)
	v := data.auditor.lib.violation(metadata, msg, terms)
}

# Private-side work: a deal workflow, or a user on the private side of the barrier.
private_side if input.interaction.workflow in params.private_workflows

private_side if input.user.barrier_side in params.private_barrier_sides

deny contains v if {
	private_side
	not data.auditor.lib.internal_destination
	count(data.auditor.lib.detected(params.entity_types, params.min_score)) == 0
	msg := sprintf(
		"private-side work (%s, user on the %s side of the barrier) done with %s, which is outside the bank",
		[data.auditor.lib.workflow_label, side_label, data.auditor.lib.tool_label],
	)
	v := data.auditor.lib.violation(metadata, msg, set())
}

side_label := s if {
	s := input.user.barrier_side
	is_string(s)
} else := "unknown"
