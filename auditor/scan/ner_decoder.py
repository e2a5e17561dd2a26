"""spaCy's named-entity recognizer, decoded for a batch of texts at once: the same entities.

spaCy's NER (a transition-based parser with BILUO moves) scores one move per word. Its compiled
loop checks every move's validity for every word of every text, and in spaCy 3.8 each check
takes and releases Python's lock (perf shows ~40% of the NER's time in those mutex calls). This
module runs the same model the same way, with the word loop in numpy over all texts of a
sub-batch at once:

- the word vectors and the precomputed first layer come from the model's own layers
  (`tok2vec`, `lower`), on the same sub-batches `Parser.pipe` makes (a batch sorted by length,
  cut in quarters), so every float is the one spaCy computes;
- each step sums the same three precomputed feature rows in the same order (next word, first
  word of the open entity, last word of it; padding where there is none), adds the bias, takes
  the maxout, and scores the moves with blis's sgemm on the same rows, as spaCy's
  `predict_states` does;
- the valid moves are those of spaCy's BiluoPushDown for a text without preset entities (ner.pyx:
  Begin, In, Last, Unit, Out), and the move taken is the first best-scoring valid one
  (`arg_max_if_valid`);
- entities are set as the NER sets them (`set_ents`, other words outside).

`decodable` says when this applies (a greedy NER of that architecture, no preset entities,
and spaCy, thinc, blis and numpy at the versions it was checked against); anything else goes
through spaCy's own `pipe`. tests/scan/test_ner_decoder.py compares the two word by word on
demo and harness texts, long texts and sentence starts included.

The fence: this module re-implements private internals of those four libraries. A release that
keeps the layer names and changes a rule would change what the scanner finds without any test
of ours noticing, so the fast path runs only at the exact versions in VERIFIED_VERSIONS (the
ones pyproject.toml pins and the comparison test ran on). At any other version the scanner
decodes with spaCy's own code, slower and the same by construction, and `fast_path_status()`
says why. Upgrading one of them means: install it, run tests/scan/test_ner_decoder.py and
tests/scan/test_fast_path.py (which force the fast path on), and update VERIFIED_VERSIONS and
the pins together.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib import metadata
from itertools import islice
from typing import Any

import numpy as np
from blis.py import gemm
from spacy.attrs import ENT_IOB, IS_SPACE, SENT_START
from spacy.pipeline import EntityRecognizer
from spacy.tokens import Doc, Span

_BEGIN, _IN, _LAST, _UNIT, _OUT, _NONE = range(6)
_ACTIONS = {"B": _BEGIN, "I": _IN, "L": _LAST, "U": _UNIT, "O": _OUT}
_FEATURES = 3  # spaCy's "ner" state: next word, first word of the open entity, last word of it


# The versions this module was checked against word by word (see the module doc).
VERIFIED_VERSIONS: dict[str, str] = {
    "spacy": "3.8.18",
    "thinc": "8.3.14",
    "blis": "1.3.4",
    "numpy": "2.4.6",
}


def version_mismatches() -> dict[str, tuple[str, str | None]]:
    """distribution -> (verified version, installed version or None) for each that differs."""
    out: dict[str, tuple[str, str | None]] = {}
    for name, verified in VERIFIED_VERSIONS.items():
        try:
            installed: str | None = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != verified:
            out[name] = (verified, installed)
    return out


def fast_path_status() -> str:
    """ "on", or why the fast path is off ("off: thinc 8.4.0 installed, verified 8.3.14", or
    "off: start-up self-check: ..." once a model's self-check in this process disagreed)."""
    mismatches = version_mismatches()
    if mismatches:
        return "off: " + ", ".join(
            f"{name} {installed or 'missing'} installed, verified {verified}"
            for name, (verified, installed) in sorted(mismatches.items())
        )
    failed = sorted({r for _, r in _self_checks.values() if r})
    if failed:
        return "off: start-up self-check: " + "; ".join(failed)
    return "on"


# The start-up self-check: fixed texts of many kinds (names from many countries, places,
# organisations, dates, amounts, code, mixed scripts, one long text) decoded by spaCy's own NER
# and by this module, entity by entity. Words are given pre-split, so only the decoders differ.
SELF_CHECK_TEXTS: tuple[str, ...] = (
    "Please send the Q3 summary to Margaret O'Neill at Barclays in London by Friday .",
    "Dr. Chukwuemeka Obi met Jean-Pierre Dubois and Ana María de la Cruz in Madrid on 3 March .",
    "Transfer EUR 2,500,000 from Deutsche Bank AG Frankfurt to HSBC Hong Kong before 17:00 .",
    "Call Rahul Venkataraman about the Tata Steel bond ; he is in Mumbai until Tuesday .",
    "Why is Sigrun so late ? People call me Annunziata .",
    "Goldman Sachs , Morgan Stanley and J.P. Morgan lead the IPO of Northwind Holdings .",
    "def total ( principal , rate ) : return principal . multiply ( rate ) # Intl . NumberFormat",
    "The European Central Bank held rates on Thursday ; the Fed meets in Washington next week .",
    "Meeting with Nguyễn Thị Minh Khai and Chen Jiahao from Ping An Insurance in Shanghai .",
    "Ms. Wilhelmina van der Laan ( Rabobank , Utrecht ) asked about the 2026 annual report .",
    "ERROR 2026-10-05T09:00:00Z OrderService failed : NullPointerException at line 42",
    "Krzysztof Wiśniewski of PKO Bank Polski flew from Warsaw to New York on Monday morning .",
    " ".join(
        f"Report {i} : Alice Martin of Lloyds in Edinburgh sent 1,{i:03d} GBP to Bob Stone ."
        for i in range(40)
    ),
    "",
    "Hello",
)

# id(component) -> (the component, kept so that its id is not reused; "" agreed, or what not)
_self_checks: dict[int, tuple[object, str]] = {}


def _check_docs(component: EntityRecognizer) -> list[Doc]:
    vocab = component.vocab
    return [
        Doc(vocab, words=text.split()) if text else Doc(vocab, words=[])
        for text in SELF_CHECK_TEXTS
    ]


def self_check(component: EntityRecognizer) -> str:
    """ "" when this module and spaCy's own NER set the same entities on SELF_CHECK_TEXTS,
    else what disagreed (never the texts' words). Run once per component and cached."""
    key = id(component)
    known = _self_checks.get(key)
    if known is not None and known[0] is component:
        return known[1]
    try:
        theirs = [
            [(e.start, e.end, e.label_) for e in doc.ents]
            for doc in component.pipe(_check_docs(component), batch_size=8)
        ]
        decoder = NerDecoder(component, checked=True)
        ours = [
            [(e.start, e.end, e.label_) for e in doc.ents]
            for doc in decoder.pipe(_check_docs(component), batch_size=8)
        ]
        differing = sum(a != b for a, b in zip(theirs, ours, strict=True))
        result = (
            f"the fast path and spaCy's NER set different entities on {differing} of "
            f"{len(theirs)} texts"
            if differing
            else ""
        )
    except Exception as exc:  # noqa: BLE001 - any failure of the fast path means: do not use it
        result = f"the fast path failed ({type(exc).__name__})"
    _self_checks[key] = (component, result)
    if result:
        _decoders.pop(key, None)
    return result


def decodable(component: object) -> bool:
    """Whether `component` is a NER this module decodes exactly as spaCy does: spaCy's own
    greedy NER of the known architecture, with the libraries at their verified versions, and
    the start-up self-check passed for it."""
    return _decodable(component) and not self_check(component)


def _decodable(component: object) -> bool:
    if type(component) is not EntityRecognizer:  # a subclass may change anything
        return False
    if version_mismatches():
        return False
    model = component.model  # type: ignore[attr-defined]
    cfg = component.cfg  # type: ignore[attr-defined]
    try:
        lower, upper = model.get_ref("lower"), model.get_ref("upper")
        return bool(
            cfg.get("beam_width", 1) == 1
            and not cfg.get("incorrect_spans_key")
            and not component.postprocesses  # type: ignore[attr-defined]
            and model.attrs.get("has_upper")
            and not model.attrs.get("unseen_classes")
            and lower.get_dim("nF") == _FEATURES
            and lower.get_dim("nP") >= 2
            and upper.get_param("W").shape[0] == component.moves.n_moves  # type: ignore[attr-defined]
        )
    except (KeyError, ValueError, AttributeError):
        return False


class NerDecoder:
    """Decodes a spaCy EntityRecognizer (see the module doc). Build once per component."""

    def __init__(self, component: EntityRecognizer, *, checked: bool = False) -> None:
        # `checked`: built by the self-check itself, which has done _decodable's part.
        if not (_decodable(component) if checked else decodable(component)):
            raise ValueError("not a greedy BILUO named-entity recognizer this decoder knows")
        self.component = component
        model = component.model
        self._tok2vec = model.get_ref("tok2vec")
        self._lower = model.get_ref("lower")
        upper = model.get_ref("upper")
        self._bias = np.ascontiguousarray(self._lower.get_param("b"), dtype="f")
        self._upper_w = np.ascontiguousarray(upper.get_param("W"), dtype="f")
        self._upper_b = np.ascontiguousarray(upper.get_param("b"), dtype="f")
        moves = component.moves
        kinds, labels, names = [], [], []
        for i in range(moves.n_moves):
            name = moves.get_class_name(i)
            action, _, label = name.partition("-")
            kind = _ACTIONS.get(action, _NONE)
            # A move with no label (e.g. "U-") is only valid on preset entities: never here.
            if kind in (_BEGIN, _IN, _LAST, _UNIT) and not label:
                kind = _NONE
            kinds.append(kind)
            names.append(label)
            labels.append(i)
        self._kinds = np.array(kinds)
        self._labels = names
        # The label of an entity is compared by class label; map each class to a label index.
        distinct = sorted({n for n in names if n})
        index = {n: k + 1 for k, n in enumerate(distinct)}
        self._label_ids = np.array([index.get(n, 0) for n in names])
        self._label_names = ["", *distinct]
        self._is = {
            kind: (self._kinds == kind)[None, :] for kind in (_BEGIN, _IN, _LAST, _UNIT, _OUT)
        }

    def pipe(self, docs: Iterable[Doc], batch_size: int = 256) -> Iterator[Doc]:
        """Like `EntityRecognizer.pipe`: docs in order, entities set, batches as spaCy makes
        them. A doc with preset entities goes through spaCy's own NER with its sub-batch."""
        stream = iter(docs)
        while batch := list(islice(stream, batch_size)):
            by_length = sorted(batch, key=len)
            step = max(batch_size // 4, 2)
            for start in range(0, len(by_length), step):
                sub = by_length[start : start + step]
                if any(len(doc) and doc.has_annotation("ENT_IOB") for doc in sub):
                    states = self.component.predict(sub)
                    self.component.set_annotations(sub, states)
                else:
                    self._decode(sub)
            yield from batch

    def _decode(self, docs: list[Doc]) -> None:
        lengths = np.array([len(doc) for doc in docs])
        if not lengths.any():
            return
        tokvecs = self._tok2vec.predict(docs)
        cached = self._lower.predict(tokvecs)  # (words + 1, features, hidden, pieces); row 0 pads
        offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        arrays = [doc.to_array([IS_SPACE, SENT_START, ENT_IOB]) for doc in docs]
        flat = np.concatenate([a for a in arrays if len(a)]).reshape(-1, 3)
        space = flat[:, 0].astype(bool)
        # Sentence starts after the last word count as none (spaCy reads an empty token there).
        sent_start = np.append(flat[:, 1].astype(np.int64) == 1, False)
        total = len(flat)
        count = len(docs)
        is_open = np.zeros(count, dtype=bool)
        ent_start = np.zeros(count, dtype=np.int64)
        ent_label = np.zeros(count, dtype=np.int64)
        found: list[list[tuple[int, int, int]]] = [[] for _ in docs]
        first = int(np.searchsorted(lengths, 0, side="right"))  # lengths are sorted
        kinds, label_ids, is_kind = self._kinds, self._label_ids, self._is
        for t in range(int(lengths.max())):
            while first < count and lengths[first] <= t:
                first += 1
            live = slice(first, count)
            words = offsets[live] + t
            opened = is_open[live]
            start_word = np.where(opened, offsets[live] + ent_start[live], -1)
            last_word = np.where(opened, words - 1, -1)
            # Feature rows in spaCy's order, then the bias: the same float32 additions.
            unmaxed = cached[words + 1, 0] + cached[start_word + 1, 1]
            unmaxed += cached[last_word + 1, 2]
            unmaxed += self._bias
            hidden = np.ascontiguousarray(unmaxed.max(axis=2))
            scores = gemm(hidden, self._upper_w, trans2=True)
            scores += self._upper_b
            left = lengths[live] - t
            next_starts = sent_start[np.minimum(words + 1, total)] & (left > 1)
            on_space = space[words]
            same_label = label_ids[None, :] == ent_label[live][:, None]
            valid = (
                (is_kind[_BEGIN] & (~opened & (left >= 2) & ~next_starts & ~on_space)[:, None])
                | (is_kind[_IN] & (opened & (left >= 2) & ~next_starts)[:, None] & same_label)
                | (is_kind[_LAST] & opened[:, None] & same_label)
                | (is_kind[_UNIT] & (~opened & ~on_space)[:, None])
                | (is_kind[_OUT] & ~opened[:, None])
            )
            best = np.where(valid, scores, -np.inf).argmax(axis=1)
            action = kinds[best]
            for row in np.flatnonzero((action == _UNIT) | (action == _LAST)):
                index = first + row
                label = int(label_ids[best[row]])
                begin = t if action[row] == _UNIT else int(ent_start[index])
                found[index].append((begin, t + 1, label))
            begins = action == _BEGIN
            ent_start[live] = np.where(begins, t, ent_start[live])
            ent_label[live] = np.where(begins, label_ids[best], ent_label[live])
            is_open[live] = (opened & (action == _IN)) | begins
        for doc, ents in zip(docs, found, strict=True):
            doc.set_ents(
                [Span(doc, s, e, label=self._label_names[label]) for s, e, label in ents],
                default="outside",
            )


def ner_pipe(component: Any, docs: Iterable[Doc], batch_size: int) -> Iterator[Doc]:
    """`component.pipe(docs)` for a component `decodable` accepts, decoded here."""
    decoder = _decoders.get(id(component))
    if decoder is None or decoder.component is not component:
        decoder = _decoders[id(component)] = NerDecoder(component)
    return decoder.pipe(docs, batch_size)


_decoders: dict[int, NerDecoder] = {}
