"""Fixtures for the policy tests: the project's real policies loaded once, OPA's own Go
evaluator, a stand-in OPA server on 127.0.0.1 that decides with it, and `decision_engine`, the
shared suite's parameter over every engine.

OPA's evaluator comes from opa-golib-python-bindings, which `make test` installs (see the
Makefile for why it is a separate step). Without it the tests that need it are skipped with
that reason, except in CI (`CI` set), where they fail: the differential suite must run there.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auditor.policy import opa_go
from auditor.policy.engine import EmbeddedEngine, PolicyEngine, load_bundle
from auditor.policy.opa import OpaEngine
from auditor.policy.opa_go import OpaGoEngine
from tests.policy.fake_opa import FakeOpa
from tests.policy.helpers import POLICY_DIR

LOOPBACK = frozenset({"127.0.0.1", "localhost"})


@pytest.fixture(scope="session")
def policy_engine() -> EmbeddedEngine:
    """The project's policies, loaded once: the engine is read-only between evaluations."""
    return EmbeddedEngine(load_bundle(POLICY_DIR))


def require_opa_go() -> None:
    """Skip (fail in CI) unless OPA's Go evaluator is installed and is the OPA release the
    suite was proven on."""
    if not opa_go.available():
        reason = f"OPA's Go evaluator is not installed: {opa_go.INSTALL_HINT}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    version = opa_go.opa_version()
    assert version == opa_go.OPA_VERSION, (
        f"opa-golib-python-bindings carries OPA {version}, the suite is proven on "
        f"{opa_go.OPA_VERSION}: pin {opa_go.DISTRIBUTION}=={opa_go.BINDINGS_VERSION}"
    )


@pytest.fixture(scope="session")
def opa_go_engine() -> OpaGoEngine:
    """The project's policies on OPA's own Go evaluator, loaded once."""
    require_opa_go()
    return OpaGoEngine(load_bundle(POLICY_DIR))


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
    require_opa_go()
    server = FakeOpa().start()
    yield server
    server.stop()


@pytest.fixture
def fresh_opa(loopback: list[str]) -> Iterator[FakeOpa]:
    """A stand-in OPA server of its own, for tests that break or stall it."""
    require_opa_go()
    server = FakeOpa().start()
    yield server
    server.stop()


@pytest.fixture
def opa_engine(opa_server: FakeOpa, loopback: list[str]) -> OpaEngine:
    """The project's pack uploaded to the session's stand-in server (re-uploaded per test, as
    a fresh auditor run would: a test that changed the server cannot leak into the next)."""
    return OpaEngine(load_bundle(POLICY_DIR), opa_server.url, timeout=10)


@pytest.fixture(scope="session")
def interpreted_engine(policy_engine: EmbeddedEngine) -> EmbeddedEngine:
    """The same pack on regorus' interpreter (the embedded engine compiles by default)."""
    return EmbeddedEngine(policy_engine.bundle, compiled=False)


# The shared decision suite's engines: regorus compiled (the default) and interpreted, OPA's
# Go evaluator in-process, and the OPA server path (opa-python-client over HTTP to a server
# deciding with OPA's Go evaluator).
DECISION_ENGINES = {
    "embedded": "policy_engine",
    "embedded-interpreted": "interpreted_engine",
    "opa-go": "opa_go_engine",
    "opa": "opa_engine",
}


@pytest.fixture(params=sorted(DECISION_ENGINES))
def decision_engine(request: pytest.FixtureRequest) -> PolicyEngine:
    """The shared decision suite's engine: every test that asks for it runs on each."""
    engine: PolicyEngine = request.getfixturevalue(DECISION_ENGINES[request.param])
    return engine


def real_opa_url() -> str | None:
    return os.environ.get("OPA_URL") or None
