"""`auditor notify`: e-mail each manager the counts of open findings in their line."""

from __future__ import annotations

from typing import Annotated

import typer

from auditor.cli._common import PeriodOption, console, db_session, settings_from
from auditor.ops.notify import compose, notices, send
from auditor.pipeline import make_pseudonymizer


def notify_cmd(
    ctx: typer.Context,
    period: PeriodOption,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Say who would get what (as pseudonyms and counts); send nothing."
        ),
    ] = False,
) -> None:
    """E-mail each manager with open findings in their reporting line: counts by severity and
    a link to their queue, never an excerpt, a value or a name."""
    settings = settings_from(ctx)
    with db_session(settings) as session:
        found = notices(session, period)
    pseudonym = make_pseudonymizer(settings.hash_key_bytes())
    reachable = [n for n in found if n.email]
    if dry_run:
        for n in found:
            counts = ", ".join(f"{k} {v}" for k, v in n.counts.items() if v)
            where = "" if n.email else " (no e-mail address: skipped)"
            console.print(f"{pseudonym(n.manager_id)}: {counts}{where}", markup=False)
    else:
        send([compose(n, period, settings.notify) for n in reachable], settings.notify)
    verb = "would send" if dry_run else "sent"
    skipped = len(found) - len(reachable)
    console.print(
        f"{verb} {len(reachable)} e-mail(s) to managers with open findings in {period}"
        + (f"; {skipped} manager(s) without an e-mail address in the directory" if skipped else ""),
        markup=False,
        highlight=False,
    )
