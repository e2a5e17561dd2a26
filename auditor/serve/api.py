"""`/api/v1`: the review queue as JSON, for ticketing and SIEM integration.

Authenticated by the browser's session cookie (then a POST must repeat the session's CSRF
token in `X-CSRF-Token`) or by a personal API token (`Authorization: Bearer aud_…`, made with
`auditor users token`), with exactly the pages' permissions and scope: the same permission
table, the same Scope in the same review.py queries, and 404 for a finding outside it.
The OpenAPI document at `/api/v1/openapi.json` describes every route.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from auditor import __version__, review
from auditor.config import ServeAuthSettings
from auditor.db.session import session_scope
from auditor.errors import AuditorError, InputError, NotFoundError
from auditor.serve import accounts
from auditor.serve.accounts import Actor
from auditor.serve.permissions import allowed, scope_for

MAX_LIMIT = 500
MAX_OFFSET = 10_000_000
MAX_BODY = 16 * 1024


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds") + "Z"


def api_routes(
    engine: Engine,
    auth: ServeAuthSettings,
    cookie_name: str,
    who: Callable[[str | None, str | None], str],
) -> list[BaseRoute]:
    """The API's routes, to mount at /api/v1."""

    def actor_of(request: Request, session: Session, action: str) -> Actor:
        header = request.headers.get("authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            actor = (
                accounts.actor_for_api_token(session, token.strip(), auth)
                if scheme.lower() == "bearer"
                else None
            )
        else:
            actor = accounts.current_actor(session, request.cookies.get(cookie_name), auth)
            if actor is not None and request.method == "POST":
                given = request.headers.get("x-csrf-token")
                if not accounts.same_token(actor.csrf_token, given):
                    raise ApiError(403, "a POST with the session cookie needs X-CSRF-Token")
        if actor is None:
            raise ApiError(401, "sign in, or send a personal API token as a Bearer token")
        if not allowed(actor.role, action):
            raise ApiError(403, "your role may not do this")
        return actor

    def item_json(it: review.QueueItem) -> dict[str, Any]:
        return {
            "id": it.id,
            "rule_id": it.rule_id,
            "severity": it.severity,
            "status": it.status,
            "title": it.title,
            "person": who(it.user_id, None),
            "department": it.department,
            "tool": it.tool,
            "occurred_at": _when(it.occurred_at),
            "entity_type": it.entity_type or None,
        }

    def history_json(entries: list[review.HistoryEntry]) -> list[dict[str, Any]]:
        return [
            {
                "at": _when(e.at),
                "reviewer": e.reviewer,
                "role": e.role,
                "disposition": e.disposition,
                "note": e.note,
            }
            for e in entries
        ]

    async def handle(request: Request, work: Callable[[], Any], status: int = 200) -> Response:
        try:
            body = await run_in_threadpool(work)
        except ApiError as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        except NotFoundError:
            return JSONResponse({"error": "no such finding"}, status_code=404)
        except AuditorError as exc:
            return JSONResponse({"error": exc.message}, status_code=400)
        return JSONResponse(body, status_code=status)

    async def read_json(request: Request) -> dict[str, Any]:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise ApiError(415, "send application/json")
        raw = await request.body()
        if len(raw) > MAX_BODY:
            raise ApiError(413, "the body is too large")
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            raise ApiError(400, "the body is not JSON") from None
        if not isinstance(data, dict):
            raise ApiError(400, "the body must be a JSON object")
        return data

    def text_field(data: dict[str, Any], name: str) -> str:
        value = data.get(name)
        if not isinstance(value, str):
            raise InputError(f"{name} must be a string")
        return value

    async def findings(request: Request) -> Response:
        q = request.query_params

        def work() -> dict[str, Any]:
            def opt(name: str) -> str | None:
                return q.get(name, "").strip()[:200] or None

            try:
                offset = int(q.get("offset", "0"))
                limit = int(q.get("limit", "50"))
            except ValueError:
                raise InputError("offset and limit must be whole numbers") from None
            if not 0 <= offset <= MAX_OFFSET or not 1 <= limit <= MAX_LIMIT:
                raise InputError(f"offset must be 0 to {MAX_OFFSET:,} and limit 1 to {MAX_LIMIT}")
            flt = review.QueueFilter(
                period=opt("period"),
                status=opt("status"),
                severity=opt("severity"),
                rule_id=opt("rule"),
                tool=opt("tool"),
                department=opt("department"),
                sort=opt("sort") or "severity",
            )
            with session_scope(engine) as session:
                actor = actor_of(request, session, "findings.read")
                page = review.queue(
                    session,
                    scope_for(session, actor),
                    flt,
                    offset=offset,
                    limit=limit,
                    with_facets=False,
                )
            return {
                "total": page.total,
                "offset": offset,
                "limit": limit,
                "status_counts": page.status_counts,
                "items": [item_json(it) for it in page.items],
            }

        return await handle(request, work)

    async def finding(request: Request) -> Response:
        finding_id = request.path_params["finding_id"]

        def work() -> dict[str, Any]:
            with session_scope(engine) as session:
                actor = actor_of(request, session, "findings.read")
                scope = scope_for(session, actor)
                d = review.finding_detail(session, scope, finding_id)
                review.record_evidence_view(
                    session, scope, finding_id, viewer=actor.username, role=actor.role
                )
            return {
                **item_json(d.item),
                "person": who(d.item.user_id, d.person_name),
                "message": d.message,
                "masked_excerpt": d.item.masked_excerpt,
                "tier": d.tier,
                "first_seen": _when(d.first_seen),
                "last_seen": _when(d.last_seen),
                "pending_requester": d.pending_requester,
                "history": history_json(d.history),
            }

        return await handle(request, work)

    async def history(request: Request) -> Response:
        finding_id = request.path_params["finding_id"]

        def work() -> dict[str, Any]:
            with session_scope(engine) as session:
                actor = actor_of(request, session, "findings.read")
                d = review.finding_detail(session, scope_for(session, actor), finding_id)
            return {
                "finding_id": finding_id,
                "status": d.item.status,
                "history": history_json(d.history),
            }

        return await handle(request, work)

    async def act(request: Request, action: str) -> Response:
        finding_id = request.path_params["finding_id"]
        try:
            data = await read_json(request)
        except ApiError as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)

        def work() -> dict[str, Any]:
            with session_scope(engine) as session:
                actor = actor_of(request, session, action)
                scope = scope_for(session, actor)
                if action == "findings.dispose":
                    event = review.record_disposition(
                        session,
                        scope,
                        finding_id,
                        text_field(data, "disposition"),
                        text_field(data, "note"),
                        actor=actor.username,
                        role=actor.role,
                    )
                else:
                    decision = text_field(data, "decision")
                    if decision not in ("approve", "reject"):
                        raise InputError("decision must be approve or reject")
                    event = review.decide_approval(
                        session,
                        scope,
                        finding_id,
                        decision == "approve",
                        text_field(data, "note"),
                        actor=actor.username,
                        role=actor.role,
                    )
                status = review.finding_detail(session, scope, finding_id).item.status
            return {
                "finding_id": finding_id,
                "status": status,
                "event": history_json(
                    [
                        review.HistoryEntry(
                            event.at, event.reviewer, event.role, event.disposition, event.note
                        )
                    ]
                )[0],
            }

        return await handle(request, work, 201)

    async def dispositions(request: Request) -> Response:
        return await act(request, "findings.dispose")

    async def approval(request: Request) -> Response:
        return await act(request, "findings.approve")

    async def openapi(request: Request) -> Response:
        return JSONResponse(OPENAPI)

    return [
        Route("/findings", findings, methods=["GET"]),
        Route("/findings/{finding_id:str}", finding, methods=["GET"]),
        Route("/findings/{finding_id:str}/history", history, methods=["GET"]),
        Route("/findings/{finding_id:str}/dispositions", dispositions, methods=["POST"]),
        Route("/findings/{finding_id:str}/approval", approval, methods=["POST"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _ok(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


_ID = {
    "name": "finding_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "maxLength": 64},
}
_COMMON = {"401": _error("not signed in"), "403": _error("the role may not do this")}
_FOUND = {**_COMMON, "404": _error("no such finding, or not in your scope")}
_STR = {"type": "string"}
# A note says why: at least one character that is not white space.
_NOTE = {"type": "string", "minLength": 1, "maxLength": 2000, "pattern": "\\S"}
_NSTR = {"type": ["string", "null"]}
_HISTORY = {
    "type": "object",
    "required": ["at", "reviewer", "role", "disposition", "note"],
    "properties": {
        "at": {"type": "string", "format": "date-time"},
        "reviewer": _STR,
        "role": _NSTR,
        "disposition": _STR,
        "note": _STR,
    },
}
_ITEM_PROPS: dict[str, Any] = {
    "id": _STR,
    "rule_id": _STR,
    "severity": {"type": "string", "enum": list(review.SEVERITIES)},
    "status": {"type": "string", "enum": list(review.STATUSES)},
    "title": _STR,
    "person": {
        "type": "string",
        "description": "pseudonym (a name only where report.reidentify allows)",
    },
    "department": _NSTR,
    "tool": _NSTR,
    "occurred_at": {"type": "string", "format": "date-time"},
    "entity_type": _NSTR,
}
OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "AI-usage auditor review API",
        "version": __version__,
        "description": "The review queue, scoped to the caller exactly as the web pages are. "
        "Authenticate with the session cookie (a POST then needs X-CSRF-Token) or a personal "
        "token from `auditor users token` as `Authorization: Bearer aud_…`.",
    },
    "servers": [{"url": "/api/v1"}],
    "components": {
        "securitySchemes": {
            "token": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": "__Host-auditor_session"},
        },
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": _STR}},
            "Item": {"type": "object", "required": list(_ITEM_PROPS), "properties": _ITEM_PROPS},
            "Queue": {
                "type": "object",
                "required": ["total", "offset", "limit", "status_counts", "items"],
                "properties": {
                    "total": {"type": "integer"},
                    "offset": {"type": "integer"},
                    "limit": {"type": "integer"},
                    "status_counts": {
                        "type": "object",
                        "additionalProperties": {"type": "integer"},
                    },
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
                },
            },
            "HistoryEntry": _HISTORY,
            "Finding": {
                "allOf": [
                    {"$ref": "#/components/schemas/Item"},
                    {
                        "type": "object",
                        "properties": {
                            "message": _STR,
                            "masked_excerpt": _NSTR,
                            "tier": _NSTR,
                            "first_seen": _STR,
                            "last_seen": _STR,
                            "pending_requester": _NSTR,
                            "history": {"type": "array", "items": _HISTORY},
                        },
                    },
                ]
            },
            "History": {
                "type": "object",
                "required": ["finding_id", "status", "history"],
                "properties": {
                    "finding_id": _STR,
                    "status": _STR,
                    "history": {"type": "array", "items": _HISTORY},
                },
            },
            "Recorded": {
                "type": "object",
                "required": ["finding_id", "status", "event"],
                "properties": {"finding_id": _STR, "status": _STR, "event": _HISTORY},
            },
        },
    },
    "security": [{"token": []}, {"session": []}],
    "paths": {
        "/findings": {
            "get": {
                "summary": "The findings in your scope that match the filters, one page",
                "parameters": [
                    {"name": n, "in": "query", "required": False, "schema": s}
                    for n, s in (
                        (
                            "period",
                            {"type": "string", "pattern": "^[1-9][0-9]{3}-(0[1-9]|1[0-2])$"},
                        ),
                        ("status", {"type": "string", "enum": list(review.STATUSES)}),
                        ("severity", {"type": "string", "enum": list(review.SEVERITIES)}),
                        ("rule", _STR),
                        ("tool", _STR),
                        ("department", _STR),
                        ("sort", {"type": "string", "enum": list(review.SORTS)}),
                        ("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}),
                        ("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
                    )
                ],
                "responses": {
                    "200": _ok("a page of the queue", "Queue"),
                    "400": _error("a bad filter"),
                    **_COMMON,
                },
            }
        },
        "/findings/{finding_id}": {
            "get": {
                "summary": "A finding: masked excerpt, tier, history (the view is recorded)",
                "parameters": [_ID],
                "responses": {"200": _ok("the finding", "Finding"), **_FOUND},
            }
        },
        "/findings/{finding_id}/history": {
            "get": {
                "summary": "A finding's review history",
                "parameters": [_ID],
                "responses": {"200": _ok("its history", "History"), **_FOUND},
            }
        },
        "/findings/{finding_id}/dispositions": {
            "post": {
                "summary": "Record a disposition (four-eyes: pending_approval for a false "
                "positive or accepted risk on a critical or high finding)",
                "parameters": [_ID],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["disposition", "note"],
                                "properties": {
                                    "disposition": {
                                        "type": "string",
                                        "enum": list(review.DISPOSITIONS),
                                    },
                                    "note": _NOTE,
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "201": _ok("recorded", "Recorded"),
                    "400": _error("refused: a bad value, or the finding awaits approval"),
                    "415": _error("not JSON"),
                    **_FOUND,
                },
            }
        },
        "/findings/{finding_id}/approval": {
            "post": {
                "summary": "Approve or reject another reviewer's pending disposition",
                "parameters": [_ID],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["decision", "note"],
                                "properties": {
                                    "decision": {"type": "string", "enum": ["approve", "reject"]},
                                    "note": _NOTE,
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "201": _ok("recorded", "Recorded"),
                    "400": _error("refused: nothing pending, or you asked for it"),
                    "415": _error("not JSON"),
                    **_FOUND,
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [],
                "responses": {"200": {"description": "the OpenAPI document"}},
            }
        },
    },
}
