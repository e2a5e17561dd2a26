"""Raw records -> normalized interactions. Pure functions, no I/O.

Readers in `auditor.ingest` yield `RawRecord`s (a parsed object plus where it came from) and
a format-specific `normalize` turns each into an `InteractionRecord`, the contract the store
and every later stage rely on.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

ContentStatus = Literal["present", "redacted", "not_stored"]

# Workflow tags the policies know (see policies/data/workflows.json).
KNOWN_WORKFLOWS = frozenset(
    {
        "client_comm",
        "marketing",
        "deal_team",
        "research",
        "credit_decision",
        "hr_eval",
        "coding",
        "internal_drafting",
    }
)


# The normalized interaction's exchange fields, in order: what `auditor export interactions`
# writes (with `source_format` after `event_id`) and what the generic CSV reader reads.
INTERACTION_FIELDS = (
    "event_id",
    "occurred_at",
    "user_id",
    "user_email",
    "tool",
    "provider",
    "model",
    "prompt_text",
    "output_text",
    "history_turns",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "session_id",
    "workflow",
    "content_status",
)


class RecordError(ValueError):
    """A record that cannot be normalized. The message must never quote prompt content."""


@dataclass(frozen=True, slots=True)
class InteractionRecord:
    """One normalized interaction, as defined in docs/architecture.md ("Interaction")."""

    event_id: str
    source_format: str
    occurred_at: datetime  # aware, UTC
    user_id: str | None
    user_email: str | None
    tool: str | None
    provider: str | None
    model: str | None
    prompt_text: str | None
    output_text: str | None
    history_turns: int = 0
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    session_id: str | None = None
    workflow: str | None = None
    content_status: ContentStatus = "present"
    attributes: dict[str, Any] = field(default_factory=dict)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# JSON may escape half a surrogate pair; no database or tokenizer accepts one on its own.
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def object_at(obj: dict[str, Any], key: str) -> dict[str, Any]:
    """`obj[key]` when it is a JSON object, else an empty one (absent, null or another type)."""
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def clean_text(value: Any) -> str | None:
    """Normalize text for storage and scanning: NFC, no NUL or control characters.

    Returns None for a missing value; an empty string stays empty (and is flagged by callers).
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(f"expected text, got {type(value).__name__}")
    text = _LONE_SURROGATE.sub("\ufffd", value)
    return _CONTROL.sub(" ", unicodedata.normalize("NFC", text))


def to_utc(value: Any) -> datetime:
    """Parse epoch seconds (int/float), epoch milli/nanoseconds, or ISO 8601 into aware UTC.

    The unit of an epoch number is guessed from its size; the ingest stage rejects a result
    outside its time window, so a number in an unexpected unit is rejected, not misread.
    Raises RecordError on anything else (and on a value no datetime can hold).
    """
    if isinstance(value, bool) or value is None:
        raise RecordError("timestamp is missing")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # an int with hundreds of digits: no float, let alone a time
            raise RecordError("timestamp is out of range") from None
        if seconds > 1e17:  # nanoseconds
            seconds /= 1e9
        elif seconds > 1e14:  # microseconds
            seconds /= 1e6
        elif seconds > 1e11:  # milliseconds
            seconds /= 1e3
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise RecordError("timestamp is out of range") from None
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return to_utc(float(text))
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise RecordError("timestamp is not ISO 8601 or epoch") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        try:
            return parsed.astimezone(UTC)
        except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is before year 1 in UTC
            raise RecordError("timestamp is out of range") from None
    raise RecordError(f"timestamp has unsupported type {type(value).__name__}")


def message_text(content: Any) -> str | None:
    """Text of a chat message `content`: a string, or the text parts of a list of parts."""
    if content is None:
        return None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and part.get("type") in ("text", "input_text", None):
                text = part.get("text", part.get("content"))
                if isinstance(text, str):
                    texts.append(text)
        return "\n".join(texts)
    raise RecordError(f"message content has unsupported type {type(content).__name__}")


