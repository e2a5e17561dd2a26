"""`auditor monitor --engine spark` (pyspark, local[2]): the same interactions give exactly what
the local engine stores; loading the results again adds nothing; no Java or an unreachable
master is one line and exit 1.

Runs wherever Java is installed (the suite's machine has Java 17): skipped only without it.
The demo month here has about 650 interactions (40 people), not 2,000: on 2 cores the Spark
run of 2,000 takes about three minutes, and 650 cover every monitored rule that fires on the
demo, every field kind and every tool.
"""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from auditor.cli import main
from auditor.db.models import Detection, Finding, MonitorItem, MonitorViolation, ScanRecord
from auditor.db.session import make_engine, session_scope
from auditor.errors import InputError
from auditor.monitor.run import run_monitor
from auditor.monitor.spark import java_executable, load_results, spark_session
from auditor.monitor.stage import MonitorStats
from tests.conftest import NetworkBlocked
from tests.monitor.conftest import PERIOD, copy_demo

pytestmark = pytest.mark.skipif(java_executable() is None, reason="Spark needs Java")

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Air-gapped as everywhere, but Spark's driver talks to its own JVM over loopback."""
    attempts: list[str] = []
    real_connect = socket.socket.connect
    real_create = socket.create_connection
    real_getaddrinfo = socket.getaddrinfo

    def loopback(host: Any) -> bool:
        return isinstance(host, str) and (host in _LOOPBACK or host.startswith("127."))

    def refuse(what: Any) -> Any:
        attempts.append(repr(what))
        raise NetworkBlocked(f"network access attempted: {what!r}")

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if self.family == socket.AF_UNIX or loopback(address[0]):
            return real_connect(self, address)
        return refuse(address)

    def guarded_create(address: Any, *args: Any, **kwargs: Any) -> Any:
        return real_create(address, *args, **kwargs) if loopback(address[0]) else refuse(address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real_getaddrinfo(host, *args, **kwargs) if loopback(host) else refuse(host)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "create_connection", guarded_create)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    return attempts


_TABLES = {
    "detections": 'select interaction_id, field, entity_type, start, "end", round(score, 9), '
    "recognizer, value_hash, masked_excerpt, scanner_revision, subject_id from detections",
    "scan_records": "select interaction_id, field, scanner_revision, status, reason, "
    "reason_code, chars_scanned from scan_records",
    "monitor_items": "select interaction_id, scanner_revision, policy_revision, status, reason, "
    "violations from monitor_items",
    "monitor_violations": "select key, interaction_id, rule_id, severity, title, message, "
    "entity_types, scanner_revision, policy_revision from monitor_violations",
    "findings": "select id, interaction_id, rule_id, entity_type, value_hash, severity, title, "
    "message, masked_excerpt, status, source from findings",
}


def _rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(db) as conn:
        return {name: sorted(conn.execute(sql).fetchall()) for name, sql in _TABLES.items()}


def _db(settings: Any) -> Path:
    return Path(settings.database.url.removeprefix("sqlite:///"))


@pytest.fixture(scope="module")
def both_engines(
    demo_month: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Any, Any, Any, Any]]:
    """The demo month monitored by each engine on its own copy: (local settings and result,
    spark settings and result)."""
    tmp = tmp_path_factory.mktemp("engines")
    local = copy_demo(demo_month, tmp / "local")
    spark = copy_demo(demo_month, tmp / "spark")
    results = []
    for settings, engine in ((local, "local"), (spark, "spark")):
        db = make_engine(settings.database.url)
        try:
            with session_scope(db) as session:
                results.append(
                    run_monitor(
                        session, settings, PERIOD, engine=engine, output=tmp / "out" / engine
                    )
                )
        finally:
            db.dispose()
    yield local, results[0], spark, results[1]


def test_local_and_spark_store_identical_population_results(both_engines: Any) -> None:
    local, local_result, spark, spark_result = both_engines
    assert local_result.scanner_revision == spark_result.scanner_revision
    assert local_result.policy_revision == spark_result.policy_revision
    a, b = _rows(_db(local)), _rows(_db(spark))
    for table in _TABLES:
        assert a[table] == b[table], table
    # Not an empty comparison: the month has monitored violations of three rules.
    assert len({row[2] for row in a["monitor_violations"]}) == 3
    assert len(a["monitor_items"]) == local_result.stats.interactions > 500
    counts = ("evaluated", "not_evaluated", "violations", "fields_scanned", "fields_reused")
    for name in counts:
        assert getattr(local_result.stats, name) == getattr(spark_result.stats, name), name


