from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auditor.db.models import IngestRejection, Interaction
from auditor.ingest.base import read_head
from auditor.ingest.export import export_interactions
from auditor.ingest.generic_csv import GenericCsvReader, column_key, delimiter_of, map_header
from auditor.ingest.registry import available, detect_format, get_reader
from auditor.ingest.stage import DEFAULT_LIMITS, FileResult, IngestLimits, ingest_paths
from auditor.normalize import RecordError
from tests.conftest import DATA, chat_record, write_jsonl

SAMPLES = DATA / "logs" / "generic_csv"
MAX = 16 * 1024 * 1024
READER = GenericCsvReader()
HEADER = ["event_id", "occurred_at", "user_id", "user_email", "prompt_text", "content_status"]


def ingest(
    session: Session,
    path: Path,
    fmt: str = "csv",
    limit: int = MAX,
    limits: IngestLimits = DEFAULT_LIMITS,
) -> FileResult:
    [res] = ingest_paths(session, [path], fmt, max_line_bytes=limit, limits=limits)
    assert res.skipped is None
    return res


def counts(res: FileResult) -> tuple[int, int, int, int, int]:
    return (res.total, res.loaded, res.duplicate, res.rejected, res.coverage_gaps)


def stored(session: Session) -> dict[str, Interaction]:
    return {r.event_id: r for r in session.scalars(select(Interaction))}


def csv_file(path: Path, header: list[str], rows: list[list[str]], **fmt: Any) -> Path:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n", **fmt)
    out.writerow(header)
    out.writerows(rows)
    path.write_bytes(buf.getvalue().encode())
    return path


def one_row(tmp_path: Path, **cells: str) -> Path:
    """A file with one row: a valid base row with `cells` replaced or added."""
    base = {
        "event_id": "r-1",
        "occurred_at": "2026-10-05T10:00:00Z",
        "user_id": "u00001",
        "user_email": "",
        "prompt_text": "Draft a note.",
        "content_status": "",
    }
    base.update(cells)
    return csv_file(tmp_path / "one.csv", list(base), [list(base.values())])


# -- registry and detection -----------------------------------------------------------------


def test_registered_as_csv() -> None:
    assert "csv" in available()
    assert get_reader("csv").name == "csv"


@pytest.mark.parametrize(
    ("name", "detected"),
    [
        ("good.csv", "csv"),
        ("aliases_semicolon.csv", "csv"),
        ("broken.csv", "csv"),
        ("bad_header.csv", None),  # no `occurred_at` column: not claimed
    ],
)
def test_samples_are_detected(name: str, detected: str | None) -> None:
    reader = detect_format(SAMPLES / name)
    assert (reader.name if reader else None) == detected


LITELLM_HEADER = (
    b"request_id,call_type,api_key,spend,total_tokens,prompt_tokens,completion_tokens,"
    b"startTime,endTime,model,user,metadata,end_user,messages,response,session_id,status\n"
    b"chatcmpl-1,acompletion,hashed,0.01,10,5,5,2026-10-05 10:00:00,2026-10-05 10:00:01,"
    b'gpt-4o,u1,"{}",,"{}","{}",,success\n'
)
LANGFUSE_OBSERVATIONS = (
    b"id,trace_id,project_id,environment,type,parent_observation_id,name,start_time,end_time,"
    b"input,output,metadata,provided_model_name,usage_details,total_cost,user_id,session_id,"
    b"trace_name,tags\n"
)
LANGFUSE_TRACES = b"id,timestamp,name,user_id,session_id,input,output,metadata,tags,release\n"


@pytest.mark.parametrize(
    ("head", "claimed"),
    [
        (b"event_id,occurred_at,user_id\n", True),
        (b"\xef\xbb\xbf\r\n\r\nevent_id,occurred_at,user_email,prompt_text\r\n", True),
        (b"Event ID;Timestamp;Email;Prompt\n", True),
        (b"eventId\toccurredAt\tuserId\n", True),
        (b'"event_id","occurred_at","user","prompt"\n', True),
        (b"event_id,timestamp,email,notes\nx,1791194400,a@b.example,note\n", True),
        (LITELLM_HEADER, False),
        (LANGFUSE_OBSERVATIONS, False),
        (LANGFUSE_TRACES, False),
        (b"id,occurred_at,user_id,prompt_text\n", False),  # `event_id` itself is required
        (b"event_id,user_id,prompt_text\n", False),  # no time
        (b"event_id,occurred_at,prompt_text\n", False),  # no user
        (b'{"event_id": "x", "occurred_at": "2026-10-05", "user_id": "u"}\n', False),
        (b'[{"event_id":1,"occurred_at":2,"user_id":3}]', False),
        (b"The event_id, occurred_at and user_id of each call are logged here.\n", False),
        (b"event_id,occurred_at,user_id,{bad name}\n", False),
        (b"", False),
        (b"\n\n", False),
    ],
)
def test_sniff(head: bytes, claimed: bool) -> None:
    assert READER.sniff(head) is claimed


