# Special-category data about a person (GDPR Art. 9) does not go to external AI.
package auditor.rules.special_category

metadata := {
	"id": "special-category-data-to-external-ai",
	"monitor": true,
	"severity": "high",
	"title": "Special-category data about a person sent to an external AI tool",
	"description": "Health, religion, union membership or other GDPR Art. 9 data was detected together with a person's or client's name in an interaction with a tool outside the bank.",
	"remediation": "Tell the data protection officer, ask the vendor to delete the conversation, and use the internal platform for such cases.",
	"references": ["GDPR Art. 9", "WP29 Opinion 2/2017", "NIST AI 600-1 (data privacy)"],
}

params := data.auditor_data.thresholds[metadata.id]

deny contains v if {
	special := data.auditor.lib.detected(params.special_types, params.min_score)
	count(special) > 0
	people := data.auditor.lib.detected(params.person_types, params.min_score)
	count(people) > 0
	not data.auditor.lib.internal_destination
	msg := sprintf(
		"%d special-category detection(s) with a named person in an interaction with %s, which is outside the bank",
		[data.auditor.lib.detection_count(special), data.auditor.lib.tool_label],
	)
	v := data.auditor.lib.violation(metadata, msg, special | people)
}
