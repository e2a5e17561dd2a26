"""OpenAI chat-completions request/response records as an LLM gateway or web proxy logs them,
in the shape `auditor.normalize.normalize_openai_chat` reads; and a few broken lines."""

from __future__ import annotations

import copy
import hashlib
import json
import random
import string
from datetime import datetime, timedelta
from typing import Any

from auditor.demo.usage import WEB_PROXY_TOOLS, Turn

# (request model, response model as the provider reports it, weight) per tool.
MODELS: dict[str, tuple[tuple[str, str, float], ...]] = {
    "chatgpt-enterprise": (
        ("gpt-4o", "gpt-4o-2024-11-20", 0.55),
        ("gpt-4.1", "gpt-4.1-2025-04-14", 0.35),
        ("o4-mini", "o4-mini-2025-04-16", 0.10),
    ),
    "copilot-business": (
        ("gpt-4.1", "gpt-4.1-2025-04-14", 0.6),
        ("claude-sonnet-4", "claude-sonnet-4-20250514", 0.4),
    ),
    "claude-enterprise": (
        ("claude-sonnet-4", "claude-sonnet-4-20250514", 0.8),
        ("claude-opus-4", "claude-opus-4-20250514", 0.2),
    ),
    "atlas-internal": (("atlas-70b", "atlas-70b-v3.2", 0.8), ("atlas-8b", "atlas-8b-v3.2", 0.2)),
    "perplexity": (("sonar", "sonar", 0.7), ("sonar-pro", "sonar-pro", 0.3)),
    "chatgpt-free": (("gpt-4o-mini", "gpt-4o-mini-2024-07-18", 1.0),),
    "deepseek-chat": (("deepseek-chat", "deepseek-chat", 1.0),),
}

# USD per million input / output tokens, as the gateway's cost table has them.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.5, 10.0),
    "gpt-4.1": (2.0, 8.0),
    "o4-mini": (1.1, 4.4),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-opus-4": (15.0, 75.0),
    "atlas-70b": (0.6, 0.6),  # internal charge-back rate
    "atlas-8b": (0.1, 0.1),
}

SYSTEM_PROMPTS: dict[str, tuple[str, ...]] = {
    "chatgpt-enterprise": (
        "You are ChatGPT, a helpful assistant for Northbridge Bank employees. Follow the bank's "
        "acceptable-use policy.",
        "You are a helpful assistant.",
    ),
    "copilot-business": (
        "You are GitHub Copilot, an AI programming assistant. Follow the user's requirements "
        "carefully. Keep answers short and use Markdown code blocks.",
    ),
    "claude-enterprise": ("You are Claude, an AI assistant. Be concise and accurate.",),
    "atlas-internal": (
        "You are Atlas, Northbridge Bank's internal assistant. Answer from the user's input and "
        "approved internal sources only. Do not give investment advice.",
    ),
    "perplexity": ("", "You are a search assistant. Cite sources when you can."),
    "chatgpt-free": ("",),
    "deepseek-chat": ("You are a helpful assistant.",),
}

# Share of records whose last user message is a list of text parts rather than a string.
PARTS_SHARE = {"atlas-internal": 0.4, "claude-enterprise": 0.25}

GATEWAYS = {"gateway": "llm-gateway", "webproxy": "web-proxy"}


# Oversight facts the bank's systems log, off the generator's random stream (see _share):
# client-facing drafts that were sent or exported, whether a reviewer signed them off, and
# the actions the coding agent took and who (or what) allowed them.
COMMUNICATION_WORKFLOWS = ("client_comm", "marketing")
SENT_SHARE = 0.45
REVIEWED_SHARE = 0.45
AGENT_TOOLS = (("Bash", "execute"), ("Edit", "write"), ("Write", "write"), ("Read", "none"))
AGENT_SHARE = 0.6
AUTO_APPROVED_SHARE = 0.5


def _share(*parts: str) -> float:
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def oversight_metadata(turn: Turn, event_id: str) -> dict[str, Any]:
    """Metadata the gateway or app adds about review, external use and agent actions."""
    meta: dict[str, Any] = {}
    if turn.workflow in COMMUNICATION_WORKFLOWS and _share(event_id, "sent") < SENT_SHARE:
        meta["output_used_externally"] = True
        meta["human_reviewed"] = _share(event_id, "reviewed") < REVIEWED_SHARE
    if (
        turn.tool == "claude-enterprise"
        and turn.workflow == "coding"
        and _share(event_id, "agent") < AGENT_SHARE
    ):
        name, _action = AGENT_TOOLS[int(_share(event_id, "tool") * len(AGENT_TOOLS))]
        meta["agent_tool"] = name
        # "config": allowed by the settings' allow-list, no person asked; else the user clicked.
        auto = _share(event_id, "approval") < AUTO_APPROVED_SHARE
        meta["agent_approval"] = "config" if auto else "user_temporary"
    return meta


def gateway_of(tool: str) -> str:
    """File prefix for the log source that sees `tool`."""
    return "webproxy" if tool in WEB_PROXY_TOOLS else "gateway"