def test_spark_results_are_parquet_without_values(both_engines: Any) -> None:
    _, _, spark_settings, result = both_engines
    spark = spark_session("local[2]")
    try:
        detections = spark.read.parquet(str(result.output / "detections"))
        assert set(detections.columns) == {
            "interaction_id",
            "field",
            "entity_type",
            "start",
            "end",
            "score",
            "recognizer",
            "value_hmac",
            "masked_excerpt",
            "subject_id",
        }
        assert detections.count() == result.stats.detections + _reused_detections(
            spark_settings, result
        )
        violations = spark.read.parquet(str(result.output / "violations"))
        assert violations.count() == result.stats.violations
        days = sorted(p.name for p in (result.output / "results").glob("day=*"))
        assert days and all(d.startswith(f"day={PERIOD}-") for d in days)
    finally:
        spark.stop()


def _reused_detections(settings: Any, result: Any) -> int:
    """Detections of fields the audit's scan had stored already (not loaded again)."""
    with sqlite3.connect(_db(settings)) as conn:
        total = conn.execute(
            "select count(*) from detections where scanner_revision = ?",
            (result.scanner_revision,),
        ).fetchone()[0]
    return int(total) - result.stats.detections


def test_loading_the_results_again_adds_nothing(both_engines: Any) -> None:
    """As a retried task or a rerun would: same keys (interaction, field, revision)."""
    _, _, settings, result = both_engines
    before = _rows(_db(settings))
    spark = spark_session("local[2]")
    db = make_engine(settings.database.url)
    try:
        with session_scope(db) as session:
            stats = MonitorStats()
            load_results(
                spark,
                session,
                result.output,
                result.scanner_revision,
                result.policy_revision,
                stats,
            )
            assert stats.skipped_already_done == result.stats.interactions
            assert stats.detections == stats.violations == 0
            for model in (ScanRecord, Detection, MonitorItem, MonitorViolation, Finding):
                assert session.scalar(select(func.count()).select_from(model)) == len(
                    before[model.__tablename__]
                )
    finally:
        db.dispose()
        spark.stop()
    assert _rows(_db(settings)) == before


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        (
            {"JAVA_HOME": "/nonexistent-java"},
            [],
            "error: Java was not found (JAVA_HOME or java on PATH): Spark needs Java 17 or later",
        ),
        (
            {},
            ["--spark-master", "spark://127.0.0.1:9"],
            "error: the Spark master spark://127.0.0.1:9 cannot be reached",
        ),
    ],
)
def test_spark_that_cannot_run_is_one_line_and_exit_1(
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    args: list[str],
    message: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    path = Path("auditor.toml")
    path.write_text(
        f'[database]\nurl = "{settings.database.url}"\n'
        '[scan]\nhash_key = "test-key-not-secret-padded-to-32-bytes"\n'
    )
    code = main(["-c", str(path), "monitor", "-p", PERIOD, "--engine", "spark", *args])
    err = capsys.readouterr().err
    assert code == 1
    assert err.splitlines()[0] == message


def test_input_from_the_lake_and_an_empty_month(both_engines: Any, tmp_path: Path) -> None:
    """`--input`: the Parquet export of the month read back as a lake would hold it, into a
    database that was monitored already (nothing new); a month without interactions is an
    empty run, not an error; a path that is not Parquet is one line."""
    _, _, settings, result = both_engines
    before = _rows(_db(settings))
    db = make_engine(settings.database.url)
    try:
        with session_scope(db) as session:
            again = run_monitor(
                session,
                settings,
                PERIOD,
                engine="spark",
                input_path=result.output / "input",
                output=tmp_path / "again",
            )
            assert again.stats.skipped_already_done == result.stats.interactions
            assert again.stats.unknown == 0
            empty = run_monitor(
                session, settings, "2026-11", engine="spark", output=tmp_path / "empty"
            )
            assert empty.stats.interactions == 0 == empty.stats.evaluated
            with pytest.raises(InputError, match="cannot be read as Parquet"):
                run_monitor(
                    session,
                    settings,
                    PERIOD,
                    engine="spark",
                    input_path=tmp_path / "no-such-lake",
                    output=tmp_path / "none",
                )
    finally:
        db.dispose()
    assert _rows(_db(settings)) == before
