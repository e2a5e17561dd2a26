"""Policy engines: load the Rego policies and their data, evaluate inputs, run the Rego tests.

`PolicyEngine` is the contract every backend implements; `EmbeddedEngine` runs the policies
in-process with regorus, so nothing needs to be running. A policy directory holds:

- `**/*.rego`          Rego v1 modules; `*_test.rego` files hold the Rego tests;
- `data/*.json`        policy data, loaded as `data.auditor_data.<file stem>`;
- `examples/*.json`    example input documents, loaded as `data.auditor_examples.<file stem>`
                       for the Rego tests only.

Verdicts come from `data.auditor.main.violations`; the rule catalogue from
`data.auditor.main.rules`.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import regorus

from auditor.config import PolicySettings
from auditor.errors import PolicyError

DATA_ROOT = "auditor_data"
EXAMPLES_ROOT = "auditor_examples"
VIOLATIONS_QUERY = "data.auditor.main.violations"
RULES_QUERY = "data.auditor.main.rules"
DUPLICATES_QUERY = "data.auditor.main.duplicate_rule_ids"
RULES_PACKAGE_PREFIX = "data.auditor.rules."

SEVERITIES = ("critical", "high", "medium", "low")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
RULE_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
VIOLATION_KEYS = frozenset(
    {"rule_id", "severity", "title", "message", "remediation", "references", "entity_types"}
)
METADATA_KEYS = ("id", "severity", "title", "description", "remediation", "references")

_PACKAGE_LINE = re.compile(r"^package\s+([A-Za-z_][\w.]*)\s*$", re.MULTILINE)
_TEST_RULE = re.compile(r"^(test_\w+)\b", re.MULTILINE)
_LOCATION = re.compile(r"-->\s*(\S+?):(\d+):(\d+)")
_ERROR_LINE = re.compile(r"^error:\s*(.+)$", re.MULTILINE)


@dataclass(frozen=True)
class Violation:
    """One rule broken by one interaction, as the policies reported it."""

    rule_id: str
    severity: str
    title: str
    message: str
    remediation: str
    references: tuple[str, ...]
    entity_types: tuple[str, ...]


@dataclass(frozen=True)
class RuleInfo:
    """A rule's metadata from its Rego package: the catalogue findings and reports use."""

    rule_id: str
    severity: str
    title: str
    description: str
    remediation: str
    references: tuple[str, ...]


@dataclass(frozen=True)
class RegoTestResult:
    """The outcome of one Rego `test_*` rule. `message` says why it failed."""

    name: str
    package: str
    passed: bool
    message: str


@runtime_checkable
class PolicyEngine(Protocol):
    """What every policy backend provides (embedded regorus now, an OPA server later).

    Runtime-checkable so a test can confirm a backend has every member; `isinstance` checks
    names only, not signatures.
    """

    @property
    def name(self) -> str:
        """Short engine name recorded on each decision, e.g. `embedded`."""
        ...

    @property
    def revision(self) -> str:
        """SHA-256 over the policy modules and data that decide verdicts."""
        ...

    def rules(self) -> list[RuleInfo]:
        """The rule catalogue (one entry per rules package), most severe first."""
        ...

    def evaluate(self, input_doc: Mapping[str, Any]) -> list[Violation]:
        """The violations `input_doc` produces, most severe first, in a stable order.
        Raises PolicyError if the input is not JSON or the policies fail on it."""
        ...

    def run_tests(self) -> list[RegoTestResult]:
        """Run every Rego test against the example inputs. Raises PolicyError if tests
        cannot be loaded."""
        ...


@dataclass(frozen=True)
class PolicyModule:
    """One Rego file: its path relative to the policy directory and its text."""

    path: str
    text: str

    @property
    def is_test(self) -> bool:
        return self.path.endswith("_test.rego")

    @property
    def package(self) -> str:
        match = _PACKAGE_LINE.search(self.text)
        return match.group(1) if match else ""


@dataclass(frozen=True)
class PolicyBundle:
    """Everything a backend needs, read from a policy directory (or built in a test)."""

    modules: tuple[PolicyModule, ...]
    data: Mapping[str, Any]
    examples: Mapping[str, Any]
    source: str = "(memory)"

    @property
    def revision(self) -> str:
        """SHA-256 over the non-test modules and the data, in path order.

        Tests and examples are left out: editing them does not change any verdict, so it
        must not make every interaction look unevaluated.
        """
        digest = hashlib.sha256()
        items = [(m.path, m.text.encode()) for m in self.modules if not m.is_test]
        items += [
            (f"data/{key}.json", json.dumps(value, sort_keys=True).encode())
            for key, value in self.data.items()
        ]
        for path, content in sorted(items):
            digest.update(path.encode() + b"\0" + hashlib.sha256(content).digest())
        return digest.hexdigest()


