"""`auditor policy`: run the Rego tests, evaluate one input document."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer

from auditor.cli._common import console, err_console, settings_from
from auditor.errors import InputError

app = typer.Typer(help="Policies (Rego).", no_args_is_help=True)


@app.command("test")
def test_cmd(ctx: typer.Context) -> None:
    """Run every Rego unit test with the configured engine; exit 1 if any fails."""
    from auditor.policy.engine import build_engine

    engine = build_engine(settings_from(ctx).policy)
    results = engine.run_tests()
    failed = [r for r in results if not r.passed]
    for r in results:
        mark = "PASS" if r.passed else "FAIL"
        line = f"{mark} {r.package}.{r.name}"
        if not r.passed and r.message:
            line += f": {r.message}"
        (console if r.passed else err_console).print(line, highlight=False, markup=False)
    console.print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed or not results:
        if not results:
            err_console.print("no Rego tests found")
        raise typer.Exit(1)


@app.command("eval")
def eval_cmd(
    ctx: typer.Context,
    input_file: Annotated[
        Path, typer.Option("--input", "-i", help="Policy input document (JSON).", dir_okay=False)
    ],
) -> None:
    """Print the decision (violations) for one policy input document, as JSON."""
    from auditor.policy.engine import build_engine

    try:
        doc = json.loads(input_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{input_file}: not a readable JSON document ({exc})") from None
    engine = build_engine(settings_from(ctx).policy)
    violations = engine.evaluate(doc)
    out = {
        "engine": engine.name,
        "policy_revision": engine.revision,
        "violations": [dataclasses.asdict(v) for v in violations],
    }
    console.print_json(json.dumps(out))
