"""build_policy_input on real ORM rows: the documented shape, and never any content."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy.orm import Session

from auditor.policy.engine import EmbeddedEngine
from auditor.policy.input import AGENT_ACTIONS, build_policy_input, iso_utc
from tests.policy.helpers import (
    add_interaction,
    add_person,
    add_scan,
    example_names,
    load_example,
)

# Distinctive text that must never reach the policy input.
CANARY_PROMPT = "Customer Zebulon Quayle card 4111 1111 1111 1111 please"
CANARY_OUTPUT = "Reply for Zebulon Quayle"


def _shape(value: Any) -> Any:
    """Keys and JSON types, recursively; dictionaries keyed by entity type collapse to one."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return ["str"] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "str" if isinstance(value, str) else "null"


def _top_shape(doc: dict[str, Any]) -> dict[str, Any]:
    shape = _shape(doc)
    shape["detections"] = {"*": _shape(next(iter(doc["detections"].values())))}
    shape["interaction"]["fields_scanned"] = ["str"]
    return shape


@pytest.fixture
def card_to_copilot_rows(session: Session) -> dict[str, Any]:
    person = add_person(session, "u-1003")
    interaction = add_interaction(
        session,
        "evt-000003",
        user_id="u-1003",
        prompt=CANARY_PROMPT,
        output=CANARY_OUTPUT,
        attributes={"account_type": "enterprise_sso"},
    )
    detections = add_scan(session, interaction, [("CREDIT_CARD", 1.0)])
    return {"interaction": interaction, "person": person, "detections": detections}


def test_doc_has_the_shape_of_the_examples(card_to_copilot_rows: dict[str, Any]) -> None:
    doc = build_policy_input(
        card_to_copilot_rows["interaction"],
        card_to_copilot_rows["person"],
        card_to_copilot_rows["detections"],
    )
    example = load_example("card_to_copilot")
    assert _top_shape(doc) == _top_shape(example)
    # Same facts as the example, apart from the database row id.
    doc["interaction"]["id"] = example["interaction"]["id"]
    doc["interaction"]["occurred_at"] = example["interaction"]["occurred_at"]
    assert doc == example


@pytest.mark.parametrize("name", example_names())
def test_every_example_follows_the_contract(name: str) -> None:
    example = load_example(name)
    assert set(example) == {"interaction", "user", "oversight", "detections"}
    assert set(example["interaction"]) == {
        "id",
        "event_id",
        "occurred_at",
        "tool",
        "provider",
        "model",
        "workflow",
        "content_status",
        "account_type",
        "fields_scanned",
    }
    assert set(example["user"]) == {
        "user_pid",
        "in_directory",
        "department",
        "region",
        "manager_pid",
        "barrier_side",
        "ai_literacy_done",
        "ai_literacy_completed_on",
    }
    assert set(example["oversight"]) == {
        "human_reviewed",
        "output_used_externally",
        "agent_action",
        "action_approved",
    }
    assert example["oversight"]["agent_action"] in AGENT_ACTIONS
    for entry in example["detections"].values():
        assert set(entry) == {"count", "max_score"}
    assert example["interaction"]["occurred_at"].endswith("Z")


def test_doc_never_holds_content(card_to_copilot_rows: dict[str, Any]) -> None:
    doc = build_policy_input(
        card_to_copilot_rows["interaction"],
        card_to_copilot_rows["person"],
        card_to_copilot_rows["detections"],
    )
    text = json.dumps(doc)
    for fragment in ("Zebulon", "Quayle", "4111", "****", "0" * 64, "Reply"):
        assert fragment not in text, "content, a masked excerpt or a hash leaked into the input"


def test_detections_are_counted_per_type(session: Session) -> None:
    interaction = add_interaction(session, "evt-agg")
    detections = add_scan(
        session,
        interaction,
        [("US_SSN", 0.6), ("PERSON", 0.85), ("US_SSN", 0.85), ("US_SSN", 0.4)],
    )
    doc = build_policy_input(interaction, None, detections)
    assert doc["detections"] == {
        "PERSON": {"count": 1, "max_score": 0.85},
        "US_SSN": {"count": 3, "max_score": 0.85},
    }
    assert list(doc["detections"]) == ["PERSON", "US_SSN"]


