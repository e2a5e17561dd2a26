"""Our own recognizers. They register through conf/recognizers.yaml like presidio's built-ins.

A class named in that file is looked up among the imported subclasses of presidio's
`EntityRecognizer`, so this module must be imported before the registry is built (engine.py
does so).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import tldextract
import yaml
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import EmailRecognizer, PhoneRecognizer

from auditor.errors import ScanError
from auditor.scan.invisible import has_zero_width, without_zero_width
from auditor.scan.registers import (
    ClientRegister,
    TermList,
    TermMatch,
    load_client_register,
    load_restricted_list,
    load_term_list,
)

# Top-level domains missing from the Public Suffix List under which mail addresses still name
# people: private-use names common on bank intranets, and the names reserved for examples and
# tests (RFC 2606, RFC 6762), which synthetic and documentation data use.
EXTRA_EMAIL_SUFFIXES = ("internal", "intranet", "corp", "lan", "local", "example", "test")

# tldextract's module-level extractor fetches the Public Suffix List over HTTP on first use and
# caches it under $HOME. Banks run air-gapped, so ours reads only the snapshot bundled with the
# package: no URLs to try, no disk cache to write.
OFFLINE_TLD_EXTRACT = tldextract.TLDExtract(
    cache_dir=None,
    suffix_list_urls=(),
    fallback_to_snapshot=True,
    extra_suffixes=EXTRA_EMAIL_SUFFIXES,
)


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's email recognizer, validating the domain against the bundled suffix list, and
    seeing through zero-width characters inside an address (auditor.scan.invisible)."""

    EXTRA_SUFFIXES = EXTRA_EMAIL_SUFFIXES

    def validate_result(self, pattern_text: str) -> bool:
        return OFFLINE_TLD_EXTRACT(pattern_text).fqdn != ""

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        if not has_zero_width(text):
            return super().analyze(text, entities, nlp_artifacts, regex_flags)
        plain, index = without_zero_width(text)
        results: list[RecognizerResult] = super().analyze(plain, entities, None, regex_flags)
        for r in results:
            r.start, r.end = index[r.start], index[r.end - 1] + 1
        return results


SUBJECT_KEY = "subject_id"  # recognition_metadata key: the client id of a CLIENT_* result
SPECIAL_CATEGORY_FILE = Path(__file__).resolve().parent / "conf" / "special_category.yaml"


def _result(
    rec: EntityRecognizer, etype: str, start: int, end: int, score: float, subject: str | None
) -> RecognizerResult:
    meta: dict[str, object] = {
        RecognizerResult.RECOGNIZER_NAME_KEY: rec.name,
        RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: rec.id,
    }
    if subject is not None:
        meta[SUBJECT_KEY] = subject
    return RecognizerResult(etype, start, end, score, recognition_metadata=meta)


class RegisterRecognizer(EntityRecognizer):
    """A recognizer whose terms come from a file the firm configures. The registry builds it
    empty from conf/recognizers.yaml; `build_analyzer` then attaches the data (`attach`)."""

    ENTITY = ""
    SCORE = 0.95

    def __init__(self, supported_language: str = "en", **kwargs: object) -> None:
        super().__init__(
            supported_entities=[self.ENTITY],
            name=type(self).__name__,
            supported_language=supported_language,
        )
        self.data_digest = ""  # of the attached file: part of the scanner revision

    def load(self) -> None:
        return None

    def matches(self, text: str) -> list[TermMatch]:
        """The register's terms found in `text`; each subclass searches its own register."""
        raise TypeError(f"{type(self).__name__} does not say how to search its register")

    def subject(self, match: TermMatch) -> str | None:
        return match.subject

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if self.ENTITY not in entities:
            return []
        return [
            _result(self, self.ENTITY, m.start, m.end, self.SCORE, self.subject(m))
            for m in self.matches(text)
        ]


class ClientNameRecognizer(RegisterRecognizer):
    """CLIENT_NAME: a client's name or alias from scan.client_register, whole words, any case,
    across line breaks, possessives included; the client id rides along."""

    ENTITY = "CLIENT_NAME"

    def attach(self, register: ClientRegister, path: Path | None = None) -> None:
        self._register = register
        self.data_digest = register.digest

    def matches(self, text: str) -> list[TermMatch]:
        register = getattr(self, "_register", None)
        return register.names.find(text) if register is not None else []


