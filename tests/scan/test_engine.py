"""The scanner on real text: what it detects, how values are hashed, what excerpts show."""

from __future__ import annotations

import hashlib
import hmac
import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

from auditor.config import ScanSettings
from auditor.scan.engine import (
    MAX_EXCERPT_CHARS,
    Hit,
    LinearTimeLemmaContextAwareEnhancer,
    Scanner,
    build_analyzer,
    build_scanner,
    masked_excerpts,
    normalize_value,
)

DETECTED = [
    ("Please email john.smith@example.com today", "EMAIL_ADDRESS", "john.smith@example.com"),
    ("Write to jane_doe+tag@sub.example.co.uk", "EMAIL_ADDRESS", "jane_doe+tag@sub.example.co.uk"),
    # Intranet and reserved domains are not on the Public Suffix List; see recognizers.py.
    ("email: a.b@bank.internal", "EMAIL_ADDRESS", "a.b@bank.internal"),
    ("cc ann.lee@northbridge-bank.example", "EMAIL_ADDRESS", "ann.lee@northbridge-bank.example"),
    ("My phone is +1 (212) 555-0142.", "PHONE_NUMBER", "+1 (212) 555-0142"),
    ("phone: 202-456-1111", "PHONE_NUMBER", "202-456-1111"),
    ("Card 4111 1111 1111 1111 expires 12/27", "CREDIT_CARD", "4111 1111 1111 1111"),
    ("card number 4111-1111-1111-1111", "CREDIT_CARD", "4111-1111-1111-1111"),
    ("Mastercard 5555 5555 5555 4444 on file", "CREDIT_CARD", "5555 5555 5555 4444"),
    ("social security number 536-22-8726", "US_SSN", "536-22-8726"),
    ("John Smith asked about the loan.", "PERSON", "John Smith"),
    ("My colleague Maria Garcia from Madrid", "PERSON", "Maria Garcia"),
    ("My colleague Maria Garcia from Madrid", "LOCATION", "Madrid"),
    (
        "IBAN GB82 WEST 1234 5698 7654 32 for the transfer",
        "IBAN_CODE",
        "GB82 WEST 1234 5698 7654 32",
    ),
    ("pay to IBAN DE89370400440532013000", "IBAN_CODE", "DE89370400440532013000"),
    ("see https://www.example.com/path?x=1", "URL", "https://www.example.com/path?x=1"),
    ("server at 192.168.1.20", "IP_ADDRESS", "192.168.1.20"),
]

# What presidio rejects outright: not reported at any threshold.
NOT_DETECTED = [
    ("My SSN is 078-05-1120", "US_SSN"),  # the famous Woolworth wallet number: rejected
    ("ssn 123-45-6789", "US_SSN"),  # a sequence presidio treats as a placeholder
    ("Card 4111 1111 1111 1112", "CREDIT_CARD"),  # fails the Luhn check
    ("IBAN GB82 WEST 1234 5698 7654 33", "IBAN_CODE"),  # wrong check digits
]

# Weak matches scored 0.4-0.5: reported at the default threshold (the policies' grey-zone floor),
# not at 0.5.
GREY_ZONE = [
    ("Call me at 212-555-0142 tomorrow", "PHONE_NUMBER", "212-555-0142"),  # no phone context
    ("my bank account number is 1234567890123", "US_BANK_NUMBER", "1234567890123"),  # weak
]


@pytest.mark.parametrize(("text", "entity_type", "value"), DETECTED)
def test_detects(scanner: Scanner, text: str, entity_type: str, value: str) -> None:
    found = {(h.entity_type, text[h.start : h.end]) for h in scanner.scan(text)}
    assert (entity_type, value) in found


@pytest.mark.parametrize(("text", "entity_type"), NOT_DETECTED)
def test_does_not_detect(scanner: Scanner, text: str, entity_type: str) -> None:
    assert entity_type not in {h.entity_type for h in scanner.scan(text)}


@pytest.mark.parametrize(("text", "entity_type", "value"), GREY_ZONE)
def test_grey_zone_follows_the_threshold(
    scanner: Scanner, hash_key: bytes, text: str, entity_type: str, value: str
) -> None:
    assert scanner.score_threshold <= 0.4
    found = {
        (h.entity_type, text[h.start : h.end]) for h in scanner.scan(text) if 0.4 <= h.score < 0.5
    }
    assert (entity_type, value) in found
    strict = build_scanner(ScanSettings(score_threshold=0.5), hash_key)
    assert entity_type not in {h.entity_type for h in strict.scan(text)}


