"""Policy engines: load the Rego policies and their data, evaluate inputs, run the Rego tests.

`PolicyEngine` is the contract every backend implements. `EmbeddedEngine` runs the policies
in-process with regorus, so nothing needs to be running; `auditor.policy.opa.OpaEngine` runs
the same files on an OPA server. `build_engine` picks one from the settings; with
`fail_closed` an engine that cannot be built becomes an `UnavailableEngine`, whose every
evaluation fails, so each interaction is recorded as not evaluated with the reason.
A policy directory holds:

- `**/*.rego`          Rego v1 modules; `*_test.rego` files hold the Rego tests;
- `data/*.json`        policy data, loaded as `data.auditor_data.<file stem>`;
- `examples/*.json`    example input documents, loaded as `data.auditor_examples.<file stem>`
                       for the Rego tests only.

Verdicts come from `data.auditor.main.violations`; the rule catalogue from
`data.auditor.main.rules`, with each rule's frameworks from `data/frameworks.json`.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import regorus

from auditor.config import PolicySettings
from auditor.errors import AuditorError, PolicyError
from auditor.policy.lint import shadowed_builtins

DATA_ROOT = "auditor_data"
EXAMPLES_ROOT = "auditor_examples"
VIOLATIONS_QUERY = "data.auditor.main.violations"
RULES_QUERY = "data.auditor.main.rules"
DUPLICATES_QUERY = "data.auditor.main.duplicate_rule_ids"
RULES_PACKAGE_PREFIX = "data.auditor.rules."
# The aggregator generated for the compiled program (RVM cannot loop over packages).
COMPILED_PACKAGE = "auditor.compiled"
COMPILED_ENTRY = f"data.{COMPILED_PACKAGE}.violations"
# Data documents every pack needs: the rules read all of them.
REQUIRED_DATA = (
    "frameworks",
    "retention",
    "severity_overrides",
    "thresholds",
    "tools",
    "workflows",
)
# The revision recorded when the pack could not even be read.
UNAVAILABLE_REVISION = "unavailable"
# The shipped pack's rules: what `policy.required_rules` defaults to, so a pack that lost one
# (a deleted file, a bad merge, an empty folder) is refused instead of passing what that rule
# would have caught. A test keeps this equal to the shipped pack's catalogue.
SHIPPED_RULE_IDS = frozenset(
    {
        "agent-action-without-approval",
        "ai-for-employee-evaluation",
        "ai-literacy-training-missing",
        "business-communication-not-captured",
        "card-data-outside-pci-scope",
        "client-communication-without-review",
        "client-npi-to-uncontracted-tool",
        "decision-use-on-uninventoried-tool",
        "log-retention-below-floor",
        "mnpi-to-external-ai",
        "personal-account-for-business",
        "sensitive-data-grey-zone",
        "special-category-data-to-external-ai",
        "unapproved-tool",
        "workflow-not-approved-for-tool",
    }
)

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
class FrameworkRef:
    """One requirement of a framework that a rule helps test (from data/frameworks.json)."""

    framework_id: str
    framework: str
    requirement: str
    title: str


@dataclass(frozen=True)
class RuleInfo:
    """A rule's metadata from its Rego package: the catalogue findings and reports use.

    `severity` is after the firm's overrides (data/severity_overrides.json).
    """

    rule_id: str
    severity: str
    title: str
    description: str
    remediation: str
    references: tuple[str, ...]
    frameworks: tuple[FrameworkRef, ...] = ()
    # `monitor: true` in the metadata: `auditor monitor` evaluates it on every interaction.
    monitor: bool = False


@dataclass(frozen=True)
class RuleCatalog:
    """The pack's rules with its revision and the engine the settings choose, for reports."""

    revision: str
    engine: str
    source: str
    rules: tuple[RuleInfo, ...]


@dataclass(frozen=True)
class RegoTestResult:
    """The outcome of one Rego `test_*` rule. `message` says why it failed."""

    name: str
    package: str
    passed: bool
    message: str


