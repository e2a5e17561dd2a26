"""Addresses and names as they are written outside the USA and the UK.

Addresses: the house number after the street ("Trubarjeva 17", "Calle Alcalá 45", "Kärntner
Straße 21"), street types of the main European languages before or inside the name, postcodes of
the main countries with the city, on one line or two, P.O. boxes and their equivalents, Japanese
block addresses. Case-sensitive: a street and a city are capitalised.

Names: lone given names and names from any country where the sentence says a person is meant
("call me Rosalba", "Dear Knut", "Hi Sven", a sign-off line "Regards,\\nElif Demir", two or more
speakers in a dialogue "Rosalba: ..."), and names with particles ("Anouk de Vries", "Joost van
der Berg", "Ahmed bin Rashid"). No list of names is used: the cue in the sentence decides, so
names from every country are found alike.
"""

from __future__ import annotations

import hashlib
import re

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

# --- addresses ------------------------------------------------------------------------------

_CAP = r"[A-ZÀ-ÖØ-Þ][^\W\d_]*(?:[-'’][A-Za-zÀ-ÖØ-öø-ÿ]+)*\.?"
_LINK = r"(?:de|del|della|degli|dei|da|das|do|dos|di|la|le|les|van|von|der|den|du|des|y|e|i)"
_LOWER_TYPE = (
    r"(?:gate|gata|gatan|gaten|vägen|vej|gade|cesta|ulica|utca|út|iela|tee|katu|tie|"
    r"straße|strasse|str\.|gasse|weg|platz|allee|straat|gracht|laan|plein|kade|markt|"
    r"caddesi|sokak|sokağı|bulvarı)"
)
_STREET = rf"(?:ul\.[ ])?{_CAP}(?:[ ](?:{_LINK}[ ])*(?:{_CAP}|{_LOWER_TYPE})){{0,4}}"
_HOUSE = r"[0-9]{1,4}[A-Za-z]?(?:[-/][0-9]{1,4})?(?:[ ][A-Z](?:[ ][0-9]{1,3})?)?"
_UNIT = r"(?:,[ ]*[0-9]{1,2}[º°ª][ ]?[^\W\d_]+)?"
_POSTCODE = (
    r"(?:[0-9]{4}[ ]?[A-Z]{2}|[0-9]{3}[ ][0-9]{2}|[0-9]{2}-[0-9]{3}|[0-9]{4}-[0-9]{3}|"
    r"[A-Z]{1,2}-?[0-9]{4,5}|[0-9]{4,5})"
)
_CITY_WORD = r"[A-ZÀ-ÖØ-Þ][^\W\d_]+(?:-[A-ZÀ-ÖØ-Þ]?[^\W\d_]+)*"
_CITY = rf"{_CITY_WORD}(?:[ ]{_CITY_WORD})?(?:[ ][A-Z]\b)?"
# Words that start "Word 12, 2024 Word" phrases that are not streets.
_NOT_STREET = (
    r"(?!(?:Chapter|Section|Table|Figure|Fig|Invoice|Version|Page|Item|Step|Room|Order|Ticket|"
    r"Line|Article|Appendix|Annex|Part|Phase|Level|Tier|Round|Case|Note|Slide|Row|Column|"
    r"Batch|Build|Release|Sprint|Week|Day|Year|Quarter|Basel|Windows|Python|Java|Rule|Test|"
    r"Loan|Account|Deal|Trade|Fund|Class|Series|Tranche|Option|Number|No|Nr|Top|Group)\b)"
)
_SEP = r",?[ \t]*(?:\n[ \t]*)?"
_DIGIT = re.compile(r"[0-9]")
STREET_TYPES = (
    r"(?:Calle|Carrer|Paseo|Avenida|Av\.|Gran[ ]Vía|Via|Viale|Vicolo|Corso|Piazza|Piazzale|"
    r"Largo|Rua|Praça|Travessa|Rue|Avenue|Boulevard|Bd|Place|Quai|Chemin|Allée|Impasse|Plaza|"
    r"Ulica|Ul\.|ul\.|Straße|Strasse)"
)
_STREET_ENDINGS = (
    r"(?:straße|strasse|gasse|weg|platz|allee|straat|gracht|laan|plein|kade|markt|gata|gatan|"
    r"vägen|vej|gade|katu|tie|vegur|jeva|ova|ska)"
)
_BOX = (
    r"(?:P\.?[ ]?O\.?[ ]?Box|PO[ ]Box|Post(?:fach|box)|Apartado(?:[ ]de[ ]correos)?|"
    r"Casella[ ]postale|Boîte[ ]postale|Postboks)"
)


