# An agent that sends, executes or changes data acts only with a person's approval.
package auditor.rules.agents

metadata := {
	"id": "agent-action-without-approval",
	"severity": "high",
	"title": "AI agent acted without a recorded approval",
	"description": "The AI tool took an action that sends, executes or writes (for example ran a shell command or edited files) and no person approved it: it was allowed by configuration alone, or no approval was logged.",
	"remediation": "Check what the action changed, require per-action approval for tools that write or execute, and remove blanket auto-approval from the agent's settings.",
	"references": ["FINRA 2026 Regulatory Oversight Report (GenAI agents)", "FINRA Rule 3110"],
}

params := data.auditor_data.thresholds[metadata.id]

deny contains v if {
	input.oversight.agent_action in params.actions
	not input.oversight.action_approved == true
	msg := sprintf(
		"%s ran an agent action (%s) in %s work with no approval recorded",
		[data.auditor.lib.tool_label, input.oversight.agent_action, data.auditor.lib.workflow_label],
	)
	v := data.auditor.lib.violation(metadata, msg, set())
}
