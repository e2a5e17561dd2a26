"""International addresses (number after the street, postcodes, P.O. boxes) and names found by
the sentence's cue or their particles, with the ordinary words, labels and code left alone."""

from __future__ import annotations

import pytest

from auditor.scan.engine import Scanner
from auditor.scan.international import CuedNameRecognizer, InternationalAddressRecognizer

ADDRESSES = InternationalAddressRecognizer()
NAMES = CuedNameRecognizer()


def addresses(text: str) -> list[str]:
    results = ADDRESSES.analyze(text, ["STREET_ADDRESS"], None)
    # the longest result per start, as the scanner keeps
    best: dict[int, int] = {}
    for r in results:
        best[r.start] = max(best.get(r.start, 0), r.end)
    starts = sorted(best)
    kept = [s for s in starts if not any(o < s < best[o] for o in starts)]
    return [text[s : best[s]] for s in kept]


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("moved to Prešernova 12, 4000 Kranj last May", "Prešernova 12, 4000 Kranj"),
        ("send it to Calle de Serrano 88, 28006 Madrid.", "Calle de Serrano 88, 28006 Madrid"),
        ("Lindenstraße 14a, 50674 Köln", "Lindenstraße 14a, 50674 Köln"),
        (
            "Postadresse: Fredrikinkatu 42 B 7, 00100 Helsinki",
            "Fredrikinkatu 42 B 7, 00100 Helsinki",
        ),
        ("at Via Garibaldi 7\n16124 Genova\nItalia", "Via Garibaldi 7\n16124 Genova"),
        ("the flat at 8 rue du Bac, 75007 Paris", "8 rue du Bac, 75007 Paris"),
        ("Vestergade 3, 8000 Aarhus C", "Vestergade 3, 8000 Aarhus C"),
        ("mail to Postfach 10 20, Frankfurt", "Postfach 10"),
        ("P.O. Box 7789, Nairobi", "P.O. Box 7789, Nairobi"),
        ("Rua do Ouro 130, 1100-060 Lisboa", "Rua do Ouro 130, 1100-060 Lisboa"),
        ("ul. Floriańska 15, 31-019 Kraków", "ul. Floriańska 15, 31-019 Kraków"),
        ("Överby gatan... no: Sveavägen 44, 111 34 Stockholm", "Sveavägen 44, 111 34 Stockholm"),
        (
            "2-4-1 Shibakoen, Minato-ku, Tokyo 105-0011",
            "2-4-1 Shibakoen, Minato-ku, Tokyo 105-0011",
        ),
    ],
)
def test_international_addresses_are_found(text: str, address: str) -> None:
    assert addresses(text) == [address]


@pytest.mark.parametrize(
    "text",
    [
        "Version 2 of the Python API, released 2024",
        "Invoice 4411, 2024 Q3 close",
        "Basel III and MiFID 2 require it",
        "Table 3, 1200 rows",
        "Chapter 12, 2023 Annual Report",
        "java.util.HashMap 8 entries",
        "Box 3 of the form",  # "Box" alone is no post office box
    ],
)
def test_ordinary_capitalised_words_with_numbers_are_not_addresses(text: str) -> None:
    assert addresses(text) == []


def names(text: str) -> list[str]:
    return [text[s:e] for s, e in NAMES.spans(text)]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Everyone calls me Bettina, but call me Betti.", ["Betti"]),
        ("Dear Þórunn,\nthe transfer is done.", ["Þórunn"]),
        ("Hi Oddvar, can you check?", ["Oddvar"]),
        ("Thanks, Žiga! All good.", ["Žiga"]),
        ("Kind regards,\nNiamh Ní Bhriain", ["Niamh Ní Bhriain"]),
        ("Mit freundlichen Grüßen,\nKlaus-Dieter Brandt", ["Klaus-Dieter Brandt"]),
        ("Agata: is the file ready?\nBogdan: yes, sending now.", ["Agata", "Bogdan"]),
        ("the account of Willem van der Meer is dormant", ["Willem van der Meer"]),
        ("KYC for Khalid bin Saeed was approved", ["Khalid bin Saeed"]),
        ("Ask Inès de la Cruz for the file", ["Inès de la Cruz"]),
    ],
)
def test_names_are_found_by_their_cue(text: str, found: list[str]) -> None:
    assert names(text) == found


@pytest.mark.parametrize(
    "text",
    [
        "Hi all, the batch failed.",
        "Dear Sir or Madam,",
        "Thanks Team!",
        "Hello World in Java",
        "Name: Address: Phone:",
        "Error: connection refused\nWarning: retrying",
        "Summary: all good",
        "Regards,\nTreasury Ops",
        "User: what is 2+2?\nAssistant: 4",
        "Piazza di Spagna is busy",
        "Rue de la Paix is expensive in Monopoly",
        "this is Python code, ask Jira for the ticket",
    ],
)
def test_groups_labels_and_places_are_not_names(text: str) -> None:
    assert names(text) == []


def test_the_scanner_reports_a_street_not_a_person(scanner: Scanner) -> None:
    text = "Client moved to Calle Alcalá 45, 28014 Madrid – update the KYC record."
    types = {(text[h.start : h.end], h.entity_type) for h in scanner.scan(text)}
    assert ("Calle Alcalá 45, 28014 Madrid", "STREET_ADDRESS") in types
    assert not [t for v, t in types if t == "PERSON"]


def test_the_scanner_reports_a_lone_given_name_after_a_cue(scanner: Scanner) -> None:
    text = "People call me Rosalba, I have been your client for twenty years."
    assert [
        (text[h.start : h.end], h.entity_type)
        for h in scanner.scan(text)
        if h.entity_type == "PERSON"
    ] == [("Rosalba", "PERSON")]
