"""Case 7 (values outside the prompt) of the hardening issue: everything a record carries is
scanned or dropped, and purge leaves none of it in the database file.

Before: caller-controlled metadata (LiteLLM request metadata, Langfuse metadata, an OpenAI
gateway's `metadata`, OpenTelemetry and Claude Code resource attributes, extra CSV columns)
was stored verbatim in `interactions.attributes`; a card, an SSN, an IBAN, an AWS key and a
password planted there were stored, never scanned, and survived `auditor db purge`.

Each reader that carries metadata gets the five values twice: under keys that are not on the
allow-list (dropped, only counted) and in values it keeps (scanned: a detection in field
`attributes` for each). After purge, not a byte of the database file holds any of them.
"""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import main
from auditor.config import ScanSettings
from auditor.demo.writers import claude_code, langfuse, litellm, otel
from auditor.normalize import (
    METADATA_KEYS,
    attribute_key_spans,
    attribute_text,
    bound_attributes,
    keep_metadata,
)
from auditor.policy import input as policy_input
from auditor.scan.engine import Hit
from auditor.scan.stage import _Job, _kept
from tests.conftest import chat_record, write_jsonl

CARD = "4111 1111 1111 1111"
SSN = "536-22-8726"
IBAN = "DE89 3704 0044 0532 0130 00"
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
PASSWORD = "S3cr3t!pw9"
PLANTED = {"card": CARD, "ssn": SSN, "iban": IBAN, "aws_key": AWS_KEY, "password": PASSWORD}
# Pieces that must not show either (a masked excerpt keeps neither).
FRAGMENTS = ["1111 1111", "4111111111111111", "22-8726", "0532 0130", "IOSFODNN", "S3cr3t"]
# The same values as an allow-listed fact would carry them (labelled, as a person types them).
KEPT = {
    "department": f"card {CARD}",
    "team": f"SSN {SSN}",
    "cost_center": f"IBAN {IBAN}",
    "region": f"aws {AWS_KEY}",
    "environment": f"password={PASSWORD}",
}
TYPES = {
    CARD: "CREDIT_CARD",
    SSN: "US_SSN",
    IBAN: "IBAN_CODE",
    AWS_KEY: "CREDENTIAL",
    PASSWORD: "CREDENTIAL",
}


def _leaks(blob: str) -> list[str]:
    return [v for v in [*PLANTED.values(), *FRAGMENTS] if v.casefold() in blob.casefold()]


# --- one log per reader that carries metadata ---------------------------------------------------


def _record(event_id: str, metadata: dict[str, Any]) -> dict[str, Any]:
    return chat_record(event_id, "Summarise the quarterly numbers.", metadata=metadata)


def _openai_chat(path: Path) -> Path:
    rec = _record("oc-1", {**PLANTED, **KEPT})
    rec["request"]["metadata"] = {"ssn_copy": SSN}  # the request's own metadata too
    return write_jsonl(path / "gateway.jsonl", [rec])


def _litellm(path: Path) -> Path:
    out = path / "litellm.csv"
    litellm.write([_record("ll-1", {**PLANTED, **KEPT})], out)
    return out


def _langfuse(path: Path) -> Path:
    out = path / "langfuse.jsonl"
    langfuse.write([_record("lf-1", {**PLANTED, **KEPT})], out)
    return out


def _with_resource_attributes(out: Path, extra: dict[str, str]) -> None:
    """Adds string attributes to every OTLP resource of a JSON Lines file (what the firm sets
    in OTEL_RESOURCE_ATTRIBUTES)."""
    lines = []
    for line in out.read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        for group in ("resourceLogs", "resourceSpans"):
            for item in doc.get(group, []):
                attrs = item.setdefault("resource", {}).setdefault("attributes", [])
                attrs += [{"key": k, "value": {"stringValue": v}} for k, v in extra.items()]
        lines.append(json.dumps(doc))
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _claude_code(path: Path) -> Path:
    out = path / "claude.jsonl"
    claude_code.write([_record("cc-1", {})], out)
    # The reader keeps department, team.id and cost_center (and account_type) of the custom
    # resource attributes; everything else there is not read at all.
    _with_resource_attributes(
        out,
        {
            **PLANTED,
            "department": f"card {CARD} SSN {SSN}",
            "team.id": f"IBAN {IBAN}",
            "cost_center": f"aws {AWS_KEY}",
            "account_type": f"password={PASSWORD}",
        },
    )
    return out


