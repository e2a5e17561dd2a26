"""The run lock: a second run on the same database says another run is in progress (exit 5)
instead of failing half way with an IntegrityError (case 14 of the hardening issue)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.config import Settings
from auditor.errors import AuditorError
from auditor.ops.lock import RunLockedError, run_lock

ROOT = Path(__file__).resolve().parents[1]


def test_a_second_holder_is_refused_naming_the_first(settings: Settings) -> None:
    refused = pytest.raises(RunLockedError, match=r"another run is in progress .*`auditor run`")
    with run_lock(settings, "run"), refused, run_lock(settings, "ingest"):
        pass
    with run_lock(settings, "ingest"):  # released: the next run goes ahead
        pass


def test_the_exit_code_is_five() -> None:
    assert RunLockedError("x").exit_code == 5


def test_a_lock_held_by_another_process_and_released_when_it_dies(settings: Settings) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from auditor.config import load_settings\n"
            "from auditor.ops.lock import run_lock\n"
            "s = load_settings(None, database={'url': sys.argv[1]})\n"
            "with run_lock(s, 'run'):\n"
            "    print('held', flush=True)\n"
            "    time.sleep(60)\n",
            settings.database.url,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(RunLockedError, match=f"pid {holder.pid}"), run_lock(settings, "run"):
            pass
        holder.kill()  # kill -9: the kernel drops the lock with the process
        holder.wait()
        with run_lock(settings, "run"):
            pass
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


@pytest.mark.both_databases
@pytest.mark.parametrize(
    "command",
    [("run", "{logs}"), ("ingest", "{logs}"), ("db", "purge")],
)
def test_case_14_a_second_run_exits_5_naming_the_first(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    command: tuple[str, ...],
) -> None:
    from auditor.cli import main

    monkeypatch.setenv("AUDITOR_DATABASE__URL", settings.database.url)
    monkeypatch.setenv("AUDITOR_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AUDITOR_SCAN__HASH_KEY", "test-key-padded-to-thirty-two-bytes")
    logs = tmp_path / "logs"
    logs.mkdir()
    args = [part.format(logs=logs) for part in command]
    with run_lock(settings, "run"):
        code = main(args)
    err = capsys.readouterr().err
    assert code == 5
    assert f"another run is in progress on this database (pid {os.getpid()}" in err


def test_a_lock_folder_that_cannot_be_written_is_one_line(
    settings: Settings, tmp_path: Path
) -> None:
    from auditor.config import load_settings

    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be")
    other = load_settings(None, database={"url": f"sqlite:///{blocked}/sub/a.db"})
    with pytest.raises(AuditorError, match="cannot open the run lock"), run_lock(other, "run"):
        pass


HOLDER = (
    "import sys, time\n"
    "from auditor.config import load_settings\n"
    "from auditor.ops.lock import run_lock\n"
    "s = load_settings(None, database={'url': sys.argv[1]}, data_dir=sys.argv[2])\n"
    "with run_lock(s, 'run'):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(float(sys.argv[3]))\n"
)


def _holder_process(url: str, data_dir: Path, seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, str(data_dir), str(seconds)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        # Its own settings only (this test's AUDITOR_* variables would override them).
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("AUDITOR_")},
            "PYTHONPATH": str(ROOT),
        },
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_machines_on_one_postgresql_database_cannot_overlap(
    settings: Settings, tmp_path: Path
) -> None:
    """Another process with its own data_dir (so no shared lock file, as on another machine)
    holds the run: PostgreSQL's advisory lock refuses this one, naming the holder; kill -9
    of the holder ends its connection, and the lock with it."""
    holder = _holder_process(settings.database.url, tmp_path / "other-machine", 60)
    try:
        with (
            pytest.raises(RunLockedError, match=rf"auditor run pid {holder.pid} on "),
            run_lock(settings, "run"),
        ):
            pass
        holder.kill()
        holder.wait()
        with run_lock(settings, "run", wait=10):  # the server notices the dead connection
            pass
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


@pytest.mark.both_databases
def test_wait_takes_the_lock_once_the_holder_finishes(settings: Settings, tmp_path: Path) -> None:
    holder = _holder_process(settings.database.url, settings.data_dir, 1.5)
    try:
        with run_lock(settings, "run", wait=30):
            assert holder.wait(timeout=30) == 0
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_cli_run_on_a_locked_postgresql_database_exits_5(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    from auditor.cli import main

    monkeypatch.setenv("AUDITOR_DATABASE__URL", settings.database.url)
    monkeypatch.setenv("AUDITOR_DATA_DIR", str(tmp_path / "this-machine"))
    monkeypatch.setenv("AUDITOR_SCAN__HASH_KEY", "test-key-padded-to-thirty-two-bytes")
    (tmp_path / "logs").mkdir()
    holder = _holder_process(settings.database.url, tmp_path / "other-machine", 60)
    try:
        code = main(["run", str(tmp_path / "logs"), "--wait", "1"])
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert code == 5
    assert (
        f"error: another run is in progress on this database (auditor run pid {holder.pid}" in err
    )
