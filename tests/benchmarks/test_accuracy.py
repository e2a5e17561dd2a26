"""The accuracy harness: exact labels, disjoint splits, scoring, and the targets on a small run."""

from __future__ import annotations

import accuracy
import accuracy_corpus as corpus_mod
import pytest

from auditor.scan.identifiers import aba_ok, cusip_ok, isin_ok, luhn_ok, sedol_ok


@pytest.fixture(scope="module")
def test_corpus() -> corpus_mod.Corpus:
    return corpus_mod.build_corpus(seed=3, per_template=4, split="test")


def test_splits_share_no_template() -> None:
    assert not set(corpus_mod.DEV_TEMPLATES) & set(corpus_mod.TEST_TEMPLATES)


def test_corpus_is_reproducible() -> None:
    a = corpus_mod.build_corpus(seed=5, per_template=2, split="dev")
    b = corpus_mod.build_corpus(seed=5, per_template=2, split="dev")
    assert [(s.text, s.spans) for s in a.samples] == [(s.text, s.spans) for s in b.samples]


CHECKS = {
    "ISIN": isin_ok,
    "CUSIP": cusip_ok,
    "SEDOL": sedol_ok,
    "ABA_ROUTING_NUMBER": aba_ok,
    "CREDIT_CARD": lambda v: luhn_ok("".join(c for c in v if c.isdigit())),
}


def test_labels_are_exact_and_identifiers_valid(test_corpus: corpus_mod.Corpus) -> None:
    clients = {c.client_id: c for c in test_corpus.clients}
    for sample in test_corpus.samples:
        for span in sample.spans:
            value = sample.text[span.start : span.end]
            assert value and value == value.strip()
            if span.entity_type in CHECKS:
                assert CHECKS[span.entity_type](value), (span.entity_type, value)
            if span.entity_type == "CLIENT_NAME":
                names = [clients[span.subject].name, *clients[span.subject].aliases]
                assert " ".join(value.split()).casefold() in [n.casefold() for n in names]


def test_scoring_counts_overlaps_once() -> None:
    sample = corpus_mod.Sample("s", "John Smith paid 4111", [corpus_mod.Span(0, 10, "PERSON")], "t")
    preds = [
        accuracy.Predicted(0, 4, "PERSON", None),  # overlaps: a true positive
        accuracy.Predicted(5, 10, "PERSON", None),  # a split of the same label: not counted
        accuracy.Predicted(16, 20, "CREDIT_CARD", None),  # nothing there: a false positive
        accuracy.Predicted(16, 20, "DATE_TIME", None),  # not an evaluated type: ignored
    ]
    counts, errors = accuracy.score([sample], [preds])
    assert (counts["PERSON"].tp, counts["PERSON"].fp, counts["PERSON"].fn) == (1, 0, 0)
    assert (counts["CREDIT_CARD"].tp, counts["CREDIT_CARD"].fp) == (0, 1)
    assert [e["kind"] for e in errors] == ["fp"]


def test_client_data_must_name_the_right_client() -> None:
    sample = corpus_mod.Sample("s", "Acme", [corpus_mod.Span(0, 4, "CLIENT_NAME", "C1")], "t")
    counts, _ = accuracy.score([sample], [[accuracy.Predicted(0, 4, "CLIENT_NAME", "C2")]])
    assert (counts["CLIENT_NAME"].tp, counts["CLIENT_NAME"].fp, counts["CLIENT_NAME"].fn) == (
        0,
        1,
        1,
    )


def test_a_small_run_meets_the_targets(capsys: pytest.CaptureFixture[str]) -> None:
    code = accuracy.main(
        ["--set", "corpus", "--no-stock", "--split", "test", "--per-template", "6", "--seed", "11"]
    )
    out = capsys.readouterr().out
    assert "| **core 8** |" in out
    assert code == 0, out


@pytest.mark.parametrize(
    ("k", "n", "lo", "hi"),
    [(0, 0, 0.0, 1.0), (10, 10, 0.722, 1.0), (5, 10, 0.237, 0.763), (0, 20, 0.0, 0.161)],
)
def test_wilson_interval(k: int, n: int, lo: float, hi: float) -> None:
    got = accuracy.wilson(k, n)
    assert got == pytest.approx((lo, hi), abs=0.001)


def test_bootstrap_interval_of_f1() -> None:
    perfect = [{"PERSON": accuracy.Counts(1, 0, 0)} for _ in range(50)]
    assert accuracy.bootstrap_f1(perfect, ("PERSON",))["PERSON"] == (1.0, 1.0)
    mixed = perfect[:25] + [{"PERSON": accuracy.Counts(0, 1, 1)} for _ in range(25)]
    lo, hi = accuracy.bootstrap_f1(mixed, ("PERSON",))["PERSON"]
    assert lo < 0.5 < hi and hi - lo < 0.4
