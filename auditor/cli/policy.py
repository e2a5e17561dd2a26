"""`auditor policy`: run the Rego tests, evaluate one input document, list the rules."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer

from auditor.cli._common import console, err_console, settings_from
from auditor.config import PolicySettings
from auditor.errors import InputError

app = typer.Typer(help="Policies (Rego).", no_args_is_help=True)


def _engine_name(value: str | None) -> str | None:
    if value is not None and value not in ENGINES:
        raise typer.BadParameter(f"choose from {', '.join(ENGINES)}")
    return value


ENGINES = ("embedded", "opa")
EngineOption = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="embedded (regorus, default) or opa; overrides policy.engine.",
        callback=_engine_name,
    ),
]
OpaUrlOption = Annotated[
    str | None,
    typer.Option("--opa-url", help="OPA server base URL, e.g. http://127.0.0.1:8181."),
]


def _policy_settings(ctx: typer.Context, engine: str | None, opa_url: str | None) -> PolicySettings:
    """The configured policy settings with the command line's engine and URL on top."""
    settings = settings_from(ctx).policy
    update: dict[str, object] = {}
    if engine:
        update["engine"] = engine
    if opa_url:
        update["opa_url"] = opa_url
        update.setdefault("engine", "opa")
    return settings.model_copy(update=update) if update else settings


@app.command("test")
def test_cmd(ctx: typer.Context, engine: EngineOption = None, opa_url: OpaUrlOption = None) -> None:
    """Run every Rego unit test with the configured engine; exit 1 if any fails."""
    from auditor.policy.engine import build_engine

    policy_engine = build_engine(_policy_settings(ctx, engine, opa_url))
    results = policy_engine.run_tests()
    failed = [r for r in results if not r.passed]
    for r in results:
        mark = "PASS" if r.passed else "FAIL"
        line = f"{mark} {r.package}.{r.name}"
        if not r.passed and r.message:
            line += f": {r.message}"
        (console if r.passed else err_console).print(line, highlight=False, markup=False)
    console.print(
        f"{len(results) - len(failed)} passed, {len(failed)} failed "
        f"(engine {policy_engine.name}, policy revision {policy_engine.revision[:12]})",
        highlight=False,
    )
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
    engine: EngineOption = None,
    opa_url: OpaUrlOption = None,
) -> None:
    """Print the decision (violations) for one policy input document, as JSON."""
    from auditor.policy.engine import build_engine

    try:
        doc = json.loads(input_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{input_file}: not a readable JSON document ({exc})") from None
    if not isinstance(doc, dict):
        raise InputError(f"{input_file}: a policy input is a JSON object")
    policy_engine = build_engine(_policy_settings(ctx, engine, opa_url))
    violations = policy_engine.evaluate(doc)
    out = {
        "engine": policy_engine.name,
        "policy_revision": policy_engine.revision,
        "violations": [dataclasses.asdict(v) for v in violations],
    }
    console.print_json(json.dumps(out))


@app.command("rules")
def rules_cmd(ctx: typer.Context) -> None:
    """Print the rule catalogue (severity, title, remediation, references, frameworks) as JSON."""
    from auditor.policy.engine import rule_catalog

    catalog = rule_catalog(settings_from(ctx).policy)
    console.print_json(json.dumps(dataclasses.asdict(catalog)))
