"""Given names from many countries (nam_dict.txt), lone given names the sentence treats as a
person, and IBANs followed by a word: examples written for these tests, none taken from an
evaluation set."""

from __future__ import annotations

import pytest

from auditor.scan.engine import Scanner
from auditor.scan.recognizers import NAME_DICTIONARY, GivenNameRecognizer


def _found(scanner: Scanner, text: str, etype: str) -> list[str]:
    return [text[h.start : h.end] for h in scanner.scan(text) if h.entity_type == etype]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("The mandate was signed by Radka Holubová yesterday.", "Radka Holubová"),
        ("Forward the statement to Eero Laaksonen.", "Eero Laaksonen"),
        ("Beneficiary: Dorota B. Kwiatkowska", "Dorota B. Kwiatkowska"),
        ("We onboarded Yusuf Öztürk last week.", "Yusuf Öztürk"),
        ("Loan officer Milica Đorđević approved it.", "Milica Đorđević"),
        ("Kindly call Anjali Pillai about the overdraft.", "Anjali Pillai"),
    ],
)
def test_given_names_of_many_countries_with_a_surname(
    scanner: Scanner, text: str, name: str
) -> None:
    assert any(name in found or found in name for found in _found(scanner, text, "PERSON"))


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Zdenka said the wire left before the cut-off.", "Zdenka"),
        ("Please remind Bogumiła that the KYC pack is due.", "Bogumiła"),
        ("Where is Radek with the reconciliation?", "Radek"),
        ("Spoke with Ingrid, she agrees.", "Ingrid"),
        ("Ilse wants the figures by noon.", "Ilse"),
    ],
)
def test_a_lone_given_name_the_sentence_treats_as_a_person(
    scanner: Scanner, text: str, name: str
) -> None:
    assert name in _found(scanner, text, "PERSON")


@pytest.mark.parametrize(
    "text",
    [
        "In Kotlin, how do I round a BigDecimal half-even?",
        "Ask Confluence for the runbook.",
        "Can Terraform import an existing bucket?",
    ],
)
def test_words_and_tools_are_not_given_names(scanner: Scanner, text: str) -> None:
    assert _found(scanner, text, "PERSON") == []


def test_the_list_comes_from_the_name_dictionary_not_a_generator() -> None:
    rec = GivenNameRecognizer()
    sources = tuple(rec.DATA_SOURCES)
    assert sources == ("/".join(NAME_DICTIONARY),)
    assert len(rec.names) > 15000
    assert {"Radka", "Eero", "Yusuf", "Anjali"} <= rec.names
    assert not {"The", "In", "Can", "Will"} & rec.names


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Refund to EE382200221020145685 failed twice", "EE382200221020145685"),
        ("account LT121000011101001000 belongs to a shell company", "LT121000011101001000"),
        ("pay LV36 HABA 0551 0012 3456 7 tomorrow", "LV36 HABA 0551 0012 3456 7"),
        ("iban mt84malt011000012345mtlcast001s please", "mt84malt011000012345mtlcast001s"),
    ],
)
def test_an_iban_followed_by_a_word_is_found(scanner: Scanner, text: str, value: str) -> None:
    assert _found(scanner, text, "IBAN_CODE") == [value]
