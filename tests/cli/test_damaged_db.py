"""A damaged database gives one line naming the file and SQLite's integrity_check verdict and
a non-zero exit, on every command, never "internal error: DatabaseError" (hardening case 14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.cli import main
from auditor.config import Settings


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUDITOR_DATABASE__URL", settings.database.url)
    monkeypatch.setenv("AUDITOR_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("COLUMNS", "300")

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def _damage(db: Path, how: str) -> None:
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    if how == "not-a-database":
        db.write_bytes(b"this is not a database at all" * 10)
    else:
        with db.open("r+b") as fh:  # the schema pages: every query trips over them
            fh.seek(100)
            fh.write(b"\xff" * 3000)


@pytest.mark.parametrize("how", ["not-a-database", "damaged-pages"])
@pytest.mark.parametrize(
    "command", [("review", "list"), ("sample", "list"), ("tiers", "--period", "2026-10")]
)
def test_a_damaged_database_is_named_with_its_verdict(
    cli, settings: Settings, how: str, command: tuple[str, ...]
) -> None:  # type: ignore[no-untyped-def]
    assert cli("db", "upgrade")[0] == 0
    db = Path(settings.database.url.removeprefix("sqlite:///"))
    _damage(db, how)
    code, _out, err = cli(*command)
    assert code == 1
    assert "internal error" not in err
    first = err.splitlines()[0]
    assert first.startswith(f"error: the database {db} is damaged: ")
    assert "integrity_check: " in first


def test_a_busy_database_is_not_called_damaged(cli, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    """ "database is locked" is not damage: no advice to restore a backup, no driver text."""
    import sqlite3

    assert cli("db", "upgrade")[0] == 0
    db = Path(settings.database.url.removeprefix("sqlite:///"))
    holder = sqlite3.connect(db, timeout=0)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        code, _out, err = cli("review", "list")
    finally:
        holder.rollback()
        holder.close()
    assert code == 1
    assert "damaged" not in err and "backup" not in err
    assert err.startswith("error: ")
