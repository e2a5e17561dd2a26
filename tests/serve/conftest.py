"""A small bank for the review application: the test directory's people, one finding per
person, and an account for each role."""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine
from starlette.testclient import TestClient

from auditor.config import Settings
from auditor.db.models import Account, Finding, Interaction
from auditor.db.session import session_scope
from auditor.directory import load_people
from auditor.ingest.stage import ingest_paths
from auditor.serve.app import ServeOptions, create_app
from tests.conftest import DATA, chat_record, write_jsonl

PASSWORD = "correct horse battery staple"
# Directory (tests/data/people/people.csv): u00099 heads u00010 (Markets: u00001, u00002),
# u00011 (Technology: u00003) and u00012 (Wealth: u00004).
OWNERS = ("u00001", "u00002", "u00003", "u00004", "u00010", "u00099")
ACCOUNTS = {
    # name: (role, person id)
    "markets-boss": ("manager", "u00010"),
    "ceo": ("manager", "u00099"),
    "lonely": ("manager", "u00003"),  # nobody reports to them
    "rita": ("reviewer", None),
    "rob": ("reviewer", "u00004"),  # a reviewer who has a finding of their own
    "rio": ("risk_officer", None),
    "ada": ("admin", None),
}


def finding_of(user_id: str, severity: str = "high") -> str:
    """The id of the test finding on `user_id`'s interaction."""
    return f"f-{user_id}-{severity}".ljust(32, "0")


@pytest.fixture
def bank(session_engine: Engine, tmp_path: Path) -> Engine:
    with session_scope(session_engine) as session:
        load_people(session, DATA / "people" / "people.csv")
        recs = [
            chat_record(f"e-{uid}", "x", user=uid, email=None, tool=f"tool-{uid[-2:]}")
            for uid in OWNERS
        ]
        ingest_paths(
            session,
            [write_jsonl(tmp_path / "l.jsonl", recs)],
            "openai-chat",
            max_line_bytes=1 << 24,
        )
        t = datetime(2026, 11, 1)
        for inter in session.query(Interaction).all():
            for severity in ("high", "low"):
                session.add(
                    Finding(
                        id=finding_of(inter.user_id or "", severity),
                        interaction_id=inter.id,
                        rule_id=f"rule-{severity}",
                        severity=severity,
                        title=f"{severity} finding",
                        message="m",
                        masked_excerpt='<script>alert(1)</script> "><img onerror=x> [PERSON]',
                        status="open",
                        first_seen=t,
                        last_seen=t,
                    )
                )
        for name, (role, person) in ACCOUNTS.items():
            session.add(
                Account(
                    username=name,
                    role=role,
                    person_id=person,
                    password_hash=_password_hash(),
                    disabled=False,
                    created_at=t,
                )
            )
    return session_engine


@functools.cache
def _password_hash() -> str:
    """One argon2id hash of PASSWORD for every fixture account, with light parameters (a hash
    carries its own, so verifying it is light too): the production cost is slow by design,
    and `auditor users add` (add_account) has tests of its own."""
    return PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)


@pytest.fixture
def session_engine(engine: Engine) -> Engine:
    return engine


def make_client(settings: Settings, engine: Engine, *, secure: bool = True) -> TestClient:
    app = create_app(settings, engine, ServeOptions(secure_cookies=secure))
    base = "https://testserver" if secure else "http://testserver"
    return TestClient(app, base_url=base, follow_redirects=False)


@pytest.fixture
def client(settings: Settings, bank: Engine) -> Iterator[TestClient]:
    with make_client(settings, bank) as c:
        yield c


def login(client: TestClient, username: str, password: str = PASSWORD) -> int:
    """Sign in through the form as a browser does; returns the POST's status code."""
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    ).status_code


def csrf(client: TestClient, path: str = "/findings") -> str:
    page = client.get(path)
    return page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


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
