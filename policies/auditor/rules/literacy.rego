# Staff complete AI-literacy training before they use AI.
package auditor.rules.literacy

metadata := {
	"id": "ai-literacy-training-missing",
	"severity": "medium",
	"title": "AI used before AI-literacy training was completed",
	"description": "The people directory says the user had not completed AI-literacy training on the day of the interaction.",
	"remediation": "Enrol the user in the AI-literacy course and restrict AI access until it is completed.",
	"references": ["EU AI Act Art. 4", "ISO/IEC 42001 A.4.6"],
}

params := data.auditor_data.thresholds[metadata.id]

deny contains v if {
	input.user.ai_literacy_done == false
	input.user.in_directory == true
	data.auditor.lib.literacy_completed_on == null
	v := data.auditor.lib.violation(metadata, "user has not completed AI-literacy training", set())
}

deny contains v if {
	completed := input.user.ai_literacy_completed_on
	is_string(completed)
	input.user.in_directory == true
	completed > data.auditor.lib.day
	msg := sprintf("AI-literacy training completed on %s, after this interaction on %s", [completed, data.auditor.lib.day])
	v := data.auditor.lib.violation(metadata, msg, set())
}

deny contains v if {
	params.unknown_counts_as_missing == true
	input.user.in_directory == true
	input.user.ai_literacy_done == null
	data.auditor.lib.literacy_completed_on == null
	v := data.auditor.lib.violation(metadata, "the directory does not record AI-literacy training for the user", set())
}
