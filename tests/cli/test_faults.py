"""Faults a scheduled run meets: a database on an older or a newer schema, a connection
dropped mid-run, and a run killed outright (kill -9) during the ingest, the scan or the
report. Each names the problem and the fix in one line and exits 1; nothing is half-written,
and the rerun ends with exactly the findings, detections and decisions of a run that was never
interrupted. The killed runs are real processes on the real PostgreSQL."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from auditor.cli import main
from auditor.config import Settings, load_settings
from auditor.db.models import Decision, Detection, Finding, Interaction, Run
from auditor.db.session import make_engine, session_scope, upgrade
from tests.cli.test_log_format import auditor_process
from tests.conftest import chat_record, fresh_postgres_database, write_jsonl

KEY = "test-key-padded-to-thirty-two-bytes"
NAMES = ("Ann Lee", "Marco Rossi", "Priya Natarajan", "John Smith", "Olga Ivanova")
CARDS = ("4111 1111 1111 1111", "5500 0000 0000 0004", "3400 0000 0000 009")
FILES, PER_FILE = 8, 300


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUDITOR_DATABASE__URL", settings.database.url)
    monkeypatch.setenv("AUDITOR_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AUDITOR_SCAN__HASH_KEY", KEY)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def _small_logs(folder: Path, files: int = 1, per_file: int = 20) -> Path:
    """`files` gateway logs of `per_file` records each, prompts carrying names, e-mail
    addresses and card numbers (so the scan finds things and the rules fire)."""
    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        records = []
        for i in range(per_file):
            n = f * per_file + i
            name = NAMES[n % len(NAMES)]
            prompt = (
                f"Write to {name} ({name.split()[0].lower()}.{n}@client-mail.example) "
                f"about card {CARDS[n % len(CARDS)]}"
                if n % 3
                else f"Summarise the quarterly figures, item {n}"
            )
            records.append(
                chat_record(
                    f"f{f}-e{i}",
                    prompt,
                    user=f"u{n % 40:05d}",
                    when=f"2026-10-{n % 28 + 1:02d}T{n % 24:02d}:00:00Z",
                    tool=("chatgpt-enterprise", "copilot-business", "shadow-ai")[n % 3],
                )
            )
        write_jsonl(logs / f"gateway-{f:02d}.jsonl", records)
    return logs


# --- schema faults ------------------------------------------------------------------------


def _previous_head() -> str:
    from alembic.script import ScriptDirectory

    from auditor.db.session import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://")))
    head = scripts.get_revision(scripts.get_current_head())
    assert head is not None and isinstance(head.down_revision, str)
    return head.down_revision


@pytest.mark.both_databases
def test_an_older_schema_is_named_with_the_fix_and_a_run_migrates_it(
    cli, settings: Settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(settings.database.url)
    try:
        upgrade(engine, _previous_head())
    finally:
        engine.dispose()
    code, _, err = cli("runs", "list")
    assert code == 1
    error, hint = err.splitlines()
    assert error.startswith(f"error: database schema is at {_previous_head()}, expected ")
    assert "auditor db upgrade" in hint
    code, _, err = cli("run", str(_small_logs(tmp_path)))
    assert code in (0, 3), err
    assert cli("runs", "list")[0] == 0


@pytest.mark.both_databases
def test_a_newer_schema_is_refused_in_one_line_naming_the_fix(
    cli, settings: Settings, engine: Any, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '29991231_from_the_future'"))
    for argv in (["run", str(_small_logs(tmp_path))], ["runs", "list"], ["db", "upgrade"]):
        code, _, err = cli(*argv)
        assert code == 1, argv
        error, hint = err.splitlines()
        assert "schema revision 29991231_from_the_future, newer than this auditor" in error
        assert "hint: run the auditor version that last migrated it" in hint
        assert "Traceback" not in err and "internal error" not in err
    with engine.connect() as conn:  # nothing was written, not even a ledger row
        assert conn.execute(text("SELECT count(*) FROM runs")).scalar() == 0


# --- processes killed or cut off mid-run, on PostgreSQL -----------------------------------


def _settings_for(url: str, tmp_path: Path) -> Settings:
    return load_settings(
        None,
        data_dir=str(tmp_path / ".auditor"),
        database={"url": url},
        scan={"hash_key": KEY},
        report={"output_dir": str(tmp_path / "reports")},
    )


def _run_until(
    settings: Settings, logs: Path, cwd: Path, reached: Callable[[dict[str, Any]], bool]
) -> tuple[subprocess.Popen[str], list[dict[str, Any]]]:
    """Start `auditor run` with JSON logs and read its events until `reached` says so (the
    process is still running then) or it ends."""
    proc = auditor_process(
        settings,
        "--log-format",
        "json",
        "run",
        str(logs),
        cwd=cwd,
        extra_env={"AUDITOR_SAMPLE__SEED": "7", "AUDITOR_SAMPLE__SIZE": "40"},
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        event = json.loads(line)
        seen.append(event)
        if reached(event):
            break
    return proc, seen


def _finish(settings: Settings, logs: Path, cwd: Path) -> tuple[int, list[dict[str, Any]]]:
    proc, events = _run_until(settings, logs, cwd, lambda _: False)
    proc.wait(timeout=600)
    return proc.returncode, events


def _outcome(url: str) -> dict[str, Any]:
    """What a run leaves that must not depend on an interruption: interactions, detections,
    decisions and findings, by their stable identities."""
    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            key = dict(s.execute(select(Interaction.id, Interaction.event_id)).all())
            return {
                "interactions": sorted(key.values()),
                "detections": sorted(
                    (key[d.interaction_id], d.field, d.entity_type, d.start, d.end, d.value_hash)
                    for d in s.scalars(select(Detection))
                ),
                "decisions": sorted(
                    (key[d.interaction_id], d.rule_id, d.verdict, d.policy_revision)
                    for d in s.scalars(select(Decision))
                ),
                "findings": sorted(
                    (f.id, key[f.interaction_id], f.rule_id, f.status)
                    for f in s.scalars(select(Finding))
                ),
            }
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def fault_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _small_logs(tmp_path_factory.mktemp("faults"), FILES, PER_FILE)


@pytest.fixture(scope="module")
def uninterrupted(
    postgres_server: str, fault_logs: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The outcome of one run that nothing interrupted, on a database of its own."""
    cwd = tmp_path_factory.mktemp("baseline")
    with fresh_postgres_database(postgres_server) as url:
        code, events = _finish(_settings_for(url, cwd), fault_logs, cwd)
        assert code == 3, events[-3:]
        outcome = _outcome(url)
    assert outcome["findings"] and outcome["detections"] and outcome["decisions"]
    yield outcome


