"""The run ledger: every `auditor run` leaves a row saying what it read and how it ended, on
SQLite and on PostgreSQL; nothing delivered is exit 6, not success; a run killed or stopped
midway is shown as interrupted."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from auditor.cli import main
from auditor.config import Settings
from auditor.db.models import Interaction, Run
from auditor.db.session import make_engine, session_scope, upgrade
from auditor.ops.lock import run_lock
from tests.conftest import DATA, chat_record, write_jsonl

pytestmark = pytest.mark.both_databases

ROOT = Path(__file__).resolve().parents[1]
PEOPLE = str(DATA / "people" / "people.csv")


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUDITOR_DATABASE__URL", settings.database.url)
    monkeypatch.setenv("AUDITOR_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AUDITOR_REPORT__OUTPUT_DIR", str(settings.data_dir / "reports"))
    monkeypatch.setenv("AUDITOR_SCAN__HASH_KEY", "test-key-padded-to-thirty-two-bytes")
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def _runs(settings: Settings) -> list[Run]:
    engine = make_engine(settings.database.url)
    try:
        with session_scope(engine) as s:
            return list(s.scalars(select(Run).order_by(Run.started_at, Run.id)))
    finally:
        engine.dispose()


def _interactions(settings: Settings) -> int:
    engine = make_engine(settings.database.url)
    try:
        with session_scope(engine) as s:
            return int(s.scalar(select(func.count()).select_from(Interaction)) or 0)
    except Exception:  # noqa: BLE001 - the schema may not be there yet
        return 0
    finally:
        engine.dispose()


def _logs(tmp_path: Path) -> Path:
    folder = tmp_path / "delivery"
    folder.mkdir()
    write_jsonl(
        folder / "gateway.jsonl",
        [
            chat_record("e1", "Summarise rates.", tool="deepseek-chat"),
            chat_record("e2", "Hi"),
            b'{"broken": ',
        ],
    )
    return folder


def test_each_run_is_recorded_with_files_counts_and_outcome(
    cli, settings: Settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    logs = _logs(tmp_path)
    code, _, err = cli("run", str(logs), "--people", PEOPLE)
    assert code == 3, err
    [first] = _runs(settings)
    assert f"run {first.id}: findings_await_review" in err
    assert (first.command, first.outcome, first.exit_code) == ("run", "findings_await_review", 3)
    assert first.periods == ["2026-10"] and first.ended_at is not None
    assert first.ended_at >= first.started_at
    assert first.pid == os.getpid() and first.host and first.os_user
    assert len(first.config_digest) == 64 and first.policy_revision and first.scanner_revision
    [entry] = first.files
    assert entry["path"].endswith("gateway.jsonl") and len(entry["sha256"]) == 64
    assert (entry["total"], entry["loaded"], entry["rejected"]) == (3, 2, 1)
    counts = first.counts
    assert (counts["records_read"], counts["records_stored"], counts["records_rejected"]) == (
        3,
        2,
        1,
    )
    period = counts["periods"]["2026-10"]
    assert period["sampled"] == 2 and period["evaluated"] == 2 and period["findings_new"] >= 1
    assert counts["findings_open"] >= 1 and counts["people_loaded"] > 0

    # Nothing new delivered: a distinct outcome and exit code, not success.
    code, _, err = cli("run", str(logs))
    assert code == 6, err
    second = _runs(settings)[1]
    assert (second.outcome, second.exit_code) == ("no_new_data", 6)
    assert second.files[0]["skipped"] == "already ingested"

    # New data, no new finding: exit 0; the standing open findings are counted, not re-alerted.
    write_jsonl(logs / "more.jsonl", [chat_record("e3", "Write a haiku about spreadsheets.")])
    code, _, err = cli("run", str(logs))
    assert code == 0, err
    third = _runs(settings)[2]
    assert (third.outcome, third.counts["findings_new"]) == ("completed", 0)
    assert third.counts["findings_open"] >= 1 and "(0 new in this run)" in err

    code, out, _ = cli("runs", "list", "--period", "2026-10", "--format", "json")
    assert code == 0
    listed = json.loads(out)
    assert [r["id"] for r in listed] == [third.id, second.id, first.id]  # newest first
    assert json.loads(cli("runs", "list", "--period", "2026-09", "--format", "json")[1]) == []
    code, out, _ = cli("runs", "list")
    assert code == 0 and first.id in out and "no_new_data" in out and "3 run(s)" in out
    code, out, _ = cli("runs", "show", first.id[:-2])  # a unique prefix
    shown = json.loads(out)
    assert code == 0 and shown["id"] == first.id and shown["files"][0]["sha256"] == entry["sha256"]
    code, _, err = cli("runs", "show", "R-nope")
    assert code == 1 and "no run 'R-nope'" in err


def test_an_empty_delivery_folder_is_not_success(cli, settings: Settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = cli("run", str(empty))
    assert code == 6
    assert f"no new interactions were delivered: 0 file(s) under {empty}" in err
    [run] = _runs(settings)
    assert (run.outcome, run.exit_code, run.counts["files"]) == ("no_new_data", 6, 0)


def test_a_failed_run_is_recorded_with_its_error(cli, settings: Settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("run", str(tmp_path / "no-such-folder"))
    assert code == 1 and "error:" in err
    [run] = _runs(settings)
    assert (run.outcome, run.exit_code) == ("failed", 1)
    assert run.error is not None and run.error.startswith("InputError: ")


def test_a_refused_run_is_recorded_and_a_dead_run_shown_interrupted(
    cli, settings: Settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(settings.database.url)
    upgrade(engine)
    # A run killed outright (kill -9) left its row `running`.
    with session_scope(engine) as s:
        s.add(
            Run(
                id="R-20261101-000000-dead00",
                command="run",
                arguments={},
                periods=["2026-10"],
                started_at=datetime(2026, 11, 1),
                host="other",
                os_user="cron",
                pid=1,
                version="0",
                config_digest="0" * 64,
                outcome="running",
                files=[],
                counts={},
            )
        )
    engine.dispose()
    with run_lock(settings, "run"):
        code, _, err = cli("run", str(_logs(tmp_path)))
    assert code == 5 and "another run is in progress" in err
    runs = {r.id: r for r in _runs(settings)}
    refused = next(r for r in runs.values() if r.outcome == "refused")
    assert refused.exit_code == 5 and refused.error.startswith("RunLockedError: another run")
    assert runs["R-20261101-000000-dead00"].outcome == "running"  # not ours to judge

    code, _, err = cli("run", str(tmp_path / "delivery"), "--people", PEOPLE)
    assert code == 3, err
    dead = next(r for r in _runs(settings) if r.id == "R-20261101-000000-dead00")
    assert dead.outcome == "interrupted" and "ended without recording its end" in (dead.error or "")


def test_sigterm_rolls_back_the_stage_and_records_interrupted(
    settings: Settings, tmp_path: Path
) -> None:
    """A real process stopped by SIGTERM mid-run: exit 143, the ledger says interrupted, and
    the next run completes the work. The first run evaluates with a pack whose rule runs for
    minutes on these interactions (guarded by a long budget), so it is certainly still running
    when the signal comes, however fast the machine; the second uses the shipped pack."""
    from tests.policy.helpers import POLICY_DIR
    from tests.policy.test_guard import SLOW_RULE

    slow_pack = Path(shutil.copytree(POLICY_DIR, tmp_path / "slow-policies"))
    tools = slow_pack / "auditor/rules/tools.rego"
    tools.write_text(tools.read_text() + SLOW_RULE)
    logs = write_jsonl(
        tmp_path / "l.jsonl",
        [
            chat_record(
                f"t{i}", f"Note {i} for the desk.", tool="slow-tool", when="2026-10-05T10:00:00Z"
            )
            for i in range(50)
        ],
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AUDITOR_")},
        "PYTHONPATH": str(ROOT),
        "AUDITOR_DATABASE__URL": settings.database.url,
        "AUDITOR_DATA_DIR": str(settings.data_dir),
        "AUDITOR_REPORT__OUTPUT_DIR": str(tmp_path / "reports"),
        "AUDITOR_SCAN__HASH_KEY": "test-key-padded-to-thirty-two-bytes",
        "AUDITOR_SCAN__WORKERS": "1",
    }
    slow_env = {
        **env,
        "AUDITOR_POLICY__DIRECTORY": str(slow_pack),
        "AUDITOR_POLICY__COMPILED": "false",
        "AUDITOR_POLICY__TIMEOUT_SECONDS": "300",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "auditor", "run", str(logs)],
        cwd=tmp_path,
        env=slow_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                running = [r for r in _runs(settings) if r.outcome == "running"]
            except Exception:  # noqa: BLE001 - the schema may not be there yet
                running = []
            if running:
                break
            time.sleep(0.05)
        assert running, "the run never started"
        # Signal once the ingest has committed (files commit one by one), so the signal lands
        # in the sample, scan or evaluation stage: the evaluation holds it there for minutes.
        while time.monotonic() < deadline and _interactions(settings) < 50:
            time.sleep(0.1)
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143, err
    assert "interrupted by SIGTERM" in err and "Traceback" not in err
    [run] = _runs(settings)
    assert (run.outcome, run.exit_code, run.error) == ("interrupted", 143, "Terminated")

    env_run = subprocess.run(
        [sys.executable, "-m", "auditor", "run", str(logs)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert env_run.returncode in (0, 3, 6), env_run.stderr
    last = _runs(settings)[-1]
    assert last.outcome in ("completed", "findings_await_review", "no_new_data")
    assert last.counts["periods"]["2026-10"]["population"] == 50


def test_ingest_and_purge_are_recorded_too(cli, settings: Settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    logs = write_jsonl(
        tmp_path / "old.jsonl", [chat_record("o1", "Old note.", when="2024-02-05T10:00:00Z")]
    )
    assert cli("ingest", str(logs))[0] == 0
    assert cli("db", "purge", "--days", "365")[0] == 0
    ingest, purge = _runs(settings)
    assert (ingest.command, ingest.outcome, ingest.exit_code) == ("ingest", "completed", 0)
    assert ingest.periods == ["2024-02"] and ingest.counts["records_stored"] == 1
    assert ingest.files[0]["sha256"] and ingest.files[0]["loaded"] == 1
    assert (purge.command, purge.outcome, purge.counts["purged"]) == ("db purge", "completed", 1)


def test_ingest_shows_timestamped_progress_per_file_and_within_a_file(
    cli,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import re

    import auditor.ingest.stage as stage

    monkeypatch.setattr(stage, "PROGRESS_EVERY", 2)
    code, _, err = cli("ingest", str(_logs(tmp_path)))
    assert code == 0, err
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
    assert re.search(rf"^{stamp} ingest: gateway.jsonl: 2 records read, \d+ new$", err, re.M)
    assert re.search(rf"^{stamp} ingest: gateway.jsonl \(1/1\): 3 records, 2 new$", err, re.M)
