"""Card data beside a card number: PCI DSS sensitive authentication data and expiry dates.

CARD_SECURITY_CODE (CVV2/CVC2/CID/CSC after its label), CARD_EXPIRY (a month and year after an
expiry label, or next to a card number) and CARD_TRACK_DATA (magnetic-stripe track 1 and 2,
and labelled PIN blocks). PCI DSS Req. 3.3.1 forbids keeping sensitive authentication data
after authorisation, masked or not: the scanner masks these values in every excerpt and does
not hash them (engine.UNHASHED_ENTITIES). The raw prompt text keeps them until it is purged
(ingest.retention_days).

Each recognizer is a list of rules (a regular expression and the group that is the value, so
the label stays readable in an excerpt and the value does not, as in secrets.py), context
words, and one validation method; registered through conf/recognizers.yaml like presidio's own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from presidio_analyzer import AnalysisExplanation, EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from auditor.scan.identifiers import luhn_ok


@dataclass(frozen=True)
class ValueRule:
    """A pattern whose group `group` is the value, and the score a valid value starts at."""

    name: str
    regex: re.Pattern[str]
    group: int
    score: float


def _rule(name: str, pattern: str, score: float, group: int = 1) -> ValueRule:
    return ValueRule(name, re.compile(pattern, re.IGNORECASE), group, score)


# Between a label and its value: spaces, ":", "=", "#", "(", "-", and "is", "of", "no.",
# "number", "code", "value" ("CVV code: 731", "security code is 123", "cvv no. 731"). Words and
# separators cannot both match a character, so the pattern cannot backtrack its way into
# quadratic time on a long run of spaces.
_SEPARATORS = r"[ \t:=#(\-]*"
_FILLER = rf"{_SEPARATORS}(?:\b(?:is|was|of|no|nr|number|num|code|value)\b\.?{_SEPARATORS}){{0,3}}"
# A value of 3 or 4 digits that is not part of a longer number, date or amount.
_CODE = r"(?<!\d)(\d{3,4})(?![\d]|[/.,-]\d)"

_CARD_WORDS = [
    "card",
    "credit",
    "debit",
    "visa",
    "mastercard",
    "amex",
    "discover",
    "cardholder",
    "payment",
    "pan",
]


class LabelledValueRecognizer(EntityRecognizer):
    """A recognizer of one entity type from RULES: each match's group is the result, kept
    when `validate` accepts it (the match and the text around it)."""

    ENTITY = ""
    RULES: tuple[ValueRule, ...] = ()
    CONTEXT: list[str] = []

    def __init__(self, supported_language: str = "en", **kwargs: object) -> None:
        super().__init__(
            supported_entities=[self.ENTITY],
            name=type(self).__name__,
            supported_language=supported_language,
            context=list(self.CONTEXT),
        )

    @property
    def rules(self) -> tuple[ValueRule, ...]:
        return self.RULES  # read by the scanner revision (engine._fingerprint)

    def load(self) -> None:
        return None

    def validate(self, match: re.Match[str], rule: ValueRule, text: str) -> float | None:
        """The score of a match of `rule`, or None to reject it."""
        return rule.score

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if self.ENTITY not in entities:
            return []
        best: dict[tuple[int, int], tuple[float, ValueRule]] = {}
        for rule in self.RULES:
            for m in rule.regex.finditer(text):
                start, end = m.span(rule.group)
                score = self.validate(m, rule, text) if end > start else None
                if score is not None and score > best.get((start, end), (0.0, rule))[0]:
                    best[(start, end)] = (score, rule)
        return [
            RecognizerResult(
                self.ENTITY,
                start,
                end,
                score,
                # The context enhancer writes the context word it used here.
                analysis_explanation=AnalysisExplanation(
                    recognizer=self.name,
                    original_score=score,
                    pattern_name=rule.name,
                    pattern=rule.regex.pattern,
                ),
                recognition_metadata={
                    RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                    RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                },
            )
            for (start, end), (score, rule) in sorted(best.items())
        ]


class CardSecurityCodeRecognizer(LabelledValueRecognizer):
    """CARD_SECURITY_CODE: the 3 or 4 digits after CVV, CVC, CVV2, CVC2, CAV2, CVN, "card
    verification (value|code)" or "card security code" ("cvv 731", "CVV: 0731", "cvc=123"),
    or before "(CVV)". "Security code", CID and CSC also name other things (a one-time code,
    a customer id), so they start lower and need a card word nearby to be reported."""

    ENTITY = "CARD_SECURITY_CODE"
    _STRONG = (
        r"\b(?:cvv2?|cvc2?|cav2|cvn2?|card[ \t]+verification(?:[ \t]+(?:value|code|number))?"
        r"|card[ \t]+security[ \t]+code)\b"
    )
    RULES = (
        _rule("labelled code", _STRONG + _FILLER + _CODE, 0.85),
        _rule("security code", r"\bsecurity[ \t]+code\b" + _FILLER + _CODE, 0.6),
        _rule("CID or CSC", r"\b(?:cid|csc)\b" + _FILLER + _CODE, 0.45),
        _rule(
            "code before its label",
            r"(?<![\d.,/-])(?<!\d[ -])(\d{3,4})[ \t]*\(?(?:cvv2?|cvc2?)\b",
            0.75,
        ),
    )
    CONTEXT = [*_CARD_WORDS, "expiry", "exp", "back"]


# A card number as people write it: 13 to 19 digits, in groups separated by a space or a dash.
_CARD_NUMBER = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?!\d)")
_NEAR_CARD_CHARS = 16  # at most this many characters, none a digit, between a card and a date
_CARD_NUMBER_CHARS = 40  # 19 digits and their separators, and some
_MONTH_NAME = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]{0,6}\.?"
# MM/YY, MM/YYYY, M/YY, MM-YY, MM.YY, not part of a full date (12/31/2026) or a longer number.
_NOT_IN_NUMBER = r"(?<![\d/.-])"
_NOT_BEFORE_NUMBER = r"(?![\d]|[/.-]\d)"
_MONTH = r"(?:0?[1-9]|1[0-2])"
_MM_YY = rf"{_NOT_IN_NUMBER}{_MONTH}[ \t]?[/.-][ \t]?(?:20)?\d{{2}}{_NOT_BEFORE_NUMBER}"
_MM_YYYY = rf"{_NOT_IN_NUMBER}{_MONTH}[ \t]?[/.-][ \t]?20\d{{2}}{_NOT_BEFORE_NUMBER}"
_YYYY_MM = rf"{_NOT_IN_NUMBER}20\d{{2}}-(?:0[1-9]|1[0-2]){_NOT_BEFORE_NUMBER}"
_MONTH_YEAR = rf"\b{_MONTH_NAME}[ \t,]+(?:20)?\d{{2}}(?!\d)"
# Labels that name a card's expiry; "expires" and "valid until" also end contracts and offers.
_EXPIRY_LABEL = (
    r"\b(?:exp(?:iry|iration)?[ \t]*(?:date|dt)\b|expiry\b|exp\b\.?"
    r"|(?:valid|good)[ \t]+(?:thru|through)\b|mm[ \t]?/[ \t]?yy(?:yy)?\b)"
)
_GENERIC_EXPIRY_LABEL = r"\b(?:expires|expiring|expiration|valid[ \t]+(?:until|till))\b"
_EXPIRY_FILLER = r"[ \t:=-]*(?:\b(?:on|is|of|in)\b[ \t:=-]*){0,2}"


class CardExpiryRecognizer(LabelledValueRecognizer):
    """CARD_EXPIRY: a month and year ("09/27", "09/2027", "Sep 2027", "2027-09") after an
    expiry label ("exp", "expiry date", "valid thru", "MM/YY"), or written next to a card
    number that passes Luhn. After "expires" or "valid until" (contracts expire too) a two-digit
    year needs a card word nearby. A fraction or a date elsewhere is not an expiry."""

    ENTITY = "CARD_EXPIRY"
    NEAR_CARD_SCORE = 0.85
    RULES = (
        _rule("labelled expiry", rf"{_EXPIRY_LABEL}{_EXPIRY_FILLER}({_MM_YY})", 0.75),
        _rule("labelled month name", rf"{_EXPIRY_LABEL}{_EXPIRY_FILLER}({_MONTH_YEAR})", 0.75),
        _rule("labelled year-month", rf"{_EXPIRY_LABEL}{_EXPIRY_FILLER}({_YYYY_MM})", 0.75),
        _rule("expires, year", rf"{_GENERIC_EXPIRY_LABEL}{_EXPIRY_FILLER}({_MM_YYYY})", 0.55),
        _rule("expires, short year", rf"{_GENERIC_EXPIRY_LABEL}{_EXPIRY_FILLER}({_MM_YY})", 0.35),
        _rule("beside a card number", _MM_YY, 0.0, group=0),
    )
    CONTEXT = [*_CARD_WORDS, "cvv", "cvc"]

    def validate(self, match: re.Match[str], rule: ValueRule, text: str) -> float | None:
        start, end = match.span(rule.group)
        if _beside_card_number(text, start, end):
            return max(rule.score, self.NEAR_CARD_SCORE)
        return rule.score if rule.score > 0 else None


def _beside_card_number(text: str, start: int, end: int) -> bool:
    """Whether a card number passing Luhn ends shortly before text[start:end] or starts
    shortly after it, with no digit between."""
    reach = _NEAR_CARD_CHARS + _CARD_NUMBER_CHARS
    before = list(_CARD_NUMBER.finditer(text, max(0, start - reach), start))[-1:]
    after = _CARD_NUMBER.search(text, end, min(len(text), end + reach))
    neighbours = [(card, text[card.end() : start]) for card in before]
    if after is not None:
        neighbours.append((after, text[end : after.start()]))
    return any(
        len(gap) <= _NEAR_CARD_CHARS
        and not any(ch.isdigit() for ch in gap)
        and luhn_ok(re.sub(r"\D", "", card.group()))
        for card, gap in neighbours
    )


class CardTrackDataRecognizer(LabelledValueRecognizer):
    """CARD_TRACK_DATA: magnetic-stripe track 1 (`%B<PAN>^<NAME>^<YYMM><service code>...?`)
    and track 2 (`;<PAN>=<YYMM><service code>...?`, also with EMV's `D` separator), sentinels
    optional, the PAN passing Luhn and the month valid; and a PIN block (16 or 32 hex digits)
    after the words "PIN block"."""

    ENTITY = "CARD_TRACK_DATA"
    RULES = (
        ValueRule(
            "track 1",
            re.compile(
                r"(?<![\w%])(%?B(\d{13,19})\^[^\^\r\n]{2,26}\^\d{2}(\d{2})\d{3}[^?\s]{0,79}\??)"
            ),
            1,
            0.95,
        ),
        ValueRule(
            "track 2",
            re.compile(r"(?<![\w;])(;?(\d{13,19})[=D]\d{2}(\d{2})\d{3}\d{0,40}F?\??)(?![\w])"),
            1,
            0.95,
        ),
        _rule(
            "PIN block",
            r"\b(?:encrypted[ \t]+)?pin[ \t-]?block\b" + _FILLER + r"\b((?:[0-9a-f]{4}[ ]?){3}"
            r"[0-9a-f]{4}(?:(?:[ ]?[0-9a-f]{4}){4})?)(?![0-9a-z])",
            0.85,
        ),
    )
    CONTEXT = ["track", "magstripe", "stripe", "swipe", "swiped", "emv", "terminal", "pos"]

    def validate(self, match: re.Match[str], rule: ValueRule, text: str) -> float | None:
        if rule.name == "PIN block":
            return rule.score if any(ch.isdigit() for ch in match.group(1)) else None
        pan, month = match.group(2), int(match.group(3))
        return rule.score if luhn_ok(pan) and 1 <= month <= 12 else None


__all__ = [
    "CardExpiryRecognizer",
    "CardSecurityCodeRecognizer",
    "CardTrackDataRecognizer",
    "LabelledValueRecognizer",
    "ValueRule",
]
