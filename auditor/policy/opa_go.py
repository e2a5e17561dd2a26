"""OPA's own evaluator in-process: the pack on `github.com/open-policy-agent/opa/v1/rego`.

`OpaGoEngine` runs the same pack as the embedded regorus engine on OPA's Go engine, through
the `opa-golib-python-bindings` package (imported as `opa_bindings`: OPA compiled into a
shared library behind a ctypes wrapper). It exists so that the pack is proven to compile and
decide the same on the engine a bank's OPA servers run; `auditor policy test --engine opa-go`
runs the Rego tests on it, `--coverage` reads OPA's own coverage report.

The package declares `Requires-Python >=3.14` although its wrapper is plain ctypes that works
on 3.11, so pip will not install it as a dependency; `make test` installs it with
`--no-deps --ignore-requires-python` at the version pinned here (`BINDINGS_VERSION`). The OPA
version inside is read from the library's Go build information (`opa_version`), so a test can
refuse bindings that carry another OPA than the one the suite was proven on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from auditor.errors import PolicyError
from auditor.policy.engine import (
    DATA_ROOT,
    DUPLICATES_QUERY,
    EXAMPLES_ROOT,
    RULES_QUERY,
    VIOLATIONS_QUERY,
    PolicyBundle,
    RegoTestResult,
    RuleInfo,
    Violation,
    catalogue,
    rego_test_names,
    rego_test_result,
)

DISTRIBUTION = "opa-golib-python-bindings"
BINDINGS_VERSION = "0.4.4"
# The OPA release compiled into BINDINGS_VERSION; the suite was proven on it.
OPA_VERSION = "v1.20.2"
INSTALL_HINT = (
    f"install OPA's evaluator: .venv/bin/pip install --no-deps --ignore-requires-python "
    f"{DISTRIBUTION}=={BINDINGS_VERSION} (make test does)"
)
MESSAGE_MAX = 300
# `dep\tgithub.com/open-policy-agent/opa\tv1.20.2\th1:…` in the Go build information.
_OPA_DEP = re.compile(rb"\tgithub\.com/open-policy-agent/opa\t(v[0-9][0-9A-Za-z.+-]*)\t")
_LOCATED = re.compile(r"(?P<file>[^\s:]+\.rego):(?P<row>\d+): (?P<reason>[^\n]+)")


def _bindings() -> Any:
    try:
        import opa_bindings
    except ImportError:
        raise PolicyError("OPA's Go evaluator is not installed", INSTALL_HINT) from None
    except OSError as exc:  # the shared library is there but does not load on this machine
        raise PolicyError(f"OPA's Go evaluator does not load: {exc}", INSTALL_HINT) from None
    return opa_bindings


def available() -> bool:
    """Whether the OPA-Go bindings can be imported here."""
    try:
        _bindings()
    except PolicyError:
        return False
    return True


def bindings_version() -> str | None:
    """The installed opa-golib-python-bindings version, or None if it is not installed."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None


def opa_version() -> str:
    """The OPA module version the bindings' shared library was built with, e.g. `v1.20.2`,
    read from its Go build information. Raises PolicyError if it cannot be read."""
    module = _bindings()
    library = Path(module.__file__).parent / "libopabridge.so"
    try:
        match = _OPA_DEP.search(library.read_bytes())
    except OSError as exc:
        raise PolicyError(f"cannot read {library}: {exc}") from None
    if match is None:
        raise PolicyError(f"{library} names no OPA version in its Go build information")
    return match.group(1).decode()


def opa_error(exc: Exception) -> str:
    """OPA's error as one line: the first `file:row: reason`, else the first line."""
    text = str(getattr(exc, "message", "") or exc)
    located = _LOCATED.search(text)
    if located:
        line = f"{located['file']}:{located['row']}: {located['reason'].strip()}"
    else:
        line = " ".join(text.split("\n", 1)[0].split())
    return line[:MESSAGE_MAX]


@dataclass
class FileCoverage:
    """Lines of one Rego file that some test evaluated, and lines no test reached."""

    path: str
    covered: set[int] = field(default_factory=set)
    not_covered: set[int] = field(default_factory=set)

    @property
    def percent(self) -> float:
        total = len(self.covered) + len(self.not_covered)
        return 100.0 * len(self.covered) / total if total else 100.0


@dataclass(frozen=True)
class CoverageReport:
    """OPA's coverage over a whole test run, per policy file (test files left out), as
    `opa test --coverage` aggregates it: a line is covered if any test evaluated it."""

    files: tuple[FileCoverage, ...]

    @property
    def covered_lines(self) -> int:
        return sum(len(f.covered) for f in self.files)

    @property
    def not_covered_lines(self) -> int:
        return sum(len(f.not_covered) for f in self.files)

    @property
    def percent(self) -> float:
        total = self.covered_lines + self.not_covered_lines
        return 100.0 * self.covered_lines / total if total else 100.0


