# Detections too uncertain for a verdict go into the review sample instead of being dropped.
package auditor.rules.grey_zone

metadata := {
	"id": "sensitive-data-grey-zone",
	"severity": "low",
	"title": "Possible sensitive data, detection uncertain",
	"description": "A sensitive entity type was detected with a score in the grey zone: too low for a verdict, too high to ignore.",
	"remediation": "Review the masked evidence; if the data is real, treat it as the matching higher-severity rule would.",
	"references": ["NIST AI 600-1 (data privacy)", "GLBA Safeguards Rule, 16 CFR 314.4(d)"],
}

params := data.auditor_data.thresholds[metadata.id]

deny contains v if {
	types := {t |
		some t
		d := input.detections[t]
		t in params.entity_types
		s := data.auditor.lib.score(d)
		s >= params.low
		s < params.high
	}
	count(types) > 0
	# concat, not sprintf: rego-cpp 1.5.2 quotes a computed string passed to a sprintf with
	# several arguments (the same message on OPA and regorus either way).
	msg := concat("", [
		format_int(data.auditor.lib.detection_count(types), 10),
		" uncertain detection(s) of ",
		concat(", ", sort(types)),
		" in an interaction with ",
		data.auditor.lib.tool_label,
	])
	v := data.auditor.lib.violation(metadata, msg, types)
}
