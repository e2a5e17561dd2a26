"""The review web application: Starlette routes over review.py, pages from Jinja2 templates.

Every page works without JavaScript (there is none: the CSP admits no script at all) and
loads nothing from outside. Every form POST carries the session's CSRF token (the sign-in
form a double-submit token), every response carries the security headers, and a finding
outside the caller's scope answers 404 exactly as a missing one does.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from auditor import review
from auditor.config import Settings
from auditor.db.session import session_scope
from auditor.errors import AuditorError, InputError, NotFoundError, PolicyError
from auditor.ops.lock import RunLockedError, run_lock
from auditor.periods import period_bounds
from auditor.pipeline import REPORT_FORMATS, make_pseudonymizer, render_report
from auditor.report.bidi import mark_text
from auditor.report.render import _dash, _label, _status_key, _when
from auditor.serve import accounts
from auditor.serve.accounts import Actor, SignInRefused
from auditor.serve.api import api_routes
from auditor.serve.oidc import claims_of, identity_from, make_client
from auditor.serve.permissions import allowed, scope_for

log = logging.getLogger("auditor.serve")

PAGE_SIZE = 50
FACET_SECONDS = 60.0
REPORT_TYPES = {
    "html": "text/html; charset=utf-8",
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "ocsf": "application/x-ndjson",
}
LOGIN_CSRF_COOKIE = "auditor_login_csrf"
REPORT_CSS = Path(__file__).resolve().parents[1] / "report" / "templates" / "report.css"
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


class SecurityHeaders:
    """Adds the security headers to every response, and `no-store` to every page (a page can
    hold masked evidence; a shared proxy or the browser's disk cache must not keep it)."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.decode().lower() not in SECURITY_HEADERS
                ]
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                if not any(k.decode().lower() == "cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                if self.hsts:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass(frozen=True)
class ServeOptions:
    """How the app was started: `secure_cookies` False only with --insecure-http."""

    secure_cookies: bool = True


def _visible_bidi(value: Any) -> Any:
    """Every plain string a page prints shows its bidi controls as markers ("[U+202E]"), as
    the report does, so a name or excerpt from a log cannot reorder what a reviewer reads.
    (Markup, e.g. a macro's output, is already made of such strings.)"""
    return mark_text(value) if type(value) is str else value


def _templates() -> Environment:
    env = Environment(
        loader=PackageLoader("auditor.serve", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_visible_bidi,
    )
    env.filters.update(dash=_dash, label=_label, status_key=_status_key, when=_when)
    return env


def create_app(
    settings: Settings, engine: Engine, options: ServeOptions | None = None
) -> Starlette:
    """The application on `engine` (migrated, current), configured by `settings`."""
    options = options or ServeOptions()
    auth = settings.serve.auth
    env = _templates()
    pseudonym = make_pseudonymizer(settings.hash_key_bytes())
    reidentify = settings.report.reidentify
    cookie_name = "__Host-auditor_session" if options.secure_cookies else "auditor_session"
    css = (
        REPORT_CSS.read_text(encoding="utf-8")
        + "\n"
        + (Path(__file__).parent / "templates" / "serve.css").read_text(encoding="utf-8")
    )
    rules = _rule_catalog(settings)

    def render(
        request: Request, name: str, code: int = 200, actor: Actor | None = None, **ctx: Any
    ) -> HTMLResponse:
        html = env.get_template(name).render(actor=actor, allowed=allowed, **ctx)
        return HTMLResponse(html, status_code=code)

    def set_cookie(response: Response, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            httponly=True,
            samesite="lax",
            secure=options.secure_cookies,
        )

    def who(user_id: str | None, name: str | None = None) -> str:
        return name if reidentify and name else pseudonym(user_id)

    def with_actor(
        request: Request, session: Session, action: str | None
    ) -> Actor | RedirectResponse:
        actor = accounts.current_actor(session, request.cookies.get(cookie_name), auth)
        if actor is None:
            return RedirectResponse("/login", status_code=303)
        if action is not None and not allowed(actor.role, action):
            raise HTTPException(403)
        return actor

    async def read_form(request: Request) -> FormData:
        return await request.form(max_files=0, max_fields=20, max_part_size=16 * 1024)

    def check_csrf(actor: Actor, form: FormData) -> None:
        token = form.get("csrf_token")
        if not accounts.same_token(actor.csrf_token, token if isinstance(token, str) else None):
            raise HTTPException(403, "The form was out of date or not sent by this site.")

    # The queue's filter choices (rules, tools, departments, periods in the scope) take four
    # scans of the scope; they are kept a minute per role and person, so that paging through
    # 100,000 findings does not repeat them. Counts and rows are always fresh.
    facet_cache: dict[tuple[str, str | None], tuple[float, dict[str, list[str]]]] = {}

    def cached_facets(session: Session, actor: Actor, scope: review.Scope) -> dict[str, list[str]]:
        key = (actor.role, actor.person_id)
        hit = facet_cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < FACET_SECONDS:
            return hit[1]
        found = review.facets(session, scope)
        facet_cache[key] = (time.monotonic(), found)
        return found

    # --- sign-in -------------------------------------------------------------------------

    def login_page(request: Request, error: str | None = None, status: int = 200) -> Response:
        token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
        response = render(
            request, "login.html", status, csrf_token=token, error=error, mode=auth.mode
        )
        if auth.mode == "local":
            set_cookie(response, LOGIN_CSRF_COOKIE, token, None)
        return response

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return login_page(request)
        if auth.mode != "local":
            raise HTTPException(403, "Sign in with your organisation's account.")
        form = await read_form(request)
        expected = request.cookies.get(LOGIN_CSRF_COOKIE)
        given = form.get("csrf_token")
        if not expected or not accounts.same_token(
            expected, given if isinstance(given, str) else None
        ):
            raise HTTPException(403, "The form was out of date or not sent by this site.")
        username, password = form.get("username"), form.get("password")
        if not isinstance(username, str) or not isinstance(password, str) or not username:
            return login_page(request, "Enter a user name and a password.", 400)
        client = request.client.host if request.client else "unknown"

        def attempt() -> tuple[str | None, int]:
            with session_scope(engine) as session:
                old = request.cookies.get(cookie_name)
                if old:  # a new sign-in replaces any session this browser had
                    previous = accounts.current_actor(session, old, auth)
                    if previous is not None:
                        accounts.sign_out(session, previous)
                try:
                    return accounts.sign_in(session, username, password, client, auth), 200
                except SignInRefused as exc:
                    # Caught inside the session so that the failure it recorded (which the
                    # rate limit counts) is committed.
                    log.info("sign-in refused (%s) from %s", exc.message, client)
                    return None, 429 if exc.message.startswith("too many") else 401

        token, status = await run_in_threadpool(attempt)
        if token is None:
            message = (
                "Too many failed sign-ins. Try again later."
                if status == 429
                else "Wrong user name or password."
            )
            return login_page(request, message, status)
        response = RedirectResponse("/", status_code=303)
        set_cookie(response, cookie_name, token, None)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return response

    oidc_client = make_client(auth) if auth.mode == "oidc" else None

    async def login_oidc(request: Request) -> Response:
        if oidc_client is None:
            raise HTTPException(404)
        request.session.clear()
        try:
            response: Response = await oidc_client.authorize_redirect(
                request, auth.oidc_redirect_url
            )
        except Exception as exc:  # noqa: BLE001 - the provider is unreachable or answers oddly
            log.error("OpenID provider not usable: %s", type(exc).__name__)
            return login_page(request, "The sign-in service cannot be reached. Try later.", 503)
        return response

    async def oidc_callback(request: Request) -> Response:
        if oidc_client is None:
            raise HTTPException(404)
        client = request.client.host if request.client else "unknown"
        try:
            claims = await claims_of(oidc_client, request)
        except SignInRefused as exc:
            request.session.clear()
            return login_page(request, f"Not signed in: {exc.message}.", 401)
        finally:
            request.session.clear()

        def finish() -> tuple[str | None, str | None]:
            with session_scope(engine) as session:
                try:
                    who_ = identity_from(session, claims, auth)
                    token = accounts.sign_in_external(
                        session, who_.username, who_.role, who_.person_id
                    )
                except SignInRefused as exc:
                    log.info("OpenID sign-in refused (%s) from %s", exc.message, client)
                    return None, exc.message
                return token, None

        token, refused = await run_in_threadpool(finish)
        if token is None:
            return login_page(request, f"Not signed in: {refused}.", 403)
        response = RedirectResponse("/", status_code=303)
        set_cookie(response, cookie_name, token, None)
        return response

    async def logout(request: Request) -> Response:
        form = await read_form(request)

        def end() -> None:
            with session_scope(engine) as session:
                actor = with_actor(request, session, None)
                if isinstance(actor, Actor):
                    check_csrf(actor, form)
                    accounts.sign_out(session, actor)

        await run_in_threadpool(end)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(cookie_name, path="/", secure=options.secure_cookies)
        return response

    # --- pages ---------------------------------------------------------------------------

    def home(request: Request) -> Response:
        with session_scope(engine) as session:
            actor = with_actor(request, session, None)
            if not isinstance(actor, Actor):
                return actor
        if allowed(actor.role, "findings.read"):
            return RedirectResponse("/findings", status_code=303)
        if allowed(actor.role, "users.read"):
            return RedirectResponse("/admin/users", status_code=303)
        raise HTTPException(403)

    def findings(request: Request) -> Response:
        q = request.query_params

        def opt(name: str) -> str | None:
            value = q.get(name, "").strip()
            return value[:200] or None

        flt = review.QueueFilter(
            period=opt("period"),
            status=opt("status"),
            severity=opt("severity"),
            rule_id=opt("rule"),
            tool=opt("tool"),
            department=opt("department"),
            sort=opt("sort") or "severity",
        )
        try:
            page = max(1, min(int(q.get("page", "1")), 100_000))
        except ValueError:
            page = 1
        with session_scope(engine) as session:
            actor = with_actor(request, session, "findings.read")
            if not isinstance(actor, Actor):
                return actor
            scope = scope_for(session, actor)
            result = review.queue(
                session,
                scope,
                flt,
                offset=(page - 1) * PAGE_SIZE,
                limit=PAGE_SIZE,
                with_facets=False,
            )
            choices = cached_facets(session, actor, scope)
        current = {
            k: v
            for k, v in (
                ("period", flt.period),
                ("status", flt.status),
                ("severity", flt.severity),
                ("rule", flt.rule_id),
                ("tool", flt.tool),
                ("department", flt.department),
                ("sort", flt.sort),
            )
            if v
        }
        pages = max(1, -(-result.total // PAGE_SIZE))

        def link(**change: Any) -> str:
            params = {**current, **{k: v for k, v in change.items() if v is not None}}
            for k, v in change.items():
                if v is None:
                    params.pop(k, None)
            return "/findings?" + urlencode(params)

        return render(
            request,
            "queue.html",
            actor=actor,
            flt=flt,
            result=result,
            choices=choices,
            page=page,
            pages=pages,
            link=link,
            who=who,
            statuses=review.STATUSES,
            severities=review.SEVERITIES,
            sorts=review.SORTS,
        )

    def finding(request: Request) -> Response:
        finding_id = request.path_params["finding_id"]
        with session_scope(engine) as session:
            actor = with_actor(request, session, "findings.read")
            if not isinstance(actor, Actor):
                return actor
            scope = scope_for(session, actor)
            detail = review.finding_detail(session, scope, finding_id)
            review.record_evidence_view(
                session, scope, finding_id, viewer=actor.username, role=actor.role
            )
            views = (
                review.evidence_views(session, scope, finding_id)
                if allowed(actor.role, "views.read")
                else None
            )
        return render(
            request,
            "finding.html",
            actor=actor,
            d=detail,
            person=who(detail.item.user_id, detail.person_name),
            rule=rules.get(detail.item.rule_id) if rules is not None else None,
            rules_known=rules is not None,
            views=views,
            dispositions=review.DISPOSITIONS,
            needs_approval=review.needs_approval,
            error=request.query_params.get("error"),
        )

    async def disposition(request: Request) -> Response:
        return await _act(request, "findings.dispose")

    async def approval(request: Request) -> Response:
        return await _act(request, "findings.approve")

    async def _act(request: Request, action: str) -> Response:
        finding_id = request.path_params["finding_id"]
        form = await read_form(request)

        def field(name: str) -> str:
            value = form.get(name)
            return value if isinstance(value, str) else ""

        def act() -> Response | None:
            with session_scope(engine) as session:
                actor = with_actor(request, session, action)
                if not isinstance(actor, Actor):
                    return actor
                check_csrf(actor, form)
                scope = scope_for(session, actor)
                if action == "findings.dispose":
                    review.record_disposition(
                        session,
                        scope,
                        finding_id,
                        field("disposition"),
                        field("note"),
                        actor=actor.username,
                        role=actor.role,
                    )
                else:
                    decision = field("decision")
                    if decision not in ("approve", "reject"):
                        raise InputError("choose approve or reject")
                    review.decide_approval(
                        session,
                        scope,
                        finding_id,
                        decision == "approve",
                        field("note"),
                        actor=actor.username,
                        role=actor.role,
                    )
            return None

        try:
            response = await run_in_threadpool(act)
        except InputError as exc:
            # Our own message (it never quotes the note); the finding's page shows it.
            return RedirectResponse(
                f"/findings/{finding_id}?" + urlencode({"error": exc.message}), status_code=303
            )
        return response or RedirectResponse(f"/findings/{finding_id}", status_code=303)

    def reports(request: Request) -> Response:
        with session_scope(engine) as session:
            actor = with_actor(request, session, "reports.generate")
            if not isinstance(actor, Actor):
                return actor
            periods = cached_facets(session, actor, scope_for(session, actor))["period"]
        return render(
            request,
            "reports.html",
            actor=actor,
            periods=periods,
            formats=REPORT_FORMATS,
            error=request.query_params.get("error"),
        )

    async def report_download(request: Request) -> Response:
        form = await read_form(request)
        period, fmt = form.get("period"), form.get("format")

        def make() -> Response:
            with session_scope(engine) as session:
                actor = with_actor(request, session, "reports.generate")
                if not isinstance(actor, Actor):
                    return actor
                check_csrf(actor, form)
            if not isinstance(period, str) or not isinstance(fmt, str) or fmt not in REPORT_FORMATS:
                raise InputError("choose a period and a format")
            period_bounds(period)
            try:
                with run_lock(settings, "report"), session_scope(engine) as session:
                    path = render_report(session, period, settings, fmt=fmt)
            except (RunLockedError, NotFoundError) as exc:
                return RedirectResponse(
                    "/reports?" + urlencode({"error": exc.message}), status_code=303
                )
            log.info("report %s written for %s", path.name, actor.username)
            return FileResponse(
                path,
                media_type=REPORT_TYPES[fmt],
                filename=path.name,
                headers={"cache-control": "no-store"},
            )

        return await run_in_threadpool(make)

    def users(request: Request) -> Response:
        with session_scope(engine) as session:
            actor = with_actor(request, session, "users.read")
            if not isinstance(actor, Actor):
                return actor
            listing = accounts.list_accounts(session)
        return render(request, "users.html", actor=actor, accounts=listing)

    def stylesheet(request: Request) -> Response:
        return Response(
            css, media_type="text/css", headers={"cache-control": "private, max-age=3600"}
        )

    # --- errors: a plain page, never a traceback -----------------------------------------

    def error_page(request: Request, status: int, message: str) -> Response:
        return render(request, "error.html", status, status=status, message=message)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if request.url.path.startswith("/api/"):
            # The API answers in JSON, even for a path that names no route.
            words = {404: "no such resource", 405: "method not allowed"}
            return JSONResponse(
                {"error": words.get(exc.status_code, "request refused")},
                status_code=exc.status_code,
                headers=exc.headers,
            )
        default = {403: "You may not see this page.", 404: "There is nothing here."}
        message = (
            exc.detail
            if exc.detail and exc.status_code == 403 and exc.detail != "Forbidden"
            else None
        )
        return error_page(
            request, exc.status_code, message or default.get(exc.status_code, "Request refused.")
        )

    async def not_found(request: Request, exc: Exception) -> Response:
        return error_page(request, 404, "There is no such finding, or it is not yours to see.")

    async def bad_input(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AuditorError)
        return error_page(request, 400, exc.message)

    async def server_error(request: Request, exc: Exception) -> Response:
        # Type only: a driver's message can quote a bound value.
        log.error("error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return error_page(request, 500, "Something went wrong. Nothing was changed.")

    routes = [
        Route("/", home, methods=["GET"]),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/login/oidc", login_oidc, methods=["GET"]),
        Route("/auth/callback", oidc_callback, methods=["GET"]),
        Route("/findings", findings, methods=["GET"]),
        Route("/findings/{finding_id:str}", finding, methods=["GET"]),
        Route("/findings/{finding_id:str}/disposition", disposition, methods=["POST"]),
        Route("/findings/{finding_id:str}/approval", approval, methods=["POST"]),
        Route("/admin/users", users, methods=["GET"]),
        Route("/reports", reports, methods=["GET"]),
        Route("/reports/download", report_download, methods=["POST"]),
        Mount("/api/v1", routes=api_routes(engine, auth, cookie_name, who)),
        Route("/static/app.css", stylesheet, methods=["GET"]),
        # Browsers ask for it unprompted; no icon, and no 404 in their console.
        Route("/favicon.ico", lambda request: Response(status_code=204), methods=["GET"]),
    ]
    handlers: dict[Any, Callable[..., Any]] = {
        HTTPException: http_error,
        NotFoundError: not_found,
        AuditorError: bad_input,
        Exception: server_error,
    }
    middleware = [Middleware(SecurityHeaders, hsts=options.secure_cookies)]
    if oidc_client is not None:
        # Holds the flow's state, nonce and PKCE verifier between the redirect and the
        # callback only; signed with a key that lives as long as the process.
        middleware.append(
            Middleware(
                SessionMiddleware,
                secret_key=secrets.token_hex(32),
                session_cookie="auditor_oidc_flow",
                max_age=600,
                same_site="lax",
                https_only=options.secure_cookies,
            )
        )
    return Starlette(routes=routes, middleware=middleware, exception_handlers=handlers)


def _rule_catalog(settings: Settings) -> dict[str, Any] | None:
    """The configured pack's rules by id (for remediation and framework references), or None
    when the pack cannot be read (the finding page then says so)."""
    from auditor.policy.engine import rule_catalog

    try:
        return {r.rule_id: r for r in rule_catalog(settings.policy).rules}
    except PolicyError:
        return None
