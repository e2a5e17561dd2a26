package auditor.tests.grey_zone

import data.auditor.rules.grey_zone

params := data.auditor_data.thresholds["sensitive-data-grey-zone"]

test_uncertain_ssn_is_low if {
	some v in grey_zone.deny with input as data.auditor_examples.grey_zone_ssn
	v.rule_id == "sensitive-data-grey-zone"
	v.severity == "low"
	v.entity_types == ["US_SSN"]
}

test_confident_detection_passes if {
	count(grey_zone.deny) == 0 with input as data.auditor_examples.npi_to_copilot
}

test_lower_bound_inclusive_upper_exclusive if {
	count(grey_zone.deny) == 1 with input as data.auditor_examples.grey_zone_ssn
		with input.detections as {"US_SSN": {"count": 1, "max_score": params.low}}
	count(grey_zone.deny) == 0 with input as data.auditor_examples.grey_zone_ssn
		with input.detections as {"US_SSN": {"count": 1, "max_score": params.high}}
}

test_non_sensitive_types_pass if {
	count(grey_zone.deny) == 0 with input as data.auditor_examples.grey_zone_ssn
		with input.detections as {"PERSON": {"count": 1, "max_score": params.low}}
}

# The grey zone ends exactly where the data rules start: no gap, no double finding.
test_grey_zone_meets_rule_thresholds if {
	params.low < params.high
	params.high == data.auditor_data.thresholds["card-data-outside-pci-scope"].min_score
	params.high == data.auditor_data.thresholds["client-npi-to-uncontracted-tool"].min_score
	params.high == data.auditor_data.thresholds["mnpi-to-external-ai"].min_score
	params.high == data.auditor_data.thresholds["special-category-data-to-external-ai"].min_score
}
