"""Case 7 (purge part) of the hardening issue: purged text cannot be read back from the
database file, whatever SQLite's compile-time secure_delete default (it used to: 584 of 600
purged snippets were still in the file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.cli import main
from auditor.config import Settings
from tests.conftest import chat_record, write_jsonl

SNIPPETS = [f"PURGE-ME-{n:04d}-zq" for n in range(600)]


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUDITOR_DATABASE__URL", settings.database.url)
    monkeypatch.setenv("AUDITOR_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AUDITOR_SCAN__HASH_KEY", "test-key-padded-to-thirty-two-bytes")

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def _file_bytes(db: Path) -> bytes:
    return b"".join(
        p.read_bytes() for p in (db, Path(f"{db}-wal"), Path(f"{db}-journal")) if p.exists()
    )


def test_case_07_purged_text_is_gone_from_the_file(cli, settings: Settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    records = [
        chat_record(f"old-{n}", text, when="2024-03-05T10:00:00Z")
        for n, text in enumerate(SNIPPETS)
    ]
    records.append(chat_record("recent", "KEEP-ME-recent", when="2026-10-05T10:00:00Z"))
    logs = write_jsonl(tmp_path / "logs.jsonl", records)
    code, _out, err = cli("ingest", str(logs), "--format", "openai-chat")
    assert code == 0, err
    db = Path(settings.database.url.removeprefix("sqlite:///"))
    assert sum(s.encode() in _file_bytes(db) for s in SNIPPETS) > 500  # stored as text

    code, out, err = cli("db", "purge", "--days", "365")
    assert code == 0, err
    assert "purged raw text of 600 interaction(s)" in out
    left = [s for s in SNIPPETS if s.encode() in _file_bytes(db)]
    assert left == [], f"{len(left)} purged snippets still readable in the database file"
    assert b"KEEP-ME-recent" in _file_bytes(db)


def _relation_bytes(url: str) -> bytes:
    """The bytes of the interactions table's files on the PostgreSQL server (heap and TOAST),
    read by the server itself after a checkpoint has written its buffers out."""
    from sqlalchemy import text

    from auditor.db.session import make_engine

    engine = make_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("CHECKPOINT"))
            rels = conn.execute(
                text(
                    "SELECT pg_relation_filepath(c.oid), pg_relation_filepath(c.reltoastrelid) "
                    "FROM pg_class c WHERE c.relname = 'interactions'"
                )
            ).one()
            return b"".join(
                conn.execute(text("SELECT pg_read_binary_file(:p)"), {"p": p}).scalar_one()
                for p in rels
                if p
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_purged_text_is_gone_from_postgresql_files(cli, settings: Settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    records = [
        chat_record(f"old-{n}", text, when="2024-03-05T10:00:00Z")
        for n, text in enumerate(SNIPPETS)
    ]
    records.append(chat_record("recent", "KEEP-ME-recent", when="2026-10-05T10:00:00Z"))
    logs = write_jsonl(tmp_path / "logs.jsonl", records)
    code, _out, err = cli("ingest", str(logs), "--format", "openai-chat")
    assert code == 0, err
    url = settings.database.url
    assert sum(s.encode() in _relation_bytes(url) for s in SNIPPETS) > 500  # stored as text

    code, out, err = cli("db", "purge", "--days", "365")
    assert code == 0, err
    assert "purged raw text of 600 interaction(s)" in out
    left = [s for s in SNIPPETS if s.encode() in _relation_bytes(url)]
    assert left == [], f"{len(left)} purged snippets still readable in the table's files"
    assert b"KEEP-ME-recent" in _relation_bytes(url)