def test_plain_text_has_no_hits(scanner: Scanner) -> None:
    assert scanner.scan("Summarise the quarterly results in three bullet points.") == []
    assert scanner.scan("") == []


def test_hits_are_ordered_unique_and_above_threshold(scanner: Scanner) -> None:
    text = "Contact john.smith@example.com, card 4111 1111 1111 1111, John Smith in London"
    hits = scanner.scan(text)
    assert [(h.start, h.end, h.entity_type) for h in hits] == sorted(
        (h.start, h.end, h.entity_type) for h in hits
    )
    assert len({(h.entity_type, h.start, h.end) for h in hits}) == len(hits)
    assert all(scanner.score_threshold <= h.score <= 1.0 for h in hits)
    assert all(re.fullmatch(r"[0-9a-f]{64}", h.value_hash) for h in hits)
    assert {h.recognizer for h in hits} >= {
        "EmailRecognizer",
        "PaymentCardRecognizer",
        "SpacyRecognizer",
    }


def test_only_configured_entities_are_reported(hash_key: bytes) -> None:
    only_cards = build_scanner(ScanSettings(entities=["CREDIT_CARD"]), hash_key)
    hits = only_cards.scan("John Smith, john@example.com, card 4111 1111 1111 1111")
    assert [h.entity_type for h in hits] == ["CREDIT_CARD"]
    assert only_cards.recognizer_names == ["PaymentCardRecognizer"]


def test_scan_many_matches_scan(scanner: Scanner) -> None:
    texts = [text for text, _, _ in DETECTED] + ["", "nothing to see here"]
    assert scanner.scan_many(texts, batch_size=4) == [scanner.scan(t) for t in texts]
    assert scanner.scan_many([]) == []


def test_lone_surrogates_do_not_crash_spacy(scanner: Scanner) -> None:
    text = "card 4111 1111 1111 1111 \ud800 end"
    hits = scanner.scan(text)
    assert [(h.entity_type, h.start, h.end) for h in hits] == [("CREDIT_CARD", 5, 24)]
    assert "\ud800" not in hits[0].masked_excerpt


def test_long_text_is_scanned_in_its_first_max_text_chars(hash_key: bytes) -> None:
    short = build_scanner(ScanSettings(max_text_chars=1000), hash_key)
    text = "card 4111 1111 1111 1111 " + "word " * 300 + "card 5555 5555 5555 4444 end"
    assert len(text) > 1000
    hits = short.scan(text)
    assert [(h.entity_type, text[h.start : h.end]) for h in hits] == [
        ("CREDIT_CARD", "4111 1111 1111 1111")
    ]
    assert short.scanned_length(text) == 1000
    assert short.scanned_length("short") == 5
    # Context stops at the end of the scanned part, drops the word cut there, and says so.
    near_cut = "word " * 195 + "4111111111111111 " + "abc defgh " + "tail " * 50
    assert near_cut[1000] == "h"
    (hit,) = short.scan(near_cut)
    assert hit.masked_excerpt == "…word word word word [CREDIT_CARD] abc…"


# --- value hashes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entity_type", "a", "b"),
    [
        ("CREDIT_CARD", "4111 1111 1111 1111", "4111-1111-1111-1111"),
        ("CREDIT_CARD", "4111111111111111", " 4111 1111 1111 1111 "),
        ("PHONE_NUMBER", "+1 (212) 555-0142", "1 212 555 0142"),
        ("IBAN_CODE", "GB82 WEST 1234 5698 7654 32", "gb82west12345698765432"),
        ("US_SSN", "536-22-8726", "536 22 8726"),
        ("US_BANK_NUMBER", "1234-5678-9012", "123456789012"),
        ("EMAIL_ADDRESS", "John.Smith@Example.com", "john.smith@example.com "),
        ("PERSON", "John Smith", " JOHN SMITH"),
    ],
)
def test_hash_ignores_formatting(scanner: Scanner, entity_type: str, a: str, b: str) -> None:
    assert scanner.value_hash(entity_type, a) == scanner.value_hash(entity_type, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("CREDIT_CARD", "4111111111111111"), ("CREDIT_CARD", "4111111111111112")),
        (("CREDIT_CARD", "4111111111111111"), ("PHONE_NUMBER", "4111111111111111")),
        (("PERSON", "John Smith"), ("PERSON", "JohnSmith")),  # names keep their spaces
        (("EMAIL_ADDRESS", "a.b@x.com"), ("EMAIL_ADDRESS", "ab@x.com")),
    ],
)
def test_hash_distinguishes_values_and_types(
    scanner: Scanner, a: tuple[str, str], b: tuple[str, str]
) -> None:
    assert scanner.value_hash(*a) != scanner.value_hash(*b)