class InternationalAddressRecognizer(PatternRecognizer):
    """STREET_ADDRESS in the forms of continental Europe and Asia, beside the US/UK recognizer:
    street, number, postcode and city (0.85); a street type or a street-name ending and a
    number alone (0.55-0.6); P.O. boxes and their equivalents (0.75); Japanese block addresses."""

    PATTERNS = [
        Pattern(
            "street, number, postcode and city",
            rf"(?-i:(?<![\w-]){_NOT_STREET}{_STREET}[ ]{_HOUSE}{_UNIT}{_SEP}{_POSTCODE}[ ]{_CITY})",
            0.85,
        ),
        Pattern(
            "number, street type, postcode and city",
            rf"(?-i:(?<![\w-])[0-9]{{1,4}}[a-z]?,?[ ]"
            r"(?:rue|avenue|boulevard|place|chemin|allée|impasse|quai|via|calle)[ ]"
            rf"(?:{_LINK}[ ])*{_CAP}(?:[ ](?:{_LINK}[ ])*{_CAP}){{0,3}}"
            rf"{_SEP}{_POSTCODE}[ ]{_CITY})",
            0.85,
        ),
        Pattern(
            "street type and number",
            rf"(?-i:(?<![\w-]){STREET_TYPES}[ ](?:(?:{_LINK}[ ])*{_CAP}[ ]?){{1,4}}{_HOUSE}\b)",
            0.6,
        ),
        Pattern(
            "street name ending and number",
            rf"(?-i:(?<![\w-])(?:{_CAP}[ ])?[A-ZÀ-ÖØ-Þ][^\W\d_]*{_STREET_ENDINGS}"
            rf"(?:[ ]{_LOWER_TYPE})?[ ]{_HOUSE}\b)",
            0.55,
        ),
        Pattern(
            "post office box",
            rf"(?-i:(?<![\w-]){_BOX}[ ][0-9]{{1,6}}(?:{_SEP}(?:{_POSTCODE}[ ])?{_CITY}"
            r"(?:,?[ ][A-Z]{2,3})?(?:[ ][0-9]{4,5})?)?)",
            0.75,
        ),
        Pattern(
            "Japanese block address",
            rf"(?-i:(?<![\w-])[0-9]{{1,2}}-[0-9]{{1,2}}-[0-9]{{1,3}}[ ]{_CAP},[ ]{_CAP}"
            rf"-(?:ku|shi|cho|machi),[ ]{_CAP}(?:[ ][0-9]{{3}}-[0-9]{{4}})?)",
            0.85,
        ),
    ]

    def __init__(self, supported_language: str = "en", **kwargs: object) -> None:
        super().__init__(
            supported_entity="STREET_ADDRESS",
            patterns=self.PATTERNS,
            supported_language=supported_language,
        )

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        # Every pattern holds a digit: a text without one (most prose) costs one scan.
        if _DIGIT.search(text) is None:
            return []
        return super().analyze(text, entities, nlp_artifacts, regex_flags)


# --- names ----------------------------------------------------------------------------------

