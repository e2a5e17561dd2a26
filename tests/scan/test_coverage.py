"""Long texts in overlapping chunks, and texts scanned only in part, with the reason why."""

from __future__ import annotations

import pytest

from auditor.config import ScanSettings
from auditor.scan.engine import (
    REASON_OVER_LIMIT,
    REASON_TIMEOUT,
    REASON_UNSUPPORTED_LANGUAGE,
    Scanner,
    build_scanner,
    chunk_bounds,
)

KEY = b"coverage-test-key"
CARD = "4111 1111 1111 1111"


@pytest.fixture(scope="module")
def chunked() -> Scanner:
    return build_scanner(ScanSettings(chunk_chars=1000, chunk_overlap=200), KEY)


def _long_text(n: int) -> tuple[str, list[tuple[int, int]]]:
    """Filler words with a card number every so often; where the cards are."""
    parts: list[str] = []
    cards: list[tuple[int, int]] = []
    pos = 0
    for i in range(n):
        filler = "lorem ipsum dolor sit amet " * (3 + i % 7)
        parts.append(filler)
        pos += len(filler)
        parts.append(CARD)
        cards.append((pos, pos + len(CARD)))
        pos += len(CARD)
        parts.append(" ")
        pos += 1
    return "".join(parts), cards


def test_every_value_of_a_long_text_is_found_once_at_its_offsets(chunked: Scanner) -> None:
    text, cards = _long_text(120)
    assert len(text) > 10 * chunked.chunk_chars
    [result] = chunked.scan_results([text])
    found = [(h.start, h.end) for h in result.hits if h.entity_type == "CREDIT_CARD"]
    assert found == cards  # none lost at a chunk boundary, none twice from an overlap
    assert (result.status, result.reason_code, result.chars_scanned) == ("scanned", None, len(text))
    # The same as scanning it whole.
    whole = build_scanner(ScanSettings(chunk_chars=len(text) + 1), KEY)
    assert [(h.start, h.end) for h in whole.scan(text) if h.entity_type == "CREDIT_CARD"] == cards


@pytest.mark.parametrize("length", [1000, 1001, 2500, 10_000])
@pytest.mark.parametrize(("size", "overlap"), [(1000, 200), (1000, 0), (1200, 500)])
def test_chunks_cover_the_text_and_overlap(length: int, size: int, overlap: int) -> None:
    text = ("word " * (length // 5 + 1))[:length]
    bounds = chunk_bounds(text, size, overlap)
    assert bounds[0][0] == 0 and bounds[-1][1] == length
    for (lo, hi), (next_lo, _) in zip(bounds, bounds[1:], strict=False):
        assert hi - lo <= size
        assert next_lo <= hi  # no gap
        assert hi - next_lo >= min(overlap, size) // 2 - 5  # roughly the overlap asked for
        assert next_lo > lo  # progress


def test_text_over_the_hard_limit_is_partial_over_limit() -> None:
    scanner = build_scanner(ScanSettings(max_text_chars=1000), KEY)
    text = "x " * 600 + f"card {CARD}"
    [result] = scanner.scan_results([text])
    assert (result.status, result.reason_code) == ("partial", REASON_OVER_LIMIT)
    assert result.chars_scanned == 1000 and result.text_length == len(text)
    assert result.hits == []
    assert CARD not in (result.reason or "")


def test_time_budget_leaves_the_rest_unscanned_and_says_so() -> None:
    scanner = build_scanner(
        ScanSettings(chunk_chars=1000, chunk_overlap=100, timeout_seconds=1e-9), KEY
    )
    text, cards = _long_text(60)
    [result] = scanner.scan_results([text])
    assert (result.status, result.reason_code) == ("partial", REASON_TIMEOUT)
    assert 0 < result.chars_scanned < len(text)
    assert all(h.end <= result.chars_scanned for h in result.hits)
    found = [(h.start, h.end) for h in result.hits if h.entity_type == "CREDIT_CARD"]
    assert found and found == cards[: len(found)]  # the cards of the part that was scanned


SCRIPTS = [
    ("Иван Петров просил перевести деньги на счёт, почта ivan.petrov@example.com", True),
    (
        "請把報告發給王小明，他的郵箱是 wang.xm@example.com，謝謝你的幫助和支持，祝你工作順利愉快",
        True,
    ),
    ("Please send the report to Zoë Müller in Zürich, ivan.petrov@example.com", False),
    ("Привет", False),  # too few letters to judge
]


@pytest.mark.parametrize(("text", "unsupported"), SCRIPTS)
def test_unsupported_script_is_partial_but_patterns_still_run(
    chunked: Scanner, text: str, unsupported: bool
) -> None:
    [result] = chunked.scan_results([text])
    if unsupported:
        assert (result.status, result.reason_code) == ("partial", REASON_UNSUPPORTED_LANGUAGE)
    else:
        assert (result.status, result.reason_code) == ("scanned", None)
    if "@" in text:
        assert "EMAIL_ADDRESS" in {h.entity_type for h in result.hits}


def test_language_check_can_be_off() -> None:
    scanner = build_scanner(ScanSettings(language_check=False), KEY)
    [result] = scanner.scan_results([SCRIPTS[0][0]])
    assert result.status == "scanned"


def test_scan_and_scan_many_agree_with_scan_results(chunked: Scanner) -> None:
    texts = ["", f"card {CARD}", _long_text(20)[0], "John Smith in London"]
    results = chunked.scan_results(texts)
    assert [r.hits for r in results] == chunked.scan_many(texts)
    assert [r.hits for r in results] == [chunked.scan(t) for t in texts]
