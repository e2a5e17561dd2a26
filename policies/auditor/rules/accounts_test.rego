package auditor.tests.accounts

import data.auditor.rules.accounts

test_personal_account_fires if {
	some v in accounts.deny with input as data.auditor_examples.consumer_account
	v.rule_id == "personal-account-for-business"
	v.severity == "high"
	contains(v.message, "personal account")
}

test_enterprise_sso_passes if {
	count(accounts.deny) == 0 with input as data.auditor_examples.card_to_copilot
}

test_unknown_account_type_passes if {
	count(accounts.deny) == 0 with input as data.auditor_examples.card_to_copilot
		with input.interaction.account_type as "service"
}

# A log that does not say which account was used gets "unknown" from the input builder: it
# is not shown to be personal, so this rule does not fire, but the input says so honestly.
test_account_not_logged_is_unknown_and_passes if {
	data.auditor_examples.unnamed_tool.interaction.account_type == "unknown"
	count(accounts.deny) == 0 with input as data.auditor_examples.unnamed_tool
}
