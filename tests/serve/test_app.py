"""The review application as a browser uses it: scope, roles, CSRF, cookies, rate limit,
expiry, four-eyes, escaping, errors. Starlette's TestClient drives the real app in-process
on a fresh migrated database."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, text
from starlette.testclient import TestClient

from auditor.config import Settings
from auditor.db.models import EvidenceView, Finding, LoginFailure, ReviewEvent, WebSession
from auditor.db.session import session_scope
from auditor.serve import app as app_module
from auditor.serve.accounts import disable_account
from tests.serve.conftest import (
    ACCOUNTS,
    OWNERS,
    PASSWORD,
    csrf,
    finding_of,
    login,
    make_client,
)

ALL = set(OWNERS)
# Whose findings each account sees: a manager's whole reporting line, never their own.
VISIBLE = {
    "markets-boss": {"u00001", "u00002"},
    "ceo": ALL - {"u00099"},
    "lonely": set(),
    "rita": ALL,
    "rob": ALL - {"u00004"},
    "rio": ALL,
}


def _owners_in_queue(client: TestClient) -> set[str]:
    page = client.get("/findings")
    assert page.status_code == 200
    return {uid for uid in OWNERS if f"/findings/{finding_of(uid)}" in page.text}


@pytest.mark.parametrize("account", sorted(VISIBLE))
def test_each_account_sees_exactly_its_scope(client: TestClient, account: str) -> None:
    assert login(client, account) == 303
    assert _owners_in_queue(client) == VISIBLE[account]
    for uid in OWNERS:
        page = client.get(f"/findings/{finding_of(uid)}")
        assert page.status_code == (200 if uid in VISIBLE[account] else 404), uid


@pytest.mark.parametrize("account", ["markets-boss", "lonely", "rob"])
def test_out_of_scope_answers_exactly_as_missing(client: TestClient, account: str) -> None:
    login(client, account)
    outside = next(uid for uid in OWNERS if uid not in VISIBLE[account])
    missing = client.get("/findings/" + "f" * 32)
    guessed = client.get(f"/findings/{finding_of(outside)}")
    assert missing.status_code == guessed.status_code == 404
    assert missing.text == guessed.text


@pytest.mark.parametrize("account", ["markets-boss", "lonely"])
def test_a_manager_cannot_act_outside_their_line(
    client: TestClient, bank: Engine, account: str
) -> None:
    login(client, account)
    token = csrf(client)
    target = finding_of("u00003")  # Technology: not in either line
    r = client.post(
        f"/findings/{target}/disposition",
        data={"disposition": "confirmed", "note": "guessing", "csrf_token": token},
    )
    assert r.status_code == 404
    with session_scope(bank) as s:
        assert s.get(Finding, target).status == "open"
        assert not s.scalars(select(ReviewEvent)).all()
        assert not s.scalars(select(EvidenceView)).all()


F = finding_of("u00001")
ROUTES = [
    ("GET", "/findings"),
    ("GET", f"/findings/{F}"),
    ("POST", f"/findings/{F}/disposition"),
    ("POST", f"/findings/{F}/approval"),
    ("GET", "/admin/users"),
]
# Status per role for each route above (the finding is in every reader's scope). A POST
# with a valid token and an empty form: 303 back to the finding (with the form's error)
# where the role may act at all.
MATRIX = {
    "anonymous": (303, 303, 303, 303, 303),
    "markets-boss": (200, 200, 303, 403, 403),
    "rita": (200, 200, 303, 303, 403),
    "rio": (200, 200, 403, 403, 403),
    "ada": (403, 403, 403, 403, 200),
}


@pytest.mark.parametrize("who", sorted(MATRIX))
def test_role_by_route_matrix(client: TestClient, who: str) -> None:
    token = ""
    if who != "anonymous":
        login(client, who)
        token = client.get("/").headers.get("location", "")  # warm the session
        page = client.get("/admin/users" if who == "ada" else "/findings")
        token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    got = []
    for method, path in ROUTES:
        if method == "GET":
            got.append(client.get(path).status_code)
        else:
            got.append(client.post(path, data={"csrf_token": token}).status_code)
    assert tuple(got) == MATRIX[who]


def test_an_unknown_role_may_do_nothing(client: TestClient, bank: Engine) -> None:
    with session_scope(bank) as s:
        s.execute(text("UPDATE accounts SET role = 'intern' WHERE username = 'rita'"))
    login(client, "rita")
    assert client.get("/").status_code == 403
    assert client.get("/findings").status_code == 403
    assert client.get(f"/findings/{F}").status_code == 403


@pytest.mark.parametrize(
    "token",
    [None, "", "forged-token", "OTHER"],
    ids=["missing", "empty", "forged", "another-sessions"],
)
def test_csrf_is_required_on_every_form_post(
    settings: Settings, bank: Engine, client: TestClient, token: str | None
) -> None:
    login(client, "rita")
    if token == "OTHER":
        with make_client(settings, bank) as other:
            login(other, "markets-boss")
            token = csrf(other)
    data = {"disposition": "confirmed", "note": "real"}
    if token is not None:
        data["csrf_token"] = token
    assert client.post(f"/findings/{F}/disposition", data=data).status_code == 403
    assert (
        client.post("/logout", data={} if token is None else {"csrf_token": token}).status_code
        == 403
    )
    assert client.get("/findings").status_code == 200  # still signed in
    with session_scope(bank) as s:
        assert s.get(Finding, F).status == "open"


def test_sign_in_form_needs_its_own_csrf_token(client: TestClient) -> None:
    client.get("/login")
    r = client.post("/login", data={"username": "rita", "password": PASSWORD})
    assert r.status_code == 403
    r = client.post(
        "/login", data={"username": "rita", "password": PASSWORD, "csrf_token": "made-up"}
    )
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("secure", "name", "flags"),
    [
        (True, "__Host-auditor_session", {"httponly", "samesite=lax", "secure", "path=/"}),
        (False, "auditor_session", {"httponly", "samesite=lax", "path=/"}),
    ],
)
def test_session_cookie_flags(
    settings: Settings, bank: Engine, secure: bool, name: str, flags: set[str]
) -> None:
    with make_client(settings, bank, secure=secure) as c:
        page = c.get("/login")
        token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        r = c.post("/login", data={"username": "rita", "password": PASSWORD, "csrf_token": token})
        cookie = next(
            v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith(name + "=")
        )
        parts = {p.strip().lower() for p in cookie.split(";")[1:]}
        assert flags <= parts
        assert ("secure" in parts) is secure
        assert not any(p.startswith(("domain", "expires", "max-age")) for p in parts)
        with session_scope(bank) as s:
            stored = s.scalars(select(WebSession.id)).one()
        assert cookie.split(";")[0].split("=", 1)[1] != stored  # only its hash is kept


def test_failed_sign_ins_are_rate_limited(client: TestClient, bank: Engine) -> None:
    for _ in range(5):
        assert login(client, "rita", "wrong password!") == 401
    assert login(client, "rita") == 429  # even the right password, until the window passes
    assert login(client, "rio") == 303  # another name from the same client is not blocked
    with session_scope(bank) as s:
        for failure in s.scalars(select(LoginFailure)):
            failure.at -= timedelta(minutes=16)
    assert login(client, "rita") == 303


def test_failures_from_one_client_across_names_are_limited(client: TestClient) -> None:
    for n in range(20):
        assert login(client, f"nobody{n}", "wrong password!") == 401
    assert login(client, "rita") == 429


def test_unknown_name_wrong_password_and_disabled_look_the_same(
    client: TestClient, bank: Engine
) -> None:
    with session_scope(bank) as s:
        disable_account(s, "rio")
    pages = []
    for name, password in (("nobody", PASSWORD), ("rita", "wrong password!"), ("rio", PASSWORD)):
        page = client.get("/login")
        token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        r = client.post(
            "/login", data={"username": name, "password": password, "csrf_token": token}
        )
        pages.append((r.status_code, r.text.replace(token, "")))
    assert pages[0] == pages[1] == pages[2]
    assert pages[0][0] == 401 and "Wrong user name or password." in pages[0][1]


@pytest.mark.parametrize(
    ("column", "age"),
    [("last_seen", timedelta(minutes=31)), ("created_at", timedelta(hours=10, minutes=1))],
    ids=["idle", "absolute"],
)
def test_sessions_expire(client: TestClient, bank: Engine, column: str, age: timedelta) -> None:
    login(client, "rita")
    assert client.get("/findings").status_code == 200
    with session_scope(bank) as s:
        web = s.scalars(select(WebSession)).one()
        setattr(web, column, getattr(web, column) - age)
    r = client.get("/findings")
    assert r.status_code == 303 and r.headers["location"] == "/login"
    with session_scope(bank) as s:
        assert not s.scalars(select(WebSession)).all()


def test_a_session_within_both_limits_lives_on(client: TestClient, bank: Engine) -> None:
    login(client, "rita")
    with session_scope(bank) as s:
        web = s.scalars(select(WebSession)).one()
        web.created_at -= timedelta(hours=9)
        web.last_seen -= timedelta(minutes=29)
    assert client.get("/findings").status_code == 200


def test_sign_out_ends_the_session_on_the_server(client: TestClient, bank: Engine) -> None:
    login(client, "rita")
    cookie = dict(client.cookies)
    r = client.post("/logout", data={"csrf_token": csrf(client)})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    with session_scope(bank) as s:
        assert not s.scalars(select(WebSession)).all()
    client.cookies.update(cookie)  # a copy of the old cookie is worth nothing
    assert client.get("/findings").status_code == 303


def test_a_disabled_account_is_out_at_once(client: TestClient, bank: Engine) -> None:
    login(client, "markets-boss")
    token = csrf(client)
    with session_scope(bank) as s:
        disable_account(s, "markets-boss")
    r = client.post(
        f"/findings/{F}/disposition",
        data={"disposition": "confirmed", "note": "real", "csrf_token": token},
    )
    assert r.status_code == 303 and r.headers["location"] == "/login"
    with session_scope(bank) as s:
        assert s.get(Finding, F).status == "open"


def _dispose(client: TestClient, fid: str, disposition: str, note: str = "because") -> str:
    r = client.post(
        f"/findings/{fid}/disposition",
        data={"disposition": disposition, "note": note, "csrf_token": csrf(client)},
    )
    assert r.status_code == 303
    return r.headers["location"]


def _decide(client: TestClient, fid: str, decision: str) -> str:
    r = client.post(
        f"/findings/{fid}/approval",
        data={"decision": decision, "note": "checked", "csrf_token": csrf(client)},
    )
    assert r.status_code == 303
    return r.headers["location"]


def _status(bank: Engine, fid: str) -> str:
    with session_scope(bank) as s:
        return s.get(Finding, fid).status


@pytest.mark.parametrize(
    ("severity", "disposition", "after"),
    [
        ("high", "false-positive", "pending_approval"),
        ("high", "accepted-risk", "pending_approval"),
        ("high", "confirmed", "confirmed"),
        ("low", "false-positive", "false_positive"),
        ("low", "accepted-risk", "accepted_risk"),
    ],
)
def test_four_eyes_applies_to_dismissing_a_high_finding(
    client: TestClient, bank: Engine, severity: str, disposition: str, after: str
) -> None:
    fid = finding_of("u00001", severity)
    login(client, "markets-boss")
    assert _dispose(client, fid, disposition) == f"/findings/{fid}"
    assert _status(bank, fid) == after


@pytest.mark.parametrize(("decision", "after"), [("approve", "false_positive"), ("reject", "open")])
def test_a_second_reviewer_decides_a_pending_disposition(
    settings: Settings, bank: Engine, client: TestClient, decision: str, after: str
) -> None:
    login(client, "rita")
    _dispose(client, F, "false-positive", "test data from the vendor's docs")
    assert _status(bank, F) == "pending_approval"
    # Not by the reviewer who asked for it, and no new disposition while it waits.
    assert "second+reviewer" in _decide(client, F, "approve")
    assert "awaits" in _dispose(client, F, "confirmed")
    assert _status(bank, F) == "pending_approval"
    with make_client(settings, bank) as second:
        login(second, "markets-boss")  # a manager may not approve at all
        r = second.post(
            f"/findings/{F}/approval",
            data={"decision": "approve", "note": "x", "csrf_token": csrf(second)},
        )
        assert r.status_code == 403
    with make_client(settings, bank) as second:
        login(second, "rob")
        assert _decide(second, F, decision) == f"/findings/{F}"
    assert _status(bank, F) == after
    with session_scope(bank) as s:
        trail = [
            (e.reviewer, e.role, e.disposition)
            for e in s.scalars(select(ReviewEvent).order_by(ReviewEvent.id))
        ]
    assert trail == [
        ("rita", "reviewer", "false-positive"),
        ("rob", "reviewer", "approved" if decision == "approve" else "rejected"),
    ]


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"disposition": "confirmed", "note": "  "}, "needs+a+note"),
        ({"disposition": "delete-it", "note": "x"}, "unknown+disposition"),
        ({"disposition": "confirmed", "note": "x" * 2001}, "longer+than"),
    ],
)
def test_bad_dispositions_are_refused_with_a_message(
    client: TestClient, bank: Engine, form: dict[str, str], message: str
) -> None:
    login(client, "markets-boss")
    r = client.post(f"/findings/{F}/disposition", data={**form, "csrf_token": csrf(client)})
    assert r.status_code == 303 and message in r.headers["location"]
    assert _status(bank, F) == "open"
    shown = client.get(r.headers["location"])
    assert 'role="alert"' in shown.text


def test_views_of_evidence_are_recorded_and_shown_to_reviewers(
    settings: Settings, bank: Engine, client: TestClient
) -> None:
    login(client, "markets-boss")
    page = client.get(f"/findings/{F}")
    assert "Who opened this evidence" not in page.text  # managers do not see the log
    with make_client(settings, bank) as rev:
        login(rev, "rita")
        page = rev.get(f"/findings/{F}")
    assert "Who opened this evidence" in page.text
    assert "<td>markets-boss</td><td>manager</td>" in page.text
    with session_scope(bank) as s:
        assert [(v.viewer, v.role) for v in s.scalars(select(EvidenceView))] == [
            ("markets-boss", "manager"),
            ("rita", "reviewer"),
        ]


def test_hostile_strings_render_as_text_and_pages_carry_security_headers(
    client: TestClient,
) -> None:
    login(client, "rita")
    page = client.get(f"/findings/{F}")
    assert "<script>" not in page.text and "<img" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    for path in ("/login", "/findings", f"/findings/{F}", "/findings/" + "0" * 32):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "unsafe" not in csp and "script-src" not in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["strict-transport-security"].startswith("max-age=")
        assert "<script" not in r.text and "http://" not in r.text and "https://" not in r.text


def test_the_stylesheet_is_served_by_the_app_itself(client: TestClient) -> None:
    r = client.get("/static/app.css")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/css")
    assert "--critical" in r.text and ".signout" in r.text
    assert "@import" not in r.text and "url(" not in r.text


@pytest.mark.parametrize(
    ("query", "owners", "count_open"),
    [
        ("", {"u00001", "u00002"}, 4),
        ("?department=Markets&severity=high", {"u00001", "u00002"}, 2),
        ("?tool=tool-02", {"u00002"}, 2),
        ("?period=2026-09", set(), 0),
        ("?status=confirmed", set(), 4),
    ],
)
def test_queue_filters(client: TestClient, query: str, owners: set[str], count_open: int) -> None:
    login(client, "markets-boss")
    page = client.get("/findings" + query)
    assert page.status_code == 200
    assert {u for u in OWNERS if f"/findings/{finding_of(u)}" in page.text} == owners
    shown = re.search(r'href="/findings\?[^"]*status=open[^"]*">(\d+)</a>', page.text)
    assert shown is not None and int(shown.group(1)) == count_open


@pytest.mark.parametrize(
    "query", ["?status=nonsense", "?severity=urgent", "?sort=random", "?period=13"]
)
def test_bad_filters_answer_400_not_500(client: TestClient, query: str) -> None:
    login(client, "rita")
    r = client.get("/findings" + query)
    assert r.status_code == 400 and "Traceback" not in r.text


def test_queue_pages(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_module, "PAGE_SIZE", 5)
    login(client, "rita")
    first = client.get("/findings?sort=oldest")
    second = client.get("/findings?sort=oldest&page=2")
    assert "page 1 of 3" in first.text and "page 2 of 3" in second.text
    ids = [
        {
            line.split("/findings/")[1][:32]
            for line in p.text.splitlines()
            if 'href="/findings/f-' in line
        }
        for p in (first, second)
    ]
    assert len(ids[0]) == len(ids[1]) == 5 and not ids[0] & ids[1]


def test_a_database_error_is_a_plain_page(settings: Settings, bank: Engine) -> None:
    with make_client(settings, bank) as c:
        login(c, "rita")
    c = make_client(settings, bank)
    c.__enter__()
    login(c, "rita")
    with session_scope(bank) as s:
        s.execute(text("ALTER TABLE findings RENAME TO findings_gone"))
    c2 = TestClient(c.app, base_url="https://testserver", raise_server_exceptions=False)
    c2.cookies.update(c.cookies)
    r = c2.get("/findings")
    assert r.status_code == 500
    assert (
        "Something went wrong" in r.text
        and "Traceback" not in r.text
        and "sqlite" not in r.text.lower()
    )
    c.__exit__(None, None, None)


def test_every_account_in_the_fixture_can_sign_in(client: TestClient) -> None:
    for name in ACCOUNTS:
        assert login(client, name) == 303


def test_bidi_controls_from_the_directory_show_as_markers(client: TestClient, bank: Engine) -> None:
    with session_scope(bank) as s:
        s.execute(
            text("UPDATE people SET department = 'Mar\u202ekets<b>' WHERE user_id = 'u00001'")
        )
    login(client, "rita")
    for path in ("/findings", f"/findings/{F}"):
        page = client.get(path).text
        assert "\u202e" not in page
        assert "Mar[U+202E]kets&lt;b&gt;" in page