def _other_samples() -> list[Path]:
    return sorted(
        p
        for p in DATA.rglob("*")
        if p.is_file()
        and SAMPLES not in p.parents
        and p.suffix in {".jsonl", ".json", ".csv", ".gz"}
    )


@pytest.mark.parametrize("path", _other_samples(), ids=lambda p: str(p.relative_to(DATA)))
def test_sniff_does_not_claim_other_samples(path: Path) -> None:
    assert not READER.sniff(read_head(path))


@pytest.mark.parametrize(
    ("line", "delimiter"),
    [
        ("event_id,occurred_at,user_id", ","),
        ("event_id;occurred_at;user_id", ";"),
        ("event_id\toccurred_at\tuser_id", "\t"),
        ("event_id|occurred_at|user_id", "|"),
        ("a;b,c", ","),  # nothing known: comma
        ('event_id;occurred_at;"user,id";prompt', ";"),
    ],
)
def test_delimiter_is_chosen_from_the_header(line: str, delimiter: str) -> None:
    assert delimiter_of(line) == delimiter


@pytest.mark.parametrize(
    ("cell", "key"),
    [
        ("event_id", "event_id"),
        ("Event ID", "event_id"),
        ("event-id", "event_id"),
        ("eventId", "event_id"),
        ("EVENT_ID", "event_id"),
        (" Cost (USD) ", "cost_usd"),
        ("user.email", "user_email"),
    ],
)
def test_column_keys(cell: str, key: str) -> None:
    assert column_key(cell) == key


@pytest.mark.parametrize(
    ("header", "keys"),
    [
        (
            ["Event_ID", "Timestamp", "User", "Email", "Prompt", "Response", "Completion_Tokens"],
            [
                "event_id",
                "occurred_at",
                "user_id",
                "user_email",
                "prompt_text",
                "output_text",
                "output_tokens",
            ],
        ),
        (["event_id", "time", "login", "Department", "Notes", ""], None),
    ],
)
def test_header_aliases(header: list[str], keys: list[str] | None) -> None:
    expected = keys or ["event_id", "occurred_at", "user_id", "department", "notes", "column_6"]
    assert map_header(header) == expected


# -- the sample files --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # (total, loaded, duplicate, rejected, coverage gaps)
        ("good.csv", (6, 6, 0, 0, 2)),
        ("aliases_semicolon.csv", (3, 3, 0, 0, 1)),
        # Line 19 follows a quote that never closes: read again after it (case 6).
        ("broken.csv", (18, 4, 1, 13, 0)),
        ("bad_header.csv", (3, 0, 0, 3, 0)),
    ],
)
def test_sample_counts(session: Session, name: str, expected: tuple[int, ...]) -> None:
    res = ingest(session, SAMPLES / name)
    assert counts(res) == expected
    assert res.reconciles
    assert session.scalar(select(func.count(Interaction.id))) == expected[1]
    assert session.scalar(select(func.count(IngestRejection.id))) == expected[3]


def _digest(text: str | None) -> str:
    return hashlib.sha256((text or "").encode()).hexdigest()


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=None)