def normalize_workflow(value: Any) -> str | None:
    """A workflow tag from metadata, lower-cased; unknown tags are kept as given."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().lower().replace("-", "_").replace(" ", "_")


MAX_COUNT = 2**53  # beyond any real token count; keeps integers portable across databases


def optional_int(value: Any, what: str = "token count") -> int | None:
    """A non-negative integer or None. Raises RecordError naming `what`."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise RecordError(f"{what} is not a number")
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise RecordError(f"{what} is not a number") from None
    if not 0 <= number <= MAX_COUNT:
        raise RecordError(f"{what} is out of range")
    return number


def optional_float(value: Any, what: str = "cost") -> float | None:
    """A finite non-negative number or None. Raises RecordError naming `what`."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise RecordError(f"{what} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise RecordError(f"{what} is not a number") from None
    if not 0 <= number < 1e12:
        raise RecordError(f"{what} is out of range")
    return number


def optional_str(value: Any, what: str, max_len: int) -> str | None:
    """A short identifier-like string (numbers are accepted and turned into text) or None.

    Raises RecordError for objects, lists or over-long values — never quoting them.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RecordError(f"`{what}` is not text (got {type(value).__name__})")
    text = str(value).strip()
    if len(text) > max_len:
        raise RecordError(f"`{what}` is longer than {max_len} characters")
    return text or None


# Top-level keys of an openai-chat record that the reader understands.
OPENAI_CHAT_KEYS = frozenset(
    {
        "timestamp",
        "user",
        "user_id",
        "user_email",
        "tool",
        "provider",
        "workflow",
        "metadata",
        "request",
        "response",
        "id",
        "custom_id",
        "account_type",
        "client_ip",
        "gateway",
        "session_id",
        "cost_usd",
    }
)
MAX_UNKNOWN_LISTED = 20

# --- attributes: what a record carries beside its fields -------------------------------------
# Caller-controlled metadata (LiteLLM request metadata, Langfuse metadata, an OpenAI gateway's
# `metadata`, ...) can hold anything: prose, a pasted card number, a password. Only the values
# of these keys are kept, and only when short and single-line; they are facts the policies or
# the report read (account type and the oversight facts of auditor.policy.input, whose key
# lists a test holds to this set) or the organisation a call was made for. Every other value is
# dropped and counted. Kept text values are scanned like prompts (scan field `attributes`) and
# blanked by `auditor db purge`.
OVERSIGHT_KEYS = frozenset(
    {
        "human_reviewed",
        "reviewed",
        "reviewer_id",
        "reviewed_by",
        "output_used_externally",
        "sent_externally",
        "agent_action",
        "action_approved",
        "agent_action_approved",
        "approver_id",
        "approved_by",
    }
)
METADATA_KEYS = OVERSIGHT_KEYS | frozenset(
    {
        "account_type",
        "department",
        "team",
        "team_id",
        "cost_center",
        "region",
        "environment",
        "gateway",
        "client_ip",
        "request_id",
        "trace_id",
        "status",
        "finish_reason",
    }
)
MAX_ATTRIBUTE_CHARS = 200
MAX_ATTRIBUTES = 64  # keys per record; a record with more keeps the first ones
MAX_LIST_ITEMS = 50
# A dropped key's name is kept only when it cannot hold a value worth hiding: letters and
# `_ . -` only, no digits (a card, an SSN, an IBAN or an access key id all have digits).
_SAFE_NAME = re.compile(r"[A-Za-z][A-Za-z_.\-]{0,63}")
_LINE_BREAK = re.compile(r"[\r\n\u2028\u2029\x85]")