_NAME_WORD = r"[A-ZÀ-ÖØ-ÞĀ-Ž][a-zß-öø-ÿā-žı'’]+(?:-[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿā-žı'’]+)?"
_PARTICLE = (
    r"(?:van|von|der|den|de|del|della|di|da|das|dos|du|la|le|ter|ten|bin|binti|bint|al|el|"
    r"ibn|zu|af|y)"
)
_NAME = rf"{_NAME_WORD}(?:[ ](?:{_PARTICLE}[ ]){{0,3}}{_NAME_WORD}){{0,3}}"
# Capitalised words a cue can precede that are not names (salutations to groups, form labels,
# street types, days).
NOT_NAMES = frozenset(
    str.split(
        "All Team Everyone Everybody Sir Madam Sirs Colleagues World There Guys Folks Customer "
        "Customers Client Clients Friends Sales Support Treasury Compliance Risk Operations Ops "
        "Board Management Committee Partner Partners Manager Managers Both Again Please Thanks "
        "Thank Yes No Ok Okay Hello Hi Hey Dear Regards Cheers Best Kind Sincerely Yours Good "
        "Morning Afternoon Evening Monday Tuesday Wednesday Thursday Friday Saturday Sunday "
        "Mr Mrs Ms Miss Mx Dr Prof Herr Frau The This That It For In On At To Bank Desk "
        "Name Address Phone Email Subject Date From Re Note Notes Summary Error Warning Example "
        "Answer Question Input Output Result Step Total Status Action Owner Account Amount "
        "Reference Description Title Comment Comments Issue Reason Context Request Response "
        "Code Value Type Source Target User Assistant System Human Bot Agent Caller Q A "
        "Calle Carrer Paseo Avenida Via Viale Corso Piazza Largo Rua Praça Rue Avenue "
        "Boulevard Place Quai Chemin Plaza Ulica Straße Strasse Gran Grote"
    )
)
# "this is", "ask", "tell" also precede products and tools ("this is Python", "ask Jira"): not cues.
_CUE = re.compile(
    r"(?i:\b(?:call[ ]me|my[ ]name[ ]is|i[ ]am|i'm|i’m|dear|hi|hello|hey|"
    r"thanks|thank[ ]you|reply[ ]to)[,!:]?[ ]+)"
    rf"(?P<name>{_NAME})(?![\w'’-])"
)
_SIGNOFF = re.compile(
    r"(?im)^[ \t]*(?:best[ ]regards|kind[ ]regards|warm[ ]regards|regards|cheers|sincerely|"
    r"yours[ ]sincerely|yours[ ]truly|best|thanks|thank[ ]you|many[ ]thanks|"
    r"met[ ]vriendelijke[ ]groet|mit[ ]freundlichen[ ]grüßen|cordialement|saludos|"
    r"cordiali[ ]saluti|mvh|pozdrav|lp)[ ]*,?[ \t]*\n[ \t]*"
    rf"(?P<name>(?-i:{_NAME}))[ \t]*$"
)
_DIALOGUE = re.compile(rf"(?m:^[ \t]*(?P<name>{_NAME_WORD}):[ ]+\S)")
_PARTICLE_NAME = re.compile(
    rf"(?<![\w'’-])(?P<name>{_NAME_WORD}[ ](?:{_PARTICLE}[ ]){{1,3}}{_NAME_WORD})(?![\w'’-])"
)


class CuedNameRecognizer(EntityRecognizer):
    """PERSON where the sentence says a person is meant: after "call me", "my name is", "Dear",
    "Hi", "Thanks", ...; on the line after a sign-off ("Regards,"); as one of two or more
    speakers of a dialogue ("Rosalba: ..."); or a name with particles ("Anouk de Vries")."""

    # Above the spaCy recognizer's 0.85: for the same span presidio keeps the higher score, and
    # a name the sentence points at is not one of spaCy's doubtful lone words.
    SCORE = 0.86

    def __init__(self, supported_language: str = "en", **kwargs: object) -> None:
        super().__init__(
            supported_entities=["PERSON"],
            name="CuedNameRecognizer",
            supported_language=supported_language,
        )
        self.data_digest = hashlib.sha256(
            repr(
                (
                    [rx.pattern for rx in (_CUE, _SIGNOFF, _DIALOGUE, _PARTICLE_NAME)],
                    sorted(NOT_NAMES),
                    self.SCORE,
                )
            ).encode()
        ).hexdigest()

    def load(self) -> None:
        return None

    def spans(self, text: str) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        for rx in (_CUE, _SIGNOFF, _PARTICLE_NAME):
            out += [
                (m.start("name"), m.end("name"))
                for m in rx.finditer(text)
                if m.group("name").split()[0] not in NOT_NAMES
            ]
        speakers = [m for m in _DIALOGUE.finditer(text) if m.group("name") not in NOT_NAMES]
        if len({m.group("name") for m in speakers}) >= 2:
            out += [(m.start("name"), m.end("name")) for m in speakers]
        return sorted(set(out))

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if "PERSON" not in entities:
            return []
        meta = {
            RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
        }
        return [
            RecognizerResult("PERSON", s, e, self.SCORE, recognition_metadata=dict(meta))
            for s, e in self.spans(text)
        ]