def test_hash_is_hmac_of_type_and_normalized_value(scanner: Scanner, hash_key: bytes) -> None:
    expected = hmac.new(hash_key, b"CREDIT_CARD\x004111111111111111", hashlib.sha256).hexdigest()
    assert scanner.value_hash("CREDIT_CARD", "4111 1111 1111 1111") == expected
    assert normalize_value("IBAN_CODE", " GB82 West-1234 ") == "gb82west1234"
    assert normalize_value("PERSON", "  Ann \n LEE ") == "ann lee"  # a name over a line break


def test_hash_depends_on_the_key(scanner: Scanner) -> None:
    other = build_scanner(ScanSettings(), b"another key")
    assert other.value_hash("PERSON", "John Smith") != scanner.value_hash("PERSON", "John Smith")


def test_same_card_hashes_alike_in_different_texts(scanner: Scanner) -> None:
    (a,) = scanner.scan("Card 4111 1111 1111 1111 please")
    (b,) = scanner.scan("the number is 4111-1111-1111-1111, charge it")
    assert (a.entity_type, b.entity_type) == ("CREDIT_CARD", "CREDIT_CARD")
    assert a.value_hash == b.value_hash


# --- masked excerpts --------------------------------------------------------------------------

CARD = "4111111111111111"

EXCERPTS = [
    # (text, spans, context, full_length, expected excerpt of the first span)
    (
        "Card 4111 1111 1111 1111 expires 12/27",
        [(5, 24, "CREDIT_CARD")],
        24,
        None,
        "Card [CREDIT_CARD] expires [NUMBER]",
    ),
    (  # newlines and runs of spaces collapse to one space
        f"Hello,\n\nmy card is\n{CARD}\nthanks a lot",
        [(19, 35, "CREDIT_CARD")],
        24,
        None,
        "Hello, my card is [CREDIT_CARD] thanks a lot",
    ),
    (  # cut at word boundaries, "…" where cut
        f"the quick brown fox jumps over {CARD} and the lazy dog sleeps",
        [(31, 47, "CREDIT_CARD")],
        12,
        None,
        "…jumps over [CREDIT_CARD] and the…",
    ),
    (  # other detections in the window are masked too
        f"John Smith paid with {CARD} today",
        [(21, 37, "CREDIT_CARD"), (0, 10, "PERSON")],
        24,
        None,
        "[PERSON] paid with [CREDIT_CARD] today",
    ),
    (  # a detection reaching out of the window is left out whole, never shown in part
        f"John Smith paid with {CARD} today",
        [(0, 10, "PERSON"), (21, 37, "CREDIT_CARD")],
        24,
        None,
        "[PERSON] paid with…",
    ),
    (  # a repeat of a detected value is masked even where presidio did not report it
        f"call {CARD} or {CARD} now",
        [(5, 21, "CREDIT_CARD")],
        30,
        None,
        "call [CREDIT_CARD] or [CREDIT_CARD] now",
    ),
    (  # overlapping detections merge; the excerpt names the one it is about
        "mail john.smith@example.com now",
        [(16, 27, "URL"), (5, 27, "EMAIL_ADDRESS")],
        24,
        None,
        "mail [URL] now",
    ),
    ("id " + CARD, [(3, 19, "CREDIT_CARD")], 0, None, "…[CREDIT_CARD]"),
    # Only the first characters of a longer text were scanned: the last word may be cut.
    ("card " + CARD + " ends", [(5, 21, "CREDIT_CARD")], 24, 5000, "card [CREDIT_CARD]…"),
    ("card " + CARD + " ends ", [(5, 21, "CREDIT_CARD")], 24, 5000, "card [CREDIT_CARD] ends…"),
]


@pytest.mark.parametrize(("text", "spans", "context", "full_length", "expected"), EXCERPTS)
def test_masked_excerpt(
    text: str,
    spans: list[tuple[int, int, str]],
    context: int,
    full_length: int | None,
    expected: str,
) -> None:
    assert masked_excerpts(text, spans, context, full_length)[0] == expected


