"""No raw detected value anywhere in the outputs of an end-to-end run.

`auditor run` over a small log set with planted values (card, SSN, IBAN, e-mail, phone,
client names and accounts from a register, restricted terms, a credential, identifiers, and
card data that PCI DSS forbids keeping: security codes, expiry dates, track data, a PIN
block), and in a gateway's metadata beside the prompt (kept and scanned, or dropped), then
the report in every format; every output is searched for every planted value: the database
(every cell outside the raw-text columns, and its bytes once raw text is purged), the report
files, stdout, stderr and the log records.
"""

from __future__ import annotations

import logging
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.config import ScanSettings
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
    "track1": "%B4000056655665556^DOE/JOHN^2709101000000000000000?",
    "track2": ";5555555555554444=28111010000000000000?",
    "pin_block": "041215FEDCBA9876",
}
# Card data too short to search for as a substring (a hash or an id may hold "731"): found
# when it stands alone, not inside a longer run of letters or digits.
SHORT_CARD_DATA = {
    "cvv": "731",
    "cvv_4": "0482",
    "cid": "8642",
    "expiry": "09/27",
    "expiry_long": "11/2028",
    "expiry_beside_card": "03/29",
}
CARD_TYPES = ["CARD_SECURITY_CODE", "CARD_EXPIRY", "CARD_TRACK_DATA"]
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
    "DOE/JOHN",
    "4000056655665556",
    "5555555555554444",
    "=2811101",
    "FEDCBA98",
]

# Values a gateway's metadata carries beside the prompt: allow-listed facts are kept and
# scanned (field `attributes`), anything else is dropped; purge blanks the kept ones.
METADATA = {
    "department": f"card {PLANTED['card']}",
    "team": f"SSN {PLANTED['ssn']}",
    "note": f"{PLANTED['client']} wants IBAN {PLANTED['iban']}",
    "aws": PLANTED["credential"],
}
ATTRIBUTE_TYPES = {"CREDIT_CARD", "US_SSN"}

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
    (
        "e10",
        f"card {PLANTED['card']} cvv {SHORT_CARD_DATA['cvv']} exp {SHORT_CARD_DATA['expiry']}",
        "copilot-business",
    ),
    (
        "e11",
        f"Card: 5555 5555 5555 4444\nExpires: {SHORT_CARD_DATA['expiry_long']}\n"
        f"CVV: {SHORT_CARD_DATA['cvv_4']}\nAmex CID {SHORT_CARD_DATA['cid']}",
        "chatgpt-enterprise",
    ),
    (
        "e12",
        f"Why does the reader log {PLANTED['track1']} and {PLANTED['track2']}? "
        f"PIN block: {PLANTED['pin_block']}",
        "deepseek-chat",
    ),
    (
        "e13",
        f"Refund 4000 0566 5566 5556 {SHORT_CARD_DATA['expiry_beside_card']} to the client.",
        "copilot-business",
    ),
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
        'hash_key = "e2e-test-key-padded-to-thirty-two-bytes"\n'
        'client_register = "clients.csv"\n'
        'restricted_list = "restricted.csv"\n'
        f"entities = {list(dict.fromkeys([*ScanSettings().entities, *CARD_TYPES]))!r}\n"
        "[report]\n"
        'output_dir = "reports"\n',
        encoding="utf-8",
    )
    records = [
        chat_record(eid, prompt, tool=tool, output="Done.", user=f"u0000{i % 5}")
        for i, (eid, prompt, tool) in enumerate(PROMPTS)
    ]
    records.append(chat_record("e14", "Attributes only.", output="Done.", metadata=METADATA))
    write_jsonl(tmp_path / "logs.jsonl", records)
    return tmp_path


def _leaks(blob: str) -> list[str]:
    lowered = blob.casefold()
    return [
        name
        for name, value in [*PLANTED.items(), *((f, f) for f in FRAGMENTS)]
        if value.casefold() in lowered
    ] + [
        name
        for name, value in SHORT_CARD_DATA.items()
        if re.search(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])", blob)
    ]


def test_no_raw_value_in_any_output(
    run_dir: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # The search finds every planted value where it is: in the prompts.
    assert set(_leaks("\n".join(prompt for _, prompt, _ in PROMPTS))) >= {
        *PLANTED,
        *SHORT_CARD_DATA,
    }
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
            *CARD_TYPES,
        }
        subjects = {s for (s,) in con.execute("SELECT DISTINCT subject_id FROM detections")}
        assert {"C001", "C002"} <= subjects
        excerpts = [e for (e,) in con.execute("SELECT masked_excerpt FROM detections")]
        assert any("[CLIENT_NAME:C001]" in e for e in excerpts)
        # Metadata values: the kept ones were scanned where they were kept, the rest dropped.
        [(iid, attributes)] = con.execute(
            "SELECT id, attributes FROM interactions WHERE event_id = 'e14'"
        ).fetchall()
        found = {
            t
            for (t,) in con.execute(
                "SELECT entity_type FROM detections WHERE interaction_id = ? "
                "AND field = 'attributes'",
                (iid,),
            )
        }
        assert found >= ATTRIBUTE_TYPES
        assert set(_leaks(attributes)) == {"card", "ssn", "1111 1111", "22-8726"}
        # Every cell of every table, except the raw text an interaction keeps until purged
        # (prompt, output and the attribute values it was scanned in).
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            columns = [row[1] for row in con.execute(f'PRAGMA table_info("{table}")')]
            if table == "interactions":
                columns = [
                    c for c in columns if c not in ("prompt_text", "output_text", "attributes")
                ]
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