def short_value(value: Any) -> str | int | float | bool | None:
    """`value` if it is a number, a flag or single-line text of at most MAX_ATTRIBUTE_CHARS
    characters (cleaned and stripped), else None: never content-sized text."""
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text and len(text) <= MAX_ATTRIBUTE_CHARS and not _LINE_BREAK.search(text):
            return clean_text(text)
    return None


def keep_metadata(
    attributes: dict[str, Any],
    metadata: dict[str, Any],
    *,
    allowed: frozenset[str] = METADATA_KEYS,
    skip: frozenset[str] = frozenset(),
) -> None:
    """Copy the short values of `allowed` keys of caller-controlled `metadata` into
    `attributes` (numbers as text, so that they are scanned and purged like text; flags as
    they are) and count what is dropped in `attributes["metadata_dropped"]`, with the names
    of dropped keys in `metadata_dropped_keys` when they are safe to keep (never values).
    Keys in `skip` were mapped to fields by the reader and are neither kept nor counted."""
    dropped: list[str] = []
    count = 0
    for key, value in metadata.items():
        if key in skip or value is None or value == "":
            continue
        kept = short_value(value) if key in allowed and key not in attributes else None
        if kept is None:  # not allowed, not short, or the reader's own fact has the name
            count += 1
            if isinstance(key, str) and _SAFE_NAME.fullmatch(key):
                dropped.append(key)
            continue
        attributes[key] = kept if isinstance(kept, bool | str) else str(kept)
    if count:
        attributes["metadata_dropped"] = attributes.get("metadata_dropped", 0) + count
        names = sorted({*attributes.get("metadata_dropped_keys", []), *dropped})
        if names:
            attributes["metadata_dropped_keys"] = names[:MAX_UNKNOWN_LISTED]


def bound_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """The fence every record passes before it is stored, whatever its reader did: at most
    MAX_ATTRIBUTES keys with short names, values that are numbers, flags, short single-line
    text or short lists of those. Anything else is dropped and counted in
    `attributes_dropped`."""
    kept: dict[str, Any] = {}
    dropped = 0
    for key, value in attributes.items():
        if not isinstance(key, str) or len(key) > 64 or len(kept) >= MAX_ATTRIBUTES:
            dropped += 1
            continue
        if value is None:
            kept[key] = None
        elif isinstance(value, list):
            items = [short_value(v) for v in value[:MAX_LIST_ITEMS]]
            if all(v is not None for v in items):
                kept[key] = items
            else:
                dropped += 1
        elif (short := short_value(value)) is not None:
            kept[key] = short
        else:
            dropped += 1
    if dropped:
        kept["attributes_dropped"] = dropped
    return kept


# Part of the scanner revision: a new rendering, or a change to which of its hits count
# (scan.stage._kept), scans and evaluates every sample again, as does the first for stores
# scanned before attributes were.
ATTRIBUTE_TEXT_SCHEME = "attributes-v2"
# Opaque ids by shape (a UUID, or a run of 16+ lower-case hex digits holding a letter): they
# hold no text, and a digit run inside one reads as an account number. Not scanned.
_OPAQUE_ID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|(?=[0-9a-f]*[a-f])[0-9a-f]{16,}"
)
ATTRIBUTE_KEY_SEPARATOR = ": "


def attribute_text(attributes: dict[str, Any] | None) -> str | None:
    """The text the scanner reads for an interaction's attributes: one `key: value` line per
    text value (list items one by one), keys sorted, so a detection's excerpt names the key;
    opaque ids are left out. None when no attribute holds text to scan."""
    lines = []
    for key in sorted(attributes or {}):
        value = (attributes or {})[key]
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item.strip() and not _OPAQUE_ID.fullmatch(item):
                lines.append(f"{key}{ATTRIBUTE_KEY_SEPARATOR}{item}")
    return "\n".join(lines) if lines else None