class ClientAccountRecognizer(RegisterRecognizer):
    """CLIENT_ACCOUNT: an account listed for a client, with or without separators."""

    ENTITY = "CLIENT_ACCOUNT"

    def attach(self, register: ClientRegister, path: Path | None = None) -> None:
        self._register = register
        self.data_digest = register.digest

    def matches(self, text: str) -> list[TermMatch]:
        register = getattr(self, "_register", None)
        return register.accounts.find(text) if register is not None else []


class RestrictedTermRecognizer(RegisterRecognizer):
    """RESTRICTED_TERM: a whole term of scan.restricted_list (code names, issuers, tickers)."""

    ENTITY = "RESTRICTED_TERM"

    def attach(self, terms: TermList) -> None:
        self._terms = terms
        self.data_digest = terms.digest

    def matches(self, text: str) -> list[TermMatch]:
        terms = getattr(self, "_terms", None)
        return terms.terms.find(text) if terms is not None else []

    def subject(self, match: TermMatch) -> str | None:
        return None  # the kind is not an identity; the value hash tells terms apart


class SpecialCategoryRecognizer(RestrictedTermRecognizer):
    """SPECIAL_CATEGORY: GDPR Art. 9 terms (health, religion, trade union, sexual orientation,
    ethnicity, political opinion), from conf/special_category.yaml or
    scan.special_category_terms. Scored below register matches: a term says less than a list
    entry, and the policy asks for a person beside it."""

    ENTITY = "SPECIAL_CATEGORY"
    SCORE = 0.7


