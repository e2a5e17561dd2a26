"""URLs need a scheme or a host on the bundled suffix list; code is not a URL."""

from __future__ import annotations

import pytest

from auditor.scan.engine import Scanner
from auditor.scan.recognizers import CodeAwareUrlRecognizer

REC = CodeAwareUrlRecognizer()


def urls(text: str) -> list[str]:
    return [text[r.start : r.end] for r in REC.analyze(text, ["URL"])]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("read https://docs.example.org/a/b?x=1.", ["https://docs.example.org/a/b?x=1"]),
        ("(see http://intranet.corp.internal/kyc.pdf)", ["http://intranet.corp.internal/kyc.pdf"]),
        ("the rates on www.bankofengland.co.uk today", ["www.bankofengland.co.uk"]),
        ("download from pypi.org/project/spacy", ["pypi.org/project/spacy"]),
        ("our supplier's site is acme-widgets.com, check it", ["acme-widgets.com"]),
        ("the Slovenian portal gov.si", ["gov.si"]),
        ("Google.com and bbc.co.uk", ["Google.com", "bbc.co.uk"]),
        ("ftp://files.example.net/drop/", ["ftp://files.example.net/drop/"]),
    ],
)
def test_addresses_are_urls(text: str, found: list[str]) -> None:
    assert urls(text) == found


@pytest.mark.parametrize(
    "text",
    [
        "total = principal.multiply(rate).setScale(2)",
        "new Intl.NumberFormat('de-DE').format(x)",
        "os.path.join(base, name)",
        "self.assertEqual(a.balance, b.balance)",
        "moment.tz.guess() returns UTC",
        "user.id and account.name and trade.date",
        "run main.py, then build.sh, read README.md",
        "libfoo.so is missing; app.use(express.json())",
        "df.at[0, 'x'] and np.linalg.solve(A, b)",
        "mail me at knut@example.com",
        "db.internal:5432 refused the connection",
        "e.g. this, i.e. that, etc.",
        "version 1.2.3 and 10.0.0.1",
        "logging.getLogger(__name__).setLevel(logging.DEBUG)",
        "Trade.book.in_(books)",
        "com.bank.ledger.PostingService.post(PostingService.java:142)",
    ],
)
def test_code_is_not_a_url(text: str) -> None:
    assert urls(text) == []


def test_the_scanner_reports_urls_through_the_code_aware_recognizer(scanner: Scanner) -> None:
    text = "Why does Intl.NumberFormat differ? See https://developer.mozilla.org/docs for it."
    hits = [h for h in scanner.scan(text) if h.entity_type == "URL"]
    assert [(text[h.start : h.end], h.recognizer) for h in hits] == [
        ("https://developer.mozilla.org/docs", "UrlRecognizer")
    ]