def test_person_missing_from_directory(session: Session) -> None:
    interaction = add_interaction(session, "evt-nobody", user_id="u-9999")
    doc = build_policy_input(interaction, None, [])
    assert doc["user"] == {
        "user_pid": "u-9999",
        "in_directory": False,
        "department": None,
        "region": None,
        "manager_pid": None,
        "barrier_side": None,
        "ai_literacy_done": None,
        "ai_literacy_completed_on": None,
    }
    assert doc["oversight"] == {
        "human_reviewed": None,
        "output_used_externally": None,
        "agent_action": "none",
        "action_approved": None,
    }


def test_user_pid_falls_back_to_the_matched_person(session: Session) -> None:
    person = add_person(session, "u-2000", email="ann@bank.example")
    interaction = add_interaction(session, "evt-email", user_id=None, user_email="ann@bank.example")
    doc = build_policy_input(interaction, person, [])
    assert doc["user"]["user_pid"] == "u-2000"
    assert doc["user"]["in_directory"] is True
    assert "ann@bank.example" not in json.dumps(doc)


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        # Not logged: "unknown", never assumed to be the firm's SSO account (fail-open).
        ({}, "unknown"),
        ({"account_type": ""}, "unknown"),
        ({"account_type": None}, "unknown"),
        ({"other": "x"}, "unknown"),
        ({"account_type": "personal"}, "personal"),
        ({"account_type": "enterprise_sso"}, "enterprise_sso"),
    ],
)
def test_account_type(session: Session, attributes: dict[str, Any], expected: str) -> None:
    interaction = add_interaction(session, "evt-acct", attributes=attributes)
    assert build_policy_input(interaction, None, [])["interaction"]["account_type"] == expected


@pytest.mark.parametrize(
    ("attributes", "fires"),
    [
        ({}, False),
        ({"account_type": "personal"}, True),
        ({"account_type": "consumer"}, True),
        ({"account_type": "enterprise_sso"}, False),
    ],
)
def test_account_rule_on_built_input(
    session: Session, policy_engine: EmbeddedEngine, attributes: dict[str, Any], fires: bool
) -> None:
    interaction = add_interaction(session, "evt-acct-rule", attributes=attributes)
    violations = policy_engine.evaluate(build_policy_input(interaction, None, []))
    assert ("personal-account-for-business" in {v.rule_id for v in violations}) is fires


def test_no_tool_is_null_and_unapproved(session: Session, policy_engine: EmbeddedEngine) -> None:
    interaction = add_interaction(session, "evt-notool", tool=None)
    doc = build_policy_input(interaction, None, [])
    assert doc["interaction"]["tool"] is None
    (violation,) = policy_engine.evaluate(doc)
    assert violation.rule_id == "unapproved-tool"
    assert violation.message == "an unnamed tool is not in the tool registry"


@pytest.mark.parametrize(
    ("prompt", "output", "given", "expected"),
    [
        ("p", "o", None, ["prompt", "output"]),
        ("p", None, None, ["prompt"]),
        (None, None, None, []),
        ("p", "o", ["output", "prompt"], ["prompt", "output"]),
        ("p", "o", ["prompt"], ["prompt"]),
        ("p", "o", [], []),
    ],
)
def test_fields_scanned(
    session: Session,
    prompt: str | None,
    output: str | None,
    given: list[str] | None,
    expected: list[str],
) -> None:
    interaction = add_interaction(session, "evt-fields", prompt=prompt, output=output)
    doc = build_policy_input(interaction, None, [], fields_scanned=given)
    assert doc["interaction"]["fields_scanned"] == expected


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 10, 5, 14, 3, 0), "2026-10-05T14:03:00Z"),
        (datetime(2026, 10, 5, 14, 3, 0, 999_999), "2026-10-05T14:03:00Z"),
        (
            datetime(2026, 10, 5, 16, 3, 0, tzinfo=timezone(timedelta(hours=2))),
            "2026-10-05T14:03:00Z",
        ),
    ],
)
def test_iso_utc(moment: datetime, expected: str) -> None:
    assert iso_utc(moment) == expected


