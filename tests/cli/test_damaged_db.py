"""A damaged database gives one line naming the file and SQLite's integrity_check verdict and
a non-zero exit, on every command, never "internal error: DatabaseError" (hardening case 14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.cli import main
from auditor.config import Settings
from tests.conftest import chat_record, write_jsonl


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


def _damage_middle(db: Path) -> None:
    """Overwrite pages in the middle of a file with data: the schema and the first pages stay
    readable, so a query that does not touch the damaged pages answers as if all were well."""
    size = db.stat().st_size
    with db.open("r+b") as fh:
        fh.seek(size // 2 - (size // 2) % 4096)
        fh.write(b"\xa5" * 8192)


def test_damage_no_query_reads_is_found_by_run_and_db_check(
    cli, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUDITOR_SCAN__HASH_KEY", "test-key-padded-to-thirty-two-bytes")
    logs = write_jsonl(
        tmp_path / "l.jsonl",
        [
            chat_record(f"e{i:05d}", "a long enough prompt " * 20, when="2026-10-02T09:00:00Z")
            for i in range(3000)
        ],
    )
    assert cli("ingest", str(logs))[0] == 0
    assert cli("db", "check")[0] == 0
    db = Path(settings.database.url.removeprefix("sqlite:///"))
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    _damage_middle(db)
    # The review queue never reads those pages: it cannot know.
    assert cli("review", "list")[0] == 0
    code, _, err = cli("db", "check")
    assert code == 1
    assert f"error: the database {db} is damaged (integrity_check: " in err
    # The scheduled job checks first and runs nothing on a damaged file.
    code, _, err = cli("run", str(logs))
    assert code == 1
    assert f"error: the database {db} is damaged (quick_check: " in err
    assert "hint: restore it from a backup; nothing was run on it" in err
