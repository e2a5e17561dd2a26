"""The demo's interactions as ChatGPT Enterprise Compliance API conversations (JSON Lines).

Records of one demo session become one conversation, its turns in time order: the first
record's system message (if any), then each record's last user message and its reply. The
history a record resent is not written again: in ChatGPT it is the conversation's earlier
messages. The user message's id is the record's response id, so its interaction's event id
is `<session id>:<response id>`; the record's workflow tag is written as the message's
`project_id` (the reader takes a project as the workflow tag), and its model as the reply's
`metadata.model_slug` (the response model, else the request model).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from auditor.normalize import message_text, object_at, to_utc

FORMAT = "chatgpt-compliance"
SUFFIX = ".jsonl"
WORKSPACE_ID = "ws-northbridge-demo"
_SYSTEM_ROLES = ("system", "developer")


def _content(content: Any) -> dict[str, Any] | None:
    """The API's `{type, value}` for text; a list of parts keeps ChatGPT's `parts` shape."""
    if content is None:
        return None
    if isinstance(content, list):
        # The text parts as `message_text` reads them, so joining them gives the same prompt.
        parts = [message_text([p]) for p in content if isinstance(p, str) or _is_text_part(p)]
        return {"content_type": "text", "parts": parts}
    return {"type": "text", "value": message_text(content)}


def _is_text_part(part: Any) -> bool:
    return (
        isinstance(part, dict)
        and part.get("type") in ("text", "input_text", None)
        and isinstance(part.get("text", part.get("content")), str)
    )


def _at(rec: dict[str, Any]) -> float:
    response = rec.get("response") or {}
    return to_utc(rec.get("timestamp", response.get("created"))).timestamp()


def _author(role: str) -> dict[str, Any]:
    return {"object": "compliance.workspace.conversation.message.author", "role": role}


def _message(
    msg_id: str, at: float, role: str, content: Any, parent: str | None, **extra: Any
) -> dict[str, Any]:
    return {
        "object": "compliance.workspace.conversation.message",
        "id": msg_id,
        "created_at": at,
        "parent_id": parent,
        "author": _author(role),
        "content": _content(content),
        **extra,
    }


def _turn_messages(
    rec: dict[str, Any], index: int, parent: str | None, with_system: bool
) -> list[dict[str, Any]]:
    request = rec.get("request") or {}
    response = rec.get("response") or {}
    messages = [m for m in request.get("messages") or [] if isinstance(m, dict)]
    at = _at(rec)
    reply_at = float(response["created"]) if response.get("created") is not None else at
    msg_id = str(response.get("id") or f"turn-{index}")
    model = response.get("model") or request.get("model")
    out: list[dict[str, Any]] = []
    if with_system and messages and messages[0].get("role") in _SYSTEM_ROLES:
        out.append(_message(f"{msg_id}-system", at, "system", messages[0].get("content"), parent))
        parent = out[-1]["id"]
    users = [m for m in messages if m.get("role") == "user"]
    choices = response.get("choices") or []
    replies = [
        c["message"].get("content")
        for c in choices
        if isinstance(c, dict) and isinstance(c.get("message"), dict)
    ]
    replies = [r for r in replies if r is not None]
    extra: dict[str, Any] = {"gpt_id": None, "project_id": rec.get("workflow")}
    if model and not replies:
        extra["metadata"] = {"model_slug": model}
    content = users[-1].get("content") if users else None
    out.append(_message(msg_id, at, "user", content, parent, **extra))
    for n, reply in enumerate(replies):
        meta = {"model_slug": model} if model else {}
        out.append(
            _message(
                f"{msg_id}-reply{n or ''}",
                reply_at,
                "assistant",
                reply,
                out[-1]["id"],
                metadata=meta,
            )
        )
    return out


def _key(rec: dict[str, Any], index: int) -> tuple[str, str, str]:
    user = object_at(rec, "user")
    response = rec.get("response") or {}
    session = rec.get("session_id") or f"conv-{response.get('id') or index}"
    return (str(session), str(user.get("id") or ""), str(user.get("email") or ""))


def write(records: Sequence[dict[str, Any]], path: Path) -> int:
    """Write `records` as one conversation per line; return how many user messages (one
    interaction each) the file holds: one per record."""
    groups: dict[tuple[str, str, str], list[tuple[int, dict[str, Any]]]] = {}
    for index, rec in enumerate(records):
        groups.setdefault(_key(rec, index), []).append((index, rec))
    with path.open("w", encoding="utf-8") as fh:
        for (session, user_id, email), members in groups.items():
            members.sort(key=lambda m: _at(m[1]))
            messages: list[dict[str, Any]] = []
            for n, (index, rec) in enumerate(members):
                parent = messages[-1]["id"] if messages else None
                messages.extend(_turn_messages(rec, index, parent, with_system=n == 0))
            conversation = {
                "object": "compliance.workspace.conversation",
                "id": session,
                "workspace_id": WORKSPACE_ID,
                "user_id": user_id or None,
                "user_email": email or None,
                "created_at": messages[0]["created_at"],
                "last_active_at": messages[-1]["created_at"],
                "title": None,
                "messages": {
                    "object": "list",
                    "data": messages,
                    "has_more": False,
                    "last_id": messages[-1]["id"],
                },
            }
            fh.write(json.dumps(conversation, ensure_ascii=False) + "\n")
    return len(records)