def _otel(path: Path) -> Path:
    out = path / "otel.jsonl"
    otel.write([_record("ot-1", {})], out)
    # Values the reader keeps from the resource: service.version and account_type, and from
    # any layer: error.type and server.address.
    _with_resource_attributes(
        out,
        {
            **PLANTED,
            "service.version": f"card {CARD}",
            "error.type": f"SSN {SSN}",
            "server.address": f"IBAN {IBAN}",
            "account_type": f"aws {AWS_KEY} password={PASSWORD}",
        },
    )
    return out


def _generic_csv(path: Path) -> Path:
    out = path / "export.csv"
    row = {
        "event_id": "csv-1",
        "occurred_at": "2026-10-05T10:00:00Z",
        "user_id": "u00001",
        "tool": "chatgpt-enterprise",
        "prompt_text": "Summarise the quarterly numbers.",
        **PLANTED,
        **KEPT,
    }
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
    return out


READERS: dict[str, Callable[[Path], Path]] = {
    "openai-chat": _openai_chat,
    "litellm": _litellm,
    "langfuse": _langfuse,
    "claude-code": _claude_code,
    "otel": _otel,
    "csv": _generic_csv,
}


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for var in ("AUDITOR_CONFIG", "AUDITOR_DATABASE__URL", "AUDITOR_SCAN__HASH_KEY"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "auditor.toml").write_text(
        'data_dir = ".auditor"\n'
        "[database]\n"
        f'url = "sqlite:///{tmp_path / "auditor.db"}"\n'
        "[scan]\n"
        'hash_key = "case7-test-key-padded-to-thirty-two-bytes"\n'
        f"entities = {ScanSettings().entities!r}\n"
        "[report]\n"
        'output_dir = "reports"\n',
        encoding="utf-8",
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    for build in READERS.values():
        build(logs)
    return tmp_path


def _db_bytes(db: Path, tmp: Path) -> str:
    copy = tmp / "copy.db"
    shutil.copy(db, copy)
    con = sqlite3.connect(copy)
    con.execute("VACUUM")  # a copy's free pages would only hide what the file itself holds
    con.close()
    return (db.read_bytes() + copy.read_bytes()).decode("utf-8", errors="replace")


def test_case_07_metadata_values_are_dropped_or_detected_and_purged(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "logs"]) in (0, 3)
    assert main(["report", "--period", "2026-10", "--format", "json"]) in (0, 3)
    captured = capsys.readouterr()
    assert not _leaks(captured.out + captured.err), "stdout/stderr"
    for report in (run_dir / "reports").rglob("*"):
        if report.is_file():
            assert not _leaks(report.read_text(encoding="utf-8", errors="replace")), report

    db = run_dir / "auditor.db"
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT id, source_format, attributes FROM interactions").fetchall()
        assert {fmt for _, fmt, _ in rows} == set(READERS)
        for iid, fmt, raw in rows:
            attributes = json.loads(raw)
            # Dropped: no value under a key off the allow-list, and the drop is counted.
            assert not set(PLANTED) & attributes.keys(), fmt
            if fmt not in ("claude-code", "otel", "csv"):  # these never read unknown keys
                assert attributes["metadata_dropped"] >= 5, fmt
            for value in PLANTED.values():
                bare = [v for v in attributes.values() if v == value]
                assert not bare, (fmt, "a planted value kept on its own")
            # Kept: each value the reader kept was scanned and found where it was kept.
            found = {
                t
                for (t,) in con.execute(
                    "SELECT DISTINCT entity_type FROM detections "
                    "WHERE interaction_id = ? AND field = 'attributes'",
                    (iid,),
                )
            }
            stored = json.dumps(attributes, ensure_ascii=False)
            kept = [value for value in PLANTED.values() if value in stored]
            for value in kept:
                assert TYPES[value] in found, (fmt, TYPES[value], found)
            assert len(kept) >= 3, (fmt, "the reader should keep most of the planted facts")
            # Findings and the policy input treat them as they treat a prompt's detections.
            cited = {
                t
                for (types,) in con.execute(
                    "SELECT entity_types FROM decisions WHERE interaction_id = ? "
                    "AND verdict = 'violation'",
                    (iid,),
                )
                for t in json.loads(types)
            }
            assert "CREDIT_CARD" in cited, (fmt, "no violation cites the card")
        # Every cell outside the raw text an interaction keeps until purge holds no value.
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            columns = [row[1] for row in con.execute(f'PRAGMA table_info("{table}")')]
            if table == "interactions":
                columns = [c for c in columns if c not in ("prompt_text", "attributes")]
            for row in con.execute(f'SELECT {", ".join(f"{c!r}" for c in columns)} FROM "{table}"'):
                assert not _leaks(" | ".join(str(v) for v in row)), table
    finally:
        con.close()

    assert main(["db", "purge", "--days", "1"]) == 0
    assert "purged raw text of 6 interaction(s)" in capsys.readouterr().out
    left = _leaks(_db_bytes(db, run_dir))
    assert left == [], f"still readable in the database file after purge: {len(left)} value(s)"
    con = sqlite3.connect(db)
    try:
        for (raw,) in con.execute("SELECT attributes FROM interactions"):
            texts = {k for k, v in json.loads(raw).items() if not isinstance(v, int | float)}
            assert texts <= {"account_type", "agent_action", "purged_at"}, texts
    finally:
        con.close()


