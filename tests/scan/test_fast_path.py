"""The fast path (NER on every text, the parser only with scan.parser and only where sentences
could matter, lemmas on demand) finds exactly what the whole spaCy pipeline finds: same hits,
scores, hashes, excerpts, status and coverage. Without the parser (the default) it also finds
what the whole pipeline with the parser finds on the demo and harness texts: the measurement
behind the default, kept as a regression test."""

from __future__ import annotations

from typing import Any

import pytest
import spacy
from accuracy_corpus import build_corpus
from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import SpacyNlpEngine
from thinc.api import use_ops

from auditor.config import ScanSettings
from auditor.scan.engine import (
    Scanner,
    ScanResult,
    _LazyNlpArtifacts,
    _LoadedSpacyNlpEngine,
    build_analyzer,
)
from tests.scan.helpers import demo_texts

KEY = b"fast-path-test-key"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[ScanSettings, list[str]]:
    folder = tmp_path_factory.mktemp("demo")
    texts = demo_texts(folder)
    settings = ScanSettings(
        client_register=folder / "reference" / "client_register.csv",
        restricted_list=folder / "reference" / "restricted_list.csv",
        # Small chunks, so that some demo texts are scanned in overlapping chunks too.
        chunk_chars=1000,
        chunk_overlap=100,
    )
    return settings, texts


def _full_pipeline(fast: Scanner, settings: ScanSettings, parser: bool = True) -> Scanner:
    """The same recognizers and enhancer over the whole spaCy pipeline (without the parser if
    `parser` is false), loaded afresh with the scanner's matrix library and run by presidio's
    own engine and enhancer per text: what the scanner did before the fast path."""
    ours = fast._analyzer
    engine = SpacyNlpEngine(
        models=[{"lang_code": "en", "model_name": settings.model}],
        ner_model_configuration=ours.nlp_engine.ner_model_configuration,
    )
    with use_ops("numpy", use_blis=settings.matrix_library == "blis"):
        nlp = spacy.load(settings.model, exclude=[] if parser else ["parser"])
    nlp.max_length = max(nlp.max_length, settings.chunk_chars + 1)
    engine.nlp = {"en": nlp}
    analyzer = AnalyzerEngine(
        registry=ours.registry,
        nlp_engine=engine,
        supported_languages=["en"],
        default_score_threshold=settings.score_threshold,
        # presidio's own enhancer: ours reads lemmas only where a score could change.
        context_aware_enhancer=LemmaContextAwareEnhancer(),
    )
    return Scanner(analyzer, KEY, settings)


def _summary(results: list[ScanResult]) -> list[object]:
    # Types, offsets and scores only, so a failure never prints a value.
    return [
        (r.status, r.chars_scanned, [(h.entity_type, h.start, h.end, h.score) for h in r.hits])
        for r in results
    ]


def _texts(demo_texts: list[str], settings: ScanSettings) -> list[str]:
    harness = [
        s.text
        for split in ("test", "dev")
        for s in build_corpus(seed=5, per_template=3, split=split).samples
    ]
    assert len(demo_texts) >= 300 and len(harness) >= 150
    texts = demo_texts + harness
    assert any(len(t) > settings.chunk_chars for t in texts)  # chunking is exercised
    return texts


@pytest.mark.parametrize("parser", [False, True], ids=["without parser", "with parser"])
def test_fast_path_equals_the_full_pipeline_on_demo_and_harness_texts(
    demo: tuple[ScanSettings, list[str]], parser: bool
) -> None:
    settings, demo_texts = demo
    settings = settings.model_copy(update={"parser": parser})
    fast = Scanner(build_analyzer(settings), KEY, settings)
    full = _full_pipeline(fast, settings, parser=parser)
    texts = _texts(demo_texts, settings)

    got = fast.scan_results(texts, batch_size=32)
    want = full.scan_results(texts, batch_size=32)
    assert _summary(got) == _summary(want)
    assert got == want  # hashes, recognizers, excerpts, reasons too
    assert sum(bool(r.hits) for r in got) > len(texts) // 3  # not a vacuous comparison