def attribute_key_spans(text: str) -> tuple[tuple[int, int], ...]:
    """Where the keys (with their separator) of an `attribute_text` are: a detection there
    found a key's name, not a value."""
    spans = []
    start = 0
    for line in text.split("\n"):
        cut = line.find(ATTRIBUTE_KEY_SEPARATOR)
        if cut >= 0:
            spans.append((start, start + cut + len(ATTRIBUTE_KEY_SEPARATOR)))
        start += len(line) + 1
    return tuple(spans)


def unknown_fields(obj: dict[str, Any], known: frozenset[str]) -> list[str]:
    """Names (never values) of keys a reader does not understand, for the ingest warning."""
    return sorted(str(k)[:64] for k in obj if k not in known)[:MAX_UNKNOWN_LISTED]


# Metadata keys the openai-chat reader maps to fields.
_OPENAI_MAPPED_METADATA = frozenset({"tool", "workflow", "session_id", "user_id", "user_email"})


def normalize_openai_chat(obj: dict[str, Any], *, source_format: str) -> InteractionRecord:
    """An OpenAI chat-completions request/response pair, with the identity a gateway added.

    Expected keys: `request` (with `model`, `messages`), `response` (with `id`, `created`,
    `choices`, `usage`), and the gateway's `user` object (`id`, `email`) or `user_id`/`user_email`
    at top level; optional `tool`, `workflow`, `metadata`, `timestamp`. Raises RecordError.
    """
    request = obj.get("request")
    response = obj.get("response")
    if not isinstance(request, dict):
        raise RecordError("missing `request` object")
    if response is not None and not isinstance(response, dict):
        raise RecordError("`response` is not an object")
    response = response or {}
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RecordError("`request.messages` is missing or empty")
    if not all(isinstance(m, dict) for m in messages):
        raise RecordError("`request.messages` holds a non-object")

    user_messages = [m for m in messages if m.get("role") == "user"]
    prompt = message_text(user_messages[-1].get("content")) if user_messages else None
    history_turns = max(0, len(messages) - 1)

    output = None
    choices = response.get("choices")
    if isinstance(choices, list) and choices:
        texts = []
        for choice in choices:
            if isinstance(choice, dict) and isinstance(choice.get("message"), dict):
                text = message_text(choice["message"].get("content"))
                if text:
                    texts.append(text)
        output = "\n\n".join(texts) if texts else None

    user = object_at(obj, "user")
    user_id = optional_str(user.get("id") or obj.get("user_id"), "user.id", 255)
    user_email = optional_str(user.get("email") or obj.get("user_email"), "user.email", 320)
    if not user_id and not user_email:
        raise RecordError("no user identity (`user.id` or `user.email`)")

    event_id = optional_str(
        response.get("id") or obj.get("id") or obj.get("custom_id"), "response.id", 255
    )
    if not event_id:
        raise RecordError("no event id (`response.id` or `id`)")
    timestamp = obj.get("timestamp", response.get("created"))
    metadata = object_at(obj, "metadata")
    if isinstance(request.get("metadata"), dict):
        metadata = {**request["metadata"], **metadata}
    usage = object_at(response, "usage")

    prompt_clean = clean_text(prompt)
    status: ContentStatus = "present" if prompt_clean is not None else "not_stored"
    attributes: dict[str, Any] = {}
    for key in ("account_type", "client_ip", "gateway"):
        value = short_value(obj.get(key)) if isinstance(obj.get(key), str) else None
        if value is not None:
            attributes[key] = value
    keep_metadata(attributes, metadata, skip=_OPENAI_MAPPED_METADATA)
    if prompt_clean == "":
        attributes["empty_prompt"] = True
    unknown = unknown_fields(obj, OPENAI_CHAT_KEYS)
    if unknown:
        attributes["unknown_fields"] = unknown

    return InteractionRecord(
        event_id=event_id,
        source_format=source_format,
        occurred_at=to_utc(timestamp),
        user_id=user_id,
        user_email=user_email.lower() if user_email else None,
        # No tool named means an unknown tool, which the policies treat as unapproved.
        tool=optional_str(obj.get("tool") or metadata.get("tool"), "tool", 128),
        provider=optional_str(obj.get("provider"), "provider", 128) or "openai",
        model=optional_str(response.get("model") or request.get("model"), "model", 128),
        prompt_text=prompt_clean,
        output_text=clean_text(output),
        history_turns=history_turns,
        input_tokens=optional_int(usage.get("prompt_tokens"), "usage.prompt_tokens"),
        output_tokens=optional_int(usage.get("completion_tokens"), "usage.completion_tokens"),
        cost_usd=optional_float(obj.get("cost_usd"), "cost_usd"),
        session_id=optional_str(
            obj.get("session_id") or metadata.get("session_id"), "session_id", 255
        ),
        workflow=normalize_workflow(
            optional_str(obj.get("workflow") or metadata.get("workflow"), "workflow", 64)
        ),
        content_status=status,
        attributes=attributes,
    )