def load_bundle(directory: Path) -> PolicyBundle:
    """Read a policy directory. Raises PolicyError naming the file that cannot be read."""
    if not directory.is_dir():
        raise PolicyError(
            f"policy directory {directory} does not exist",
            "set policy.directory to the folder holding the .rego files",
        )
    modules = []
    for path in sorted(
        directory.rglob("*.rego"), key=lambda p: p.relative_to(directory).as_posix()
    ):
        rel = path.relative_to(directory).as_posix()
        try:
            modules.append(PolicyModule(rel, path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"cannot read policy file {path}: {exc}") from None
    if not any(not m.is_test for m in modules):
        raise PolicyError(
            f"policy directory {directory} holds no .rego policies",
            "point policy.directory at the project's policies/ folder",
        )
    return PolicyBundle(
        modules=tuple(modules),
        data=_read_json_folder(directory / "data"),
        examples=_read_json_folder(directory / "examples"),
        source=str(directory),
    )


def _read_json_folder(folder: Path) -> dict[str, Any]:
    documents: dict[str, Any] = {}
    if not folder.is_dir():
        return documents
    for path in sorted(folder.glob("*.json")):
        try:
            documents[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PolicyError(f"policy data file {path} is not valid JSON: {exc}") from None
    return documents


def regorus_error(exc: Exception) -> str:
    """regorus' error as one line, `file:line:col: reason`, without the Rust backtrace."""
    text = str(exc).split("Stack backtrace:")[0]
    reason_match = _ERROR_LINE.search(text)
    reason = reason_match.group(1).strip() if reason_match else " ".join(text.split())
    location = _LOCATION.search(text)
    if location:
        return f"{location.group(1)}:{location.group(2)}:{location.group(3)}: {reason}"
    return reason or type(exc).__name__


def _first_value(result_json: str) -> tuple[bool, Any]:
    """(defined, value) of the first expression of an `eval_query_as_json` result."""
    results = json.loads(result_json).get("result") or []
    if not results:
        return False, None
    expressions = results[0].get("expressions") or []
    if not expressions:
        return False, None
    return True, expressions[0].get("value")


class EmbeddedEngine:
    """Evaluates the policies in-process with regorus (Rego v1).

    Policies are parsed once; each evaluation sets the input and queries the aggregator on
    the loaded engine under a lock, because a regorus engine holds the input as state.
    """

    def __init__(self, bundle: PolicyBundle) -> None:
        """Load and check the policies. Raises PolicyError naming the file on any error."""
        self._bundle = bundle
        self._revision = bundle.revision
        self._lock = threading.Lock()
        self._engine = self._new_engine(include_tests=False)
        self._rules = self._check()

    @property
    def name(self) -> str:
        return "embedded"

    @property
    def revision(self) -> str:
        return self._revision

    @property
    def bundle(self) -> PolicyBundle:
        return self._bundle

    def _new_engine(self, *, include_tests: bool) -> regorus.Engine:
        engine = regorus.Engine()
        engine.set_rego_v0(False)
        engine.set_gather_prints(True)  # `print` in a policy must not write to our stderr
        for module in self._bundle.modules:
            if module.is_test and not include_tests:
                continue
            try:
                engine.add_policy(module.path, module.text)
            except RuntimeError as exc:
                raise PolicyError(
                    f"policy file {module.path} does not parse: {regorus_error(exc)}",
                    f"fix the Rego in {self._bundle.source}/{module.path}",
                ) from None
        data: dict[str, Any] = {DATA_ROOT: dict(self._bundle.data)}
        if include_tests:
            data[EXAMPLES_ROOT] = dict(self._bundle.examples)
        engine.add_data_json(json.dumps(data))
        return engine

    def _query(self, engine: regorus.Engine, query: str, input_doc: Mapping[str, Any]) -> Any:
        try:
            engine.set_input_json(json.dumps(input_doc, allow_nan=False))
            _defined, value = _first_value(engine.eval_query_as_json(query))
            engine.take_prints()  # gathered, then dropped: keeps memory flat over a long run
        except (TypeError, ValueError) as exc:
            raise PolicyError(f"policy input is not JSON: {exc}") from None
        except RuntimeError as exc:
            raise PolicyError(f"policy evaluation failed at {regorus_error(exc)}") from None
        return value

    def _check(self) -> list[RuleInfo]:
        """Evaluate once on an empty input so errors show at load, and read the catalogue."""
        with self._lock:
            raw_violations = self._query(self._engine, VIOLATIONS_QUERY, {})
            raw_rules = self._query(self._engine, RULES_QUERY, {})
            duplicates = self._query(self._engine, DUPLICATES_QUERY, {})
            packages = [
                p for p in self._engine.get_packages() if p.startswith(RULES_PACKAGE_PREFIX)
            ]
        if duplicates:
            raise PolicyError(
                f"rule ids defined in more than one package: {', '.join(sorted(duplicates))}",
                "give every rules package its own metadata.id",
            )
        _violations(raw_violations)
        rules = [_rule_info(raw) for raw in raw_rules or []]
        if len(rules) != len(packages):
            raise PolicyError(
                f"{len(packages)} rules packages but {len(rules)} metadata objects",
                "every package under auditor.rules needs a `metadata` object",
            )
        return sorted(rules, key=lambda r: (SEVERITY_RANK[r.severity], r.rule_id))

    def rules(self) -> list[RuleInfo]:
        return list(self._rules)

    def evaluate(self, input_doc: Mapping[str, Any]) -> list[Violation]:
        with self._lock:
            raw = self._query(self._engine, VIOLATIONS_QUERY, input_doc)
        return _violations(raw)

    def run_tests(self) -> list[RegoTestResult]:
        engine = self._new_engine(include_tests=True)
        results = []
        for module in self._bundle.modules:
            if not module.is_test:
                continue
            package = module.package
            # A rule defined by several bodies is one test, as in `opa test`.
            for name in dict.fromkeys(_TEST_RULE.findall(module.text)):
                results.append(_run_one(engine, package, name))
        return results


def _run_one(engine: regorus.Engine, package: str, name: str) -> RegoTestResult:
    try:
        engine.set_input_json("{}")
        defined, value = _first_value(engine.eval_query_as_json(f"data.{package}.{name}"))
    except RuntimeError as exc:
        message = f"error: {regorus_error(exc)}"
    else:
        if value is True:
            engine.take_prints()
            return RegoTestResult(name, package, True, "passed")
        message = (
            f"failed: evaluated to {json.dumps(value)}"
            if defined
            else "failed: a condition in the test did not hold"
        )
    # Like `opa test`, show what the test printed, but only when it fails.
    prints = [str(line) for line in engine.take_prints()]
    if prints:
        message += "; printed: " + " | ".join(prints)
    return RegoTestResult(name, package, False, message)


def _rule_info(raw: Any) -> RuleInfo:
    if not isinstance(raw, dict) or any(key not in raw for key in METADATA_KEYS):
        rule = raw.get("id", "?") if isinstance(raw, dict) else "?"
        raise PolicyError(
            f"rule {rule} has incomplete metadata",
            f"a rules package's metadata needs {', '.join(METADATA_KEYS)}",
        )
    rule_id = str(raw["id"])
    if not RULE_ID.match(rule_id):
        raise PolicyError(f"rule id {rule_id!r} is not lower-case words joined by hyphens")
    if raw["severity"] not in SEVERITY_RANK:
        raise PolicyError(f"rule {rule_id} has unknown severity {raw['severity']!r}")
    return RuleInfo(
        rule_id=rule_id,
        severity=raw["severity"],
        title=str(raw["title"]),
        description=str(raw["description"]),
        remediation=str(raw["remediation"]),
        references=tuple(str(r) for r in raw["references"]),
    )


def _violations(raw: Any) -> list[Violation]:
    """Parse the aggregator's result, most severe first, in a stable order."""
    if raw is None:
        raise PolicyError(
            f"{VIOLATIONS_QUERY} is undefined", "keep the aggregator in auditor/main.rego"
        )
    if not isinstance(raw, list):
        raise PolicyError(f"{VIOLATIONS_QUERY} is not a set of violation objects")
    violations = [_violation(item) for item in raw]
    return sorted(
        violations,
        key=lambda v: (SEVERITY_RANK[v.severity], v.rule_id, v.entity_types, v.message),
    )


def _violation(raw: Any) -> Violation:
    if not isinstance(raw, dict) or set(raw) != VIOLATION_KEYS:
        rule = raw.get("rule_id", "?") if isinstance(raw, dict) else "?"
        raise PolicyError(
            f"rule {rule} returned a malformed violation",
            "build violations with data.auditor.lib.violation",
        )
    if raw["severity"] not in SEVERITY_RANK:
        raise PolicyError(f"rule {raw['rule_id']} returned unknown severity {raw['severity']!r}")
    return Violation(
        rule_id=str(raw["rule_id"]),
        severity=raw["severity"],
        title=str(raw["title"]),
        message=str(raw["message"]),
        remediation=str(raw["remediation"]),
        references=tuple(str(r) for r in raw["references"]),
        entity_types=tuple(sorted(str(t) for t in raw["entity_types"])),
    )


def build_engine(settings: PolicySettings) -> PolicyEngine:
    """The policy engine the settings choose. Raises PolicyError if it cannot be built."""
    if settings.engine == "embedded":
        return EmbeddedEngine(load_bundle(settings.directory))
    raise PolicyError(
        f"policy.engine = {settings.engine} is not yet supported",
        "use engine = embedded",
    )
