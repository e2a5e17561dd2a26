"""The `auditor` command line: the only layer that prints or exits."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import DatabaseError

from auditor import __version__
from auditor.cli import audit, db, detect, directory, ingest, policy, review, sample, stats
from auditor.cli._common import ConfigOption, err_console
from auditor.config import load_settings
from auditor.errors import AuditorError

app = typer.Typer(
    name="auditor",
    help="Audit how employees use AI assistants: sample, scan, check policies, report.",
    no_args_is_help=True,
    # Locals in a traceback would hold prompt text.
    pretty_exceptions_show_locals=False,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"auditor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    config: ConfigOption = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    ctx.obj = {"settings": load_settings(Path(config) if config else None)}
    _loaded["database_url"] = ctx.obj["settings"].database.url


# What the root callback loaded, for messages about errors that surface outside a command.
_loaded: dict[str, str] = {}


app.add_typer(db.app, name="db")
app.add_typer(directory.app, name="directory")
app.add_typer(sample.app, name="sample")
app.add_typer(review.app, name="review")
app.add_typer(policy.app, name="policy")
app.add_typer(stats.app, name="stats")
app.add_typer(ingest.export_app, name="export")
app.command("ingest")(ingest.ingest_cmd)
app.command("formats")(ingest.formats_cmd)
app.command("scan")(audit.sample_scan_cmd)
app.command("evaluate")(audit.evaluate_cmd)
app.command("tiers")(audit.tiers_cmd)
app.command("report")(audit.report_cmd)
app.command("verify")(audit.verify_cmd)
app.command("run")(audit.run_cmd)
app.command("demo")(audit.demo_cmd)
app.command("detect")(detect.detect_cmd)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code: 0 done, 1 error, 2 usage, 3 findings to review."""
    try:
        # Standalone mode: the CLI framework prints usage errors (exit 2) and turns Exit into
        # SystemExit; everything else reaches the handlers below.
        app(args=argv, prog_name="auditor", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except AuditorError as exc:
        err_console.print(f"error: {exc.message}", highlight=False, markup=False)
        if exc.hint:
            err_console.print(f"hint: {exc.hint}", highlight=False, markup=False)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except DatabaseError as exc:
        err_console.print(f"error: {_database_error(exc)}", highlight=False, markup=False)
        err_console.print(
            "hint: restore the database from a backup (it is not changed by this message)",
            highlight=False,
            markup=False,
        )
        return 1
    except Exception as exc:  # noqa: BLE001 - last line of defence: no message, it may hold text
        where = traceback.extract_tb(exc.__traceback__)[-1]
        err_console.print(
            f"internal error: {type(exc).__name__} at {Path(where.filename).name}:{where.lineno}; "
            "set AUDITOR_DEBUG=1 for the traceback",
            highlight=False,
            markup=False,
        )
        if os.environ.get("AUDITOR_DEBUG") == "1":
            traceback.print_exception(exc)
        return 1
    return 0


def _database_error(exc: DatabaseError) -> str:
    """One line for a database the driver cannot read: which file, and for SQLite the first
    line of PRAGMA integrity_check's verdict. Never the statement or its parameters."""
    url = _loaded.get("database_url", "")
    reason = str(getattr(exc, "orig", "") or type(exc).__name__).split("\n", 1)[0][:200]
    if not url.startswith("sqlite:///") or url.startswith("sqlite:///:memory:"):
        return f"the database cannot be read ({reason})"
    path = url.removeprefix("sqlite:///")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            rows = conn.execute("PRAGMA integrity_check(5)").fetchall()
        verdict = "; ".join(str(r[0]) for r in rows)[:300]
    except sqlite3.DatabaseError as check:
        verdict = str(check)[:200]
    return f"the database {path} is damaged: {reason} (integrity_check: {verdict})"


def entry() -> None:
    sys.exit(main())
