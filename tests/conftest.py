"""Shared fixtures: no network anywhere, a fresh migrated database per test, small logs."""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from auditor.config import Settings, load_settings
from auditor.db.session import make_engine, session_scope, upgrade

DATA = Path(__file__).parent / "data"


class NetworkBlocked(RuntimeError):
    pass


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every test runs air-gapped: any attempt to resolve or connect fails loudly."""
    attempts: list[str] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(repr(args[:2]))
        raise NetworkBlocked(f"network access attempted: {args[:2]!r}")

    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if self.family == socket.AF_UNIX:
            return real_connect(self, address)
        return refuse(address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


# PostgreSQL for the tests: a server where `postgres` may create databases (the machine's, with
# trust authentication on 127.0.0.1:5432, unless AUDITOR_TEST_POSTGRES_URL names another).
POSTGRES_URL = os.environ.get(
    "AUDITOR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "both_databases: run the test on SQLite and on PostgreSQL (the `backend` fixture)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked both_databases runs once per backend; its `settings`, `engine` and
    `session` then use that backend's fresh database."""
    if metafunc.definition.get_closest_marker("both_databases") and (
        "backend" in metafunc.fixturenames
    ):
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL server's admin URL, once reachable. Unreachable: the PostgreSQL half is
    skipped saying why; under CI (CI=true) that fails instead, so it is never silently lost."""
    from sqlalchemy import create_engine, text

    from auditor.config import normalise_database_url

    url = normalise_database_url(POSTGRES_URL)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("the psycopg driver is not installed (pip install -e '.[test,postgres]')")
    eng = create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means: not reachable
        cause = getattr(exc, "orig", None) or exc
        detail = " ".join(str(cause).split())[:200]
        _unavailable(
            f"PostgreSQL at {url} is not reachable ({type(cause).__name__}: {detail}); "
            "start it or set AUDITOR_TEST_POSTGRES_URL"
        )
    finally:
        eng.dispose()
    return url


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"PostgreSQL tests cannot run under CI: {reason}")
    pytest.skip(f"PostgreSQL half skipped: {reason}")


@contextmanager
def fresh_postgres_database(admin_url: str) -> Iterator[str]:
    """CREATE DATABASE with a unique name on the test server, its URL, dropped afterwards
    (WITH (FORCE): a connection a failed test left open does not keep it)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"auditor_t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """Which database the test's `settings` use: parametrised for both_databases tests, else
    AUDITOR_TEST_BACKEND (default sqlite; `postgresql` runs the whole suite on PostgreSQL)."""
    return getattr(request, "param", os.environ.get("AUDITOR_TEST_BACKEND", "sqlite"))


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty database for this test on its backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'auditor.db'}"
        return
    admin_url = request.getfixturevalue("postgres_server")
    with fresh_postgres_database(admin_url) as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Settings:
    """Settings isolated in tmp_path: database (a fresh one on the test's backend), data dir,
    reports; a fixed hash key."""
    monkeypatch.chdir(tmp_path)
    for var in ("AUDITOR_CONFIG", "AUDITOR_DATABASE__URL"):
        monkeypatch.delenv(var, raising=False)
    return load_settings(
        None,
        data_dir=str(tmp_path / ".auditor"),
        database={"url": database_url},
        scan={"hash_key": "test-key-not-secret-padded-to-32-bytes"},
        report={"output_dir": str(tmp_path / "reports")},
    )


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """A fresh database built by running the migrations."""
    eng = make_engine(settings.database.url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_scope(engine) as s:
        yield s


def chat_record(
    event_id: str,
    prompt: str | list[dict[str, str]] | None,
    *,
    user: str = "u00001",
    email: str | None = "ann.lee@northbridge-bank.example",
    when: str = "2026-10-05T10:00:00Z",
    tool: str = "chatgpt-enterprise",
    output: str | None = "Here is a draft.",
    workflow: str | None = "internal_drafting",
    **extra: Any,
) -> dict[str, Any]:
    """One openai-chat log record as a gateway writes it."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are helpful."}]
    if prompt is not None:
        messages.append({"role": "user", "content": prompt})
    rec: dict[str, Any] = {
        "timestamp": when,
        "user": {"id": user, "email": email},
        "tool": tool,
        "workflow": workflow,
        "request": {"model": "gpt-4o", "messages": messages},
        "response": {
            "id": event_id,
            "object": "chat.completion",
            "created": 1791194400,
            "model": "gpt-4o-2024-08-06",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": output},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42},
        },
    }
    rec.update(extra)
    return rec


def write_jsonl(path: Path, records: list[dict[str, Any] | bytes | str]) -> Path:
    with path.open("wb") as fh:
        for rec in records:
            if isinstance(rec, bytes):
                fh.write(rec + b"\n")
            elif isinstance(rec, str):
                fh.write(rec.encode() + b"\n")
            else:
                fh.write(json.dumps(rec).encode() + b"\n")
    return path