def normalize_openai_batch(obj: dict[str, Any], *, source_format: str) -> InteractionRecord:
    """A line of OpenAI Batch API output (`{id, custom_id, response{status_code, body}, error}`).

    The completion is `response.body`. The request is not in the output file: when the firm's
    tooling merged the batch input line in (as `request`, holding `{custom_id, method, url,
    body}` or the chat request itself) the prompt is taken from it; otherwise the prompt is a
    coverage gap (`not_stored`). Identity comes from the gateway's `user` object, or from the
    request's `user`, `safety_identifier` or `metadata.user_id` / `metadata.user_email`.
    Raises RecordError for a failed request with nothing to audit or no identity.
    """
    response = obj.get("response")
    if response is not None and not isinstance(response, dict):
        raise RecordError("`response` is not an object")
    body = (response or {}).get("body")
    if body is not None and not isinstance(body, dict):
        raise RecordError("`response.body` is not an object")
    request = obj.get("request")
    if isinstance(request, dict) and isinstance(request.get("body"), dict):
        request = request["body"]  # a merged batch input line
    if request is not None and not isinstance(request, dict):
        raise RecordError("`request` is not an object")
    if body is None and request is None:
        raise RecordError("batch line has neither a response body nor a request")
    request = request or {}
    metadata = object_at(request, "metadata")
    user = object_at(obj, "user")
    identity = {
        "id": user.get("id")
        or obj.get("user_id")
        or metadata.get("user_id")
        or request.get("safety_identifier")
        or request.get("user"),
        "email": user.get("email") or obj.get("user_email") or metadata.get("user_email"),
    }
    has_messages = isinstance(request.get("messages"), list) and bool(request.get("messages"))
    chat = {
        "user": identity,
        "tool": obj.get("tool") or metadata.get("tool"),
        "workflow": obj.get("workflow") or metadata.get("workflow"),
        "session_id": obj.get("session_id"),
        "id": (body or {}).get("id") or obj.get("custom_id") or obj.get("id"),
        "timestamp": obj.get("timestamp", (body or {}).get("created")),
        "request": request if has_messages else {**request, "messages": [{"role": "user"}]},
        "response": body or {},
    }
    rec = normalize_openai_chat(chat, source_format=source_format)
    attributes = {
        **rec.attributes,
        "batch_custom_id": str(obj.get("custom_id", ""))[:MAX_ATTRIBUTE_CHARS],
    }
    error = obj.get("error")
    if isinstance(error, dict):
        attributes["batch_error"] = str(error.get("code", "error"))[:64]
    if isinstance(response, dict) and response.get("status_code") is not None:
        attributes["status_code"] = optional_int(response.get("status_code"), "status_code")
    attributes.pop("empty_prompt", None)
    status: ContentStatus = rec.content_status if has_messages else "not_stored"
    return replace(
        rec,
        prompt_text=rec.prompt_text if has_messages else None,
        content_status=status,
        attributes=attributes,
    )
