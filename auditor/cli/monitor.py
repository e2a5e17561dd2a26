"""`auditor monitor`: scan every interaction of a period, not only the sample, and evaluate the
rules marked for monitoring (locally, or on Apache Spark)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from auditor.cli._common import EXIT_FINDINGS, PeriodOption, console, db_session, settings_from
from auditor.monitor.run import DEFAULT_MASTER, run_monitor
from auditor.ops.lock import run_lock


class Engine(StrEnum):
    local = "local"
    spark = "spark"


def monitor_cmd(
    ctx: typer.Context,
    period: PeriodOption,
    engine: Annotated[
        Engine,
        typer.Option(help="local: worker processes on this machine; spark: Apache Spark."),
    ] = Engine.local,
    spark_master: Annotated[
        str,
        typer.Option(
            "--spark-master",
            help="Spark master URL (local[2], spark://host:7077, yarn), or default: the one "
            "spark-submit or the platform (Databricks, EMR) configured.",
        ),
    ] = DEFAULT_MASTER,
    input_path: Annotated[
        Path | None,
        typer.Option(
            "--input",
            help="Spark only: a Parquet location holding the period's interactions (the "
            "export's columns) instead of exporting them from the database.",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            help="Spark only: where the job writes its Parquet results "
            "(default: <data_dir>/monitor/<period>).",
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Local scan processes (default: scan.workers).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Scan every interaction of the period and evaluate the monitored rules; population
    findings go to the review queue marked `monitoring`. Exit 3 when any await review."""
    settings = settings_from(ctx)
    # The run lock: a monitor and a scheduled `auditor run` never write the store at once.
    with run_lock(settings, "monitor"), db_session(settings, migrate=True) as session:
        result = run_monitor(
            session,
            settings,
            period,
            engine=engine.value,
            spark_master=spark_master,
            input_path=input_path,
            output=output,
            workers=workers,
        )
    stats = result.stats
    counts = stats.counts()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "period": result.period,
                    "engine": result.engine,
                    "rules": list(result.rules),
                    "scanner_revision": result.scanner_revision,
                    "policy_revision": result.policy_revision,
                    "output": str(result.output) if result.output else None,
                    "counts": counts,
                },
                indent=2,
            )
        )
    else:
        console.print(
            f"[bold]{result.period}[/bold] ({result.engine}): {stats.interactions} interactions, "
            f"{stats.evaluated} evaluated, {stats.not_evaluated} not evaluated, "
            f"{stats.skipped_already_done} done before; fields scanned {stats.fields_scanned} "
            f"(partial {stats.fields_partial}, failed {stats.fields_failed}, reused "
            f"{stats.fields_reused}); {stats.detections} detections; "
            f"{stats.violations} monitored violations",
            highlight=False,
        )
        if stats.unknown:
            console.print(f"{stats.unknown} input rows name no stored interaction (not loaded)")
        found = stats.findings
        if found is not None:
            console.print(
                f"population findings: {found.created} new, {found.seen_again} seen again, "
                f"{found.superseded} superseded",
                highlight=False,
            )
        if result.output is not None:
            console.print(f"results: {result.output}", highlight=False)
    if stats.findings is not None and stats.findings.created:
        raise typer.Exit(EXIT_FINDINGS)