@runtime_checkable
class PolicyEngine(Protocol):
    """What every policy backend provides (embedded regorus, an OPA server).

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
    # The revision an OPA bundle's manifest declares; recorded with every decision in place
    # of the computed one when the pack was loaded from a bundle.
    declared_revision: str | None = None

    @property
    def rules_packages(self) -> frozenset[str]:
        """The packages under `auditor.rules` that the non-test modules declare: one per rule."""
        return frozenset(
            m.package
            for m in self.modules
            if not m.is_test and f"data.{m.package}".startswith(RULES_PACKAGE_PREFIX)
        )

    @property
    def revision(self) -> str:
        """The bundle manifest's revision if the pack came from a bundle, else the content
        revision (`content_revision`)."""
        return self.declared_revision or self.content_revision

    @property
    def content_revision(self) -> str:
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
    data = _read_json_folder(directory / "data")
    missing = [name for name in REQUIRED_DATA if name not in data]
    if missing:
        raise PolicyError(
            f"policy data missing in {directory}/data: {', '.join(f'{m}.json' for m in missing)}",
            "every pack needs " + ", ".join(f"{m}.json" for m in REQUIRED_DATA),
        )
    return PolicyBundle(
        modules=tuple(modules),
        data=data,
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

    The pack is parsed once by the interpreter (catalogue, load checks, Rego tests) and, by
    default, compiled once into a regorus RVM program that evaluates each input several
    times faster. The compiled program is used only if it gives exactly the interpreter's
    violations on every example document and on an empty input; otherwise the interpreter
    evaluates (`mode` says which, `compile_note` why). A regorus engine holds the input as
    state and must stay on the thread that made it, so each thread gets its own.
    """

    def __init__(self, bundle: PolicyBundle, *, compiled: bool = True) -> None:
        """Load and check the policies. Raises PolicyError naming the file on any error."""
        self._bundle = bundle
        self._revision = bundle.revision
        self._lock = threading.Lock()
        self._owner = threading.get_ident()
        self._local = threading.local()
        self._engine = self._new_engine(include_tests=False)
        self._rules = self._check()
        self._packages = sorted(
            p for p in self._engine.get_packages() if p.startswith(RULES_PACKAGE_PREFIX)
        )
        self._data_json = json.dumps({DATA_ROOT: dict(self._bundle.data)})
        self._vm: Any = None
        self.compile_note = "compilation switched off (policy.compiled = false)"
        if compiled:
            self._vm, self.compile_note = self._compile_checked()

    @property
    def name(self) -> str:
        return "embedded"

    @property
    def revision(self) -> str:
        return self._revision

    @property
    def bundle(self) -> PolicyBundle:
        return self._bundle

    @property
    def mode(self) -> str:
        """`compiled` (regorus RVM program) or `interpreted`."""
        return "compiled" if self._vm is not None else "interpreted"

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
        return catalogue(
            self._bundle,
            duplicates=duplicates,
            raw_violations=raw_violations,
            raw_rules=raw_rules,
            package_count=len(packages),
        )

    def _compiled_modules(self) -> list[tuple[str, str]]:
        # Every package's deny, named one by one: the generic aggregator's loop over
        # data.auditor.rules[_] is what the RVM compiler cannot hoist.
        aggregator = f"package {COMPILED_PACKAGE}\n" + "".join(
            f"\nviolations contains v if {{\n\tsome v in {pkg}.deny\n}}\n" for pkg in self._packages
        )
        modules = [(m.path, m.text) for m in self._bundle.modules if not m.is_test]
        return [*modules, ("(generated)/compiled.rego", aggregator)]

    def _new_vm(self) -> Any:
        program = regorus.Program.compile_from_modules(
            self._data_json, self._compiled_modules(), [COMPILED_ENTRY]
        )
        vm = regorus.Rvm()
        vm.load_program(program)
        vm.set_data_json(self._data_json)
        return vm

    def _compile_checked(self) -> tuple[Any, str]:
        """The compiled program, if it agrees with the interpreter; else None and why."""
        try:
            vm = self._new_vm()
        except Exception as exc:  # an RVM limitation is not an error of the pack
            return None, f"not compiled: {regorus_error(exc)}"
        for name, doc in [("(empty input)", {}), *sorted(self._bundle.examples.items())]:
            try:
                want = _violations(self._query(self._engine, VIOLATIONS_QUERY, doc))
                got = _violations(self._run_vm(vm, json.dumps(doc, allow_nan=False)))
            except (AuditorError, TypeError, ValueError) as exc:
                return None, f"not compiled: example {name} failed ({exc})"
            if got != want:
                return None, f"not compiled: example {name} gives other violations compiled"
        return vm, f"compiled; agrees with the interpreter on {len(self._bundle.examples)} examples"

    @staticmethod
    def _run_vm(vm: Any, input_json: str) -> Any:
        try:
            vm.set_input_json(input_json)
            return json.loads(vm.execute())
        except RuntimeError as exc:
            raise PolicyError(f"policy evaluation failed at {regorus_error(exc)}") from None

    def rules(self) -> list[RuleInfo]:
        return list(self._rules)

    def evaluate(self, input_doc: Mapping[str, Any]) -> list[Violation]:
        try:
            input_json = json.dumps(input_doc, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise PolicyError(f"policy input is not JSON: {exc}") from None
        try:
            with self._lock:
                if threading.get_ident() == self._owner:
                    vm, engine = self._vm, self._engine
                else:
                    vm, engine = self._thread_local()
                if vm is not None:
                    raw = self._run_vm(vm, input_json)
                else:
                    raw = self._query(engine, VIOLATIONS_QUERY, input_doc)
        except AuditorError:
            raise
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - a Rust panic must fail closed, not crash
            raise PolicyError(f"policy engine failed: {type(exc).__name__}") from None
        return _violations(raw)

    def _thread_local(self) -> tuple[Any, regorus.Engine]:
        local = self._local
        if not hasattr(local, "engine"):
            local.engine = self._new_engine(include_tests=False)
            local.vm = self._new_vm() if self._vm is not None else None
        return local.vm, local.engine

    def run_tests(self) -> list[RegoTestResult]:
        engine = self._new_engine(include_tests=True)
        results = []
        for module in self._bundle.modules:
            if not module.is_test:
                continue
            package = module.package
            for name in rego_test_names(module.text):
                results.append(_run_one(engine, package, name))
        return results


class UnavailableEngine:
    """Stands in for an engine that could not be built: every evaluation fails with the
    reason, so each interaction is recorded as not evaluated (fail closed), never passed."""

    def __init__(self, name: str, revision: str, reason: str) -> None:
        self._name = name
        self._revision = revision
        self.reason = reason

    @property
    def name(self) -> str:
        return self._name

    @property
    def revision(self) -> str:
        return self._revision

    def rules(self) -> list[RuleInfo]:
        return []

    def evaluate(self, input_doc: Mapping[str, Any]) -> list[Violation]:
        raise PolicyError(f"policy engine unavailable: {self.reason}")

    def run_tests(self) -> list[RegoTestResult]:
        raise PolicyError(f"policy engine unavailable: {self.reason}")


def rego_test_names(text: str) -> list[str]:
    """The `test_*` rules of a test module, in order; a rule defined by several bodies is one
    test, as in `opa test`."""
    return list(dict.fromkeys(_TEST_RULE.findall(text)))


def catalogue(
    bundle: PolicyBundle,
    *,
    duplicates: Any,
    raw_violations: Any,
    raw_rules: Any,
    package_count: int,
) -> list[RuleInfo]:
    """The load checks every engine makes on the pack's answers to an empty input, and the
    rule catalogue they give, most severe first. Raises PolicyError on a duplicate rule id,
    a malformed or undefined aggregator, a rules package without metadata, or a name that
    shadows an OPA built-in (which OPA refuses even where another engine accepts it)."""
    shadowing = shadowed_builtins([(m.path, m.text) for m in bundle.modules if not m.is_test])
    if shadowing:
        raise PolicyError(
            f"{shadowing[0]} (the pack would not load on OPA)",
            f"rename it in {bundle.source}/{shadowing[0].path}",
        )
    if duplicates:
        raise PolicyError(
            f"rule ids defined in more than one package: {', '.join(sorted(duplicates))}",
            "give every rules package its own metadata.id",
        )
    _violations(raw_violations)
    frameworks = frameworks_by_rule(bundle.data.get("frameworks") or {})
    rules = [_rule_info(raw, frameworks) for raw in raw_rules or []]
    if len(rules) != package_count:
        raise PolicyError(
            f"{package_count} rules packages but {len(rules)} metadata objects",
            "every package under auditor.rules needs a `metadata` object",
        )
    if not rules:
        # An empty pack would pass every interaction: fail closed instead.
        raise PolicyError(
            f"the policy pack in {bundle.source} defines no rules (no package under auditor.rules)",
            "restore policies/auditor/rules/ or point policy.directory at a complete pack",
        )
    return sorted(rules, key=lambda r: (SEVERITY_RANK[r.severity], r.rule_id))


def check_required_rules(engine: PolicyEngine, required: Collection[str] | None) -> None:
    """Refuse a pack that lacks a rule the configuration requires (`policy.required_rules`;
    None: the shipped pack's rules). Raises PolicyError naming the missing rule ids."""
    wanted = SHIPPED_RULE_IDS if required is None else frozenset(required)
    missing = sorted(wanted - {rule.rule_id for rule in engine.rules()})
    if missing:
        raise PolicyError(
            f"the policy pack lacks {len(missing)} required rule(s): {', '.join(missing)}",
            "restore them, or list the rules your pack must have in policy.required_rules",
        )


def frameworks_by_rule(frameworks: Mapping[str, Any]) -> dict[str, list[FrameworkRef]]:
    """Reverse index of data/frameworks.json: rule id -> the requirements it serves."""
    index: dict[str, list[FrameworkRef]] = {}
    for framework_id, framework in sorted(frameworks.items()):
        requirements = framework.get("requirements") or {}
        for requirement, entry in sorted(requirements.items()):
            ref = FrameworkRef(
                framework_id=framework_id,
                framework=str(framework.get("name", framework_id)),
                requirement=requirement,
                title=str(entry.get("title", "")),
            )
            for rule_id in entry.get("rules") or []:
                index.setdefault(str(rule_id), []).append(ref)
    return index


def _run_one(engine: regorus.Engine, package: str, name: str) -> RegoTestResult:
    try:
        engine.set_input_json("{}")
        defined, value = _first_value(engine.eval_query_as_json(f"data.{package}.{name}"))
    except RuntimeError as exc:
        error: str | None = regorus_error(exc)
        defined, value = False, None
    else:
        error = None
    prints = [str(line) for line in engine.take_prints()]
    return rego_test_result(package, name, defined, value, error=error, prints=prints)


def rego_test_result(
    package: str,
    name: str,
    defined: bool,
    value: Any,
    *,
    error: str | None = None,
    prints: Sequence[str] = (),
) -> RegoTestResult:
    """A Rego test's outcome as every engine reports it: passed when the `test_*` rule is
    true; else why (the error, or the value, or a condition that did not hold) and, like
    `opa test`, what the test printed, but only when it fails."""
    if error is None and value is True:
        return RegoTestResult(name, package, True, "passed")
    if error is not None:
        message = f"error: {error}"
    elif defined:
        message = f"failed: evaluated to {json.dumps(value)}"
    else:
        message = "failed: a condition in the test did not hold"
    if prints:
        message += "; printed: " + " | ".join(prints)
    return RegoTestResult(name, package, False, message)


def _rule_info(raw: Any, frameworks: Mapping[str, list[FrameworkRef]]) -> RuleInfo:
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
        frameworks=tuple(frameworks.get(rule_id, ())),
        monitor=raw.get("monitor") is True,
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


def load_pack(settings: PolicySettings) -> PolicyBundle:
    """The configured pack: the OPA bundle `policy.source` if set (its signature verified
    against `policy.bundle_public_key`; without a key only if `allow_unsigned_bundle`), else
    the directory `policy.directory`. Raises PolicyError naming the file and the reason."""
    if settings.source is None:
        bundle = load_bundle(settings.directory)
        if settings.tools is None:
            return bundle
        tools = merge_firm_tools(bundle.data.get("tools"), settings.tools)
        return replace(bundle, data={**bundle.data, "tools": tools})
    if settings.tools is not None:
        raise PolicyError(
            f"policy.tools ({settings.tools}) is set with policy.source ({settings.source}): "
            "a bundle carries its own tool registry",
            "`auditor policy bundle` writes policy.tools into the bundle it builds; load that "
            "bundle without policy.tools",
        )
    from auditor.policy.bundle import read_bundle

    if settings.bundle_public_key is None and settings.bundle_key_id is not None:
        raise PolicyError(
            f"policy bundle {settings.source}: policy.bundle_key_id is set but no "
            "policy.bundle_public_key to check it with",
            "configure the signer's public key",
        )
    if settings.bundle_public_key is None and not settings.allow_unsigned_bundle:
        raise PolicyError(
            f"policy bundle {settings.source}: no policy.bundle_public_key to verify it with",
            "configure the signer's public key (or set policy.allow_unsigned_bundle = true)",
        )
    return read_bundle(
        settings.source, public_key=settings.bundle_public_key, key_id=settings.bundle_key_id
    )


TOOL_KEYS = frozenset({"approval_status", "approved_workflows"})


def merge_firm_tools(pack_tools: Any, path: Path) -> dict[str, Any]:
    """The pack's tool registry with the firm's own (`policy.tools`, JSON shaped as
    data/tools.json) laid over it: its tools added, an id the pack has replaced whole.
    Raises PolicyError naming the file and the tool when it cannot be used."""
    hint = (
        'write a JSON object of tools: {"tool-id": {"name": ..., "approval_status": '
        '"approved", "destination": ..., "approved_workflows": [...]}} (see data/tools.json)'
    )
    try:
        firm = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"policy.tools: the tool registry {path} does not exist", hint) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PolicyError(
            f"policy.tools: the tool registry {path} is not JSON: {exc}", hint
        ) from None
    if not isinstance(firm, dict):
        raise PolicyError(f"policy.tools: {path} is not a JSON object of tools", hint)
    for tool, entry in firm.items():
        missing = sorted(TOOL_KEYS - set(entry)) if isinstance(entry, dict) else sorted(TOOL_KEYS)
        flows = entry.get("approved_workflows") if isinstance(entry, dict) else None
        if missing or not isinstance(flows, list):
            raise PolicyError(
                f"policy.tools: tool {tool!r} in {path} lacks "
                + (", ".join(missing) if missing else "a list of approved_workflows"),
                hint,
            )
    return {**(pack_tools if isinstance(pack_tools, dict) else {}), **firm}


