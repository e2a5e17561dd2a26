"""The chatgpt-compliance reader: ChatGPT Enterprise Compliance API conversations.

Samples in tests/data/logs/chatgpt_compliance/ follow the public field lists (the Sumo Logic
ChatGPT Compliance app's sample log, Worklytics psoxy's schema, community client mocks).
Assertions compare ids, counts and fields; rejection reasons are checked never to quote text.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auditor.db.models import IngestRejection, Interaction, SourceFile
from auditor.ingest import chatgpt_compliance as cc
from auditor.ingest.base import RawRecord, Rejected, read_head
from auditor.ingest.registry import detect_format, get_reader
from auditor.ingest.stage import Mappings, ingest_paths
from auditor.normalize import RecordError
from tests.conftest import DATA, chat_record, write_jsonl

LOGS = DATA / "logs"
SAMPLES = LOGS / "chatgpt_compliance"
MAX = 16 * 1024 * 1024
FORMAT = "chatgpt-compliance"
WS = "11bf645e-d5e8-4478-a70e-e5742ded2436"


def reader() -> cc.ChatGPTComplianceReader:
    return get_reader(FORMAT)  # type: ignore[return-value]


# -- building conversations for the tmp-file cases ----------------------------------------------


def message(mid: str, role: str, value: Any, at: Any = 1791194400.5, **extra: Any) -> dict:
    return {
        "object": "compliance.workspace.conversation.message",
        "id": mid,
        "created_at": at,
        "author": {"role": role},
        "content": {"type": "text", "value": value},
        **extra,
    }


def conversation(cid: str, *messages: dict, **extra: Any) -> dict:
    if not messages:
        messages = (message(f"{cid}-u", "user", "hello"), message(f"{cid}-a", "assistant", "hi"))
    conv = {
        "object": "compliance.workspace.conversation",
        "id": cid,
        "workspace_id": WS,
        "user_id": "user-1",
        "user_email": "ann.lee@northbridge-bank.example",
        "created_at": 1791194400.0,
        "last_active_at": 1791194500.0,
        "title": "t",
        "messages": {"object": "list", "data": list(messages), "has_more": False},
    }
    conv.update(extra)
    return conv


def page(*convs: dict, has_more: bool = False) -> dict:
    return {"object": "list", "data": list(convs), "has_more": has_more, "last_id": None}


def ingest(session: Session, path: Path, fmt: str = "auto", **kw: Any):  # type: ignore[no-untyped-def]
    [res] = ingest_paths(session, [path], fmt, max_line_bytes=kw.pop("cap", MAX), **kw)
    assert res.skipped is None, res.skipped
    assert res.reconciles
    return res


def rows(session: Session) -> dict[str, Interaction]:
    return {r.event_id: r for r in session.scalars(select(Interaction))}


# -- sniffing ------------------------------------------------------------------------------------

OWN_FILES = sorted(p for p in SAMPLES.iterdir() if p.name != "damaged.jsonl.gz")
OTHER_FILES = sorted(p for p in LOGS.rglob("*") if p.is_file() and SAMPLES not in p.parents)


@pytest.mark.parametrize("path", OWN_FILES, ids=lambda p: p.name)
def test_sniff_claims_every_sample(path: Path) -> None:
    assert reader().sniff(read_head(path))
    assert detect_format(path).name == FORMAT  # and no other reader claims it too


@pytest.mark.parametrize("path", OTHER_FILES, ids=lambda p: str(p.relative_to(LOGS)))
def test_sniff_leaves_other_formats_alone(path: Path) -> None:
    assert not reader().sniff(read_head(path))


@pytest.mark.parametrize(
    ("head", "claimed"),
    [
        (json.dumps(chat_record("c1", "x")).encode() + b"\n", False),
        # the consumer "Export data" file: conversations with a `mapping`, no workspace
        (b'[{"title": "t", "create_time": 1.0, "update_time": 2.0, "mapping": {}}]', False),
        (b"timestamp,user,prompt\n2026-10-01,u1,hi\n", False),
        (b"", False),
        # a prompt that quotes the marker inside another format's JSON string
        (
            json.dumps(
                chat_record("c2", '{"object": "compliance.workspace.conversation"}')
            ).encode(),
            False,
        ),
        # saved without `object` markers: the conversation's own keys together
        (
            b'{"id": "c", "workspace_id": "w", "user_id": "u", "last_active_at": 1.0, '
            b'"messages": {"data": []}}\n',
            True,
        ),
        (b'\xef\xbb\xbf  [\n {"object": "compliance.workspace.conversation", "id": "c"', True),
    ],
)
def test_sniff_table(head: bytes, claimed: bool) -> None:
    assert reader().sniff(head) is claimed


# -- every sample file, counted ------------------------------------------------------------------

# file -> (loaded, duplicate, rejected, coverage gaps)
COUNTS = {
    "list_page.json": (3, 0, 0, 0),
    "conversations.jsonl": (4, 0, 0, 1),
    "conversations.jsonl.gz": (4, 0, 0, 1),
    "sumo_flattened.jsonl": (3, 0, 0, 0),
    "array.json": (2, 0, 0, 0),
    "incomplete_page.json": (1, 0, 0, 0),
    "pages.jsonl": (2, 0, 0, 0),
    "broken.jsonl": (2, 0, 13, 0),
    "truncated_array.json": (1, 0, 1, 0),
    "truncated_document.json": (0, 0, 1, 0),
    "damaged.jsonl.gz": (2, 0, 1, 1),
}


def test_every_sample_is_counted() -> None:
    assert set(COUNTS) == {p.name for p in SAMPLES.iterdir()}


@pytest.mark.parametrize(("name", "counts"), sorted(COUNTS.items()))
def test_sample_counts(session: Session, name: str, counts: tuple[int, int, int, int]) -> None:
    # A small damaged gzip cannot be sniffed (its head cannot be read): name the format.
    res = ingest(session, SAMPLES / name, FORMAT if name == "damaged.jsonl.gz" else "auto")
    assert (res.loaded, res.duplicate, res.rejected, res.coverage_gaps) == counts
    assert res.total == sum(counts[:3])
    assert session.scalar(select(func.count(Interaction.id))) == counts[0]
    sf = session.scalars(select(SourceFile)).one()
    assert (sf.records_loaded, sf.records_rejected) == (counts[0], counts[2])


# -- field by field ------------------------------------------------------------------------------

C1 = "68cccb0d-6994-8321-8268-5193b8b55c01"
C2 = "7d1c2b3a-aaaa-4bbb-8ccc-0123456789ab"
PROJECT = "g-p-68a29a23af308191a22a206acd7f965a"
WS_ATTRS = {"workspace_id": WS, "account_type": "enterprise_workspace"}

# sample -> event id -> expected columns (attributes compared whole)
EXPECTED: dict[str, dict[str, dict[str, Any]]] = {
    "list_page.json": {
        f"{C1}:b99bae4e-0746-4001-9971-17f8c019d55f": {
            "occurred_at": datetime(2026, 10, 5, 10, 0, 1, 500000),
            "user_id": "user-avcJbusY2W3lkb6aT6aY4gsx",
            "user_email": "ann.lee@northbridge-bank.example",
            "tool": "chatgpt",
            "provider": "openai",
            "model": "gpt-4o",
            "history_turns": 1,  # the system message
            "session_id": C1,
            "workflow": "g_p_68a29a23af308191a22a206acd7f965a",
            "content_status": "present",
            "source_line": 1,
            "has_output": True,
            "attributes": {**WS_ATTRS, "project_id": PROJECT, "files_attached": 1},
        },
        f"{C1}:d4e5f6a7-2222-4b3c-9d4e-000000000003": {
            "occurred_at": datetime(2026, 10, 5, 10, 2, 0),
            "model": "o3",  # the last reply's model
            "history_turns": 4,  # system, user, tool, assistant
            "source_line": 1,
            "attributes": {**WS_ATTRS, "project_id": PROJECT},
        },
        f"{C2}:msg-2": {
            "occurred_at": datetime(2026, 10, 6, 10, 0, 5, 250000),
            "user_id": "user-Qm3kT9pLx2",
            "user_email": None,
            "model": "gpt-4o-mini",
            "history_turns": 1,  # the hidden custom-instructions message
            "workflow": None,
            "source_line": 2,
            "attributes": {
                **WS_ATTRS,
                "gpt_id": "g-68a29a23af308191a22a206acd7f965a",
                "content_type": "multimodal_text",
                "messages_incomplete": True,
            },
        },
    },
    "conversations.jsonl": {
        "0f7d6c5b-0001-4a00-8000-000000000001:0f7d6c5b-0001-4a00-8000-000000000001-u1": {
            "occurred_at": datetime(2026, 10, 7, 10, 0, 0, 500000),
            "user_email": "raj.patel@northbridge-bank.example",
            "model": None,
            "history_turns": 0,
            "content_status": "present",
            "source_line": 1,
            "attributes": WS_ATTRS,
        },
        "0f7d6c5b-0002-4a00-8000-000000000002:0f7d6c5b-0002-4a00-8000-000000000002-u1": {
            "content_status": "not_stored",
            "prompt_text": None,
            "has_output": True,
            "source_line": 2,
        },
        "0f7d6c5b-0003-4a00-8000-000000000003:0f7d6c5b-0003-4a00-8000-000000000003-u1": {
            "content_status": "present",
            "prompt_text": "",
            "user_email": None,
            "source_line": 3,
            "attributes": {**WS_ATTRS, "content_type": "multimodal_text", "empty_prompt": True},
        },
        "0f7d6c5b-0004-4a00-8000-000000000004:0f7d6c5b-0004-4a00-8000-000000000004-u1": {
            "occurred_at": datetime(2026, 10, 7, 7, 0, 0, 250000),  # from +02:00
            "user_id": None,
            "user_email": "li.wei@northbridge-bank.example",
            "source_line": 4,
            "attributes": {**WS_ATTRS, "unknown_fields": ["retention_policy"]},
        },
    },
    "sumo_flattened.jsonl": {
        "5a5a5a5a-0000-4000-8000-00000000000a:aa000001-0000-4000-8000-000000000001": {
            "user_id": "user-Fa1",
            "history_turns": 0,
            "source_line": 1,
            "has_output": True,
            "attributes": {**WS_ATTRS, "flattened": True},
        },
        "5b5b5b5b-0000-4000-8000-00000000000b:bb000001-0000-4000-8000-000000000001": {
            "history_turns": 0,
            "source_line": 2,
            "has_output": True,
            "attributes": {**WS_ATTRS, "gpt_id": "g-fx123", "flattened": True},
        },
        "5a5a5a5a-0000-4000-8000-00000000000a:aa000003-0000-4000-8000-000000000003": {
            "history_turns": 2,
            "source_line": 5,
            "has_output": True,
        },
    },
    "incomplete_page.json": {
        "4c4c4c4c-0001-4000-8000-000000000001:4c4c4c4c-0001-4000-8000-000000000001-u1": {
            "attributes": {**WS_ATTRS, "export_incomplete": True},
        }
    },
    "pages.jsonl": {
        "6d6d6d6d-0001-4000-8000-000000000001:6d6d6d6d-0001-4000-8000-000000000001-u1": {
            "source_line": 1,
            "attributes": WS_ATTRS,  # a second page followed: the export went on
        },
        "6d6d6d6d-0002-4000-8000-000000000002:6d6d6d6d-0002-4000-8000-000000000002-u1": {
            "source_line": 2,
            "attributes": WS_ATTRS,
        },
    },
}


@pytest.mark.parametrize(
    ("name", "event_id", "want"),
    [(n, e, w) for n, events in EXPECTED.items() for e, w in events.items()],
    ids=lambda v: v[-12:] if isinstance(v, str) else "",
)
def test_sample_fields(session: Session, name: str, event_id: str, want: dict[str, Any]) -> None:
    ingest(session, SAMPLES / name)
    got = rows(session)
    assert set(EXPECTED[name]) == set(got)
    row = got[event_id]
    assert row.source_format == FORMAT
    for key, value in want.items():
        if key == "has_output":
            assert (row.output_text is not None) is value, key
        else:
            assert getattr(row, key) == value, key


def test_replies_are_joined_and_tool_messages_skipped(session: Session) -> None:
    ingest(session, SAMPLES / "list_page.json")
    second = rows(session)[f"{C1}:d4e5f6a7-2222-4b3c-9d4e-000000000003"]
    assert second.output_text == (
        "Leverage: 3.2x against a 3.5x limit.\n\nHeadroom is about 8% of EBITDA."
    )
    first = rows(session)[f"{C1}:b99bae4e-0746-4001-9971-17f8c019d55f"]
    assert "Extracted" not in (first.output_text or "")  # the file browser's tool message
    chart = rows(session)[f"{C2}:msg-2"]
    assert chart.prompt_text == "What does this chart say about\ndeposit outflows in Q3?"


def test_gzip_gives_the_same_records(session: Session) -> None:
    ingest(session, SAMPLES / "conversations.jsonl")
    plain = {k: (r.prompt_text, r.occurred_at) for k, r in rows(session).items()}
    res = ingest(session, SAMPLES / "conversations.jsonl.gz")
    assert (res.loaded, res.duplicate) == (0, 4)  # same events, other file
    assert set(plain) == set(rows(session))


# -- rejections ----------------------------------------------------------------------------------

# broken.jsonl line -> reason fragment (None: loaded)
BROKEN = {
    1: None,
    2: "not valid JSON",
    3: "no user identity",
    4: "`user_email` is not text",
    5: "`content.value` is not text",
    6: "timestamp has unsupported type",
    7: "no `created_at`",
    8: "user message has no `id`",
    9: "`messages` is not a list",
    10: "conversation has no user message",
    11: "conversation has no `id`",
    12: "expected a JSON object",
    13: None,  # invalid UTF-8 in the title: kept, repaired, warned
    14: "`content.parts` is not a list",
    15: "longer than 255",
}


def test_broken_lines_are_rejected_alone(session: Session) -> None:
    res = ingest(session, SAMPLES / "broken.jsonl")
    rejected = dict(res.rejections)
    assert set(rejected) == {n for n, why in BROKEN.items() if why}
    for line_no, fragment in BROKEN.items():
        if fragment:
            assert fragment in rejected[line_no], line_no
    assert all("Broken variant" not in why for why in rejected.values())
    assert dict(res.warnings) == {13: "invalid UTF-8 replaced (first at byte 296 of the line)"}
    row = rows(session)[
        "e0e0e0e0-0013-4000-8000-000000000013:e0e0e0e0-0013-4000-8000-000000000013-u1"
    ]
    assert row.attributes["encoding_repaired"] is True
    stored = dict(session.execute(select(IngestRejection.line_no, IngestRejection.reason)).all())
    assert stored == rejected


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("truncated_array.json", (0, "the file ends inside a conversation (truncated)")),
        ("truncated_document.json", (0, "not valid JSON (Unterminated string")),
        ("damaged.jsonl.gz", (0, "compressed stream is damaged (EOFError)")),
    ],
)
def test_truncated_files_say_so(session: Session, name: str, reason: tuple[int, str]) -> None:
    [(line_no, why)] = ingest(session, SAMPLES / name, FORMAT).rejections
    assert line_no == reason[0] and why.startswith(reason[1])


# -- layouts: arrays, documents, pages -----------------------------------------------------------


def test_array_is_streamed_past_the_cap_and_oversized_conversation_rejected_alone(
    session: Session, tmp_path: Path
) -> None:
    convs = [conversation(f"c{i}") for i in range(40)]
    convs[7] = conversation("big", message("big-u", "user", "x" * 5000))
    path = tmp_path / "a.json"
    path.write_text(json.dumps(convs, indent=1))
    assert path.stat().st_size > 4096  # the whole file is far beyond the cap
    res = ingest(session, path, cap=4096)
    assert (res.loaded, res.rejected) == (39, 1)
    assert res.rejections == [(8, "conversation is larger than 4096 bytes")]
    assert rows(session)["c39:c39-u"].source_line == 40


def test_document_over_the_cap_is_rejected_whole(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(page(*[conversation(f"c{i}") for i in range(40)]), indent=2))
    res = ingest(session, path, cap=4096)
    assert (res.loaded, res.rejected) == (0, 1)
    assert res.rejections[0][1].startswith("JSON document is larger than 4096 bytes")


@pytest.mark.parametrize(
    ("body", "loaded", "reasons"),
    [
        # scalars among the conversations
        (
            b'[1, "two", CONV, null]',
            1,
            [
                (1, "expected a conversation object, got int"),
                (2, "expected a conversation object, got str"),
                (4, "expected a conversation object, got NoneType"),
            ],
        ),
        (b"[CONV] trailing", 1, [(0, "unexpected data after the end of the JSON array")]),
        (b"[CONV, ", 1, [(0, "the file ends before the JSON array is closed")]),
        (b"[CONV, {]}]", 1, [(2, "not valid JSON"), (0, "the JSON array is malformed here")]),
        (b"[CONV {}]", 1, [(0, "the JSON array is malformed here")]),
        (b'[CONV, {"a": tru}]', 1, [(2, "not valid JSON (Expecting value")]),
        (b"\xef\xbb\xbf \n [CONV]\n", 1, []),
        (b"[]", 0, []),
        (b"[" + b"[" * 5000 + b"]" * 5000 + b", CONV]", 1, [(1, "JSON nested too deeply")]),
    ],
)
def test_array_edge_cases(
    session: Session,
    tmp_path: Path,
    body: bytes,
    loaded: int,
    reasons: list[tuple[int, str]],
) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(body.replace(b"CONV", json.dumps(conversation("c1")).encode()))
    res = ingest(session, path, FORMAT)
    assert res.loaded == loaded
    assert len(res.rejections) == len(reasons)
    for (line_no, why), (want_no, want) in zip(res.rejections, reasons, strict=True):
        assert line_no == want_no and why.startswith(want), why


def test_deep_nesting_in_a_line_is_rejected_alone(session: Session, tmp_path: Path) -> None:
    deep = '{"object": "compliance.workspace.conversation", "x": ' + "[" * 5000 + "]" * 5000 + "}"
    path = write_jsonl(tmp_path / "d.jsonl", [conversation("c1"), deep, conversation("c2")])
    res = ingest(session, path)
    assert res.rejections == [(2, "JSON nested too deeply")]
    assert res.loaded == 2


@pytest.mark.parametrize(
    ("layout", "flags"),
    [
        # pages of one export, one per line: only a last page saying `has_more` is incomplete
        ("lines", [True, True]),
        ("lines", [True, False]),
        ("lines", [False, True]),
        ("array", [True, True]),
        ("array", [False, False]),
    ],
)
def test_export_incomplete_only_when_the_last_page_says_more(
    session: Session, tmp_path: Path, layout: str, flags: list[bool]
) -> None:
    pages = [page(conversation(f"p{i}"), has_more=more) for i, more in enumerate(flags)]
    path = tmp_path / "pages"
    if layout == "lines":
        write_jsonl(path, pages)
    else:
        path.write_text(json.dumps(pages, indent=2))
    res = ingest(session, path)
    assert res.loaded == len(flags)
    got = rows(session)
    last = len(flags) - 1
    for i, _ in enumerate(flags):
        incomplete = got[f"p{i}:p{i}-u"].attributes.get("export_incomplete", False)
        assert incomplete is (i == last and flags[last])


def test_single_conversation_document(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text(json.dumps(conversation("solo"), indent=4))
    res = ingest(session, path)
    assert res.loaded == 1
    assert rows(session)["solo:solo-u"].source_line == 1


# -- timestamps, identity, content shapes --------------------------------------------------------


@pytest.mark.parametrize(
    ("created_at", "expected"),
    [
        (1791194400.916074, datetime(2026, 10, 5, 10, 0, 0, 916074)),  # the API: float seconds
        (1791194400, datetime(2026, 10, 5, 10, 0, 0)),
        (1791194400123, datetime(2026, 10, 5, 10, 0, 0, 123000)),  # milliseconds
        ("2026-10-05T10:00:00Z", datetime(2026, 10, 5, 10, 0, 0)),
        ("2026-10-05T12:00:00+02:00", datetime(2026, 10, 5, 10, 0, 0)),
        ("1791194400.5", datetime(2026, 10, 5, 10, 0, 0, 500000)),
    ],
)
def test_timestamps(created_at: Any, expected: datetime) -> None:
    turn = _turn(message("m", "user", "x", at=created_at))
    assert cc.normalize_turn(turn, source_format=FORMAT).occurred_at == expected.replace(tzinfo=UTC)


def _turn(msg: dict, **conv: Any) -> dict:
    return cc._conversation_turns(conversation("c", msg, **conv))[0]


SECRET = "4111 1111 1111 1111 for Jane Roe"


@pytest.mark.parametrize(
    ("msg", "conv", "reason"),
    [
        (message("m", "user", SECRET, at="yesterday"), {}, "timestamp is not ISO 8601"),
        (message("m", "user", SECRET, at=True), {}, "timestamp is missing"),
        (message("m", "user", SECRET, at=1e20 * 1e10), {}, "out of range"),
        (message("m", "user", SECRET), {"user_id": None, "user_email": ""}, "no user identity"),
        (message("m", "user", SECRET), {"user_id": ["u"]}, "`user_id` is not text"),
        (message("m", "user", SECRET), {"workspace_id": {"id": 1}}, "`workspace_id` is not text"),
        (message("m", "user", SECRET, project_id=7.5), {}, "`project_id` is not text"),
        (
            message("m", "user", SECRET, metadata={"model_slug": {"n": 1}}),
            {},
            "`metadata.model_slug` is not text",
        ),
        ({**message("m", "user", SECRET), "content": [SECRET]}, {}, "unsupported type list"),
        (
            {**message("m", "user", SECRET), "content": {"text": 3, "value2": SECRET}},
            {},
            "`content.text` is not",
        ),
    ],
)
def test_wrong_values_raise_record_errors(msg: dict, conv: dict, reason: str) -> None:
    with pytest.raises(RecordError) as info:
        cc.normalize_turn(_turn(msg, **conv), source_format=FORMAT)
    assert reason in str(info.value)
    assert SECRET not in str(info.value)


def test_identity_has_no_fallback_from_messages() -> None:
    # A message saved alone (the `/messages` endpoint) names no user: it cannot be attributed.
    msg = message("m", "user", "x", user_email="someone@northbridge-bank.example")
    with pytest.raises(RecordError, match="no user identity"):
        cc.normalize_turn(_turn(msg, user_id=None, user_email=None), source_format=FORMAT)


@pytest.mark.parametrize(
    ("content", "prompt", "status"),
    [
        ({"type": "text", "value": "v"}, "v", "present"),
        ({"content_type": "text", "parts": ["a", "b"]}, "a\nb", "present"),
        ({"content_type": "code", "language": "python", "text": "print(1)"}, "print(1)", "present"),
        (
            {"content_type": "text", "parts": [{"text": "t"}, {"asset_pointer": "p"}]},
            "t",
            "present",
        ),
        ("plain", "plain", "present"),
        ({"type": "text", "value": None}, None, "not_stored"),
        ({"content_type": "text", "parts": None}, None, "not_stored"),
        (None, None, "not_stored"),
        ({"type": "text", "value": "a\x00b\ud800"}, "a b\ufffd", "present"),
    ],
)
def test_content_shapes(content: Any, prompt: str | None, status: str) -> None:
    msg = {**message("m", "user", "x"), "content": content}
    rec = cc.normalize_turn(_turn(msg), source_format=FORMAT)
    assert (rec.prompt_text, rec.content_status) == (prompt, status)


def test_role_at_top_level_and_hidden_context_messages() -> None:
    hidden = {
        "id": "h",
        "role": "user",
        "created_at": 1.0,
        "content": {"content_type": "user_editable_context", "user_instructions": "x"},
    }
    user = {
        "id": "u",
        "role": "user",
        "created_at": 2.0,
        "content": {"content_type": "text", "parts": ["q"]},
    }
    reply = {
        "id": "a",
        "role": "assistant",
        "created_at": 3.0,
        "content": {"content_type": "text", "parts": ["r"]},
    }
    [turn] = cc._conversation_turns(conversation("c", hidden, user, reply))
    rec = cc.normalize_turn(turn, source_format=FORMAT)
    assert (rec.event_id, rec.prompt_text, rec.output_text, rec.history_turns) == (
        "c:u",
        "q",
        "r",
        1,
    )


def test_message_ids_repeat_across_conversations(session: Session, tmp_path: Path) -> None:
    # Community clients number messages per conversation: the event id adds the conversation.
    a = conversation("ca", message("msg-1", "user", "x"))
    b = conversation("cb", message("msg-1", "user", "y"))
    res = ingest(session, write_jsonl(tmp_path / "m.jsonl", [a, b]))
    assert (res.loaded, res.duplicate) == (2, 0)
    assert set(rows(session)) == {"ca:msg-1", "cb:msg-1"}


def test_normalize_refuses_what_records_did_not_build() -> None:
    with pytest.raises(RecordError, match="not a conversation turn"):
        reader().normalize(RawRecord(1, {"message": {}}))


def test_records_are_one_per_user_message(tmp_path: Path) -> None:
    conv = conversation(
        "c",
        message("s", "system", "sys"),
        message("u1", "user", "a"),
        message("a1", "assistant", "b"),
        message("u2", "user", "c"),  # no reply yet
    )
    path = write_jsonl(tmp_path / "c.jsonl", [conv])
    items = list(reader().records(path, max_line_bytes=MAX))
    assert [type(i) for i in items] == [RawRecord, RawRecord]
    recs = [reader().normalize(i) for i in items if not isinstance(i, Rejected)]
    assert [(r.event_id, r.history_turns, r.output_text) for r in recs] == [
        ("c:u1", 1, "b"),
        ("c:u2", 3, None),
    ]


# -- mappings, idempotency -----------------------------------------------------------------------


def test_firm_maps_tool_and_project(session: Session) -> None:
    maps = Mappings.from_maps(
        {"chatgpt": "chatgpt-enterprise"}, {"g_p_68a29a23af308191a22a206acd7f965a": "deal_team"}
    )
    ingest(session, SAMPLES / "list_page.json", mappings=maps)
    got = rows(session)
    assert {r.tool for r in got.values()} == {"chatgpt-enterprise"}
    assert got[f"{C1}:d4e5f6a7-2222-4b3c-9d4e-000000000003"].workflow == "deal_team"
    assert got[f"{C2}:msg-2"].workflow is None


def test_same_file_twice_adds_nothing(session: Session) -> None:
    ingest(session, SAMPLES / "list_page.json")
    [again] = ingest_paths(session, [SAMPLES / "list_page.json"], "auto", max_line_bytes=MAX)
    assert again.already_ingested
    assert session.scalar(select(func.count(Interaction.id))) == 3


def test_same_conversations_in_another_layout_are_duplicates(
    session: Session, tmp_path: Path
) -> None:
    ingest(session, SAMPLES / "list_page.json")
    doc = json.loads((SAMPLES / "list_page.json").read_text())
    lines = write_jsonl(tmp_path / "again.jsonl", doc["data"])  # JSON Lines, one per line
    res = ingest(session, lines)
    assert (res.loaded, res.duplicate, res.rejected) == (0, 3, 0)
    packed = tmp_path / "again.json.gz"
    packed.write_bytes(gzip.compress(json.dumps(doc["data"]).encode()))  # a gzipped array
    res = ingest(session, packed)
    assert (res.loaded, res.duplicate, res.rejected) == (0, 3, 0)


def test_flattened_open_conversations_are_bounded(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cc, "MAX_OPEN_CONVERSATIONS", 2)

    def flat(cid: str, mid: str, role: str) -> dict:
        conv = conversation(cid)
        del conv["messages"]
        return {**conv, "message": message(mid, role, f"{role} text")}

    # Three conversations open at once: the oldest is released before its reply arrives.
    lines = [flat("a", "a1", "user"), flat("b", "b1", "user"), flat("c", "c1", "user")]
    lines += [flat("a", "a2", "assistant"), flat("b", "b2", "assistant")]
    lines += [flat("c", "c2", "assistant")]
    res = ingest(session, write_jsonl(tmp_path / "f.jsonl", lines))
    assert res.loaded == 3
    got = rows(session)
    assert got["a:a1"].output_text is None  # released early: its reply came too late
    assert got["b:b1"].output_text == "assistant text"
    assert got["c:c1"].output_text == "assistant text"
