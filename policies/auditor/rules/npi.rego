# Customer non-public personal information (NPI) only goes to tools under an NPI contract.
package auditor.rules.npi

metadata := {
	"id": "client-npi-to-uncontracted-tool",
	"monitor": true,
	"severity": "high",
	"title": "Customer NPI sent to a tool without an NPI contract",
	"description": "A financial identifier (SSN/TIN, account, IBAN or card number), possibly together with a name or contact detail, was sent to a tool whose contract does not cover customer NPI. Critical from a configured number of identifiers.",
	"remediation": "Ask the vendor to delete the data, record the disclosure for the privacy office, and use a tool whose contract covers NPI.",
	"references": [
		"GLBA Safeguards Rule, 16 CFR 314",
		"Regulation S-P, 17 CFR 248",
		"Regulation P, 12 CFR 1016",
	],
}

params := data.auditor_data.thresholds[metadata.id]

deny contains v if {
	identifiers := data.auditor.lib.detected(params.identifier_types, params.min_score)
	count(identifiers) > 0
	not data.auditor.lib.has_npi_contract

	# Names and contact details alone are not NPI; with an identifier they make it worse.
	identity := data.auditor.lib.detected(params.identity_types, params.min_score)
	n := data.auditor.lib.detection_count(identifiers)
	msg := sprintf(
		"%d financial identifier detection(s) in an interaction with %s, which has no NPI contract",
		[n, data.auditor.lib.tool_label],
	)
	v := data.auditor.lib.violation_as(metadata, severity(n), msg, identifiers | identity)
}

severity(n) := "critical" if {
	n >= params.critical_at_count
} else := metadata.severity
