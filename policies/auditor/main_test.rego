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
	"consumer_account": {"unapproved-tool", "personal-account-for-business"},
	"unregistered_tool": {"unapproved-tool", "card-data-outside-pci-scope", "client-npi-to-uncontracted-tool"},
	"unnamed_tool": {"unapproved-tool"},
	"grey_zone_ssn": {"sensitive-data-grey-zone"},
	"not_stored_enterprise": set(),
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
