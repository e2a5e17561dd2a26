"""`--format litellm-db`: LiteLLM's `LiteLLM_SpendLogs` table read from a real PostgreSQL
database, created with LiteLLM's own column names and types, incrementally: nothing missed
and nothing stored twice across reads, late rows within the lag read, a row beyond the lag
named and picked up by a re-read from a date; errors are one line naming the source, never
its password. The auditor's own database side runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from auditor.db.models import IngestRejection, Interaction, SourceFile, SourceWatermark
from auditor.ingest.litellm_db import DatabaseSource, SourceError, read_spend_logs
from auditor.ingest.stage import FileResult, IngestLimits
from tests.conftest import DATA, fresh_postgres_database

# The table as LiteLLM's Prisma migrations create it, with LiteLLM's column names and types.
SPEND_LOGS_DDL = (DATA / "litellm_spend_logs.sql").read_text()

NOW = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 10, 20, 6, 0)  # naive UTC, as the proxy writes startTime


@dataclass
class SpendLogs:
    """A LiteLLM database holding the spend-log table, and a way to add rows to it."""

    url: str

    def insert(self, rows: list[dict[str, Any]]) -> None:
        engine = create_engine(self.url)
        try:
            with engine.begin() as conn:
                for row in rows:
                    cols = ", ".join(f'"{k}"' for k in row)
                    marks = ", ".join(
                        f"CAST(:{k} AS JSONB)" if isinstance(v, dict | list) else f":{k}"
                        for k, v in row.items()
                    )
                    params = {
                        k: json.dumps(v) if isinstance(v, dict | list) else v
                        for k, v in row.items()
                    }
                    conn.execute(
                        text(f'INSERT INTO "LiteLLM_SpendLogs" ({cols}) VALUES ({marks})'), params
                    )
        finally:
            engine.dispose()


def spend_row(n: int, start: datetime, *, user: str = "u00001") -> dict[str, Any]:
    """One row as the proxy writes it with `store_prompts_in_spend_logs` on."""
    return {
        "request_id": f"chatcmpl-{n:05d}",
        "call_type": "acompletion",
        "api_key": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
        "spend": 0.00012 * n,
        "total_tokens": 30 + n,
        "prompt_tokens": 20,
        "completion_tokens": 10 + n,
        "startTime": start,
        "endTime": start + timedelta(seconds=2),
        "completionStartTime": start + timedelta(seconds=1),
        "model": "gpt-4o",
        "model_group": "gpt-4o",
        "custom_llm_provider": "openai",
        "api_base": "https://api.openai.com/v1",
        "user": "svc-drafting",
        "metadata": {
            "user_api_key_alias": "drafting-assistant",
            "user_api_key_user_id": "svc-drafting",
            "spend_logs_metadata": {"workflow": "internal_drafting"},
        },
        "cache_hit": "False",
        "cache_key": "",
        "request_tags": ["workflow:internal_drafting"],
        "team_id": "team-ops",
        "end_user": user,
        "requester_ip_address": "10.1.2.3",
        "messages": [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": f"Draft note number {n} about the quarterly plan."},
        ],
        "response": {"choices": [{"message": {"role": "assistant", "content": f"Draft {n}."}}]},
        "session_id": f"sess-{n % 3}",
        "status": "success",
        "proxy_server_request": {},
    }


@pytest.fixture
def spend_logs(postgres_server: str) -> Iterator[SpendLogs]:
    """A fresh PostgreSQL database with LiteLLM's spend-log table, empty."""
    with fresh_postgres_database(postgres_server) as url:
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(SPEND_LOGS_DDL)
        finally:
            engine.dispose()
        yield SpendLogs(url)


def _read(session: Session, source: DatabaseSource) -> FileResult:
    return read_spend_logs(
        session, source, limits=IngestLimits(), commit=session.commit, now=NOW, run_id="R-test"
    )


def _stored(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(Interaction.event_id)
            .where(Interaction.source_format == "litellm")
            .order_by(Interaction.event_id)
        )
    )


