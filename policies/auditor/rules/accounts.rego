# Business use goes through firm (SSO) accounts, which are captured and supervised.
package auditor.rules.accounts

metadata := {
	"id": "personal-account-for-business",
	"severity": "high",
	"title": "Personal or consumer AI account used for business",
	"description": "The interaction was made from a personal or consumer account instead of the firm's SSO account, so it is an off-channel communication.",
	"remediation": "Move the work to the firm's account, preserve what was sent, and remind the user of the off-channel policy.",
	"references": [
		"SEC Rule 17a-4(b)(4)",
		"Advisers Act Rule 204-2(a)(7)",
		"FINRA Regulatory Notice 24-09",
	],
}

params := data.auditor_data.thresholds[metadata.id]

deny contains v if {
	input.interaction.account_type in params.account_types
	msg := sprintf(
		"interaction with %s made from a %s account",
		[data.auditor.lib.tool_label, input.interaction.account_type],
	)
	v := data.auditor.lib.violation(metadata, msg, set())
}
