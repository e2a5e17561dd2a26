"""The report's Control operation section and report versions, on SQLite and PostgreSQL.

Which runs of the ledger a period's report lists (a table of runs), the sentence that sums
them up, secrets masked in what it shows, what changed between two versions' inputs; and,
end to end through the CLI: `auditor run` twice (the second with new data) leaves v1 and v2,
both recorded with distinct digests and both verifying, a rerun with nothing new renders
nothing, `auditor report` and `db purge` are listed, and the JSON report carries the section.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.cli import main
from auditor.config import Settings, load_settings
from auditor.db.models import ReportRecord, Run
from auditor.db.session import make_engine, session_scope
from auditor.report.operation import build_operation, mask_secrets, period_runs
from auditor.report.versions import changes_between, file_name
from tests.conftest import DATA, chat_record, write_jsonl
from tests.report.test_writers import load_schema, validate

PEOPLE = str(DATA / "people" / "people.csv")
PERIOD = "2026-10"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Settings:
    """The suite's settings on the test's backend (tests/report's own `settings` has no
    database: these tests read and write the ledger on SQLite and PostgreSQL)."""
    monkeypatch.chdir(tmp_path)
    for var in ("AUDITOR_CONFIG", "AUDITOR_DATABASE__URL"):
        monkeypatch.delenv(var, raising=False)
    return load_settings(
        None,
        data_dir=str(tmp_path / ".auditor"),
        database={"url": database_url},
        scan={"hash_key": "test-key-not-secret-padded-to-32-bytes"},
        report={"output_dir": str(tmp_path / "reports")},
    )


def _pseudonym(user_id: str | None) -> str:
    return "P-" + hashlib.sha256((user_id or "").encode()).hexdigest()[:10]


def _run(
    run_id: str,
    *,
    command: str = "run",
    periods: list[str] | None = None,
    started: datetime,
    ended: datetime | None = None,
    outcome: str = "completed",
    exit_code: int | None = 0,
    arguments: dict[str, Any] | None = None,
    counts: dict[str, Any] | None = None,
    error: str | None = None,
) -> Run:
    return Run(
        id=run_id,
        command=command,
        arguments=arguments or {},
        periods=periods if periods is not None else [PERIOD],
        started_at=started,
        ended_at=ended if ended is not None or outcome == "running" else started,
        host="batch-01",
        os_user="cron",
        pid=1,
        version="0",
        config_digest="0" * 64,
        outcome=outcome,
        exit_code=exit_code,
        error=error,
        files=[],
        counts=counts or {},
    )


# The ledger a month of scheduled operation leaves, and whether each run is listed under
# 2026-10: named periods, the run rendering the report, purges by their cut-off, and runs that
# named no period by whether they started while 2026-10 was being audited.
def _ledger() -> list[tuple[Run, bool]]:
    return [
        (
            _run("R-a-first", started=datetime(2026, 11, 1, 6), outcome="findings_await_review"),
            True,
        ),
        (_run("R-b-september", periods=["2026-09"], started=datetime(2026, 11, 1, 7)), False),
        (
            _run(
                "R-c-refused",
                periods=[],
                started=datetime(2026, 11, 1, 6, 1),
                outcome="refused",
                exit_code=5,
                error="RunLockedError: another run is in progress",
            ),
            True,
        ),
        (
            _run(
                "R-d-killed",
                started=datetime(2026, 11, 2, 6),
                ended=None,
                outcome="interrupted",
                exit_code=None,
            ),
            True,
        ),
        (_run("R-e-next", started=datetime(2026, 11, 3, 6)), True),
        (
            _run(
                "R-f-purge-old",
                command="db purge",
                periods=[],
                started=datetime(2026, 11, 3, 7),
                counts={"purged": 4, "before": "2026-09-15T00:00:00"},
            ),
            False,
        ),
        (
            _run(
                "R-g-purge-ours",
                command="db purge",
                periods=[],
                started=datetime(2026, 11, 3, 8),
                counts={"purged": 9, "before": "2026-10-20T00:00:00"},
            ),
            True,
        ),
        (
            _run(
                "R-h-purge-recorded",
                command="db purge",
                periods=["2026-09", PERIOD],
                started=datetime(2026, 11, 3, 9),
                counts={"purged": 2},
            ),
            True,
        ),
        (
            _run(
                "R-i-refused-later",
                periods=[],
                started=datetime(2026, 12, 5, 6),
                outcome="refused",
                exit_code=5,
            ),
            False,
        ),
        (
            _run("R-j-current", periods=[], started=datetime(2026, 11, 4, 6), outcome="running"),
            True,
        ),
    ]


@pytest.mark.both_databases
def test_the_section_lists_the_runs_that_touched_the_period(session: Session) -> None:
    ledger = _ledger()
    for run, _ in ledger:
        session.add(run)
    session.flush()
    listed = [r.id for r in period_runs(session, PERIOD, current_run="R-j-current")]
    expected = sorted((r for r, touched in ledger if touched), key=lambda r: r.started_at)
    assert listed == [r.id for r in expected]
    # Without being the run rendering the report, a run that names no period is listed only
    # within the window of the runs that did.
    assert "R-j-current" in listed
    section = build_operation(
        session,
        PERIOD,
        generated_at=datetime(2026, 11, 4, 6, 5, tzinfo=UTC),
        pseudonymize=_pseudonym,
        current_run="R-j-current",
    )
    assert [r.id for r in section.runs] == listed
    assert (section.finished, section.interrupted, section.refused) == (4, 1, 1)
    this = next(r for r in section.runs if r.this_run)
    assert this.id == "R-j-current" and this.outcome == "running" and this.note
    assert next(r for r in section.runs if r.id == "R-g-purge-ours").purged == 9
    assert section.statement.startswith("7 runs touched 2026-10 (db purge: 2, run: 5)")
    assert "1 was interrupted, and a later run completed the work" in section.statement
    assert "1 was refused because another run held the lock" in section.statement
    assert "this report was rendered by R-j-current" in section.statement


STATEMENTS = [
    # (outcomes of the period's runs in order, what the sentence says)
    ([], "No run in the ledger touched 2026-10"),
    (
        ["completed"],
        "1 run touched 2026-10 (run: 1); the last to finish, R-0, ended at 2026-11-01 06:00 UTC "
        "(completed)",
    ),
    (["completed", "interrupted"], "1 was interrupted, and no later run of the same command"),
    (["interrupted", "no_new_data"], "1 was interrupted, and a later run completed the work"),
    (["failed", "failed", "completed"], "2 failed, and a later run completed the work"),
    (["failed", "completed", "failed"], "2 failed, 1 of them completed by a later run"),
    (["failed"], "none has finished; 1 failed, and no later run"),
    (["refused", "refused", "findings_await_review"], "2 were refused because another run"),
]


@pytest.mark.both_databases
@pytest.mark.parametrize(("outcomes", "expected"), STATEMENTS)
def test_the_statement_sums_up_the_runs(
    session: Session, outcomes: list[str], expected: str
) -> None:
    for i, outcome in enumerate(outcomes):
        session.add(_run(f"R-{i}", started=datetime(2026, 11, 1, 6 + i), outcome=outcome))
    session.flush()
    section = build_operation(
        session, PERIOD, generated_at=datetime(2026, 11, 2, tzinfo=UTC), pseudonymize=_pseudonym
    )
    assert expected in section.statement


SECRETS = [
    ("postgresql://auditor:s3cret-pw@db.bank:5432/litellm", "postgresql://auditor:***@db"),
    ("postgresql+psycopg://u:p%40ss@h/db", "postgresql+psycopg://u:***@h/db"),
    ("sqlite:////var/lib/auditor/auditor.db", "sqlite:////var/lib/auditor/auditor.db"),
    ("/data/logs/gateway-2026-10.jsonl", "/data/logs/gateway-2026-10.jsonl"),
    ("connect to mysql://root:hunter2@10.0.0.1/x failed", "mysql://root:***@10.0.0.1/x"),
]


@pytest.mark.parametrize(("text", "shown"), SECRETS)
def test_a_url_password_is_masked(text: str, shown: str) -> None:
    masked = mask_secrets(text)
    assert shown in masked
    for secret in ("s3cret-pw", "p%40ss", "hunter2"):
        assert secret not in masked


@pytest.mark.both_databases
def test_no_password_nor_person_id_reaches_the_section(session: Session) -> None:
    session.add(
        _run(
            "R-litellm",
            command="ingest",
            arguments={
                "manager": "u76415",
                "source": "postgresql://litellm:pa55word@gw/litellm",
                "format": "litellm-db",
                "database_password": "pa55word",
            },
            error="AuditorError: cannot read postgresql://litellm:pa55word@gw/litellm",
            outcome="failed",
            exit_code=1,
            started=datetime(2026, 11, 1),
        )
    )
    session.flush()
    section = build_operation(
        session, PERIOD, generated_at=datetime(2026, 11, 2, tzinfo=UTC), pseudonymize=_pseudonym
    )
    [row] = section.runs
    assert "pa55word" not in repr(section) and "u76415" not in repr(section)
    assert f"manager={_pseudonym('u76415')}" in row.arguments
    assert "source=postgresql://litellm:***@gw/litellm" in row.arguments
    assert "database_password=***" in row.arguments and "litellm:***@gw" in (row.note or "")


BASE: dict[str, Any] = {
    "interactions": 10,
    "scan_records": 8,
    "detections": 3,
    "decisions": 16,
    "findings": 2,
    "findings_by_status": {"open": 2},
    "review_events": 0,
    "people": 40,
    "policy_revision": "aaaaaaaaaaaaaaaa",
    "scanner_revision": "s1",
    "sample": "S-1",
    "purges": ["R-p1"],
    "directory": "d1",
    "tiers": {"light": 3},
    "report_settings": "r1",
    "auditor_version": "0.1.0",
}
CHANGES = [
    ({}, []),
    ({"interactions": 12}, ["2 new interactions (12 in all)"]),
    ({"interactions": 11, "decisions": 18}, ["1 new interaction", "2 new policy decisions"]),
    (
        {"review_events": 1, "findings_by_status": {"open": 1, "confirmed": 1}},
        ["1 new review event", "finding statuses: confirmed 0 → 1, open 2 → 1"],
    ),
    ({"policy_revision": "bbbbbbbbbbbbbbbbbbbb"}, ["policy revision aaaaaaaaaaaa → bbbbbbbbbbbb"]),
    ({"scanner_revision": "s2", "sample": "S-2"}, ["scanner revision s1 → s2", "sample S-1 → S-2"]),
    ({"purges": ["R-p1", "R-p2"]}, ["raw text of the period purged by R-p2"]),
    ({"directory": "d2"}, ["the people directory was changed"]),
    ({"report_settings": "r2"}, ["the report settings were changed"]),
]


@pytest.mark.parametrize(("after", "texts"), CHANGES)
def test_what_changed_between_two_versions(after: dict[str, Any], texts: list[str]) -> None:
    changes = changes_between(BASE, {**BASE, **after})
    said = [c.text for c in changes]
    for text in texts:
        assert any(text in s for s in said), said
    if not texts:
        assert changes == ()


@pytest.mark.parametrize(
    ("fmt", "packet", "version", "name"),
    [
        ("html", None, 1, "audit-2026-10.html"),
        ("html", None, 2, "audit-2026-10.v2.html"),
        ("json", None, 3, "audit-2026-10.v3.json"),
        ("csv", None, 2, "audit-2026-10.v2-findings.csv"),
        ("ocsf", None, 2, "audit-2026-10.v2.ocsf.jsonl"),
        ("html", "manager-P-0123456789", 2, "audit-2026-10-manager-P-0123456789.v2.html"),
    ],
)
def test_version_file_names(fmt: str, packet: str | None, version: int, name: str) -> None:
    assert file_name(PERIOD, fmt, packet, version) == name


# --------------------------------------------------------------------------- end to end


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUDITOR_DATABASE__URL", settings.database.url)
    monkeypatch.setenv("AUDITOR_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AUDITOR_REPORT__OUTPUT_DIR", str(settings.data_dir / "reports"))
    monkeypatch.setenv("AUDITOR_SCAN__HASH_KEY", "test-key-padded-to-thirty-two-bytes")
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def _records(settings: Settings) -> list[ReportRecord]:
    engine = make_engine(settings.database.url)
    try:
        with session_scope(engine) as s:
            return list(s.scalars(select(ReportRecord).order_by(ReportRecord.id)))
    finally:
        engine.dispose()


def _runs(settings: Settings) -> list[Run]:
    engine = make_engine(settings.database.url)
    try:
        with session_scope(engine) as s:
            return list(s.scalars(select(Run).order_by(Run.started_at, Run.id)))
    finally:
        engine.dispose()


def _section_text(page: str) -> str:
    start = page.index('<section id="operation">')
    body = page[start : page.index("</section>", start)]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


@pytest.mark.both_databases
def test_run_twice_keeps_v1_and_v2_with_their_digests_and_both_verify(  # type: ignore[no-untyped-def]
    cli, settings: Settings, tmp_path: Path
) -> None:
    logs = tmp_path / "delivery"
    logs.mkdir()
    write_jsonl(
        logs / "a.jsonl",
        [chat_record("e1", "Summarise rates.", tool="deepseek-chat"), chat_record("e2", "Hi")],
    )
    reports = settings.data_dir / "reports"

    code, out, err = cli("run", str(logs), "--people", PEOPLE)
    assert code == 3, err
    v1 = reports / "audit-2026-10.html"
    assert f"report: {v1}" in out and v1.is_file()

    # Nothing new: no new version, the ledger says the report is unchanged.
    code, out, err = cli("run", str(logs))
    assert code == 6, err
    assert "unchanged" in out and not (reports / "audit-2026-10.v2.html").exists()
    second = _runs(settings)[1]
    assert second.counts["periods"][PERIOD]["report_status"] == "unchanged"
    assert second.counts["periods"][PERIOD]["report_version"] == 1

    # New data for the period: v2, v1 kept as it was.
    v1_bytes = v1.read_bytes()
    write_jsonl(logs / "b.jsonl", [chat_record("e3", "Write a haiku about spreadsheets.")])
    code, out, err = cli("run", str(logs))
    assert code == 0, err
    v2 = reports / "audit-2026-10.v2.html"
    assert f"report: {v2} (v2)" in out and v1.read_bytes() == v1_bytes
    runs = _runs(settings)
    third = runs[2]
    assert third.counts["periods"][PERIOD]["report_status"] == "rendered"
    assert third.counts["periods"][PERIOD]["report_version"] == 2

    records = _records(settings)
    assert [(r.series, r.version, Path(r.path).name) for r in records] == [
        ("audit-2026-10.html", 1, "audit-2026-10.html"),
        ("audit-2026-10.html", 2, "audit-2026-10.v2.html"),
    ]
    assert records[0].sha256 != records[1].sha256
    assert records[1].run_id == third.id and records[0].run_id == runs[0].id
    assert records[1].inputs["interactions"] == 3 and records[0].inputs["interactions"] == 2
    for path in (v1, v2):
        code, out, err = cli("verify", str(path))
        assert code == 0, err + out
        assert "database record: ok" in out

    page = v2.read_text(encoding="utf-8")
    section = _section_text(page)
    for run in runs:
        assert run.id in section
    assert "3 runs touched 2026-10 (run: 3)" in section
    assert "Version 2 of audit-2026-10.html, after v1 (audit-2026-10.html)" in section
    assert "1 new interaction (3 in all)" in section
    assert records[0].sha256 in section  # v2 names the digest of the version it follows
    assert "auditor verify audit-2026-10.v2.html" in page
    assert "Summarise rates" not in page and "haiku" not in page

    # An explicit `auditor report` is a run of its own and a new version of its series.
    code, out, err = cli("report", "--period", PERIOD, "--format", "json")
    assert code == 0, err
    data = json.loads((reports / "audit-2026-10.json").read_text(encoding="utf-8"))
    assert data["version"]["number"] == 1 and data["version"]["series"] == "audit-2026-10.json"
    schema = load_schema()
    assert validate(data, schema, schema) == []
    report_run = _runs(settings)[-1]
    assert (report_run.command, report_run.outcome, report_run.periods) == (
        "report",
        "completed",
        [PERIOD],
    )
    assert report_run.counts["report_version"] == 1
    listed = [r["id"] for r in data["operation"]["runs"]]
    assert listed == [r.id for r in _runs(settings)]
    assert data["operation"]["runs"][-1]["this_run"] is True

    # The CSV format carries the section beside the findings: one row per run, signed too.
    code, out, err = cli("report", "--period", PERIOD, "--format", "csv")
    assert code == 0, err
    runs_csv = reports / "audit-2026-10-runs.csv"
    with runs_csv.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["id"] for r in rows] == [r.id for r in _runs(settings)]
    assert rows[-1]["command"] == "report" and rows[-1]["this_run"] == "true"
    assert rows[0]["records_stored"] == "2" and rows[0]["outcome"] == "findings_await_review"
    for path in (runs_csv, reports / "audit-2026-10-findings.csv"):
        code, out, err = cli("verify", str(path))
        assert code == 0, err + out

    # Raw text purged: the purge is listed under the month and the next version says so.
    code, _, err = cli("db", "purge", "--days", "0")
    assert code == 0, err
    code, out, err = cli("report", "--period", PERIOD)
    assert code == 0, err
    v3 = reports / "audit-2026-10.v3.html"
    assert f"report: {v3} (v3)" in out
    section = _section_text(v3.read_text(encoding="utf-8"))
    purge = next(r for r in _runs(settings) if r.command == "db purge")
    assert purge.periods == [PERIOD] and purge.id in section
    assert f"raw text of the period purged by {purge.id}" in section
    code, out, err = cli("verify", str(v3))
    assert code == 0, err + out
