"""Each recognizer added for client data and firm identifiers, as tables of positive and
negative cases, through the scanner the pipeline builds (real spaCy model, real registers)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.config import ScanSettings
from auditor.errors import ScanError
from auditor.scan.engine import Scanner, build_scanner
from auditor.scan.identifiers import aba_ok, cusip_ok, isin_ok, luhn_ok, sedol_ok
from auditor.scan.recognizers import may_hold_phone_number

KEY = b"recognizer-test-key"
REGISTER = """client_id,name,aliases,accounts
C001,Halvorsen Maritime Holdings,Halvorsen Maritime,4402-118734
C002,Margaret O'Neill,,NB12345678
"""
RESTRICTED = "term,kind,note\nProject Kestrel,codename,\nHLVM,ticker,\n"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("registers")
    (path / "clients.csv").write_text(REGISTER, encoding="utf-8")
    (path / "restricted.csv").write_text(RESTRICTED, encoding="utf-8")
    return path


def _settings(folder: Path, **kwargs: object) -> ScanSettings:
    return ScanSettings(
        client_register=folder / "clients.csv",
        restricted_list=folder / "restricted.csv",
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def bank(folder: Path) -> Scanner:
    return build_scanner(
        _settings(
            folder,
            allow_list=["Goldman Sachs", "Rates Desk"],
            allow_domains=["northbridge-bank.example"],
        ),
        KEY,
    )


def _found(scanner: Scanner, text: str) -> set[tuple[str, str]]:
    return {(h.entity_type, text[h.start : h.end]) for h in scanner.scan(text)}


POSITIVE = [
    (
        "CLIENT_NAME",
        "Summarise our exposure to Halvorsen Maritime Holdings.",
        "Halvorsen Maritime Holdings",
    ),
    ("CLIENT_NAME", "why is halvorsen maritime's margin call late?", "halvorsen maritime"),
    ("CLIENT_NAME", "Draft a note to Margaret O'Neill", "Margaret O'Neill"),
    ("CLIENT_ACCOUNT", "Why did the payment to 4402 118734 bounce?", "4402 118734"),
    ("CLIENT_ACCOUNT", "acct NB-1234-5678 overdrawn", "NB-1234-5678"),
    ("RESTRICTED_TERM", "Prepare talking points on Project Kestrel.", "Project Kestrel"),
    ("RESTRICTED_TERM", "Is HLVM on the list?", "HLVM"),
    ("ISIN", "Compare the bond US0378331005 on yield", "US0378331005"),
    ("ISIN", "ISIN: GB0002634946", "GB0002634946"),
    ("CUSIP", "Look up CUSIP 037833100 please", "037833100"),
    ("CUSIP", "the note 38259P508 pays semi-annually", "38259P508"),
    ("SEDOL", "SEDOL 0263494 is trading below NAV", "0263494"),
    ("SEDOL", "security B0YBKJ7 trades in London", "B0YBKJ7"),
    ("SWIFT_CODE", "Send it via SWIFT DEUTDEFF today", "DEUTDEFF"),
    ("SWIFT_CODE", "beneficiary bank NWBKGB2L", "NWBKGB2L"),
    ("ABA_ROUTING_NUMBER", "routing number 021000021", "021000021"),
    ("ABA_ROUTING_NUMBER", "ABA 011000015 for the wire", "011000015"),
    ("US_ITIN", "My ITIN is 912-78-1234, fill in the W-7", "912-78-1234"),
    ("US_SSN", "verify SSN 536-22-8726 for the applicant", "536-22-8726"),
    ("CREDENTIAL", "export AWS_KEY=AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    (
        "CREDENTIAL",
        "use ghp_" + "a1B2c3D4e5" * 3 + "a1B2c3 for CI",
        "ghp_" + "a1B2c3D4e5" * 3 + "a1B2c3",
    ),
    ("CREDENTIAL", "postgresql://svc:S3cr3t!pw@db01.internal:5432/trades", "S3cr3t!pw"),
    ("CREDENTIAL", "password = hunter2hunter", "hunter2hunter"),
    (
        "CREDENTIAL",
        "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEabc\n-----END RSA PRIVATE KEY-----",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEabc\n-----END RSA PRIVATE KEY-----",
    ),
    ("SPECIAL_CATEGORY", "Jane Doe told me she has diabetes", "diabetes"),
    ("SPECIAL_CATEGORY", "he is a trade union member", "trade union member"),
    (
        "STREET_ADDRESS",
        "Ship to 4821 Oak Ridge Drive Suite 200, Springfield, IL 62704.",
        "4821 Oak Ridge Drive Suite 200, Springfield, IL 62704",
    ),
    ("STREET_ADDRESS", "Update the address to 59 Hill Road.", "59 Hill Road"),
    ("STREET_ADDRESS", "Meet at 12 W. 4th St. tomorrow", "12 W. 4th St."),
    (
        "STREET_ADDRESS",
        "branch at 221B Baker Street, London NW1 6XE",
        "221B Baker Street, London NW1 6XE",
    ),
    (
        "STREET_ADDRESS",
        "send to PSC 1048, Box 3238, APO AA 13750",
        "PSC 1048, Box 3238, APO AA 13750",
    ),
    ("PHONE_NUMBER", "call me on +1 632 489 4491 tonight", "+1 632 489 4491"),
    ("PHONE_NUMBER", "her mobile is (538) 988-5393", "(538) 988-5393"),
    ("PERSON", "Please write to Mrs. Mcknight about it", "Mrs. Mcknight"),
    ("PERSON", "Draft an email to Dakota Watson (dw@example.net)", "Dakota Watson"),
]

NEGATIVE = [
    ("CLIENT_NAME", "Halvorsen is a common surname; maritime law applies"),
    ("RESTRICTED_TERM", "Where do kestrels nest in winter?"),
    ("RESTRICTED_TERM", "hlvm is not the ticker in lower case"),
    ("CLIENT_ACCOUNT", "order 44021187345 shipped"),
    ("ISIN", "US0378331006 has a wrong check digit"),
    ("ISIN", "ticket ABCDEFGHIJK1 closed"),
    ("CUSIP", "invoice 037833101 is due"),
    ("SEDOL", "code 0263495 is wrong"),
    ("SWIFT_CODE", "THE BUSINESS CASE IS STRONG"),
    ("ABA_ROUTING_NUMBER", "routing number 021000022"),
    ("ABA_ROUTING_NUMBER", "order 021000021 shipped"),
    ("US_SSN", "My ITIN is 912-78-1234"),
    ("CREDENTIAL", "password = ${DB_PASSWORD}"),
    ("CREDENTIAL", "password: changeme"),
    ("CREDENTIAL", "commit 3f2a9c1 fixed the AKIA prefix check"),
    ("SPECIAL_CATEGORY", "the European Union and the credit union"),
    ("SPECIAL_CATEGORY", "the Great Depression and cancerous code"),
    ("STREET_ADDRESS", "read these 5 easy steps to drive growth"),
    ("STREET_ADDRESS", "the Chapter 11 Court filing"),
    ("PERSON", "Draft board minutes for the committee."),
    ("PERSON", "Fix total(xs) in the loop"),
    ("PERSON", "Compare Goldman Sachs with its peers"),
    ("PHONE_NUMBER", "verify SSN 536-22-8726 please"),
    ("CREDIT_CARD", "IBAN DE89 3704 0044 0532 0130 00 for the refund"),
    ("EMAIL_ADDRESS", "mail ops@northbridge-bank.example for access"),
    ("EMAIL_ADDRESS", "postgresql://svc:S3cr3tpw@db01.internal:5432/trades"),
]


@pytest.mark.parametrize(("entity_type", "text", "value"), POSITIVE)
def test_detects(bank: Scanner, entity_type: str, text: str, value: str) -> None:
    assert (entity_type, value) in _found(bank, text)


@pytest.mark.parametrize(("entity_type", "text"), NEGATIVE)
def test_does_not_detect(bank: Scanner, entity_type: str, text: str) -> None:
    assert entity_type not in {etype for etype, _ in _found(bank, text)}


CHECKSUMS = [
    (isin_ok, "US0378331005", True),
    (isin_ok, "US0378331006", False),
    (isin_ok, "QQ0378331005", False),
    (cusip_ok, "037833100", True),
    (cusip_ok, "38259P508", True),
    (cusip_ok, "037833101", False),
    (sedol_ok, "0263494", True),
    (sedol_ok, "B0YBKJ7", True),
    (sedol_ok, "0263495", False),
    (sedol_ok, "A263494", False),  # no vowels in a SEDOL
    (aba_ok, "021000021", True),
    (aba_ok, "021000022", False),
    (aba_ok, "991000021", False),  # no such Federal Reserve prefix
    (luhn_ok, "4111111111111111", True),
    (luhn_ok, "4111111111111112", False),
]


@pytest.mark.parametrize(("check", "value", "ok"), CHECKSUMS)
def test_check_digits(check: object, value: str, ok: bool) -> None:
    assert check(value) is ok  # type: ignore[operator]


def test_client_hits_carry_the_client_id_and_tag_the_excerpt(bank: Scanner) -> None:
    text = "Exposure to Halvorsen Maritime Holdings on 4402-118734 and Margaret O'Neill"
    hits = bank.scan(text)
    got = {(h.entity_type, h.subject_id) for h in hits}
    assert got >= {("CLIENT_NAME", "C001"), ("CLIENT_ACCOUNT", "C001"), ("CLIENT_NAME", "C002")}
    name = next(h for h in hits if h.entity_type == "CLIENT_NAME" and h.subject_id == "C001")
    assert "[CLIENT_NAME:C001]" in name.masked_excerpt
    assert "Halvorsen" not in name.masked_excerpt and "118734" not in name.masked_excerpt
    # A client is one value whatever name, alias or case it goes by.
    other = bank.scan("what about HALVORSEN MARITIME?")
    assert other[0].value_hash == name.value_hash
    # A client's name is reported as the client, not also as a person.
    assert not [h for h in hits if h.entity_type == "PERSON"]


def test_allow_list_and_own_domains(bank: Scanner, folder: Path) -> None:
    text = "Ask the Rates Desk, Goldman Sachs and ops@northbridge-bank.example; cc jo@example.com"
    found = _found(bank, text)
    assert ("EMAIL_ADDRESS", "jo@example.com") in found
    assert not {v for _, v in found} & {
        "Rates Desk",
        "Goldman Sachs",
        "ops@northbridge-bank.example",
    }
    plain = build_scanner(_settings(folder), KEY)
    assert ("EMAIL_ADDRESS", "ops@northbridge-bank.example") in _found(plain, text)
    assert plain.revision != bank.revision


def test_entity_thresholds(folder: Path) -> None:
    text = "Call me at 212-555-0142 tomorrow"
    default = build_scanner(_settings(folder), KEY)
    assert "PHONE_NUMBER" in {h.entity_type for h in default.scan(text)}
    strict = build_scanner(_settings(folder, entity_thresholds={"PHONE_NUMBER": 0.6}), KEY)
    assert "PHONE_NUMBER" not in {h.entity_type for h in strict.scan(text)}
    assert strict.revision != default.revision
    with pytest.raises(ScanError, match="entity_thresholds names types"):
        build_scanner(_settings(folder, entity_thresholds={"NO_SUCH_TYPE": 0.5}), KEY)


def test_without_registers_client_types_find_nothing() -> None:
    scanner = build_scanner(ScanSettings(), KEY)
    types = {h.entity_type for h in scanner.scan("Halvorsen Maritime Holdings, Project Kestrel")}
    assert not types & {"CLIENT_NAME", "CLIENT_ACCOUNT", "RESTRICTED_TERM"}


def test_register_content_is_part_of_the_revision(folder: Path, tmp_path: Path) -> None:
    base = build_scanner(_settings(folder), KEY)
    (tmp_path / "clients.csv").write_text(REGISTER + "C003,New Client,,\n", encoding="utf-8")
    (tmp_path / "restricted.csv").write_text(RESTRICTED, encoding="utf-8")
    changed = build_scanner(_settings(tmp_path), KEY)
    assert changed.revision != base.revision
    assert build_scanner(_settings(folder), KEY).revision == base.revision


def test_a_bad_register_stops_the_build(tmp_path: Path) -> None:
    bad = tmp_path / "clients.csv"
    bad.write_text("client_id,name\nC1,Acme\n", encoding="utf-8")
    with pytest.raises(ScanError, match="client_register .* lacks column"):
        build_scanner(ScanSettings(client_register=bad), KEY)


def test_special_category_terms_can_be_replaced(tmp_path: Path) -> None:
    terms = tmp_path / "terms.csv"
    terms.write_text("term,category\nvegan,belief\n", encoding="utf-8")
    scanner = build_scanner(ScanSettings(special_category_terms=terms), KEY)
    found = _found(scanner, "Jane Doe is vegan and has diabetes")
    assert ("SPECIAL_CATEGORY", "vegan") in found
    assert ("SPECIAL_CATEGORY", "diabetes") not in found


def test_revision_is_the_same_in_every_process() -> None:
    # Worker processes must agree with the parent: nothing in the revision may depend on
    # set or hash order, which changes with PYTHONHASHSEED.
    code = (
        "from auditor.config import ScanSettings\n"
        "from auditor.scan.engine import build_scanner\n"
        "print(build_scanner(ScanSettings(), b'k').revision)\n"
    )
    revisions = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert len(revisions) == 1 and build_scanner(ScanSettings(), b"k").revision in revisions


# --- the phone recognizer's digit gate -----------------------------------------------------------

PHONE_REGIONS = ("US", "GB", "DE", "FR", "IL", "IN", "CA", "BR")  # presidio's defaults, ours
# Digits of several scripts, the punctuation libphonenumber allows between digit groups, the
# letters of extensions and keypad numbers.
_PHONE_ALPHABET = list("0123456789xX+()-. /~\u2010\u00a0\uff10\u0661abcdefEXText#;:,")


@settings(max_examples=4000, deadline=None)
@given(text=st.text(st.sampled_from(_PHONE_ALPHABET), max_size=24))
def test_the_phone_gate_never_hides_a_number_libphonenumber_finds(text: str) -> None:
    if not may_hold_phone_number(text):
        for region in PHONE_REGIONS:
            assert not list(phonenumbers.PhoneNumberMatcher(text, region, leniency=1)), region


@pytest.mark.parametrize(
    ("text", "gate"),
    [
        ("call 030 1234 today", True),  # a four-digit German number
        ("+44 20 7946 0958", True),
        ("(212) 555-0100 x12", True),
        ("the 3 of us at 9:30", False),
        ("release 2.1 of v3", False),
        ("", False),
    ],
)
def test_the_phone_gate(text: str, gate: bool) -> None:
    assert may_hold_phone_number(text) is gate
