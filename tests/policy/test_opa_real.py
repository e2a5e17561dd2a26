"""The OPA backend against a real OPA server, when one is given: `OPA_URL=http://host:8181`.

The package index has no OPA binary, so by default these tests are skipped (with a message)
and the shared suite (test_decisions.py) runs against the stand-in of fake_opa.py instead.
To run them: `opa run --server --addr 127.0.0.1:8181 &` then
`OPA_URL=http://127.0.0.1:8181 .venv/bin/pytest tests/policy/test_opa_real.py`.
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import pytest

from auditor.policy.engine import EmbeddedEngine, load_bundle
from auditor.policy.opa import OpaEngine
from tests.policy import conftest
from tests.policy.expected import EXPECTED
from tests.policy.helpers import POLICY_DIR, load_example

OPA_URL = conftest.real_opa_url()
pytestmark = pytest.mark.skipif(
    OPA_URL is None, reason="OPA_URL is not set: no real OPA server to test against"
)


@pytest.fixture
def real_opa(no_network: list[str], monkeypatch: pytest.MonkeyPatch) -> OpaEngine:
    """The pack on the real server; the network block is lifted for that one host only."""
    assert OPA_URL is not None
    host = urlsplit(OPA_URL).hostname
    real_getaddrinfo = conftest._REAL_GETADDRINFO

    def getaddrinfo(name: Any, *args: Any, **kwargs: Any) -> Any:
        if name != host:
            raise OSError(f"network access attempted: {name!r}")
        return real_getaddrinfo(name, *args, **kwargs)

    allowed = {info[4][0] for info in real_getaddrinfo(host, None)}

    def connect(self: socket.socket, address: Any) -> Any:
        if address[0] not in allowed:
            raise OSError(f"network access attempted: {address!r}")
        return conftest._REAL_CONNECT(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
        if address[0] != host:
            raise OSError(f"network access attempted: {address!r}")
        return conftest._REAL_CREATE(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    return OpaEngine(load_bundle(POLICY_DIR), OPA_URL, timeout=10)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_on_real_opa(real_opa: OpaEngine, name: str) -> None:
    got = {v.rule_id: (v.severity, v.entity_types) for v in real_opa.evaluate(load_example(name))}
    assert got == EXPECTED[name]


def test_rego_tests_on_real_opa(real_opa: OpaEngine, policy_engine: EmbeddedEngine) -> None:
    results = real_opa.run_tests()
    assert not [f"{r.package}.{r.name}: {r.message}" for r in results if not r.passed]
    assert {(r.package, r.name) for r in results} == {
        (r.package, r.name) for r in policy_engine.run_tests()
    }


def test_catalogue_on_real_opa(real_opa: OpaEngine, policy_engine: EmbeddedEngine) -> None:
    assert real_opa.rules() == policy_engine.rules()