# event_id -> (line, occurred_at UTC, user_id, user_email, tool, provider, model,
#              history_turns, input_tokens, output_tokens, cost_usd, session_id, workflow,
#              content_status, attributes)
GOOD = {
    "g-001": (
        2,
        "2026-10-05T09:30:00",
        "u00101",
        "ann.lee@northbridge-bank.example",
        "chatgpt-enterprise",
        "openai",
        "gpt-4o-2024-11-20",
        0,
        12,
        30,
        0.00033,
        "sess_a1",
        "research",
        "present",
        {
            "account_type": "enterprise_sso",
            "department": "Research",
            "unknown_fields": ["ticket_notes"],
        },
    ),
    "g-002": (
        3,  # the prompt and output span lines 3-10
        "2026-10-06T09:50:00",
        "u00102",
        None,
        "copilot-business",
        "github",
        "gpt-4.1",
        4,
        89,
        76,
        0.000786,
        "sess_b2",
        "internal_drafting",
        "present",
        {"account_type": "enterprise_sso", "department": "Technology"},
    ),
    "g-003": (
        12,  # after a blank line
        "2026-10-06T09:50:00.123000",
        None,
        "cara.diaz@northbridge-bank.example",
        "claude-enterprise",
        "anthropic",
        "claude-sonnet-4",
        0,
        40,
        0,
        None,
        "sess_c3",
        "client_comm",
        "not_stored",
        {"account_type": "enterprise_sso"},
    ),
    "g-004": (
        13,
        "2026-10-06T09:50:00.123457",
        "u00104",
        "d.park@northbridge-bank.example",
        "atlas-internal",
        "internal",
        "atlas-70b",
        2,
        55,
        3,
        0.000035,
        "sess_d4",
        "deal_team",
        "redacted",
        {"account_type": "enterprise_sso", "department": "Corporate Finance"},
    ),
    "g-005": (
        14,
        "2026-10-06T14:05:09.123456",
        "u00105",
        None,
        "perplexity",
        "perplexity",
        "sonar",
        0,
        4,
        5,
        None,
        None,
        "research",
        "present",
        {"account_type": "personal", "empty_prompt": True},
    ),
    "g-006": (
        15,
        "2026-10-06T07:30:00",
        "u00106",
        None,
        "chatgpt-free",
        "openai",
        "gpt-4o-mini",
        0,
        None,
        None,
        None,
        None,
        None,
        "present",
        {"account_type": "personal", "department": "Sales, EMEA"},
    ),
}
FIELDS = (
    "source_line",
    "occurred_at",
    "user_id",
    "user_email",
    "tool",
    "provider",
    "model",
    "history_turns",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "session_id",
    "workflow",
    "content_status",
    "attributes",
)


def test_good_sample_fields(session: Session) -> None:
    res = ingest(session, SAMPLES / "good.csv", "auto")
    rows = stored(session)
    assert set(rows) == set(GOOD)
    for event_id, expected in GOOD.items():
        row = rows[event_id]
        got = tuple(getattr(row, f) for f in FIELDS)
        want = (expected[0], _utc(expected[1]), *expected[2:])
        assert got == want, event_id
        assert row.source_format == "csv"
    assert res.warnings == [
        (2, "unknown fields kept by name only: ticket_notes"),
        (14, "empty prompt (kept)"),
    ]
    # Unknown columns keep their name, never their value.
    assert "rate path" not in json.dumps(rows["g-001"].attributes)


# event_id -> (prompt_text, output_text)
GOOD_TEXT = {
    "g-001": (
        "Summarise the Q3 outlook for European banks.",
        "Here is a short summary: margins hold, loan growth slows.",
    ),
    "g-002": (
        'Convert this bash to Python, please:\n\n```bash\nfor f in *.csv; do echo "$f"; done\n```',
        "```python\nfor f in Path('.').glob('*.csv'):\n    print(f)\n```",
    ),
    "g-003": (None, None),
    "g-004": ("[REDACTED] account number for the transfer", "Done."),
    "g-005": ("", "No question was asked."),
    "g-006": (
        "Résumé of the café meeting for the équipe – 東京支店, please",
        "Summary:\n\n- rates\n- staffing",
    ),
}


def test_good_sample_text(session: Session) -> None:
    ingest(session, SAMPLES / "good.csv")
    rows = stored(session)
    for event_id, (prompt, output) in GOOD_TEXT.items():
        assert (rows[event_id].prompt_text, rows[event_id].output_text) == (prompt, output)