def test_excerpt_is_capped() -> None:
    text = " ".join(f"u{i}@x.co" for i in range(60))
    spans = [(m.start(), m.end(), "EMAIL_ADDRESS") for m in re.finditer(r"\S+", text)]
    excerpts = masked_excerpts(text, spans, 200)
    assert max(len(e) for e in excerpts) <= MAX_EXCERPT_CHARS
    assert all("@" not in e for e in excerpts)


def _luhn_complete(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return digits + str((10 - total % 10) % 10)


cards = st.builds(
    lambda body, sep: sep.join(re.findall(".{4}", _luhn_complete("4" + body))),
    st.text(string.digits, min_size=14, max_size=14),
    st.sampled_from(["", " ", "-"]),
)
emails = st.builds(
    "{}@{}.{}".format,
    st.text(string.ascii_lowercase + "._", min_size=1, max_size=12).filter(
        lambda s: s[0] not in "._" and s[-1] not in "._"
    ),
    st.text(string.ascii_lowercase, min_size=2, max_size=10),
    st.sampled_from(["com", "org", "net", "co.uk"]),
)
filler = st.text(string.ascii_lowercase + "  \n", max_size=80)


@settings(max_examples=60, deadline=None)
@given(left=filler, value=st.one_of(cards, emails), right=filler)
def test_excerpts_never_show_the_value(scanner: Scanner, left: str, value: str, right: str) -> None:
    text = f"{left} {value} {right}"
    hits: list[Hit] = scanner.scan(text)
    start = len(left) + 1
    assert any(h.start <= start and h.end >= start + len(value) for h in hits)
    compact = re.sub(r"[ -]", "", value)
    for hit in hits:
        assert value not in hit.masked_excerpt
        assert compact not in hit.masked_excerpt
        assert "\n" not in hit.masked_excerpt
        assert len(hit.masked_excerpt) <= MAX_EXCERPT_CHARS
        assert f"[{hit.entity_type}]" in hit.masked_excerpt


# --- revision ---------------------------------------------------------------------------------


def test_revision_is_stable_for_the_same_configuration(scanner: Scanner, hash_key: bytes) -> None:
    again = build_scanner(ScanSettings(), hash_key)
    assert again.revision == scanner.revision
    assert re.fullmatch(r"[0-9a-f]{16}", scanner.revision)


@pytest.mark.parametrize(
    "change",
    [
        {"entities": ["CREDIT_CARD", "EMAIL_ADDRESS"]},
        {"score_threshold": 0.6},
        {"excerpt_context": 10},
        {"max_text_chars": 5000},
    ],
)
def test_revision_changes_with_settings(
    scanner: Scanner, hash_key: bytes, change: dict[str, object]
) -> None:
    assert build_scanner(ScanSettings(**change), hash_key).revision != scanner.revision


def test_revision_changes_with_the_key(scanner: Scanner) -> None:
    assert build_scanner(ScanSettings(), b"rotated key").revision != scanner.revision


def test_revision_ignores_recognizers_of_unreported_entities(hash_key: bytes) -> None:
    # The same entity list in another order, and the same recognizers serving it.
    a = build_scanner(ScanSettings(entities=["CREDIT_CARD", "PERSON"]), hash_key)
    b = build_scanner(ScanSettings(entities=["PERSON", "CREDIT_CARD"]), hash_key)
    assert a.revision == b.revision


# --- context enhancement ----------------------------------------------------------------------


def test_linear_time_enhancer_gives_presidios_results(scanner: Scanner, hash_key: bytes) -> None:
    settings_ = ScanSettings()
    ours = build_analyzer(settings_)
    assert isinstance(ours.context_aware_enhancer, LinearTimeLemmaContextAwareEnhancer)
    stock = AnalyzerEngine(
        registry=ours.registry,
        nlp_engine=ours.nlp_engine,
        supported_languages=["en"],
        default_score_threshold=settings_.score_threshold,
        context_aware_enhancer=LemmaContextAwareEnhancer(),
    )
    with_stock = Scanner(stock, hash_key, settings_)
    assert with_stock.revision == scanner.revision
    texts = [text for text, _, _ in DETECTED + GREY_ZONE] + [text for text, _ in NOT_DETECTED]
    texts.append(" \n ".join(texts) + "  phone:  202-456-1111\n\nssn\t536-22-8726 ")
    assert scanner.scan_many(texts) == with_stock.scan_many(texts)
