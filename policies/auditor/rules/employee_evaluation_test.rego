package auditor.tests.employee_evaluation

import data.auditor.rules.employee_evaluation

test_hr_eval_on_unassessed_tool_fires if {
	some v in employee_evaluation.deny with input as data.auditor_examples.hr_eval_on_chatgpt_enterprise
	v.rule_id == "ai-for-employee-evaluation"
	v.severity == "high"
}

test_hr_eval_on_assessed_tool_passes if {
	count(employee_evaluation.deny) == 0 with input as data.auditor_examples.hr_eval_on_internal
}

test_hr_eval_on_unregistered_tool_fires if {
	count(employee_evaluation.deny) == 1 with input as data.auditor_examples.hr_eval_on_internal
		with input.interaction.tool as "gemini-free"
}

test_other_hr_work_passes if {
	count(employee_evaluation.deny) == 0 with input as data.auditor_examples.hr_eval_on_chatgpt_enterprise
		with input.interaction.workflow as "internal_drafting"
}
