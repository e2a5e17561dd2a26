"""The Claude Code reader: OTLP/JSON log events joined per prompt.

Prompt and output text are compared by fingerprint, so a failing assertion prints no content.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.db.models import Interaction
from auditor.ingest import claude_code
from auditor.ingest.base import RawRecord, Rejected, read_head
from auditor.ingest.claude_code import ClaudeCodeReader, Joiner, _events
from auditor.ingest.registry import detect_format
from auditor.ingest.stage import Mappings, ingest_paths
from auditor.normalize import InteractionRecord, RecordError
from tests.conftest import DATA, chat_record, write_jsonl

LOGS = DATA / "logs"
SAMPLES = LOGS / "claude_code"
MAX = 1 << 24
READER = ClaudeCodeReader()


def fp(text: str | None) -> str | None:
    """A fingerprint of a text, so assertions never print the text itself."""
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()[:16]


def rows_by_event(session: Session) -> dict[str, Interaction]:
    query = select(Interaction).where(Interaction.source_format == "claude-code")
    return {row.event_id: row for row in session.scalars(query)}


# --- building OTLP/JSON lines ------------------------------------------------------------

USER = {"user.email": "Ann.Lee@Northbridge-Bank.Example", "user.id": "install-1"}
# Keyword spellings of dotted attribute names.
DOTTED = {"prompt_id": "prompt.id", "session_id": "session.id", "event_sequence": "event.sequence"}


def value(v: Any) -> dict[str, Any]:
    if isinstance(v, dict):
        return v  # an AnyValue written out on purpose
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    return {"stringValue": v}


def event(
    name: str,
    at: str | None = "2026-10-05T10:00:00.000Z",
    *,
    who: dict[str, Any] | None = None,
    **attrs: Any,
) -> dict[str, Any]:
    """One Claude Code log record of session s1 by `who` (default USER); None values are left
    out."""
    merged: dict[str, Any] = {"session.id": "s1", **(USER if who is None else who)}
    merged["event.name"] = name
    if at is not None:
        merged["event.timestamp"] = at
    merged.update({DOTTED.get(k, k): v for k, v in attrs.items()})
    rec: dict[str, Any] = {"body": {"stringValue": f"claude_code.{name}"}}
    if at is not None:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
        rec["timeUnixNano"] = str(int(moment.timestamp() * 1000) * 1_000_000)
    rec["attributes"] = [{"key": k, "value": value(v)} for k, v in merged.items() if v is not None]
    return rec


def export(
    *records: dict[str, Any],
    resource: dict[str, Any] | None = None,
    scope: str = "com.anthropic.claude_code.events",
) -> dict[str, Any]:
    res = {"service.name": "claude-code", "service.version": "2.1.214", **(resource or {})}
    return {
        "resourceLogs": [
            {
                "resource": {"attributes": [{"key": k, "value": value(v)} for k, v in res.items()]},
                "scopeLogs": [{"scope": {"name": scope}, "logRecords": list(records)}],
            }
        ]
    }


def prompt_events(
    pid: str = "p1",
    text: Any = "Summarise the ledger.",
    *,
    minute: int = 0,
    who: dict[str, Any] | None = None,
    **up: Any,
) -> list[dict[str, Any]]:
    """A user_prompt and its api_request (100 in, 20 out, $0.001)."""
    attrs: dict[str, Any] = {"prompt_id": pid, "event_sequence": 1}
    if text is not None:
        attrs["prompt"] = text
        if isinstance(text, str):
            attrs["prompt_length"] = len(text)
    attrs.update(up)
    return [
        event("user_prompt", _iso(minute), who=who, **attrs),
        event(
            "api_request",
            _iso(minute, 3),
            who=who,
            prompt_id=pid,
            event_sequence=2,
            model="claude-sonnet-4-5",
            input_tokens=100,
            output_tokens=20,
            cost_usd=0.001,
            **({"session_id": up["session_id"]} if "session_id" in up else {}),
        ),
    ]


def _iso(minute: int, second: int = 0) -> str:
    return f"2026-10-05T{10 + minute // 60:02d}:{minute % 60:02d}:{second:02d}.000Z"


def read_all(path: Path) -> tuple[list[InteractionRecord], list[Rejected], list[str]]:
    """Interactions, rejections (reading and normalizing) of a file."""
    records: list[InteractionRecord] = []
    rejected: list[Rejected] = []
    for item in READER.records(path, max_line_bytes=MAX):
        if isinstance(item, Rejected):
            rejected.append(item)
            continue
        try:
            records.append(READER.normalize(item))
        except RecordError as exc:
            rejected.append(Rejected(item.line_no, str(exc)))
    return records, rejected, [r.reason for r in rejected]


def one(tmp_path: Path, *lines: dict[str, Any] | list[dict[str, Any]]) -> InteractionRecord:
    """The single interaction of a file of export lines (lists of events become one line)."""
    objs = [export(*ln) if isinstance(ln, list) else ln for ln in lines]
    path = write_jsonl(tmp_path / "cc.jsonl", objs)
    records, rejected, reasons = read_all(path)
    assert not rejected, reasons
    assert len(records) == 1
    return records[0]


def rejection(tmp_path: Path, *lines: dict[str, Any] | list[dict[str, Any]]) -> list[str]:
    objs = [export(*ln) if isinstance(ln, list) else ln for ln in lines]
    path = write_jsonl(tmp_path / "cc.jsonl", objs)
    records, _, reasons = read_all(path)
    assert not records
    return reasons


# --- sniffing ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["prompts.jsonl", "legacy-2025-07.jsonl", "broken.jsonl"])
def test_auto_detects_the_samples(name: str) -> None:
    reader = detect_format(SAMPLES / name)  # raises if another reader claims them too
    assert reader is not None and reader.name == "claude-code"


OTHER_FILES = sorted(p for p in LOGS.rglob("*") if p.is_file() and SAMPLES not in p.parents)


@pytest.mark.parametrize("path", OTHER_FILES, ids=lambda p: str(p.relative_to(LOGS)))
def test_does_not_claim_other_formats(path: Path) -> None:
    assert not READER.sniff(read_head(path))


GENAI_LOG = {
    "resourceLogs": [
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "bot"}}]},
            "scopeLogs": [{"logRecords": [{"eventName": "gen_ai.user.message", "body": {}}]}],
        }
    ]
}
CLAUDE_LINE = json.dumps(export(*prompt_events())).encode()


@pytest.mark.parametrize(
    ("head", "claims"),
    [
        (CLAUDE_LINE + b"\n", True),
        (b"\xef\xbb\xbf" + CLAUDE_LINE, True),
        (b'{"resourceLogs": [{"reso\n' + CLAUDE_LINE + b"\n", True),  # a bad first line
        (CLAUDE_LINE[:300], True),  # a first line longer than the head
        (json.dumps(GENAI_LOG).encode(), False),  # OTel GenAI events, not Claude Code
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": '
            b'[{"name": "claude_code.llm_request"}]}]}]}',
            False,
        ),
        (json.dumps(export(*prompt_events()), indent=2).encode(), False),  # not one per line
        # an openai-chat line whose prompt quotes an OTLP export
        (
            json.dumps(
                chat_record("c1", '{"resourceLogs": [], "service": "claude-code"}')
            ).encode(),
            False,
        ),
        (b"", False),
    ],
)
def test_sniff_cases(head: bytes, claims: bool) -> None:
    assert READER.sniff(head) is claims


# --- the sample files --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "loaded", "rejected", "gaps"),
    [
        ("prompts.jsonl", 6, 2, 2),
        ("legacy-2025-07.jsonl", 4, 0, 2),
        ("broken.jsonl", 3, 11, 0),
    ],
)
def test_sample_counts(session: Session, name: str, loaded: int, rejected: int, gaps: int) -> None:
    [res] = ingest_paths(session, [SAMPLES / name], "auto", max_line_bytes=MAX)
    assert (res.loaded, res.duplicate, res.rejected, res.coverage_gaps) == (
        loaded,
        0,
        rejected,
        gaps,
    )
    assert res.total == loaded + rejected
    assert res.reconciles
    assert len(rows_by_event(session)) == loaded


ANN_P1 = "0b1f2e3d-4c5b-4a69-8788-796a5b4c3d2e"
SONNET = "claude-sonnet-4-5-20250929"
HAIKU = "claude-haiku-4-5-20251001"
PROMPTS_EXPECTED: dict[str, dict[str, Any]] = {
    # OAuth login: e-mail only (the directory links it); three calls summed; two answers
    ANN_P1: {
        "occurred_at": datetime(2026, 10, 5, 9, 14, 56, 411000),
        "user_id": None,
        "user_email": "ann.lee@northbridge-bank.example",
        "model": SONNET,
        "prompt": fp("Refactor the settlement batch job so it retries failed transfers."),
        "output": fp("I added a retry loop with exponential backoff.\n\nDone: tests pass."),
        "input_tokens": 2820,
        "output_tokens": 768,
        "cost_usd": pytest.approx(0.04536),
        "session_id": "6b0d5c1e-2f3a-4b5c-8d6e-7f8091a2b3c4",
        "workflow": "coding",
        "content_status": "present",
        "source_line": 1,
        "attributes": {
            "identity_source": "user.email",
            "account_uuid": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
            "api_requests": 3,
            "tool_calls": 2,
            "tool_failures": 1,
            "tool_rejections": 1,
            "tool_names": ["Bash", "Read"],
            "models": [HAIKU, SONNET],
            "cache_read_tokens": 20058,
            "cache_creation_tokens": 3485,
            "department": "markets",
        },
    },
    # a slash command
    "1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5": {
        "prompt": fp("/compact"),
        "output": None,
        "model": HAIKU,
        "input_tokens": 30000,
        "content_status": "present",
        "attributes": {"command_name": "compact", "api_requests": 1},
    },
    # API key: enduser.id stamped by the firm; numbers as strings; an error, a retried batch
    "3f4a5b6c-7d8e-4f9a-8b1c-2d3e4f5a6b7c": {
        "occurred_at": datetime(2026, 10, 5, 9, 15, 30, 2000),
        "user_id": "u00042",
        "user_email": None,
        "prompt": fp("Draft a note to the client about the café meeting 🙂 on Friday."),
        "output": fp("Dear client, thank you for meeting us at the café."),
        "input_tokens": 1834,
        "output_tokens": 233,
        "cost_usd": pytest.approx(0.0123),
        "workflow": "client_comm",
        "source_line": 2,
        "attributes": {
            "identity_source": "enduser.id",
            "api_errors": 1,
            "duplicate_events": 4,
            "account_type": "enterprise_sso",
            "department": "wealth",
        },
    },
    # defaults: prompt and response redacted
    "5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e": {
        "prompt": None,
        "output": None,
        "content_status": "redacted",
        "input_tokens": 900,
        "attributes": {"output_redacted": True, "identity_source": "user.email"},
    },
    # Bedrock: only the install id; prompt_length without prompt
    "7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a": {
        "user_id": "d00dfeed0000111122223333444455556666777788889999aaaabbbbccccdddd",
        "user_email": None,
        "content_status": "redacted",
        "model": "us.anthropic.claude-sonnet-4-20250514-v1:0",
        "attributes": {"identity_source": "user.id"},
    },
    # Claude apps gateway: e-mail wins; cost only in micros
    "9f0a1b2c-3d4e-4f5a-8b6c-7d8e9f0a1b2c": {
        "user_id": None,
        "user_email": "eve.moss@northbridge-bank.example",
        "cost_usd": pytest.approx(0.003),
        "attributes": {"identity_source": "user.email", "identity_provider": "gateway-oidc"},
    },
}

LEGACY_SESSION = "f3e2d1c0-b9a8-4776-8554-433221100fed"
LEGACY_EXPECTED: dict[str, dict[str, Any]] = {
    # an API call before any prompt of the session: an interaction of its own
    f"{LEGACY_SESSION}/1753106401250000000/api_request": {
        "user_id": "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9",
        "prompt": None,
        "content_status": "not_stored",
        "input_tokens": 52,
        "attributes": {"grouping": "api_request", "prompt_event_missing": True},
    },
    f"{LEGACY_SESSION}/1753106530000000000": {
        "occurred_at": datetime(2025, 7, 21, 14, 2, 10),
        "prompt": fp("Write a unit test for the IBAN validator."),
        "output": None,
        "input_tokens": 6900,
        "output_tokens": 750,
        "cost_usd": pytest.approx(0.0365),
        "attributes": {
            "grouping": "session order",
            "identity_source": "user.account_uuid",
            "tool_names": ["Read"],
            "api_requests": 2,
        },
    },
    f"{LEGACY_SESSION}/1753106700000000000": {
        "content_status": "redacted",
        "input_tokens": 4000,
        "attributes": {"tool_failures": 1, "tool_names": ["Edit"]},
    },
}


def _check(rows: dict[str, Interaction], expected: dict[str, dict[str, Any]]) -> None:
    for event_id, fields in expected.items():
        row = rows[event_id]
        for name, want in fields.items():
            if name == "prompt":
                got: Any = fp(row.prompt_text)
            elif name == "output":
                got = fp(row.output_text)
            elif name == "attributes":
                got = {k: row.attributes.get(k) for k in want}
            else:
                got = getattr(row, name)
            assert got == want, (event_id, name)
        assert row.tool == "claude-code" and row.provider == "anthropic"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("prompts.jsonl", PROMPTS_EXPECTED), ("legacy-2025-07.jsonl", LEGACY_EXPECTED)],
)
def test_sample_fields(session: Session, name: str, expected: dict[str, dict[str, Any]]) -> None:
    ingest_paths(session, [SAMPLES / name], "claude-code", max_line_bytes=MAX)
    rows = rows_by_event(session)
    _check(rows, expected)


def test_legacy_without_session_id_groups_by_identity(session: Session) -> None:
    ingest_paths(session, [SAMPLES / "legacy-2025-07.jsonl"], "claude-code", max_line_bytes=MAX)
    [row] = [r for r in rows_by_event(session).values() if r.session_id is None]
    assert row.user_id == "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d"
    assert fp(row.prompt_text) == fp("Summarise this diff, please.")
    assert row.input_tokens == 800 and row.event_id.startswith("u")  # no e-mail in the id


def test_prompts_rejections_and_ignored_events(session: Session) -> None:
    [res] = ingest_paths(session, [SAMPLES / "prompts.jsonl"], "claude-code", max_line_bytes=MAX)
    assert sorted(res.rejections) == [
        (5, "log record is not a Claude Code event"),
        (7, "1 late `api_request` event(s) of a prompt already closed (not added to it)"),
    ]


BROKEN_REJECTIONS = [
    (2, "not valid JSON"),
    (3, "an OTLP metrics export, not logs"),
    (4, "malformed scopeLogs entry: `logRecords` is not a list"),
    (5, "input_tokens is not a number"),
    (6, "no user identity"),
    (8, "JSON nested too deeply"),
    (9, "`session.id` is not text (2 log records)"),
    (11, "timestamp is missing"),
    (12, "`model` is longer than 128 characters"),
    (14, "expected a JSON object, got list"),
    (15, "cost_usd is out of range"),
]


def test_broken_sample_rejects_each_bad_line_alone(session: Session) -> None:
    [res] = ingest_paths(session, [SAMPLES / "broken.jsonl"], "claude-code", max_line_bytes=MAX)
    got = sorted(res.rejections)
    assert [line for line, _ in got] == [line for line, _ in BROKEN_REJECTIONS]
    for (_, reason), (_, want) in zip(got, BROKEN_REJECTIONS, strict=True):
        assert reason.startswith(want), want
    rows = rows_by_event(session)
    repaired = rows["b0071111-1111-4111-8111-111111111111"]
    assert repaired.attributes.get("encoding_repaired") is True
    assert [line for line, note in res.warnings if "invalid UTF-8" in note] == [7]
    fallback = rows["b0101111-1111-4111-8111-111111111111"]
    assert fallback.attributes["timestamp_source"] == "timeUnixNano"
    assert fallback.occurred_at == datetime(2026, 10, 6, 8, 0)
    # line 13 holds only a tool event of a prompt stored elsewhere: neither loaded nor rejected
    assert "b0131111-1111-4111-8111-111111111111" not in rows


# --- gzip, idempotency, limits, mappings -------------------------------------------------


def test_gzip_file_gives_the_same_interactions(session: Session, tmp_path: Path) -> None:
    packed = tmp_path / "claude-code.jsonl.gz"
    packed.write_bytes(gzip.compress((SAMPLES / "prompts.jsonl").read_bytes()))
    assert detect_format(packed).name == "claude-code"  # type: ignore[union-attr]
    [res] = ingest_paths(session, [packed], "auto", max_line_bytes=MAX)
    assert (res.loaded, res.rejected, res.coverage_gaps) == (6, 2, 2) and res.reconciles
    _check(rows_by_event(session), PROMPTS_EXPECTED)


def test_damaged_gzip_keeps_what_was_read(session: Session, tmp_path: Path) -> None:
    data = gzip.compress((SAMPLES / "prompts.jsonl").read_bytes())
    damaged = tmp_path / "damaged.jsonl.gz"
    damaged.write_bytes(data[: len(data) * 2 // 3])
    [res] = ingest_paths(session, [damaged], "claude-code", max_line_bytes=MAX)
    assert res.reconciles and res.loaded >= 1
    assert any(line == 0 and "damaged" in reason for line, reason in res.rejections)


def test_same_file_twice_adds_nothing(session: Session, tmp_path: Path) -> None:
    ingest_paths(session, [SAMPLES / "prompts.jsonl"], "claude-code", max_line_bytes=MAX)
    [again] = ingest_paths(session, [SAMPLES / "prompts.jsonl"], "claude-code", max_line_bytes=MAX)
    assert again.already_ingested and again.loaded == 0
    copy = tmp_path / "copy.jsonl"  # another digest, the same events
    copy.write_bytes((SAMPLES / "prompts.jsonl").read_bytes() + b"\n")
    [res] = ingest_paths(session, [copy], "claude-code", max_line_bytes=MAX)
    assert (res.loaded, res.duplicate, res.rejected) == (0, 6, 2) and res.reconciles
    assert len(rows_by_event(session)) == 6


def test_over_long_line_is_rejected_alone(session: Session, tmp_path: Path) -> None:
    big = export(*prompt_events("big", "x" * 5000))
    path = write_jsonl(tmp_path / "cc.jsonl", [big, export(*prompt_events("small"))])
    [res] = ingest_paths(session, [path], "claude-code", max_line_bytes=4000)
    assert (res.loaded, res.rejected) == (1, 1) and res.reconciles
    assert res.rejections == [(1, "line is longer than 4000 bytes")]


def test_firm_mappings_apply_to_tool_and_workflow(session: Session, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "cc.jsonl", [export(*prompt_events(), resource={"workflow": "Dev-Work"})]
    )
    maps = Mappings.from_maps({"claude-code": "claude-code-enterprise"}, {"dev_work": "coding"})
    ingest_paths(session, [path], "claude-code", max_line_bytes=MAX, mappings=maps)
    [row] = rows_by_event(session).values()
    assert (row.tool, row.workflow) == ("claude-code-enterprise", "coding")


# --- mapping rules, one case per row -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "length", "status", "prompt", "flags"),
    [
        ("Summarise the ledger.", 21, "present", fp("Summarise the ledger."), {}),
        ("<REDACTED>", 30, "redacted", None, {}),
        (None, 30, "redacted", None, {}),  # no prompt, but its length: redacted
        (None, None, "not_stored", None, {}),
        ("", 0, "present", fp(""), {"empty_prompt": True}),
        ("cut off here", 61440, "present", fp("cut off here"), {"prompt_truncated": True}),
        ("emoji 🙂", 8, "present", fp("emoji 🙂"), {}),  # JavaScript length: 🙂 counts 2
    ],
)
def test_prompt_content_status(
    tmp_path: Path, text: str | None, length: int | None, status: str, prompt: Any, flags: dict
) -> None:
    up: dict[str, Any] = {"prompt_id": "p1", "prompt_length": length, "prompt": text}
    rec = one(tmp_path, [event("user_prompt", **up)])
    assert (rec.content_status, fp(rec.prompt_text)) == (status, prompt)
    for key in ("empty_prompt", "prompt_truncated"):
        assert rec.attributes.get(key) == flags.get(key), key


@pytest.mark.parametrize(
    ("identity", "user_id", "email", "source"),
    [
        (
            {"user.email": "A.B@Bank.Example", "user.id": "i1", "enduser.id": "u7"},
            "u7",
            "a.b@bank.example",
            "enduser.id",
        ),
        (
            {"user.email": "A.B@Bank.Example", "user.account_uuid": "acc", "user.id": "i1"},
            None,
            "a.b@bank.example",
            "user.email",
        ),
        (
            {"user.account_uuid": "acc", "user.account_id": "user_01x", "user.id": "i1"},
            "acc",
            None,
            "user.account_uuid",
        ),
        ({"user.account_id": "user_01x", "user.id": "i1"}, "user_01x", None, "user.account_id"),
        ({"user.id": "i1"}, "i1", None, "user.id"),
        ({"user.id": "sub-9", "identity.source": "gateway-oidc"}, "sub-9", None, "user.id"),
        ({"user.id": 12345}, "12345", None, "user.id"),  # a number is an id too
    ],
)
def test_identity_choice(
    tmp_path: Path, identity: dict, user_id: str | None, email: str | None, source: str
) -> None:
    rec = one(tmp_path, prompt_events(who=identity))
    assert (rec.user_id, rec.user_email, rec.attributes["identity_source"]) == (
        user_id,
        email,
        source,
    )


def test_enduser_id_from_resource_attributes(tmp_path: Path) -> None:
    rec = one(tmp_path, export(*prompt_events(), resource={"enduser.id": "u00009"}))
    assert rec.user_id == "u00009" and rec.attributes["identity_source"] == "enduser.id"


def test_no_identity_is_rejected(tmp_path: Path) -> None:
    reasons = rejection(tmp_path, prompt_events(who={}))
    assert reasons == [
        "no user identity (`user.email`, `enduser.id`, `user.account_uuid`, `user.id`)"
    ]


def _with_clock(at: str | None, time_unix: Any, observed: Any = None) -> list[dict[str, Any]]:
    events = prompt_events()
    up = events[0]
    up["attributes"] = [a for a in up["attributes"] if a["key"] != "event.timestamp"]
    if at is not None:
        up["attributes"].append({"key": "event.timestamp", "value": {"stringValue": at}})
    up.pop("timeUnixNano", None)
    if time_unix is not None:
        up["timeUnixNano"] = time_unix
    if observed is not None:
        up["observedTimeUnixNano"] = observed
    return events


@pytest.mark.parametrize(
    ("at", "time_unix", "observed", "expected", "source"),
    [
        ("2026-10-05T10:00:00.123Z", None, None, datetime(2026, 10, 5, 10, 0, 0, 123000), None),
        ("2026-10-05T12:00:00+02:00", None, None, datetime(2026, 10, 5, 10, 0), None),
        ("2026-10-05T10:00:00", None, None, datetime(2026, 10, 5, 10, 0), None),  # no zone: UTC
        (None, "1791194400000000000", None, datetime(2026, 10, 5, 10, 0), "timeUnixNano"),
        (None, 1791194400000000000, None, datetime(2026, 10, 5, 10, 0), "timeUnixNano"),
        ("soon", "1791194400000000000", None, datetime(2026, 10, 5, 10, 0), "timeUnixNano"),
        (None, "0", "1791194400000000000", datetime(2026, 10, 5, 10, 0), "observedTimeUnixNano"),
    ],
)
def test_timestamp_styles(
    tmp_path: Path, at: str | None, time_unix: Any, observed: Any, expected: datetime, source: Any
) -> None:
    rec = one(tmp_path, _with_clock(at, time_unix, observed))
    assert rec.occurred_at == expected.replace(tzinfo=UTC)
    assert rec.attributes.get("timestamp_source") == source


def test_no_clock_at_all_is_rejected(tmp_path: Path) -> None:
    reasons = rejection(tmp_path, _with_clock(None, "0"))
    assert reasons == ["timestamp is missing (`event.timestamp`, `timeUnixNano`)"]


@pytest.mark.parametrize(
    ("api_attrs", "reason"),
    [
        (
            {"input_tokens": {"arrayValue": {"values": [{"intValue": "1"}]}}},
            "input_tokens is not a number",
        ),
        ({"output_tokens": {"intValue": "12abc"}}, "output_tokens is not a number"),
        ({"output_tokens": -5}, "output_tokens is out of range"),
        ({"input_tokens": 10**30}, "input_tokens is out of range"),
        ({"cost_usd": {"doubleValue": "Infinity"}}, "cost_usd is out of range"),
        ({"cost_usd": {"stringValue": "cheap"}}, "cost_usd is not a number"),
        ({"model": {"boolValue": True}}, "`model` is not text (got bool)"),
        ({"model": "m" * 200}, "`model` is longer than 128 characters"),
    ],
)
def test_wrong_types_reject_the_interaction(tmp_path: Path, api_attrs: dict, reason: str) -> None:
    events = prompt_events()
    events[1] = event("api_request", "2026-10-05T10:00:03.000Z", prompt_id="p1", **api_attrs)
    assert rejection(tmp_path, events) == [reason]


@pytest.mark.parametrize(
    ("attrs", "reason"),
    [
        ({"session_id": {"kvlistValue": {"values": []}}}, None),  # not a scalar: no session
        ({"session_id": {"boolValue": True}}, "`session.id` is not text"),
        ({"prompt_id": "p" * 300}, "`prompt.id` is longer than 255 characters"),
        ({"prompt": {"intValue": "7"}}, "`prompt` is not text (got int)"),
    ],
)
def test_wrong_types_in_the_prompt_event(tmp_path: Path, attrs: dict, reason: str | None) -> None:
    events = prompt_events()
    events[0] = event("user_prompt", **{"prompt_id": "p1", "prompt": "Hi", **attrs})
    path = write_jsonl(tmp_path / "cc.jsonl", [export(*events)])
    records, _, reasons = read_all(path)
    if reason is None:  # the prompt is still read, only without its session
        assert not reasons
        assert [r.session_id for r in records if r.prompt_text] == [None]
    else:
        assert reason in reasons[0]


def test_cost_from_micros_and_cache_tokens(tmp_path: Path) -> None:
    events = prompt_events()
    events[1] = event(
        "api_request",
        "2026-10-05T10:00:03.000Z",
        prompt_id="p1",
        model="m",
        input_tokens=10,
        output_tokens=2,
        cost_usd_micros=2500,
        cache_read_tokens=500,
        cache_creation_tokens=40,
    )
    rec = one(tmp_path, events)
    assert rec.cost_usd == pytest.approx(0.0025)
    assert (rec.attributes["cache_read_tokens"], rec.attributes["cache_creation_tokens"]) == (
        500,
        40,
    )


@pytest.mark.parametrize(
    ("name_fields", "loaded"),
    [
        ({"event.name": "user_prompt"}, 1),  # bare name, Claude Code resource
        ({"event.name": "claude_code.user_prompt"}, 1),
        ({"eventName": "claude_code.user_prompt"}, 1),  # OTLP 1.5 field
        ({"body": "claude_code.user_prompt"}, 1),
    ],
)
def test_event_name_spellings(tmp_path: Path, name_fields: dict, loaded: int) -> None:
    rec = event("user_prompt", prompt_id="p1", prompt="Hi", prompt_length=2)
    rec["attributes"] = [a for a in rec["attributes"] if a["key"] != "event.name"]
    rec.pop("body")
    if "event.name" in name_fields:
        rec["attributes"].append({"key": "event.name", "value": value(name_fields["event.name"])})
    if "eventName" in name_fields:
        rec["eventName"] = name_fields["eventName"]
    if "body" in name_fields:
        rec["body"] = {"stringValue": name_fields["body"]}
    out = one(tmp_path, [rec])
    assert out.event_id == "p1" and out.prompt_text == "Hi"


def test_other_services_free_text_body_is_not_an_event(tmp_path: Path) -> None:
    other = export(resource={"service.name": "payments-api"}, scope="payments")
    other["resourceLogs"][0]["scopeLogs"][0]["logRecords"] = [
        {"body": {"stringValue": "user_prompt"}, "attributes": []},
        {"body": {"stringValue": "GET /health 200"}, "attributes": []},
    ]
    reasons = rejection(tmp_path, other)
    assert reasons == ["log record is not a Claude Code event (2 log records)"]


def test_answers_are_joined_in_sequence_order(tmp_path: Path) -> None:
    events = [
        event(
            "assistant_response",
            "2026-10-05T10:00:09.000Z",
            prompt_id="p1",
            event_sequence=6,
            response="second",
            model="claude-opus-4-5",
        ),
        *prompt_events(),
        event(
            "assistant_response",
            "2026-10-05T10:00:04.000Z",
            prompt_id="p1",
            event_sequence=3,
            response="first",
            model="claude-sonnet-4-5",
        ),
    ]
    rec = one(tmp_path, events)
    assert rec.output_text == "first\n\nsecond"
    assert rec.model == "claude-opus-4-5"  # the last answer's model
    assert rec.source_format == "claude-code"


def test_prompt_split_over_lines_and_sessions_interleaved(tmp_path: Path) -> None:
    a1, a2 = prompt_events("pa")
    b1, b2 = prompt_events("pb", session_id="s2")
    b2 = event(
        "api_request",
        "2026-10-05T10:00:05.000Z",
        prompt_id="pb",
        session_id="s2",
        input_tokens=7,
        output_tokens=1,
    )
    path = write_jsonl(tmp_path / "cc.jsonl", [export(a1, b1), export(b2), export(a2)])
    records, rejected, _ = read_all(path)
    assert not rejected
    by_id = {r.event_id: r for r in records}
    assert (by_id["pa"].input_tokens, by_id["pb"].input_tokens) == (100, 7)
    assert (by_id["pa"].session_id, by_id["pb"].session_id) == ("s1", "s2")


def test_tool_events_alone_are_not_interactions(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "cc.jsonl",
        [
            export(
                event("tool_result", prompt_id="px", tool_name="Bash", success="true"),
                event("hook_execution_start", hook_event="SessionStart"),
            )
        ],
    )
    assert read_all(path) == ([], [], [])


# --- the joiner: completion rules and bounded memory -------------------------------------


def _feed(joiner: Joiner, line_no: int, *records: dict[str, Any]) -> list[RawRecord | Rejected]:
    counts: Counter[str] = Counter()
    events = _events(export(*records), line_no, counts)
    assert not counts
    return joiner.feed(events, line_no)


def test_next_prompt_closes_the_previous_after_linger() -> None:
    joiner = Joiner()
    out = _feed(joiner, 1, event("user_prompt", _iso(0), prompt_id="p1", prompt="a"))
    out += _feed(joiner, 2, event("user_prompt", _iso(1), prompt_id="p2", prompt="b"))
    assert out == []  # p1 may still get events from a queued or background call
    out = _feed(joiner, 3, event("api_request", _iso(1, 30), prompt_id="p1", input_tokens=5))
    assert out == []
    out = _feed(joiner, 4, event("tool_result", _iso(9), prompt_id="p2", tool_name="Read"))
    assert [r.obj["event_id"] for r in out if isinstance(r, RawRecord)] == ["p1"]
    assert len(out[0].obj["api_requests"]) == 1  # type: ignore[union-attr]
    late = _feed(joiner, 5, event("api_request", _iso(10), prompt_id="p1", input_tokens=5))
    assert [r.reason for r in late if isinstance(r, Rejected)] == [
        "1 late `api_request` event(s) of a prompt already closed (not added to it)"
    ]
    assert [r.obj["event_id"] for r in joiner.finish()] == ["p2"]  # type: ignore[union-attr]


def test_idle_needs_both_clocks() -> None:
    joiner = Joiner(idle_lines=3)
    _feed(joiner, 1, event("user_prompt", _iso(0), prompt_id="p1", prompt="a"))
    # another session's clock is a day ahead: p1 is idle by time, but not yet by lines
    ahead = event("user_prompt", "2026-10-06T10:00:00.000Z", session_id="s9", prompt_id="q1")
    assert _feed(joiner, 2, ahead) == []
    tool = event("tool_result", _iso(1), session_id="s3", prompt_id="t", tool_name="Read")
    assert _feed(joiner, 3, tool) == []
    out = _feed(joiner, 4, tool)
    assert [r.obj["event_id"] for r in out] == ["p1"]  # type: ignore[union-attr]
    assert set(joiner.open) == {("s9", "q1"), ("s3", "t")}


def test_memory_is_bounded_by_open_prompts() -> None:
    joiner = Joiner(max_open=25)
    emitted = 0
    for n in range(1, 601):  # 600 sessions that each stop after one prompt
        up = event("user_prompt", _iso(n // 60, n % 60), session_id=f"s{n}", prompt_id=f"p{n}")
        emitted += len(_feed(joiner, n, up))
        assert len(joiner.open) <= 25
    assert joiner.peak_open <= 26  # one over the cap, then the least recent goes
    emitted += len(joiner.finish())
    assert emitted == 600
    assert not joiner.by_stream and not joiner.stream_clock and not joiner.current


def test_records_stream_before_the_end_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One session, a prompt every 10 minutes: each prompt is emitted when the next one has
    # started, long before the file ends.
    path = write_jsonl(
        tmp_path / "cc.jsonl", [export(*prompt_events(f"p{n}", minute=10 * n)) for n in range(40)]
    )
    lines_read = 0
    real = claude_code.iter_json_lines

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal lines_read
        for item in real(*args, **kwargs):
            lines_read += 1
            yield item

    monkeypatch.setattr(claude_code, "iter_json_lines", counting)
    first = next(i for i in READER.records(path, max_line_bytes=MAX) if isinstance(i, RawRecord))
    assert first.obj["event_id"] == "p0" and lines_read == 2


def test_events_never_quote_content_in_reasons(tmp_path: Path) -> None:
    secret = "SSN 078-05-1120"
    events = prompt_events(text=secret)
    events[1] = event("api_request", "2026-10-05T10:00:03.000Z", prompt_id="p1", model=secret * 20)
    reasons = rejection(tmp_path, events)
    assert reasons and all("078-05" not in r for r in reasons)
