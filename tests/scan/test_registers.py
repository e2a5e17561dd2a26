"""The firm's registers: client names and accounts, the restricted list, term lists."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.errors import ScanError
from auditor.scan.registers import (
    AccountMatcher,
    TermMatcher,
    _account_stream,
    _account_stream_by_character,
    _normalize,
    _normalize_by_character,
    load_client_register,
    load_restricted_list,
    load_term_list,
)

REGISTER = """client_id,name,aliases,accounts
C001,Halvorsen Maritime Holdings,Halvorsen Maritime|HMH Group,4402-118734|NB12345678
C002,Margaret O'Neill,,GB-77 0012 3456
C003,Acme,Acme Corp,99887766
"""
RESTRICTED = """term,kind,note
Project Kestrel,codename,M&A
Brightwater Minerals plc,issuer,watch list
HLVM,ticker,
"""


@pytest.fixture
def register_file(tmp_path: Path) -> Path:
    path = tmp_path / "clients.csv"
    path.write_text(REGISTER, encoding="utf-8")
    return path


@pytest.fixture
def restricted_file(tmp_path: Path) -> Path:
    path = tmp_path / "restricted.csv"
    path.write_text(RESTRICTED, encoding="utf-8")
    return path


NAMES = [
    # (text, [(matched text, client id)])
    ("Exposure to Halvorsen Maritime Holdings?", [("Halvorsen Maritime Holdings", "C001")]),
    ("exposure to HALVORSEN maritime", [("HALVORSEN maritime", "C001")]),
    ("Halvorsen Maritime's margin call", [("Halvorsen Maritime", "C001")]),
    ("Halvorsen Maritime’s margin call", [("Halvorsen Maritime", "C001")]),  # typographic
    ("ask Halvorsen\nMaritime  Holdings", [("Halvorsen\nMaritime  Holdings", "C001")]),
    ("the HMH Group board", [("HMH Group", "C001")]),
    ("Margaret O'Neill called", [("Margaret O'Neill", "C002")]),
    ("Acme Corp and Acme", [("Acme Corp", "C003"), ("Acme", "C003")]),
    ("Acmes and AcmeCorp and acme-like", [("acme", "C003")]),  # only the whole word
    ("Halvorsen alone is no client", []),
    ("", []),
]


@pytest.mark.parametrize(("text", "expected"), NAMES)
def test_client_names_match_whole_words_any_case(
    register_file: Path, text: str, expected: list[tuple[str, str]]
) -> None:
    register = load_client_register(register_file)
    found = [(text[m.start : m.end], m.subject) for m in register.names.find(text)]
    assert found == expected


ACCOUNTS = [
    ("pay into 4402-118734 today", [("4402-118734", "C001")]),
    ("pay into 4402118734.", [("4402118734", "C001")]),
    ("pay into 4402 1187 34 now", [("4402 1187 34", "C001")]),
    ("acct nb12345678", [("nb12345678", "C001")]),
    ("acct NB-1234-5678", [("NB-1234-5678", "C001")]),
    ("iban GB77 0012 3456 ok", [("GB77 0012 3456", "C002")]),
    ("ref 99887766", [("99887766", "C003")]),
    ("44021187345 is longer", []),  # a longer number is another number
    ("4402-118734-9 has a suffix", []),
    ("x4402118734", []),
    ("998877 66", [("998877 66", "C003")]),
]


@pytest.mark.parametrize(("text", "expected"), ACCOUNTS)
def test_accounts_match_with_or_without_separators(
    register_file: Path, text: str, expected: list[tuple[str, str]]
) -> None:
    register = load_client_register(register_file)
    found = [(text[m.start : m.end], m.subject) for m in register.accounts.find(text)]
    assert found == expected


RESTRICTED_CASES = [
    ("Any news on Project Kestrel?", ["Project Kestrel"]),
    ("any news on project kestrel?", ["project kestrel"]),
    ("project\nkestrel timetable", ["project\nkestrel"]),
    ("Where do kestrels nest?", []),  # a fragment of a term is not the term
    ("a kestrel over the field", []),
    ("Project Kestrels", []),
    ("Brightwater Minerals plc results", ["Brightwater Minerals plc"]),
    ("Brightwater Minerals results", []),
    ("buy HLVM and $HLVM", ["HLVM", "HLVM"]),
    ("hlvm in lower case is a word, not the ticker", []),
]


@pytest.mark.parametrize(("text", "expected"), RESTRICTED_CASES)
def test_restricted_terms_match_only_whole(
    restricted_file: Path, text: str, expected: list[str]
) -> None:
    terms = load_restricted_list(restricted_file)
    assert [text[m.start : m.end] for m in terms.terms.find(text)] == expected


BROKEN = [
    ("client_register", "client_id,name\nC1,Acme\n", "lacks column"),
    ("client_register", "client_id,name,aliases,accounts\n,Acme,,\n", "line 2 .* no client_id"),
    ("client_register", "client_id,name,aliases,accounts\nC1,Acme,,12\n", "line 2 .* fewer than"),
    ("client_register", "client_id,name,aliases,accounts\nC1,Acme,,,extra\n", "more fields"),
    ("restricted_list", "term,kind,note\nProject X,secret,\n", "line 2 .* unknown kind"),
    ("restricted_list", "term,kind,note\n,codename,\n", "line 2 .* no term"),
    ("restricted_list", "term,note\nX,\n", "lacks column"),
]


@pytest.mark.parametrize(("what", "content", "message"), BROKEN)
def test_broken_registers_name_the_file_and_line(
    tmp_path: Path, what: str, content: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    loader = load_client_register if what == "client_register" else load_restricted_list
    with pytest.raises(ScanError, match=message) as info:
        loader(path)
    assert str(path) in info.value.message
    assert "Acme" not in info.value.message and "Project X" not in info.value.message


def test_unreadable_and_non_utf8_registers(tmp_path: Path) -> None:
    with pytest.raises(ScanError, match="cannot read"):
        load_client_register(tmp_path / "missing.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("client_id,name,aliases,accounts\nC1,Müller,,\n".encode("latin-1"))
    with pytest.raises(ScanError, match="not UTF-8"):
        load_client_register(latin)


def test_term_list_from_csv(tmp_path: Path) -> None:
    path = tmp_path / "terms.csv"
    path.write_text("term,category\ndiabetes,health\ntrade union,trade_union\n", encoding="utf-8")
    terms = load_term_list(path)
    text = "A trade union rep with diabetes; unions and diabetic are other words"
    assert [(text[m.start : m.end], m.subject) for m in terms.terms.find(text)] == [
        ("trade union", "trade_union"),
        ("diabetes", "health"),
    ]


def test_longest_match_wins_and_ids_are_kept() -> None:
    names = TermMatcher()
    names.add("Acme", "C1")
    names.add("Acme Holdings", "C2")
    names.add("Holdings Plus", "C3")
    text = "Acme Holdings Plus"
    assert [(text[m.start : m.end], m.subject) for m in names.find(text)] == [
        ("Acme Holdings", "C2")
    ]
    accounts = AccountMatcher()
    assert not accounts.add("12-34", "C1")  # too short to tell from any number
    assert len(accounts) == 0


def test_a_register_of_100000_clients_loads_whole_and_finds_the_last_one(tmp_path: Path) -> None:
    # How fast it loads and scans is measured by benchmarks/register_scale.py, not here.
    path = tmp_path / "big.csv"
    lines = ["client_id,name,aliases,accounts"]
    for n in range(100_000):
        lines.append(f"X{n:06d},Client {n:06d} Holdings,Client {n:06d},ZX{n:09d}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    register = load_client_register(path)
    assert register.clients == 100_000 and register.name_count == 200_000
    text = "Please review Client 099999 Holdings and account ZX000012345. " * 50
    found = register.names.find(text)
    accounts = register.accounts.find(text)
    assert len(found) == 50 and {m.subject for m in found} == {"X099999"}
    assert len(accounts) == 50 and {m.subject for m in accounts} == {"X012345"}


# Characters where the fast normalisation could go wrong: Unicode whitespace (str.isspace and
# the regex \s must agree), characters that lowercase to two (İ) or by context (final sigma),
# the apostrophes folded to ASCII.
_TRICKY = list("aB Σσς\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2028\u2029\u3000İıẞß’‘ʼ'é1-.")


@settings(max_examples=3000, deadline=None)
@given(text=st.text(st.sampled_from(_TRICKY) | st.characters(), max_size=40), keep=st.booleans())
def test_fast_normalisation_equals_the_character_by_character_one(text: str, keep: bool) -> None:
    assert _normalize(text, keep) == _normalize_by_character(text, keep)


_ACCOUNT_TRICKY = list("aZ09_ -./\u00a0\u2010\u2011\u2012\u2013\u2014é١²½ßİ\x00\n")


@settings(max_examples=3000, deadline=None)
@given(text=st.text(st.sampled_from(_ACCOUNT_TRICKY) | st.characters(), max_size=30))
def test_fast_account_stream_equals_the_character_by_character_one(text: str) -> None:
    # Separators between Unicode letters or digits are dropped (str.isalnum), as before.
    assert _account_stream(text) == _account_stream_by_character(text)
