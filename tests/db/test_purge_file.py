"""Case 7 (purge part) of the hardening issue: purged text cannot be read back from the
database file, whatever SQLite's compile-time secure_delete default (it used to: 584 of 600
purged snippets were still in the file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.cli import main
from auditor.config import Settings
from auditor.db.retention import purged_attributes
from auditor.policy.input import oversight
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


def test_case_07_purged_attribute_values_are_gone_from_the_file(  # type: ignore[no-untyped-def]
    cli, settings: Settings, tmp_path: Path
) -> None:
    # Kept metadata values (allow-listed, short) are scanned until purge, then removed with the
    # raw text; a record whose source stored no text at all is purged for its attributes alone.
    records = [
        chat_record(
            f"old-{n}",
            None if n % 2 else "prompt",
            when="2024-03-05T10:00:00Z",
            metadata={"department": text, "human_reviewed": "yes", "reviewer_id": f"r-{n}"},
        )
        for n, text in enumerate(SNIPPETS[:200])
    ]
    records.append(
        chat_record(
            "recent", "x", when="2026-10-05T10:00:00Z", metadata={"department": "KEEP-ME-dept"}
        )
    )
    logs = write_jsonl(tmp_path / "meta.jsonl", records)
    code, _out, err = cli("ingest", str(logs), "--format", "openai-chat")
    assert code == 0, err
    db = Path(settings.database.url.removeprefix("sqlite:///"))
    assert sum(s.encode() in _file_bytes(db) for s in SNIPPETS[:200]) > 150

    code, out, err = cli("db", "purge", "--days", "365")
    assert code == 0, err
    assert "purged raw text of 200 interaction(s)" in out
    left = [s for s in SNIPPETS[:200] if s.encode() in _file_bytes(db)]
    assert left == [], f"{len(left)} purged attribute values still readable in the database file"
    assert b"KEEP-ME-dept" in _file_bytes(db)
    # Idempotent: nothing left to purge.
    code, out, _err = cli("db", "purge", "--days", "365")
    assert "purged raw text of 0 interaction(s)" in out


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({"department": "Payments", "api_requests": 2}, {"api_requests": 2}),
        ({"account_type": "personal"}, {"account_type": "personal"}),
        ({"account_type": "4111 1111 1111 1111"}, {}),  # not spelled as an account type
        ({"reviewer_id": "Jane Doe"}, {"human_reviewed": True}),  # decided, then kept so
        (
            {"human_reviewed": "no", "sent_externally": "yes"},
            {"human_reviewed": False, "output_used_externally": True},
        ),  # fmt: skip
        (
            {"agent_action": "Execute", "approved_by": "u-9"},
            {"agent_action": "execute", "action_approved": True},
        ),  # fmt: skip
        ({"agent_action": "rm -rf 4111111111111111"}, {"agent_action": "other"}),
        ({"unknown_fields": ["note"], "models": ["a", "b"], "flag": True}, {"flag": True}),
        ({"purged_at": "2026-01-01T00:00:00Z", "team": "x"}, {"purged_at": "2026-01-01T00:00:00Z"}),
    ],
)
def test_case_07_purge_keeps_counts_flags_and_decided_facts(
    before: dict[str, object], after: dict[str, object]
) -> None:
    assert purged_attributes(before) == after
    # What the policies read from the attributes is the same before and after purge.
    assert oversight(purged_attributes(before)) == oversight(before)


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


KEPT = "old row version(s) of purged interactions are still in the table's files"


def _purge_until_nothing_is_kept(cli, seconds: float = 120) -> str:  # type: ignore[no-untyped-def]
    """`auditor db purge` again while it reports old row versions kept: a transaction that
    another client (another test run, a benchmark) holds open on the shared server keeps them,
    and the purge says so; once it has ended, the next purge removes them. Returns the last
    purge's stdout."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        code, out, err = cli("db", "purge", "--days", "365")
        assert code == 0, err
        if KEPT not in err or time.monotonic() > deadline:
            assert KEPT not in err, "another transaction on the server stayed open throughout"
            return str(out)
        time.sleep(2)


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
    if KEPT in err:  # another client's open transaction on the shared server
        _purge_until_nothing_is_kept(cli)
    left = [s for s in SNIPPETS if s.encode() in _relation_bytes(url)]
    assert left == [], f"{len(left)} purged snippets still readable in the table's files"
    assert b"KEEP-ME-recent" in _relation_bytes(url)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_transaction_open_elsewhere_on_the_server_is_named_and_a_later_purge_finishes(  # type: ignore[no-untyped-def]
    cli, settings: Settings, tmp_path: Path
) -> None:
    """PostgreSQL keeps old row versions that any open transaction on the server (in any
    database) may still read, even through VACUUM FULL: the purge says how many it had to keep
    instead of claiming the text is gone, and a purge after that transaction ends removes them."""
    from sqlalchemy import text

    from auditor.db.session import make_engine

    records = [
        chat_record(f"old-{n}", s, when="2024-03-05T10:00:00Z") for n, s in enumerate(SNIPPETS)
    ]
    code, _out, err = cli(
        "ingest", str(write_jsonl(tmp_path / "l.jsonl", records)), "--format", "openai-chat"
    )
    assert code == 0, err
    url = settings.database.url
    other = make_engine(url)
    holder = other.connect()
    try:
        holder.execute(text("SELECT txid_current()"))  # an open transaction with an xid
        code, out, err = cli("db", "purge", "--days", "365")
        assert code == 0, err
        assert "purged raw text of 600 interaction(s)" in out
        assert KEPT in err
        assert any(s.encode() in _relation_bytes(url) for s in SNIPPETS)
    finally:
        holder.rollback()
        holder.close()
        other.dispose()
    _purge_until_nothing_is_kept(cli)
    assert not [s for s in SNIPPETS if s.encode() in _relation_bytes(url)]
