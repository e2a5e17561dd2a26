package auditor.tests.review

import data.auditor.rules.review

test_sent_without_review_fires if {
	some v in review.deny with input as data.auditor_examples.client_comm_sent_unreviewed
	v.rule_id == "client-communication-without-review"
	v.severity == "high"
}

test_sent_with_review_passes if {
	count(review.deny) == 0 with input as data.auditor_examples.client_comm_sent_reviewed
}

# No review recorded at all (null) is not a review.
test_review_not_logged_fires if {
	count(review.deny) == 1 with input as data.auditor_examples.client_comm_sent_unreviewed
		with input.oversight.human_reviewed as null
}

test_draft_not_sent_passes if {
	count(review.deny) == 0 with input as data.auditor_examples.client_comm_sent_unreviewed
		with input.oversight.output_used_externally as false
}

test_other_workflows_pass if {
	count(review.deny) == 0 with input as data.auditor_examples.client_comm_sent_unreviewed
		with input.interaction.workflow as "research"
}
