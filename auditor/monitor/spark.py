"""Engine `spark`: the period's interactions scanned and evaluated on Apache Spark
(`ai-usage-auditor[spark]`), for populations one machine cannot scan in time.

1. Export: the period's interactions from the database to Parquet partitioned by day (or read
   a Parquet location the firm's lake already holds, `--input`, with the same columns).
2. Job: `mapPartitions` over the rows; each executor process builds the scanner and the
   policy engine once, from a broadcast that carries the scan and policy settings, the HMAC
   key, the registers and the rule pack as bytes (written to a private temporary directory
   on the executor), so none of them appears in a command line, a job's configuration or
   its logs. Fields are scanned with the scan stage's functions (a text that raises or runs
   out of time is recorded `error` or `partial`, the partition goes on) and the monitored
   rules are evaluated beside the scan.
3. Results: one row per interaction (its scan records, detections without values, monitored
   violations) written as Parquet partitioned by day, with flat `detections/` and
   `violations/` datasets beside it; Spark's output commit keeps a retried task's rows once.
4. Load: the results are loaded into the database keyed by interaction, field and scanner
   revision (scan records) and by interaction and revisions (monitor items, violations), so
   loading again, or a retried task, adds nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from auditor.config import PolicySettings, ScanSettings, Settings
from auditor.db.models import Detection, Interaction, MonitorItem, ScanRecord
from auditor.errors import AuditorError, InputError, ScanError
from auditor.monitor.core import (
    COLUMNS,
    Evaluated,
    People,
    collect,
    evaluate_one,
    interaction_of,
    jobs_of,
)
from auditor.monitor.stage import MonitorProgress, MonitorStats, store_evaluation, utcnow
from auditor.periods import period_bounds
from auditor.policy.engine import PolicyEngine, Violation
from auditor.scan.engine import Scanner
from auditor.scan.parallel import DEFAULT_BATCH_SIZE, _scan_chunk_with
from auditor.scan.stage import ScanStats

EXPORT_CHUNK = 20_000  # rows handed to Spark at a time when exporting from the database
LOAD_BATCH = 500  # interactions loaded and committed at a time
PARTITION_BATCH = 64  # interactions scanned together inside a task
_REGISTERS = ("client_register", "restricted_list", "special_category_terms")


# `--spark-master default`: the master spark-submit or the platform (Databricks, EMR) gave.
ENVIRONMENT_MASTER = "default"


class SparkUnavailable(AuditorError):
    """Spark cannot run: pyspark not installed, no Java, or the master cannot be reached."""


# --- starting Spark ---------------------------------------------------------------------------


def java_executable() -> str | None:
    """The `java` Spark would start: $JAVA_HOME/bin/java, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None
    return shutil.which("java")


def check_master(master: str) -> None:
    """Refuse an unreachable standalone master (spark://host:port) before Spark tries for
    minutes. Raises SparkUnavailable naming it."""
    if not master.startswith("spark://"):
        return
    for part in master.removeprefix("spark://").split(","):
        parsed = urlparse(f"spark://{part}")
        host, port = parsed.hostname, parsed.port or 7077
        try:
            with socket.create_connection((host or "", port), timeout=5):
                return
        except OSError:
            continue
    raise SparkUnavailable(
        f"the Spark master {master} cannot be reached",
        "check --spark-master (host and port) and that the master is running",
    )