@pytest.mark.both_databases
def test_incremental_reads_miss_nothing_and_store_nothing_twice(
    backend: str, session: Session, spend_logs: SpendLogs
) -> None:
    source = DatabaseSource(spend_logs.url, lag=timedelta(minutes=60), name="gateway-db")
    spend_logs.insert([spend_row(n, T0 + timedelta(minutes=5 * n)) for n in range(30)])

    first = _read(session, source)
    assert (first.total, first.loaded, first.duplicate, first.rejected) == (30, 30, 0, 0)
    assert first.reconciles
    assert first.watermark is not None
    assert first.watermark["before"] is None
    last_start = T0 + timedelta(minutes=5 * 29)  # 08:25
    assert first.watermark["after"] == {
        "startTime": last_start.isoformat(),
        "request_id": "chatcmpl-00029",
    }

    # Then: ten new rows; a row written late, dated 20 minutes before the watermark (within
    # the 60-minute lag); a row written very late, dated 3 hours before it (beyond the lag);
    # and a row dated after the read (a clock ahead), left for a later read.
    spend_logs.insert(
        [spend_row(100 + n, last_start + timedelta(minutes=1 + n)) for n in range(10)]
        + [
            spend_row(200, last_start - timedelta(minutes=20)),
            spend_row(300, last_start - timedelta(hours=3)),
            spend_row(400, NOW.replace(tzinfo=None) + timedelta(hours=2)),
        ]
    )
    second = _read(session, source)
    # Read again from 07:25: the 13 rows of the lag window read before (07:25 ... 08:25)
    # are duplicates, the late row within the lag and the ten new rows are stored.
    assert second.total == 13 + 1 + 10
    assert (second.loaded, second.duplicate, second.rejected) == (11, 13, 0)
    assert second.reconciles
    assert second.watermark is not None
    assert second.watermark["reread_within_lag"] == 14
    assert second.watermark["late_within_lag"] == 1
    # The row beyond the lag was not read, and is named, not lost silently.
    assert second.watermark["beyond_lag"] == 1
    assert second.watermark["dated_after_read"] == 1
    assert "chatcmpl-00300" not in _stored(session)
    assert second.watermark["after"]["request_id"] == "chatcmpl-00109"

    # A third read with nothing new: only duplicates, no new warning.
    third = _read(session, source)
    assert (third.loaded, third.rejected) == (0, 0)
    assert third.watermark is not None and third.watermark["beyond_lag"] == 0

    # The fix the line names: read again from the day; only the missing row is stored.
    again = DatabaseSource(source.url, lag=source.lag, name="gateway-db", since=date(2026, 10, 20))
    fourth = _read(session, again)
    assert (fourth.loaded, fourth.rejected) == (1, 0)
    assert fourth.duplicate == 41
    assert fourth.watermark is not None
    assert fourth.watermark["after"] == second.watermark["after"]  # never moved back

    stored = _stored(session)
    assert len(stored) == len(set(stored)) == 42  # every row dated up to now, once
    mark = session.get(SourceWatermark, source.key)
    assert mark is not None
    assert mark.position_id == "chatcmpl-00109"
    assert mark.records_read == first.total + second.total + third.total + fourth.total
    # Rows carry the same normalization as the export reader: end user, key alias as tool,
    # workflow from the request metadata, tokens, cost.
    row = session.scalars(select(Interaction).where(Interaction.event_id == "chatcmpl-00007")).one()
    assert (row.user_id, row.tool, row.workflow, row.model, row.provider) == (
        "u00001",
        "drafting-assistant",
        "internal_drafting",
        "gpt-4o",
        "openai",
    )
    assert (row.input_tokens, row.output_tokens, row.content_status) == (20, 17, "present")
    assert row.occurred_at == T0 + timedelta(minutes=35)
    names = set(session.scalars(select(SourceFile.source_name)))
    assert names == {"gateway-db"}