def build_engine(settings: PolicySettings, *, fail_closed: bool = False) -> PolicyEngine:
    """The policy engine the settings choose, holding every rule the configuration requires,
    each evaluation within `policy.timeout_seconds` (engines without a limit of their own
    evaluate in a child process: `auditor.policy.guard`).

    Raises PolicyError if it cannot be built; with `fail_closed`, returns an
    UnavailableEngine carrying the reason instead, so an audit run records every
    interaction as not evaluated rather than stopping or passing anything.
    """
    from auditor.policy.guard import GuardedEngine, needs_guard

    try:
        engine = build_unguarded(settings)
    except PolicyError as exc:
        if not fail_closed:
            raise
        try:
            revision = load_pack(settings).revision
        except PolicyError:
            revision = UNAVAILABLE_REVISION
        return UnavailableEngine(settings.engine, revision, str(exc))
    if needs_guard(engine):
        return GuardedEngine(engine, settings, settings.timeout_seconds)
    return engine


def build_unguarded(settings: PolicySettings) -> PolicyEngine:
    """The engine the settings choose, in this process, checked for required rules.
    Raises PolicyError if the pack cannot be read or loaded, or lacks a required rule."""
    bundle = load_pack(settings)
    engine: PolicyEngine
    if settings.engine == "opa-go":
        from auditor.policy.opa_go import OpaGoEngine

        engine = OpaGoEngine(bundle)
    elif settings.engine == "opa":
        from auditor.policy.opa import OpaEngine

        token = settings.opa_token.get_secret_value() if settings.opa_token else None
        engine = OpaEngine(bundle, settings.opa_url, timeout=settings.timeout_seconds, token=token)
    else:
        engine = EmbeddedEngine(bundle, compiled=settings.compiled)
    check_required_rules(engine, settings.required_rules)
    return engine


def rule_catalog(settings: PolicySettings) -> RuleCatalog:
    """The rule catalogue of the configured pack: each rule's id, severity (after overrides),
    title, description, remediation, references and framework requirements, with the pack's
    revision and the configured engine's name. Read with the embedded interpreter, so it
    needs no server. Raises PolicyError if the pack cannot be loaded."""
    bundle = load_pack(settings)
    engine = EmbeddedEngine(bundle, compiled=False)
    return RuleCatalog(
        revision=bundle.revision,
        engine=settings.engine,
        source=bundle.source,
        rules=tuple(engine.rules()),
    )