def test_aliases_semicolons_bom_and_crlf(session: Session) -> None:
    res = ingest(session, SAMPLES / "aliases_semicolon.csv", "auto")
    rows = stored(session)
    got = {
        e: (
            r.source_line,
            r.occurred_at,
            r.user_id,
            r.user_email,
            r.tool,
            r.model,
            r.input_tokens,
            r.output_tokens,
            r.cost_usd,
            r.session_id,
            r.workflow,
            r.content_status,
            r.attributes,
        )
        for e, r in rows.items()
    }
    assert got == {
        "a-001": (
            2,
            _utc("2026-10-07T08:00:00"),
            "u00201",
            "eve.moss@northbridge-bank.example",
            "ChatGPT Enterprise",
            "gpt-4o",
            20,
            25,
            0.0021,
            "s-1",
            "client_comm",
            "present",
            {"team": "Wealth", "unknown_fields": ["comment"]},
        ),
        "a-002": (
            4,  # a-001's response spans two lines
            _utc("2026-10-07T08:00:00"),
            "u00202",
            None,
            "ChatGPT Enterprise",
            "gpt-4o",
            6,
            None,
            None,
            None,
            None,
            "present",
            {"team": "HR"},
        ),
        "a-003": (
            5,
            _utc("2026-10-07T10:15:00.500000"),
            None,
            "finn.ng@northbridge-bank.example",
            "Copilot",
            "gpt-4.1",
            None,
            None,
            None,
            "s-3",
            "coding",
            "not_stored",
            {},
        ),
    }
    assert rows["a-001"].output_text == "Dear client,\r\nplease send; thank you."
    assert res.warnings == [(2, "unknown fields kept by name only: comment")]


# line -> reason fragment (None: loaded or duplicate), for broken.csv
BROKEN = {
    2: None,
    3: "row has 9 fields, the header has 8",
    4: "row has 5 fields, the header has 8",
    5: "no user identity",
    6: "`occurred_at`: timestamp is not ISO 8601 or epoch",
    7: "`occurred_at` is before 2000",
    8: "`content_status` is not one of present, redacted, not_stored",
    9: "`content_status` is not_stored but `prompt_text` has text",
    10: "input_tokens is out of range",
    11: "cost_usd is not a number",
    12: "no `event_id`",
    13: "`event_id` is longer than 255 characters",
    14: None,  # Latin-1 bytes: kept, with a warning
    15: None,  # b-001 again: a duplicate
    16: "not valid CSV (',' expected after '\"')",
    17: None,
    18: "not valid CSV (unexpected end of data)",  # the quote never closes
    19: None,  # read again after line 18's rejection (case 6), not swallowed by it
}


def test_broken_sample_rejects_each_bad_row_by_line(session: Session) -> None:
    res = ingest(session, SAMPLES / "broken.csv")
    rejected = dict(res.rejections)
    assert set(rejected) == {n for n, why in BROKEN.items() if why}
    for line_no, fragment in BROKEN.items():
        if fragment:
            assert rejected[line_no].startswith(fragment) or fragment in rejected[line_no]
    assert res.warnings == [(14, "invalid UTF-8 replaced (line 14, first at byte 36)")]
    rows = stored(session)
    assert set(rows) == {"b-001", "b-013", "b-015", "b-017"}
    assert rows["b-013"].prompt_text == "R\ufffdsum\ufffd of the caf\ufffd meeting"
    assert rows["b-013"].attributes == {"encoding_repaired": True}
    assert rows["b-001"].source_line == 2


def test_bad_header_rejects_every_row(session: Session) -> None:
    res = ingest(session, SAMPLES / "bad_header.csv")
    assert res.rejections == [
        (1, "header unusable: missing required column `occurred_at`"),
        (2, "no usable header (see line 1)"),
        (3, "no usable header (see line 1)"),
    ]


# -- tables of single cases --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (
            ["event_id", "timestamp", "occurred_at", "user_id"],
            "columns 2 and 3 both give `occurred_at`",
        ),
        (["event_id", "occurred_at", "user", "user_id"], "columns 3 and 4 both give `user_id`"),
        (["event_id", "occurred_at", "Team", "team", "email"], "columns 3 and 4 both give `team`"),
        (
            ["event_id", "occurred_at", "prompt_text"],
            "missing required column `user_id` or `user_email`",
        ),
        (["id", "occurred_at", "user_id"], "missing required column `event_id`"),
        (["prompt", "response"], "missing required column `event_id`, `occurred_at`, `user_id` or"),
    ],
)
def test_header_problems(tmp_path: Path, header: list[str], reason: str) -> None:
    with pytest.raises(RecordError) as info:
        map_header(header)
    assert reason in str(info.value)
    path = csv_file(tmp_path / "h.csv", header, [["x"] * len(header)])
    items = list(READER.records(path, max_line_bytes=MAX))
    assert [(i.line_no, getattr(i, "reason", "")) for i in items] == [
        (1, f"header unusable: {info.value}"),
        (2, "no usable header (see line 1)"),
    ]


