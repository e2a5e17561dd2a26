"""Masked excerpts never show a value beside the detection they are about.

Presidio reports only what it scores at or above the threshold; the excerpts must also hide its
weaker candidates, the values it rejects (an invalid SSN, a card failing Luhn) and anything that
looks like a number, an e-mail address, a URL or an IBAN. Failure messages name cases and kinds,
never the values.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.config import ScanSettings
from auditor.demo import generate_demo
from auditor.normalize import normalize_openai_chat
from auditor.scan.engine import (
    HIT_SCHEME,
    SUPERSEDED_BY,
    Hit,
    Scanner,
    build_scanner,
    look_alike_spans,
    masked_excerpts,
)

DIGIT_RUN = re.compile(r"\d{4,}")


@pytest.fixture(scope="module")
def strict(hash_key: bytes) -> Scanner:
    """Reports only scores of 0.5 and up: more values beside a detection go unreported."""
    return build_scanner(ScanSettings(score_threshold=0.5), hash_key)


@pytest.fixture(params=["default", "strict"])
def any_scanner(request: pytest.FixtureRequest) -> Scanner:
    """The default scanner and the strict one, in turn."""
    return request.getfixturevalue("scanner" if request.param == "default" else "strict")


def _leaks(text: str, excerpts: list[str], values: list[str]) -> list[str]:
    """What an excerpt shows that it must not: named by kind and position, never by value."""
    leaks = []
    for i, excerpt in enumerate(excerpts):
        if re.search(r"\d{4}", excerpt):
            leaks.append(f"excerpt {i}: a run of 4+ digits")
        if "@" in excerpt:
            leaks.append(f"excerpt {i}: an @")
        runs = DIGIT_RUN.findall(text)
        leaks += [f"excerpt {i}: digit run {k}" for k, run in enumerate(runs) if run in excerpt]
        leaks += [f"excerpt {i}: value {k}" for k, value in enumerate(values) if value in excerpt]
    return leaks


# (case, text, values that must not appear in any excerpt). The first five are the demo's own
# prompts whose v1 excerpts showed an undetected value beside a masked one.
NEARBY = [
    (
        "ssn-then-account",
        "Customer Joseph Mcclure (SSN 032-16-2305, account 224957777194) failed KYC refresh "
        "because the ID expired.",
        ["224957777194", "032-16-2305"],
    ),
    (
        "email-then-phone",
        "Draft an email to David Jefferson, CFO of Ironbridge Components Inc. "
        "(davidjefferson98@example.org, 229-862-9467), proposing a management meeting.",
        ["davidjefferson98@example.org", "229-862-9467"],
    ),
    (
        "person-then-uk-phone",
        "Clean up my call notes for Project Juniper: spoke w/ Anthony Pratt (+44 20 3259 8325) "
        "— board ok with range, wants exclusivity 4 wks",
        ["+44 20 3259 8325", "3259 8325"],
    ),
    (
        "email-and-iban",
        "Please reply to Emily Jones emilyjones22@mail.example.com confirming the wire to IBAN "
        "GB86 MLDX 8203 6903 3760 67 was released this morning.",
        ["emilyjones22@mail.example.com", "GB86 MLDX 8203 6903 3760 67"],
    ),
    (
        "card-then-rejected-ssn",
        "Charge the card 4111 1111 1111 1111 SSN 078-05-1120 for the annual fee.",
        ["4111 1111 1111 1111", "078-05-1120"],
    ),
    (
        "routing-and-account",
        "Wire it to Maria Garcia, routing 021000021, account 000123456789, ref 7741-2290.",
        ["021000021", "000123456789", "7741-2290"],
    ),
    (
        "international-phones",
        "Ping Hans Weber on +49 30 12345678 or +33 1 42 68 53 00, or +65 6123 4567.",
        ["+49 30 12345678", "+33 1 42 68 53 00", "+65 6123 4567", "42 68 53 00"],
    ),
    (
        "second-email",
        "John Smith (john.smith@example.com) copied ops-team@bank.internal and "
        "j.s+alerts@example.net on it.",
        ["john.smith@example.com", "ops-team@bank.internal", "j.s+alerts@example.net"],
    ),
    (
        "phones-with-brackets",
        "Card 4242 4242 4242 4242 holder at (212) 555-0142 or 07700 900123 or 212.555.0199.",
        ["(212) 555-0142", "555-0142", "07700 900123", "212.555.0199"],
    ),
    (
        "url-and-iban-compact",
        "Send John Smith the form at https://portal.example.com/kyc?id=88 and pay "
        "DE89370400440532013000 today.",
        ["https://portal.example.com/kyc?id=88", "DE89370400440532013000"],
    ),
]


@pytest.mark.parametrize(("text", "values"), [c[1:] for c in NEARBY], ids=[c[0] for c in NEARBY])
def test_excerpts_hide_nearby_values(any_scanner: Scanner, text: str, values: list[str]) -> None:
    assert all(value in text for value in values)  # the table itself is right
    hits = any_scanner.scan(text)
    assert hits, "nothing detected: the case tests nothing"
    assert _leaks(text, [h.masked_excerpt for h in hits], values) == []
    assert all(f"[{h.entity_type}]" in h.masked_excerpt for h in hits)


def test_candidates_below_the_threshold_are_masked_not_reported(strict: Scanner) -> None:
    text = "Card 4111 1111 1111 1111, call 212-555-0142 tomorrow"
    (hit,) = strict.scan(text)  # the phone has no context: scored 0.4
    assert hit.entity_type == "CREDIT_CARD"
    assert hit.masked_excerpt == "Card [CREDIT_CARD], call [PHONE_NUMBER]…"


def test_punctuation_only_candidates_are_not_masked(scanner: Scanner) -> None:
    # presidio offers "::" as a weak IPv6 address; code keeps its slices readable.
    (hit,) = scanner.scan("Card 4111 1111 1111 1111 s[::-1] ok")
    assert hit.masked_excerpt == "Card [CREDIT_CARD] s[::-1] ok"


def test_unreported_types_are_still_masked(hash_key: bytes) -> None:
    only_cards = build_scanner(ScanSettings(entities=["CREDIT_CARD"]), hash_key)
    (hit,) = only_cards.scan("John Smith: card 4111 1111 1111 1111 - mail js@example.com")
    assert hit.masked_excerpt == "[PERSON]: card [CREDIT_CARD] - mail [EMAIL_ADDRESS]"


def test_reported_hits_are_what_presidio_reports_at_the_threshold(any_scanner: Scanner) -> None:
    # Asking presidio for every candidate must not change what is reported.
    scanner = any_scanner
    analyzer = scanner._analyzer  # noqa: SLF001 - the test compares with presidio's own filter
    texts = [text for _, text, _ in NEARBY] + [
        "Call me at 212-555-0142 tomorrow",
        "my bank account number is 1234567890123",
        "Contact John Smith in London at john@example.com or 10.0.0.1",
    ]
    for text, hits in zip(texts, scanner.scan_many(texts), strict=True):
        at_threshold = [
            r
            for r in analyzer.analyze(text=text, language="en", entities=list(scanner.entities))
            if r.score >= scanner.score_threshold
        ]
        reported = {(h.entity_type, h.start, h.end, h.score) for h in hits}
        # What is reported is presidio's at the threshold, less what a more specific
        # overlapping type supersedes (an e-mail address is not also a URL).
        superseded = {
            (r.entity_type, r.start, r.end, r.score)
            for r in at_threshold
            if any(
                o.entity_type in SUPERSEDED_BY.get(r.entity_type, ())
                and o.start < r.end
                and r.start < o.end
                for o in at_threshold
            )
        }
        expected = {(r.entity_type, r.start, r.end, r.score) for r in at_threshold} - superseded
        assert reported == expected


def test_a_new_excerpt_scheme_is_a_new_scanner_revision(
    scanner: Scanner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Raising HIT_SCHEME (v3 tagged client data with the client id; v4 masks short numbers
    # beside financial identifiers and does not hash card data) must rescan stored fields:
    # their excerpts were made by the old rules.
    import auditor.scan.engine as engine

    revision, parts = scanner._compute_revision()
    assert revision == scanner.revision
    monkeypatch.setattr(engine, "HIT_SCHEME", HIT_SCHEME + "-next")
    changed, changed_parts = scanner._compute_revision()
    assert changed != revision
    assert [k for k in parts if parts[k] != changed_parts.get(k)] == ["scheme"]


# --- look-alikes ------------------------------------------------------------------------------

LOOK_ALIKES = [
    ("call (212) 555-0142 now", [("(212) 555-0142", "NUMBER")]),
    ("on +44 20 3259 8325.", [("+44 20 3259 8325", "NUMBER")]),
    ("expires 12/27 ok", [("12/27", "NUMBER")]),
    ("acct12345678 and 2024-01-05", [("12345678", "NUMBER"), ("2024-01-05", "NUMBER")]),
    ("a fee of $1,250,000.00 due", [("1,250,000.00", "NUMBER")]),
    ("items 3 of 10, page 2", []),  # fewer than four digits
    ("mail 'john.o'brien@x.com' now", [("john.o'brien@x.com", "EMAIL_ADDRESS")]),
    ("to ops@bank.internal.", [("ops@bank.internal", "EMAIL_ADDRESS")]),
    ("see https://x.example.com/a?b=c).", [("https://x.example.com/a?b=c", "URL")]),
    ("or www.example.org, thanks", [("www.example.org", "URL")]),
    (
        "IBAN GB82 WEST 1234 5698 7654 32 ok",
        [("GB82 WEST 1234 5698 7654 32", "IBAN_CODE"), ("1234 5698 7654 32", "NUMBER")],
    ),
    (
        "pay DE89370400440532013000",
        [("DE89370400440532013000", "IBAN_CODE"), ("89370400440532013000", "NUMBER")],
    ),
    ("in12 this that word", []),  # lower case and plain words: not an IBAN
]


@pytest.mark.parametrize(("text", "expected"), LOOK_ALIKES)
def test_look_alike_spans(text: str, expected: list[tuple[str, str]]) -> None:
    found = {(text[start:end], label) for start, end, label in look_alike_spans(text)}
    assert found == set(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 200_000, lambda t: []),
        ("a." * 100_000, lambda t: []),
        ("1 " * 100_000, lambda t: [(0, len(t) - 1, "NUMBER")]),  # one number, masked whole
        ("x@" * 100_000, lambda t: [(i, i + 3, "EMAIL_ADDRESS") for i in range(0, len(t), 4)]),
        ("http:" * 40_000, lambda t: []),
    ],
    ids=["letters", "dotted", "digits", "ats", "schemes"],
)
def test_look_alikes_on_long_tokens(text: str, expected) -> None:  # type: ignore[no-untyped-def]
    # Long unbroken tokens: what is masked, found in one pass (a quadratic pattern would take
    # minutes here and stall the suite; `make test` runs under CI's time limit).
    assert look_alike_spans(text) == expected(text)


def test_look_alikes_in_excerpts_take_analyzer_labels() -> None:
    text = "Card 4111 1111 1111 1111 call 212-555-0142 ok"
    excerpt = masked_excerpts(text, [(5, 24, "CREDIT_CARD")], 40, also_mask=[(30, 42, "PHONE")])
    assert excerpt == ["Card [CREDIT_CARD] call [PHONE] ok"]
    assert masked_excerpts(text, [(5, 24, "CREDIT_CARD")], 40) == [
        "Card [CREDIT_CARD] call [NUMBER] ok"
    ]


# --- property ---------------------------------------------------------------------------------


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
digit_values = st.one_of(
    st.text(string.digits, min_size=4, max_size=14),  # account numbers
    st.from_regex(r"\A\d{3}-\d{2}-\d{4}\Z"),  # SSN-shaped
    st.from_regex(r"\A\(\d{3}\) \d{3}-\d{4}\Z"),  # US phone
    st.from_regex(r"\A\+\d{2} \d{2,4} \d{3,4} \d{4}\Z"),  # international phone
    st.from_regex(r"\A\d{3}\.\d{3}\.\d{4}\Z"),
    st.from_regex(r"\A\d{1,2}/\d{1,2}/\d{2,4}\Z"),
)
emails = st.builds(
    "{}@{}.{}".format,
    st.from_regex(r"\A[a-z]{1,8}([._+][a-z0-9]{1,6})?\Z"),
    st.from_regex(r"\A[a-z]{2,10}(-[a-z]{2,6})?\Z"),
    st.sampled_from(["com", "org", "net", "co.uk", "internal"]),
)
WORDS = ["please", "call", "account", "ref", "to", "the client", "phone", "Mr", "re:", "ok", "ssn"]
fragments = st.lists(st.one_of(st.sampled_from(WORDS), digit_values, emails), max_size=6)
joiners = st.sampled_from([" ", ", ", " (", ") ", "\n", "; ", " / "])


@settings(max_examples=50, deadline=None)
@given(left=fragments, card=cards, right=fragments, join=joiners)
def test_no_number_or_email_beside_a_card(
    strict: Scanner, left: list[str], card: str, right: list[str], join: str
) -> None:
    head = join.join(left)
    text = f"{head}, card {card}, {join.join(right)}"
    start = len(head) + len(", card ")
    hits: list[Hit] = strict.scan(text)
    assert any(h.start <= start and h.end >= start + len(card) for h in hits)
    values = [f for f in [*left, *right, card] if f not in WORDS]
    assert _leaks(text, [h.masked_excerpt for h in hits], values) == []


# --- the demo's planted values ----------------------------------------------------------------

NUMBER_OR_ADDRESS_KINDS = {"card_number", "ssn", "iban", "account_number", "phone", "email"}


@dataclass(frozen=True, repr=False)
class _Planted:
    text: str
    values: list[str]  # the planted values of NUMBER_OR_ADDRESS_KINDS in `text`
    kinds: list[str]

    def __repr__(self) -> str:  # a failing test prints its arguments: kinds, never values
        return f"_Planted(kinds={self.kinds})"


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> list[_Planted]:
    """Each demo text holding a planted number or address, with those values (from the
    ground-truth offsets into the normalized text)."""
    files = generate_demo(tmp_path_factory.mktemp("demo"), people=40)
    root = files.truth_file.parent.parent
    lines: dict[str, list[bytes]] = {}
    out = []
    for row in files.truth_file.read_text(encoding="utf-8").splitlines():
        truth = json.loads(row)
        labels = [lb for lb in truth["labels"] if lb["kind"] in NUMBER_OR_ADDRESS_KINDS]
        if not labels:
            continue
        if truth["file"] not in lines:
            lines[truth["file"]] = (root / truth["file"]).read_bytes().splitlines()
        record = normalize_openai_chat(
            json.loads(lines[truth["file"]][truth["line"] - 1]), source_format="openai-chat"
        )
        texts = {"prompt": record.prompt_text or "", "output": record.output_text or ""}
        for field in ("prompt", "output"):
            mine = [lb for lb in labels if lb["field"] == field]
            if mine:
                text = texts[field]
                out.append(
                    _Planted(
                        text,
                        [text[lb["start"] : lb["end"]] for lb in mine],
                        [lb["kind"] for lb in mine],
                    )
                )
    return out


def test_demo_planted_values_never_reach_an_excerpt(
    any_scanner: Scanner, planted: list[_Planted]
) -> None:
    assert {k for p in planted for k in p.kinds} == NUMBER_OR_ADDRESS_KINDS
    assert all(v.strip() for p in planted for v in p.values)  # offsets point at values
    results = any_scanner.scan_many([p.text for p in planted])
    leaks: list[str] = []
    excerpts = 0
    for i, (item, hits) in enumerate(zip(planted, results, strict=True)):
        excerpts += len(hits)
        for hit in hits:
            if re.search(r"\d{4}", hit.masked_excerpt):
                leaks.append(f"text {i}: a run of 4+ digits")
            leaks += [
                f"text {i}: planted {kind}"
                for kind, value in zip(item.kinds, item.values, strict=True)
                if value in hit.masked_excerpt
                or any(run in hit.masked_excerpt for run in DIGIT_RUN.findall(value))
            ]
    assert excerpts > len(planted)  # texts hold several detections each: the check bites
    assert leaks == []
