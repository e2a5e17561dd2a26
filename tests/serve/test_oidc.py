"""Sign-in through a real OpenID provider: panva's certified `oidc-provider` (npm) runs under
Node.js on a free localhost port with its development sign-in pages, and `auditor serve` (the
real CLI, in `oidc` mode) runs the authorization-code flow with PKCE against it. Skipped,
saying why, without Node.js or the provider's package (`make test` installs it with
`npm ci --prefix tests/serve/oidc`)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from sqlalchemy import Engine

from auditor.config import Settings
from auditor.db.session import session_scope
from auditor.serve.accounts import disable_account
from tests.serve.conftest import OWNERS, finding_of

PEER = Path(__file__).parent / "oidc"
NODE = shutil.which("node")
SECRET = "a-client-secret-for-tests-only-0123456789"

pytestmark = pytest.mark.skipif(
    NODE is None or not (PEER / "node_modules" / "oidc-provider").is_dir(),
    reason="Node.js or the oidc-provider package is missing (run `npm ci --prefix "
    "tests/serve/oidc`, as `make test` does): no OpenID provider to sign in with",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.socket() as s:
                s.connect(("127.0.0.1", port))
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{proc.args!r} did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)


@pytest.fixture
def oidc_app(
    settings: Settings, bank: Engine, tmp_path: Path, loopback: list[str]
) -> Iterator[str]:
    """The provider and the application, both listening on 127.0.0.1; the app's base URL."""
    assert NODE is not None
    app_port, idp_port = _free_port(), _free_port()
    base = f"http://127.0.0.1:{app_port}"
    procs = []
    try:
        idp_log = tmp_path / "idp.log"
        with idp_log.open("wb") as out:
            idp = subprocess.Popen(
                [NODE, str(PEER / "provider.mjs"), str(idp_port), f"{base}/auth/callback", SECRET],
                cwd=PEER,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        procs.append(idp)
        _wait(idp_port, idp, idp_log)
        config = tmp_path / "auditor.toml"
        config.write_text(
            f"""
[serve.auth]
mode = "oidc"
oidc_issuer = "http://127.0.0.1:{idp_port}"
oidc_client_id = "auditor"
oidc_redirect_url = "{base}/auth/callback"
oidc_group_roles = {{ audit-managers = "manager", audit-reviewers = "reviewer" }}
"""
        )
        env = {
            **os.environ,
            "AUDITOR_DATABASE__URL": settings.database.url,
            "AUDITOR_DATA_DIR": str(settings.data_dir),
            "AUDITOR_SCAN__HASH_KEY": "test-key-not-secret-padded-to-32-bytes",
            "AUDITOR_SERVE__AUTH__OIDC_CLIENT_SECRET": SECRET,
        }
        app_log = tmp_path / "app.log"
        with app_log.open("wb") as out:
            app = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "auditor",
                    "--config",
                    str(config),
                    "serve",
                    "--port",
                    str(app_port),
                    "--insecure-http",
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        procs.append(app)
        _wait(app_port, app, app_log)
        yield base
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=30)


def _sign_in(base: str, login: str) -> tuple[httpx.Client, httpx.Response, str]:
    """Follow the flow as a browser: to the provider, through its sign-in (and consent)
    pages, back to the callback. Returns the client, the app's answer to the callback and
    the authorization request's URL."""
    client = httpx.Client(timeout=30, follow_redirects=False, trust_env=False)
    r = client.get(f"{base}/login/oidc")
    assert r.status_code == 302, r.text[:500]
    authorize = r.headers["location"]
    for _ in range(20):
        if r.status_code in (301, 302, 303):
            url = urljoin(str(r.url), r.headers["location"])
            if url.startswith(f"{base}/auth/callback"):
                return client, client.get(url), authorize
            r = client.get(url)
            continue
        assert r.status_code == 200, r.text[:500]
        action = unescape(re.search(r'<form[^>]*action="([^"]+)"', r.text).group(1))  # type: ignore[union-attr]
        prompt = re.search(r'name="prompt" value="(\w+)"', r.text).group(1)  # type: ignore[union-attr]
        form = {"prompt": prompt}
        if prompt == "login":
            form |= {"login": login, "password": "any password"}
        r = client.post(urljoin(str(r.url), action), data=form)
    raise AssertionError("the sign-in never came back to the application")


def test_the_flow_uses_pkce_state_and_nonce(oidc_app: str) -> None:
    client, answer, authorize = _sign_in(oidc_app, "ed.fox")
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43
    assert query["response_type"] == ["code"] and "openid" in query["scope"][0].split()
    assert query["state"][0] and query["nonce"][0]
    assert "code_verifier" not in authorize
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    assert "auditor_session" in client.cookies


@pytest.mark.parametrize(
    ("login", "visible"),
    [("ed.fox", {"u00001", "u00002"}), ("rita", set(OWNERS))],
    ids=["manager-by-email-and-group", "reviewer-by-group"],
)
def test_a_provider_sign_in_gets_the_scope_of_its_role(
    oidc_app: str, login: str, visible: set[str]
) -> None:
    client, answer, _ = _sign_in(oidc_app, login)
    assert answer.status_code == 303
    page = client.get(f"{oidc_app}/findings")
    assert page.status_code == 200
    assert {u for u in OWNERS if finding_of(u) in page.text} == visible
    outside = next((u for u in OWNERS if u not in visible), None)
    if outside:
        assert client.get(f"{oidc_app}/findings/{finding_of(outside)}").status_code == 404


@pytest.mark.parametrize(
    ("login", "message"),
    [
        ("nobody", "does not know you"),  # a manager group, but not in the directory
        ("plain", "no role"),  # no group that maps to a role
    ],
)
def test_refused_provider_sign_ins(oidc_app: str, login: str, message: str) -> None:
    client, answer, _ = _sign_in(oidc_app, login)
    assert answer.status_code == 403 and message in answer.text
    assert "auditor_session" not in client.cookies
    assert client.get(f"{oidc_app}/findings").status_code == 303


def test_a_disabled_provider_account_is_refused(oidc_app: str, bank: Engine) -> None:
    assert _sign_in(oidc_app, "ed.fox")[1].status_code == 303
    with session_scope(bank) as s:
        disable_account(s, "u00010@northbridge-bank.example")
    client, answer, _ = _sign_in(oidc_app, "ed.fox")
    assert answer.status_code == 403 and "disabled" in answer.text


def test_a_forged_callback_and_the_password_form_are_refused(oidc_app: str) -> None:
    client = httpx.Client(timeout=30, follow_redirects=False, trust_env=False)
    r = client.get(f"{oidc_app}/auth/callback?code=forged&state=forged")
    assert r.status_code == 401 and "did not complete" in r.text
    assert "auditor_session" not in client.cookies
    login = client.get(f"{oidc_app}/login")
    assert 'href="/login/oidc"' in login.text and 'name="password"' not in login.text
    r = client.post(f"{oidc_app}/login", data={"username": "rita", "password": "x"})
    assert r.status_code == 403
