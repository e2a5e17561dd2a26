"""`auditor policy`: run the Rego tests (with OPA's coverage), evaluate one input document,
list the rules, build and sign OPA bundles, export decisions as OPA decision-log events."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer

from auditor.cli._common import PeriodOption, console, db_session, err_console, settings_from
from auditor.config import PolicySettings
from auditor.errors import InputError

app = typer.Typer(help="Policies (Rego).", no_args_is_help=True)


def _engine_name(value: str | None) -> str | None:
    if value is not None and value not in ENGINES:
        raise typer.BadParameter(f"choose from {', '.join(ENGINES)}")
    return value


ENGINES = ("embedded", "opa", "opa-go")
EngineOption = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="embedded (regorus, default), opa (an OPA server) or opa-go (OPA's own Go "
        "evaluator in-process); overrides policy.engine.",
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
def test_cmd(
    ctx: typer.Context,
    engine: EngineOption = None,
    opa_url: OpaUrlOption = None,
    coverage: Annotated[
        bool,
        typer.Option(
            "--coverage",
            help="Also print OPA's line coverage of each policy file over the whole test run "
            "(runs on opa-go).",
        ),
    ] = False,
) -> None:
    """Run every Rego unit test with the configured engine; exit 1 if any fails."""
    from auditor.policy.engine import build_unguarded

    if coverage and engine not in (None, "opa-go"):
        raise typer.BadParameter("coverage comes from OPA's Go evaluator: use --engine opa-go")
    settings = _policy_settings(ctx, "opa-go" if coverage else engine, opa_url)
    policy_engine = build_unguarded(settings)  # the tests run here, as `opa test` would
    report = None
    if coverage:
        results, report = policy_engine.run_tests_with_coverage()  # type: ignore[attr-defined]
    else:
        results = policy_engine.run_tests()
    failed = [r for r in results if not r.passed]
    for r in results:
        mark = "PASS" if r.passed else "FAIL"
        line = f"{mark} {r.package}.{r.name}"
        if not r.passed and r.message:
            line += f": {r.message}"
        (console if r.passed else err_console).print(line, highlight=False, markup=False)
    if report is not None:
        for entry in report.files:
            lines = f"{len(entry.covered)}/{len(entry.covered) + len(entry.not_covered)}"
            missing = ",".join(str(n) for n in sorted(entry.not_covered))
            console.print(
                f"coverage {entry.percent:5.1f}% {lines:>7} {entry.path}"
                + (f" (not covered: lines {missing})" if missing else ""),
                highlight=False,
                markup=False,
            )
        console.print(
            f"coverage {report.percent:.1f}% of {report.covered_lines + report.not_covered_lines}"
            " policy lines (OPA's coverage report over every test)",
            highlight=False,
        )
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


@app.command("bundle")
def bundle_cmd(
    ctx: typer.Context,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Bundle file to write (.tar.gz).", dir_okay=False)
    ],
    signing_key: Annotated[
        Path | None,
        typer.Option(
            "--signing-key",
            help="PEM private key (RSA, or EC P-256) to sign the bundle with (RS256 / ES256).",
            dir_okay=False,
        ),
    ] = None,
    key_id: Annotated[
        str | None, typer.Option("--key-id", help="Key id written into the signature.")
    ] = None,
    include_tests: Annotated[
        bool,
        typer.Option("--include-tests", help="Also pack the Rego tests and example inputs."),
    ] = False,
    revision: Annotated[
        str | None,
        typer.Option("--revision", help="Revision for the manifest (default: the content hash)."),
    ] = None,
) -> None:
    """Write the rule pack (policy.directory, with the firm's tool registry policy.tools) as
    an OPA bundle, optionally signed; print what was written as JSON."""
    from auditor.policy.bundle import write_bundle
    from auditor.policy.engine import EmbeddedEngine, load_pack

    policy = settings_from(ctx).policy
    pack = load_pack(policy.model_copy(update={"source": None}))
    EmbeddedEngine(pack, compiled=False)  # refuse to ship a pack that does not load
    info = write_bundle(
        pack,
        out,
        signing_key=signing_key,
        key_id=key_id,
        include_tests=include_tests,
        revision=revision,
    )
    summary = dataclasses.asdict(info)
    summary["path"] = str(info.path)
    console.print_json(json.dumps(summary))


@app.command("keygen")
def keygen_cmd(
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Private key file to create (PEM, 0600).", dir_okay=False),
    ],
    kind: Annotated[
        str, typer.Option("--kind", help="rsa (RS256, 3072 bits) or ec (ES256, P-256).")
    ] = "rsa",
) -> None:
    """Create a bundle signing key and its public key (`<name>.pub.pem`) beside it."""
    from auditor.policy.bundle import generate_signing_key

    if kind not in ("rsa", "ec"):
        raise typer.BadParameter("choose rsa or ec")
    public = generate_signing_key(out, kind)  # type: ignore[arg-type]
    console.print(f"private key: {out}\npublic key:  {public}", highlight=False)


@app.command("decisions")
def decisions_cmd(
    ctx: typer.Context,
    period: PeriodOption,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="JSON Lines file to write.", dir_okay=False)
    ],
    fmt: Annotated[
        str, typer.Option("--format", help="opa: OPA decision-log events (the only format).")
    ] = "opa",
) -> None:
    """Export the period's policy decisions as OPA decision-log events (JSON Lines): decision
    id, path, input digest (never the input), result, bundle revision, timestamp."""
    from auditor.policy.decision_log import write_decision_log

    if fmt != "opa":
        raise typer.BadParameter("the only format is opa")
    with db_session(settings_from(ctx)) as session:
        count = write_decision_log(session, period, out)
    console.print(f"{count} decision events written to {out}", highlight=False)
