"""SQLite and PostgreSQL give the same audit: the demo bank's logs run through `auditor run` on
each, and the stored results agree (the finding ids are hashes of what was found, so equal
sets mean the same findings). Plus what a user sees when the database cannot be used."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auditor.cli import main
from auditor.db import models
from auditor.db.session import make_engine, session_scope
from tests.conftest import chat_record, fresh_postgres_database, write_jsonl

HASH_KEY = "test-key-padded-to-thirty-two-bytes"


@pytest.fixture(scope="module")
def demo_sources(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Path]:
    from auditor.demo.formats import write_sources
    from auditor.demo.generator import generate_demo

    out = tmp_path_factory.mktemp("demo")
    files = generate_demo(out, period="2026-10", seed=7, people=40)
    sources = write_sources(files, out / "sources")
    return [s.path for s in sources], files.people_csv


def _run(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setenv("AUDITOR_DATABASE__URL", url)
    monkeypatch.setenv("AUDITOR_DATA_DIR", str(tmp_path / ".auditor"))
    monkeypatch.setenv("AUDITOR_REPORT__OUTPUT_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("AUDITOR_SCAN__HASH_KEY", HASH_KEY)
    # A configured seed: the same population draws the same sample on either database.
    monkeypatch.setenv("AUDITOR_SAMPLE__SEED", "20261031")
    capsys = sys.modules[__name__]._capsys  # type: ignore[attr-defined]
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(autouse=True)
def _capture(capsys: pytest.CaptureFixture[str]) -> None:
    sys.modules[__name__]._capsys = capsys  # type: ignore[attr-defined]


def _stored(url: str) -> dict[str, object]:
    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            counts = {
                m.__tablename__: s.scalar(select(func.count()).select_from(m))
                for m in (
                    models.Interaction,
                    models.Person,
                    models.SampleItem,
                    models.ScanRecord,
                    models.Detection,
                    models.Decision,
                    models.UsageTier,
                )
            }
            findings = set(s.execute(select(models.Finding.id, models.Finding.status)).all())
            sampled = set(
                s.scalars(
                    select(models.Interaction.event_id).join(
                        models.SampleItem,
                        models.SampleItem.interaction_id == models.Interaction.id,
                    )
                )
            )
    finally:
        engine.dispose()
    return {"counts": counts, "findings": findings, "sampled": sampled}


def test_the_demo_month_audits_the_same_on_sqlite_and_postgresql(
    postgres_server: str,
    demo_sources: tuple[list[Path], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    paths, people = demo_sources
    args = ["run", *map(str, paths), "--people", str(people), "--period", "2026-10"]
    sqlite_url = f"sqlite:///{tmp_path / 'lite' / 'auditor.db'}"
    code, out, err = _run(sqlite_url, tmp_path / "lite", monkeypatch, *args)
    assert code == 3, err
    with fresh_postgres_database(postgres_server) as pg_url:
        code, out, err = _run(pg_url, tmp_path / "pg", monkeypatch, *args)
        assert code == 3, err
        assert "report:" in out
        on_pg = _stored(pg_url)
        # A second run on PostgreSQL adds nothing, and says nothing new was delivered.
        code, out, err = _run(pg_url, tmp_path / "pg", monkeypatch, *args)
        assert code == 6, err
        assert _stored(pg_url) == on_pg
    on_sqlite = _stored(sqlite_url)
    assert on_pg["counts"] == on_sqlite["counts"]
    assert on_pg["sampled"] == on_sqlite["sampled"]
    assert on_pg["findings"] == on_sqlite["findings"] and on_pg["findings"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql+psycopg://postgres@127.0.0.1:1/test", "cannot connect to the database"),
        ("postgres://postgres@127.0.0.1:1/test", "postgresql+psycopg://postgres@127.0.0.1:1"),
        ("postgresql://no_such_role_x@127.0.0.1:5432/test", "cannot connect to the database"),
    ],
)
def test_an_unreachable_database_is_one_line_with_the_fix(
    url: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _out, err = _run(url, tmp_path, monkeypatch, "db", "upgrade")
    assert code == 1
    lines = err.strip().splitlines()
    assert lines[0].startswith("error: cannot connect to the database") and expected in lines[0]
    assert lines[1].startswith("hint: check database.url")
    assert "internal error" not in err and "Traceback" not in err


def test_a_missing_driver_says_which_extra_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg raises ImportError
    code, _out, err = _run(
        "postgresql://postgres@127.0.0.1:5432/test", tmp_path, monkeypatch, "db", "upgrade"
    )
    assert code == 1
    assert "error: database.url cannot be used: the driver psycopg is not installed" in err
    assert "pip install 'ai-usage-auditor[postgres]'" in err


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("postgres://u@h:5432/db", "postgresql+psycopg://u@h:5432/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///a.db", "sqlite:///a.db"),
    ],
)
def test_postgres_urls_name_the_psycopg_driver(given: str, normalised: str) -> None:
    from auditor.config import load_settings

    assert load_settings(None, database={"url": given}).database.url == normalised


@pytest.mark.both_databases
def test_nul_and_odd_characters_are_stored_and_purged_on_both(
    session: Session, tmp_path: Path
) -> None:
    """PostgreSQL refuses NUL in text (and \\u0000 in jsonb) where SQLite takes it: a record
    carrying them in any field is stored on both, and purge still works on it."""
    from auditor.db.retention import purge_raw_text
    from auditor.ingest.stage import ingest_paths

    odd = "a\x00b \u0000 \\u0000 \ud7ff \U0001f600 ' \" \\ \t"
    recs = [
        chat_record(
            f"nul-{odd}",
            f"Prompt {odd}",
            user=f"u{odd}",
            email=f"x{odd}@b.example",
            tool=f"tool{odd}",
            workflow=f"w{odd}",
            when="2024-01-05T10:00:00Z",
            extra_field={"k\x00": f"v{odd}"},
        ),
        chat_record("plain", "Hello", when="2024-01-05T10:00:00Z"),
    ]
    [result] = ingest_paths(
        session, [write_jsonl(tmp_path / "odd.jsonl", recs)], "openai-chat", max_line_bytes=1 << 20
    )
    assert (result.loaded, result.rejected, result.skipped) == (2, 0, None), result
    assert purge_raw_text(session, datetime(2025, 1, 1), now=datetime(2026, 11, 1)) == 2
    rows = session.scalars(select(models.Interaction)).all()
    assert all(r.prompt_text is None and "purged_at" in r.attributes for r in rows)
