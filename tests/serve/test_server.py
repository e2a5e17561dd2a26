"""`auditor serve` as it runs: the real CLI starts uvicorn on a free localhost port and a
plain HTTP client signs in, reads the queue and a finding, and signs out over a real socket.
The network block is lifted for 127.0.0.1 only."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import Engine

from auditor.config import Settings
from tests.serve.conftest import OWNERS, PASSWORD, finding_of

# Captured at import, before any test patches them.
_REAL_CONNECT = socket.socket.connect
_REAL_CREATE = socket.create_connection
_REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture
def loopback(no_network: list[str], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    blocked = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        if self.family == socket.AF_INET and address[0] == "127.0.0.1":
            return _REAL_CONNECT(self, address)
        return blocked(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
        if address[0] != "127.0.0.1":
            raise OSError(f"network access attempted: {address!r}")
        return _REAL_CREATE(address, *args, **kwargs)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "127.0.0.1":
            raise OSError(f"network access attempted: {host!r}")
        return _REAL_GETADDRINFO(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return no_network


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(
    settings: Settings, bank: Engine, tmp_path: Path, loopback: list[str]
) -> Iterator[tuple[int, Path]]:
    port = _free_port()
    log = tmp_path / "server.log"
    env = {
        **os.environ,
        "AUDITOR_DATABASE__URL": settings.database.url,
        "AUDITOR_DATA_DIR": str(settings.data_dir),
        "AUDITOR_SCAN__HASH_KEY": "test-key-not-secret-padded-to-32-bytes",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "auditor", "serve", "--port", str(port), "--insecure-http"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.socket() as s:
                    s.connect(("127.0.0.1", port))
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"auditor serve did not start: {log.read_text()[-2000:]}")
                time.sleep(0.2)
        yield port, log
    finally:
        proc.terminate()
        proc.wait(timeout=30)


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