def _stage_started(stage: str) -> Callable[[dict[str, Any]], bool]:
    def reached(event: dict[str, Any]) -> bool:
        # In the ingest: once the first file is committed (others still to read).
        if stage == "ingest":
            return event["stage"] == "ingest" and "(1/" in event.get("message", "")
        return event["stage"] == stage and event["event"] == "stage_started"

    return reached


@pytest.mark.parametrize("stage", ["ingest", "scan", "report"])
def test_kill_9_during_a_stage_then_the_rerun_equals_an_uninterrupted_run(
    postgres_server: str,
    fault_logs: Path,
    uninterrupted: dict[str, Any],
    tmp_path: Path,
    stage: str,
) -> None:
    with fresh_postgres_database(postgres_server) as url:
        settings = _settings_for(url, tmp_path)
        proc, events = _run_until(settings, fault_logs, tmp_path, _stage_started(stage))
        assert proc.poll() is None, f"the run ended before its {stage} stage"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        assert not [e for e in events if e["event"] == "run_finished"]
        killed_run = events[0]["run_id"]
        interrupted = _outcome(url)
        if stage == "ingest":
            assert 0 < len(interrupted["interactions"]) < FILES * PER_FILE
        if stage == "scan":
            assert not interrupted["findings"]
        code, rerun_events = _finish(settings, fault_logs, tmp_path)
        assert code in (0, 3), rerun_events[-3:]
        assert _outcome(url) == uninterrupted
        engine = make_engine(url)
        try:
            with session_scope(engine) as s:
                assert s.get(Run, killed_run).outcome == "interrupted"  # type: ignore[union-attr]
        finally:
            engine.dispose()


def test_a_connection_dropped_mid_run_is_one_line_with_the_fix_and_the_rerun_completes(
    postgres_server: str, fault_logs: Path, uninterrupted: dict[str, Any], tmp_path: Path
) -> None:
    with fresh_postgres_database(postgres_server) as url:
        settings = _settings_for(url, tmp_path)
        proc, _ = _run_until(settings, fault_logs, tmp_path, _stage_started("scan"))
        assert proc.poll() is None
        name = url.rsplit("/", 1)[1]
        admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:  # what a failover or a restarted server does
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
        finally:
            admin.dispose()
        assert proc.stderr is not None
        rest = [json.loads(line) for line in proc.stderr]
        proc.wait(timeout=120)
        assert proc.returncode == 1
        errors = [e["message"] for e in rest if e["level"] == "error"]
        assert len(errors) == 1, rest[-4:]
        assert "connection to the database was lost" in errors[0]
        [hint] = [e["message"] for e in rest if e["message"].startswith("hint: ")]
        assert "run again" in hint
        code, _ = _finish(settings, fault_logs, tmp_path)
        assert code in (0, 3)
        assert _outcome(url) == uninterrupted
