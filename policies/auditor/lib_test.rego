package auditor.tests.lib

import data.auditor.lib
import data.auditor.main

# A malformed detection is read the fail-closed way on every engine: a score that is not a
# number counts as certain, a count that is not a whole number of at least one counts as one.
test_score_is_the_number_given if {
	lib.score({"max_score": 0.55}) == 0.55
}

test_score_that_is_not_a_number_counts_as_certain if {
	lib.score({"max_score": "0.2"}) == 1
	lib.score({}) == 1
	lib.score(null) == 1
}

test_times_is_the_count_given if {
	lib.times({"count": 12}) == 12
}

test_times_that_is_not_a_whole_count_counts_as_one if {
	lib.times({"count": 0}) == 1
	lib.times({"count": -4}) == 1
	lib.times({"count": 1.5}) == 1
	lib.times({"count": "3"}) == 1
	lib.times({}) == 1
}

test_malformed_card_detection_still_fires if {
	some v in main.violations with input as data.auditor_examples.card_to_copilot
		with input.detections.CREDIT_CARD as {"count": "many", "max_score": "high"}
	v.rule_id == "card-data-outside-pci-scope"
	v.message == "1 card number detection(s) in an interaction with copilot-business, which is outside PCI scope"
}

test_detections_that_are_not_an_object_match_nothing if {
	count(lib.detected({"CREDIT_CARD"}, 0.0)) == 0 with input.detections as ["CREDIT_CARD"]
}

test_day_needs_a_string_time if {
	lib.day == "2026-10-12" with input.interaction.occurred_at as "2026-10-12T14:03:00Z"
	not lib.day with input.interaction.occurred_at as 1760277780
}

test_workflow_label_names_the_workflow_or_says_none if {
	lib.workflow_label == "research" with input.interaction.workflow as "research"
	lib.workflow_label == "no workflow" with input.interaction.workflow as null
}

test_shipped_pack_has_no_duplicate_rule_ids if {
	count(main.duplicate_rule_ids) == 0
}

test_a_rule_id_in_two_packages_is_a_duplicate if {
	main.duplicate_rule_ids == {"x"} with data.auditor.rules as {"a": {"metadata": {"id": "x"}}, "b": {"metadata": {"id": "x"}}, "c": {"metadata": {"id": "y"}}}
}

# A registry entry or directory row without the key reads as "none recorded" on every engine
# (OPA would not negate a call on an undefined value).
test_retention_days_missing_from_the_registry_is_null if {
	lib.retention_days == null with input.interaction.tool as "perplexity"
		with data.auditor_data.tools.perplexity as {"approval_status": "approved"}
	lib.retention_days == 365 with input.interaction.tool as "copilot-business"
}

test_literacy_date_missing_from_the_directory_is_null if {
	lib.literacy_completed_on == null with input.user as {"in_directory": true}
	lib.literacy_completed_on == "2026-01-05" with input.user.ai_literacy_completed_on as "2026-01-05"
}
