"""No raw detected value anywhere in the outputs of an end-to-end run.

`auditor run` over a small log set with planted values (card, SSN, IBAN, e-mail, phone,
client names and accounts from a register, restricted terms, a credential, identifiers), then
the report in every format; every output is searched for every planted value: the database
(every cell outside the raw-text columns, and its bytes once raw text is purged), the report
files, stdout, stderr and the log records.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from pathlib import Path

import pytest

from auditor.cli import main
from tests.conftest import chat_record, write_jsonl

PLANTED = {
    "card": "4111 1111 1111 1111",
    "ssn": "536-22-8726",
    "iban": "DE89 3704 0044 0532 0130 00",
    "email": "margaret.oneill@gmail.com",
    "phone": "(212) 555-0142",
    "client": "Halvorsen Maritime Holdings",
    "client_alias": "Brightwater Capital",
    "account": "4402-118734",
    "account_digits": "4402118734",
    "restricted": "Project Kestrel",
    "ticker": "HLVM",
    "credential": "AKIAIOSFODNN7EXAMPLE",
    "password": "S3cr3t!pw9",
    "isin": "US0378331005",
    "swift": "DEUTDEFF",
}
# Parts of values that must not show either (a masked excerpt may keep neither).
FRAGMENTS = [
    "1111 1111",
    "22-8726",
    "0532 0130",
    "oneill@",
    "555-0142",
    "Halvorsen",
    "118734",
    "Kestrel",
    "IOSFODNN",
    "S3cr3t",
]

PROMPTS = [
    ("e1", f"Refund the client on card {PLANTED['card']} today.", "copilot-business"),
    (
        "e2",
        f"Verify SSN {PLANTED['ssn']} and wire to IBAN {PLANTED['iban']}.",
        "chatgpt-enterprise",
    ),
    ("e3", f"Email {PLANTED['email']} or call {PLANTED['phone']} about the loan.", "deepseek-chat"),
    (
        "e4",
        f"Summarise exposure to {PLANTED['client']} and {PLANTED['client_alias']}'s "
        f"account {PLANTED['account']}.",
        "chatgpt-enterprise",
    ),
    (
        "e5",
        f"Why did {PLANTED['account_digits']} bounce? Ask HALVORSEN MARITIME HOLDINGS.",
        "copilot-business",
    ),
    (
        "e6",
        f"Board pack: {PLANTED['restricted']} timetable; check {PLANTED['ticker']} price.",
        "deepseek-chat",
    ),
    (
        "e7",
        f"This fails: AWS_KEY={PLANTED['credential']} and "
        f"postgresql://svc:{PLANTED['password']}@db01.internal:5432/trades",
        "copilot-business",
    ),
    (
        "e8",
        f"Compare ISIN {PLANTED['isin']}, settle via SWIFT {PLANTED['swift']}.",
        "chatgpt-enterprise",
    ),
    ("e9", "Write a haiku about spreadsheets.", "chatgpt-enterprise"),
]


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for var in ("AUDITOR_CONFIG", "AUDITOR_DATABASE__URL", "AUDITOR_SCAN__HASH_KEY"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "clients.csv").write_text(
        "client_id,name,aliases,accounts\n"
        f"C001,{PLANTED['client']},Halvorsen Maritime,{PLANTED['account']}\n"
        f"C002,Brightwater Capital LLC,{PLANTED['client_alias']},NB12345678\n",
        encoding="utf-8",
    )
    (tmp_path / "restricted.csv").write_text(
        f"term,kind,note\n{PLANTED['restricted']},codename,\n{PLANTED['ticker']},ticker,\n",
        encoding="utf-8",
    )
    (tmp_path / "auditor.toml").write_text(
        'data_dir = ".auditor"\n'
        "[database]\n"
        f'url = "sqlite:///{tmp_path / "auditor.db"}"\n'
        "[scan]\n"
        'hash_key = "e2e-test-key"\n'
        'client_register = "clients.csv"\n'
        'restricted_list = "restricted.csv"\n'
        "[report]\n"
        'output_dir = "reports"\n',
        encoding="utf-8",
    )
    records = [
        chat_record(eid, prompt, tool=tool, output="Done.", user=f"u0000{i % 5}")
        for i, (eid, prompt, tool) in enumerate(PROMPTS)
    ]
    write_jsonl(tmp_path / "logs.jsonl", records)
    return tmp_path


def _leaks(blob: str) -> list[str]:
    lowered = blob.casefold()
    return [
        name
        for name, value in [*PLANTED.items(), *((f, f) for f in FRAGMENTS)]
        if value.casefold() in lowered
    ]


def test_no_raw_value_in_any_output(
    run_dir: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    outputs: list[str] = []
    code = main(["run", "logs.jsonl"])
    assert code in (0, 3)
    for fmt in ("html", "json", "csv", "ocsf"):
        assert main(["report", "--period", "2026-10", "--format", fmt]) in (0, 3)
    captured = capsys.readouterr()
    outputs += [captured.out, captured.err, caplog.text]
    assert not _leaks(captured.out + captured.err), "stdout/stderr"
    assert not _leaks(caplog.text), "logs"

    reports = sorted(p for p in (run_dir / "reports").rglob("*") if p.is_file())
    assert {p.suffix for p in reports} >= {".html", ".json", ".csv", ".jsonl"}
    for path in reports:
        assert not _leaks(path.read_text(encoding="utf-8", errors="replace")), path.name

    db = run_dir / "auditor.db"
    con = sqlite3.connect(db)
    try:
        # The scan found what was planted, so there was something to leak.
        types = {t for (t,) in con.execute("SELECT DISTINCT entity_type FROM detections")}
        assert types >= {
            "CREDIT_CARD",
            "US_SSN",
            "IBAN_CODE",
            "EMAIL_ADDRESS",
            "PHONE_NUMBER",
            "CLIENT_NAME",
            "CLIENT_ACCOUNT",
            "RESTRICTED_TERM",
            "CREDENTIAL",
            "ISIN",
            "SWIFT_CODE",
        }
        subjects = {s for (s,) in con.execute("SELECT DISTINCT subject_id FROM detections")}
        assert {"C001", "C002"} <= subjects
        excerpts = [e for (e,) in con.execute("SELECT masked_excerpt FROM detections")]
        assert any("[CLIENT_NAME:C001]" in e for e in excerpts)
        # Every cell of every table, except the raw text an interaction keeps until purged.
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            columns = [row[1] for row in con.execute(f'PRAGMA table_info("{table}")')]
            if table == "interactions":
                columns = [c for c in columns if c not in ("prompt_text", "output_text")]
            for row in con.execute(f'SELECT {", ".join(f"{c!r}" for c in columns)} FROM "{table}"'):
                cells = " | ".join(str(v) for v in row)
                assert not _leaks(cells), f"table {table}"
    finally:
        con.close()

    # Once raw text is purged, not a byte of the database file holds a value.
    assert main(["db", "purge", "--days", "1"]) == 0
    copy = run_dir / "copy.db"
    shutil.copy(db, copy)
    con = sqlite3.connect(copy)
    con.execute("VACUUM")
    con.close()
    assert not _leaks(copy.read_bytes().decode("utf-8", errors="replace")), "database bytes"
