"""Differential testing: regorus (the embedded engine) and OPA's own Go evaluator must decide
the same on documents nobody wrote by hand.

Hypothesis generates policy inputs the way logs and the input builder can produce them, and
the ways they should not: tools from the registry and outside it, every workflow and some
unknown ones, detections with counts and scores around every threshold, account types, dates
around the literacy boundary, and missing or malformed fields. The pack is also loaded with a
second tool registry whose retention days sit on either side of every retention floor (one
that is not a number, one entry without the key), so the retention rule's boundaries are
crossed too.

A decision is the list of violations, or "error" when the engine fails on the input (which
the audit records as not evaluated). A divergence fails with hypothesis' minimal input.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.errors import PolicyError
from auditor.policy.engine import EmbeddedEngine, PolicyBundle, PolicyEngine
from auditor.policy.opa_go import OpaGoEngine
from tests.policy.conftest import require_opa_go
from tests.policy.expected import TOOL_IDS
from tests.policy.helpers import example_names, load_example

GENERATED_INPUTS = 5_000

ENTITY_TYPES = [
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
    "PHONE_NUMBER",
    "STREET_ADDRESS",
    "IBAN_CODE",
    "LOCATION",
    "CARD_SECURITY_CODE",
]
WORKFLOWS = [
    None,
    "",
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
# Around the thresholds the rules use (0.4 grey-zone low, 0.7 high and min_score) and beyond.
SCORES = [0.0, 0.39, 0.4, 0.41, 0.55, 0.69, 0.7, 0.71, 0.85, 1.0]
# Around the NPI rule's critical_at_count (10).
COUNTS = [0, 1, 2, 9, 10, 11, 250]
# Interaction days and literacy completion dates either side of one another.
DAYS = ["2026-10-01", "2026-10-12", "2026-10-13", "2026-10-31", "2026-11-01"]
TIMES = ["T00:00:00Z", "T14:03:00Z", "T23:59:59Z"]

# Malformed values of any JSON type, for the fields a broken log or builder could garble.
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.just(1.5),
    st.sampled_from(["", "yes", "2026-13-45", "true", "null"]),
    st.just([]),
    st.just({}),
)
maybe_bool = st.sampled_from([None, True, False])


def _sometimes_junk(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, strategy, strategy, strategy, junk)


def _drop_some(strategy: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """The document with keys left out (a field a log did not give): most keep every key,
    some lose one, some keep a random subset."""

    @st.composite
    def dropped(draw: st.DrawFn) -> dict[str, Any]:
        doc = draw(strategy)
        how = draw(st.integers(0, 5))
        if how == 0 and doc:
            gone = draw(st.sampled_from(sorted(doc)))
            return {k: v for k, v in doc.items() if k != gone}
        if how == 1:
            keep = draw(st.lists(st.sampled_from(sorted(doc)), unique=True))
            return {k: doc[k] for k in sorted(keep)}
        return doc

    return dropped()


occurred_at = st.one_of(
    st.builds(lambda d, t: d + t, st.sampled_from(DAYS), st.sampled_from(TIMES)),
    st.sampled_from(["2026-10-12", "", "not a date", "2026"]),
    st.integers(0, 2_000_000_000),
)
NO_RETENTION_KEY_TOOL = "registry-entry-without-retention"
tools = st.one_of(
    st.sampled_from(sorted(TOOL_IDS)),
    st.sampled_from(sorted(TOOL_IDS)),
    st.sampled_from(
        [None, "gemini-free", "unregistered-bot", "CHATGPT-ENTERPRISE", NO_RETENTION_KEY_TOOL]
    ),
)
detection = _drop_some(
    st.fixed_dictionaries(
        {
            "count": _sometimes_junk(st.sampled_from(COUNTS)),
            "max_score": _sometimes_junk(st.sampled_from(SCORES)),
        }
    )
)
documents = _drop_some(
    st.fixed_dictionaries(
        {
            "interaction": _drop_some(
                st.fixed_dictionaries(
                    {
                        "id": st.integers(1, 10_000),
                        "event_id": st.just("evt-generated"),
                        "occurred_at": occurred_at,
                        "tool": _sometimes_junk(tools),
                        "provider": st.just("p"),
                        "model": st.just("m"),
                        "workflow": _sometimes_junk(st.sampled_from(WORKFLOWS)),
                        "content_status": st.sampled_from(["present", "redacted", "not_stored"]),
                        "account_type": _sometimes_junk(
                            st.sampled_from(["enterprise_sso", "personal", "consumer", "unknown"])
                        ),
                        "fields_scanned": st.sampled_from([["prompt", "output"], ["prompt"], []]),
                    }
                )
            ),
            "user": _drop_some(
                st.fixed_dictionaries(
                    {
                        "user_pid": st.just("u-1"),
                        "in_directory": _sometimes_junk(st.booleans()),
                        "department": st.just("Risk"),
                        "region": st.just("EU"),
                        "manager_pid": st.just("u-0"),
                        "barrier_side": _sometimes_junk(
                            st.sampled_from([None, "public", "private"])
                        ),
                        "ai_literacy_done": _sometimes_junk(maybe_bool),
                        "ai_literacy_completed_on": _sometimes_junk(st.sampled_from([None, *DAYS])),
                    }
                )
            ),
            "oversight": _drop_some(
                st.fixed_dictionaries(
                    {
                        "human_reviewed": _sometimes_junk(maybe_bool),
                        "output_used_externally": _sometimes_junk(maybe_bool),
                        "agent_action": _sometimes_junk(
                            st.sampled_from(["none", "draft", "send", "execute", "write", "other"])
                        ),
                        "action_approved": _sometimes_junk(maybe_bool),
                    }
                )
            ),
            "detections": st.one_of(
                st.dictionaries(st.sampled_from(ENTITY_TYPES), detection, max_size=5),
                st.dictionaries(st.sampled_from(ENTITY_TYPES), detection, max_size=5),
                st.dictionaries(st.sampled_from(ENTITY_TYPES), detection, max_size=5),
                junk,
            ),
        }
    )
)


def _retention_variant(bundle: PolicyBundle) -> PolicyBundle:
    """The pack with registry retention days on either side of every floor (183 default,
    761 credit, 1095 communications), one that is a string, and a restricted tool."""
    data = copy.deepcopy(dict(bundle.data))
    days = {
        "chatgpt-enterprise": 1094,
        "copilot-business": 183,
        "claude-enterprise": 761,
        "atlas-internal": "2555",
        "perplexity": 182,
    }
    for tool, value in days.items():
        data["tools"][tool]["log_retention_days"] = value
    data["tools"]["perplexity"]["approval_status"] = "restricted"
    # An approved tool whose registry entry lacks the key altogether.
    no_key = copy.deepcopy(data["tools"]["copilot-business"])
    del no_key["log_retention_days"]
    data["tools"][NO_RETENTION_KEY_TOOL] = no_key
    return replace(bundle, data=data, declared_revision=None)


def decide(engine: PolicyEngine, doc: dict[str, Any]) -> object:
    """The engine's decision on `doc`: its violations, or "error" if it failed on it."""
    try:
        return engine.evaluate(doc)
    except PolicyError:
        return "error"


