"""Financial identifiers with check digits: ISIN, CUSIP, SEDOL, ABA routing numbers, SWIFT/BIC,
and a stricter US SSN. Each is a presidio PatternRecognizer: patterns, context words and one
validation method (None: keep the pattern's score, False: reject), registered through
conf/recognizers.yaml like presidio's own.

Patterns are matched case-sensitively ((?-i:...)): the registry's global flags ignore case,
and a lower-case word is not an identifier. A value whose check digit is wrong is rejected; a
value of digits alone passes a one-digit check one time in ten by chance, so such values start
below the reporting threshold and need a context word ("CUSIP", "routing") to be reported.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import IbanRecognizer, UsSsnRecognizer
from stdnum import cusip, isin, luhn

# ISO 3166-1 alpha-2 codes, for ISIN prefixes and BIC country codes (plus XS, EU for ISINs).
COUNTRY_CODES = frozenset(
    str.split(
        "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO "
        "BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ "
        "DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP "
        "GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG "
        "KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML "
        "MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE "
        "PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL "
        "SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM "
        "US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"
    )
)
ISIN_PREFIXES = COUNTRY_CODES | {"XS", "EU"}


def _char_value(ch: str) -> int:
    return int(ch) if ch.isdigit() else ord(ch) - 55  # A=10 ... Z=35


def luhn_ok(digits: str) -> bool:
    """Whether a string of digits passes the Luhn (mod 10) check (python-stdnum)."""
    return digits.isdigit() and luhn.is_valid(digits)


def isin_ok(value: str) -> bool:
    """ISO 6166: a listed prefix, then the Luhn check over the letters expanded to numbers
    (python-stdnum's check)."""
    return len(value) == 12 and value[:2] in ISIN_PREFIXES and isin.is_valid(value)


def cusip_ok(value: str) -> bool:
    """CUSIP: the modulus-10 double-add-double check over nine characters (python-stdnum)."""
    return len(value) == 9 and value[-1].isdigit() and cusip.is_valid(value)


def sedol_ok(value: str) -> bool:
    """SEDOL: weights 1,3,1,7,3,9 and a check digit; no vowels. Our own, not python-stdnum's
    gb.sedol: that one also rejects a SEDOL of a digit then letters, which we still find."""
    if len(value) != 7 or not value[-1].isdigit() or any(c in "AEIOU" for c in value):
        return False
    total = sum(_char_value(c) * w for c, w in zip(value[:6], (1, 3, 1, 7, 3, 9), strict=True))
    return (10 - total % 10) % 10 == int(value[-1])


def aba_ok(value: str) -> bool:
    """ABA routing number: weights 3,7,1 and a valid Federal Reserve prefix."""
    if len(value) != 9 or not value.isdigit():
        return False
    prefix = int(value[:2])
    if not (0 <= prefix <= 12 or 21 <= prefix <= 32 or 61 <= prefix <= 72 or prefix == 80):
        return False
    total = sum(int(c) * w for c, w in zip(value, (3, 7, 1) * 3, strict=True))
    return total % 10 == 0 and value != "000000000"


class IsinRecognizer(PatternRecognizer):
    """ISIN (ISO 6166), e.g. US0378331005, validated by its check digit."""

    PATTERNS = [Pattern("ISIN", r"(?-i:\b[A-Z]{2}[A-Z0-9]{9}[0-9]\b)", 0.85)]
    CONTEXT = ["isin", "security", "bond", "equity", "identifier", "instrument"]

    def __init__(self, supported_language: str = "en", **kwargs: object) -> None:
        super().__init__(
            supported_entity="ISIN",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        # A valid check digit keeps the pattern's score (True would make it 1.0).
        return None if isin_ok(pattern_text) else False


class CusipRecognizer(PatternRecognizer):
    """CUSIP (nine characters), validated by its check digit."""

    PATTERNS = [
        Pattern(
            "CUSIP with letters", r"(?-i:\b[0-9]{3}(?=[0-9]{0,4}[A-Z])[A-Z0-9]{5}[0-9]\b)", 0.6
        ),
        Pattern("CUSIP digits only", r"\b[0-9]{9}\b", 0.3),
    ]
    CONTEXT = ["cusip", "security", "bond", "note", "coupon", "identifier"]

    def __init__(self, supported_language: str = "en", **kwargs: object) -> None:
        super().__init__(
            supported_entity="CUSIP",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        # None keeps the pattern's score: nine digits are as often anything else, so only a
        # context word reports them.
        return None if cusip_ok(pattern_text) else False


class SedolRecognizer(PatternRecognizer):
    """SEDOL (seven characters, London Stock Exchange), validated by its check digit."""

    PATTERNS = [
        Pattern(
            "SEDOL with letters",
            r"(?-i:\b(?=[0-9]{0,5}[B-Z])[0-9BCDFGHJKLMNPQRSTVWXYZ]{6}[0-9]\b)",
            0.6,
        ),
        Pattern("SEDOL digits only", r"\b[0-9]{7}\b", 0.3),
    ]
    CONTEXT = ["sedol", "security", "lse", "stock", "identifier"]

    def __init__(self, supported_language: str = "en", **kwargs: object) -> None:
        super().__init__(
            supported_entity="SEDOL",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        return None if sedol_ok(pattern_text) else False


class AbaRoutingNumberRecognizer(PatternRecognizer):
    """ABA routing transit number (nine digits, weights 3-7-1), reported with a context word."""

    PATTERNS = [Pattern("ABA routing number", r"\b[0-9]{9}\b", 0.3)]
    # Context is matched on lemmas: the small spaCy model makes "routing" "route" or "rout".
    CONTEXT = ["aba", "routing", "route", "rout", "rtn", "transit", "fedwire", "ach", "wire"]

    def __init__(self, supported_language: str = "en", **kwargs: object) -> None:
        super().__init__(
            supported_entity="ABA_ROUTING_NUMBER",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        return None if aba_ok(pattern_text) else False


class SwiftBicRecognizer(PatternRecognizer):
    """SWIFT/BIC (ISO 9362): bank, country, location, optional branch. No check digit, so a
    code of letters alone (an upper-case word looks the same) needs a context word."""

    PATTERNS = [
        Pattern(
            "BIC with digits",
            r"(?-i:\b[A-Z]{4}[A-Z]{2}(?:[A-Z][0-9]|[0-9][A-Z0-9])(?:[A-Z0-9]{3})?\b)",
            0.6,
        ),
        Pattern("BIC letters only", r"(?-i:\b[A-Z]{4}[A-Z]{2}[A-Z]{2}(?:[A-Z]{3})?\b)", 0.3),
    ]
    CONTEXT = ["swift", "bic", "bank", "wire", "beneficiary", "correspondent"]

    def __init__(self, supported_language: str = "en", **kwargs: object) -> None:
        super().__init__(
            supported_entity="SWIFT_CODE",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        return None if pattern_text[4:6] in COUNTRY_CODES else False


class StrictUsSsnRecognizer(UsSsnRecognizer):
    """presidio's SSN recognizer, also rejecting area numbers 900-999: the SSA never issues
    them, and they are the range of ITINs (reported as US_ITIN instead)."""

    def invalidate_result(self, pattern_text: str) -> bool:
        digits = "".join(c for c in pattern_text if c.isdigit())
        if digits[:1] == "9":
            return True
        return bool(super().invalidate_result(pattern_text))


_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_LOWER_IBAN_START = re.compile(r"(?<![A-Za-z0-9])[a-z]{2}[0-9]{2}(?:[ -]?[a-z0-9]{4}){2}")


class CaseSensitiveIbanRecognizer(IbanRecognizer):
    """presidio's IBAN recognizer without the registry's IGNORECASE flag. With it, the pattern's
    groups of four also took the next word's letters ("LU28 0019 4006 4475 0000 received" read
    "rece" as a group), the checksum then failed and the IBAN was lost; IBANs are written in
    capitals. One written in lower case is looked for in an ASCII-upper-cased copy of the text
    (same offsets), only where one may start."""

    @property
    def global_regex_flags(self) -> int:
        return self._flags

    @global_regex_flags.setter
    def global_regex_flags(self, value: int | None) -> None:
        self._flags = (value or 0) & ~re.IGNORECASE

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        # presidio types the artifacts as required but defaults them to None, as we do.
        results: list[RecognizerResult] = super().analyze(
            text,
            entities,
            nlp_artifacts,  # type: ignore[arg-type]
        )
        if _LOWER_IBAN_START.search(text):
            upper = text.translate(_ASCII_UPPER)
            for r in super().analyze(upper, entities, nlp_artifacts):  # type: ignore[arg-type]
                if not text[r.start : r.end].isupper() and not any(
                    r.start < o.end and o.start < r.end for o in results
                ):
                    results.append(r)
        return results


__all__ = [
    "AbaRoutingNumberRecognizer",
    "CaseSensitiveIbanRecognizer",
    "CusipRecognizer",
    "IsinRecognizer",
    "SedolRecognizer",
    "StrictUsSsnRecognizer",
    "SwiftBicRecognizer",
    "aba_ok",
    "cusip_ok",
    "isin_ok",
    "luhn_ok",
    "sedol_ok",
]