def spark_session(master: str, *, app_name: str = "auditor-monitor") -> Any:
    """A SparkSession on `master` (e.g. local[2], spark://host:7077, yarn; `default`: the one
    spark-submit or the platform configured).

    Raises SparkUnavailable if pyspark is not installed, Java is missing, the master cannot
    be reached, or Spark fails to start.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailable(
            "pyspark is not installed",
            "install the extra: pip install 'ai-usage-auditor[spark]'",
        ) from None
    if java_executable() is None:
        raise SparkUnavailable(
            "Java was not found (JAVA_HOME or java on PATH): Spark needs Java 17 or later",
            "install a Java 17 runtime or set JAVA_HOME",
        )
    if master != ENVIRONMENT_MASTER:
        check_master(master)
    if master.startswith("local"):
        # Executors in local mode run this interpreter (with the auditor and its model); on a
        # cluster, PYSPARK_PYTHON / spark.pyspark.python names the environment (README).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    try:
        builder = SparkSession.builder
        if master != ENVIRONMENT_MASTER:
            builder = builder.master(master)
        session = (
            builder.appName(app_name)
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.python.worker.reuse", "true")  # one scanner per executor process
            .config("spark.sql.parquet.compression.codec", "zstd")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        return session
    except Exception as exc:  # the JVM's message can be long; the type and first line suffice
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise SparkUnavailable(
            f"Spark could not start on master {master}: {type(exc).__name__} {first}".strip(),
            "check Java, the master URL and the cluster's logs",
        ) from None


# --- shipping the configuration to executors --------------------------------------------------


def shipment(
    settings: Settings,
    hash_key: bytes,
    people: People,
    monitored: tuple[str, ...],
    scanner_revision: str,
    policy_revision: str,
) -> dict[str, Any]:
    """What every executor needs, as plain values for one broadcast: the settings without
    their paths and secrets, and the files those paths name, as bytes."""
    scan = settings.scan.model_dump(mode="json", exclude={"hash_key", *_REGISTERS})
    registers = {
        name: Path(path).read_bytes()
        for name in _REGISTERS
        if (path := getattr(settings.scan, name)) is not None
    }
    policy = settings.policy.model_dump(
        mode="json", exclude={"directory", "source", "bundle_public_key", "opa_token"}
    )
    pack: dict[str, bytes] = {}
    directory = Path(settings.policy.directory)
    if settings.policy.source is None:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                pack[str(path.relative_to(directory))] = path.read_bytes()
    return {
        "scan": scan,
        "registers": registers,
        "policy": policy,
        "pack": pack,
        "bundle": settings.policy.source.read_bytes() if settings.policy.source else None,
        "bundle_key": (
            settings.policy.bundle_public_key.read_bytes()
            if settings.policy.bundle_public_key
            else None
        ),
        "opa_token": (
            settings.policy.opa_token.get_secret_value() if settings.policy.opa_token else None
        ),
        "hash_key": hash_key,
        "people": people.rows,
        "monitored": list(monitored),
        "scanner_revision": scanner_revision,
        "policy_revision": policy_revision,
    }


def _unpack(payload: Mapping[str, Any], into: Path) -> tuple[ScanSettings, PolicySettings]:
    """Write the shipped files into `into` (private) and the settings that point at them."""
    into.mkdir(mode=0o700, parents=True, exist_ok=True)

    def put(relative: str, content: bytes) -> Path:
        target = into / relative
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        target.write_bytes(content)
        target.chmod(0o600)
        return target

    scan = dict(payload["scan"])
    scan["hash_key"] = payload["hash_key"].decode()
    for name, content in payload["registers"].items():
        scan[name] = str(put(f"registers/{name}", content))
    policy = dict(payload["policy"])
    if payload["bundle"] is not None:
        policy["source"] = str(put("bundle.tar.gz", payload["bundle"]))
        policy["directory"] = str(into)
    else:
        for relative, content in payload["pack"].items():
            put(f"pack/{relative}", content)
        policy["directory"] = str(into / "pack")
    if payload["bundle_key"] is not None:
        policy["bundle_public_key"] = str(put("bundle_key.pem", payload["bundle_key"]))
    if payload["opa_token"] is not None:
        policy["opa_token"] = payload["opa_token"]
    return ScanSettings.model_validate(scan), PolicySettings.model_validate(policy)


# --- the executor side ------------------------------------------------------------------------

_executor: dict[str, Any] = {}  # per executor process: the built scanner, engine and people


def _executor_state(payload: Mapping[str, Any]) -> tuple[Scanner, PolicyEngine, People, Any]:
    """Build this executor process's scanner and engine once (Python workers are reused)."""
    token = (payload["scanner_revision"], payload["policy_revision"])
    if _executor.get("token") == token:
        return _executor["scanner"], _executor["engine"], _executor["people"], _executor["rules"]
    from auditor.policy.engine import build_engine
    from auditor.scan.engine import build_scanner

    into = Path(tempfile.mkdtemp(prefix="auditor-monitor-"))
    scan, policy = _unpack(payload, into)
    scanner = build_scanner(scan, payload["hash_key"])
    engine = build_engine(policy)
    if scanner.revision != payload["scanner_revision"]:
        raise ScanError(
            f"an executor built scanner revision {scanner.revision}, the driver "
            f"{payload['scanner_revision']}",
            "executors must have the same model, recognizers and package version",
        )
    if engine.revision != payload["policy_revision"]:
        raise ScanError(
            f"an executor loaded policy revision {engine.revision}, the driver "
            f"{payload['policy_revision']}"
        )
    _executor.update(
        token=token,
        scanner=scanner,
        engine=engine,
        people=People(payload["people"]),
        rules=frozenset(payload["monitored"]),
        fields=tuple(scan.fields),
    )
    return scanner, engine, _executor["people"], _executor["rules"]


