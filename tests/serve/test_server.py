"""`auditor serve` as it runs: the real CLI starts uvicorn on a free localhost port and a
plain HTTP client signs in, reads the queue and a finding, and signs out over a real socket.
The network block is lifted for 127.0.0.1 only."""

from __future__ import annotations

import http.client
import time
from pathlib import Path
from urllib.parse import urlencode

from tests.serve.conftest import OWNERS, PASSWORD, finding_of


def _request(
    port: int, method: str, path: str, cookies: dict[str, str], form: dict[str, str] | None = None
) -> tuple[int, dict[str, list[str]], str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}
    body = None
    if form is not None:
        body = urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    text = resp.read().decode()
    got: dict[str, list[str]] = {}
    for k, v in resp.getheaders():
        got.setdefault(k.lower(), []).append(v)
    conn.close()
    for line in got.get("set-cookie", []):
        name, value = line.split(";", 1)[0].split("=", 1)
        if value and "max-age=0" not in line.lower():
            cookies[name] = value
        else:
            cookies.pop(name, None)
    return resp.status, got, text


def test_sign_in_review_and_sign_out_over_a_real_server(server: tuple[int, Path]) -> None:
    port, log = server
    jar: dict[str, str] = {}
    status, headers, page = _request(port, "GET", "/login", jar)
    assert status == 200 and "server" not in headers
    assert headers["content-security-policy"][0].startswith("default-src 'none'")
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    status, headers, _ = _request(
        port,
        "POST",
        "/login",
        jar,
        {"username": "markets-boss", "password": PASSWORD, "csrf_token": token},
    )
    assert status == 303 and "auditor_session" in jar
    status, _, page = _request(port, "GET", "/findings", jar)
    assert status == 200
    assert {u for u in OWNERS if finding_of(u) in page} == {"u00001", "u00002"}
    status, _, page = _request(port, "GET", f"/findings/{finding_of('u00003')}", jar)
    assert status == 404 and "Traceback" not in page
    status, _, page = _request(port, "GET", f"/findings/{finding_of('u00001')}", jar)
    assert status == 200
    csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    status, _, _ = _request(port, "POST", "/logout", jar, {"csrf_token": csrf})
    assert status == 303 and "auditor_session" not in jar
    time.sleep(0.3)
    logged = log.read_text()
    assert "GET /findings HTTP/1.1" in logged  # the access log is there ...
    for secret in ("<script>", PASSWORD, "Ann Lee", "Bo Chen"):  # ... and holds none of these
        assert secret not in logged
