"""`auditor sample`: draw, list, show and re-perform samples."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from auditor.cli._common import PeriodOption, console, db_session, err_console, settings_from
from auditor.db.models import Sample
from auditor.pipeline import plan_from
from auditor.sample.selection import (
    draw_sample,
    extend_sample,
    load_manifest,
    reperform,
    replace_item,
)

app = typer.Typer(help="Samples and their manifests.", no_args_is_help=True)


@app.command("draw")
def draw_cmd(
    ctx: typer.Context,
    period: PeriodOption,
    size: Annotated[
        int | None,
        typer.Option(help="Items to draw (default: sample.size, else sized from the plan)."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed (default: sample.seed or OS entropy).")
    ] = None,
    new: Annotated[bool, typer.Option("--new", help="Draw anew even if a sample exists.")] = False,
    reason: Annotated[
        str | None,
        typer.Option(
            "--reason",
            help="Why a period that has a sample is drawn anew (required with --new then); "
            "recorded in the new sample's manifest.",
        ),
    ] = None,
) -> None:
    """Draw a seeded random sample of a period's interactions (stratified if sample.strata)."""
    settings = settings_from(ctx)
    with db_session(settings) as session:
        sample, created = draw_sample(
            session,
            period,
            size or settings.sample.size,
            seed if seed is not None else settings.sample.seed,
            reuse=not new,
            plan=plan_from(settings.sample),
            redraw_reason=reason,
        )
        late = (sample.plan or {}).get("late_arrivals") or {}
        strata = len(sample.plan.get("stratification", {}).get("strata", {}))
    verb = "drew" if created else "reusing"
    console.print(
        f"{verb} sample {sample.id}: {sample.size} of {sample.population_count} interactions, "
        f"seed {sample.seed} ({sample.seed_source})" + (f", {strata} strata" if strata else "")
    )
    if late and not created:
        err_console.print(
            f"{late['count']} interaction(s) arrived after sample {sample.id} was drawn; they are "
            "recorded as late arrivals and the sample stands. To cover them, draw anew by name: "
            f"`auditor sample draw --period {period} --new --reason ...`",
            highlight=False,
            markup=False,
        )


@app.command("list")
def list_cmd(ctx: typer.Context) -> None:
    """List samples, newest first."""
    with db_session(settings_from(ctx)) as session:
        samples = list(session.scalars(select(Sample).order_by(Sample.created_at.desc())))
    table = Table("id", "period", "size", "population", "seed source", "created (UTC)")
    for s in samples:
        table.add_row(
            s.id,
            s.period,
            str(s.size),
            str(s.population_count),
            s.seed_source,
            s.created_at.isoformat(timespec="seconds"),
        )
    console.print(table)


@app.command("show")
def show_cmd(ctx: typer.Context, sample_id: Annotated[str, typer.Argument()]) -> None:
    """Print a sample's manifest as JSON (ids only, no content)."""
    with db_session(settings_from(ctx)) as session:
        manifest = load_manifest(session, sample_id)
    console.print_json(json.dumps(manifest.as_dict()))


@app.command("verify")
def verify_cmd(ctx: typer.Context, sample_id: Annotated[str, typer.Argument()]) -> None:
    """Draw the sample again from its manifest and say whether the listing matches."""
    with db_session(settings_from(ctx)) as session:
        check = reperform(session, sample_id)
    console.print(
        f"population digest: {'matches' if check.population_matches else 'DIFFERS'} "
        f"({check.population_count_now} interactions now, {check.population_count_then} then)\n"
        f"strata:            {'match' if check.assignment_matches else 'DIFFER'}\n"
        f"listing:           {'matches' if check.listing_matches else 'DIFFERS'}"
        + (
            f" (after {check.replacements} replacement(s): "
            f"{'re-drawn alike' if check.replacements_match else 'DIFFER'})"
            if check.replacements
            else ""
        )
        + (
            f" (after {check.extensions} extension(s): "
            f"{'re-drawn alike' if check.replacements_match else 'DIFFER'})"
            if check.extensions
            else ""
        )
        + f"\nmanifest digest:   {'matches' if check.manifest_matches else 'DIFFERS'}",
        highlight=False,
    )
    for line in check.changes():
        console.print(line, highlight=False, markup=False)
    if not check.ok:
        err_console.print(f"sample {sample_id} could not be re-performed")
        raise typer.Exit(1)


@app.command("replace")
def replace_cmd(
    ctx: typer.Context,
    sample_id: Annotated[str, typer.Argument()],
    item: Annotated[str, typer.Option("--item", help="Listed item key, source_format:event_id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the item cannot be used.")],
) -> None:
    """Replace a listed item that cannot be used with the next one drawn from its stratum."""
    with db_session(settings_from(ctx)) as session:
        new_key = replace_item(session, sample_id, item, reason)
    console.print(
        f"replaced {item} with {new_key} in sample {sample_id}; recorded in its manifest",
        highlight=False,
        markup=False,
    )


@app.command("extend")
def extend_cmd(
    ctx: typer.Context,
    sample_id: Annotated[str, typer.Argument()],
    to: Annotated[int, typer.Option("--to", min=2, help="The sample's new size.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the sample is extended.")],
) -> None:
    """Extend a sample whose deviations exceed those the plan expected, with the next items
    of its own seeded draw (the first items stay first). `auditor run` then scans and
    evaluates the added items; `auditor sample verify` re-performs the extension."""
    with db_session(settings_from(ctx)) as session:
        added = extend_sample(session, sample_id, to, reason)
    console.print(
        f"extended sample {sample_id} by {len(added)} item(s) to {to}; recorded in its "
        "manifest. Run `auditor run` to scan and evaluate the added items.",
        highlight=False,
        markup=False,
    )
