"""Fixtures for the policy tests: the project's real policies loaded once, a stand-in OPA
server on 127.0.0.1, and `decision_engine`, the shared suite's parameter over both engines."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auditor.policy.engine import EmbeddedEngine, PolicyEngine, load_bundle
from auditor.policy.opa import OpaEngine
from tests.policy.fake_opa import FakeOpa
from tests.policy.helpers import POLICY_DIR

LOOPBACK = frozenset({"127.0.0.1", "localhost"})


@pytest.fixture(scope="session")
def policy_engine() -> EmbeddedEngine:
    """The project's policies, loaded once: the engine is read-only between evaluations."""
    return EmbeddedEngine(load_bundle(POLICY_DIR))


@pytest.fixture
def policy_copy(tmp_path: Path) -> Path:
    """A writable copy of the policy directory, for breaking things."""
    return Path(shutil.copytree(POLICY_DIR, tmp_path / "policies"))


@pytest.fixture
def loopback(no_network: list[str], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Open 127.0.0.1 (only) on top of the suite's network block, for the OPA tests.

    Runs after `no_network` (it asks for it) and wraps the same three entry points: a name
    other than localhost, or an address other than 127.0.0.1, is still refused and recorded.
    """
    blocked_connect = socket.socket.connect
    attempts = no_network

    def refuse(target: Any) -> Any:
        attempts.append(repr(target))
        raise OSError(f"network access attempted: {target!r}")

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host in LOOPBACK:
            return _REAL_GETADDRINFO(host, *args, **kwargs)
        return refuse(host)

    def connect(self: socket.socket, address: Any) -> Any:
        if self.family == socket.AF_INET and address[0] == "127.0.0.1":
            return _REAL_CONNECT(self, address)
        return blocked_connect(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
        if address[0] in LOOPBACK:
            return _REAL_CREATE(address, *args, **kwargs)
        return refuse(address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    # A proxy from the environment must not take the test's requests elsewhere.
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return attempts


# Captured at import, before any test patches the socket module.
_REAL_GETADDRINFO = socket.getaddrinfo
_REAL_CONNECT = socket.socket.connect
_REAL_CREATE = socket.create_connection


@pytest.fixture(scope="session")
def opa_server() -> Iterator[FakeOpa]:
    """One stand-in OPA server for the session (see tests/policy/fake_opa.py)."""
    server = FakeOpa().start()
    yield server
    server.stop()


@pytest.fixture
def fresh_opa(loopback: list[str]) -> Iterator[FakeOpa]:
    """A stand-in OPA server of its own, for tests that break or stall it."""
    server = FakeOpa().start()
    yield server
    server.stop()


@pytest.fixture
def opa_engine(opa_server: FakeOpa, loopback: list[str]) -> OpaEngine:
    """The project's pack uploaded to the session's stand-in server (re-uploaded per test, as
    a fresh auditor run would: a test that changed the server cannot leak into the next)."""
    return OpaEngine(load_bundle(POLICY_DIR), opa_server.url, timeout=10)


@pytest.fixture(params=["embedded", "opa"])
def decision_engine(request: pytest.FixtureRequest, policy_engine: EmbeddedEngine) -> PolicyEngine:
    """The shared decision suite's engine: every test that asks for it runs on both."""
    if request.param == "embedded":
        return policy_engine
    engine: PolicyEngine = request.getfixturevalue("opa_engine")
    return engine


def real_opa_url() -> str | None:
    return os.environ.get("OPA_URL") or None
