"""Risk officers write and download the period's reports from the application."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from auditor.db.models import ReportRecord
from auditor.db.session import session_scope
from tests.serve.conftest import csrf, login


@pytest.mark.parametrize("fmt", ["html", "json", "csv", "ocsf"])
def test_a_risk_officer_downloads_each_format(client: TestClient, bank: Engine, fmt: str) -> None:
    login(client, "rio")
    page = client.get("/reports")
    assert page.status_code == 200 and '<option value="2026-10">' in page.text
    r = client.post(
        "/reports/download",
        data={"period": "2026-10", "format": fmt, "csrf_token": csrf(client, "/reports")},
    )
    assert r.status_code == 200, r.text[:300]
    assert "attachment" in r.headers["content-disposition"]
    assert r.headers["cache-control"] == "no-store"
    body = r.content
    if fmt == "html":
        assert body.startswith(b"<!DOCTYPE html>") and b"October 2026" in body
    elif fmt == "json":
        assert json.loads(body)["period"] == "2026-10"
    with session_scope(bank) as s:
        # The CSV format writes the Control operation companion (-runs.csv) beside the
        # findings, recorded too.
        written = 2 if fmt == "csv" else 1
        assert s.scalars(select(ReportRecord.period)).all() == ["2026-10"] * written


@pytest.mark.parametrize("who", ["markets-boss", "rita", "ada"])
def test_only_risk_officers_write_reports(client: TestClient, who: str) -> None:
    login(client, who)
    assert client.get("/reports").status_code == 403
    page = client.get("/admin/users" if who == "ada" else "/findings")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    r = client.post(
        "/reports/download", data={"period": "2026-10", "format": "html", "csrf_token": token}
    )
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("form", "status", "text"),
    [
        ({"period": "2026-10", "format": "pdf"}, 400, "choose a period and a format"),
        ({"period": "2026-13", "format": "html"}, 400, "is not a month"),
        ({"period": "2025-01", "format": "html"}, 303, None),  # no interactions that month
    ],
)
def test_bad_report_requests(
    client: TestClient, form: dict[str, str], status: int, text: str | None
) -> None:
    login(client, "rio")
    r = client.post("/reports/download", data={**form, "csrf_token": csrf(client, "/reports")})
    assert r.status_code == status
    if text:
        assert text in r.text
    else:
        assert r.headers["location"].startswith("/reports?error=")


def test_report_download_needs_the_csrf_token(client: TestClient) -> None:
    login(client, "rio")
    r = client.post("/reports/download", data={"period": "2026-10", "format": "html"})
    assert r.status_code == 403


def test_the_report_states_the_trails_head_and_whether_it_verifies(
    client: TestClient, bank: Engine
) -> None:
    from sqlalchemy import text

    from auditor.db.trail import verify
    from auditor.review import EVERYONE, record_disposition
    from tests.serve.conftest import finding_of

    with session_scope(bank) as s:
        for uid in ("u00001", "u00002"):
            record_disposition(
                s, EVERYONE, finding_of(uid), "confirmed", "real", actor="rita", role="reviewer"
            )
        head = verify(s).head
    login(client, "rio")

    def provenance() -> dict[str, object]:
        r = client.post(
            "/reports/download",
            data={"period": "2026-10", "format": "json", "csrf_token": csrf(client, "/reports")},
        )
        return dict(json.loads(r.content)["provenance"])

    p = provenance()
    assert (p["review_trail_head"], p["review_trail_events"], p["review_trail_verified"]) == (
        head,
        2,
        True,
    )
    with session_scope(bank) as s:
        s.execute(text("UPDATE review_events SET note = 'nothing' WHERE id = 1"))
    assert provenance()["review_trail_verified"] is False
    r = client.post(
        "/reports/download",
        data={"period": "2026-10", "format": "html", "csrf_token": csrf(client, "/reports")},
    )
    assert b"the hash chain does not verify" in r.content