@pytest.mark.both_databases
def test_an_interrupted_read_keeps_its_committed_chunks(
    backend: str, session: Session, spend_logs: SpendLogs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("auditor.ingest.litellm_db.CHUNK", 4)
    spend_logs.insert([spend_row(n, T0 + timedelta(minutes=n)) for n in range(10)])
    source = DatabaseSource(spend_logs.url)
    commits = 0

    def stop_after_two_chunks() -> None:
        nonlocal commits
        session.commit()
        commits += 1
        if commits == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        read_spend_logs(session, source, commit=stop_after_two_chunks, now=NOW)
    session.rollback()
    assert len(_stored(session)) == 8
    mark = session.get(SourceWatermark, source.key)
    assert mark is not None and mark.position_id == "chatcmpl-00007"
    again = _read(session, source)
    assert (again.loaded, again.duplicate) == (2, 8)  # the lag window re-read, not re-stored
    assert _stored(session) == [f"chatcmpl-{n:05d}" for n in range(10)]


def test_a_bad_row_is_rejected_by_request_id_and_the_rest_load(
    session: Session, spend_logs: SpendLogs
) -> None:
    bad = spend_row(1, T0)
    bad["end_user"] = None
    bad["user"] = None
    bad["metadata"] = {}
    spend_logs.insert([spend_row(0, T0), bad, spend_row(2, T0 + timedelta(minutes=1))])
    result = _read(session, DatabaseSource(spend_logs.url))
    assert (result.total, result.loaded, result.rejected) == (3, 2, 1)
    reason = session.scalars(select(IngestRejection.reason)).one()
    assert reason.startswith("request_id chatcmpl-00001: no user identity")


def _password_url(url: str, password: str, **changes: Any) -> str:
    return make_url(url).set(password=password, **changes).render_as_string(hide_password=False)


@dataclass(frozen=True)
class Broken:
    name: str
    make: Callable[[str], str]  # the admin URL -> the source URL to read
    message: str
    hint: str


@pytest.mark.parametrize(
    "case",
    [
        Broken(
            "unreachable",
            lambda admin: _password_url(admin, "s3cret-pw", port=1),
            "cannot connect to the source postgresql://postgres@127.0.0.1:1/",
            "check the source URL",
        ),
        Broken(
            "no such database",
            lambda admin: _password_url(admin, "s3cret-pw", database="no_litellm_here"),
            "cannot connect to the source postgresql://postgres@127.0.0.1:5432/no_litellm_here",
            "check the source URL",
        ),
        Broken(
            "no table",
            lambda admin: _password_url(admin, "s3cret-pw"),
            'has no table "LiteLLM_SpendLogs"',
            "point the source at the LiteLLM proxy's own database",
        ),
    ],
    ids=lambda c: c.name,
)
def test_errors_name_the_source_and_the_fix_never_the_password(
    session: Session, postgres_server: str, case: Broken
) -> None:
    with fresh_postgres_database(postgres_server) as url:
        source = DatabaseSource(case.make(url))
        with pytest.raises(SourceError) as info:
            _read(session, source)
    err = info.value
    assert case.message in err.message
    assert err.hint is not None and case.hint in err.hint
    assert "s3cret-pw" not in str(err) and "\n" not in err.message


def test_a_table_without_litellm_columns_is_refused(session: Session, postgres_server: str) -> None:
    with fresh_postgres_database(postgres_server) as url:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql('CREATE TABLE "LiteLLM_SpendLogs" (request_id TEXT, spend FLOAT)')
        engine.dispose()
        with pytest.raises(SourceError) as info:
            _read(session, DatabaseSource(url))
    assert 'has no column "call_type", "startTime"' in info.value.message


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite:///litellm.db", "is not PostgreSQL"),
        ("mysql://root@db/litellm", "is not PostgreSQL"),
        ("not a url", "is not a database URL"),
    ],
)
def test_only_postgresql_sources(session: Session, url: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        _read(session, DatabaseSource(url))


def test_the_watermark_key_has_no_password() -> None:
    source = DatabaseSource("postgres://auditor_ro:pw-123@gw-db:5432/litellm")
    assert source.display == "postgresql://auditor_ro@gw-db:5432/litellm"
    assert source.key == "litellm-db postgresql://auditor_ro@gw-db:5432/litellm"
    assert "pw-123" not in source.scrub("login for pw-123 failed")


def test_nothing_read_from_an_empty_table_leaves_no_watermark(
    session: Session, spend_logs: SpendLogs
) -> None:
    result = _read(session, DatabaseSource(spend_logs.url))
    assert (result.total, result.sha256) == (0, "")
    assert session.scalar(select(func.count()).select_from(SourceWatermark)) == 0
    assert session.scalar(select(func.count()).select_from(SourceFile)) == 0


@pytest.mark.both_databases
def test_cli_reads_incrementally_and_the_ledger_keeps_the_watermark(
    backend: str,
    settings: Any,
    spend_logs: SpendLogs,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from auditor.cli import main
    from auditor.db.models import Run
    from auditor.db.session import make_engine, session_scope

    monkeypatch.setenv("AUDITOR_DATABASE__URL", settings.database.url)
    monkeypatch.setenv("AUDITOR_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("COLUMNS", "200")
    # Trust authentication ignores the password: it must still never be shown or stored.
    url = _password_url(spend_logs.url, "s3cret-pw")
    today = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    spend_logs.insert([spend_row(n, today - timedelta(hours=5, minutes=n)) for n in range(5)])

    assert main(["ingest", "--source", url, "--format", "litellm-db", "--lag", "30"]) == 0
    first = capsys.readouterr()
    spend_logs.insert([spend_row(10, today - timedelta(hours=1))])
    assert main(["ingest", "--source", url]) == 0
    second = capsys.readouterr()
    # The 60-minute lag window behind the watermark is read again: duplicates, not stored.
    assert "read 6 = stored 1 + duplicates 5 + rejected 0" in second.out
    assert "s3cret-pw" not in first.out + first.err + second.out + second.err
    assert "watermark" in second.err and "chatcmpl-00010" in second.err

    engine = make_engine(settings.database.url)
    try:
        with session_scope(engine) as s:
            runs = list(s.scalars(select(Run).order_by(Run.started_at)))
            stored = s.scalar(select(func.count()).select_from(Interaction))
    finally:
        engine.dispose()
    assert stored == 6
    assert [r.outcome for r in runs] == ["completed", "completed"]
    entry = runs[1].files[0]
    assert entry["path"].startswith("postgresql://postgres@127.0.0.1:5432/")
    assert entry["watermark"]["before"]["request_id"] == "chatcmpl-00000"
    assert entry["watermark"]["after"]["request_id"] == "chatcmpl-00010"
    assert (entry["total"], entry["loaded"], entry["duplicate"]) == (6, 1, 5)
    ledger = json.dumps([[r.arguments, r.files, r.counts, r.error] for r in runs])
    assert "s3cret-pw" not in ledger


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "litellm-db", "logs"], "litellm-db reads a database"),
        (["--source", "postgresql://x@h/db", "--format", "litellm"], "is read with --format"),
        (["--source", "postgresql://x@h/db", "logs"], "not both"),
        (["--source", "postgresql://x@h/db", "--since", "last week"], "YYYY-MM-DD"),
    ],
)
def test_cli_usage_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    from auditor.cli import main

    monkeypatch.setenv("COLUMNS", "300")
    assert main(["ingest", *args]) == 2
    assert message in " ".join(capsys.readouterr().err.replace("│", " ").split())