def test_built_doc_evaluates_like_its_example(
    policy_engine: EmbeddedEngine, card_to_copilot_rows: dict[str, Any]
) -> None:
    doc = build_policy_input(
        card_to_copilot_rows["interaction"],
        card_to_copilot_rows["person"],
        card_to_copilot_rows["detections"],
    )
    assert policy_engine.evaluate(doc) == policy_engine.evaluate(load_example("card_to_copilot"))


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({}, (None, "none")),
        ({"ai_literacy_done": "false"}, (False, None)),
        ({"ai_literacy_done": "yes"}, (True, None)),
        ({"ai_literacy_done": True}, (True, None)),
        ({"ai_literacy_done": "maybe"}, (None, None)),
        ({"ai_literacy_completed_on": "2026-10-20"}, (None, "2026-10-20")),
        ({"ai_literacy_completed": "2026-09-01T10:00:00"}, (True, "2026-09-01")),
        ({"ai_literacy_completed_on": "soon"}, (None, None)),
    ],
)
def test_literacy_from_directory(
    session: Session, attributes: dict[str, Any], expected: tuple[Any, Any]
) -> None:
    person = add_person(session, "u-3000", attributes=attributes)
    interaction = add_interaction(session, "evt-lit", user_id="u-3000")
    user = build_policy_input(interaction, person, [])["user"]
    done, date = expected
    assert user["ai_literacy_done"] is done
    assert user["ai_literacy_completed_on"] == (None if date == "none" else date)


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        (
            {},
            {
                "human_reviewed": None,
                "output_used_externally": None,
                "agent_action": "none",
                "action_approved": None,
            },
        ),
        (
            {"human_reviewed": "false", "output_used_externally": True},
            {
                "human_reviewed": False,
                "output_used_externally": True,
                "agent_action": "none",
                "action_approved": None,
            },
        ),
        (
            {"reviewer_id": "u-77", "sent_externally": 1},
            {
                "human_reviewed": True,
                "output_used_externally": True,
                "agent_action": "none",
                "action_approved": None,
            },
        ),
        (
            {"agent_action": "Execute", "action_approved": "no"},
            {
                "human_reviewed": None,
                "output_used_externally": None,
                "agent_action": "execute",
                "action_approved": False,
            },
        ),
        (
            {"agent_action": "deploy", "approved_by": "u-9"},
            {
                "human_reviewed": None,
                "output_used_externally": None,
                "agent_action": "other",
                "action_approved": True,
            },
        ),
    ],
)
def test_oversight_from_log_attributes(
    session: Session, attributes: dict[str, Any], expected: dict[str, Any]
) -> None:
    interaction = add_interaction(session, "evt-ov", attributes=attributes)
    assert build_policy_input(interaction, None, [])["oversight"] == expected


@pytest.mark.parametrize(
    ("person_attributes", "interaction_attributes", "rule"),
    [
        ({"ai_literacy_done": "false"}, {}, "ai-literacy-training-missing"),
        ({"ai_literacy_completed_on": "2026-12-01"}, {}, "ai-literacy-training-missing"),
        ({}, {"agent_action": "write"}, "agent-action-without-approval"),
        ({"barrier_side": "private"}, {}, "mnpi-to-external-ai"),
    ],
)
def test_built_inputs_reach_the_new_rules(
    session: Session,
    policy_engine: EmbeddedEngine,
    person_attributes: dict[str, Any],
    interaction_attributes: dict[str, Any],
    rule: str,
) -> None:
    person = add_person(session, "u-4000", attributes=person_attributes)
    interaction = add_interaction(
        session, "evt-new", user_id="u-4000", attributes=interaction_attributes
    )
    fired = {v.rule_id for v in policy_engine.evaluate(build_policy_input(interaction, person, []))}
    assert rule in fired
    clean = add_person(session, "u-4001")
    other = add_interaction(session, "evt-clean", user_id="u-4001")
    assert rule not in {
        v.rule_id for v in policy_engine.evaluate(build_policy_input(other, clean, []))
    }