@pytest.fixture(scope="module")
def engine_pairs(
    policy_engine: EmbeddedEngine, opa_go_engine: OpaGoEngine
) -> list[tuple[EmbeddedEngine, OpaGoEngine]]:
    """(regorus, OPA-Go) over the shipped pack and over the retention variant."""
    require_opa_go()
    variant = _retention_variant(policy_engine.bundle)
    return [
        (policy_engine, opa_go_engine),
        (EmbeddedEngine(variant), OpaGoEngine(variant)),
    ]


@pytest.mark.parametrize("name", example_names())
def test_every_example_decides_the_same(
    policy_engine: EmbeddedEngine, opa_go_engine: OpaGoEngine, name: str
) -> None:
    """Rule id, severity, title, message, remediation, references and entity types."""
    doc = load_example(name)
    assert opa_go_engine.evaluate(doc) == policy_engine.evaluate(doc)


def test_the_retention_variant_crosses_its_boundaries(
    engine_pairs: list[tuple[EmbeddedEngine, OpaGoEngine]],
) -> None:
    """The variant really puts tools on both sides of the floor (else it proves nothing)."""
    regorus_engine, _ = engine_pairs[1]
    base = load_example("clean_internal")
    fired = {}
    for tool in ("chatgpt-enterprise", "copilot-business", "claude-enterprise", "perplexity"):
        for workflow in ("client_comm", "credit_decision", "coding"):
            doc = json.loads(json.dumps(base))
            doc["interaction"].update(tool=tool, workflow=workflow)
            rules = {v.rule_id for v in regorus_engine.evaluate(doc)}
            fired[(tool, workflow)] = "log-retention-below-floor" in rules
    assert fired[("chatgpt-enterprise", "client_comm")]  # 1094 < 1095
    assert not fired[("copilot-business", "coding")]  # 183 = 183
    assert fired[("perplexity", "coding")]  # 182 < 183, restricted
    assert not fired[("claude-enterprise", "credit_decision")]  # 761 = 761
    assert fired[("claude-enterprise", "client_comm")]


@settings(
    max_examples=GENERATED_INPUTS,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(doc=documents, variant=st.integers(0, 1))
def test_regorus_and_opa_go_agree_on_generated_inputs(
    engine_pairs: list[tuple[EmbeddedEngine, OpaGoEngine]], doc: dict[str, Any], variant: int
) -> None:
    regorus_engine, opa_go_engine = engine_pairs[variant]
    assert decide(opa_go_engine, doc) == decide(regorus_engine, doc)
