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
from sqlalchemy.exc import DBAPIError

from auditor import __version__
from auditor.cli import (
    audit,
    config,
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
from auditor.cli._common import ConfigOption, LogFormat, configure_logs, err_console
from auditor.config import load_settings, parse_assignments
from auditor.errors import AuditorError
from auditor.ops.ledger import Terminated
from auditor.ops.lifetime import request_termination

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
    assignments: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="Override one setting for this command, e.g. --set sample.size=50 (beats the "
            "environment and the file; repeatable).",
        ),
    ] = None,
    log_format: Annotated[
        LogFormat,
        typer.Option(
            "--log-format",
            envvar="AUDITOR_LOG_FORMAT",
            help="stderr as plain lines with timestamps (default), or json: one JSON object "
            "per event (time, level, run id, stage, event, counts, durations).",
        ),
    ] = LogFormat.plain,
) -> None:
    configure_logs(log_format)
    config_file = Path(config) if config else None
    overrides = parse_assignments(assignments or [])
    ctx.obj = {
        "settings": load_settings(config_file, **overrides),
        "config_file": config_file,
        "overrides": overrides,
    }
    _loaded["database_url"] = ctx.obj["settings"].database.url


# What the root callback loaded, for messages about errors that surface outside a command.
_loaded: dict[str, str] = {}


app.add_typer(config.app, name="config")
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
    configure_logs(LogFormat.plain)  # until the root callback reads --log-format
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    if in_main_thread and sys.unraisablehook is not _quiet_lost_termination:
        sys.unraisablehook = _quiet_lost_termination
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
    except DBAPIError as exc:
        message = _database_error(exc)
        err_console.print(f"error: {message}", highlight=False, markup=False, soft_wrap=True)
        if " is damaged: " in message:
            hint = "restore the database from a backup"
        elif _connection_lost(exc):
            hint = (
                "check that the database server is up and reachable from this machine (a "
                "restart or a failover ends every connection), then run again: the rerun "
                "completes the work without duplicates"
            )
        else:
            hint = "another process may be writing to it: try again; AUDITOR_DEBUG=1 shows more"
        err_console.print(f"hint: {hint}", highlight=False, markup=False, soft_wrap=True)
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


def _quiet_lost_termination(unraisable: sys.UnraisableHookArgs) -> None:
    """A Terminated raised inside a finalizer is lost by Python, which would print it with a
    traceback; it is raised again by the next work loop (see _terminate), so say nothing."""
    if isinstance(unraisable.exc_value, Terminated):
        return
    sys.__unraisablehook__(unraisable)


def _terminate(_signum: int, _frame: object) -> None:
    # Recorded first: if this exception is lost (raised inside a finalizer), the stages' work
    # loops raise it again (ops.lifetime.check_termination).
    request_termination()
    raise Terminated()


# What SQLite says when the file itself is damaged (as opposed to busy, or a bad statement).
_DAMAGED = ("malformed", "not a database", "file is encrypted", "disk image")


# What a server's end of the connection going away looks like (psycopg and libpq wording).
_LOST = (
    "server closed the connection",
    "terminating connection",
    "connection is closed",
    "consuming input failed",
    "connection already closed",
    "ssl syscall error",
)


def _connection_lost(exc: DBAPIError) -> bool:
    """The connection to the server went away mid-work (a restart, a failover, an
    administrator ending sessions, the network), as opposed to a statement refused."""
    if exc.connection_invalidated:
        return True
    orig = getattr(exc, "orig", None)
    if type(orig).__name__ in ("AdminShutdown", "CrashShutdown", "IdleSessionTimeout"):
        return True
    first_line = str(orig or "").split("\n", 1)[0].lower()
    return any(words in first_line for words in _LOST)


def _database_error(exc: DBAPIError) -> str:
    """One line for a database error that reached the top: for a damaged SQLite file, which
    file and the first lines of PRAGMA integrity_check's verdict; for a lost connection, which
    server; otherwise the error's type only (a driver's message can quote a value bound to
    the statement)."""
    url = _loaded.get("database_url", "")
    if _connection_lost(exc):
        from sqlalchemy.engine import make_url

        kind = type(getattr(exc, "orig", None) or exc).__name__
        where = make_url(url).render_as_string(hide_password=True) if url else "the database"
        return (
            f"the connection to the database was lost during the work ({kind} from {where}): "
            "what was committed before it is kept, the work in progress was rolled back"
        )
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
