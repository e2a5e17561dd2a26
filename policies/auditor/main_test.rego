package auditor.tests.main

import data.auditor.main

# Every example input and the rule ids it must produce (tests/policy/test_rego.py has the same
# table, so a mismatch between the two engines' views shows up in both suites).
expected := {
	"clean_internal": set(),
	"card_to_internal": set(),
	"card_to_copilot": {"card-data-outside-pci-scope", "client-npi-to-uncontracted-tool"},
	"card_to_chatgpt_enterprise": {"card-data-outside-pci-scope"},
	"npi_to_copilot": {"client-npi-to-uncontracted-tool"},
	"npi_bulk_to_copilot": {"client-npi-to-uncontracted-tool"},
	"identity_only_to_copilot": set(),
	"npi_to_claude_enterprise": set(),
	"prohibited_tool": {"unapproved-tool"},
	"pending_tool": {"unapproved-tool"},
	"consumer_account": {"unapproved-tool", "personal-account-for-business", "business-communication-not-captured"},
	"unregistered_tool": {"unapproved-tool", "card-data-outside-pci-scope", "client-npi-to-uncontracted-tool"},
	"unnamed_tool": {"unapproved-tool"},
	"grey_zone_ssn": {"sensitive-data-grey-zone"},
	"not_stored_enterprise": set(),
	"restricted_term_to_claude_enterprise": {"mnpi-to-external-ai"},
	"restricted_term_to_internal": set(),
	"deal_team_to_chatgpt_enterprise": {"mnpi-to-external-ai", "workflow-not-approved-for-tool"},
	"private_side_research_to_chatgpt_enterprise": {"mnpi-to-external-ai"},
	"client_comm_sent_unreviewed": {"client-communication-without-review"},
	"client_comm_sent_reviewed": set(),
	"client_comm_on_pending_tool": {"unapproved-tool", "business-communication-not-captured"},
	"client_comm_on_claude_enterprise": {"log-retention-below-floor"},
	"agent_execute_unapproved": {"agent-action-without-approval"},
	"agent_execute_approved": set(),
	"credit_decision_on_claude_enterprise": {
		"decision-use-on-uninventoried-tool",
		"log-retention-below-floor",
		"workflow-not-approved-for-tool",
	},
	"credit_decision_on_internal": set(),
	"hr_eval_on_chatgpt_enterprise": {"ai-for-employee-evaluation", "workflow-not-approved-for-tool"},
	"hr_eval_on_internal": set(),
	"special_category_to_chatgpt_enterprise": {"special-category-data-to-external-ai"},
	"special_category_without_person": set(),
	"literacy_not_done": {"ai-literacy-training-missing"},
	"literacy_completed_after_use": {"ai-literacy-training-missing"},
	"research_on_copilot": {"workflow-not-approved-for-tool"},
}

violations_of(name) := vs if {
	vs := main.violations with input as data.auditor_examples[name]
}

rule_ids(name) := {v.rule_id | some v in violations_of(name)}

test_every_example_has_an_expectation if {
	object.keys(expected) == object.keys(data.auditor_examples)
}

test_examples_give_expected_rules if {
	every name, want in expected {
		rule_ids(name) == want
	}
}

test_violations_have_every_field if {
	every name, _ in expected {
		every v in violations_of(name) {
			object.keys(v) == {"rule_id", "severity", "title", "message", "remediation", "references", "entity_types"}
			v.severity in {"critical", "high", "medium", "low"}
			count(v.references) > 0
		}
	}
}

test_every_rules_package_has_complete_metadata if {
	every _, pkg in data.auditor.rules {
		every key in ["id", "severity", "title", "description", "remediation", "references"] {
			pkg.metadata[key]
		}
	}
}

test_rule_ids_are_unique if {
	count(main.duplicate_rule_ids) == 0
}

test_threshold_keys_are_rule_ids if {
	every id, _ in data.auditor_data.thresholds {
		id in {m.id | some m in main.rules}
	}
}

test_tool_workflows_are_known if {
	every _, tool in data.auditor_data.tools {
		every w in tool.approved_workflows {
			w in object.keys(data.auditor_data.workflows)
		}
	}
}

# Severity overrides are data: a firm can raise or lower a rule without editing Rego.
test_severity_override_applies_to_violations_and_catalogue if {
	overrides := {"log-retention-below-floor": "high"}
	some v in main.violations with input as data.auditor_examples.client_comm_on_claude_enterprise
		with data.auditor_data.severity_overrides as overrides
	v.severity == "high"
	some m in main.rules with data.auditor_data.severity_overrides as overrides
	m.id == "log-retention-below-floor"
	m.severity == "high"
}

test_no_override_keeps_metadata_severity if {
	some m in main.rules
	m.id == "log-retention-below-floor"
	m.severity == "medium"
}

test_overrides_name_rules_and_severities if {
	every id, severity in data.auditor_data.severity_overrides {
		id in {m.id | some m in main.rules}
		severity in {"critical", "high", "medium", "low"}
	}
}

# The framework mapping names only real rules, and every rule serves some framework.
mapped_rules := {id |
	some framework in data.auditor_data.frameworks
	some requirement in framework.requirements
	some id in requirement.rules
}

test_framework_mapping_names_only_rule_ids if {
	mapped_rules == {m.id | some m in main.rules}
}

test_retention_floors_name_known_workflows if {
	every w, days in data.auditor_data.retention.workflow_days {
		w in object.keys(data.auditor_data.workflows)
		days >= data.auditor_data.retention.default_days
	}
}

test_every_rule_has_a_violating_and_a_clean_example if {
	every m in main.rules {
		some name, _ in expected
		m.id in expected[name]
	}
	some name, want in expected
	count(want) == 0
}
