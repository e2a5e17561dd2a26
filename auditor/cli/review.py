"""`auditor review`: the review queue."""

from __future__ import annotations

import getpass
import os
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from auditor.cli._common import console, db_session, settings_from
from auditor.review import DISPOSITIONS, STATUSES, history, list_findings, resolve

app = typer.Typer(help="Review findings.", no_args_is_help=True)


_SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": ""}


def _default_reviewer() -> str:
    try:
        return os.environ.get("AUDITOR_REVIEWER") or getpass.getuser()
    except (KeyError, OSError):  # no login name, e.g. an anonymous container user
        return ""


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    status: Annotated[
        list[str] | None,
        typer.Option(help=f"Status to show (repeatable): {', '.join(STATUSES)}, or all."),
    ] = None,
    severity: Annotated[str | None, typer.Option(help="critical, high, medium or low.")] = None,
    manager: Annotated[
        str | None, typer.Option(help="Only findings of this manager's reporting line.")
    ] = None,
    rule: Annotated[str | None, typer.Option(help="Only this rule id.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 100,
    source: Annotated[
        str | None,
        typer.Option(help="sample (the audit's) or monitoring (auditor monitor's); default both."),
    ] = None,
) -> None:
    """List findings awaiting review (open by default), most severe first."""
    statuses = status or ["open"]
    if "all" in statuses:
        statuses = []
    with db_session(settings_from(ctx)) as session:
        items = list_findings(
            session,
            statuses=statuses,
            severity=severity,
            manager_id=manager,
            rule_id=rule,
            limit=limit,
            source=source,
        )
    for it in items:
        line = Text()
        line.append(f"{it.id[:12]}  ", style="bold")
        line.append(f"{it.severity:<8}  ", style=_SEVERITY_STYLE.get(it.severity, ""))
        line.append(
            f"{it.rule_id}  {it.status}  {it.department or 'unknown'}  {it.tool or '-'}  "
            f"{it.occurred_at:%Y-%m-%d %H:%M}"
            + ("  [monitoring]" if it.source == "monitoring" else "")
        )
        console.print(line, soft_wrap=True)
        if it.masked_excerpt:
            console.print(Text("    " + it.masked_excerpt, style="dim"), soft_wrap=True)
    console.print(f"{len(items)} finding(s)")
    if len(items) == limit:
        console.print(f"(showing the first {limit}; raise --limit to see more)")


@app.command("resolve")
def resolve_cmd(
    ctx: typer.Context,
    finding_id: Annotated[str, typer.Argument(help="Finding id or a unique prefix (≥ 6 chars).")],
    disposition: Annotated[str, typer.Option(help=f"One of: {', '.join(DISPOSITIONS)}.")],
    note: Annotated[str, typer.Option(help="Why: recorded in the review history.")],
    reviewer: Annotated[
        str | None, typer.Option(help="Who decides (default: $AUDITOR_REVIEWER or login name).")
    ] = None,
) -> None:
    """Record a disposition on a finding (appended to its history)."""
    with db_session(settings_from(ctx)) as session:
        event = resolve(session, finding_id, disposition, note, reviewer or _default_reviewer())
        fid = event.finding_id
    console.print(
        f"finding {fid[:12]}: {disposition} by {event.reviewer} at {event.at:%Y-%m-%d %H:%M} UTC"
    )


@app.command("history")
def history_cmd(
    ctx: typer.Context, finding_id: Annotated[str, typer.Argument(help="Finding id or prefix.")]
) -> None:
    """Show a finding's review history."""
    with db_session(settings_from(ctx)) as session:
        events = history(session, finding_id)
    table = Table("when (UTC)", "reviewer", "disposition", "note")
    for e in events:
        table.add_row(
            e.at.isoformat(timespec="seconds"), Text(e.reviewer), e.disposition, Text(e.note)
        )
    console.print(table)


@app.command("verify-trail")
def verify_trail_cmd(ctx: typer.Context) -> None:
    """Check the review trail's hash chain; exit 1 naming the first event that breaks it."""
    from auditor.db.trail import verify
    from auditor.errors import AuditorError

    with db_session(settings_from(ctx)) as session:
        check = verify(session)
    if not check.ok:
        raise AuditorError(
            f"the review trail is broken at event {check.broken_id} (finding "
            f"{(check.broken_finding or '')[:12]}): {check.reason}",
            "restore the review_events table from a backup and find out who changed it",
        )
    if check.head is None:
        console.print("the review trail is empty", markup=False, highlight=False)
        return
    console.print(
        f"the review trail verifies: {check.events} event(s), head {check.head}",
        markup=False,
        highlight=False,
    )
