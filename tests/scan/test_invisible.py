"""Zero-width characters inside a card number or an e-mail address: the value is found, hashed
as the plain value, and its masked excerpt says zero-width characters were there."""

from __future__ import annotations

import pytest

from auditor.scan.engine import Scanner, masked_excerpts
from auditor.scan.invisible import ZERO_WIDTH, has_zero_width, without_zero_width

ZWSP, ZWNJ, ZWJ, WJ, BOM = ZERO_WIDTH

# (template, plain value, the value with zero-width characters, entity type)
CASES = [
    (
        "Please write to {} about the refund.",
        "oyelaran.t@mailhost.example.org",
        f"oyelaran{ZWSP}.t@mailhost{ZWSP}.example.org",
        "EMAIL_ADDRESS",
    ),
    (
        "contact: {}",
        "b.szekely@posta.example.hu",
        f"b{ZWJ}.sze{ZWNJ}kely@posta.example{WJ}.hu",
        "EMAIL_ADDRESS",
    ),
    (
        "Her card {} was declined twice.",
        "5276 1804 2233 9412",
        f"5276{ZWSP}1804{ZWSP}2233{ZWSP}9412",
        "CREDIT_CARD",
    ),
    (
        "card number {} exp 08/29",
        "3716 821947 31002",
        f"3716 {BOM}821947 {BOM}31002",
        "CREDIT_CARD",
    ),
]


def _only(scanner: Scanner, text: str, etype: str) -> list:
    return [h for h in scanner.scan(text) if h.entity_type == etype]


@pytest.mark.parametrize(("template", "plain", "hidden", "etype"), CASES)
def test_zero_width_inside_a_value_is_found_and_said(
    scanner: Scanner, template: str, plain: str, hidden: str, etype: str
) -> None:
    text = template.format(hidden)
    hits = _only(scanner, text, etype)
    assert [(h.start, h.end) for h in hits] == [
        (text.index(hidden), text.index(hidden) + len(hidden))
    ]
    assert f"[{etype}, zero-width characters]" in hits[0].masked_excerpt
    # The same value without them: same hash, and the plain tag.
    clean = _only(scanner, template.format(plain), etype)
    assert [h.value_hash for h in clean] == [hits[0].value_hash]
    assert f"[{etype}]" in clean[0].masked_excerpt
    assert "zero-width" not in clean[0].masked_excerpt


def test_zero_width_outside_a_value_is_not_noted(scanner: Scanner) -> None:
    text = f"Hello{ZWSP} team, mail a.lindgren@example.se please"
    hits = _only(scanner, text, "EMAIL_ADDRESS")
    assert len(hits) == 1 and "zero-width" not in hits[0].masked_excerpt


@pytest.mark.parametrize(
    ("text", "plain", "index"),
    [
        ("ab", "ab", [0, 1, 2]),
        (f"a{ZWSP}b", "ab", [0, 2, 3]),
        (f"{BOM}{BOM}", "", [2]),
    ],
)
def test_offsets_map_back(text: str, plain: str, index: list[int]) -> None:
    assert without_zero_width(text) == (plain, index)
    assert has_zero_width(text) == (text != plain)


def test_the_note_is_on_the_excerpt_of_the_span_that_has_them() -> None:
    text = f"x a{ZWSP}b y cd z"
    got = masked_excerpts(text, [(2, 5, "PERSON"), (8, 10, "PERSON")], context=20)
    assert got[0].count("zero-width") == 1 and "[PERSON, zero-width characters]" in got[0]
    assert "[PERSON, zero-width characters]" not in got[1]
