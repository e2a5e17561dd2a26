"""Payment card numbers (PAN) of every ISO/IEC 7812 length, 12 to 19 digits, and brand range.

A candidate is a run of 12 to 19 digits, contiguous or grouped with one kind of separator
(space, dash, dot), that passes the Luhn check (python-stdnum) and falls in a brand's issuer
range at a length that brand issues. How sure we are then depends on how usual the number is:

- a brand's usual length (16 digits for most, 15 for Amex, 14 for Diners), or any valid
  length written in a card's grouping (fours, Amex's 4-6-5, Diners' 4-6-4): reported;
- a valid but rarer length written as one block (a 19-digit Visa, a 12-digit Maestro, a
  15-digit JCB 2131/1800, a 13-digit Visa): reported only with a card word nearby (in several
  languages: "card", "Kreditkarte", "tarjeta", "kartica", a brand's name, ...), otherwise it
  stays below the reporting threshold, masked in excerpts but not reported;
- Luhn-valid numbers outside every brand range (order ids, timestamps, tracking numbers pass
  Luhn one time in ten) are not card numbers.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from stdnum import luhn

from auditor.scan.invisible import REMOVE_ZERO_WIDTH, ZERO_WIDTH


@dataclass(frozen=True)
class Brand:
    name: str
    ranges: tuple[tuple[int, int], ...]  # inclusive prefix ranges, compared on as many digits
    lengths: frozenset[int]
    usual: frozenset[int]


def _b(name: str, ranges: str, lengths: range | tuple[int, ...], usual: tuple[int, ...]) -> Brand:
    pairs = []
    for part in ranges.split():
        lo, _, hi = part.partition("-")
        pairs.append((int(lo), int(hi or lo)))
    return Brand(name, tuple(pairs), frozenset(lengths), frozenset(usual))


# Issuer identification number ranges as published by the schemes (and collected in ISO/IEC
# 7812 registers); a prefix range "2221-2720" compares the number's first four digits.
BRANDS: tuple[Brand, ...] = (
    _b("Visa", "4", range(13, 20), (16,)),
    _b("Mastercard", "51-55 2221-2720", (16,), (16,)),
    _b("American Express", "34 37", (15,), (15,)),
    _b("Discover", "6011 644-649 65 622126-622925", range(16, 20), (16,)),
    _b("JCB", "3528-3589", range(16, 20), (16,)),
    _b("JCB 15", "2131 1800", (15,), ()),
    _b("Diners Club", "300-305 3095 36 38 39", range(14, 20), (14, 16)),
    _b("UnionPay", "62 81", range(16, 20), (16,)),
    _b("Maestro", "50 56-69", range(12, 20), (16,)),
    _b("Mir", "2200-2204", range(16, 20), (16,)),
    _b("RuPay", "60 65 81 82 508 353 356", (16,), (16,)),
    _b("Troy", "9792", (16,), (16,)),
    _b("Verve", "506099-506198 650002-650027", (16, 18, 19), (16,)),
    _b("UATP", "1", (15,), ()),
)

CONTEXT_WORDS = frozenset(
    str.split(
        # English, then brands, then other languages' words for a (credit/debit) card
        "card cards credit debit cc pan cardholder visa mastercard amex express discover jcb "
        "diners maestro unionpay mir rupay troy elo dankort verve uatp switch laser "
        "karte kreditkarte debitkarte kartennummer carte tarjeta carta cartão cartao kaart "
        "creditcard betaalpas kort kortet kortnummer kortti luottokortti karta kartica "
        "kartico kartu kartı kredi kártya kartë kartę"
    )
)
_WORD = re.compile(r"[^\W\d_]+")
# 12-19 digits, one kind of separator between groups (a space, also the no-break and thin
# spaces that documents and chat tools insert, a dot or a dash), not part of a longer number or
# code. Zero-width characters (pasted from web pages, or put there to dodge a scanner) may sit
# anywhere between the digits.
_SPACES = "\u00a0\u2009\u202f"
_ZERO_WIDTH = ZERO_WIDTH
_SEPS = f" .\\-{_SPACES}"
_CANDIDATE = re.compile(
    rf"(?<![\w+/])(?<!\d[{_SEPS}])\d(?:[{_SEPS}]?[{_ZERO_WIDTH}]*\d){{11,18}}(?![\w])(?![{_SEPS}]\d)"
)
_GROUPS = re.compile(rf"[{_SEPS}]")
_INVISIBLE = REMOVE_ZERO_WIDTH
CARD_GROUPINGS = frozenset({(4, 4, 4, 4), (4, 6, 5), (4, 6, 4), (4, 4, 4, 4, 3), (4, 4, 4, 3)})


def brand_of(digits: str) -> Brand | None:
    """The brand whose issuer range and lengths hold `digits`, if any."""
    for brand in BRANDS:
        if len(digits) not in brand.lengths:
            continue
        for lo, hi in brand.ranges:
            width = len(str(lo))
            if lo <= int(digits[:width]) <= hi:
                return brand
    return None


def card_grouped(value: str) -> bool:
    """Whether `value` is written in groups as cards print them (fours; 4-6-5; 4-6-4)."""
    groups = tuple(len(g) for g in _GROUPS.split(value))
    if len(groups) == 1:
        return False
    return groups in CARD_GROUPINGS or (
        all(g == 4 for g in groups[:-1]) and 1 <= groups[-1] <= 4 and len(groups) >= 4
    )


def has_card_context(text: str, start: int, end: int, before: int = 48, after: int = 24) -> bool:
    window = text[max(0, start - before) : start] + " " + text[end : end + after]
    return any(w.casefold() in CONTEXT_WORDS for w in _WORD.findall(window))


class PaymentCardRecognizer(EntityRecognizer):
    """CREDIT_CARD: every ISO/IEC 7812 brand and length (12-19 digits), Luhn-checked with
    python-stdnum, any grouping; see the module's docstring for the scores."""

    USUAL = 0.95  # a brand's usual length, or card grouping
    WITH_CONTEXT = 0.9  # a rarer length, with a card word nearby
    WITHOUT_CONTEXT = 0.3  # a rarer length alone: masked, not reported
    CONTEXT_BOOST = 1.0

    def __init__(self, supported_language: str = "en", **kwargs: object) -> None:
        super().__init__(
            supported_entities=["CREDIT_CARD"],
            name="PaymentCardRecognizer",
            supported_language=supported_language,
        )
        # What decides its results, for the scanner revision (a change rescans).
        self.data_digest = hashlib.sha256(
            repr(
                (
                    _CANDIDATE.pattern,
                    BRANDS,
                    sorted(CONTEXT_WORDS),
                    sorted(CARD_GROUPINGS),
                    (self.USUAL, self.WITH_CONTEXT, self.WITHOUT_CONTEXT, self.CONTEXT_BOOST),
                )
            ).encode()
        ).hexdigest()

    def load(self) -> None:
        return None

    def score(self, text: str, start: int, end: int) -> float | None:
        value = text[start:end].translate(_INVISIBLE)
        for space in _SPACES:
            value = value.replace(space, " ")
        sep = {c for c in value if not c.isdigit()}
        if len(sep) > 1:
            return None
        groups = _GROUPS.split(value)
        if sep == {"."} and any(len(g) < 3 for g in groups):
            return None  # a decimal number, a version or an address, not a card
        digits = "".join(groups)
        if not luhn.is_valid(digits):
            return None
        brand = brand_of(digits)
        if brand is None:
            return None
        context = has_card_context(text, start, end)
        if len(digits) in brand.usual or card_grouped(value):
            return self.CONTEXT_BOOST if context else self.USUAL
        return self.WITH_CONTEXT if context else self.WITHOUT_CONTEXT

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if "CREDIT_CARD" not in entities:
            return []
        out = []
        for m in _CANDIDATE.finditer(text):
            score = self.score(text, m.start(), m.end())
            if score is not None:
                out.append(
                    RecognizerResult(
                        "CREDIT_CARD",
                        m.start(),
                        m.end(),
                        score,
                        recognition_metadata={
                            RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                        },
                    )
                )
        return out
