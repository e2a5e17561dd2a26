"""/api/v1: the same scope and permissions as the pages, by personal token or session."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from starlette.routing import Mount
from starlette.testclient import TestClient

from auditor.db.models import Account, Finding
from auditor.db.session import session_scope
from auditor.serve.accounts import disable_account, issue_api_token
from auditor.serve.api import OPENAPI
from tests.serve.conftest import ACCOUNTS, OWNERS, finding_of, login
from tests.serve.test_app import VISIBLE

F = finding_of("u00001")


@pytest.fixture
def tokens(bank: Engine) -> dict[str, str]:
    with session_scope(bank) as s:
        return {name: issue_api_token(s, name) for name in ACCOUNTS}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("account", sorted(VISIBLE))
def test_each_token_sees_exactly_its_scope(
    client: TestClient, tokens: dict[str, str], account: str
) -> None:
    h = _bearer(tokens[account])
    listing = client.get("/api/v1/findings?limit=500", headers=h).json()
    owners = {u for u in OWNERS if any(i["id"] == finding_of(u) for i in listing["items"])}
    assert owners == VISIBLE[account]
    assert listing["total"] == 2 * len(VISIBLE[account])
    for uid in OWNERS:
        for path in (
            f"/api/v1/findings/{finding_of(uid)}",
            f"/api/v1/findings/{finding_of(uid)}/history",
        ):
            r = client.get(path, headers=h)
            if uid in VISIBLE[account]:
                assert r.status_code == 200
            else:
                assert (r.status_code, r.json()) == (404, {"error": "no such finding"})
    missing = client.get("/api/v1/findings/" + "f" * 32, headers=h)
    assert (missing.status_code, missing.json()) == (404, {"error": "no such finding"})


def test_a_finding_as_json_has_the_masked_excerpt_and_a_pseudonym(
    client: TestClient, tokens: dict[str, str]
) -> None:
    body = client.get(f"/api/v1/findings/{F}", headers=_bearer(tokens["rita"])).json()
    assert body["id"] == F and body["masked_excerpt"].endswith("[PERSON]")
    assert body["person"].startswith("P-") and "Ann" not in str(body)
    assert set(OPENAPI["components"]["schemas"]["Item"]["required"]) <= set(body)


API = [
    ("GET", "/api/v1/findings", None),
    ("GET", f"/api/v1/findings/{F}", None),
    ("GET", f"/api/v1/findings/{F}/history", None),
    ("POST", f"/api/v1/findings/{F}/dispositions", {"disposition": "nope", "note": "x"}),
    ("POST", f"/api/v1/findings/{F}/approval", {"decision": "approve", "note": "x"}),
]
# 400 where the role may act (the body is refused on its merits: an unknown disposition,
# nothing awaiting approval); 401 without credentials; 403 where the role may not.
API_MATRIX = {
    "anonymous": (401, 401, 401, 401, 401),
    "bad-token": (401, 401, 401, 401, 401),
    "markets-boss": (200, 200, 200, 400, 403),
    "rita": (200, 200, 200, 400, 400),
    "rio": (200, 200, 200, 403, 403),
    "ada": (403, 403, 403, 403, 403),
}


@pytest.mark.parametrize("who", sorted(API_MATRIX))
def test_role_by_api_call_matrix(client: TestClient, tokens: dict[str, str], who: str) -> None:
    headers = {}
    if who == "bad-token":
        headers = _bearer("aud_" + "x" * 43)
    elif who != "anonymous":
        headers = _bearer(tokens[who])
    got = []
    for method, path, body in API:
        r = client.request(method, path, json=body, headers=headers)
        got.append(r.status_code)
        assert r.headers["content-type"] == "application/json"
    assert tuple(got) == API_MATRIX[who]


def test_tokens_end_with_disabling_expiry_and_replacement(
    client: TestClient, bank: Engine, tokens: dict[str, str]
) -> None:
    h = _bearer(tokens["rita"])
    assert client.get("/api/v1/findings", headers=h).status_code == 200
    with session_scope(bank) as s:
        newer = issue_api_token(s, "rita")
    assert client.get("/api/v1/findings", headers=h).status_code == 401
    assert client.get("/api/v1/findings", headers=_bearer(newer)).status_code == 200
    with session_scope(bank) as s:
        account = s.scalars(select(Account).where(Account.username == "rita")).one()
        assert account.api_token_hash and newer not in account.api_token_hash
        account.api_token_created_at -= timedelta(days=91)
    assert client.get("/api/v1/findings", headers=_bearer(newer)).status_code == 401
    h = _bearer(tokens["rio"])
    with session_scope(bank) as s:
        disable_account(s, "rio")
    assert client.get("/api/v1/findings", headers=h).status_code == 401


def test_a_session_post_needs_the_csrf_header(client: TestClient, bank: Engine) -> None:
    login(client, "markets-boss")
    page = client.get("/findings")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    body = {"disposition": "confirmed", "note": "real"}
    path = f"/api/v1/findings/{F}/dispositions"
    assert client.post(path, json=body).status_code == 403
    assert client.post(path, json=body, headers={"X-CSRF-Token": "forged"}).status_code == 403
    with session_scope(bank) as s:
        assert s.get(Finding, F).status == "open"
    r = client.post(path, json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 201
    assert r.json()["status"] == "confirmed"
    assert r.json()["event"]["reviewer"] == "markets-boss"
    assert client.get("/api/v1/findings?status=confirmed").json()["total"] == 1


def test_four_eyes_through_the_api(client: TestClient, tokens: dict[str, str]) -> None:
    path = f"/api/v1/findings/{F}"
    r = client.post(
        path + "/dispositions",
        json={"disposition": "accepted-risk", "note": "desk approved"},
        headers=_bearer(tokens["markets-boss"]),
    )
    assert (r.status_code, r.json()["status"]) == (201, "pending_approval")
    r = client.post(
        path + "/approval",
        json={"decision": "reject", "note": "not acceptable"},
        headers=_bearer(tokens["rita"]),
    )
    assert (r.status_code, r.json()["status"]) == (201, "open")
    history = client.get(path + "/history", headers=_bearer(tokens["rio"])).json()["history"]
    assert [(e["reviewer"], e["disposition"]) for e in history] == [
        ("markets-boss", "accepted-risk"),
        ("rita", "rejected"),
    ]


@pytest.mark.parametrize(
    ("content", "headers", "status", "message"),
    [
        (
            "disposition=confirmed",
            {"content-type": "application/x-www-form-urlencoded"},
            415,
            "application/json",
        ),
        ("{not json", {"content-type": "application/json"}, 400, "not JSON"),
        ("[1, 2]", {"content-type": "application/json"}, 400, "JSON object"),
        (
            '{"disposition": "confirmed"}',
            {"content-type": "application/json"},
            400,
            "note must be a string",
        ),
        (
            '{"disposition": 7, "note": "x"}',
            {"content-type": "application/json"},
            400,
            "disposition must be a string",
        ),
        (
            '{"disposition": "confirmed", "note": "' + "x" * 20000 + '"}',
            {"content-type": "application/json"},
            413,
            "too large",
        ),
        ("[" * 100000, {"content-type": "application/json"}, 413, "too large"),
    ],
)
def test_bad_bodies_are_refused_plainly(
    client: TestClient,
    tokens: dict[str, str],
    bank: Engine,
    content: str,
    headers: dict[str, str],
    status: int,
    message: str,
) -> None:
    r = client.post(
        f"/api/v1/findings/{F}/dispositions",
        content=content,
        headers={**headers, **_bearer(tokens["rita"])},
    )
    assert r.status_code == status and message in r.json()["error"]
    with session_scope(bank) as s:
        assert s.get(Finding, F).status == "open"


@pytest.mark.parametrize(
    "query", ["status=nope", "limit=0", "limit=501", "offset=-1", "offset=x", "period=2026-13"]
)
def test_bad_queries_answer_400(client: TestClient, tokens: dict[str, str], query: str) -> None:
    r = client.get(f"/api/v1/findings?{query}", headers=_bearer(tokens["rita"]))
    assert r.status_code == 400 and r.json()["error"]


def test_the_openapi_document_names_exactly_the_routes(client: TestClient) -> None:
    doc = client.get("/api/v1/openapi.json").json()
    assert doc == OPENAPI and doc["openapi"].startswith("3.1")
    mount = next(r for r in client.app.routes if isinstance(r, Mount) and r.path == "/api/v1")  # type: ignore[attr-defined]
    served: set[tuple[str, str]] = set()
    for route in mount.routes:
        path = route.path.replace(":str}", "}")  # type: ignore[attr-defined]
        for method in route.methods - {"HEAD"}:  # type: ignore[attr-defined]
            served.add((method.lower(), path))
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert served == documented


def test_users_token_command(
    settings: Any,
    bank: Engine,
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from auditor.cli import main

    monkeypatch.setenv("AUDITOR_DATABASE__URL", settings.database.url)
    monkeypatch.setenv("COLUMNS", "300")
    assert main(["users", "token", "rio"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("aud_")
    assert client.get("/api/v1/findings", headers=_bearer(token)).status_code == 200
    assert main(["users", "token", "nobody"]) == 1
    assert "no user 'nobody'" in capsys.readouterr().err
