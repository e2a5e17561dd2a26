"""The `auditor` command line: the only layer that prints or exits."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import sys
import threading
import traceback
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import DatabaseError

from auditor import __version__
from auditor.cli import (
    audit,
    db,
    detect,
    directory,
    ingest,
    monitor,
    notify,
    policy,
    review,
    runs,
    sample,
    serve,
    stats,
)
from auditor.cli._common import ConfigOption, err_console
from auditor.config import load_settings
from auditor.errors import AuditorError
from auditor.ops.ledger import Terminated

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
app.add_typer(runs.app, name="runs")
app.add_typer(ingest.export_app, name="export")
app.add_typer(serve.users_app, name="users")
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
app.command("serve")(serve.serve_cmd)
app.command("notify")(notify.notify_cmd)
app.command("monitor")(monitor.monitor_cmd)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code: 0 done, 1 error, 2 usage, 3 findings to review."""
    # SIGTERM (a scheduler stopping the job) is raised as Terminated where the process is:
    # the open transaction rolls back, stages already committed stay, the ledger says so.
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        # Standalone mode: the CLI framework prints usage errors (exit 2) and turns Exit into
        # SystemExit; everything else reaches the handlers below.
        app(args=argv, prog_name="auditor", standalone_mode=True)
    except Terminated:
        err_console.print("interrupted by SIGTERM; stages completed before it are kept")
        return 143
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except AuditorError as exc:
        # soft_wrap: one line each, however narrow the terminal (schedulers grep the log).
        err_console.print(f"error: {exc.message}", highlight=False, markup=False, soft_wrap=True)
        if exc.hint:
            err_console.print(f"hint: {exc.hint}", highlight=False, markup=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except DatabaseError as exc:
        message = _database_error(exc)
        err_console.print(f"error: {message}", highlight=False, markup=False)
        hint = (
            "restore the database from a backup"
            if " is damaged: " in message
            else "another process may be writing to it: try again; AUDITOR_DEBUG=1 shows more"
        )
        err_console.print(f"hint: {hint}", highlight=False, markup=False)
        if os.environ.get("AUDITOR_DEBUG") == "1":
            traceback.print_exception(exc)
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
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _terminate(_signum: int, _frame: object) -> None:
    raise Terminated()


# What SQLite says when the file itself is damaged (as opposed to busy, or a bad statement).
_DAMAGED = ("malformed", "not a database", "file is encrypted", "disk image")


def _database_error(exc: DatabaseError) -> str:
    """One line for a database error that reached the top: for a damaged SQLite file, which
    file and the first lines of PRAGMA integrity_check's verdict; otherwise the error's type
    only (a driver's message can quote a value bound to the statement)."""
    url = _loaded.get("database_url", "")
    reason = str(getattr(exc, "orig", "") or "").split("\n", 1)[0][:200]
    damaged = any(word in reason.lower() for word in _DAMAGED)
    sqlite_file = url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:")
    if not (damaged and sqlite_file):
        kind = type(getattr(exc, "orig", None) or exc).__name__
        return f"the database refused the operation ({kind}); nothing was changed by it"
    path = url.removeprefix("sqlite:///").split("?", 1)[0]
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            rows = conn.execute("PRAGMA integrity_check(5)").fetchall()
        verdict = "; ".join(str(r[0]) for r in rows)[:300]
    except sqlite3.DatabaseError as check:
        verdict = str(check)[:200]
    return f"the database {path} is damaged: {reason} (integrity_check: {verdict})"


def entry() -> None:
    sys.exit(main())
