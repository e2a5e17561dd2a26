"""One run at a time per database: a second `auditor run` (or ingest, demo, report, purge)
started while another is writing says so and exits 5, instead of dying on an IntegrityError
half way.

An exclusive `flock` on `<database file>.lock` for a SQLite file (another database: on
`<data_dir>/run.lock`, which guards runs on this machine only), released by the kernel when
the holder ends, however it ends. The lock file says who holds it (pid, command, since when)
so the message can name them.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from auditor.config import Settings
from auditor.errors import AuditorError


class RunLockedError(AuditorError):
    """Another run holds the lock on this database (exit code 5)."""

    exit_code = 5


@contextmanager
def run_lock(settings: Settings, command: str) -> Iterator[None]:
    """Hold the database's run lock for the block. Raises RunLockedError if another process
    holds it, naming that process where it can."""
    url = make_url(settings.database.url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        lock_file = Path(url.database).with_name(Path(url.database).name + ".lock")
    else:
        lock_file = settings.data_dir / "run.lock"
    with _file_lock(lock_file, command):
        yield


@contextmanager
def _file_lock(path: Path, command: str) -> Iterator[None]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise AuditorError(
            f"cannot open the run lock {path}: {exc.strerror or exc}",
            "the folder of the database (or data_dir) must be writable",
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLockedError(
                f"another run is in progress on this database ({_holder(fd)})",
                f"wait for it to finish; the lock is {path}",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(_me(command)).encode())
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096) or b"{}")
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "holder unknown"
    return f"pid {info.get('pid')}, `auditor {info.get('command', '?')}` since {info.get('since')}"


def _me(command: str) -> dict[str, object]:
    return {
        "pid": os.getpid(),
        "command": command,
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
        "argv0": Path(sys.argv[0]).name,
    }
