"""What each example input must produce, on every engine: the shared decision suite's table.

policies/auditor/main_test.rego holds the same table (rule ids only), so the Rego tests and
the Python tests fail together when an example and a rule disagree.
"""

from __future__ import annotations

CARD = "card-data-outside-pci-scope"
MNPI = "mnpi-to-external-ai"
NPI = "client-npi-to-uncontracted-tool"
UNAPPROVED = "unapproved-tool"
PERSONAL = "personal-account-for-business"
REVIEW = "client-communication-without-review"
CAPTURE = "business-communication-not-captured"
AGENT = "agent-action-without-approval"
INVENTORY = "decision-use-on-uninventoried-tool"
HR_EVAL = "ai-for-employee-evaluation"
SPECIAL = "special-category-data-to-external-ai"
LITERACY = "ai-literacy-training-missing"
RETENTION = "log-retention-below-floor"
WORKFLOW = "workflow-not-approved-for-tool"
GREY = "sensitive-data-grey-zone"

# The rule ids the issue requires, with their base severities.
RULES: dict[str, str] = {
    CARD: "critical",
    MNPI: "critical",
    NPI: "high",
    UNAPPROVED: "high",
    PERSONAL: "high",
    REVIEW: "high",
    CAPTURE: "high",
    AGENT: "high",
    INVENTORY: "high",
    HR_EVAL: "high",
    SPECIAL: "high",
    LITERACY: "medium",
    RETENTION: "medium",
    WORKFLOW: "medium",
    GREY: "low",
}

# Example input -> {rule id: (severity, entity types)} it must produce; nothing else.
EXPECTED: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "clean_internal": {},
    "card_to_internal": {},
    "card_to_copilot": {
        CARD: ("critical", ("CREDIT_CARD",)),
        NPI: ("high", ("CREDIT_CARD",)),
    },
    "card_to_chatgpt_enterprise": {CARD: ("critical", ("CREDIT_CARD",))},
    "npi_to_copilot": {NPI: ("high", ("PERSON", "US_SSN"))},
    "npi_bulk_to_copilot": {NPI: ("critical", ("EMAIL_ADDRESS", "US_BANK_NUMBER", "US_SSN"))},
    "identity_only_to_copilot": {},
    "npi_to_claude_enterprise": {},
    "prohibited_tool": {UNAPPROVED: ("high", ())},
    "pending_tool": {UNAPPROVED: ("high", ())},
    "consumer_account": {
        UNAPPROVED: ("high", ()),
        PERSONAL: ("high", ()),
        CAPTURE: ("high", ()),
    },
    "unregistered_tool": {
        UNAPPROVED: ("high", ()),
        CARD: ("critical", ("CREDIT_CARD",)),
        NPI: ("high", ("CREDIT_CARD",)),
    },
    "unnamed_tool": {UNAPPROVED: ("high", ())},
    "grey_zone_ssn": {GREY: ("low", ("US_SSN",))},
    "not_stored_enterprise": {},
    "restricted_term_to_claude_enterprise": {MNPI: ("critical", ("RESTRICTED_TERM",))},
    "restricted_term_to_internal": {},
    "deal_team_to_chatgpt_enterprise": {MNPI: ("critical", ()), WORKFLOW: ("medium", ())},
    "private_side_research_to_chatgpt_enterprise": {MNPI: ("critical", ())},
    "client_comm_sent_unreviewed": {REVIEW: ("high", ())},
    "client_comm_sent_reviewed": {},
    "client_comm_on_pending_tool": {UNAPPROVED: ("high", ()), CAPTURE: ("high", ())},
    "client_comm_on_claude_enterprise": {RETENTION: ("medium", ())},
    "agent_execute_unapproved": {AGENT: ("high", ())},
    "agent_execute_approved": {},
    "credit_decision_on_claude_enterprise": {
        INVENTORY: ("high", ()),
        RETENTION: ("medium", ()),
        WORKFLOW: ("medium", ()),
    },
    "credit_decision_on_internal": {},
    "hr_eval_on_chatgpt_enterprise": {HR_EVAL: ("high", ()), WORKFLOW: ("medium", ())},
    "hr_eval_on_internal": {},
    "special_category_to_chatgpt_enterprise": {SPECIAL: ("high", ("PERSON", "SPECIAL_CATEGORY"))},
    "special_category_without_person": {},
    "literacy_not_done": {LITERACY: ("medium", ())},
    "literacy_completed_after_use": {LITERACY: ("medium", ())},
    "research_on_copilot": {WORKFLOW: ("medium", ())},
}

TOOL_IDS = {
    "chatgpt-enterprise",
    "copilot-business",
    "claude-enterprise",
    "atlas-internal",
    "perplexity",
    "chatgpt-free",
    "deepseek-chat",
}
