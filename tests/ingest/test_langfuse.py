"""The Langfuse observations-export reader: sniffing, the three file types, the mapping,
rows that are not interactions (counted by kind, not rejected), the trace-level identity
join, and broken input.

Failures name event ids, lines and fields; asserted reasons never hold prompt text.
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

from auditor.db.models import IngestRejection, Interaction
from auditor.ingest import langfuse
from auditor.ingest.base import RawRecord, Rejected, read_head
from auditor.ingest.langfuse import (
    LangfuseReader,
    cost_of,
    normalize_observation,
    parse_input,
    parse_output,
    tokens_of,
    workflow_of,
)
from auditor.ingest.registry import available, detect_format, get_reader
from auditor.ingest.stage import ingest_paths
from auditor.normalize import RecordError
from tests.conftest import DATA

SAMPLES = DATA / "logs" / "langfuse"
LEGACY = SAMPLES / "legacy"
LEGACY_OBS = LEGACY / "observations" / "2026-10-15T10-00.jsonl"
MAX = 16 * 1024 * 1024
READER = LangfuseReader()


def gen(obs_id: str = "obs-1", **fields: Any) -> dict[str, Any]:
    """One GENERATION row of an enriched export, as JSONL holds it."""
    row: dict[str, Any] = {
        "id": obs_id,
        "trace_id": "trace-" + obs_id,
        "project_id": "p1",
        "environment": "production",
        "type": "GENERATION",
        "start_time": "2026-10-05 09:00:00.000000",
        "input": json.dumps([{"role": "user", "content": "Draft a note."}]),
        "output": json.dumps({"role": "assistant", "content": "Here it is."}),
        "provided_model_name": "gpt-4o",
        "usage_details": {"input": 5, "output": 3, "total": 8},
        "metadata": {},
        "user_id": "u1",
        "session_id": "",
        "trace_name": "assistant",
        "tags": [],
    }
    row.update(fields)
    return row


def write_rows(path: Path, rows: list[dict[str, Any] | str | bytes]) -> Path:
    with path.open("wb") as fh:
        for row in rows:
            if isinstance(row, bytes):
                fh.write(row + b"\n")
            elif isinstance(row, str):
                fh.write(row.encode() + b"\n")
            else:
                fh.write(json.dumps(row).encode() + b"\n")
    return path


def read_all(path: Path, max_bytes: int = MAX) -> list[RawRecord | Rejected]:
    return list(READER.records(path, max_line_bytes=max_bytes))


def ingest_one(session: Session, path: Path, fmt: str = "langfuse"):  # type: ignore[no-untyped-def]
    [res] = ingest_paths(session, [path], fmt, max_line_bytes=MAX)
    return res


def stored(session: Session) -> dict[str, Interaction]:
    return {r.event_id: r for r in session.scalars(select(Interaction))}


# --- registry and sniffing -------------------------------------------------------------------


def test_registered_under_its_name() -> None:
    assert "langfuse" in available()
    assert get_reader("langfuse").name == "langfuse"
    assert "GENERATION" in LangfuseReader.description


JSONL_ROW = json.dumps(gen()).encode()
CSV_HEADER = b"id,trace_id,project_id,environment,type,start_time,end_time,name,input,user_id"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (JSONL_ROW + b"\n", True),
        (b"\xef\xbb\xbf" + JSONL_ROW + b"\n", True),
        (b'{"id": "x", "trace_id": "t", "type": "GEN\n' + JSONL_ROW + b"\n", True),
        (b"[" + JSONL_ROW + b"," + JSONL_ROW + b"]", True),
        (
            CSV_HEADER + b"\r\nobs-1,t1,p1,production,GENERATION,2026-10-05 09:00:00,,,x,u1\r\n",
            True,
        ),
        (b'"id","trace_id","type","start_time"\n', True),
        (JSONL_ROW[:200], True),  # the head may end inside a long first row
        # Not Langfuse observations:
        (b"", False),
        (b'{"request": {"model": "gpt-4o", "messages": []}, "response": {}}\n', False),
        (b'{"id": "t1", "timestamp": "2026-10-05 09:00:00", "name": "x", "user_id": "u"}\n', False),
        (b"id,timestamp,project_id,trace_id,observation_id,name,value,source\n", False),
        (b"id,trace_id,start_time\n", False),  # no `type` column
        (b'{"id": "x", "type": "SPAN", "start_time": "2026-10-05"}\n', False),  # no trace_id
        (b'{"id": "x", "trace_id": "t", "type": "LOG", "start_time": "2026-10-05"}\n', False),
        # The key names only inside a JSON-encoded string value:
        (b'{"input": "{\\"trace_id\\": 1, \\"start_time\\": 2, \\"type\\": \\"SPAN\\"}"}\n', False),
        (b"hello world\n", False),
    ],
)
def test_sniff(head: bytes, expected: bool) -> None:
    assert READER.sniff(head) is expected


def _other_samples() -> list[Path]:
    return sorted(p for p in (DATA / "logs").rglob("*") if p.is_file() and SAMPLES not in p.parents)


@pytest.mark.parametrize("path", _other_samples(), ids=lambda p: str(p.relative_to(DATA)))
def test_sniff_leaves_other_formats_alone(path: Path) -> None:
    assert not READER.sniff(read_head(path))


@pytest.mark.parametrize(
    "path",
    [
        SAMPLES / "observations_v2.jsonl",
        SAMPLES / "observations_v2.csv",
        SAMPLES / "observations_v2.json",
        SAMPLES / "broken.jsonl",
        SAMPLES / "broken.csv",
        LEGACY_OBS,
    ],
    ids=lambda p: p.name,
)
def test_auto_detects_only_langfuse_for_its_samples(path: Path) -> None:
    reader = detect_format(path)  # raises if another reader also claims the file
    assert reader is not None and reader.name == "langfuse"


# --- sample files: exact counts ----------------------------------------------------------------


SPAN = "observations of type SPAN"
JUDGE = "Langfuse evaluator or experiment runs (environment langfuse-llm-as-a-judge)"


@pytest.mark.parametrize(
    ("path", "counts", "rejections", "not_interactions"),
    [
        (
            SAMPLES / "observations_v2.jsonl",
            (11, 9, 1, 1, 2),  # total, loaded, duplicate, rejected, coverage gaps
            {15: "no user identity"},
            # Lines 1 and 11 (SPAN), 4 (EVENT), 12 (Langfuse's own judge).
            {SPAN: 2, "observations of type EVENT": 1, JUDGE: 1},
        ),
        (SAMPLES / "observations_v2.csv", (4, 4, 0, 0, 1), {}, {SPAN: 1}),
        (
            SAMPLES / "observations_v2.json",
            (2, 2, 0, 0, 0),
            {},
            {SPAN: 1, "observations of type TOOL": 1},
        ),
        (LEGACY_OBS, (2, 1, 0, 1, 0), {3: "no user identity"}, {SPAN: 1}),
        (
            SAMPLES / "broken.jsonl",
            (15, 4, 0, 11, 0),
            {
                2: "not valid JSON",
                4: "`user_id` is not text (got dict)",
                5: "`start_time`: timestamp is not ISO 8601 or epoch",
                6: "usage_details.input is not a number",
                7: "no observation `id`",
                8: "no observation `type`",
                9: "expected a JSON object, got list",
                10: "no user identity",
                11: "`usage_details` is not a JSON object",
                12: "total_cost is out of range",
                15: "`provided_model_name` is not text (got list)",
            },
            {SPAN: 1},  # line 13
        ),
        (
            SAMPLES / "broken.csv",
            # Line 4's `say "hi"` (a quote inside an unquoted field) is read as written, as
            # the other CSV readers (auditor.ingest.csvrows) read it.
            (6, 3, 0, 3, 0),
            {
                3: "record has 5 fields, the header has 14",
                5: "`usage_details` is not a JSON object",
                8: "malformed CSV record (not valid CSV (unexpected end of data): "
                "a quote is never closed)",
            },
            {},
        ),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else None,
)
def test_sample_file_counts(
    session: Session,
    path: Path,
    counts: tuple[int, ...],
    rejections: dict[int, str],
    not_interactions: dict[str, int],
) -> None:
    res = ingest_one(session, path, "auto")
    assert (res.total, res.loaded, res.duplicate, res.rejected, res.coverage_gaps) == counts
    assert res.reconciles
    assert res.not_interactions == not_interactions
    # Every row of the file is accounted for: read as a record, or counted as not one.
    rows = sum(1 for item in langfuse.read_rows(path, max_line_bytes=MAX))
    assert res.total + sum(not_interactions.values()) == rows
    got = dict(res.rejections)
    assert set(got) == set(rejections)
    for line_no, fragment in rejections.items():
        assert fragment in got[line_no], line_no
    in_db = dict(session.execute(select(IngestRejection.line_no, IngestRejection.reason)).all())
    assert in_db == got
    assert session.scalar(select(func.count(Interaction.id))) == res.loaded


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (
            SAMPLES / "observations_v2.jsonl",
            "observations_v2.jsonl: read 11 = stored 7 + duplicates 1 + rejected 1"
            " + coverage gaps 2 (reconciles); also read, not interactions: 1 " + JUDGE + ","
            " 1 observations of type EVENT, 2 observations of type SPAN",
        ),
        (
            SAMPLES / "observations_v2.json",
            "observations_v2.json: read 2 = stored 2 + duplicates 0 + rejected 0"
            " + coverage gaps 0 (reconciles); also read, not interactions:"
            " 1 observations of type SPAN, 1 observations of type TOOL",
        ),
        (
            SAMPLES / "broken.csv",
            "broken.csv: read 6 = stored 3 + duplicates 0 + rejected 3"
            " + coverage gaps 0 (reconciles)",
        ),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else None,
)
def test_sample_reconciliation_line(session: Session, path: Path, line: str) -> None:
    assert ingest_one(session, path).reconciliation == line


def test_skipped_rows_store_no_rejections(session: Session) -> None:
    ingest_one(session, SAMPLES / "observations_v2.csv")
    assert session.scalar(select(func.count(IngestRejection.id))) == 0


def test_skipped_counts_are_reset_for_each_file() -> None:
    reader = LangfuseReader()
    list(reader.records(SAMPLES / "observations_v2.jsonl", max_line_bytes=MAX))
    list(reader.records(SAMPLES / "observations_v2.csv", max_line_bytes=MAX))
    assert dict(reader.skipped) == {SPAN: 1}


def test_broken_jsonl_warnings(session: Session) -> None:
    res = ingest_one(session, SAMPLES / "broken.jsonl")
    assert dict(res.warnings) == {
        3: "invalid UTF-8 replaced (first at byte 314 of the line)",
        14: "empty prompt (kept)",
    }
    rows = stored(session)
    assert rows["bad0000000000003"].attributes["encoding_repaired"] is True
    assert "\ufffd" in (rows["bad0000000000003"].prompt_text or "")
    assert rows["bad0000000000014"].prompt_text == ""
    # A lower-case type and an epoch-milliseconds start time are still read.
    assert rows["bad0000000000016"].occurred_at == datetime(2026, 10, 5, 12, 0, 0, 123000)


# --- sample files: field by field -------------------------------------------------------------

SUPPORT = "support-assistant"
JSONL_FIELDS: dict[str, dict[str, Any]] = {
    # A chat with a system message; e-mail, account type and provider from metadata.
    "9b2d4e6f8a0c1e33": {
        "occurred_at": datetime(2026, 10, 5, 9, 14, 3, 512000),
        "user_id": "u10234",
        "user_email": "ann.lee@northbridge-bank.example",
        "tool": SUPPORT,
        "provider": "openai",
        "model": "gpt-4o-2024-08-06",
        "prompt_text": "Draft a short reply to a client asking when their mortgage application "
        "will be decided. Keep it friendly.",
        "output_text": "Dear client, thank you for your patience. Your application is with our "
        "underwriting team and we expect a decision within five working days.",
        "history_turns": 1,
        "input_tokens": 412,
        "output_tokens": 96,
        "cost_usd": 0.00199,
        "session_id": "sess-7c1e",
        "workflow": "client_comm",
        "content_status": "present",
        "attributes": {
            "trace_id": "a1f0c3d2e4b5a6978812345678900001",
            "project_id": "cm3x9n2k40001bank8a7prj01",
            "environment": "production",
            "observation_name": "OpenAI-generation",
            "trace_name": SUPPORT,
            "tags": "workflow:client_comm,desk:retail",
            "account_type": "enterprise_sso",
            "metadata_dropped": 1,  # desk_code: not an allow-listed metadata key
            "metadata_dropped_keys": ["desk_code"],
            "input_shape": "chat",
            "total_tokens": 508,
        },
    },
    # History resent; the last user message in text parts; cached tokens added back.
    "c3e5a7b9d1f30455": {
        "prompt_text": "Summarise that for a morning note,\nin three bullets.",
        "output_text": "- ECB minutes signalled a slower pace of cuts\n- US payrolls beat "
        "expectations\n- Positioning was light into both",
        "history_turns": 3,
        "input_tokens": 1374,
        "output_tokens": 210,
        "cost_usd": 0.00451,
        "provider": "anthropic",
        "workflow": "research",  # a bare tag naming a known workflow
        "tool": "research-copilot",
    },
    # Plain strings; the user id is an e-mail; workflow from metadata; no price: cost unknown.
    "d5a7c9e1f3b50677": {
        "user_id": "Bob.Stone@Northbridge-Bank.example",
        "user_email": "bob.stone@northbridge-bank.example",
        "prompt_text": "Summarise the attached quarterly credit memo in five bullets.",
        "history_turns": 0,
        "cost_usd": None,
        "workflow": "credit_decision",
        "session_id": None,
        "model": "atlas-70b-v3.2",
    },
    # Input with tools; the reply is a tool call only.
    "f6b8d0a2c4e60788": {
        "prompt_text": "Look up the balance on the account ending 4471.",
        "output_text": None,
        "content_status": "present",
        "cost_usd": 0.00042,
    },
    "a7c9e1b3d5f70899": {
        "prompt_text": None,
        "content_status": "not_stored",
        "workflow": "hr_eval",
    },
    "b8d0f2c4e6a809aa": {"prompt_text": None, "output_text": None, "content_status": "redacted"},
    # LangChain: user and session in metadata, messages nested once.
    "c9e1a3d5f7b90abb": {
        "user_id": "u40552",
        "session_id": "sess-lc-77",
        "workflow": "marketing",
        "prompt_text": "Rewrite this paragraph for the quarterly newsletter: our branch opening "
        "hours change in November.",
    },
    # No user on the row: the trace's root span (a later line) names one.
    "d0f2b4e6a8c00bcc": {
        "user_id": "u50001",
        "user_email": "cara.ng@northbridge-bank.example",
        "tool": "branch-faq",
        "workflow": None,
    },
    "a3c5e7b9d1f30eff": {"output_text": None, "workflow": "deal_team", "input_tokens": None},
}


def test_jsonl_sample_fields(session: Session) -> None:
    ingest_one(session, SAMPLES / "observations_v2.jsonl")
    rows = stored(session)
    assert set(rows) == {
        *JSONL_FIELDS,
        "c9e1a3d5f7b90abb",
    }
    for event_id, fields in JSONL_FIELDS.items():
        row = rows[event_id]
        for name, want in fields.items():
            assert getattr(row, name) == want, (event_id, name)
        assert row.source_format == "langfuse"
    assert rows["b8d0f2c4e6a809aa"].attributes["output_redacted"] is True
    assert rows["d0f2b4e6a8c00bcc"].attributes["identity_from"] == "trace"
    assert rows["c9e1a3d5f7b90abb"].attributes["identity_from"] == "metadata"
    assert rows["a3c5e7b9d1f30eff"].attributes["level"] == "ERROR"
    assert rows["f6b8d0a2c4e60788"].attributes["tool_calls"] == "lookup_account"


def test_csv_and_json_sample_fields(session: Session) -> None:
    ingest_one(session, SAMPLES / "observations_v2.csv")
    ingest_one(session, SAMPLES / "observations_v2.json")
    rows = stored(session)
    card = rows["22bb33cc44dd55ee"]
    # Quoted multi-line JSON with doubled quotes inside a CSV field.
    assert card.prompt_text == 'Reply to the client:\n"Why was my card declined, twice?"\nBe brief.'
    assert card.output_text == (
        "We're sorry - the payment was flagged by our fraud checks.\nIt is now cleared."
    )
    assert (card.user_email, card.session_id, card.workflow) == (
        "ann.lee@northbridge-bank.example",
        "sess-csv-1",
        "client_comm",
    )
    assert (card.input_tokens, card.output_tokens, card.cost_usd) == (120, 30, 0.0006)
    plain = rows["33cc44dd55ee66ff"]
    assert plain.prompt_text == "Plain text prompt, with a comma,\nand a second line."
    assert plain.workflow == "research"
    empty = rows["44dd55ee66ff7700"]  # empty CSV fields are nulls
    assert (empty.prompt_text, empty.content_status, empty.input_tokens) == (
        None,
        "not_stored",
        None,
    )
    assert rows["55ee66ff77008811"].user_id == "u40552"
    assert rows["55ee66ff77008811"].workflow == "internal_drafting"
    # JSON: brackets, braces and backslashes inside strings do not split the array.
    basel = rows["7700881199aa0033"]
    assert basel.prompt_text == (
        "Find the latest Basel III endgame capital proposal dates. [sic] {braces} \\ backslash"
    )
    assert rows["99aa00bb11cc2255"].output_text == "Two sentences of summary."
    assert rows["99aa00bb11cc2255"].occurred_at == datetime(2026, 10, 14, 8, 0, 6, 100000)


def test_legacy_export_takes_user_and_trace_context_from_the_traces_file(
    session: Session,
) -> None:
    results = ingest_paths(session, [LEGACY], "auto", max_line_bytes=MAX)
    by_folder = {r.path.parent.name: r for r in results}
    # The traces file itself is not an observations export.
    assert by_folder["traces"].skipped and by_folder["traces"].total == 0
    assert by_folder["observations"].loaded == 1
    row = stored(session)["bb11cc22dd33ee44"]
    assert (row.user_id, row.session_id, row.tool, row.workflow) == (
        "u60003",
        "sess-leg-1",
        "workplace-assistant",
        "internal_drafting",
    )
    assert row.attributes["identity_from"] == "trace"


def test_legacy_observations_alone_have_no_identity(session: Session, tmp_path: Path) -> None:
    lone = tmp_path / "observations" / LEGACY_OBS.name
    lone.parent.mkdir()
    lone.write_bytes(LEGACY_OBS.read_bytes())
    res = ingest_one(session, lone)
    assert (res.loaded, res.rejected, res.not_interactions) == (0, 2, {SPAN: 1})
    assert sum("no user identity" in why for _, why in res.rejections) == 2


# --- idempotency and overlapping export windows ----------------------------------------------


def test_same_file_twice_adds_nothing(session: Session) -> None:
    first = ingest_one(session, SAMPLES / "observations_v2.jsonl", "auto")
    again = ingest_one(session, SAMPLES / "observations_v2.jsonl", "auto")
    assert first.loaded == 9 and again.already_ingested
    assert session.scalar(select(func.count(Interaction.id))) == 9


def test_next_window_repeating_rows_gives_duplicates(session: Session, tmp_path: Path) -> None:
    # Adjacent export windows share an inclusive boundary: the same rows again, other bytes.
    ingest_one(session, SAMPLES / "observations_v2.jsonl")
    window = tmp_path / "next-window.jsonl"
    window.write_bytes(b"\n" + (SAMPLES / "observations_v2.jsonl").read_bytes())
    res = ingest_one(session, window)
    assert (res.loaded, res.duplicate, res.rejected) == (0, 10, 1)
    assert res.rejections[0][0] == 16  # the blank first line moves every row down one
    assert res.not_interactions == {SPAN: 2, "observations of type EVENT": 1, JUDGE: 1}
    assert res.reconciles


# --- gzip -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "loaded"),
    [("observations_v2.jsonl", 9), ("observations_v2.csv", 4), ("observations_v2.json", 2)],
)
def test_gzip_files_read_like_plain_ones(
    session: Session, tmp_path: Path, name: str, loaded: int
) -> None:
    packed = tmp_path / (name + ".gz")
    packed.write_bytes(gzip.compress((SAMPLES / name).read_bytes()))
    assert detect_format(packed).name == "langfuse"  # type: ignore[union-attr]
    res = ingest_one(session, packed, "auto")
    assert res.loaded == loaded and res.reconciles


@pytest.mark.parametrize("name", ["observations_v2.jsonl", "observations_v2.csv"])
def test_damaged_gzip_keeps_what_was_read(session: Session, tmp_path: Path, name: str) -> None:
    body = (SAMPLES / name).read_bytes() * 40  # long enough that the cut falls late
    packed = gzip.compress(body)
    cut = tmp_path / (name + ".gz")
    cut.write_bytes(packed[: len(packed) * 3 // 4])
    items = read_all(cut)
    damage = [i for i in items if isinstance(i, Rejected) and i.line_no == 0]
    assert len(damage) == 1 and "compressed stream is damaged" in damage[0].reason
    assert sum(isinstance(i, RawRecord) for i in items) > 10
    assert detect_format(cut).name == "langfuse"  # type: ignore[union-attr]


# --- broken input, built here ------------------------------------------------------------------


def test_deep_nesting(tmp_path: Path) -> None:
    deep_line = "[" * 100_000 + "]" * 100_000
    deep_input = gen("deep-input", input="[" * 100_000 + "]" * 100_000)
    path = write_rows(tmp_path / "deep.jsonl", [gen("ok"), deep_line, deep_input])
    items = read_all(path)
    assert [type(i).__name__ for i in items] == ["RawRecord", "Rejected", "RawRecord"]
    assert "JSON nested too deeply" in items[1].reason  # type: ignore[union-attr]
    # Deeply nested JSON inside the input string is kept as the text it is.
    rec = READER.normalize(items[2])  # type: ignore[arg-type]
    assert rec.prompt_text is not None and len(rec.prompt_text) == 200_000
    assert rec.attributes["input_shape"] == "text"  # not readable as JSON: kept as text


def test_huge_prompt_loads_and_overlong_records_are_rejected(
    session: Session, tmp_path: Path
) -> None:
    big = "lorem ipsum " * 400_000  # ~4.8 MB
    rows = [gen("big-1", input=big), gen("ok-2")]
    path = write_rows(tmp_path / "big.jsonl", rows)  # type: ignore[arg-type]
    res = ingest_one(session, path)
    assert res.loaded == 2
    assert len(stored(session)["big-1"].prompt_text or "") == len(big)

    one_mb = 1024 * 1024
    as_json = tmp_path / "big.json"
    as_json.write_text(json.dumps(rows), encoding="utf-8")
    items = list(READER.records(as_json, max_line_bytes=one_mb))
    assert (
        isinstance(items[0], Rejected)
        and items[0].reason == f"record is longer than {one_mb} bytes"
    )
    assert isinstance(items[1], RawRecord) and items[1].obj["id"] == "ok-2"

    as_csv = tmp_path / "big.csv"
    as_csv.write_text(
        "id,trace_id,type,start_time,input,user_id\n"
        f'big-1,t1,GENERATION,2026-10-05 09:00:00,"{big}\nmore",u1\n'
        "ok-2,t2,GENERATION,2026-10-05 09:00:00,hello,u1\n",
        encoding="utf-8",
    )
    items = list(READER.records(as_csv, max_line_bytes=one_mb))
    # The over-long line is rejected on its own, then the rest of its field up to the next
    # line that parses as a row (auditor.ingest.csvrows).
    assert [(i.line_no, type(i).__name__) for i in items] == [
        (2, "Rejected"),
        (3, "Rejected"),
        (4, "RawRecord"),
    ]


@pytest.mark.parametrize(
    ("text", "expected", "spans"),
    [
        (
            '[{"id":"a","trace_id":"t","type":"GENERATION"',
            [(1, "the file ends inside a record (truncated)")],
            0,
        ),
        (
            '[{"id":"a","type":"SPAN","trace_id":"t"}',
            [(2, "the file ends before the JSON array is closed")],
            1,
        ),
        (
            '[{"id":"a","type":"SPAN","trace_id":"t"} {"id":"b"}]',
            [(2, "the JSON array is malformed here")],
            1,
        ),
        (
            '[1, "x", {"id":"a","type":"SPAN","trace_id":"t"}]',
            [(1, "expected a JSON object, got int"), (2, "expected a JSON object, got str")],
            1,
        ),
        ('[{"id": "a", "trace_id": tru}]', [(1, "not valid JSON")], 0),
        ("[ ]", [], 0),
        ("\ufeff[]", [], 0),
    ],
)
def test_json_array_damage(
    tmp_path: Path, text: str, expected: list[tuple[int, str]], spans: int
) -> None:
    path = tmp_path / "a.json"
    path.write_text(text, encoding="utf-8")
    reader = LangfuseReader()
    items = list(reader.records(path, max_line_bytes=MAX))
    assert all(isinstance(i, Rejected) for i in items)
    assert [
        (i.line_no, i.reason[: len(why)]) for i, (_, why) in zip(items, expected, strict=True)
    ] == expected  # type: ignore[union-attr]
    assert dict(reader.skipped) == ({SPAN: spans} if spans else {})


def test_json_array_element_split_across_read_chunks(tmp_path: Path) -> None:
    # Escapes and quotes at every offset around the 64 KiB read boundary.
    rows = [
        gen(f"c{i}", input="x" * (langfuse.CHUNK - 300 + i) + '\\"[{}]"\\')
        for i in range(0, 600, 37)
    ]
    path = tmp_path / "chunks.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    items = read_all(path)
    assert [i.obj["id"] for i in items if isinstance(i, RawRecord)] == [r["id"] for r in rows]
    assert [i.obj["input"] for i in items if isinstance(i, RawRecord)] == [r["input"] for r in rows]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7])
def test_json_array_with_tiny_reads_splits_at_every_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(langfuse, "CHUNK", chunk)
    rows = [
        gen("a", input=json.dumps([{"role": "user", "content": 'say "hi" \\ [x] {y},'}])),
        gen("b", input="ends with a backslash \\", metadata={"k": [{"x": "}"}, {"y": "]"}]}),
        gen("c", output='""', tags=["workflow:research", "a,b"]),
    ]
    path = tmp_path / "tiny.json"
    path.write_text(" [ " + " , ".join(json.dumps(r) for r in rows) + " ] ", encoding="utf-8")
    items = read_all(path)
    assert [i.obj for i in items if isinstance(i, RawRecord)] == rows


def test_csv_with_bom_crlf_and_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(
        b"\xef\xbb\xbfid,trace_id,type,start_time,input,user_id\r\n"
        b'a,t1,GENERATION,2026-10-05 09:00:00,"two\r\nlines",u1\r\n'
        b"b,t2,GENERATION,2026-10-05 09:00:00,caf\xe9,u1\r\n"
        b"\r\n"
    )
    items = read_all(path)
    assert [i.line_no for i in items] == [2, 4]
    assert items[0].obj["input"] == "two\r\nlines"  # type: ignore[union-attr]
    assert items[1].notes == ("invalid UTF-8 replaced (line 4, first at byte 39)",)  # type: ignore[union-attr]


def test_csv_without_an_observation_header_stops(tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    path.write_text("id,timestamp,trace_id,name,value\ns1,2026-10-05 09:00:00,t,x,1\n")
    assert [(i.line_no, i.reason) for i in read_all(path)] == [  # type: ignore[union-attr]
        (1, "no Langfuse observation header; reading stopped")
    ]


def test_empty_file_has_no_records(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"\n\n")
    assert read_all(path) == []


# --- what is not an interaction, and identity --------------------------------------------------


@pytest.mark.parametrize(
    ("row", "kind"),
    [
        (gen("x", type="SPAN"), SPAN),
        (gen("x", type="span"), SPAN),  # counted with its upper-case kin
        (gen("x", type="EMBEDDING"), "observations of type EMBEDDING"),
        (gen("x", type="<b>odd type</b>"), "observations of an unrecognised type"),
        (
            gen("x", environment="langfuse-prompt-experiment"),
            "Langfuse evaluator or experiment runs (environment langfuse-prompt-experiment)",
        ),
        (
            gen("x", environment="langfuse judge: odd"),
            "Langfuse evaluator or experiment runs (environment langfuse-…)",
        ),
        (
            {"id": "t1", "timestamp": "2026-10-05 09:00:00", "name": "x", "user_id": "u"},
            "trace rows (used only to find users)",
        ),
    ],
)
def test_rows_that_are_not_interactions_are_counted_not_rejected(
    session: Session, tmp_path: Path, row: dict[str, Any], kind: str
) -> None:
    path = write_rows(tmp_path / "s.jsonl", [gen("ok"), row, row])
    res = ingest_one(session, path)
    assert (res.total, res.loaded, res.rejected) == (1, 1, 0) and res.reconciles
    assert res.not_interactions == {kind: 2}
    assert res.reconciliation.endswith(f"; also read, not interactions: 2 {kind}")
    assert session.scalar(select(func.count(IngestRejection.id))) == 0


@pytest.mark.parametrize("kind", [None, 7])
def test_row_without_a_type_is_rejected(session: Session, tmp_path: Path, kind: Any) -> None:
    path = write_rows(tmp_path / "s.jsonl", [gen("ok"), gen("x", type=kind)])
    res = ingest_one(session, path)
    assert (res.loaded, res.rejected, res.not_interactions) == (1, 1, {})
    assert res.rejections == [(2, "no observation `type`")]


@pytest.mark.parametrize(
    ("fields", "user_id", "user_email", "source"),
    [
        ({"user_id": "u77"}, "u77", None, None),
        ({"user_id": 12345}, "12345", None, None),
        ({"user_id": "Ann.Lee@Bank.example"}, "Ann.Lee@Bank.example", "ann.lee@bank.example", None),
        ({"user_id": "", "metadata": {"langfuse_user_id": "u9"}}, "u9", None, "metadata"),
        ({"user_id": None, "metadata": {"user.id": "u8"}}, "u8", None, "metadata"),
        ({"user_id": "", "metadata": {"trace_user_id": "u7"}}, "u7", None, "metadata"),
        (
            {"user_id": "", "metadata": json.dumps({"email": "X@Bank.example"})},
            None,
            "x@bank.example",
            "metadata",
        ),
        (
            {"user_id": "u1", "metadata": {"user_email": "A@B.example"}},
            "u1",
            "a@b.example",
            None,
        ),
    ],
)
def test_identity(
    fields: dict[str, Any], user_id: str | None, user_email: str | None, source: str | None
) -> None:
    rec = normalize_observation(gen(**fields), source_format="langfuse")
    assert (rec.user_id, rec.user_email) == (user_id, user_email)
    assert rec.attributes.get("identity_from") == source


@pytest.mark.parametrize(
    "fields",
    [
        {"user_id": ""},
        {"user_id": None, "metadata": {"user_api_key_user_id": "key-owner"}},  # not the user
        {"user_id": "", "metadata": "not json"},
    ],
)
def test_no_identity_is_rejected(fields: dict[str, Any]) -> None:
    with pytest.raises(RecordError, match="no user identity"):
        normalize_observation(gen(**fields), source_format="langfuse")


def test_trace_level_user_joins_in_either_order(session: Session, tmp_path: Path) -> None:
    def span(obs_id: str, trace: str, **fields: Any) -> dict[str, Any]:
        return gen(obs_id, trace_id=trace, type="SPAN", user_id="", **fields)

    rows: list[dict[str, Any] | str | bytes] = [
        span("s1", "T1", metadata={"user_id": "early"}, session_id="sess-1", tags=["research"]),
        gen("g1", trace_id="T1", user_id="", trace_name=""),
        gen("g2", trace_id="T2", user_id=""),
        span("s2", "T2", metadata={"langfuse_user_id": "late"}),
        gen("g3", trace_id="T3", user_id=""),  # nobody in T3
        gen("g4", trace_id="T2", user_id="own"),  # its own user wins
    ]
    res = ingest_one(session, write_rows(tmp_path / "j.jsonl", rows))
    assert (res.loaded, res.rejected) == (3, 1) and res.reconciles
    assert res.not_interactions == {SPAN: 2}
    assert [n for n, why in res.rejections if "no user identity" in why] == [5]
    got = stored(session)
    assert (got["g1"].user_id, got["g1"].session_id, got["g1"].workflow) == (
        "early",
        "sess-1",
        "research",
    )
    assert got["g2"].user_id == "late" and got["g4"].user_id == "own"
    assert got["g1"].source_line == 2 and got["g2"].source_line == 3


def test_held_back_generations_are_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(langfuse, "MAX_PENDING", 1)
    path = write_rows(
        tmp_path / "c.jsonl",
        [
            gen("a", user_id=""),
            gen("b", user_id=""),
            gen("c", trace_id="trace-a", type="SPAN", user_id="", metadata={"user_id": "u"}),
        ],
    )
    items = read_all(path)
    raws = {
        i.obj["id"] if isinstance(i.obj, dict) else i.obj.row["id"]: i
        for i in items
        if isinstance(i, RawRecord)
    }
    assert READER.normalize(raws["a"]).user_id == "u"  # held back and joined
    with pytest.raises(RecordError, match="no user identity"):
        READER.normalize(raws["b"])  # over the cap: passed on as it is


# --- the mapping, piece by piece ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-10-05 09:14:03.512000", datetime(2026, 10, 5, 9, 14, 3, 512000, tzinfo=UTC)),
        ("2026-10-05 09:14:03.512", datetime(2026, 10, 5, 9, 14, 3, 512000, tzinfo=UTC)),
        ("2026-10-05 09:14:03", datetime(2026, 10, 5, 9, 14, 3, tzinfo=UTC)),
        ("2026-10-05 09:14:03.512000123", datetime(2026, 10, 5, 9, 14, 3, 512000, tzinfo=UTC)),
        ("2026-10-05 09:14:03.512000 UTC", datetime(2026, 10, 5, 9, 14, 3, 512000, tzinfo=UTC)),
        ("2026-10-05T09:14:03.512Z", datetime(2026, 10, 5, 9, 14, 3, 512000, tzinfo=UTC)),
        ("2026-10-05T11:14:03+02:00", datetime(2026, 10, 5, 9, 14, 3, tzinfo=UTC)),
        (1791199243512, datetime(2026, 10, 5, 11, 20, 43, 512000, tzinfo=UTC)),
        ("1791199243", datetime(2026, 10, 5, 11, 20, 43, tzinfo=UTC)),
    ],
)
def test_start_time_styles(value: Any, expected: datetime) -> None:
    rec = normalize_observation(gen(start_time=value), source_format="langfuse")
    assert rec.occurred_at == expected


@pytest.mark.parametrize("value", ["yesterday", "", None, "2026-13-01 00:00:00", {"a": 1}, True])
def test_bad_start_time_is_rejected(value: Any) -> None:
    with pytest.raises(RecordError, match="`start_time`"):
        normalize_observation(gen(start_time=value), source_format="langfuse")


def _msgs(*pairs: tuple[str, Any]) -> list[dict[str, Any]]:
    return [{"role": role, "content": content} for role, content in pairs]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, (None, 0, "absent")),
        ("", (None, 0, "absent")),
        ("Plain question?", ("Plain question?", 0, "text")),
        ("[Draft] not JSON", ("[Draft] not JSON", 0, "text")),
        (json.dumps("a JSON string"), ("a JSON string", 0, "text")),
        (json.dumps(_msgs(("user", "hi"))), ("hi", 0, "chat")),
        (
            _msgs(("system", "s"), ("user", "one"), ("assistant", "a"), ("user", "two")),
            ("two", 3, "chat"),
        ),
        (json.dumps([_msgs(("human", "nested"))]), ("nested", 0, "chat")),
        (
            json.dumps({"messages": _msgs(("user", "with tools")), "tools": []}),
            ("with tools", 0, "chat"),
        ),
        (
            json.dumps(
                _msgs(
                    (
                        "user",
                        [
                            {"type": "text", "text": "a"},
                            {"type": "image_url"},
                            {"type": "text", "text": "b"},
                        ],
                    )
                )
            ),
            ("a\nb", 0, "chat"),
        ),
        (
            json.dumps(_msgs(("user", {"type": "text", "text": "obj part"}))),
            ("obj part", 0, "chat"),
        ),
        (json.dumps(_msgs(("system", "only system"))), (None, 0, "no_user_message")),
        (
            json.dumps({"question": "What is DORA?", "context": "..."}),
            ("What is DORA?", 0, "object"),
        ),
        (json.dumps({"a": 1, "b": [2]}), ('{"a": 1, "b": [2]}', 0, "json")),
        ({"a": 1}, ('{"a": 1}', 0, "json")),
        (json.dumps(["one", "two"]), ("one\ntwo", 0, "text")),
        (42, ("42", 0, "json")),
        ('{"broken": ', ('{"broken": ', 0, "text")),
    ],
)
def test_parse_input(value: Any, expected: tuple[str | None, int, str]) -> None:
    assert parse_input(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("plain", "plain"),
        (json.dumps({"role": "assistant", "content": "msg"}), "msg"),
        (json.dumps({"role": "assistant", "content": ""}), None),
        (json.dumps({"role": "assistant", "content": None, "tool_calls": [{}]}), None),
        (
            json.dumps(
                {"choices": [{"message": {"content": "c1"}}, {"message": {"content": "c2"}}]}
            ),
            "c1\n\nc2",
        ),
        (json.dumps([{"type": "text", "text": "part"}]), "part"),
        (
            json.dumps({"role": "assistant", "content": [{"type": "text", "text": "anthropic"}]}),
            "anthropic",
        ),
        (json.dumps(_msgs(("assistant", "m1"), ("assistant", "m2"))), "m1\n\nm2"),
        (json.dumps({"completion": "done"}), "done"),
        (json.dumps({"score": 1}), '{"score": 1}'),
        (json.dumps("quoted"), "quoted"),
    ],
)
def test_parse_output(value: Any, expected: str | None) -> None:
    assert parse_output(value) == expected


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({}, (None, None, None)),
        ({"input": 10, "output": 5, "total": 15}, (10, 5, 15)),
        # Langfuse's convention: cache and reasoning kept apart, the total is the sum of all.
        ({"input": 10, "input_cached_tokens": 90, "output": 5, "total": 105}, (100, 5, 105)),
        (
            {
                "input": 10,
                "cache_read_input_tokens": 4,
                "output": 5,
                "output_reasoning_tokens": 7,
                "total": 26,
            },
            (14, 12, 26),
        ),
        # A total that does not add up: the parts were inside input/output already.
        ({"input": 100, "input_cached_tokens": 90, "output": 5, "total": 105}, (100, 5, 105)),
        ({"input_tokens": 7, "output_tokens": 2}, (7, 2, None)),
        ({"prompt_tokens": "7", "completion_tokens": 2.0}, (7, 2, None)),
        ({"total": 9}, (None, None, 9)),
    ],
)
def test_tokens(usage: dict[str, Any], expected: tuple[int | None, ...]) -> None:
    assert tokens_of(usage) == expected


@pytest.mark.parametrize(
    "usage", [{"input": -1}, {"input": "many"}, {"output": True}, {"input": 10**30}]
)
def test_bad_token_counts_are_rejected(usage: dict[str, Any]) -> None:
    with pytest.raises(RecordError, match="usage_details"):
        tokens_of(usage)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"total_cost": 0.5, "cost_details": {"input": 0.2, "output": 0.3}}, 0.5),
        ({"total_cost": "0.25"}, 0.25),  # CSV text
        ({"total_cost": 0, "cost_details": {}}, None),  # no price known: unknown, not free
        ({"total_cost": None, "cost_details": {"input": 0.1, "output": 0.2}}, pytest.approx(0.3)),
        ({"total_cost": 0, "cost_details": {"input": 0, "output": 0}}, 0.0),
        ({"total_cost": None, "cost_details": json.dumps({"total": 0.4, "input": 0.1})}, 0.4),
    ],
)
def test_cost(fields: dict[str, Any], expected: Any) -> None:
    assert cost_of(fields) == expected


@pytest.mark.parametrize(
    ("metadata", "tags", "expected"),
    [
        ({"workflow": "Client Comm"}, ["workflow:research"], "client_comm"),
        ({}, ["team-x", "workflow:deal-team"], "deal_team"),
        ({}, ["workflow = HR-Eval"], "hr_eval"),
        ({}, ["desk:fx", "Coding"], "coding"),
        ({}, ["desk:fx", "prod"], None),
        ({}, ["workflow:custom-flow"], "custom_flow"),  # unknown names are kept (workflow_map)
        ({"workflow": ""}, [], None),
    ],
)
def test_workflow(metadata: dict[str, Any], tags: list[str], expected: str | None) -> None:
    assert workflow_of(metadata, tags) == expected


def test_tags_and_metadata_as_json_text_like_csv() -> None:
    rec = normalize_observation(
        gen(
            tags=json.dumps(["workflow:marketing"]),
            metadata=json.dumps({"tool": "Copilot Chat", "session_id": "s-9", "provider": "azure"}),
            session_id=None,
            usage_details=json.dumps({"input": 3, "output": 4}),
            prompt_version="3",
        ),
        source_format="langfuse",
    )
    assert (rec.workflow, rec.tool, rec.session_id, rec.provider) == (
        "marketing",
        "Copilot Chat",
        "s-9",
        "azure",
    )
    assert (rec.input_tokens, rec.output_tokens) == (3, 4)
    assert rec.attributes["prompt_version"] == "3"


def test_attributes_keep_allow_listed_metadata_only_and_name_unknown_columns() -> None:
    rec = normalize_observation(
        gen(
            metadata={
                "department": "FX-7",
                "human_reviewed": True,
                "desk": "FX-7",
                "note": "Client John Smith called about his overdraft",
                "nested": {"k": "v"},
                "user_email": "a@b.example",
            },
            customer_column="secret value",
        ),
        source_format="langfuse",
    )
    assert rec.attributes["department"] == "FX-7" and rec.attributes["human_reviewed"] is True
    assert not {"desk", "note", "nested"} & rec.attributes.keys()
    assert rec.attributes["metadata_dropped"] == 3
    assert rec.attributes["metadata_dropped_keys"] == ["desk", "nested", "note"]
    assert "user_email" not in rec.attributes  # identity is a field, not an attribute
    assert rec.attributes["unknown_fields"] == ["customer_column"]
    assert "secret value" not in json.dumps(rec.attributes)
    assert "John" not in json.dumps(rec.attributes)


def test_io_group_not_exported_is_a_coverage_gap() -> None:
    row = gen()
    del row["input"], row["output"]
    rec = normalize_observation(row, source_format="langfuse")
    assert (rec.content_status, rec.prompt_text, rec.attributes["io_exported"]) == (
        "not_stored",
        None,
        False,
    )


@pytest.mark.parametrize(
    "masked",
    ["[REDACTED]", "<redacted>", "***", "  Masked ", "<fully masked due to failed mask function>"],
)
def test_masked_input_is_redacted(masked: str) -> None:
    rec = normalize_observation(gen(input=masked), source_format="langfuse")
    assert (rec.content_status, rec.prompt_text) == ("redacted", None)


def test_partly_masked_input_is_content() -> None:
    rec = normalize_observation(
        gen(input="Call [REDACTED] about the loan"), source_format="langfuse"
    )
    assert (rec.content_status, rec.prompt_text) == ("present", "Call [REDACTED] about the loan")


def test_rejection_reasons_never_quote_content(session: Session, tmp_path: Path) -> None:
    secret = "4111 1111 1111 1111 belongs to Jane"
    rows: list[dict[str, Any] | str | bytes] = [
        gen("a", input=secret, start_time=secret),
        gen("b", user_id={"name": secret}),
        gen("c", usage_details={"input": secret}),
        gen("d", provided_model_name={"m": secret}),
        gen("e", type=secret),
        gen("f", environment="langfuse " + secret),
        '{"id": "g", "input": "' + secret,
    ]
    res = ingest_one(session, write_rows(tmp_path / "x.jsonl", rows))
    assert res.rejected == 5
    assert res.not_interactions == {
        "observations of an unrecognised type": 1,
        "Langfuse evaluator or experiment runs (environment langfuse-…)": 1,
    }
    said = [why for _, why in res.rejections] + list(res.not_interactions)
    assert all("4111" not in why and "Jane" not in why for why in said)
