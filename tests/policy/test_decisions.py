"""The shared decision suite: every test here runs on every engine (tests/policy/conftest.py,
DECISION_ENGINES): regorus compiled and interpreted, OPA's own Go evaluator in-process, and
the OPA server path (opa-python-client over real HTTP to the stand-in server of
tests/policy/fake_opa.py, which decides with OPA's Go evaluator). All must give the same
decisions, catalogue and Rego test results. test_differential.py compares regorus and OPA-Go
on thousands of generated inputs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.db.models import Decision
from auditor.policy.engine import EmbeddedEngine, PolicyEngine
from auditor.policy.evaluate import evaluate_sample
from auditor.policy.opa import OpaEngine
from auditor.policy.opa_go import OpaGoEngine
from tests.policy.expected import EXPECTED, RULES, TOOL_IDS
from tests.policy.helpers import add_interaction, add_person, add_sample, add_scan, load_example

NOW = datetime(2026, 11, 1, 9, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example(decision_engine: PolicyEngine, name: str) -> None:
    violations = decision_engine.evaluate(load_example(name))
    got = {v.rule_id: (v.severity, v.entity_types) for v in violations}
    assert got == EXPECTED[name]
    assert len(violations) == len(got), "a rule reported more than one violation"


def test_every_rule_fires_on_some_example_and_some_example_is_clean() -> None:
    fired = {rule for rules in EXPECTED.values() for rule in rules}
    assert fired == set(RULES)
    assert any(not rules for rules in EXPECTED.values())


def test_catalogue(decision_engine: PolicyEngine) -> None:
    catalogue = {r.rule_id: r.severity for r in decision_engine.rules()}
    assert catalogue == RULES
    for rule in decision_engine.rules():
        assert rule.title and rule.remediation and rule.references, rule.rule_id
        assert rule.frameworks, f"{rule.rule_id} serves no framework"


def test_revision_and_name(decision_engine: PolicyEngine, policy_engine: EmbeddedEngine) -> None:
    assert decision_engine.revision == policy_engine.revision
    assert decision_engine.name in {"embedded", "opa", "opa-go"}


def test_rego_tests_pass(decision_engine: PolicyEngine) -> None:
    results = decision_engine.run_tests()
    failed = [f"{r.package}.{r.name}: {r.message}" for r in results if not r.passed]
    assert not failed
    assert len(results) >= 80


def test_every_engine_gives_the_same_rego_test_results(
    policy_engine: EmbeddedEngine, opa_go_engine: OpaGoEngine, opa_engine: OpaEngine
) -> None:
    embedded = {(r.package, r.name, r.passed) for r in policy_engine.run_tests()}
    assert {(r.package, r.name, r.passed) for r in opa_go_engine.run_tests()} == embedded
    assert {(r.package, r.name, r.passed) for r in opa_engine.run_tests()} == embedded


def test_run_tests_leaves_no_test_modules_on_the_server(opa_engine: OpaEngine, opa_server) -> None:  # type: ignore[no-untyped-def]
    opa_engine.run_tests()
    assert not any(mid.startswith("auditor-pack-tests/") for mid in opa_server.modules)
    assert "auditor_examples" not in opa_server.data


def test_evaluate_sample(decision_engine: PolicyEngine, session: Session) -> None:
    """The same sample evaluates to the same decision rows on both engines."""
    add_person(session, "u-1001")
    card = add_interaction(session, "e-card", tool="copilot-business")
    add_scan(session, card, [("CREDIT_CARD", 1.0)])
    agent = add_interaction(
        session,
        "e-agent",
        tool="claude-enterprise",
        attributes={"agent_action": "execute", "action_approved": False},
    )
    add_scan(session, agent, [])
    add_sample(session, "s-1", [card, agent])
    evaluate_sample(session, decision_engine, "s-1", now=NOW)
    rows = {
        (d.interaction_id, d.rule_id, d.verdict, d.severity, d.policy_revision, d.engine)
        for d in session.scalars(select(Decision))
    }
    rev, name = decision_engine.revision, decision_engine.name
    assert rows == {
        (card.id, "card-data-outside-pci-scope", "violation", "critical", rev, name),
        (card.id, "client-npi-to-uncontracted-tool", "violation", "high", rev, name),
        (agent.id, "agent-action-without-approval", "violation", "high", rev, name),
    }


# --- generated inputs: the engines agree on documents nobody wrote by hand -------------------

TYPES = [
    "CREDIT_CARD",
    "US_SSN",
    "US_ITIN",
    "US_BANK_NUMBER",
    "CLIENT_ACCOUNT",
    "CLIENT_NAME",
    "RESTRICTED_TERM",
    "SPECIAL_CATEGORY",
    "PERSON",
    "EMAIL_ADDRESS",
    "IBAN_CODE",
    "LOCATION",
]
WORKFLOWS = [
    None,
    "client_comm",
    "marketing",
    "deal_team",
    "research",
    "credit_decision",
    "hr_eval",
    "coding",
    "internal_drafting",
    "unknown_tag",
]
maybe_bool = st.sampled_from([None, True, False])
documents = st.fixed_dictionaries(
    {
        "interaction": st.fixed_dictionaries(
            {
                "id": st.integers(1, 10_000),
                "event_id": st.just("evt-generated"),
                "occurred_at": st.sampled_from(["2026-10-01T08:00:00Z", "2026-10-31T17:59:59Z"]),
                "tool": st.sampled_from([None, "gemini-free", *sorted(TOOL_IDS)]),
                "provider": st.just("p"),
                "model": st.just("m"),
                "workflow": st.sampled_from(WORKFLOWS),
                "content_status": st.sampled_from(["present", "redacted", "not_stored"]),
                "account_type": st.sampled_from(["enterprise_sso", "personal", "unknown"]),
                "fields_scanned": st.just(["prompt", "output"]),
            }
        ),
        "user": st.fixed_dictionaries(
            {
                "user_pid": st.just("u-1"),
                "in_directory": st.booleans(),
                "department": st.just("Risk"),
                "region": st.just("EU"),
                "manager_pid": st.just("u-0"),
                "barrier_side": st.sampled_from([None, "public", "private"]),
                "ai_literacy_done": maybe_bool,
                "ai_literacy_completed_on": st.sampled_from([None, "2026-01-05", "2026-10-15"]),
            }
        ),
        "oversight": st.fixed_dictionaries(
            {
                "human_reviewed": maybe_bool,
                "output_used_externally": maybe_bool,
                "agent_action": st.sampled_from(["none", "draft", "send", "execute", "write"]),
                "action_approved": maybe_bool,
            }
        ),
        "detections": st.dictionaries(
            st.sampled_from(TYPES),
            st.fixed_dictionaries(
                {
                    "count": st.integers(1, 15),
                    "max_score": st.sampled_from([0.3, 0.4, 0.55, 0.69, 0.7, 0.85, 1.0]),
                }
            ),
            max_size=4,
        ),
    }
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=documents)
def test_engines_agree_on_generated_inputs(
    policy_engine: EmbeddedEngine,
    interpreted_engine: EmbeddedEngine,
    opa_go_engine: OpaGoEngine,
    opa_engine: OpaEngine,
    doc: dict[str, object],
) -> None:
    """The OPA server path and the compiled program too (the 5,000-input comparison of
    regorus and OPA-Go in-process is test_differential.py)."""
    compiled = policy_engine.evaluate(doc)
    assert interpreted_engine.evaluate(doc) == compiled
    assert opa_go_engine.evaluate(doc) == compiled
    assert opa_engine.evaluate(doc) == compiled