def test_without_the_parser_the_results_are_those_of_spacys_whole_pipeline(
    demo: tuple[ScanSettings, list[str]],
) -> None:
    """The default leaves the parser out because on these texts (and the benchmark's 5,938)
    nothing changes; if a model or recognizer change makes it matter, this says so."""
    settings, demo_texts = demo
    assert settings.parser is False
    fast = Scanner(build_analyzer(settings), KEY, settings)
    whole = _full_pipeline(fast, settings, parser=True)
    texts = _texts(demo_texts, settings)
    assert fast.scan_results(texts, batch_size=32) == whole.scan_results(texts, batch_size=32)


def test_the_matrix_libraries_agree(demo: tuple[ScanSettings, list[str]]) -> None:
    settings, texts = demo
    numpy = Scanner(build_analyzer(settings), KEY, settings)
    blis_settings = settings.model_copy(update={"matrix_library": "blis"})
    blis = Scanner(build_analyzer(blis_settings), KEY, blis_settings)
    assert numpy.revision != blis.revision  # a float may differ: rescans say why
    assert numpy.revision_parts["model"] != blis.revision_parts["model"]
    assert numpy.scan_results(texts[:300]) == blis.scan_results(texts[:300])


def test_the_lemma_components_run_only_where_context_is_read(
    demo: tuple[ScanSettings, list[str]],
) -> None:
    settings, texts = demo
    analyzer = build_analyzer(settings)
    engine = analyzer.nlp_engine
    assert isinstance(engine, _LoadedSpacyNlpEngine)
    assert engine.pipe_split("en") == (
        ["ner"],
        [],
        ["tok2vec", "tagger", "attribute_ruler", "lemmatizer"],
    )
    with_parser = build_analyzer(settings.model_copy(update={"parser": True})).nlp_engine
    assert isinstance(with_parser, _LoadedSpacyNlpEngine)
    assert with_parser.pipe_split("en") == (
        ["ner"],
        ["tok2vec", "parser"],
        ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer"],
    )
    texts = texts[:200]
    arts = list(engine.lazy_artifacts(texts, "en", 32))
    for text, art in zip(texts, arts, strict=True):
        analyzer.analyze(text=text, language="en", nlp_artifacts=art, score_threshold=0.0)
    completed = sum(isinstance(a, _LazyNlpArtifacts) and a.completed for a in arts)
    assert 0 < completed < len(texts)
    # Reading lemmas runs the components: the lemmas are those of the whole pipeline.
    text = "Please route the wire; the routing number is 021000021."
    (lazy,) = engine.lazy_artifacts([text], "en", 1)
    assert not lazy.completed
    assert lazy.lemmas == [t.lemma_ for t in spacy.load(settings.model)(text)]
    assert lazy.completed


def test_the_revision_names_the_pipeline(demo: tuple[ScanSettings, list[str]]) -> None:
    settings, _ = demo
    fast = Scanner(build_analyzer(settings), KEY, settings)
    assert fast.revision != _full_pipeline(fast, settings).revision
    with_parser = settings.model_copy(update={"parser": True})
    assert fast.revision != Scanner(build_analyzer(with_parser), KEY, with_parser).revision
    assert set(fast.revision_parts) >= {"model", "entities", "recognizer SpacyRecognizer"}


# The NER alone would put an entity across a sentence start the parser sets in the first
# text (so it runs again with the sentences); in the second its entities stand.
SENTENCES = [
    "Beneficiary details:\nName: Sara Robinson\nIBAN: ES24 2605 7479 3138 0927 5253\n"
    "Address: 836 Morgan Circle Suite 495",
    "Contact John Smith at the Paris branch tomorrow.",
]