# --- the pieces, one by one ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "kept", "dropped", "names"),
    [
        ({"department": "Payments"}, {"department": "Payments"}, 0, []),
        ({"human_reviewed": True}, {"human_reviewed": True}, 0, []),
        ({"cost_center": 4411}, {"cost_center": "4411"}, 0, []),  # scanned as text
        ({"card": CARD}, {}, 1, ["card"]),
        ({"department": "x" * 201}, {}, 1, ["department"]),
        ({"department": "two\nlines"}, {}, 1, ["department"]),
        ({"department": {"nested": CARD}}, {}, 1, ["department"]),
        ({"note2": "prose"}, {}, 1, []),  # a name with a digit is counted, not kept
        ({AWS_KEY: "x"}, {}, 1, []),
        ({"tool": "copilot"}, {}, 0, []),  # mapped to a field by the reader
    ],
)
def test_case_07_keep_metadata_keeps_short_allow_listed_values_only(
    metadata: dict[str, Any], kept: dict[str, Any], dropped: int, names: list[str]
) -> None:
    attributes: dict[str, Any] = {}
    keep_metadata(attributes, metadata, skip=frozenset({"tool"}))
    assert {k: v for k, v in attributes.items() if not k.startswith("metadata_")} == kept
    assert attributes.get("metadata_dropped", 0) == dropped
    assert attributes.get("metadata_dropped_keys", []) == names


def test_case_07_the_fence_drops_what_a_reader_let_through() -> None:
    bounded = bound_attributes(
        {
            "ok": "short",
            "long": "y" * 500,
            "nested": {"card": CARD},
            "models": ["a", "b"],
            "bad_list": ["a", {"b": 1}],
            "count": 3,
        }
    )
    assert bounded == {"ok": "short", "models": ["a", "b"], "count": 3, "attributes_dropped": 3}


def test_case_07_attribute_text_names_each_key() -> None:
    text = attribute_text({"b": "two", "a": "one", "n": 3, "l": ["x", "y"]})
    assert text == "a: one\nb: two\nl: x\nl: y"
    assert attribute_key_spans(text) == ((0, 3), (7, 10), (14, 17), (19, 22))
    assert attribute_text({"n": 3, "flag": True}) is None


@pytest.mark.parametrize(
    ("value", "scanned"),
    [
        ("92324820-0b50-514e-bbb0-e96da9525ab9", False),  # a UUID
        ("d4570cedc82c626135b7eb042127dd8c", False),  # a hex id
        ("4111111111111111", True),  # digits only: no id by shape
        ("DE89370400440532013000", True),  # an IBAN is no lower-case hex
        (f"card {CARD}", True),
        ("92324820-0b50-514e-bbb0-e96da9525ab9 4111111111111111", True),
    ],
)
def test_case_07_opaque_ids_are_not_scanned(value: str, scanned: bool) -> None:
    assert (attribute_text({"id": value}) is not None) is scanned


def _hit(start: int, end: int, recognizer: str = "CreditCardRecognizer") -> Hit:
    return Hit("X", start, end, 1.0, recognizer, "h", "e")


def test_case_07_attribute_hits_in_key_names_or_from_the_language_model_are_dropped() -> None:
    text = "os_type: linux\nteam: card 4111 1111 1111 1111"
    job = _Job(1, "attributes", attribute_key_spans(text))
    value = (text.index("4111"), len(text))
    hits = (_hit(0, 7, "SpacyRecognizer"), _hit(0, 7), _hit(9, 14, "SpacyRecognizer"), _hit(*value))
    assert _kept(job, hits) == (_hit(*value),)
    assert _kept(_Job(1, "prompt"), hits) == hits


def test_case_07_allow_list_holds_every_key_the_policies_read() -> None:
    read = {
        *policy_input.REVIEWED_KEYS,
        *policy_input.REVIEWER_KEYS,
        *policy_input.EXTERNAL_KEYS,
        *policy_input.ACTION_KEYS,
        *policy_input.APPROVED_KEYS,
        *policy_input.APPROVER_KEYS,
        "account_type",
    }
    assert read <= METADATA_KEYS
