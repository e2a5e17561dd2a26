"""Phone numbers of the main European and Asian numbering plans beside a telephone word in
several languages; dates, amounts and identifiers are not phones."""

from __future__ import annotations

import pytest

from auditor.scan.engine import Scanner
from auditor.scan.recognizers import NationalPhoneRecognizer

REC = NationalPhoneRecognizer()


def found(text: str) -> list[str]:
    return [text[r.start : r.end] for r in REC.analyze(text, ["PHONE_NUMBER"])]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("bel me op 0478 12 34 56 morgen", "0478 12 34 56"),  # BE mobile
        ("Handynummer 0664 987 65 43", "0664 987 65 43"),  # AT mobile
        ("ring mig på 33 12 45 67", "33 12 45 67"),  # DK
        ("ring meg på 23 45 67 89", "23 45 67 89"),  # NO
        ("llamar al 915 23 45 67", "915 23 45 67"),  # ES landline
        ("numero di telefono 02 8765 4321", "02 8765 4321"),  # IT Milan
        ("puhelin 09 876 5432", "09 876 5432"),  # FI Helsinki
        ("mobitel 031 987 654", "031 987 654"),  # SI
        ("zadzwonić: 512 345 678", "512 345 678"),  # PL mobile
        ("telefon 08-765 432 10", "08-765 432 10"),  # SE Stockholm
        ("手机 139 1234 5678", "139 1234 5678"),  # CN mobile
        ("電話 06-6123-4567", "06-6123-4567"),  # JP Osaka
        ("call the desk at 020 7123 4567 ext 12", "020 7123 4567 ext 12"),  # UK + extension
        ("téléphone 01 45 67 89 10", "01 45 67 89 10"),  # FR
    ],
)
def test_national_numbers_beside_a_phone_word_are_found(text: str, number: str) -> None:
    assert found(text) == [number]


@pytest.mark.parametrize(
    "text",
    [
        "0478 12 34 56",  # no telephone word
        "call before 12 04 2024 please",  # a date
        "call about the payment on 2024-03-15",
        "number of shares: 1 250 000",  # an amount, not valid as a number anywhere near
        "call about SKU 0471-2345-67",  # an identifier word right before
        "phone bill: part 0650-123-456-7",
        "call about ticket 44 12 34 56",
        "mobile app version 10.2.3.4",
        "call about loan 2024/123/4567",
    ],
)
def test_dates_amounts_and_identifiers_are_not_phones(text: str) -> None:
    assert found(text) == []


def test_the_scanner_reports_a_danish_number_once(scanner: Scanner) -> None:
    text = "Her Danish phone number is 44 12 34 56, ring before noon."
    hits = [h for h in scanner.scan(text) if h.entity_type == "PHONE_NUMBER"]
    assert [text[h.start : h.end] for h in hits] == ["44 12 34 56"]


def test_the_scanner_drops_an_identifier_presidio_reads_as_a_phone(scanner: Scanner) -> None:
    text = "SKU 0471-2345-67 is out of stock in the warehouse."
    assert [h for h in scanner.scan(text) if h.entity_type == "PHONE_NUMBER"] == []