def scan_partition(broadcast: Any, rows: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
    """mapPartitions: one result row (RESULT_COLUMNS) per interaction row."""
    payload = broadcast.value
    scanner, engine, people, rules = _executor_state(payload)
    fields = _executor["fields"]
    batch: list[Any] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= PARTITION_BATCH:
            yield from _scan_rows(scanner, engine, people, rules, fields, batch)
            batch = []
    if batch:
        yield from _scan_rows(scanner, engine, people, rules, fields, batch)


def _scan_rows(
    scanner: Scanner,
    engine: PolicyEngine,
    people: People,
    rules: frozenset[str],
    fields: tuple[str, ...],
    rows: list[Any],
) -> Iterator[tuple[Any, ...]]:
    interactions = [interaction_of(row.asDict()) for row in rows]
    jobs = [jobs_of(i, fields) for i in interactions]
    texts = [text for mine in jobs for _, text in mine if text is not None]
    outcomes = iter(_scan_chunk_with(scanner, texts, DEFAULT_BATCH_SIZE).outcomes)
    for interaction, mine in zip(interactions, jobs, strict=True):
        count = sum(1 for _, text in mine if text is not None)
        mine_outcomes = [next(outcomes) for _ in range(count)]
        got = collect(scanner, interaction, mine, mine_outcomes, ScanStats())
        evaluated = evaluate_one(
            engine,
            rules,
            interaction,
            people.find(interaction),
            got.detections,
            got.fields_scanned,
        )
        yield (
            interaction.id,
            interaction.occurred_at.strftime("%Y-%m-%d"),
            evaluated.status,
            evaluated.reason,
            [(r.field, r.status, r.reason, r.reason_code, r.chars_scanned) for r in got.records],
            [
                (
                    d.field,
                    d.entity_type,
                    d.start,
                    d.end,
                    float(d.score),
                    d.recognizer,
                    d.value_hash,
                    d.masked_excerpt,
                    d.subject_id,
                )
                for d in got.detections
            ],
            [
                (v.rule_id, v.severity, v.title, v.message, list(v.entity_types))
                for v in evaluated.violations
            ],
        )


def result_schema() -> Any:
    from pyspark.sql import types as T

    def s(*names: str) -> list[Any]:
        return [T.StructField(n, T.StringType()) for n in names]

    return T.StructType(
        [
            T.StructField("interaction_id", T.LongType(), False),
            T.StructField("day", T.StringType(), False),
            *s("status", "reason"),
            T.StructField(
                "records",
                T.ArrayType(
                    T.StructType(
                        [
                            *s("field", "status", "reason", "reason_code"),
                            T.StructField("chars_scanned", T.LongType()),
                        ]
                    )
                ),
            ),
            T.StructField(
                "detections",
                T.ArrayType(
                    T.StructType(
                        [
                            *s("field", "entity_type"),
                            T.StructField("start", T.LongType()),
                            T.StructField("end", T.LongType()),
                            T.StructField("score", T.DoubleType()),
                            *s("recognizer", "value_hmac", "masked_excerpt", "subject_id"),
                        ]
                    )
                ),
            ),
            T.StructField(
                "violations",
                T.ArrayType(
                    T.StructType(
                        [
                            *s("rule_id", "severity", "title", "message"),
                            T.StructField("entity_types", T.ArrayType(T.StringType())),
                        ]
                    )
                ),
            ),
        ]
    )


def input_schema() -> Any:
    from pyspark.sql import types as T

    longs = {"id"}
    return T.StructType(
        [
            T.StructField(c, T.LongType() if c in longs else T.StringType(), c not in longs)
            for c in COLUMNS
        ]
        + [T.StructField("day", T.StringType(), False)]
    )


# --- the driver side --------------------------------------------------------------------------


def export_period(spark: Any, session: Session, period: str, out: Path) -> int:
    """Write the period's interactions to Parquet under `out`, partitioned by day (replacing
    what is there). Returns the number of rows written."""
    start, end = period_bounds(period)
    columns = [getattr(Interaction, c) for c in COLUMNS]
    schema = input_schema()
    written, last_id, mode = 0, 0, "overwrite"
    while True:
        rows = session.execute(
            select(*columns)
            .where(
                Interaction.occurred_at >= start,
                Interaction.occurred_at < end,
                Interaction.id > last_id,
            )
            .order_by(Interaction.id)
            .limit(EXPORT_CHUNK)
        ).all()
        if not rows and written:
            break
        data = [_export_row(dict(r._mapping)) for r in rows]
        spark.createDataFrame(data, schema).write.mode(mode).partitionBy("day").parquet(str(out))
        mode = "append"
        written += len(rows)
        if not rows:
            break
        last_id = rows[-1].id
    return written


def _export_row(row: Mapping[str, Any]) -> tuple[Any, ...]:
    values = []
    for c in COLUMNS:
        value = row[c]
        if c == "occurred_at":
            value = value.isoformat()
        elif c == "attributes":
            value = json.dumps(value or {}, ensure_ascii=False, sort_keys=True)
        values.append(value)
    return (*values, row["occurred_at"].strftime("%Y-%m-%d"))


def run_job(
    spark: Any,
    source: Path,
    out: Path,
    period: str,
    payload: dict[str, Any],
) -> None:
    """Scan and evaluate the period's rows of the Parquet at `source`; write results to `out`
    (`results/` by day, `detections/`, `violations/`). Raises InputError if the input lacks
    a needed column."""
    from pyspark.sql import functions as F

    try:
        frame = spark.read.parquet(str(source))
    except Exception as exc:  # AnalysisException: no such path, not Parquet
        raise InputError(
            f"{source}: cannot be read as Parquet: {_last_line(exc)}",
            "give --input a Parquet folder with the export's columns",
        ) from None
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(
            f"{source}: the Parquet input has no column {missing[0]!r}",
            "the input needs the columns " + ", ".join(COLUMNS),
        )
    start, end = period_bounds(period)
    # One spelling of the moment whatever the input holds (ISO text or a timestamp), in UTC.
    moment = F.date_format(F.col("occurred_at").cast("timestamp"), "yyyy-MM-dd'T'HH:mm:ss.SSSSSS")
    frame = frame.select(
        *[
            F.col("id").cast("long").alias("id")
            if c == "id"
            else moment.alias(c)
            if c == "occurred_at"
            else F.col(c).cast("string").alias(c)
            for c in COLUMNS
        ]
    )
    frame = frame.where(
        (F.col("occurred_at") >= start.strftime("%Y-%m-%dT%H:%M:%S.%f"))
        & (F.col("occurred_at") < end.strftime("%Y-%m-%dT%H:%M:%S.%f"))
    )
    broadcast = spark.sparkContext.broadcast(payload)
    try:
        _write_results(spark, frame, broadcast, out)
    except AuditorError:
        raise
    except Exception as exc:
        raise ScanError(
            f"the Spark job failed: {_last_line(exc)}",
            "see the executors' logs; a worker without the auditor installed needs "
            "spark.pyspark.python set to an environment that has it",
        ) from None
    finally:
        broadcast.unpersist()


def _last_line(exc: BaseException) -> str:
    """The innermost cause a Spark error reports (its last line), or the type."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1][:300] if lines else type(exc).__name__


def _write_results(spark: Any, frame: Any, broadcast: Any, out: Path) -> None:
    from pyspark.sql import functions as F

    rdd = frame.rdd.mapPartitions(lambda rows: scan_partition(broadcast, rows))
    results = spark.createDataFrame(rdd, result_schema())
    results.write.mode("overwrite").partitionBy("day").parquet(str(out / "results"))
    stored = spark.read.schema(result_schema()).parquet(str(out / "results"))
    (
        stored.select("interaction_id", F.explode("detections").alias("d"))
        .select("interaction_id", "d.*")
        .write.mode("overwrite")
        .parquet(str(out / "detections"))
    )
    (
        stored.select("interaction_id", F.explode("violations").alias("v"))
        .select("interaction_id", "v.*")
        .write.mode("overwrite")
        .parquet(str(out / "violations"))
    )


def load_results(
    spark: Any,
    session: Session,
    out: Path,
    scanner_revision: str,
    policy_revision: str,
    stats: MonitorStats,
    progress: MonitorProgress | None = None,
) -> None:
    """Load the job's results into the database, committing every LOAD_BATCH interactions.
    Rows of interactions that are not stored (an `--input` from elsewhere) are counted in
    `stats.unknown`; an interaction loaded before is skipped."""
    stored = (
        spark.read.schema(result_schema()).parquet(str(out / "results")).orderBy("interaction_id")
    )
    batch: list[Any] = []
    done = 0
    seen: set[int] = set()
    for row in stored.toLocalIterator():
        if row["interaction_id"] in seen:  # the same interaction twice in the input
            continue
        seen.add(row["interaction_id"])
        batch.append(row)
        if len(batch) >= LOAD_BATCH:
            _load_batch(session, batch, scanner_revision, policy_revision, stats)
            session.commit()
            done += len(batch)
            if progress is not None:
                progress(done, stats.interactions)
            batch = []
    if batch:
        _load_batch(session, batch, scanner_revision, policy_revision, stats)
        session.commit()
        done += len(batch)
        if progress is not None:
            progress(done, stats.interactions)


def _load_batch(
    session: Session,
    rows: list[Any],
    scanner_revision: str,
    policy_revision: str,
    stats: MonitorStats,
) -> None:
    ids = [int(r["interaction_id"]) for r in rows]
    known = set(session.scalars(select(Interaction.id).where(Interaction.id.in_(ids))))
    done_items = set(
        session.scalars(
            select(MonitorItem.interaction_id).where(
                MonitorItem.interaction_id.in_(ids),
                MonitorItem.scanner_revision == scanner_revision,
                MonitorItem.policy_revision == policy_revision,
            )
        )
    )
    existing = session.execute(
        select(ScanRecord.id, ScanRecord.interaction_id, ScanRecord.field, ScanRecord.status).where(
            ScanRecord.interaction_id.in_(ids), ScanRecord.scanner_revision == scanner_revision
        )
    ).all()
    scanned_before = {(r.interaction_id, r.field) for r in existing if r.status != "error"}
    failed_before = [
        r.id for r in existing if r.status == "error" and r.interaction_id not in done_items
    ]
    if failed_before:
        session.execute(delete(ScanRecord).where(ScanRecord.id.in_(failed_before)))
    now = utcnow()
    for row in rows:
        iid = int(row["interaction_id"])
        if iid not in known:
            stats.unknown += 1
            continue
        if iid in done_items:
            stats.skipped_already_done += 1
            continue
        for rec in row["records"]:
            if (iid, rec["field"]) in scanned_before:
                stats.fields_reused += 1
                continue
            session.add(
                ScanRecord(
                    interaction_id=iid,
                    field=rec["field"],
                    scanner_revision=scanner_revision,
                    status=rec["status"],
                    reason=rec["reason"],
                    reason_code=rec["reason_code"],
                    chars_scanned=rec["chars_scanned"],
                    scanned_at=now,
                )
            )
            _count_record(stats, rec["status"])
            for d in row["detections"]:
                if d["field"] != rec["field"]:
                    continue
                session.add(
                    Detection(
                        interaction_id=iid,
                        field=d["field"],
                        entity_type=d["entity_type"],
                        start=d["start"],
                        end=d["end"],
                        score=d["score"],
                        recognizer=d["recognizer"],
                        value_hash=d["value_hmac"],
                        masked_excerpt=d["masked_excerpt"],
                        scanner_revision=scanner_revision,
                        subject_id=d["subject_id"],
                    )
                )
                stats.detections += 1
        violations = tuple(
            Violation(
                rule_id=v["rule_id"],
                severity=v["severity"],
                title=v["title"],
                message=v["message"],
                remediation="",
                references=(),
                entity_types=tuple(v["entity_types"] or ()),
            )
            for v in row["violations"]
        )
        store_evaluation(
            session,
            iid,
            Evaluated(row["status"], row["reason"], violations),
            scanner_revision,
            policy_revision,
            stats,
            now=now,
        )
    session.flush()


def _count_record(stats: MonitorStats, status: str) -> None:
    if status in ("scanned", "partial"):
        stats.fields_scanned += 1
        stats.fields_partial += status == "partial"
    elif status == "error":
        stats.fields_failed += 1
    else:
        stats.fields_not_stored += 1