class OpaGoEngine:
    """Evaluates the pack with OPA's own Go evaluator, in-process.

    Raises PolicyError from the constructor if the bindings are missing, or OPA refuses the
    pack (naming the file and line, as OPA reports it), or the pack fails its load checks.
    The bindings serialise evaluations on one engine, so it may be shared between threads.
    """

    def __init__(self, bundle: PolicyBundle) -> None:
        self._bundle = bundle
        self._revision = bundle.revision
        self._module = _bindings()
        self._engine = self._new_engine(include_tests=False)
        self._rules = self._check()

    @property
    def name(self) -> str:
        return "opa-go"

    @property
    def revision(self) -> str:
        return self._revision

    @property
    def bundle(self) -> PolicyBundle:
        return self._bundle

    def _new_engine(self, *, include_tests: bool) -> Any:
        engine = self._module.OpaEngine()
        engine.print_handler = lambda message, location: None  # never to our stderr
        for module in self._bundle.modules:
            if module.is_test and not include_tests:
                continue
            try:
                engine.add_policy(module.path, module.text)
            except self._module.OpaError as exc:
                raise PolicyError(
                    f"policy file {module.path} refused by OPA: {opa_error(exc)}",
                    f"fix the Rego in {self._bundle.source}/{module.path}",
                ) from None
        engine.add_data(dict(self._bundle.data), path=DATA_ROOT)
        if include_tests:
            engine.add_data(dict(self._bundle.examples), path=EXAMPLES_ROOT)
        return engine

    def _document(
        self, engine: Any, query: str, input_doc: Mapping[str, Any], *, coverage: bool = False
    ) -> tuple[bool, Any]:
        """(defined, value) of `query` (a `data.…` reference) for `input_doc`."""
        path = query.removeprefix("data.")
        try:
            return True, engine.eval_document(path, dict(input_doc), coverage=coverage)
        except self._module.OpaUndefinedError:
            return False, None
        except self._module.OpaError as exc:
            if exc.code == "prepare_error":
                raise PolicyError(
                    f"policy pack refused by OPA: {opa_error(exc)}",
                    f"fix the Rego in {self._bundle.source}",
                ) from None
            raise PolicyError(f"policy evaluation failed at {opa_error(exc)}") from None

    def _check(self) -> list[RuleInfo]:
        """Evaluate once on an empty input (OPA compiles the pack here) and read the
        catalogue, with the same checks as the embedded engine."""
        _defined, duplicates = self._document(self._engine, DUPLICATES_QUERY, {})
        defined, raw_violations = self._document(self._engine, VIOLATIONS_QUERY, {})
        _defined, raw_rules = self._document(self._engine, RULES_QUERY, {})
        return catalogue(
            self._bundle,
            duplicates=duplicates,
            raw_violations=raw_violations if defined else None,
            raw_rules=raw_rules,
            package_count=len(self._bundle.rules_packages),
        )

    def rules(self) -> list[RuleInfo]:
        return list(self._rules)

    def evaluate(self, input_doc: Mapping[str, Any]) -> list[Violation]:
        from auditor.policy.engine import _violations

        try:
            json.dumps(input_doc, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise PolicyError(f"policy input is not JSON: {exc}") from None
        _defined, raw = self._document(self._engine, VIOLATIONS_QUERY, input_doc)
        return _violations(raw)

    def run_tests(self) -> list[RegoTestResult]:
        return self.run_tests_with_coverage(coverage=False)[0]

    def run_tests_with_coverage(
        self, *, coverage: bool = True
    ) -> tuple[list[RegoTestResult], CoverageReport | None]:
        """Run every Rego test as `opa test` would; with `coverage`, also OPA's coverage of
        the policy files over the whole run. Raises PolicyError if the tests do not load."""
        engine = self._new_engine(include_tests=True)
        results = []
        files: dict[str, FileCoverage] = {}
        for module in self._bundle.modules:
            if not module.is_test:
                continue
            for name in rego_test_names(module.text):
                results.append(self._run_one(engine, module.package, name, coverage))
                if coverage:
                    _merge_coverage(files, engine.last_coverage)
        if not coverage:
            return results, None
        policy_files = {m.path for m in self._bundle.modules if not m.is_test}
        for path in policy_files - set(files):
            files[path] = FileCoverage(path)  # loaded but never evaluated by any test
        for entry in files.values():
            entry.not_covered -= entry.covered
        report = CoverageReport(
            tuple(files[path] for path in sorted(files) if path in policy_files)
        )
        return results, report

    def _run_one(self, engine: Any, package: str, name: str, coverage: bool) -> RegoTestResult:
        prints: list[str] = []
        engine.print_handler = lambda message, location: prints.append(f"{location}: {message}")
        try:
            defined, value = self._document(engine, f"{package}.{name}", {}, coverage=coverage)
        except PolicyError as exc:
            return rego_test_result(package, name, False, None, error=exc.message, prints=prints)
        return rego_test_result(package, name, defined, value, prints=prints)


def _merge_coverage(files: dict[str, FileCoverage], report: Any) -> None:
    """Add one evaluation's coverage report (OPA's shape) to the running per-file sets."""
    if not isinstance(report, dict):
        return
    for path, entry in (report.get("files") or {}).items():
        target = files.setdefault(path, FileCoverage(path))
        target.covered |= _rows(entry.get("covered"))
        target.not_covered |= _rows(entry.get("not_covered"))


def _rows(ranges: Any) -> set[int]:
    rows: set[int] = set()
    for item in ranges or []:
        start = int(item["start"]["row"])
        end = int(item["end"]["row"])
        rows.update(range(start, end + 1))
    return rows