@pytest.mark.parametrize(
    ("value", "utc"),
    [
        ("2026-10-05T10:00:00Z", "2026-10-05T10:00:00"),
        ("2026-10-05T10:00:00.250Z", "2026-10-05T10:00:00.250000"),
        ("2026-10-05T12:00:00+02:00", "2026-10-05T10:00:00"),
        ("2026-10-05T05:00:00-05:00", "2026-10-05T10:00:00"),
        ("2026-10-05T10:00:00", "2026-10-05T10:00:00"),  # no offset: UTC
        ("2026-10-05 10:00:00", "2026-10-05T10:00:00"),
        ("2026-10-05 10:00:00.123456", "2026-10-05T10:00:00.123456"),
        (" 2026-10-05 10:00:00 ", "2026-10-05T10:00:00"),
        ("1791194400", "2026-10-05T10:00:00"),
        ("1791194400.5", "2026-10-05T10:00:00.500000"),
        ("1791194400000", "2026-10-05T10:00:00"),
        ("1791194400000000", "2026-10-05T10:00:00"),
        ("1791194400000000000", "2026-10-05T10:00:00"),
    ],
)
def test_timestamp_styles(session: Session, tmp_path: Path, value: str, utc: str) -> None:
    ingest(session, one_row(tmp_path, occurred_at=value))
    assert stored(session)["r-1"].occurred_at == _utc(utc)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "no `occurred_at`"),
        ("05/10/2026 10:00", "not ISO 8601 or epoch"),
        ("2026-10-05 10:00:00 UTC", "not ISO 8601 or epoch"),
        ("20261005", "before 2000"),
        ("1999-12-31T23:59:59Z", "before 2000"),
        ("-1791194400", "not ISO 8601 or epoch"),
        ("9" * 40, "out of range"),
        ("yesterday", "not ISO 8601 or epoch"),
    ],
)
def test_bad_timestamps(session: Session, tmp_path: Path, value: str, reason: str) -> None:
    res = ingest(session, one_row(tmp_path, occurred_at=value))
    assert res.rejected == 1 and reason in res.rejections[0][1]


@pytest.mark.parametrize(
    ("prompt", "status", "expected"),
    [
        # (prompt_text stored, content_status, empty_prompt flag) or a rejection fragment
        ("Draft a note.", "", ("Draft a note.", "present", False)),
        ("", "", (None, "not_stored", False)),
        ("   ", "", (None, "not_stored", False)),
        ("Draft a note.", "present", ("Draft a note.", "present", False)),
        ("", "present", ("", "present", True)),
        ("", "PRESENT", ("", "present", True)),
        ("", "not_stored", (None, "not_stored", False)),
        ("", "Not Stored", (None, "not_stored", False)),
        ("", "redacted", (None, "redacted", False)),
        ("<redacted>", "redacted", ("<redacted>", "redacted", False)),
        ("Draft a note.", "not_stored", "is not_stored but `prompt_text` has text"),
        ("", "deleted", "is not one of present, redacted, not_stored"),
    ],
)
def test_content_status(
    session: Session, tmp_path: Path, prompt: str, status: str, expected: Any
) -> None:
    res = ingest(session, one_row(tmp_path, prompt_text=prompt, content_status=status))
    if isinstance(expected, str):
        assert res.rejected == 1 and expected in res.rejections[0][1]
        return
    row = stored(session)["r-1"]
    text, want_status, empty = expected
    assert (row.prompt_text, row.content_status) == (text, want_status)
    assert bool(row.attributes.get("empty_prompt")) is empty
    assert res.coverage_gaps == (want_status != "present")


@pytest.mark.parametrize(
    ("cells", "attributes"),
    [
        ({"account_type": "enterprise_sso"}, {"account_type": "enterprise_sso"}),
        ({"Account Type": " personal "}, {"account_type": "personal"}),
        ({"department": "x" * 200}, {"department": "x" * 200}),
        ({"department": "x" * 201}, {"unknown_fields": ["department"]}),
        ({"department": "Markets\nand more"}, {"unknown_fields": ["department"]}),
        (
            {"client_ip": "10.16.4.2", "gateway": "web-proxy"},
            {"client_ip": "10.16.4.2", "gateway": "web-proxy"},
        ),
        ({"source_format": "openai-chat"}, {"source_format": "openai-chat"}),
        ({"subject": "Q3 bonus for Jane"}, {"unknown_fields": ["subject"]}),
        ({"subject": ""}, {}),
        ({"notes": "a", "Notes": "b"}, {"unknown_fields": ["notes"]}),
        ({"zeta": "1", "alpha": "2"}, {"unknown_fields": ["alpha", "zeta"]}),
    ],
)
def test_extra_columns_keep_names_and_only_safe_values(
    session: Session, tmp_path: Path, cells: dict[str, str], attributes: dict[str, Any]
) -> None:
    ingest(session, one_row(tmp_path, **cells))
    assert stored(session)["r-1"].attributes == attributes


