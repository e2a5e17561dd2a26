"""OPA decision-log export on a real migrated database with the real policies."""

from __future__ import annotations

import hashlib
import json
import re
import stat
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor import __version__
from auditor.db.models import Decision, Detection, Interaction, Person
from auditor.errors import InputError
from auditor.policy import decision_log
from auditor.policy.decision_log import decision_events, write_decision_log
from auditor.policy.engine import EmbeddedEngine, PolicyEngine, UnavailableEngine
from auditor.policy.evaluate import evaluate_sample
from auditor.policy.input import build_policy_input
from tests.policy.helpers import add_interaction, add_person, add_sample, add_scan

NOW = datetime(2026, 11, 1, 9, 0, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
PERIOD = "2026-10"
# Planted where only raw content and the directory hold them: none may reach the log.
PLANTED_PROMPT = "PLANTED-PROMPT-zq81 card 4111 1111 1111 1111 for Project Falcon"
PLANTED_OUTPUT = "PLANTED-OUTPUT-kx27 here is the refund"
EMAIL = "Planted.Person@bank.example"
DOWN = UnavailableEngine("opa", "unavailable", "OPA server not reachable")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def _key(event_id: str) -> str:
    return f"test:{event_id}"


def _canonical_sha256(doc: dict[str, Any]) -> str:
    """The digest as the brief defines it, computed here independently of the code."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def evaluated(session: Session, policy_engine: EmbeddedEngine) -> dict[str, int]:
    """Violations, a pass, a coverage gap, an engine failure and an interaction outside the
    period, evaluated; name -> interaction id. `card` is evaluated twice: by the embedded
    engine at NOW and by an unavailable engine at LATER."""
    add_person(session, "u-1001", email=EMAIL)
    rows: dict[str, Interaction] = {}
    rows["card"] = add_interaction(
        session, "e-card", user_email=EMAIL, prompt=PLANTED_PROMPT, output=PLANTED_OUTPUT
    )
    add_scan(session, rows["card"], [("CREDIT_CARD", 1.0)])
    rows["clean"] = add_interaction(session, "e-clean", tool="atlas-internal", workflow="research")
    add_scan(session, rows["clean"], [("CREDIT_CARD", 1.0), ("US_SSN", 0.85)])
    rows["unscanned"] = add_interaction(session, "e-unscanned", tool="claude-enterprise")
    rows["outside"] = add_interaction(session, "e-outside", tool="atlas-internal")
    add_scan(session, rows["outside"], [])
    rows["outside"].occurred_at = datetime(2026, 11, 2, 8, 0, 0)
    rows["down"] = add_interaction(session, "e-down", prompt=PLANTED_PROMPT)
    add_scan(session, rows["down"], [])
    session.flush()
    add_sample(session, "s-1", [rows[n] for n in ("card", "clean", "unscanned", "outside")])
    add_sample(session, "s-2", [rows["card"], rows["down"]])
    evaluate_sample(session, policy_engine, "s-1", now=NOW)
    evaluate_sample(session, DOWN, "s-2", now=LATER)
    return {name: row.id for name, row in rows.items()}


def _events(session: Session, period: str = PERIOD) -> list[dict[str, Any]]:
    return list(decision_events(session, period))


# name, when evaluated, rule ids in `result` (None: no result), error code (None: no error)
EXPECTED = [
    ("card", NOW, ["card-data-outside-pci-scope", "client-npi-to-uncontracted-tool"], None),
    ("clean", NOW, [], None),
    ("unscanned", NOW, [], "coverage_gap"),
    ("card", LATER, None, "evaluation_failed"),
    ("down", LATER, None, "evaluation_failed"),
]


def test_one_event_per_interaction_evaluation_in_order(
    session: Session, evaluated: dict[str, int]
) -> None:
    got = [
        (
            e["labels"]["interaction"],
            e["timestamp"],
            [r["rule_id"] for r in e["result"]] if "result" in e else None,
            e["error"]["code"] if "error" in e else None,
        )
        for e in _events(session)
    ]
    assert got == [
        (_key(f"e-{name}"), when.strftime("%Y-%m-%dT%H:%M:%S.000000Z"), rules, code)
        for name, when, rules, code in EXPECTED
    ]


@pytest.mark.parametrize(("name", "when", "rules", "code"), EXPECTED)
def test_event_has_opa_shape(
    session: Session,
    policy_engine: EmbeddedEngine,
    evaluated: dict[str, int],
    name: str,
    when: datetime,
    rules: list[str] | None,
    code: str | None,
) -> None:
    (event,) = [
        e
        for e in _events(session)
        if e["labels"]["interaction"] == _key(f"e-{name}")
        and e["timestamp"].startswith(when.strftime("%Y-%m-%dT%H:%M:%S"))
    ]
    engine = policy_engine if when == NOW else DOWN
    uuid.UUID(event["decision_id"])
    assert event["path"] == "auditor/main/violations"
    assert event["bundles"] == {"auditor": {"revision": engine.revision}}
    assert event["labels"] == {
        "app": "ai-usage-auditor",
        "version": __version__,
        "engine": engine.name,
        "interaction": _key(f"e-{name}"),
    }
    assert RFC3339_Z.match(event["timestamp"])
    assert "input" not in event
    assert event["erased"] == ["/input"]
    assert event["input_digest"]["algorithm"] == "SHA-256"
    assert HEX64.match(event["input_digest"]["value"])
    if rules is None:
        assert "result" not in event
    else:
        for violation in event["result"]:
            assert set(violation) == {"rule_id", "severity", "title", "message", "entity_types"}
            assert violation["title"]
    if code is None:
        assert "error" not in event
    else:
        assert event["error"]["message"]


def test_violations_as_the_policy_returned_them(
    session: Session, evaluated: dict[str, int]
) -> None:
    # The card's first evaluation (NOW, embedded engine); the later one failed.
    card = next(e for e in _events(session) if e["labels"]["interaction"] == _key("e-card"))
    rows = session.scalars(
        select(Decision)
        .where(Decision.interaction_id == evaluated["card"], Decision.verdict == "violation")
        .order_by(Decision.id)
    ).all()
    assert card["result"] == [
        {
            "rule_id": d.rule_id,
            "severity": d.severity,
            "title": d.title,
            "message": d.message,
            "entity_types": d.entity_types,
        }
        for d in rows
    ]
    assert card["result"][0]["severity"] == "critical"
    assert card["result"][0]["entity_types"] == ["CREDIT_CARD"]


@pytest.mark.parametrize(
    ("name", "fields_scanned"),
    [
        ("card", ["prompt", "output"]),
        ("clean", ["prompt", "output"]),
        ("unscanned", []),
        ("down", ["prompt", "output"]),
    ],
)
def test_digest_is_sha256_of_the_canonical_input(
    session: Session, evaluated: dict[str, int], name: str, fields_scanned: list[str]
) -> None:
    interaction = session.get(Interaction, evaluated[name])
    assert interaction is not None
    detections = session.scalars(
        select(Detection).where(Detection.interaction_id == interaction.id).order_by(Detection.id)
    ).all()
    doc = build_policy_input(
        interaction,
        session.get(Person, "u-1001"),
        detections,
        fields_scanned=fields_scanned,
    )
    digests = {
        e["input_digest"]["value"]
        for e in _events(session)
        if e["labels"]["interaction"] == _key(f"e-{name}")
    }
    assert digests == {_canonical_sha256(doc)}


def test_decision_ids_are_stable_across_exports(
    session: Session, evaluated: dict[str, int], tmp_path: Path
) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert write_decision_log(session, PERIOD, first) == len(EXPECTED)
    assert write_decision_log(session, PERIOD, second) == len(EXPECTED)
    ids = [json.loads(line)["decision_id"] for line in first.read_text().splitlines()]
    assert ids == [json.loads(line)["decision_id"] for line in second.read_text().splitlines()]
    assert len(set(ids)) == len(ids), "each evaluation has its own id"
    assert first.read_bytes() == second.read_bytes()


def test_a_new_evaluation_gets_a_new_id(
    session: Session, policy_engine: EmbeddedEngine, evaluated: dict[str, int]
) -> None:
    before = {e["decision_id"] for e in _events(session)}
    # The unscanned item is retried at a later time: a new evaluation, a new decision id.
    evaluate_sample(session, policy_engine, "s-1", now=LATER + timedelta(hours=1))
    after = {e["decision_id"] for e in _events(session)}
    assert len(after - before) == 1 and len(before - after) == 1


@pytest.mark.parametrize(
    ("period", "names"),
    [
        ("2026-10", ["card", "clean", "unscanned", "card", "down"]),
        ("2026-11", ["outside"]),
        ("2026-09", []),
    ],
)
def test_period_selects_interactions_by_when_they_occurred(
    session: Session, evaluated: dict[str, int], period: str, names: list[str]
) -> None:
    got = [e["labels"]["interaction"] for e in _events(session, period)]
    assert got == [_key(f"e-{n}") for n in names]


@pytest.mark.parametrize("period", ["2026-13", "October", "", "2026-1x"])
def test_bad_period_is_refused_before_reading(session: Session, period: str) -> None:
    with pytest.raises(InputError):
        decision_events(session, period)


def test_groups_survive_batch_boundaries(
    session: Session, evaluated: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streaming in batches must not split one evaluation's rows into two events."""
    whole = _events(session)
    monkeypatch.setattr(decision_log, "BATCH", 1)
    assert _events(session) == whole


@pytest.mark.parametrize(
    "secret",
    [
        PLANTED_PROMPT,
        "PLANTED-PROMPT-zq81",
        "4111",
        PLANTED_OUTPUT,
        "PLANTED-OUTPUT-kx27",
        EMAIL,
        EMAIL.lower(),
        "Project Falcon",
    ],
)
def test_no_content_or_email_in_the_file(
    session: Session, evaluated: dict[str, int], tmp_path: Path, secret: str
) -> None:
    out = tmp_path / "decisions.jsonl"
    write_decision_log(session, PERIOD, out)
    assert (
        session.scalar(select(Interaction.prompt_text).where(Interaction.id == evaluated["card"]))
        == PLANTED_PROMPT
    ), "the content is there to leak"
    assert secret.lower() not in out.read_text(encoding="utf-8").lower()


def test_file_is_owner_only_and_replaced_whole(
    session: Session, evaluated: dict[str, int], tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "decisions.jsonl"
    out.write_text("stale\n")
    out.chmod(0o644)
    count = write_decision_log(session, PERIOD, out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    lines = out.read_text(encoding="utf-8").splitlines()
    assert count == len(lines) == len(EXPECTED)
    assert all(isinstance(json.loads(line), dict) for line in lines)
    assert [p.name for p in out_dir.iterdir()] == ["decisions.jsonl"], "no temporary left"


def test_unwritable_destination_is_an_input_error(
    session: Session, evaluated: dict[str, int], tmp_path: Path
) -> None:
    with pytest.raises(InputError, match="cannot be written"):
        write_decision_log(session, PERIOD, tmp_path / "missing" / "decisions.jsonl")


def test_empty_period_writes_an_empty_file(session: Session, tmp_path: Path) -> None:
    out = tmp_path / "decisions.jsonl"
    assert write_decision_log(session, PERIOD, out) == 0
    assert out.read_bytes() == b""
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


# --- the digest on the decision rows (evaluate_sample) -----------------------------------------


def test_input_digest_is_set_on_every_decision_row(
    session: Session, evaluated: dict[str, int]
) -> None:
    rows = session.scalars(select(Decision).order_by(Decision.id)).all()
    assert {d.verdict for d in rows} == {"violation", "pass", "not_evaluated"}
    assert all(d.input_digest is not None and HEX64.match(d.input_digest) for d in rows)
    by_evaluation: dict[tuple[int, datetime, str], set[str | None]] = {}
    for d in rows:
        key = (d.interaction_id, d.evaluated_at, d.policy_revision)
        by_evaluation.setdefault(key, set()).add(d.input_digest)
    assert all(len(digests) == 1 for digests in by_evaluation.values()), (
        "one evaluation, one input, one digest"
    )
    # The same facts give the same digest whichever engine decided on them.
    card = [v for k, v in by_evaluation.items() if k[0] == evaluated["card"]]
    assert len(card) == 2 and len(set().union(*card)) == 1


def test_input_digest_on_either_engine(session: Session, decision_engine: PolicyEngine) -> None:
    """Embedded and OPA server alike: every row carries the digest of the input it was sent."""
    person = add_person(session, "u-1001", email=EMAIL)
    card = add_interaction(session, "e-card", user_email=EMAIL, prompt=PLANTED_PROMPT)
    detections = add_scan(session, card, [("CREDIT_CARD", 1.0)])
    clean = add_interaction(session, "e-clean", tool="atlas-internal", workflow="research")
    add_scan(session, clean, [])
    add_sample(session, "s-1", [card, clean])
    evaluate_sample(session, decision_engine, "s-1", now=NOW)
    expected = {
        card.id: _canonical_sha256(
            build_policy_input(card, person, detections, fields_scanned=["prompt", "output"])
        ),
        clean.id: _canonical_sha256(
            build_policy_input(clean, person, [], fields_scanned=["prompt", "output"])
        ),
    }
    rows = session.scalars(select(Decision).order_by(Decision.id)).all()
    assert [(d.interaction_id, d.verdict) for d in rows] == [
        (card.id, "violation"),
        (card.id, "violation"),
        (clean.id, "pass"),
    ]
    assert all(d.input_digest == expected[d.interaction_id] for d in rows)


def test_no_digest_when_no_input_could_be_built(
    session: Session, policy_engine: EmbeddedEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    row = add_interaction(session, "e-broken", user_email=EMAIL)
    add_scan(session, row, [])
    add_sample(session, "s-3", [row])

    def broken(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise ValueError("input could not be built")

    monkeypatch.setattr("auditor.policy.evaluate.build_policy_input", broken)
    evaluate_sample(session, policy_engine, "s-3", now=NOW)
    (decision,) = session.scalars(select(Decision)).all()
    assert (decision.verdict, decision.input_digest) == ("not_evaluated", None)
    (event,) = _events(session)
    # Nothing to name and nothing known to have been erased.
    assert "input_digest" not in event and "erased" not in event
    assert event["error"] == {
        "code": "evaluation_failed",
        "message": "policy evaluation failed: ValueError",
    }
