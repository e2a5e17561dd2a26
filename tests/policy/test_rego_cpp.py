"""A third implementation: Microsoft's rego-cpp (PyPI `regopy`) decides the same as regorus
and OPA's Go evaluator on every example input and on generated ones.

rego-cpp 1.5.2 runs in a child process (tests/policy/rego_cpp_child.py): it prints its
diagnostics on stdout and can crash on constructs it does not support. What it does not
support, found here and kept out of the pack (the README's policy section has the detail):

- `some k, v in x` inside a set or array comprehension: its parser reads the comma as a
  separator of set elements ("Invalid collection"). The pack looks types up instead.
- `sprintf` with several arguments quotes a computed string argument, which makes its
  output invalid JSON; the grey-zone message is built with `concat`.
- `with input as …` in the Rego tests fails to compile, so the Rego tests themselves run on
  regorus and OPA only.

A decision here is the violations as JSON, or "error" when the engine failed on the input.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from auditor.policy.engine import EmbeddedEngine, Violation
from auditor.policy.opa_go import OpaGoEngine
from tests.policy.helpers import POLICY_DIR, example_names, load_example
from tests.policy.test_differential import decide, documents

CHILD = Path(__file__).with_name("rego_cpp_child.py")
GENERATED_INPUTS = 2_000

if importlib.util.find_spec("regopy") is None:  # pragma: no cover - installed by make test
    reason = "rego-cpp (regopy) is not installed: pip install -e '.[test]'"
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason, allow_module_level=True)


class RegoCpp:
    """rego-cpp with the pack loaded, in a child process that answers one input at a time."""

    def __init__(self, pack: Path) -> None:
        self._child = subprocess.Popen(
            [sys.executable, str(CHILD)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        loaded = self._ask(str(pack))
        assert loaded == {"loaded": True}, loaded

    def _ask(self, doc: object) -> Any:
        assert self._child.stdin and self._child.stdout
        self._child.stdin.write(json.dumps(doc) + "\n")
        self._child.stdin.flush()
        line = self._child.stdout.readline()
        assert line, f"rego-cpp crashed (exit {self._child.wait(timeout=10)}) on {json.dumps(doc)}"
        return json.loads(line)

    def decide(self, doc: dict[str, Any]) -> object:
        return _canonical(self._ask(doc))

    def close(self) -> None:
        if self._child.stdin:
            self._child.stdin.close()
        self._child.wait(timeout=10)


@pytest.fixture(scope="module")
def rego_cpp() -> Iterator[RegoCpp]:
    engine = RegoCpp(POLICY_DIR)
    yield engine
    engine.close()


def _canonical(result: object) -> object:
    if isinstance(result, dict) and "error" in result:
        return "error"
    assert isinstance(result, list), result
    return sorted(json.dumps(v, sort_keys=True) for v in result)


def reference(engine: EmbeddedEngine | OpaGoEngine, doc: dict[str, Any]) -> object:
    decision = decide(engine, doc)
    if decision == "error":
        return "error"
    assert isinstance(decision, list)
    return sorted(json.dumps(_as_json(v), sort_keys=True) for v in decision)


def _as_json(violation: Violation) -> dict[str, Any]:
    doc = dataclasses.asdict(violation)
    doc["references"] = list(violation.references)
    doc["entity_types"] = list(violation.entity_types)
    return doc


def test_rego_cpp_loads_the_pack_and_agrees_on_every_example(
    rego_cpp: RegoCpp, policy_engine: EmbeddedEngine, opa_go_engine: OpaGoEngine
) -> None:
    for name in example_names():
        doc = load_example(name)
        want = reference(policy_engine, doc)
        assert reference(opa_go_engine, doc) == want, name
        assert rego_cpp.decide(doc) == want, name


@settings(
    max_examples=GENERATED_INPUTS,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(doc=documents)
def test_rego_cpp_agrees_on_generated_inputs(
    rego_cpp: RegoCpp, policy_engine: EmbeddedEngine, doc: dict[str, Any]
) -> None:
    assert rego_cpp.decide(doc) == reference(policy_engine, doc)