@pytest.mark.parametrize(
    ("cells", "field", "value"),
    [
        (
            {"user_email": "Ann.Lee@Northbridge-Bank.EXAMPLE", "user_id": ""},
            "user_email",
            "ann.lee@northbridge-bank.example",
        ),
        ({"user_id": "  u00009 "}, "user_id", "u00009"),
        ({"workflow": "Client Comm"}, "workflow", "client_comm"),
        ({"history_turns": ""}, "history_turns", 0),
        ({"history_turns": "6"}, "history_turns", 6),
        ({"input_tokens": " 120 "}, "input_tokens", 120),
        ({"cost_usd": "1e-5"}, "cost_usd", 1e-5),
        ({"cost": "0.5"}, "cost_usd", 0.5),
        (
            {"prompt_text": "tab\there, nul\x00 and bell\x07"},
            "prompt_text",
            "tab\there, nul  and bell ",
        ),
        ({"prompt_text": "cafe\u0301"}, "prompt_text", "caf\u00e9"),  # NFC
    ],
)
def test_field_values(
    session: Session, tmp_path: Path, cells: dict[str, str], field: str, value: Any
) -> None:
    ingest(session, one_row(tmp_path, **cells))
    assert getattr(stored(session)["r-1"], field) == value


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        ({"user_id": "", "user_email": ""}, "no user identity"),
        ({"user_id": " ", "user_email": "  "}, "no user identity"),
        ({"event_id": ""}, "no `event_id`"),
        ({"event_id": "x" * 256}, "`event_id` is longer than 255"),
        ({"user_id": "u" * 256}, "`user_id` is longer than 255"),
        ({"model": "m" * 129}, "`model` is longer than 128"),
        ({"workflow": "w" * 65}, "`workflow` is longer than 64"),
        ({"input_tokens": "12.5"}, "input_tokens is not a number"),
        ({"output_tokens": "many"}, "output_tokens is not a number"),
        ({"output_tokens": str(10**30)}, "output_tokens is out of range"),
        ({"history_turns": "-1"}, "history_turns is out of range"),
        ({"cost_usd": "$0.01"}, "cost_usd is not a number"),
        ({"cost_usd": "nan"}, "cost_usd is out of range"),
        ({"cost_usd": "-0.5"}, "cost_usd is out of range"),
    ],
)
def test_bad_values_reject_the_row(
    session: Session, tmp_path: Path, cells: dict[str, str], reason: str
) -> None:
    res = ingest(session, one_row(tmp_path, **cells))
    assert res.rejected == 1 and reason in res.rejections[0][1]


def test_rejections_never_quote_content(session: Session, tmp_path: Path) -> None:
    secret = "4111 1111 1111 1111 belongs to Jane"
    rows = [
        ["s-1", "not a time", "u1", "", secret, ""],
        ["s-2", "2026-10-05T10:00:00Z", "u1", "", secret, "not_stored"],
        ["s-3", "2026-10-05T10:00:00Z", "", "", secret, ""],
        ["s-4", "2026-10-05T10:00:00Z", "u1", "", secret, secret],
        ["s-5", "2026-10-05T10:00:00Z", "u1", "", secret, "", secret],
        [secret * 10, "2026-10-05T10:00:00Z", "u1", "", secret, ""],
    ]
    path = csv_file(tmp_path / "s.csv", HEADER, rows)
    with path.open("ab") as fh:
        fh.write(b's-7,2026-10-05T10:00:00Z,u1,,"' + secret.encode() + b'"x,\n')
    res = ingest(session, path)
    assert res.rejected == 7
    assert all("4111" not in why and "Jane" not in why for _, why in res.rejections)


# -- size, encoding, compression ---------------------------------------------------------------


