"""`auditor serve` (the review web application) and `auditor users` (its local accounts)."""

from __future__ import annotations

import ipaddress
import sys
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from auditor.cli._common import console, db_session, open_engine, settings_from
from auditor.errors import InputError
from auditor.serve.accounts import (
    ROLES,
    add_account,
    disable_account,
    issue_api_token,
    list_accounts,
)

users_app = typer.Typer(help="Accounts that sign in to `auditor serve`.", no_args_is_help=True)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_cmd(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8080,
    insecure_http: Annotated[
        bool,
        typer.Option(
            "--insecure-http",
            help="Send the session cookie over plain HTTP (no Secure flag); only on a "
            "loopback address, e.g. to try the demo on this machine.",
        ),
    ] = False,
    tls_cert: Annotated[
        str | None, typer.Option(help="TLS certificate (PEM) to serve HTTPS directly.")
    ] = None,
    tls_key: Annotated[str | None, typer.Option(help="TLS private key (PEM).")] = None,
) -> None:
    """Serve the review web application: managers and reviewers sign in and review findings."""
    import uvicorn

    from auditor.serve.app import ServeOptions, create_app

    if insecure_http and not _is_loopback(host):
        raise InputError(
            f"--insecure-http is refused on {host}: session cookies would cross the network "
            "in clear",
            "listen on 127.0.0.1, or serve HTTPS (--tls-cert/--tls-key or a TLS proxy)",
        )
    if (tls_cert is None) != (tls_key is None):
        raise InputError("--tls-cert and --tls-key go together", "give both or neither")
    settings = settings_from(ctx)
    engine = open_engine(settings)
    app = create_app(settings, engine, ServeOptions(secure_cookies=not insecure_http))
    scheme = "https" if tls_cert else "http"
    console.print(
        f"review application on {scheme}://{host}:{port}/ (database {settings.database.url})",
        markup=False,
        highlight=False,
    )
    if not insecure_http and not tls_cert:
        console.print(
            "session cookies are Secure: browse through an HTTPS proxy, or use --insecure-http "
            "on this machine",
            markup=False,
            highlight=False,
        )
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            ssl_certfile=tls_cert,
            ssl_keyfile=tls_key,
            server_header=False,
            log_level="info",
        )
    finally:
        engine.dispose()


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name (lower case, digits, . _ -).")],
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")],
    person_id: Annotated[
        str | None,
        typer.Option(help="Their user id in the people directory (needed for a manager)."),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin", help="Read the password from the first line of standard input."
        ),
    ] = False,
) -> None:
    """Add a local account; the password is stored only as an argon2id hash."""
    settings = settings_from(ctx)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with db_session(settings) as session:
        info = add_account(
            session,
            name,
            role,
            password,
            person_id=person_id,
            min_password_chars=settings.serve.auth.min_password_chars,
        )
    console.print(f"added {info.username} ({info.role})", markup=False, highlight=False)


@users_app.command("list")
def users_list(ctx: typer.Context) -> None:
    """List the accounts: name, role, person id, whether disabled."""
    with db_session(settings_from(ctx)) as session:
        accounts = list_accounts(session)
    table = Table("user", "role", "person id", "state", "created (UTC)")
    for a in accounts:
        table.add_row(
            Text(a.username),
            a.role,
            Text(a.person_id or "-"),
            "disabled" if a.disabled else "active",
            a.created_at.isoformat(timespec="seconds"),
        )
    console.print(table)


@users_app.command("disable")
def users_disable(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="User name.")]
) -> None:
    """Disable an account; its open sessions end at once."""
    with db_session(settings_from(ctx)) as session:
        disable_account(session, name)
    console.print(f"disabled {name}; its sessions are ended", markup=False, highlight=False)


@users_app.command("token")
def users_token(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="User name.")]
) -> None:
    """Make a personal API token for /api/v1 (replacing the account's earlier one); it is
    printed once, only its SHA-256 is stored, and it expires after serve.auth.api_token_days."""
    settings = settings_from(ctx)
    with db_session(settings) as session:
        token = issue_api_token(session, name)
    console.print(token, markup=False, highlight=False, soft_wrap=True)
