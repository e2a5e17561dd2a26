"""One run at a time per database: a second `auditor run` (or ingest, demo, report, purge)
started while another is writing says so and exits 5, instead of dying on an IntegrityError
half way.

An exclusive `flock` on `<database file>.lock` for a SQLite file (another database: on
`<data_dir>/run.lock`, which guards runs on this machine only), released by the kernel when
the holder ends, however it ends. The lock file says who holds it (pid, command, since when)
so the message can name them.

On PostgreSQL the run also takes a session-level advisory lock (`pg_try_advisory_lock`) on
the database, so runs from two machines on one database cannot overlap either. It is held by
a connection of its own in autocommit (no transaction stays open for the run's length) whose
`application_name` says who holds it; the server releases it when that connection ends,
however the holder ends.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from auditor.config import Settings
from auditor.errors import AuditorError


class RunLockedError(AuditorError):
    """Another run holds the lock on this database (exit code 5)."""

    exit_code = 5


# The advisory lock's key: one per database (PostgreSQL scopes advisory locks to the
# database), the same for every version of the auditor.
ADVISORY_KEY = int.from_bytes(
    hashlib.sha256(b"ai-usage-auditor:run").digest()[:8], "big", signed=True
)
# How often a waiting run (wait > 0) tries again.
_POLL_SECONDS = 0.5


@contextmanager
def run_lock(settings: Settings, command: str, *, wait: float = 0) -> Iterator[None]:
    """Hold the database's run lock for the block, waiting up to `wait` seconds for another
    holder to finish. Raises RunLockedError if another process (on PostgreSQL: on any
    machine) still holds it, naming that process where it can."""
    url = make_url(settings.database.url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        lock_file = Path(url.database).with_name(Path(url.database).name + ".lock")
    else:
        lock_file = settings.data_dir / "run.lock"
    deadline = time.monotonic() + max(0.0, wait)
    with _file_lock(lock_file, command, deadline):
        if url.get_backend_name() == "postgresql":
            with _advisory_lock(settings.database.url, command, deadline):
                yield
        else:
            yield


@contextmanager
def _advisory_lock(url: str, command: str, deadline: float) -> Iterator[None]:
    from sqlalchemy import text

    from auditor.db.session import make_engine

    me = _me(command)
    # What another run's message shows (application_name holds at most 63 bytes).
    name = f"auditor {command} pid {me['pid']} on {me['host']} since {me['since']}"[:63]
    engine = make_engine(url)
    try:
        conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            conn.execute(text("SELECT set_config('application_name', :n, false)"), {"n": name})
            while not conn.execute(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}
            ).scalar_one():
                if time.monotonic() >= deadline:
                    raise RunLockedError(
                        f"another run is in progress on this database ({_advisory_holder(conn)})",
                        "wait for it to finish (or pass --wait SECONDS); PostgreSQL releases "
                        "the lock when the holder's connection ends",
                    )
                time.sleep(_POLL_SECONDS)
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
        finally:
            conn.close()
    finally:
        engine.dispose()


def _advisory_holder(conn: Any) -> str:
    from sqlalchemy import text

    row = conn.execute(
        text(
            "SELECT a.application_name, host(a.client_addr) FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database()) "
            # A bigint key shows as classid (high half) and objid (low half), objsubid 1.
            "AND l.objsubid = 1 AND ((l.classid::bigint << 32) | l.objid::bigint) = :k "
            "LIMIT 1"
        ),
        {"k": ADVISORY_KEY},
    ).first()
    if row is None:
        return "holder unknown"
    name, addr = row
    held = name if name and name.startswith("auditor ") else f"a session named {name!r}"
    return f"{held}" + (f", connected from {addr}" if addr else "")


@contextmanager
def _file_lock(path: Path, command: str, deadline: float) -> Iterator[None]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise AuditorError(
            f"cannot open the run lock {path}: {exc.strerror or exc}",
            "the folder of the database (or data_dir) must be writable",
        ) from None
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise RunLockedError(
                        f"another run is in progress on this database ({_holder(fd)})",
                        f"wait for it to finish (or pass --wait SECONDS); the lock is {path}",
                    ) from None
                time.sleep(_POLL_SECONDS)
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
        "host": socket.gethostname(),
        "command": command,
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
        "argv0": Path(sys.argv[0]).name,
    }
