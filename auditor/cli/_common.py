"""Shared CLI plumbing: settings from the context, consoles, opening the database."""

from __future__ import annotations

import io
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from auditor.config import Settings, load_settings
from auditor.db.session import ensure_current, make_engine, session_scope
from auditor.ops.logs import EventLog


class _Stderr(Console):
    """stderr: Rich lines, or with `--log-format json` one JSON object per message (the
    message as the auditor wrote it, its level from how it begins), so a log collector reads
    nothing else on stderr."""

    events: EventLog | None = None

    def print(self, *objects: Any, **kwargs: Any) -> None:
        if self.events is None:
            super().print(*objects, **kwargs)
            return
        text = " ".join(o if isinstance(o, str) else _plain(o) for o in objects).strip()
        lower = text.lower()
        level = (
            "error"
            if lower.startswith(("error:", "internal error", "failed:"))
            else "warning"
            if lower.startswith("hint:") or ": warning: " in lower or ": rejected: " in lower
            else "info"
        )
        self.events.event("message", level=level, message=text)


def _plain(renderable: Any) -> str:
    out = Console(file=io.StringIO(), width=200, color_system=None)
    out.print(renderable)
    return out.file.getvalue()  # type: ignore[attr-defined,no-any-return]


def _write_line(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


class LogFormat(StrEnum):
    plain = "plain"
    json = "json"


_show_warning = warnings.showwarning


def configure_logs(fmt: LogFormat | str) -> None:
    """Plain (timestamped lines, progress bars) or JSON (one object per event) on stderr;
    in JSON a library's Python warning is an event too, so stderr stays JSON throughout."""
    if LogFormat(fmt) is LogFormat.json:
        log = EventLog(_write_line)
        err_console.events = log

        def show(message: Any, category: type[Warning], *_: Any, **__: Any) -> None:
            log.event("python_warning", level="warning", message=f"{category.__name__}: {message}")

        warnings.showwarning = show
    else:
        err_console.events = None
        warnings.showwarning = _show_warning


def events() -> EventLog | None:
    """The JSON event log of this command, or None for plain logs."""
    return err_console.events


console = Console()
err_console = _Stderr(stderr=True)

# Exit codes: docs/architecture.md, "Errors and exit codes" (0 done, 1 error, 2 usage, 3 done
# and findings await review, ...).
EXIT_FINDINGS = 3
# The run finished but the policy engine failed on sampled interactions: the control was not
# tested for them (a broken pack, an unreachable OPA server). A scheduler must not read this
# as success.
EXIT_NOT_EVALUATED = 4

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Configuration file (default: ./auditor.toml if present).",
        envvar="AUDITOR_CONFIG",
        dir_okay=False,
    ),
]
PeriodOption = Annotated[str, typer.Option("--period", "-p", help="Calendar month, YYYY-MM.")]


def settings_from(ctx: typer.Context) -> Settings:
    """The settings loaded once by the main callback."""
    obj = ctx.find_root().obj
    if not isinstance(obj, dict) or "settings" not in obj:
        obj = {"settings": load_settings(None)}
        ctx.find_root().obj = obj
    settings: Settings = obj["settings"]
    return settings


def open_engine(settings: Settings, *, migrate: bool = False) -> Engine:
    """An engine on the configured database; checks (or brings) the schema up to date."""
    engine = make_engine(settings.database.url)
    if migrate:
        from auditor.db.session import upgrade

        upgrade(engine)
    else:
        ensure_current(engine)
    return engine


@contextmanager
def db_session(settings: Settings, *, migrate: bool = False) -> Iterator[Session]:
    engine = open_engine(settings, migrate=migrate)
    try:
        with session_scope(engine) as session:
            yield session
    finally:
        engine.dispose()
