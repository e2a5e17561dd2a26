"""`--log-format json`: a whole `auditor run` writes only JSON objects on stderr, one a line,
each carrying the run id, the stages with their durations and the counts, and never the text
of a prompt. Run as a scheduler runs it: a separate process (a library's warning or a stray
print would show there and not in an in-process call)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.config import Settings
from tests.conftest import DATA, chat_record, write_jsonl

# Text that appears only in the prompts and outputs (and so may never appear on stderr).
SECRET_WORDS = ("Zebulon Quixote", "4111 1111 1111 1111", "quixote-private@example.org")


def _logs(folder: Path) -> Path:
    (folder / "logs").mkdir(exist_ok=True)
    records = [
        chat_record(
            f"e{i}",
            f"Draft a note to Zebulon Quixote (quixote-private@example.org), card "
            f"4111 1111 1111 1111, about item {i}",
            user=f"u{i % 6:05d}",
            when=f"2026-10-{i % 28 + 1:02d}T09:00:00Z",
            output="Zebulon Quixote will be told.",
        )
        for i in range(30)
    ]
    return write_jsonl(folder / "logs" / "gateway.jsonl", records)


def auditor_process(
    settings: Settings, *argv: str, cwd: Path, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """`auditor ARGV` as its own process on the test's database, air-gapped."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("AUDITOR_") or k == "AUDITOR_DEBUG"
    }
    env.update(
        AUDITOR_DATABASE__URL=settings.database.url,
        AUDITOR_DATA_DIR=str(settings.data_dir),
        AUDITOR_SCAN__HASH_KEY="test-key-padded-to-thirty-two-bytes",
        AUDITOR_REPORT__OUTPUT_DIR=str(settings.report.output_dir),
        **(extra_env or {}),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "auditor", *argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.both_databases
def test_a_whole_run_logs_only_json_with_the_run_id_and_never_prompt_text(
    settings: Settings, tmp_path: Path
) -> None:
    logs = _logs(tmp_path)
    proc = auditor_process(
        settings,
        "--log-format",
        "json",
        "run",
        str(logs.parent),
        "--people",
        str(DATA / "people" / "people.csv"),
        cwd=tmp_path,
    )
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 3, err  # findings await review
    lines = err.splitlines()
    events = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(isinstance(e, dict) for e in events) and len(events) > 10
    [started] = [e for e in events if e["event"] == "run_started"]
    run_id = started["run_id"]
    assert run_id.startswith("R-") and all(e["run_id"] == run_id for e in events)
    assert all({"time", "level", "run_id", "stage", "event"} <= set(e) for e in events)
    finished = {e["stage"]: e for e in events if e["event"] == "stage_finished"}
    assert {
        "directory",
        "ingest",
        "tiers",
        "sample",
        "scan",
        "evaluate",
        "findings",
        "report",
    } <= set(finished)
    assert all(e["duration_s"] >= 0 for e in finished.values())
    scan_progress = [e for e in events if e["stage"] == "scan" and "done" in e]
    assert scan_progress and scan_progress[-1]["done"] == scan_progress[-1]["total"] > 0
    assert [e for e in events if e["stage"] == "evaluate" and "done" in e]
    [end] = [e for e in events if e["event"] == "run_finished"]
    assert (end["outcome"], end["exit_code"]) == ("findings_await_review", 3)
    assert end["counts"]["records_stored"] == 30 and end["duration_s"] > 0
    for word in SECRET_WORDS:
        assert word not in err
    assert run_id in out + err


def test_the_environment_variable_chooses_json_and_errors_are_events(
    settings: Settings, tmp_path: Path
) -> None:
    proc = auditor_process(
        settings,
        "report",
        "--period",
        "2026-10",
        cwd=tmp_path,
        extra_env={"AUDITOR_LOG_FORMAT": "json"},
    )
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1
    events = [json.loads(line) for line in err.splitlines()]
    assert events[0]["level"] == "error" and events[0]["message"].startswith("error: ")


def test_plain_logs_keep_their_timestamps(settings: Settings, tmp_path: Path) -> None:
    logs = _logs(tmp_path)
    proc = auditor_process(settings, "ingest", str(logs), cwd=tmp_path)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    progress = [line for line in err.splitlines() if " ingest: " in line]
    assert progress and all(line[:20].endswith("Z") and line[4] == "-" for line in progress)