def tokens(text: str) -> int:
    # About four characters per token for English text: close enough for a demo.
    return max(1, round(len(text) / 4))


def new_event_id(rng: random.Random, used: set[str]) -> str:
    alphabet = string.ascii_letters + string.digits
    while True:
        event_id = "chatcmpl-" + "".join(rng.choice(alphabet) for _ in range(29))
        if event_id not in used:
            used.add(event_id)
            return event_id


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _user_content(rng: random.Random, tool: str, prompt: str) -> str | list[dict[str, str]]:
    if rng.random() >= PARTS_SHARE.get(tool, 0.05):
        return prompt
    # Split at a single newline so that joining the parts with "\n" (as the normalizer does)
    # gives back exactly the prompt, and planted offsets stay true.
    head, sep, tail = prompt.partition("\n")
    texts = [head, tail] if sep else [prompt]
    return [{"type": "text", "text": t} for t in texts]


def build_record(
    rng: random.Random,
    turn: Turn,
    event_id: str,
    prompt: str,
    output: str,
    history: list[tuple[str, str]],
) -> dict[str, Any]:
    """One gateway record: identity and tags the gateway added, the request and the response."""
    request_model, response_model, _ = rng.choices(
        MODELS[turn.tool], weights=[m[2] for m in MODELS[turn.tool]]
    )[0]
    messages: list[dict[str, Any]] = []
    system = rng.choice(SYSTEM_PROMPTS[turn.tool])
    if system:
        role = "developer" if request_model == "gpt-4.1" and rng.random() < 0.2 else "system"
        messages.append({"role": role, "content": system})
    for past_prompt, past_output in history[-3:]:
        messages.append({"role": "user", "content": past_prompt})
        messages.append({"role": "assistant", "content": past_output})
    messages.append({"role": "user", "content": _user_content(rng, turn.tool, prompt)})

    prompt_tokens = sum(tokens(m["content"]) for m in messages if isinstance(m["content"], str))
    prompt_tokens += sum(
        tokens(p["text"]) for m in messages if isinstance(m["content"], list) for p in m["content"]
    )
    prompt_tokens += 4 * len(messages)
    completion_tokens = tokens(output)
    latency = 1 + min(40, completion_tokens // 40) + rng.randint(0, 3)
    gateway = gateway_of(turn.tool)
    email = turn.person.email
    if gateway == "webproxy" and rng.random() < 0.3:
        # Proxies log the user principal name as typed at sign-in.
        email = email.split("@")[0].title() + "@" + email.split("@")[1].title()

    record: dict[str, Any] = {
        "timestamp": _iso(turn.at),
        "user": {"id": turn.person.user_id, "email": email},
        "tool": turn.tool,
        "account_type": turn.account_type,
        "workflow": turn.workflow,
        "session_id": turn.session_id,
        "gateway": GATEWAYS[gateway],
    }
    meta = oversight_metadata(turn, event_id)
    if meta:
        record["metadata"] = meta
    if gateway == "webproxy":
        record["client_ip"] = (
            f"10.{rng.randint(16, 31)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}"
        )
    if request_model in PRICES:
        price_in, price_out = PRICES[request_model]
        cost = (prompt_tokens * price_in + completion_tokens * price_out) / 1_000_000
        record["cost_usd"] = round(cost, 6)
    response: dict[str, Any] = {
        "id": event_id,
        "object": "chat.completion",
        "created": int((turn.at + timedelta(seconds=latency)).timestamp()),
        "model": response_model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": output},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
    if response_model.startswith(("gpt", "o4")):
        response["system_fingerprint"] = f"fp_{rng.getrandbits(40):010x}"
    record["request"] = {"model": request_model, "messages": messages}
    record["response"] = response
    return record


def encode(record: dict[str, Any]) -> bytes:
    """One JSON Lines line (UTF-8, compact, with its newline)."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def bad_lines(
    rng: random.Random, records: list[dict[str, Any]], used_ids: set[str]
) -> list[tuple[str, bytes]]:
    """Three malformed lines of the kinds real exports contain: a truncated write, a line in
    Latin-1 instead of UTF-8, and a record without its `request`. Each is built from a copy
    of a valid record under a fresh event id, so it duplicates nothing."""
    out: list[tuple[str, bytes]] = []
    base = [copy.deepcopy(r) for r in rng.sample(records, 3)]
    for r in base:
        r["response"]["id"] = new_event_id(rng, used_ids)

    line = encode(base[0]).rstrip(b"\n")
    out.append(("truncated", line[: int(len(line) * rng.uniform(0.3, 0.8))] + b"\n"))

    base[1]["request"]["messages"][-1] = {
        "role": "user",
        "content": "Résumé of the café meeting for the équipe, please.",
    }
    latin1 = encode(base[1]).replace("é".encode(), "é".encode("latin-1"))
    out.append(("not_utf8", latin1))

    del base[2]["request"]
    out.append(("missing_request", encode(base[2])))
    return out
