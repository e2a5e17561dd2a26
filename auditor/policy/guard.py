"""A time budget for every evaluation, on engines that have none of their own.

regorus' compiled program stops itself (an instruction limit) and the OPA server path has its
request time-out, but regorus' interpreter (the fallback when the pack does not compile, or
`policy.compiled = false`) and OPA's Go evaluator run a rule until it ends: three nested
`numbers.range(1, 1000)` in a rule hung a run for minutes. Neither can be interrupted from
Python, so `GuardedEngine` evaluates in a child process and kills it when an evaluation
overruns `policy.timeout_seconds`: that interaction is recorded as not evaluated with the
reason (fail closed), and the next evaluation starts a fresh child.

The child is `python -P -m auditor.policy.guard PARENT_PID`; it reads the policy settings as
its first line and then one policy input per line, and answers one JSON line each. It exits
when its input closes or its parent ends (even in the middle of a runaway evaluation).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from typing import IO, Any

from auditor.config import PolicySettings
from auditor.errors import PolicyError
from auditor.ops.lifetime import check_termination
from auditor.policy.engine import PolicyEngine, RegoTestResult, RuleInfo, Violation

# How long a new child may take to load the pack before it counts as failed.
START_SECONDS = 60.0
# After this many overruns in a row, the pack is taken to overrun on whatever comes next:
# later evaluations fail at once (not evaluated, fail closed) instead of each spending the
# whole budget and a child's start-up, until one evaluation succeeds again or the engine is
# built anew. A pack that overruns on every interaction of a 200-item sample then costs
# three budgets, not two hundred.
MAX_CONSECUTIVE_OVERRUNS = 3


def needs_guard(engine: PolicyEngine) -> bool:
    """Whether `engine` can run an evaluation without end (no limit of its own)."""
    if engine.name == "opa-go":
        return True
    return engine.name == "embedded" and getattr(engine, "mode", "") == "interpreted"


class GuardedEngine:
    """`inner`'s decisions, each made in a child process within `budget` seconds.

    The catalogue, the revision and the Rego tests come from `inner` in this process; only
    `evaluate` crosses to the child, which builds the same engine from the same settings
    and must report the same revision.
    """

    def __init__(self, inner: PolicyEngine, settings: PolicySettings, budget: float) -> None:
        self._inner = inner
        self._settings = settings
        self._budget = budget
        self._child: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._overruns = 0  # consecutive evaluations that overran the budget

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def revision(self) -> str:
        return self._inner.revision

    @property
    def inner(self) -> PolicyEngine:
        return self._inner

    def rules(self) -> list[RuleInfo]:
        return self._inner.rules()

    def run_tests(self) -> list[RegoTestResult]:
        return self._inner.run_tests()

    def evaluate(self, input_doc: Mapping[str, Any]) -> list[Violation]:
        try:
            line = json.dumps(input_doc, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise PolicyError(f"policy input is not JSON: {exc}") from None
        with self._lock:
            if self._overruns >= MAX_CONSECUTIVE_OVERRUNS:
                raise PolicyError(
                    f"not evaluated: the pack overran its time budget ({self._budget:g}s, "
                    f"policy.timeout_seconds) on {self._overruns} evaluations in a row, so "
                    "the rest are not tried",
                    "a rule in the pack runs too long; fix it, or raise policy.timeout_seconds",
                )
            child = self._child or self._start()
            try:
                answer = self._ask(child, line, self._budget)
            except _Overrun as exc:
                self._overruns += 1
                raise PolicyError(exc.message, exc.hint) from None
            self._overruns = 0
        if "error" in answer:
            raise PolicyError(str(answer["error"]))
        return [_violation(v) for v in answer["violations"]]

    def close(self) -> None:
        """Stop the child (it also stops by itself when this process ends)."""
        with self._lock:
            self._stop()

    # --- the child ---------------------------------------------------------------------------

    def _start(self) -> subprocess.Popen[str]:
        # -P: never put the working directory (perhaps a log drop with an `auditor/` folder)
        # before the installed package on the child's path.
        child = subprocess.Popen(
            [sys.executable, "-P", "-m", "auditor.policy.guard", str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._child = child
        ready = self._ask(child, self._settings.model_dump_json(), START_SECONDS)
        if ready.get("revision") != self._inner.revision:
            self._stop()
            reason = ready.get("error") or f"it loaded revision {str(ready.get('revision'))[:12]}"
            raise PolicyError(f"policy evaluation process did not start: {reason}")
        return child

    def _ask(self, child: subprocess.Popen[str], line: str, seconds: float) -> dict[str, Any]:
        stdin, stdout = child.stdin, child.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(line + "\n")
            stdin.flush()
        except OSError:
            self._stop()
            raise PolicyError("policy evaluation process ended unexpectedly") from None
        answer = _read_line(stdout, time.monotonic() + seconds)
        if answer is None:
            self._stop()
            raise _Overrun(
                f"policy evaluation did not finish within {seconds:g}s (time budget; "
                "policy.timeout_seconds)",
                "a rule in the pack runs too long; fix it, or raise policy.timeout_seconds",
            )
        if not answer:
            self._stop()
            raise PolicyError("policy evaluation process ended unexpectedly")
        try:
            result: dict[str, Any] = json.loads(answer)
        except ValueError:
            self._stop()
            raise PolicyError("policy evaluation process answered something unreadable") from None
        return result

    def _stop(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        child.kill()
        child.wait()
        for stream in (child.stdin, child.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):  # unflushed input to a dead child
                    stream.close()


class _Overrun(PolicyError):
    """An evaluation (or the child's start) that did not answer within its time."""


def _read_line(stream: IO[str], deadline: float) -> str | None:
    """One line from the child, "" at its end, None if it did not come by `deadline`."""
    while True:
        check_termination()  # a SIGTERM whose first exception was lost stops the wait too
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        ready, _, _ = select.select([stream], [], [], min(remaining, 1.0))
        if ready:
            return stream.readline()


def _violation(raw: Mapping[str, Any]) -> Violation:
    return Violation(
        rule_id=raw["rule_id"],
        severity=raw["severity"],
        title=raw["title"],
        message=raw["message"],
        remediation=raw["remediation"],
        references=tuple(raw["references"]),
        entity_types=tuple(raw["entity_types"]),
    )


def _serve() -> None:
    """The child: build the engine from the settings on the first line, then answer."""
    from auditor.ops.lifetime import die_with_parent
    from auditor.policy.engine import build_unguarded

    die_with_parent(int(sys.argv[1]))
    out = sys.stdout
    try:
        settings = PolicySettings.model_validate_json(sys.stdin.readline())
        engine = build_unguarded(settings)
    except Exception as exc:  # noqa: BLE001 - the parent needs the reason, not a traceback
        out.write(json.dumps({"error": str(exc)[:500]}) + "\n")
        out.flush()
        return
    out.write(json.dumps({"revision": engine.revision}) + "\n")
    out.flush()
    for line in sys.stdin:
        try:
            violations = engine.evaluate(json.loads(line))
            answer: dict[str, Any] = {"violations": [dataclasses.asdict(v) for v in violations]}
        except PolicyError as exc:
            answer = {"error": exc.message}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    _serve()
