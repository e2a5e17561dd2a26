"""The evaluation that cannot flatter itself: the hand-written set parses to exact, valid labels,
and no recognizer's list, register or name source generated a set the README calls independent."""

from __future__ import annotations

from pathlib import Path

import accuracy
import accuracy_corpus
import handwritten
import pytest
from stdnum import iban, luhn

from auditor.config import ScanSettings
from auditor.scan.engine import Scanner, build_scanner

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return build_scanner(ScanSettings(), b"independence-test-key")


def test_handwritten_labels_are_exact_and_valid() -> None:
    samples = handwritten.load()
    assert len(samples) >= 300
    kinds = {s.template for s in samples}
    assert {"card", "phone", "address", "name", "code", "negative", "bank"} <= kinds
    for s in samples:
        assert "⟦" not in s.text and "⟧" not in s.text, s.id
        for span in s.spans:
            value = s.text[span.start : span.end]
            assert value and value == value.strip(), s.id
            if span.entity_type == "CREDIT_CARD":
                digits = "".join(c for c in value if c.isdigit())
                assert 12 <= len(digits) <= 19 and luhn.is_valid(digits), s.id
            if span.entity_type == "IBAN_CODE":
                assert iban.is_valid(value), s.id
        if s.template == "code":
            assert not s.spans, f"{s.id}: a code prompt holds no personal data by construction"


@pytest.mark.parametrize(
    ("marked", "text", "spans"),
    [
        ("Call ⟦PERSON|Knut⟧ now", "Call Knut now", [(5, 9, "PERSON")]),
        ("⟦A|x⟧⟦B|yz⟧", "xyz", [(0, 1, "A"), (1, 3, "B")]),
        ("no marks", "no marks", []),
    ],
)
def test_marks_become_offsets(marked: str, text: str, spans: list[tuple[int, int, str]]) -> None:
    got_text, got = handwritten.parse(marked)
    assert got_text == text
    assert [(s.start, s.end, s.entity_type) for s in got] == spans


@pytest.mark.parametrize(
    "marked", ["⟦PERSON Knut⟧", "Knut⟧", "⟦PERSON|Knut", "⟦person|Knut⟧", "⟦PERSON| Knut⟧"]
)
def test_broken_marks_name_the_line(marked: str) -> None:
    with pytest.raises(handwritten.MarkupError, match="line 7"):
        handwritten.parse(marked, 7)


def test_no_recognizer_source_generated_the_handwritten_set(scanner: Scanner) -> None:
    shared = accuracy.overlap(scanner, accuracy.handwritten_sources())
    assert shared == {}, f"recognizers share sources with the hand-written set: {shared}"


def test_the_rule_catches_a_shared_source(scanner: Scanner) -> None:
    rec = next(r for r in scanner.recognizers if getattr(r, "DATA_SOURCES", ()))
    shared = accuracy.overlap(scanner, frozenset(rec.DATA_SOURCES))
    assert shared == {rec.name: sorted(rec.DATA_SOURCES)}


def test_the_generated_corpus_is_reported_as_not_independent(scanner: Scanner) -> None:
    """The corpus draws names from the Faker lists GivenNameRecognizer uses: the harness says so,
    and the README must not call the corpus independent while that holds."""
    shared = accuracy.overlap(scanner, accuracy_corpus.corpus_sources())
    readme = README.read_text(encoding="utf-8")
    if shared:
        for modules in shared.values():
            for module in modules:
                assert module in readme, f"README does not report the shared source {module}"
        assert "corpus (test) — not independent" in readme
    else:
        assert "corpus (test) — not independent" not in readme


def test_name_list_overlap_is_counted_per_set(scanner: Scanner) -> None:
    """Reported beside the source overlap: how many labelled names a recognizer's list holds.
    The generated corpus draws every name from the list; the hand-written set by chance only."""
    corpus = accuracy_corpus.build_corpus(seed=3, per_template=4, split="test").samples
    hits, total = accuracy.value_overlap(scanner, corpus)["GivenNameRecognizer"]
    assert total and hits / total > 0.6  # the rest open with a title ("Mrs. Mcknight")
    hits, total = accuracy.value_overlap(scanner, handwritten.load())["GivenNameRecognizer"]
    assert total >= 90 and hits / total < 0.3