@pytest.mark.both_databases
def test_auditor_run_reads_a_declared_database_source(
    backend: str,
    settings: Any,
    spend_logs: SpendLogs,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
) -> None:
    from auditor.cli import main
    from auditor.db.models import Run
    from auditor.db.session import make_engine, session_scope

    monkeypatch.setenv("AUDITOR_DATABASE__URL", settings.database.url)
    monkeypatch.setenv("AUDITOR_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AUDITOR_REPORT__OUTPUT_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("AUDITOR_SCAN__HASH_KEY", "test-key-padded-to-thirty-two-bytes")
    monkeypatch.setenv("COLUMNS", "200")
    config = tmp_path / "auditor.toml"
    url = _password_url(spend_logs.url, "s3cret-pw")
    config.write_text(f'[[sources.feed]]\nname = "litellm"\nurl = "{url}"\nlag_minutes = 60\n')
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    spend_logs.insert([spend_row(n, now - timedelta(hours=2, minutes=n)) for n in range(4)])

    code = main(["--config", str(config), "run"])
    first = capsys.readouterr()
    assert code in (0, 3), first.err
    # A row the proxy wrote three hours late: beyond the lag, named, exit 7.
    spend_logs.insert([spend_row(9, now - timedelta(hours=5))])
    code = main(["--config", str(config), "run"])
    second = capsys.readouterr()
    assert code == 7, second.err
    assert "1 row(s) arrived more than the lag after the watermark" in second.err
    assert "s3cret-pw" not in first.out + first.err + second.out + second.err

    engine = make_engine(settings.database.url)
    try:
        with session_scope(engine) as s:
            runs = list(s.scalars(select(Run).order_by(Run.started_at)))
            stored = s.scalar(select(func.count()).select_from(Interaction))
    finally:
        engine.dispose()
    assert stored == 4
    assert runs[0].files[0]["loaded"] == 4 and runs[0].files[0]["format"] == "litellm-db"
    assert runs[1].outcome == "delivery_short" and runs[1].counts["records_beyond_lag"] == 1
    delivered = runs[1].counts["sources"]["litellm"]
    assert delivered["records_beyond_lag"] == 1
    assert delivered["watermark"]["request_id"] == "chatcmpl-00000"
    assert "s3cret-pw" not in json.dumps([[r.arguments, r.files, r.counts] for r in runs])
