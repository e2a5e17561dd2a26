"""The NER decoded in numpy (auditor/scan/ner_decoder.py) sets exactly the entities spaCy's own
NER sets: word by word, on demo and harness texts, odd shapes, sentence starts and presets."""

from __future__ import annotations

from pathlib import Path

import pytest
import spacy
from accuracy_corpus import build_corpus
from spacy.language import Language
from spacy.tokens import Doc

from auditor.config import ScanSettings
from auditor.scan.engine import load_spacy_model
from auditor.scan.ner_decoder import NerDecoder, decodable, ner_pipe
from tests.scan.helpers import demo_texts

ODD = [
    "",
    " ",
    "\n\n\t",
    "Smith",
    "Mr. John Smith",
    "Mr. John Smith\n\nParis, France\n",
    "Contact Sara Robinson at Deutsche Bank in Frankfurt on 3 March 2025.",
    "word " * 600 + "Barack Obama met Angela Merkel in Berlin.",
    "  leading spaces then Alice Jones",
    "ALL CAPS JOHN SMITH FROM NEW YORK",
    "email bob@example.com, call +44 20 7946 0958; Bob Example-Smith signs.",
]


def _entities(docs: list[Doc]) -> list[list[tuple[str, str]]]:
    return [[(t.ent_iob_, t.ent_type_) for t in doc] for doc in docs]


@pytest.fixture(scope="module")
def nlp() -> Language:
    return load_spacy_model(ScanSettings().model, "numpy")


@pytest.fixture(scope="module")
def texts(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    found = demo_texts(tmp_path_factory.mktemp("demo"))
    found += [s.text for s in build_corpus(seed=5, per_template=3, split="test").samples]
    return list(dict.fromkeys(found)) + ODD


@pytest.mark.parametrize("batch_size", [64, 7, 1])
def test_same_entities_as_spacys_ner(nlp: Language, texts: list[str], batch_size: int) -> None:
    ner = nlp.get_pipe("ner")
    assert decodable(ner)
    want = list(ner.pipe((nlp.make_doc(t) for t in texts), batch_size=batch_size))
    got = list(ner_pipe(ner, (nlp.make_doc(t) for t in texts), batch_size))
    assert [d.text for d in got] == texts  # in order
    assert _entities(got) == _entities(want)
    assert sum(bool(d.ents) for d in got) > len(texts) // 3  # not a vacuous comparison


def test_sentence_starts_are_respected(nlp: Language) -> None:
    """With the parser's sentences set (scan.parser), no entity crosses one, as in spaCy."""
    ner = nlp.get_pipe("ner")
    texts = [
        *ODD[4:8],
        # The NER alone would put an entity across the parser's sentence start here.
        "Beneficiary details:\nName: Sara Robinson\nIBAN: ES24 2605 7479 3138 0927 5253\n"
        "Address: 836 Morgan Circle Suite 495",
    ]

    def parsed() -> list[Doc]:
        docs = [nlp(t, disable=["ner"]) for t in texts]
        for doc in docs:
            doc.set_ents([], default="missing")  # as before the NER runs
        return docs

    want = list(ner.pipe(parsed(), batch_size=8))
    got = list(NerDecoder(ner).pipe(parsed(), batch_size=8))
    assert _entities(got) == _entities(want)
    assert any(t.is_sent_start for d in got for t in d[1:])
    unconstrained = list(ner.pipe((nlp.make_doc(t) for t in texts), batch_size=8))
    assert _entities(got) != _entities(unconstrained)  # the sentences made a difference


def test_preset_entities_go_through_spacy(nlp: Language) -> None:
    ner = nlp.get_pipe("ner")
    doc = nlp.make_doc("Ask Sara Robinson about Frankfurt.")
    doc.set_ents([doc.char_span(4, 17, label="PERSON")], default="unmodified")
    reference = nlp.make_doc(doc.text)
    reference.set_ents([reference.char_span(4, 17, label="PERSON")], default="unmodified")
    (got,) = NerDecoder(ner).pipe([doc])
    (want,) = ner.pipe([reference])
    assert _entities([got]) == _entities([want])


def test_only_spacys_greedy_ner_is_decoded() -> None:
    blank = spacy.blank("en")
    assert not decodable(blank.add_pipe("sentencizer"))
    assert not decodable(blank.add_pipe("entity_ruler"))
    with pytest.raises(ValueError):
        NerDecoder(blank.get_pipe("entity_ruler"))  # type: ignore[arg-type]


def test_the_pins_are_the_verified_versions() -> None:
    """pyproject.toml pins exactly the versions the decoder was checked against."""
    import tomllib

    from auditor.scan.ner_decoder import VERIFIED_VERSIONS, version_mismatches

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    pins = dict(d.split("==", 1) for d in project["project"]["dependencies"] if "==" in d)
    assert {name: pins.get(name) for name in VERIFIED_VERSIONS} == VERIFIED_VERSIONS
    assert version_mismatches() == {}  # the suite runs the fast path it verifies


@pytest.mark.parametrize("name", ["spacy", "thinc", "blis", "numpy"])
def test_another_version_turns_the_fast_path_off(
    nlp: Language, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    from auditor.scan import ner_decoder

    monkeypatch.setitem(ner_decoder.VERIFIED_VERSIONS, name, "0.0.0-not-installed")
    assert not decodable(nlp.get_pipe("ner"))
    status = ner_decoder.fast_path_status()
    assert status.startswith("off: ") and "verified 0.0.0-not-installed" in status
