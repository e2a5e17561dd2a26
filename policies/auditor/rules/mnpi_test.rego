package auditor.tests.mnpi

import data.auditor.rules.mnpi

test_restricted_term_to_external_tool_is_critical if {
	some v in mnpi.deny with input as data.auditor_examples.restricted_term_to_claude_enterprise
	v.rule_id == "mnpi-to-external-ai"
	v.severity == "critical"
	v.entity_types == ["RESTRICTED_TERM"]
	contains(v.message, "2 restricted-list term")
}

test_restricted_term_to_internal_platform_passes if {
	count(mnpi.deny) == 0 with input as data.auditor_examples.restricted_term_to_internal
}

test_deal_work_on_external_tool_fires_without_a_detection if {
	some v in mnpi.deny with input as data.auditor_examples.deal_team_to_chatgpt_enterprise
	v.entity_types == []
	contains(v.message, "private-side work (deal_team")
}

test_private_side_user_on_external_tool_fires if {
	count(mnpi.deny) == 1 with input as data.auditor_examples.private_side_research_to_chatgpt_enterprise
}

test_public_side_research_passes if {
	count(mnpi.deny) == 0 with input as data.auditor_examples.private_side_research_to_chatgpt_enterprise
		with input.user.barrier_side as "public"
}

# One finding per interaction: a term match on deal work is reported once, with the type.
test_term_on_deal_work_is_one_violation if {
	count(mnpi.deny) == 1 with input as data.auditor_examples.deal_team_to_chatgpt_enterprise
		with input.detections as {"RESTRICTED_TERM": {"count": 1, "max_score": 0.9}}
}

test_term_below_min_score_passes if {
	count(mnpi.deny) == 0 with input as data.auditor_examples.restricted_term_to_claude_enterprise
		with input.detections as {"RESTRICTED_TERM": {"count": 1, "max_score": 0.5}}
}

test_unregistered_tool_counts_as_external if {
	count(mnpi.deny) == 1 with input as data.auditor_examples.restricted_term_to_claude_enterprise
		with input.interaction.tool as "gemini-free"
}
