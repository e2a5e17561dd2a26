"""A small bank for the review application: the test directory's people, one finding per
person, and an account for each role."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

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
