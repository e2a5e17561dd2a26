"""Scanning across worker processes: the same hits as one scanner, in order, each text once."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import pytest

from auditor.config import ScanSettings
from auditor.errors import ScanError
from auditor.scan.engine import Scanner, ScanResult, build_scanner
from auditor.scan.parallel import ScanOutcome, ScanPool, TextScanner, scan_texts

# Presidio's own types: these tests are about the pool, not about which recognizers exist.
ENTITIES = [
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "US_SSN",
    "IBAN_CODE",
    "IP_ADDRESS",
    "LOCATION",
    "US_BANK_NUMBER",
    "URL",
]
KEY = b"parallel-test-key-not-secret"
FAIL_MARK = "<<fail here>>"

TEXTS = [
    "Please email john.smith@example.com today",
    "",
    "John Smith asked about the loan for Maria Garcia from Madrid.",
    "Card 4111 1111 1111 1111 expires 12/27, call +1 (212) 555-0142",
    "Please email john.smith@example.com today",  # a duplicate of the first
    "nothing to see here, just a plain sentence about bonds",
    "Zoë Müller in Zürich: zoe.mueller@example.de, IBAN DE89370400440532013000 ☎",
    "日本語のテキスト and server 192.168.1.20",
    "lone surrogate \ud800 then ssn 536-22-8726",
    "",
    "John Smith asked about the loan for Maria Garcia from Madrid.",
    "see https://www.example.com/path?x=1 " * 40,  # long, many repeats of one value
]


@pytest.fixture(scope="module")
def settings() -> ScanSettings:
    return ScanSettings(entities=ENTITIES)


@pytest.fixture(scope="module")
def scanner(settings: ScanSettings) -> Scanner:
    return build_scanner(settings, KEY)


@pytest.fixture(scope="module")
def expected(scanner: Scanner) -> list[ScanOutcome]:
    """What one in-process scanner finds, text by text."""
    return [ScanOutcome.of(scanner.scan_results([text])[0]) for text in TEXTS]


@pytest.fixture(scope="module")
def two_workers(settings: ScanSettings) -> Iterator[ScanPool]:
    # Small chunks: many chunks in flight at once, so that order is really exercised.
    with ScanPool(settings, KEY, workers=2, batch_size=2, chunk_size=3) as pool:
        yield pool


class Counting:
    """A real scanner that counts the texts it is given."""

    def __init__(self, inner: Scanner) -> None:
        self.inner = inner
        self.texts: list[str] = []

    @property
    def revision(self) -> str:
        return self.inner.revision

    def scan_results(self, texts: Sequence[str], batch_size: int = 64) -> list[ScanResult]:
        self.texts.extend(texts)
        return self.inner.scan_results(texts, batch_size)


class Failing:
    """A real scanner that raises, with the text in the message, on texts holding FAIL_MARK."""

    def __init__(self, inner: TextScanner) -> None:
        self.inner = inner

    @property
    def revision(self) -> str:
        return self.inner.revision

    def scan_results(self, texts: Sequence[str], batch_size: int = 64) -> list[ScanResult]:
        if any(FAIL_MARK in text for text in texts):
            raise ValueError(f"cannot scan {texts!r}")
        return self.inner.scan_results(texts, batch_size)


def build_failing(settings: ScanSettings, hash_key: bytes) -> TextScanner:
    """Module level, so that a worker process can import it by name."""
    return Failing(build_scanner(settings, hash_key))


def _summary(outcomes: Sequence[ScanOutcome]) -> list[object]:
    # Entity types and offsets only, so a failure message never prints a detected value.
    return [
        o.error if o.hits is None else [(h.entity_type, h.start, h.end) for h in o.hits]
        for o in outcomes
    ]


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_one_worker_matches_the_scanner_text_by_text(
    settings: ScanSettings, scanner: Scanner, expected: list[ScanOutcome], batch_size: int
) -> None:
    with ScanPool(settings, KEY, workers=1, batch_size=batch_size, scanner=scanner) as pool:
        got = list(pool.scan(TEXTS))
    assert _summary(got) == _summary(expected)
    assert got == expected  # hashes, scores, recognizers and excerpts too


def test_expected_hits_are_not_trivial(expected: list[ScanOutcome]) -> None:
    found = {h.entity_type for o in expected for h in o.hits or ()}
    assert {"EMAIL_ADDRESS", "PERSON", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "URL"} <= found
    assert expected[1].hits == ()  # the empty text


def test_two_workers_match_one(two_workers: ScanPool, expected: list[ScanOutcome]) -> None:
    got = list(two_workers.scan(TEXTS))
    assert _summary(got) == _summary(expected)
    assert got == expected


def test_two_workers_keep_order_over_many_chunks(two_workers: ScanPool, scanner: Scanner) -> None:
    # Distinct texts whose hits differ by position, so a swap would show.
    texts = [f"{'x ' * (i % 17)}mail ann{i}@example.com now" for i in range(60)]
    got = list(two_workers.scan(texts))
    want = [ScanOutcome.of(r) for r in scanner.scan_results(texts)]
    assert _summary(got) == _summary(want)
    assert got == want


def test_workers_report_the_scanner_revision_and_their_memory(
    two_workers: ScanPool, scanner: Scanner
) -> None:
    assert two_workers.revision == scanner.revision
    list(two_workers.scan([f"text {i} for Maria Garcia" for i in range(40)]))
    peaks = two_workers.stats.worker_peak_kib
    assert peaks and all(kib > 10_000 for kib in peaks.values())  # a loaded spaCy model


def test_identical_texts_are_scanned_once(settings: ScanSettings, scanner: Scanner) -> None:
    counting = Counting(scanner)
    texts = TEXTS * 3
    with ScanPool(settings, KEY, workers=1, scanner=counting, chunk_size=4) as pool:
        got = list(pool.scan(texts))
        again = list(pool.scan(TEXTS))  # a later call reuses what the pool has seen
    assert sorted(counting.texts) == sorted(set(TEXTS))
    assert got == [ScanOutcome.of(scanner.scan_results([t])[0]) for t in texts]
    assert again == got[: len(TEXTS)]
    assert pool.stats.scanned == len(set(TEXTS))
    assert pool.stats.reused == len(texts) + len(TEXTS) - len(set(TEXTS))
    assert pool.stats.texts == len(texts) + len(TEXTS)


def test_dedupe_off_scans_every_text(settings: ScanSettings, scanner: Scanner) -> None:
    counting = Counting(scanner)
    with ScanPool(settings, KEY, workers=1, scanner=counting, dedupe=False) as pool:
        got = list(pool.scan(TEXTS))
    assert counting.texts == TEXTS
    assert got == [ScanOutcome.of(scanner.scan_results([t])[0]) for t in TEXTS]


def test_two_workers_scan_duplicates_once(two_workers: ScanPool) -> None:
    before = two_workers.stats.scanned
    texts = ["call Maria Garcia on 212-555-0142 please"] * 10 + ["a b c"] * 5
    got = list(two_workers.scan(texts))
    assert two_workers.stats.scanned - before == 2
    assert len(set(got[:10])) == 1 and len(set(got[10:])) == 1


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_text_is_reported_alone(
    settings: ScanSettings, scanner: Scanner, expected: list[ScanOutcome], workers: int
) -> None:
    texts = [*TEXTS[:3], f"John Smith {FAIL_MARK}", *TEXTS[3:]]
    local = Failing(scanner) if workers == 1 else None
    with ScanPool(
        settings, KEY, workers=workers, batch_size=4, scanner=local, build=build_failing
    ) as pool:
        got = list(pool.scan(texts))
        assert pool.stats.failed == 1
    assert got[3] == ScanOutcome(None, "ValueError", "error")  # the type, never the message
    assert got[:3] + got[4:] == expected


def test_input_is_read_as_it_streams(settings: ScanSettings, scanner: Scanner) -> None:
    pulled = 0

    def endless() -> Iterator[str]:
        nonlocal pulled
        for i in itertools.count():
            pulled += 1
            yield f"note {i} for ann{i}@example.com"

    with ScanPool(settings, KEY, workers=1, scanner=scanner, chunk_size=5) as pool:
        first = list(itertools.islice(pool.scan(endless()), 12))
    assert all("EMAIL_ADDRESS" in {h.entity_type for h in o.hits or ()} for o in first)
    assert len(first) == 12
    assert pulled <= 15  # whole chunks only, never the rest of the stream


def test_copies_of_few_texts_stream_too(settings: ScanSettings, scanner: Scanner) -> None:
    # Fewer distinct texts than a chunk: results must not wait for the whole stream.
    pulled = 0

    def copies() -> Iterator[str]:
        nonlocal pulled
        for _ in range(100_000):
            pulled += 1
            yield "same note for ann@example.com"

    with ScanPool(settings, KEY, workers=1, scanner=scanner) as pool:
        first = next(iter(pool.scan(copies())))
        limit = pool.chunk_size * 4 + 1  # the bound on texts read ahead of their results
    assert first.ok and "EMAIL_ADDRESS" in {h.entity_type for h in first.hits or ()}
    assert pulled <= limit


def test_progress_counts_every_text(settings: ScanSettings, scanner: Scanner) -> None:
    calls: list[int] = []
    with ScanPool(settings, KEY, workers=1, scanner=scanner, chunk_size=2) as pool:
        list(pool.scan(TEXTS, progress=calls.append))
    assert sum(calls) == len(TEXTS) and len(calls) > 1


def test_scan_texts_in_process(settings: ScanSettings, expected: list[ScanOutcome]) -> None:
    assert list(scan_texts(settings, KEY, TEXTS, workers=1)) == expected


def test_a_worker_that_cannot_build_its_scanner_stops_the_run() -> None:
    bad = ScanSettings(model="no_such_spacy_model", entities=ENTITIES)
    with pytest.raises(ScanError, match="no_such_spacy_model.*not installed"):
        ScanPool(bad, KEY, workers=2)


def test_workers_with_another_key_are_refused(settings: ScanSettings, scanner: Scanner) -> None:
    with pytest.raises(ScanError, match="revision"):
        ScanPool(settings, b"another-key", workers=2, scanner=scanner)


def test_a_closed_pool_refuses_work(settings: ScanSettings) -> None:
    pool = ScanPool(settings, KEY, workers=1)
    pool.close()
    with pytest.raises(ScanError, match="closed"):
        list(pool.scan(["text"]))


def test_outcomes_carry_status_reason_and_coverage(settings: ScanSettings) -> None:
    """Partial scans stay partial through the pool, with their reason code and coverage."""
    short = ScanSettings(entities=ENTITIES, max_text_chars=1000)
    long_text = "card 4111 1111 1111 1111 " + "word " * 400
    cyrillic = "Иван Петров просил перевести деньги на счёт в понедельник утром"
    with ScanPool(short, KEY, workers=1) as pool:
        got = list(pool.scan([long_text, cyrillic, "fine text"]))
    assert [(o.status, o.reason_code, o.chars_scanned, o.text_length) for o in got] == [
        ("partial", "over_limit", 1000, len(long_text)),
        ("partial", "unsupported_language", len(cyrillic), len(cyrillic)),
        ("scanned", None, 9, 9),
    ]
    assert got[0].reason and "1000" in got[0].reason
