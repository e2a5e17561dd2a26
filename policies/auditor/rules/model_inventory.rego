# Decision-relevant work runs only on models in the model inventory.
package auditor.rules.model_inventory

metadata := {
	"id": "decision-use-on-uninventoried-tool",
	"severity": "high",
	"title": "Decision-relevant work on a tool outside the model inventory",
	"description": "An interaction tagged as decision-relevant (such as a credit decision) used a tool that has no model inventory id, so it has not been validated for that use.",
	"remediation": "Re-perform the decision with an inventoried model, and register and validate the tool before it is used for decisions.",
	"references": [
		"Federal Reserve SR 26-2 / OCC Bulletin 2026-13",
		"NIST AI RMF GOVERN 1.6",
		"OCC Bulletin 2023-17",
	],
}

params := data.auditor_data.thresholds[metadata.id]

deny contains v if {
	input.interaction.workflow in params.workflows
	not data.auditor.lib.inventoried
	msg := sprintf("%s work done with %s, which has no model inventory id", [data.auditor.lib.workflow, data.auditor.lib.tool_label])
	v := data.auditor.lib.violation(metadata, msg, set())
}
