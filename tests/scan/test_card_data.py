"""Card data beside a card number (PCI DSS sensitive authentication data and expiry dates):
the recognizers as tables, the excerpts that must never show it, and the per-text cap on
detections. Failure messages name cases, never values."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from auditor.config import ScanSettings
from auditor.db.models import Detection, ScanRecord
from auditor.db.session import session_scope
from auditor.scan.engine import (
    CARD_DATA_ENTITIES,
    REASON_DETECTION_CAP,
    Scanner,
    _Intervals,
    build_scanner,
    masked_excerpts,
    numbers_beside_financial,
)
from auditor.scan.stage import REASON_CODES, scan_sample
from tests.scan.helpers import seed_sample

CARD_TYPES = ["CARD_SECURITY_CODE", "CARD_EXPIRY", "CARD_TRACK_DATA"]
CASE_03 = "card 4111 1111 1111 1111 cvv 731 exp 09/27"
TRACK_1 = "%B4000056655665556^DOE/JOHN^2709101000000000000000?"
TRACK_2 = ";4000056655665556=27091010000000000000?"


def _with_card_types(**kwargs: object) -> ScanSettings:
    # The default entity list does not name the card types yet: ask for them explicitly.
    entities = list(dict.fromkeys([*ScanSettings().entities, *CARD_TYPES]))
    return ScanSettings(entities=entities, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def cards(hash_key: bytes) -> Scanner:
    return build_scanner(_with_card_types(), hash_key)


def _found(scanner: Scanner, text: str) -> set[tuple[str, str]]:
    return {(h.entity_type, text[h.start : h.end]) for h in scanner.scan(text)}


POSITIVE = [
    ("CARD_SECURITY_CODE", "card 4111 1111 1111 1111 cvv 731", "731"),
    ("CARD_SECURITY_CODE", "CVV: 0731", "0731"),
    ("CARD_SECURITY_CODE", "the cvc=123 was rejected", "123"),
    ("CARD_SECURITY_CODE", "Visa card, security code is 123", "123"),
    ("CARD_SECURITY_CODE", "CVV2 #482 on the back", "482"),
    ("CARD_SECURITY_CODE", "CVV code: 731", "731"),
    ("CARD_SECURITY_CODE", "card verification value 904", "904"),
    ("CARD_SECURITY_CODE", "Amex card CID 8642", "8642"),
    ("CARD_SECURITY_CODE", "enter 731 (CVV) at checkout", "731"),
    ("CARD_EXPIRY", "card 4111 1111 1111 1111 cvv 731 exp 09/27", "09/27"),
    ("CARD_EXPIRY", "card expires 09/2027", "09/2027"),
    ("CARD_EXPIRY", "valid thru 12/26", "12/26"),
    ("CARD_EXPIRY", "MM/YY: 09/27", "09/27"),
    ("CARD_EXPIRY", "Expiry date: Sep 2027", "Sep 2027"),
    ("CARD_EXPIRY", "charge 4111-1111-1111-1111 9/27 today", "9/27"),
    ("CARD_EXPIRY", "the card on file expires 03/28", "03/28"),
    ("CARD_TRACK_DATA", f"the reader logged {TRACK_1} at 10:02", TRACK_1),
    ("CARD_TRACK_DATA", f"swipe {TRACK_2} failed", TRACK_2),
    ("CARD_TRACK_DATA", "tag 57: 4000056655665556D27091010000000000F", None),
    ("CARD_TRACK_DATA", "PIN block: 041215FEDCBA9876 from the HSM", "041215FEDCBA9876"),
]

NEGATIVE = [
    ("CARD_SECURITY_CODE", "What is a cvv and where is it printed?"),
    ("CARD_SECURITY_CODE", "cvv validation failed for 12 cards"),
    ("CARD_SECURITY_CODE", "cvv 12345 is not a code"),
    ("CARD_SECURITY_CODE", "order 731 shipped on time"),
    ("CARD_SECURITY_CODE", "card 4111 1111 1111 1111 (CVV missing)"),
    ("CARD_EXPIRY", "our target year is 2027"),
    ("CARD_EXPIRY", "simplify 09/27 to lowest terms, then add 1/3"),
    ("CARD_EXPIRY", "The lease expires 12/31 per the agreement"),
    ("CARD_EXPIRY", "the offer expires 12/31/2026"),
    ("CARD_EXPIRY", "compute exp(09/27) to four places"),
    ("CARD_EXPIRY", "exp 13/27 is no month"),
    ("CARD_EXPIRY", "order 4111111111111112 ships 09/27"),  # no card: fails Luhn
    ("CARD_TRACK_DATA", ";4111111111111112=27091010000000000000?"),  # PAN fails Luhn
    ("CARD_TRACK_DATA", "%B4000056655665556^DOE/JOHN^2713101000000000000000?"),  # month 13
    ("CARD_TRACK_DATA", "x=27091010000000000000 in the config"),
    ("CARD_TRACK_DATA", "commit 041215fedcba9876 fixed the PIN screen"),
]


@pytest.mark.parametrize(("entity_type", "text", "value"), POSITIVE)
def test_detects(cards: Scanner, entity_type: str, text: str, value: str | None) -> None:
    found = _found(cards, text)
    if value is None:
        assert entity_type in {etype for etype, _ in found}
    else:
        assert (entity_type, value) in found


@pytest.mark.parametrize(("entity_type", "text"), NEGATIVE)
def test_does_not_detect(cards: Scanner, entity_type: str, text: str) -> None:
    assert entity_type not in {etype for etype, _ in _found(cards, text)}


# --- never stored -------------------------------------------------------------------------------


def _shows(excerpt: str, value: str) -> bool:
    """Whether `excerpt` shows `value` as a whole token (not inside a longer number or tag)."""
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])", excerpt) is not None


@pytest.mark.parametrize("which", ["default entities", "card types reported"])
def test_case_03_card_verification_codes_never_stored(
    scanner: Scanner, cards: Scanner, which: str
) -> None:
    chosen = scanner if which == "default entities" else cards
    hits = chosen.scan(CASE_03)
    assert "CREDIT_CARD" in {h.entity_type for h in hits}
    for hit in hits:
        for value in ("731", "09/27", "4111", "1111"):
            assert not _shows(hit.masked_excerpt, value), (hit.entity_type, "shows a value")
        assert "cvv [CARD_SECURITY_CODE]" in hit.masked_excerpt
    card = next(h for h in hits if h.entity_type == "CREDIT_CARD")
    assert card.masked_excerpt == "card [CREDIT_CARD] cvv [CARD_SECURITY_CODE] exp [CARD_EXPIRY]"
    if which == "card types reported":
        assert {h.entity_type for h in hits} == {"CREDIT_CARD", *CARD_TYPES} - {"CARD_TRACK_DATA"}


def test_card_data_is_hashed_by_type_not_by_value(cards: Scanner) -> None:
    # A keyed hash of a three-digit code is undone by trying the thousand codes with the key.
    one = [h for h in cards.scan("card 4111 1111 1111 1111 cvv 731") if h.entity_type in CARD_TYPES]
    two = [h for h in cards.scan("card 4111 1111 1111 1111 cvv 482") if h.entity_type in CARD_TYPES]
    assert [h.value_hash for h in one] == [h.value_hash for h in two] != []
    for etype in CARD_DATA_ENTITIES:
        assert cards.value_hash(etype, "731") == cards.value_hash(etype, "482")
    assert cards.value_hash("CREDIT_CARD", "4111 1111 1111 1111") != cards.value_hash(
        "CREDIT_CARD", "4000 0566 5566 5556"
    )


@pytest.mark.parametrize(
    "text",
    [
        "Card: 4111 1111 1111 1111\nExp: 09/27\nCVV: 731",
        "card 4111 1111 1111 1111, code 731, thanks",
        "pay 4111-1111-1111-1111 / 731 today",
        "CVV 731 card 4111 1111 1111 1111",
        "card 4111 1111 1111 1111 exp 9/27 sec 731 pin 4821",
        "IBAN DE89 3704 0044 0532 0130 00 key 731 ok",
        "routing 021000021 pin 731 today",
    ],
    ids=["form", "code", "slash", "before", "chain", "iban", "routing"],
)
def test_short_numbers_beside_a_financial_identifier_are_masked(
    scanner: Scanner, text: str
) -> None:
    hits = scanner.scan(text)
    assert hits, "nothing detected: the case tests nothing"
    for hit in hits:
        for run in re.findall(r"\d+(?:/\d+)?", text):
            if len(re.sub(r"\D", "", run)) >= 3:
                assert not _shows(hit.masked_excerpt, run), (hit.entity_type, "a number shows")


BESIDE = [
    ("card 4111 1111 1111 1111 cvv 731", [(0, 5, 24)], ["731"]),
    ("card 4111 1111 1111 1111 then 2 more words 731", [(0, 5, 24)], []),
    ("card 4111 1111 1111 1111 qty 12", [(0, 5, 24)], []),  # two digits: a quantity
    ("cvv 731 card 4111 1111 1111 1111", [(0, 13, 32)], ["731"]),
    ("4111 1111 1111 1111 a 111 b 222 c 333 d 444", [(0, 0, 19)], ["111", "222", "333"]),
    ("Jane Smith 731", [(1, 0, 10)], []),  # not a financial identifier
]


@pytest.mark.parametrize(("text", "spans", "expected"), BESIDE)
def test_numbers_beside_financial(
    text: str, spans: list[tuple[int, int, int]], expected: list[str]
) -> None:
    labels = ["CREDIT_CARD", "PERSON"]
    found = numbers_beside_financial(text, [(s, e, labels[k]) for k, s, e in spans])
    assert [text[s:e] for s, e in found] == expected


def test_client_account_labels_count_as_financial() -> None:
    text = "acct NB12345678 sort 731"
    (excerpt,) = masked_excerpts(text, [(5, 15, "CLIENT_ACCOUNT:C002")], 40)
    assert excerpt == "acct [CLIENT_ACCOUNT:C002] sort [NUMBER]"


# --- the detection cap --------------------------------------------------------------------------


def test_detections_beyond_the_cap_are_dropped_and_the_text_is_partial(hash_key: bytes) -> None:
    capped = build_scanner(ScanSettings(max_detections_per_text=5), hash_key)
    text = "Lorem ipsum. " + "John Smith met Mary Jones. " * 40 + "Card 4111 1111 1111 1111."
    (result,) = capped.scan_results([text])
    assert len(result.hits) == 5
    assert result.status == "partial" and result.reason_code == REASON_DETECTION_CAP
    assert result.reason is not None and "Smith" not in result.reason
    # The highest scores stay (the card), and the kept hits are in text order.
    assert "CREDIT_CARD" in {h.entity_type for h in result.hits}
    assert [h.start for h in result.hits] == sorted(h.start for h in result.hits)
    uncapped = build_scanner(ScanSettings(), hash_key)
    (full,) = uncapped.scan_results([text])
    assert len(full.hits) > 5 and full.status == "scanned"
    assert capped.revision != uncapped.revision


def test_a_text_at_the_cap_is_scanned_in_full(hash_key: bytes) -> None:
    capped = build_scanner(ScanSettings(max_detections_per_text=2), hash_key)
    (result,) = capped.scan_results(["Card 4111 1111 1111 1111 for John Smith"])
    assert len(result.hits) == 2 and result.status == "scanned" and result.reason_code is None


def test_the_stage_records_the_cap(engine: Engine, hash_key: bytes) -> None:
    assert REASON_DETECTION_CAP in REASON_CODES
    capped = build_scanner(ScanSettings(max_detections_per_text=3), hash_key)
    text = "John Smith met Mary Jones. " * 20
    with session_scope(engine) as s:
        seed_sample(s, [("e1", text, "Done.", "present")], "2026-10-cap")
    with session_scope(engine) as s:
        stats = scan_sample(s, capped, "2026-10-cap", workers=1)
    assert stats.partial_reasons == {REASON_DETECTION_CAP: 1}
    with session_scope(engine) as s:
        record = s.scalars(select(ScanRecord).where(ScanRecord.field == "prompt")).one()
        assert (record.status, record.reason_code) == ("partial", REASON_DETECTION_CAP)
        assert len(s.scalars(select(Detection)).all()) == 3


def test_a_long_repetitive_text_stays_at_the_cap_quickly(hash_key: bytes) -> None:
    capped = build_scanner(ScanSettings(max_detections_per_text=50), hash_key)
    text = "John Smith met Mary Jones. " * 4000  # about 100,000 characters, 8,000 names
    (result,) = capped.scan_results([text])
    assert len(result.hits) == 50 and result.reason_code == REASON_DETECTION_CAP


# --- overlap lookups ------------------------------------------------------------------------------

spans = st.lists(
    st.tuples(st.integers(0, 60), st.integers(1, 20)).map(lambda t: (t[0], t[0] + t[1])),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(intervals=spans, query=spans.filter(bool))
def test_interval_lookups_agree_with_comparing_every_pair(
    intervals: list[tuple[int, int]], query: list[tuple[int, int]]
) -> None:
    index = _Intervals(intervals)
    for start, end in query:
        assert index.overlaps(start, end) == any(lo < end and start < hi for lo, hi in intervals)
        assert index.contains(start, end) == any(lo <= start and end <= hi for lo, hi in intervals)
