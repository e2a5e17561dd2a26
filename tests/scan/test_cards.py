"""Payment card numbers: every ISO/IEC 7812 length and brand range, any grouping; Luhn-valid
numbers that are not cards stay below the reporting threshold."""

from __future__ import annotations

import pytest
from stdnum import luhn

from auditor.scan.cards import PaymentCardRecognizer, brand_of, card_grouped
from auditor.scan.engine import Scanner

REPORTED = 0.4  # scan.score_threshold's default


def pan(prefix: str, length: int, sep: str = "", groups: tuple[int, ...] = ()) -> str:
    """A Luhn-valid number of `length` digits starting with `prefix`, grouped as `groups`."""
    body = (prefix + "7301582946" * 2)[: length - 1]
    digits = body + luhn.calc_check_digit(body)
    if not groups:
        return digits
    out, pos = [], 0
    for g in groups:
        out.append(digits[pos : pos + g])
        pos += g
    return sep.join(out)


REC = PaymentCardRecognizer()


def scores(text: str) -> list[tuple[str, float]]:
    return [(text[r.start : r.end], r.score) for r in REC.analyze(text, ["CREDIT_CARD"])]


FOUND = [
    # (sentence with {} for the number, number)
    ("my credit card number is {}", pan("34", 15, " ", (4, 6, 5))),  # Amex
    ("card {} declined", pan("2131", 15)),  # JCB 15
    ("JCB card {} for the Osaka hotel", pan("1800", 15)),
    ("Visa debit {} blocked", pan("4", 19)),  # 19-digit Visa
    ("Visa {} blocked", pan("4", 19, " ", (4, 4, 4, 4, 3))),
    ("her maestro card {} expired", pan("6759", 12)),
    ("Maestro {}", pan("5018", 13)),
    ("maestro card {} please cancel", pan("6304", 17)),
    ("debit card {}", pan("6761", 18, "-", (4, 4, 4, 4, 2))),
    ("Maestro {}", pan("5020", 19)),
    ("UnionPay {}", pan("62", 19)),
    ("Mastercard {}", pan("2720", 16, "-", (4, 4, 4, 4))),
    ("the number {} was charged twice", pan("51", 16, " ", (4, 4, 4, 4))),
    ("Discover {}", pan("6011", 16)),
    ("Diners Club {}", pan("36", 14, " ", (4, 6, 4))),
    ("Mir {}", pan("2201", 16)),
    ("Kreditkarte {} gesperrt", pan("4", 16)),
    ("tarjeta de crédito {} bloqueada", pan("4", 13)),
    ("kartica {} je bila zavrnjena", pan("6759", 16)),
    ("visa {} in the fraud queue", pan("4916", 16, ".", (4, 4, 4, 4))),
    ("pay with {} today", pan("4", 16, " ", (4, 4, 4, 4))),  # usual shape: no word needed
    ("card {}", pan("4", 16, "\u00a0", (4, 4, 4, 4))),  # no-break spaces (documents, chat)
    ("card {}", pan("5", 16, "\u202f", (4, 4, 4, 4))),  # narrow no-break spaces
    ("card {}", pan("4", 16, "\u200b", (4, 4, 4, 4))),  # zero-width spaces
    ("card {}", pan("4", 16, " \u200b", (4, 4, 4, 4))),
]


@pytest.mark.parametrize(("sentence", "number"), FOUND)
def test_cards_of_every_brand_and_length_are_found(sentence: str, number: str) -> None:
    text = sentence.format(number)
    got = scores(text)
    assert [v for v, s in got if s >= REPORTED] == [number], (text, got)


NOT_REPORTED = [
    # Luhn-valid by construction, but no card: outside every brand range, or a rare length
    # with no card word nearby.
    "Order {} was shipped".format(pan("8929", 16, " ", (4, 4, 4, 4))),
    "policy number {} renewed".format(pan("77", 16)),
    "Unix timestamp {} in ms".format(pan("1712", 13)),
    "EAN barcode {} on the label".format(pan("400638", 13)),
    "batch id {} failed".format(pan("1002", 15)),
    "deal {} in Murex".format(pan("12", 16)),
    "ERP document {} needs a cost centre".format(pan("51", 13)),
    "shipment {}".format(pan("0034", 20)),  # 20 digits is no card
    "row {} and {}".format(pan("4", 8), pan("4", 8)),
    "pi is 3.14159265358979 and e 2.71828182845904",
    "version 4.111.111.111.111 of the plugin",
    "IBAN DE89370400440532013000 for the transfer",
    "tracking 1Z{}".format(pan("4", 16)),
]


@pytest.mark.parametrize("text", NOT_REPORTED)
def test_luhn_valid_numbers_without_card_shape_or_context_stay_low(text: str) -> None:
    assert [v for v, s in scores(text) if s >= REPORTED] == [], (text, scores(text))


def test_a_number_failing_luhn_is_no_card() -> None:
    good = pan("4", 16)
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    assert scores(f"card {bad}") == []


def test_mixed_separators_are_not_one_number() -> None:
    assert scores("card 4111 1111-1111.1111") == []


@pytest.mark.parametrize(
    ("digits", "brand"),
    [
        (pan("37", 15), "American Express"),
        (pan("2221", 16), "Mastercard"),
        (pan("2200", 16), "Mir"),
        (pan("3530", 16), "JCB"),
        (pan("2131", 15), "JCB 15"),
        (pan("622126", 16), "Discover"),
        (pan("9792", 16), "Troy"),
        (pan("8929", 16), None),
        (pan("51", 15), None),  # Mastercard issues 16 digits only
    ],
)
def test_brand_ranges(digits: str, brand: str | None) -> None:
    got = brand_of(digits)
    assert (got.name if got else None) == brand


@pytest.mark.parametrize(
    ("value", "grouped"),
    [
        ("4111 1111 1111 1111", True),
        ("3782 822463 10005", True),
        ("4111 1111 1111 1111 003", True),
        ("4111111111111111", False),
        ("41 11 11 11 11 11 11 11", False),
    ],
)
def test_card_grouping(value: str, grouped: bool) -> None:
    assert card_grouped(value) is grouped


def test_the_scanner_reports_cards_through_the_new_recognizer(scanner: Scanner) -> None:
    number = pan("4", 19)
    hits = scanner.scan(f"Her credit card number is {number}, please block it.")
    cards = [h for h in hits if h.entity_type == "CREDIT_CARD"]
    assert [(h.recognizer, h.end - h.start) for h in cards] == [("PaymentCardRecognizer", 19)]
    assert not [h for h in hits if h.entity_type == "PHONE_NUMBER"]


def test_hidden_characters_do_not_change_the_value_hash(scanner: Scanner) -> None:
    number = pan("4", 16, " ", (4, 4, 4, 4))
    hidden = number.replace(" ", "\u200b")
    plain = [h for h in scanner.scan(f"card {number}") if h.entity_type == "CREDIT_CARD"]
    masked = [h for h in scanner.scan(f"card {hidden}") if h.entity_type == "CREDIT_CARD"]
    assert [h.value_hash for h in plain] == [h.value_hash for h in masked] != []
