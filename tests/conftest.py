"""Shared fixtures: no network anywhere, a fresh migrated database per test, small logs."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
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


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings isolated in tmp_path: database, data dir, reports; a fixed hash key."""
    monkeypatch.chdir(tmp_path)
    for var in ("AUDITOR_CONFIG", "AUDITOR_DATABASE__URL"):
        monkeypatch.delenv(var, raising=False)
    return load_settings(
        None,
        data_dir=str(tmp_path / ".auditor"),
        database={"url": f"sqlite:///{tmp_path / 'auditor.db'}"},
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