def load_special_categories(path: Path | None) -> TermList:
    """The special-category terms: a CSV `term,category` at `path`, else the bundled YAML.

    Raises ScanError naming the file if it cannot be read or is malformed.
    """
    if path is not None:
        return load_term_list(path)
    try:
        data = yaml.safe_load(SPECIAL_CATEGORY_FILE.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScanError(f"cannot read {SPECIAL_CATEGORY_FILE}: {type(exc).__name__}") from None
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise ScanError(f"{SPECIAL_CATEGORY_FILE} must map categories to lists of terms")
    pairs = [(str(term), str(cat)) for cat, terms in data.items() for term in terms]
    return load_term_list(SPECIAL_CATEGORY_FILE, pairs)


def attach_registers(
    recognizers: Iterable[EntityRecognizer],
    client_register: Path | None,
    restricted_list: Path | None,
    special_category_terms: Path | None,
) -> None:
    """Give the register recognizers of a registry their data, loaded once per file.

    Raises ScanError (from the loaders) naming the file and line of a bad register.
    """
    clients: ClientRegister | None = None
    restricted: TermList | None = None
    special: TermList | None = None
    for rec in recognizers:
        if isinstance(rec, ClientNameRecognizer | ClientAccountRecognizer):
            if client_register is not None:
                clients = clients or load_client_register(client_register)
                rec.attach(clients)
        elif isinstance(rec, SpecialCategoryRecognizer):
            special = special or load_special_categories(special_category_terms)
            rec.attach(special)
        elif isinstance(rec, RestrictedTermRecognizer) and restricted_list is not None:
            restricted = restricted or load_restricted_list(restricted_list)
            rec.attach(restricted)


# --- street addresses -----------------------------------------------------------------------

# USPS Publication 28, C1 street suffixes (names and common abbreviations), plus British ones.
STREET_SUFFIXES = str.split(
    "Alley Aly Annex Arcade Avenue Ave Av Bayou Beach Bend Bluff Bluffs Bottom Boulevard Blvd "
    "Branch Bridge Brook Brooks Burg Burgs Bypass Camp Canyon Cape Causeway Center Centers "
    "Centre Circle Cir Circles Cliff Cliffs Close Club Common Commons Corner Corners Course "
    "Court Ct Courts Cove Coves Creek Crescent Cres Crest Crossing Crossroad Curve Dale Dam "
    "Divide Drive Dr Drives Estate Estates Expressway Expy Extension Extensions Fall Falls "
    "Ferry Field Fields Flat Flats Ford Fords Forest Forge Forges Fork Forks Fort Freeway Fwy "
    "Garden Gardens Gateway Gate Glen Glens Green Greens Grove Groves Harbor Harbors Harbour "
    "Haven Heights Highway Hwy Hill Hills Hollow Inlet Island Islands Isle Junction Junctions "
    "Key Keys Knoll Knolls Lake Lakes Land Landing Lane Ln Light Lights Loaf Lock Locks Lodge "
    "Loop Mall Manor Manors Meadow Meadows Mews Mill Mills Mission Motorway Mount Mountain "
    "Mountains Neck Orchard Oval Overpass Parade Park Parks Parkway Pkwy Parkways Pass "
    "Passage Path Pike Pine Pines Place Pl Plain Plains Plaza Point Points Port Ports Prairie "
    "Radial Ramp Ranch Rapid Rapids Rest Ridge Ridges Rise River Road Rd Roads Route Row Rue "
    "Run Shoal Shoals Shore Shores Skyway Spring Springs Spur Spurs Square Sq Squares Station "
    "Stravenue Stream Street St Streets Summit Terrace Ter Throughway Trace Track Trafficway "
    "Trail Trailer Tunnel Turnpike Underpass Union Unions Vale Valley Valleys Viaduct View "
    "Views Village Villages Ville Vista Walk Walks Wall Way Ways Well Wells Wharf Yard"
)
_ABBREVIATED = frozenset(
    str.split("Aly Av Ave Blvd Cir Cres Ct Dr Expy Fwy Hwy Ln Pkwy Pl Rd Sq St Ste Ter")
)
_FULL_SUFFIXES = [s for s in STREET_SUFFIXES if s not in _ABBREVIATED]
_WORD = r"(?:[A-Z][a-z'’]+|[A-Z]{2,}|[0-9]+(?:st|nd|rd|th))"
_STREET = (
    r"(?<![\w.,/-])"  # not inside a longer number, amount or code
    r"[0-9]{1,6}[A-Za-z]?(?:-[0-9]{1,4})?,?[ \t]+"
    r"(?:(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)\.?[ \t]+)?"
    rf"(?:{_WORD}[ \t]+){{1,4}}"
    rf"(?:(?:{'|'.join(sorted(_FULL_SUFFIXES, key=lambda w: (-len(w), w)))})\b"
    rf"|(?:{'|'.join(sorted(_ABBREVIATED, key=lambda w: (-len(w), w)))})\b\.?)"
    r"(?:[ \t]+(?:N|S|E|W|NE|NW|SE|SW)\b\.?)?"
    r"(?:,?[ \t]*(?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor|Fl|Room|Rm|#)\.?[ \t]*"
    r"#?[0-9A-Z-]{1,6}\b)?"
)
# ", City, ST 12345" (US) or ", City AB1 2CD" (UK): makes a street line a full address.
# Military addresses: "PSC 1048, Box 3238, APO AA 13750", "Unit 4301 Box 5404, DPO AP 73087".
_MILITARY = (
    r"(?-i:\b(?:PSC|CMR|Unit)[ ]+[0-9]{1,5},?[ ]+Box[ ]+[0-9]{1,5},?[ ]+"
    r"(?:APO|FPO|DPO)[ ]+(?:AA|AE|AP)[ ]+[0-9]{5}\b)"
)
_US_TAIL = (
    r"(?:,?[ \t]*(?:\n[ \t]*)?(?:[A-Z][a-z]+[ \t]){0,2}[A-Z][a-z]+,[ \t]*"
    r"[A-Z]{2}[ \t]+[0-9]{5}(?:-[0-9]{4})?)"
)
_UK_TAIL = (
    r"(?:,?[ \t]*(?:[A-Z][a-z]+[ \t]){0,2}[A-Z][a-z]+,?[ \t]+"
    r"[A-Z]{1,2}[0-9][A-Z0-9]?[ \t]?[0-9][A-Z]{2})\b"
)


class StreetAddressRecognizer(PatternRecognizer):
    """STREET_ADDRESS: a house number, up to four capitalised words and a street suffix (USPS
    list and British ones), an optional unit, and optionally the city, state and ZIP (or the
    town and UK postcode) that follow. Case-sensitive: "5 easy steps" is not an address."""

    PATTERNS = [
        Pattern("street line", rf"(?-i:{_STREET})", 0.5),
        Pattern("street and US city line", rf"(?-i:{_STREET}{_US_TAIL})", 0.85),
        Pattern("street and UK postcode", rf"(?-i:{_STREET}{_UK_TAIL})", 0.85),
        Pattern("military address", _MILITARY, 0.85),
    ]
    CONTEXT = [
        "address",
        "street",
        "mailing",
        "ship",
        "deliver",
        "located",
        "branch",
        "lives",
        "residence",
        "moved",
        "home",
        "office",
    ]

    def __init__(self, supported_language: str = "en", **kwargs: object) -> None:
        super().__init__(
            supported_entity="STREET_ADDRESS",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
        )


# --- phone numbers written as people write them -----------------------------------------------


# Four digits, each at most four other characters after the one before: what any number
# libphonenumber accepts needs. Its candidates are digit groups with at most four punctuation
# characters between them (phonenumbermatcher's pattern), a valid national number has at least
# four digits in every region (general_desc possible lengths; AT, DE, NU, SH, TK), and an "x"
# among the punctuation can be read as a keypad letter, so it counts as a digit here.
_PHONE_DIGITS = re.compile(r"[\dxX](?:[^\dxX]{0,4}[\dxX]){3}")


def may_hold_phone_number(text: str) -> bool:
    """False only if libphonenumber cannot find a valid number in `text` (see _PHONE_DIGITS)."""
    return _PHONE_DIGITS.search(text) is not None


# Words for a telephone in the languages of the main European and Asian numbering plans; a
# national number written without a country code is reported only beside one of them.
PHONE_WORDS = frozenset(
    str.split(
        "phone telephone tel tel. mobile cell cellphone call called calls ring fax number reach "
        "whatsapp wechat contact hotline line landline sms text direct "
        "telefon handy mobil rufnummer anrufen zurückrufen "
        "téléphone tél portable appeler rappeler numéro "
        "teléfono móvil movil celular llamar número "
        "telefono cellulare chiamare numero "
        "telefoon mobiel bellen terugbellen nummer "
        "telefone telemóvel telemovel ligar "
        "komórka komorka zadzwonić oddzwonić numer "
        "mobitel pokliči številka "
        "mobilnummer ringe telefonnummer handynummer telefoonnummer bel belt ruf appelle appelez "
        "llama llame chiama chiamami ligue zadzwoń zavolej "
        "puhelin soita "
        "číslo mobilní szám cep "
        "電話 携帯 电话 手机 전화 휴대폰"
    )
)
# Words that say the number beside them is an identifier, not a telephone number.
IDENTIFIER_WORDS = frozenset(
    str.split(
        "sku part order invoice ticket ref reference id version build batch serial isbn loan "
        "policy shipment tracking parcel document po item article case incident"
    )
)
# Words that make a grouped number an amount ("number of shares: 1 250 000").
AMOUNT_WORDS = frozenset(
    str.split(
        "shares share units amount total notional balance price qty quantity sum eur usd gbp chf "
        "jpy sek nok dkk pln czk huf cny inr"
    )
)
_LETTERS = re.compile(r"[^\W\d_]+")


def _words_near(text: str, start: int, end: int, before: int = 40, after: int = 16) -> set[str]:
    window = text[max(0, start - before) : start] + " " + text[end : end + after]
    return {w.casefold() for w in _LETTERS.findall(window)}


def _words_before(text: str, start: int, before: int = 24) -> set[str]:
    return {w.casefold() for w in _LETTERS.findall(text[max(0, start - before) : start])}


def rules_digest(*parts: object) -> str:
    """SHA-256 of what decides a recognizer's results beyond presidio's own fields (patterns,
    word lists, scores), so that the scanner revision changes with them."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()


class DigitGatedPhoneRecognizer(PhoneRecognizer):
    """presidio's PhoneRecognizer that does not run libphonenumber's matcher (eight regions,
    one pass each) on a text in which no number can be valid (about a fifth of its time on the
    demo's prompts), and drops a number right after a word that makes it an identifier
    ("SKU 0471-2345-67", "part number ...")."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if not may_hold_phone_number(text):
            return []
        # presidio types the artifacts as required but defaults them to None, as we do.
        results = super().analyze(text, entities, nlp_artifacts)  # type: ignore[arg-type]
        return [r for r in results if not _words_before(text, r.start) & IDENTIFIER_WORDS]

    @property
    def data_digest(self) -> str:
        return rules_digest(sorted(IDENTIFIER_WORDS))


# National numbers as written: groups of digits with spaces, dashes, dots or a slash, an area
# code in brackets, an extension. Not inside a longer number, code, amount or date.
_NATIONAL = re.compile(
    r"(?<![\w+.,/:-])(?:\(\d{1,4}\)[ ]?)?\d{1,4}(?:[ .\-/]\d{1,5}){1,5}"
    r"(?:[ ]?(?:x|ext\.?|extension)[ ]?\d{1,5})?(?![\w]|[.,\-/:]\d)"
)
_DATE_LIKE = re.compile(
    r"^(?:\d{1,2}[ ./-]\d{1,2}[ ./-](?:19|20)\d{2}|(?:19|20)\d{2}[ ./-]\d{1,2}[ ./-]\d{1,2})$"
)
# Regions tried for a national number (libphonenumber validates it against each plan). North
# American numbers are left to presidio's recognizer and PhonePatternRecognizer, which keep one
# without a telephone word in the grey zone.
NATIONAL_REGIONS = tuple(
    str.split(
        "GB IE DE AT CH FR BE NL LU IT ES PT SI HR PL CZ SK HU SE NO DK FI IS EE LV LT GR TR "
        "RO BG RS JP CN HK SG IN AU NZ KR TW BR MX ZA AE IL RU UA"
    )
)


class NationalPhoneRecognizer(EntityRecognizer):
    """PHONE_NUMBER: a number in the national format of one of NATIONAL_REGIONS' numbering
    plans, not North America's ("0471 23 45 67", "44 12 34 56", "070-123 45 67", "138 0013
    8000"), valid by libphonenumber, beside a telephone word in one of several languages
    (PHONE_WORDS). Such numbers look like amounts, dates and identifiers, so without the word
    they are not reported; dates and numbers after an identifier word never are."""

    SCORE = 0.7

    def __init__(self, supported_language: str = "en", **kwargs: object) -> None:
        super().__init__(
            supported_entities=["PHONE_NUMBER"],
            name="NationalPhoneRecognizer",
            supported_language=supported_language,
        )
        import phonenumbers

        self.data_digest = rules_digest(
            _NATIONAL.pattern,
            _DATE_LIKE.pattern,
            NATIONAL_REGIONS,
            sorted(PHONE_WORDS),
            sorted(IDENTIFIER_WORDS),
            sorted(AMOUNT_WORDS),
            self.SCORE,
            phonenumbers.__version__,
        )

    def load(self) -> None:
        return None

    @staticmethod
    def valid_somewhere(value: str) -> bool:
        import phonenumbers

        number = re.split(r"[ ]?(?:x|ext\.?|extension)[ ]?", value)[0]
        digits = sum(c.isdigit() for c in number)
        if not 7 <= digits <= 12 or _DATE_LIKE.match(number):
            return False
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(number, "US")):
                return False
        except phonenumbers.NumberParseException:
            pass
        for region in NATIONAL_REGIONS:
            try:
                parsed = phonenumbers.parse(number, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(parsed):
                return True
        return False

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if "PHONE_NUMBER" not in entities or not may_hold_phone_number(text):
            return []
        out = []
        for m in _NATIONAL.finditer(text):
            if _words_before(text, m.start()) & IDENTIFIER_WORDS:
                continue
            near = _words_near(text, m.start(), m.end())
            if not near & PHONE_WORDS or near & AMOUNT_WORDS:
                continue
            if self.valid_somewhere(m.group()):
                out.append(_result(self, "PHONE_NUMBER", m.start(), m.end(), self.SCORE, None))
        return out


class PhonePatternRecognizer(PatternRecognizer):
    """PHONE_NUMBER by shape, beside presidio's libphonenumber recognizer: a North American
    number in the usual groupings (area code in brackets or not, +1 or 001 in front), or an
    international number with a + and a country code. libphonenumber rejects numbers whose
    area code is not assigned, which hides a number typed wrong but still someone's. Without
    a context word a domestic number stays in the grey zone (below 0.5), as presidio's own does.
    Scores differ from presidio's 0.4 on purpose: presidio drops one of two equal results by
    set order, which varies between processes, and the recognizer named on a hit must not."""

    PATTERNS = [
        Pattern(
            "NANP number",
            r"(?<![\w+.-])(?:(?:\+1|001|1)[ .-]?)?(?:\([2-9][0-9]{2}\)[ ]?|[2-9][0-9]{2}[ .-])"
            r"[2-9][0-9]{2}[ .-][0-9]{4}(?:[ ]?(?:x|ext\.?)[ ]?[0-9]{1,5})?(?![\w-])",
            0.45,
        ),
        Pattern(
            "international number",
            r"(?<![\w+])\+[1-9][0-9]{0,2}(?:[ .-]?\(0\))?(?:[ .-][0-9]{1,5}){2,5}(?![\w-])",
            0.5,
        ),
        Pattern(
            "UK national number",
            r"(?<![\w+])0[1-9][0-9]{1,3}[ ][0-9]{3,4}[ ]?[0-9]{3,4}(?![\w-])",
            0.42,
        ),
    ]
    CONTEXT = [
        "phone",
        "telephone",
        "tel",
        "mobile",
        "cell",
        "call",
        "called",
        "text",
        "ring",
        "fax",
        "number",
        "reach",
        "whatsapp",
        "contact",
    ]

    def __init__(self, supported_language: str = "en", **kwargs: object) -> None:
        super().__init__(
            supported_entity="PHONE_NUMBER",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        digits = sum(ch.isdigit() for ch in pattern_text)
        return None if 10 <= digits <= 15 else False


# --- names ----------------------------------------------------------------------------------

_NAME_CHARS = re.compile(r"^[^\W\d_](?:[^\W\d_]|['’.\- ])*$")
HONORIFICS = ("Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof", "Sir", "Dame", "Lady", "Lord")
_SENTENCE_END = re.compile(r"(?:^|[.!?:;\n]|^\W+)\s*$")


def doubtful_person(text: str, start: int, end: int) -> bool:
    """Whether a PERSON found by the small spaCy model is one of its commonest mistakes on
    prompts: a "name" holding digits or code punctuation ("total(xs"), or a lone capitalised
    word opening a sentence ("Draft board minutes": prompts start with imperatives). The scanner
    keeps such results below the reporting threshold, as candidates still masked in excerpts."""
    value = text[start:end]
    if not _NAME_CHARS.match(value) or (value.isupper() and " " not in value):
        return True
    if " " not in value.strip() and _SENTENCE_END.search(text[max(0, start - 40) : start]):
        return value.strip(".") not in HONORIFICS
    return False


class HonorificNameRecognizer(PatternRecognizer):
    """PERSON: a title and a surname ("Mrs. Mcknight", "Dr Patel"), which the small spaCy model
    often misses; and a full name after a title."""

    PATTERNS = [
        Pattern(
            "title and name",
            rf"(?-i:\b(?:{'|'.join(HONORIFICS)})\.?[ ]+[A-Z][a-z'’-]+(?:[ ]+[A-Z][a-z'’-]+)?\b)",
            0.65,
        )
    ]

    def __init__(self, supported_language: str = "en", **kwargs: object) -> None:
        super().__init__(
            supported_entity="PERSON",
            patterns=self.PATTERNS,
            supported_language=supported_language,
        )


# Words that follow a given name in the names of things rather than people ("Sterling Bank").
NOT_SURNAMES = frozenset(
    str.split(
        "Bank Banking Group Capital Holdings Partners Trust Fund Funds Management Advisors "
        "Securities Insurance Inc Ltd LLC LLP PLC Corp Company Co Foundation University College "
        "School Hospital Center Centre Desk Team Project Street Road Avenue Day Week Month Year "
        "Monday Tuesday Wednesday Thursday Friday Saturday Sunday Report Review Update Plan "
        "Committee Board Office Department Division Services Systems Solutions Technologies"
    )
    + STREET_SUFFIXES
)


# The given-name list: Jörg Michael's name dictionary (nam_dict.txt, c't magazine 2007-2008,
# GNU Free Documentation License), as shipped by the gender-guesser package: about 48,000 first
# names with their frequency in 54 countries and regions (Europe, the Arab world, India, China,
# Japan, Korea, Vietnam, Turkey, Israel, ...). Documented and independent of every generator of
# our evaluation sets (Faker made the corpus's names; tests/benchmarks/test_independence.py).
NAME_DICTIONARY = ("gender_guesser", "data/nam_dict.txt")
# A name rare in every country (frequency 1 of 13) is left out: the rare end holds words.
MIN_NAME_FREQUENCY = 2
# Names that are also words a sentence or a heading starts with, or name particles.
NOT_GIVEN_NAMES = frozenset(
    str.split(
        "The An A Do Can Will May Hi Le La De Da Di Du Del Van Von Bin Ben Al El Ibn Abu Mac "
        "Mc Not Per Sun Mon Tue Wed Thu Fri Sat Jan Feb Mar Apr Jun Jul Aug Sep Oct Nov Dec "
        "Sale Bill Bank Case Page Price Art Tell Ask Jet Ever Star"
    )
)


@lru_cache(maxsize=1)
def read_name_dictionary() -> dict[str, int]:
    """Given name -> its highest frequency (1-13) in any country of nam_dict.txt."""
    from importlib import resources

    package, member = NAME_DICTIONARY
    text = resources.files(package).joinpath(member).read_text(encoding="utf-8")
    names: dict[str, int] = {}
    for line in text.splitlines():
        # "=" lines pair short and long forms; a "+" in column 30 marks a duplicate entry
        # sorted by expanded umlauts (the file's own instructions).
        if line.startswith(("#", "=")) or (len(line) > 29 and line[29] == "+"):
            continue
        name = line[3:29].strip()
        if not name or "+" in name or " " in name:
            continue
        freq = max((int(c, 16) for c in line[30:86] if c in "123456789ABCDabcd"), default=0)
        names[name] = max(freq, names.get(name, 0))
    return names


def _given_names() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    # English function words are names somewhere too ("In", "So", "Do"): never taken as one.
    return frozenset(
        n
        for n, freq in read_name_dictionary().items()
        if freq >= MIN_NAME_FREQUENCY and n not in NOT_GIVEN_NAMES and n.lower() not in STOP_WORDS
    )


# A capitalised word in any alphabet: an upper-case letter, then lower-case ones.
_CAP = r"[^\W\d_](?<=[^\W\d_a-zß-ÿ])[^\W\d_]*"
_LETTER_RUN = re.compile(r"[^\W\d_]+")
# What makes a lone given name a person's: a verb of speech or action after it, or a verb that
# takes a person before it ("ask Ana", "where is Kofi").
_AFTER_NAME = (
    r"said|says|asked|asks|told|tells|wants|wanted|thinks|thought|meant|means|mentioned|"
    r"confirmed|replied|wrote|writes|explained|suggested|agreed|noted|promised|called|emailed|"
    r"e-mailed|sent|signed|approved|will\s+(?:send|call|cover|check|join)|is\s+(?:out|off|away|"
    r"on\s+leave|travelling|traveling|back|sick)|here\b"
)
_BEFORE_NAME = (
    r"ask|tell|remind|ping|cc|call|thank|where\s+is|why\s+is|where's|spoke\s+(?:with|to)|"
    r"speak\s+(?:with|to)|talked\s+to|talk\s+to|met|meet|meeting\s+with|according\s+to|"
    r"can|could|did|does|has|will"
)


class GivenNameRecognizer(EntityRecognizer):
    """PERSON: a known given name followed by a capitalised surname ("Dakota Watson",
    "Eleni K. Papadaki", "Åsa Lind"), in any alphabet; or a known given name alone where the
    sentence treats it as a person ("Kofi said", "ask Ana", "where is Kofi"). The small spaCy
    model labels many such names as organisations or misses them; a gazetteer of given names
    from many countries finds them without a larger model."""

    SCORE = 0.6
    _PATTERN = re.compile(
        rf"(?<![\w.-])({_CAP})(?:[ ]+[A-Z]\.?)?[ ]+"
        rf"((?:O'|Mc|Mac)?{_CAP}(?:['’]{_CAP})?(?:-{_CAP})?)"
        r"(?![\w-])"
    )
    _LONE = re.compile(
        rf"(?:(?<![\w.-])(?P<a>{_CAP})(?=,?[ ]+(?:{_AFTER_NAME}))"
        rf"|(?i:\b(?:{_BEFORE_NAME}))[ ]+(?P<b>{_CAP})(?![\w.@-]))"
    )

    def __init__(self, supported_language: str = "en", **kwargs: object) -> None:
        super().__init__(
            supported_entities=["PERSON"],
            name="GivenNameRecognizer",
            supported_language=supported_language,
        )
        self.names = _given_names()
        # Where the list comes from: an evaluation set generated from the same source does not
        # measure this recognizer (benchmarks/accuracy.py, tests/benchmarks/test_independence.py).
        self.DATA_SOURCES = ("/".join(NAME_DICTIONARY),)
        self.data_digest = hashlib.sha256(
            repr(
                (
                    sorted(self.names),
                    self._PATTERN.pattern,
                    self._LONE.pattern,
                    sorted(NOT_SURNAMES),
                    self.SCORE,
                )
            ).encode()
        ).hexdigest()

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if "PERSON" not in entities:
            return []
        # Both rules need a listed given name: a text without one is done (exact, and most
        # texts have none).
        if self.names.isdisjoint(_LETTER_RUN.findall(text)):
            return []
        out = [
            _result(self, "PERSON", m.start(), m.end(), self.SCORE, None)
            for m in self._PATTERN.finditer(text)
            if m.group(1) in self.names and m.group(2) not in NOT_SURNAMES
        ]
        taken = [(r.start, r.end) for r in out]
        for m in self._LONE.finditer(text):
            group = "a" if m.group("a") else "b"
            start, end = m.span(group)
            if m.group(group) in self.names and not any(s <= start < e for s, e in taken):
                out.append(_result(self, "PERSON", start, end, self.SCORE, None))
        return out


# --- URLs, not code ---------------------------------------------------------------------------

# Suffixes that are also file extensions or common member names in code (`main.py`, `user.id`,
# `README.md`, `build.sh`, `lib.so`, `df.at`): a bare host ending in one needs "www." or a path.
CODE_LIKE_SUFFIXES = frozenset(
    str.split("id io at me to do by py md sh so cc ps ai rs ml sc im ts js gg fm ly sy")
)
# Bare hosts (no scheme, no www.) are URLs under the classic generic suffixes and the country
# codes; newer generic ones (.app, .dev, .name, .date, .report, ...) are member names too often.
WEB_SUFFIXES = frozenset(str.split("com net org edu gov mil int eu info biz"))
_SCHEME_URL = re.compile(r"(?i)\b(?:https?|ftps?|sftp)://[^\s<>\"'`]+")
_BARE_HOST = re.compile(
    r"(?<![\w@./:$\\-])(?:www\d{0,3}\.)?(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,24}(?![\w@(-]|\.[\w(])(?::[0-9]{2,5})?(?:/[^\s<>\"'`]*)?"
)
_TRAILING = ".,;:!?)]}'\""
_CAMEL = re.compile(r".[A-Z]")


class CodeAwareUrlRecognizer(EntityRecognizer):
    """URL: an address with a scheme (any host), or a bare host whose suffix is on the bundled
    Public Suffix List (tldextract's snapshot, never fetched) and that does not look like code:
    dotted member access (`principal.multiply`, `Intl.NumberFormat`, `os.path.join`) is not a
    URL. presidio's UrlRecognizer matched a country code at the start of any member name
    (`principal.mu`ltiply)."""

    SCHEME = 0.6
    BARE = 0.5

    def __init__(self, supported_language: str = "en", **kwargs: object) -> None:
        super().__init__(
            supported_entities=["URL"],
            name="UrlRecognizer",
            supported_language=supported_language,
        )
        self.data_digest = rules_digest(
            _SCHEME_URL.pattern,
            _BARE_HOST.pattern,
            sorted(CODE_LIKE_SUFFIXES),
            sorted(WEB_SUFFIXES),
            self.SCHEME,
            self.BARE,
        )

    def load(self) -> None:
        return None

    @staticmethod
    def bare_host_is_url(value: str) -> bool:
        host, slash, _path = value.partition("/")
        host = host.split(":")[0]
        www = host.lower().startswith("www")
        ext = OFFLINE_TLD_EXTRACT(host)
        if not ext.suffix or not ext.domain or ext.suffix.lower() in EXTRA_EMAIL_SUFFIXES:
            return False
        labels = host.split(".")
        if any(_CAMEL.search(label) for label in labels) or ext.suffix != ext.suffix.lower():
            return False  # camelCase or a capitalised last part: code, not a host name
        if www or slash:
            return True
        last = ext.suffix.rsplit(".", 1)[-1]
        if last in CODE_LIKE_SUFFIXES:
            return False
        return last in WEB_SUFFIXES or len(last) == 2

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if "URL" not in entities or "." not in text:
            return []
        out: list[RecognizerResult] = []
        taken: list[tuple[int, int]] = []
        for m in _SCHEME_URL.finditer(text):
            end = m.end()
            while end > m.start() and text[end - 1] in _TRAILING:
                end -= 1
            if "." in text[m.start() : end] or "localhost" in text[m.start() : end]:
                out.append(_result(self, "URL", m.start(), end, self.SCHEME, None))
                taken.append((m.start(), end))
        for m in _BARE_HOST.finditer(text):
            if any(s <= m.start() < e for s, e in taken):
                continue
            end = m.end()
            while end > m.start() and text[end - 1] in _TRAILING:
                end -= 1
            if self.bare_host_is_url(text[m.start() : end]):
                out.append(_result(self, "URL", m.start(), end, self.BARE, None))
        return out