def test_huge_quoted_field_loads_and_an_overlong_row_is_skipped(
    session: Session, tmp_path: Path
) -> None:
    big = 'line of a pasted report, with commas and "quotes"\n' * 40_000  # ~2 MB, 40k lines
    rows = [
        ["big-1", "2026-10-05T10:00:00Z", "u1", "", big, ""],
        ["ok-2", "2026-10-05T10:00:01Z", "u2", "", "short", ""],
    ]
    path = csv_file(tmp_path / "big.csv", HEADER, rows)
    # Longer than ingest.max_field_bytes (1 MiB): rejected, and the next row still read.
    res = ingest(session, path)
    assert res.rejections == [
        (2, "a quoted field is longer than 1048576 bytes (lines 2-40002 skipped)")
    ]
    assert counts(res) == (2, 1, 0, 1, 0)
    wide = IngestLimits(max_field_bytes=4 * 1024 * 1024)
    path = csv_file(tmp_path / "big-wide.csv", HEADER, [[f"w{r[0]}", *r[1:]] for r in rows])
    res = ingest(session, path, limits=wide)
    assert counts(res) == (2, 2, 0, 0, 0)  # beyond the csv module's default 128 KiB a field
    # Compared by digest: a failure must not print two megabytes.
    assert _digest(stored(session)["wbig-1"].prompt_text) == _digest(big)
    assert stored(session)["wok-2"].source_line == 40_003

    other = csv_file(
        tmp_path / "big2.csv",
        HEADER,
        [
            ["big-3", "2026-10-05T10:00:00Z", "u1", "", big, ""],
            ["ok-4", "2026-10-05T10:00:01Z", "u2", "", "short", ""],
            ["long-5", "2026-10-05T10:00:02Z", "u3", "", "x" * 70_000, ""],  # one long line
            ["ok-6", "2026-10-05T10:00:03Z", "u4", "", "short\nand two lines", ""],
        ],
    )
    res = ingest(session, other, limit=64 * 1024)
    assert res.rejections == [
        (2, "row is longer than 65536 bytes (lines 2-40002 skipped)"),
        (40_004, "row is longer than 65536 bytes"),
    ]
    assert counts(res) == (4, 2, 0, 2, 0)
    rows_now = stored(session)
    assert (rows_now["ok-4"].source_line, rows_now["ok-6"].source_line) == (40_003, 40_005)
    assert rows_now["ok-6"].prompt_text == "short\nand two lines"


def test_a_row_within_the_limit_is_not_cut(session: Session, tmp_path: Path) -> None:
    path = csv_file(
        tmp_path / "edge.csv", HEADER, [["e-1", "2026-10-05T10:00:00Z", "u1", "", "p" * 100, ""]]
    )
    size = len(path.read_bytes().splitlines(keepends=True)[1])
    res = ingest(session, path, limit=size)
    assert (res.loaded, res.rejected) == (1, 0)
    copy = tmp_path / "edge2.csv"
    copy.write_bytes(path.read_bytes().replace(b"e-1", b"e-2"))
    res = ingest(session, copy, limit=size - 1)
    assert res.rejections == [(2, f"row is longer than {size - 1} bytes")]
    tiny = tmp_path / "edge3.csv"
    tiny.write_bytes(path.read_bytes().replace(b"e-1", b"e-3"))
    res = ingest(session, tiny, limit=20)
    assert res.rejections == [
        (1, "header unusable: row is longer than 20 bytes"),
        (2, "row is longer than 20 bytes"),
    ]


