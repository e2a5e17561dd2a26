"""Case 8 of the hardening issue: a slow rule cannot hang the run. Engines without a limit of
their own (regorus' interpreter, OPA's Go evaluator) evaluate in a child process stopped when an
evaluation overruns policy.timeout_seconds; the interaction is recorded as not evaluated."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.config import PolicySettings
from auditor.db.models import Decision
from auditor.errors import PolicyError
from auditor.policy.engine import EmbeddedEngine, build_engine
from auditor.policy.evaluate import evaluate_sample
from auditor.policy.guard import GuardedEngine
from tests.policy.conftest import require_opa_go
from tests.policy.helpers import add_interaction, add_sample, add_scan, load_example

NOW = datetime(2026, 11, 1, 9, 0, 0, tzinfo=UTC)
# Three nested numbers.range(1, 1000): a billion steps, only for the tool "slow-tool".
SLOW_RULE = """
deny contains v if {
	input.interaction.tool == "slow-tool"
	n := count([x |
		some a in numbers.range(1, 1000)
		some b in numbers.range(1, 1000)
		some c in numbers.range(1, 1000)
		x := (a + b) + c
	])
	n < 0
	v := data.auditor.lib.violation(metadata, "never", set())
}
"""


@pytest.fixture
def slow_pack(policy_copy: Path) -> Path:
    tools = policy_copy / "auditor/rules/tools.rego"
    tools.write_text(tools.read_text() + SLOW_RULE)
    return policy_copy


@pytest.mark.parametrize("engine_name", ["embedded-interpreted", "opa-go"])
def test_case_08_slow_rule_is_stopped_and_not_evaluated(
    session: Session, slow_pack: Path, engine_name: str
) -> None:
    if engine_name == "opa-go":
        require_opa_go()
        settings = PolicySettings(engine="opa-go", directory=slow_pack, timeout_seconds=1.0)
    else:
        settings = PolicySettings(directory=slow_pack, compiled=False, timeout_seconds=1.0)
    engine = build_engine(settings, fail_closed=True)
    assert isinstance(engine, GuardedEngine)
    try:
        slow = add_interaction(session, "e-slow", tool="slow-tool", workflow="research")
        fine = add_interaction(session, "e-fine", tool="copilot-business", workflow="coding")
        for row in (slow, fine):
            add_scan(session, row, [])
        add_sample(session, "s-1", [slow, fine])
        started = time.monotonic()
        stats = evaluate_sample(session, engine, "s-1", now=NOW)
        assert time.monotonic() - started < 60, "the slow rule was not stopped"
        assert (stats.failed, stats.evaluated) == (1, 1)
        rows = {d.interaction_id: d for d in session.scalars(select(Decision))}
        assert rows[slow.id].verdict == "not_evaluated"
        assert "did not finish within 1s" in rows[slow.id].message
        assert rows[fine.id].verdict == "pass"
    finally:
        engine.close()  # type: ignore[attr-defined]


def test_the_compiled_program_stops_by_itself(slow_pack: Path) -> None:
    engine = build_engine(PolicySettings(directory=slow_pack))
    assert isinstance(engine, EmbeddedEngine) and engine.mode == "compiled"
    with pytest.raises(PolicyError, match="instruction limit"):
        engine.evaluate({"interaction": {"tool": "slow-tool"}})


def test_guarded_decisions_equal_the_engines_own(policy_engine: EmbeddedEngine) -> None:
    settings = PolicySettings(directory=policy_engine.bundle.source, compiled=False)
    engine = build_engine(settings)
    assert isinstance(engine, GuardedEngine)
    try:
        for name in ("card_to_copilot", "clean_internal", "agent_execute_unapproved"):
            assert engine.evaluate(load_example(name)) == policy_engine.evaluate(load_example(name))
        assert engine.revision == policy_engine.revision
        assert engine.rules() == policy_engine.rules()
    finally:
        engine.close()


def test_a_child_that_dies_fails_that_evaluation_only(policy_engine: EmbeddedEngine) -> None:
    settings = PolicySettings(directory=policy_engine.bundle.source, compiled=False)
    engine = build_engine(settings)
    assert isinstance(engine, GuardedEngine)
    try:
        doc = load_example("card_to_copilot")
        engine.evaluate(doc)
        assert engine._child is not None
        engine._child.kill()
        engine._child.wait()
        with pytest.raises(PolicyError, match="ended unexpectedly"):
            engine.evaluate(doc)
        assert engine.evaluate(doc) == policy_engine.evaluate(doc)  # a fresh child
    finally:
        engine.close()


PARENT = """
import sys, threading, time
from auditor.config import PolicySettings
from auditor.policy.engine import build_engine

engine = build_engine(PolicySettings(directory=sys.argv[1], compiled=False, timeout_seconds=600))
engine.evaluate({"interaction": {"tool": "copilot-business"}})  # starts the child
print(engine._child.pid, flush=True)
threading.Thread(target=engine.evaluate, args=({"interaction": {"tool": "slow-tool"}},)).start()
time.sleep(120)
"""


def test_the_evaluation_child_ends_with_a_killed_auditor(slow_pack: Path) -> None:
    """Killed in the middle of a runaway evaluation, the auditor leaves no child behind."""
    root = Path(__file__).resolve().parents[2]
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(slow_pack)],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        time.sleep(1)  # the slow evaluation is under way in the child
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 20
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(child), "the evaluation child outlived the auditor"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_a_pack_that_keeps_overrunning_is_not_tried_on_everything(
    session: Session, slow_pack: Path
) -> None:
    """After MAX_CONSECUTIVE_OVERRUNS overruns in a row the rest fail at once, not evaluated
    with the reason (fail closed), instead of each spending the whole budget; one success
    resets the count."""
    from auditor.policy import guard

    settings = PolicySettings(directory=slow_pack, compiled=False, timeout_seconds=0.5)
    engine = build_engine(settings, fail_closed=True)
    assert isinstance(engine, GuardedEngine)
    try:
        rows = [
            add_interaction(session, f"e-slow-{i}", tool="slow-tool", workflow="research")
            for i in range(8)
        ]
        for row in rows:
            add_scan(session, row, [])
        add_sample(session, "s-slow", rows)
        started = time.monotonic()
        stats = evaluate_sample(session, engine, "s-slow", now=NOW)
        elapsed = time.monotonic() - started
        assert (stats.failed, stats.evaluated) == (8, 0)
        messages = [d.message for d in session.scalars(select(Decision))]
        overran = [m for m in messages if "did not finish within 0.5s" in m]
        skipped = [m for m in messages if "evaluations in a row, so the rest are not tried" in m]
        assert len(overran) == guard.MAX_CONSECUTIVE_OVERRUNS
        assert len(skipped) == 8 - guard.MAX_CONSECUTIVE_OVERRUNS
        # Three budgets and their child starts, not eight (a loose bound: never a timing test
        # of speed, only that five evaluations were not each given the budget).
        assert elapsed < 60
        # One short of the limit, a success resets the count.
        engine._overruns = guard.MAX_CONSECUTIVE_OVERRUNS - 1
        assert engine.evaluate(load_example("card_to_copilot"))
        assert engine._overruns == 0
    finally:
        engine.close()