@pytest.mark.parametrize("text", SENTENCES)
def test_entities_respect_the_parsers_sentences(text: str) -> None:
    settings = ScanSettings(parser=True)
    engine = build_analyzer(settings).nlp_engine
    assert isinstance(engine, _LoadedSpacyNlpEngine)
    (art,) = engine.lazy_artifacts([text], "en", 1)
    nlp = spacy.load(settings.model)
    whole = nlp(text)
    without_sentences = nlp(text, disable=["tok2vec", "parser"])

    def spans(ents: object) -> list[tuple[int, int]]:
        return [(e.start_char, e.end_char) for e in ents]  # type: ignore[attr-defined]

    assert spans(art.tokens.ents) == spans(whole.ents)
    cut = spans(whole.ents) != spans(without_sentences.ents)
    assert cut == (text == SENTENCES[0])


# The attribute ruler has patterns on dependency labels: with the parser, lemmas must be made
# after it ("expected" stays "expected" in this code only when the parser has run).
CODE = (
    "Here are tests using parametrize, including empty input, a single element and the "
    "boundaries:\n\n```python\n@pytest.mark.parametrize('args, expected', [...])\n"
    "def test_cases(args, expected):\n    assert fn(*args) == expected\n```\n\nFill the table "
    "with the cases above; I'd also add one test for invalid input."
)


@pytest.mark.parametrize("parser", [False, True], ids=["without parser", "with parser"])
def test_lemmas_are_those_of_the_configured_pipeline(parser: bool) -> None:
    settings = ScanSettings(parser=parser)
    engine = build_analyzer(settings).nlp_engine
    assert isinstance(engine, _LoadedSpacyNlpEngine)
    (lazy,) = engine.lazy_artifacts([CODE], "en", 1)
    with use_ops("numpy", use_blis=False):
        nlp = spacy.load(settings.model, exclude=[] if parser else ["parser"])
    assert lazy.lemmas == [t.lemma_ for t in nlp(CODE)]


def test_with_the_fast_path_fenced_off_the_scanner_finds_the_same(
    demo: tuple[ScanSettings, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unverified library version turns the NER fast path off; the scanner then decodes
    with spaCy's own code and finds exactly the same (slower, never different)."""
    from auditor.scan import ner_decoder

    settings, demo_texts = demo
    texts = demo_texts[:120]
    fast = Scanner(build_analyzer(settings), KEY, settings)
    want = fast.scan_results(texts, batch_size=32)
    monkeypatch.setitem(ner_decoder.VERIFIED_VERSIONS, "thinc", "0.0.0-unverified")
    assert ner_decoder.fast_path_status().startswith("off: thinc")
    fenced = Scanner(build_analyzer(settings), KEY, settings)
    assert fenced.scan_results(texts, batch_size=32) == want
    assert sum(bool(r.hits) for r in want) > 10


def test_a_fast_path_that_disagrees_at_start_up_is_not_used(
    demo: tuple[ScanSettings, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At verified versions, a decoder that sets other entities than spaCy's own NER (as a
    library release keeping the layer names but changing a rule would) fails the start-up
    self-check: the scanner decodes with spaCy's own code, finds the same as before, says so,
    and its revision is not that of a scanner with the fast path on."""
    from auditor.scan import ner_decoder

    settings, demo_texts = demo
    texts = demo_texts[:120]
    monkeypatch.setattr(ner_decoder, "_self_checks", {})
    monkeypatch.setattr(ner_decoder, "_decoders", {})
    fast = Scanner(build_analyzer(settings), KEY, settings)
    assert ner_decoder.fast_path_status() == "on"
    want = fast.scan_results(texts, batch_size=32)

    real_decode = ner_decoder.NerDecoder._decode

    def drop_entities(self: ner_decoder.NerDecoder, docs: list[Any]) -> None:
        real_decode(self, docs)
        for doc in docs:
            doc.set_ents([], default="outside")

    monkeypatch.setattr(ner_decoder.NerDecoder, "_decode", drop_entities)
    monkeypatch.setattr(ner_decoder, "_self_checks", {})
    monkeypatch.setattr(ner_decoder, "_decoders", {})
    checked = Scanner(build_analyzer(settings), KEY, settings)
    status = ner_decoder.fast_path_status()
    assert status.startswith("off: start-up self-check: the fast path and spaCy's NER set")
    assert checked.scan_results(texts, batch_size=32) == want
    assert checked.revision != fast.revision
    assert sum(bool(r.hits) for r in want) > 10