def test_invalid_utf8_is_replaced_with_a_warning(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(
        b"event_id,occurred_at,user_id,prompt_text\n"
        b'l-1,2026-10-05T10:00:00Z,u1,"first line ok\n'
        b'second line caf\xe9"\n'
        b"l-2,2026-10-05T10:00:00Z,u\xff2,plain\n"
    )
    res = ingest(session, path)
    assert res.loaded == 2
    assert res.warnings == [
        (2, "invalid UTF-8 replaced (line 3, first at byte 15)"),
        (4, "invalid UTF-8 replaced (line 4, first at byte 26)"),
    ]
    rows = stored(session)
    assert rows["l-1"].prompt_text == "first line ok\nsecond line caf\ufffd"
    assert rows["l-2"].user_id == "u\ufffd2"
    assert all(r.attributes["encoding_repaired"] for r in rows.values())


def test_tab_and_pipe_delimiters(session: Session, tmp_path: Path) -> None:
    rows = [["t-1", "2026-10-05T10:00:00Z", "u1", "", "a, b; c", ""]]
    ingest(session, csv_file(tmp_path / "t.tsv", HEADER, rows, delimiter="\t"), "auto")
    ingest(session, csv_file(tmp_path / "p.csv", HEADER, [["p-1", *rows[0][1:]]], delimiter="|"))
    assert {e: r.prompt_text for e, r in stored(session).items()} == {
        "t-1": "a, b; c",
        "p-1": "a, b; c",
    }


def test_header_only_and_empty_files_have_no_records(session: Session, tmp_path: Path) -> None:
    header_only = csv_file(tmp_path / "h.csv", HEADER, [])
    empty = tmp_path / "e.csv"
    empty.write_bytes(b"")
    assert counts(ingest(session, header_only)) == (0, 0, 0, 0, 0)
    assert counts(ingest(session, empty)) == (0, 0, 0, 0, 0)


def test_gzip_is_read_and_a_truncated_stream_is_reported(session: Session, tmp_path: Path) -> None:
    packed = tmp_path / "good.csv.gz"
    packed.write_bytes(gzip.compress((SAMPLES / "good.csv").read_bytes()))
    res = ingest(session, packed, "auto")
    assert counts(res) == (6, 6, 0, 0, 2)

    rows = [
        [f"z-{i}", "2026-10-05T10:00:00Z", f"u{i}", "", f"prompt {i} " * 30, ""]
        for i in range(2000)
    ]
    payload = csv_file(tmp_path / "many.csv", HEADER, rows).read_bytes()
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(gzip.compress(payload)[:3000])
    res = ingest(session, cut)
    assert 0 < res.loaded < 2000 and res.reconciles
    assert res.rejections[-1] == (0, "compressed stream is damaged (EOFError); reading stopped")


# -- idempotency and round trips ---------------------------------------------------------------


def test_same_file_twice_adds_nothing(session: Session, tmp_path: Path) -> None:
    ingest(session, SAMPLES / "good.csv")
    again = ingest_paths(session, [SAMPLES / "good.csv"], "csv", max_line_bytes=MAX)[0]
    assert again.already_ingested
    copy = tmp_path / "copy.csv"
    copy.write_bytes((SAMPLES / "good.csv").read_bytes() + b"\n")  # another digest, same rows
    assert counts(ingest(session, copy)) == (6, 0, 6, 0, 0)
    assert session.scalar(select(func.count(Interaction.id))) == 6


def test_records_stream_without_reading_the_whole_file(tmp_path: Path) -> None:
    rows = [[f"s-{i}", "2026-10-05T10:00:00Z", "u1", "", "x" * 100, ""] for i in range(50_000)]
    path = csv_file(tmp_path / "stream.csv", HEADER, rows)
    items = READER.records(path, max_line_bytes=MAX)
    first = next(items)
    assert first.line_no == 2
    items.close()  # type: ignore[attr-defined]


def test_the_auditors_own_csv_export_reads_back(session: Session, tmp_path: Path) -> None:
    recs = [
        chat_record("x1", "first, with a comma\nand a newline", when="2026-10-02T08:00:00Z"),
        chat_record("x2", None, when="2026-10-01T08:00:00Z"),
        chat_record("x3", "", when="2026-10-03T08:00:00Z"),
    ]
    ingest(session, write_jsonl(tmp_path / "l.jsonl", recs), "openai-chat")
    out = tmp_path / "export.csv"
    export_interactions(session, out, "csv")
    res = ingest(session, out, "auto")
    assert (res.source_format, res.loaded) == ("csv", 3)
    rows = session.scalars(select(Interaction)).all()
    by_format: dict[str, dict[str, Interaction]] = {}
    for row in rows:
        by_format.setdefault(row.source_format, {})[row.event_id] = row
    compared = (
        "occurred_at",
        "user_id",
        "user_email",
        "tool",
        "provider",
        "model",
        "prompt_text",
        "output_text",
        "history_turns",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "session_id",
        "workflow",
        "content_status",
    )
    for event_id, original in by_format["openai-chat"].items():
        copy = by_format["csv"][event_id]
        assert [getattr(copy, f) for f in compared] == [getattr(original, f) for f in compared]
        assert copy.attributes.get("source_format") == "openai-chat"
