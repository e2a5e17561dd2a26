"""LiteLLM proxy logs: `LiteLLM_SpendLogs` rows (JSON Lines or CSV) and StandardLoggingPayload
JSON Lines (what LiteLLM's S3/GCS/custom callbacks write).

Both shapes describe one proxied call per record and share most field names, so one reader
takes both. Mapping (source -> normalized field):

- event_id: `request_id` (spend logs) / `id` (payload). Both are the provider response id or
  LiteLLM's call id, so the same call exported both ways is one interaction (a duplicate).
  Cache hits carry a `_cache_hit<ts>` suffix and stay distinct events.
- occurred_at: `startTime` (DB DateTime: ISO, space-separated, `+00` offsets; payload: epoch
  float), else `endTime`.
- user_id / user_email: the person is the end user (`end_user`, the request's `user` field,
  or `metadata.user_api_key_end_user_id`) when there is one, else the key owner (`user` column,
  `metadata.user_api_key_user_id`), else only an email. The email is one the request carried
  (`user_email` in `spend_logs_metadata` / `requester_metadata` / `metadata`, or an e-mail
  shaped end user); the key owner's `metadata.user_api_key_user_email` is used only when the
  key owner is the person, because a shared application key's owner is not the employee.
  `attributes.identity_source` says which (`end_user` / `key_owner` / `email`). No identity
  at all (only a hashed key) is rejected: the reference defines no fallback.
- tool: an explicit `application` / `app` / `tool` in the request metadata or an
  `app:` / `application:` / `tool:` request tag, else the key alias
  (`metadata.user_api_key_alias`: keys are usually issued per application), else
  "litellm-proxy". `attributes.tool_source` says which; map names with `ingest.tool_map`.
- provider: `custom_llm_provider`, else the `provider/` prefix of `model`.
- model: `model` (the deployment LiteLLM called), else `model_group` (the public name).
- prompt_text / history_turns: the last user message of `messages` (OpenAI chat shape); for
  spend logs whose `messages` is `{}`, the request body in `proxy_server_request` (LiteLLM
  writes `{}` to `messages` even with `store_prompts_in_spend_logs`). `{}` / empty everywhere
  means content not stored: content_status `not_stored`, a coverage gap, never an empty prompt.
  `redacted-by-litellm` (turn_off_message_logging) gives `redacted`.
- output_text: the response's `choices[].message.content` (or `.text`, or Responses API
  `output_text` parts).
- input/output tokens: `prompt_tokens` / `completion_tokens`; cost_usd: `spend` /
  `response_cost`.
- session_id: `session_id` (spend logs; the payload's `session_id`, else `trace_id`).
- workflow: a `workflow` key in the request metadata, else a `workflow:` / `workflow=` tag in
  `request_tags` (or `spend_logs_metadata.tags`), else the one tag that is a known workflow.
- attributes: status (failed calls are still interactions: the prompt was sent), call_type,
  key alias/hash, team, cache hit, error class/code, and of the request metadata only the
  short values of allow-listed keys (`normalize.METADATA_KEYS`); others are counted in
  `metadata_dropped`, never kept.

Files: JSON Lines (either shape, sniffed per record), or a CSV export of the table (e.g.
`\\copy (select * from "LiteLLM_SpendLogs") to 'f.csv' with csv header`): header names match
case-insensitively, an empty cell is NULL, quoted fields may span lines, and a malformed or
over-long row is rejected with the line it starts on. A JSON array is refused as a whole.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from auditor.ingest.base import (
    TOO_LONG_NUMBER,
    RawRecord,
    Reader,
    Rejected,
    iter_json_lines,
    open_binary,
)
from auditor.ingest.csvrows import CsvRows
from auditor.ingest.registry import register
from auditor.normalize import (
    KNOWN_WORKFLOWS,
    ContentStatus,
    InteractionRecord,
    RecordError,
    clean_text,
    keep_metadata,
    message_text,
    normalize_workflow,
    optional_float,
    optional_int,
    optional_str,
    to_utc,
    unknown_fields,
)

NAME = "litellm"
SPEND_LOGS = "spend_logs"
PAYLOAD = "standard_logging_payload"
DEFAULT_TOOL = "litellm-proxy"
# What LiteLLM writes in place of messages and outputs when message logging is turned off.
REDACTED_MARKERS = frozenset({"redacted-by-litellm", "REDACTED_BY_LITELM"})
# LiteLLM keeps the start and end of an over-long stored string and marks the cut.
_TRUNCATED = re.compile(r"\(litellm_truncated skipped \d+ chars\)")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
SNIFF_LINES = 5
# Request-metadata keys that become fields, not attributes.
_MAPPED_METADATA = frozenset({"tags", "user_email", "workflow", "application", "app", "tool"})
MAX_TAGS = 50
MAX_ATTRIBUTE_TEXT = 200

# Columns of the LiteLLM_SpendLogs table (schema.prisma), in the table's order.
SPEND_LOGS_COLUMNS = (
    "request_id",
    "call_type",
    "api_key",
    "spend",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "startTime",
    "endTime",
    "request_duration_ms",
    "completionStartTime",
    "model",
    "model_id",
    "model_group",
    "custom_llm_provider",
    "api_base",
    "user",
    "metadata",
    "cache_hit",
    "cache_key",
    "request_tags",
    "team_id",
    "organization_id",
    "end_user",
    "requester_ip_address",
    "messages",
    "response",
    "session_id",
    "status",
    "mcp_namespaced_tool_name",
    "agent_id",
    "proxy_server_request",
)
SPEND_LOGS_KEYS = frozenset(SPEND_LOGS_COLUMNS)
# CSV exporters differ in header case ("startTime" vs "starttime"); match case-insensitively.
_CANONICAL_COLUMN = {c.lower(): c for c in SPEND_LOGS_COLUMNS}

# Top-level fields of StandardLoggingPayload (litellm/types/utils.py).
PAYLOAD_KEYS = frozenset(
    {
        "id",
        "trace_id",
        "session_id",
        "litellm_call_id",
        "call_id",
        "call_type",
        "stream",
        "response_cost",
        "cost_breakdown",
        "autorouter_savings",
        "response_cost_failure_debug_info",
        "status",
        "status_fields",
        "custom_llm_provider",
        "total_tokens",
        "prompt_tokens",
        "completion_tokens",
        "startTime",
        "endTime",
        "completionStartTime",
        "response_time",
        "model_map_information",
        "model",
        "model_id",
        "model_group",
        "api_base",
        "metadata",
        "cache_hit",
        "cache_key",
        "saved_cache_cost",
        "request_tags",
        "end_user",
        "requester_ip_address",
        "user_agent",
        "messages",
        "response",
        "error_str",
        "error_information",
        "model_parameters",
        "hidden_params",
        "guardrail_information",
        "standard_built_in_tools_params",
    }
)


def _shape_of(obj: dict[str, Any]) -> str | None:
    if "request_id" in obj and "call_type" in obj and ("spend" in obj or "startTime" in obj):
        return SPEND_LOGS
    if "id" in obj and "call_type" in obj and "response_cost" in obj and "startTime" in obj:
        return PAYLOAD
    return None


def _sniff_json_lines(lines: list[bytes]) -> bool:
    parsed_any = False
    for line in lines[:SNIFF_LINES]:
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict):
            parsed_any = True
            if _shape_of(obj):
                return True
    if parsed_any:
        return False
    # The first record is longer than the sniffed head: judge it by its key names.
    first = lines[0]
    return b'"call_type"' in first and (
        (b'"request_id"' in first and b'"spend"' in first)
        or (b'"response_cost"' in first and b'"trace_id"' in first)
    )


def _sniff_csv_header(line: bytes) -> bool:
    try:
        header = next(csv.reader([line.decode("utf-8", errors="replace")]))
    except (csv.Error, StopIteration):
        return False
    names = {h.strip().lower() for h in header}
    return {"request_id", "call_type"} <= names and bool({"spend", "starttime"} & names)


@register
class LiteLLMReader(Reader):
    name = NAME
    description = (
        "LiteLLM proxy: LiteLLM_SpendLogs rows (JSON Lines or CSV) or StandardLoggingPayload "
        "JSON Lines from its logging callbacks"
    )

    def sniff(self, head: bytes) -> bool:
        text = head.removeprefix(b"\xef\xbb\xbf")
        lines = [ln.strip() for ln in text.split(b"\n")]
        lines = [ln for ln in lines if ln]
        if not lines:
            return False
        if lines[0].startswith(b"{"):
            return _sniff_json_lines(lines)
        return _sniff_csv_header(lines[0])

    def records(self, path: Path, *, max_line_bytes: int) -> Iterator[RawRecord | Rejected]:
        kind = _layout(path)
        if kind == "jsonl":
            return iter_json_lines(path, max_line_bytes=max_line_bytes)
        if kind == "array":
            return iter(
                [
                    Rejected(
                        0,
                        "a JSON array is not read: export one row per line (JSON Lines) or CSV",
                    )
                ]
            )
        return iter_spend_logs_csv(
            path, max_line_bytes=max_line_bytes, max_field_bytes=self.max_field_bytes
        )

    def normalize(self, raw: RawRecord) -> InteractionRecord:
        if not isinstance(raw.obj, dict):
            raise RecordError("record is not an object")
        return normalize_litellm(raw.obj)


def _layout(path: Path) -> str:
    """'jsonl', 'array' or 'csv', from the first non-blank byte of the (decompressed) file."""
    head = b""
    try:
        with open_binary(path) as fh:
            # Small reads: a damaged gzip stream still yields its first bytes.
            while len(head) < 4096 and not head.removeprefix(b"\xef\xbb\xbf").strip():
                chunk = fh.read(64)
                if not chunk:
                    break
                head += chunk
    except (OSError, EOFError, zlib.error):
        pass  # the reader proper reports the damage
    first = head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1]
    if first == b"{":
        return "jsonl"
    if first == b"[":
        return "array"
    return "csv"


# ---------------------------------------------------------------------------------------------
# CSV


DEFAULT_MAX_FIELD_BYTES = Reader.max_field_bytes


def iter_spend_logs_csv(
    path: Path, *, max_line_bytes: int, max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES
) -> Iterator[RawRecord | Rejected]:
    """Yield each row of a LiteLLM_SpendLogs CSV export as a dict keyed by column name (empty
    cells -> None), or why it was rejected. Quoted fields may span lines; a row is numbered by
    the line it starts on. A row that does not parse is rejected and reading starts again at
    the next line (`auditor.ingest.csvrows`), so a stray quote costs one row, not the rest of
    the file. Memory is bounded by `max_line_bytes` per row."""
    try:
        yield from _iter_csv(path, max_line_bytes, max_field_bytes)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        yield Rejected(0, f"compressed stream is damaged ({type(exc).__name__}); reading stopped")


def _iter_csv(
    path: Path, max_line_bytes: int, max_field_bytes: int
) -> Iterator[RawRecord | Rejected]:
    with open_binary(path) as fh:
        rows = CsvRows(fh, max_row_bytes=max_line_bytes, max_field_bytes=max_field_bytes)
        header: list[str] | None = None
        for row in rows():
            if row.blank:
                continue
            if row.fields is None:
                # The csv module's messages name the problem, never the content.
                yield Rejected(row.first, f"malformed CSV row ({row.problem})")
                continue
            if header is None:
                header = [_CANONICAL_COLUMN.get(h.strip().lower(), h.strip()) for h in row.fields]
                rows.width = len(header)
                if "request_id" not in header:
                    yield Rejected(
                        row.first,
                        "the CSV header has no `request_id` column: not a LiteLLM_SpendLogs "
                        "export; reading stopped",
                    )
                    return
                continue
            if len(row.fields) != len(header):
                yield Rejected(
                    row.first, f"row has {len(row.fields)} fields, the header has {len(header)}"
                )
                continue
            cells = zip(header, row.fields, strict=True)
            obj = {name: (value if value != "" else None) for name, value in cells}
            yield RawRecord(row.first, obj, row.notes)


# ---------------------------------------------------------------------------------------------
# Normalization


def _json_column(value: Any, what: str) -> Any:
    """A Json column of the spend logs table: structured in a JSON export, JSON text in CSV
    (and in LiteLLM's own payload, which json-dumps `metadata` and `request_tags`)."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        raise RecordError(f"`{what}` is not valid JSON") from None
    except RecursionError:
        raise RecordError(f"`{what}` is nested too deeply") from None
    except ValueError:  # an integer literal longer than Python converts
        raise RecordError(f"`{what}` is not valid JSON ({TOO_LONG_NUMBER})") from None


def _object(value: Any, what: str) -> dict[str, Any]:
    value = _json_column(value, what)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RecordError(f"`{what}` is not an object (got {type(value).__name__})")
    return value


def _scalar(value: Any) -> str | int | float | bool | None:
    """A value small and plain enough for `attributes`, else None (never content-sized text)."""
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str) and value.strip() and len(value) <= MAX_ATTRIBUTE_TEXT:
        return value.strip()
    return None


def _put(attributes: dict[str, Any], key: str, value: Any) -> None:
    scalar = _scalar(value)
    if scalar is not None:
        attributes[key] = scalar


def _email(value: Any) -> str | None:
    text = optional_str(value, "email", 320) if isinstance(value, str) else None
    return text.lower() if text and _EMAIL.fullmatch(text) else None


def _tags(value: Any, what: str) -> list[str]:
    value = _json_column(value, what)
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise RecordError(f"`{what}` is not a list of tags")
    return [t.strip() for t in value[:MAX_TAGS] if isinstance(t, str) and 0 < len(t) <= 200]


def _prefixed(tags: list[str], prefixes: tuple[str, ...]) -> str | None:
    for tag in tags:
        for prefix in prefixes:
            for sep in (":", "="):
                if tag.lower().startswith(prefix + sep) and tag[len(prefix) + 1 :].strip():
                    return tag[len(prefix) + 1 :].strip()
    return None


def _first_text(sources: list[dict[str, Any]], keys: tuple[str, ...]) -> str | None:
    for source in sources:
        for key in keys:
            value = source.get(key)
            if isinstance(value, str) and value.strip():
                return value
    return None


def _user_text(messages: list[Any]) -> tuple[str | None, bool]:
    """The last user message's text and whether the list has any user message."""
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    if not users:
        return None, False
    return message_text(users[-1].get("content")), True


def _request_content(value: Any) -> tuple[bool, str | None, int, bool]:
    """(stored, prompt, history_turns, has_user_message) from `messages` or a request body.

    `stored` is False for `{}`, `[]`, "" or None: LiteLLM's "content not kept".
    """
    if value is None or value == {} or value == [] or value == "":
        return False, None, 0, False
    if isinstance(value, str):
        return True, value, 0, True  # a text-completion prompt
    if isinstance(value, dict):
        for key in ("messages", "prompt", "input"):
            if key in value:
                return _request_content(value[key])
        return False, None, 0, False  # a body without content (e.g. only model parameters)
    if isinstance(value, list):
        if all(isinstance(m, dict) for m in value):
            prompt, has_user = _user_text(value)
            return True, prompt, max(0, len(value) - 1), has_user
        if all(isinstance(m, str) for m in value):
            return True, "\n".join(value), 0, True  # embedding / completion inputs
        raise RecordError("`messages` mixes chat messages with other values")
    raise RecordError(f"`messages` has unsupported type {type(value).__name__}")


def _response_text(value: Any) -> str | None:
    """Output text of a stored response: chat choices, text choices, Responses API output,
    Anthropic content blocks, or a plain string."""
    if value is None or isinstance(value, int | float | bool):
        return None
    if isinstance(value, str):
        return value or None
    if not isinstance(value, dict) or not value:
        return None
    texts: list[str] = []
    choices = value.get("choices")
    if isinstance(choices, list):
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            message = choice.get("message")
            text = None
            if isinstance(message, dict):
                text = message_text(message.get("content"))
            elif isinstance(choice.get("text"), str):
                text = choice["text"]
            if text:
                texts.append(text)
    elif isinstance(value.get("output"), list):
        for item in value["output"]:
            if isinstance(item, dict) and item.get("type") == "message":
                parts = item.get("content")
                if isinstance(parts, list):
                    for part in parts:
                        if isinstance(part, dict) and isinstance(part.get("text"), str):
                            texts.append(part["text"])
    elif isinstance(value.get("content"), list):
        text = message_text(value["content"])
        if text:
            texts.append(text)
    return "\n\n".join(texts) if texts else None


def _identity(
    obj: dict[str, Any],
    metadata: dict[str, Any],
    request_meta: list[dict[str, Any]],
    shape: str,
) -> tuple[str | None, str | None, str, str | None]:
    """(user_id, user_email, identity_source, key_owner). Raises RecordError if none."""
    end_user = optional_str(
        obj.get("end_user") or metadata.get("user_api_key_end_user_id"), "end_user", 255
    )
    key_owner = (optional_str(obj.get("user"), "user", 255) if shape == SPEND_LOGS else None) or (
        optional_str(metadata.get("user_api_key_user_id"), "metadata.user_api_key_user_id", 255)
    )
    request_email = _email(_first_text(request_meta, ("user_email",)))
    key_email = _email(metadata.get("user_api_key_user_email"))
    if end_user:
        # The key's owner is the person only when the two agree; a shared application key's
        # owner (and that owner's e-mail) is not the employee who typed the prompt.
        own_key_email = key_email if key_owner == end_user else None
        return end_user, request_email or _email(end_user) or own_key_email, "end_user", key_owner
    if key_owner:
        return key_owner, key_email or request_email, "key_owner", key_owner
    email = request_email or key_email
    if email:
        return None, email, "email", None
    raise RecordError(
        "no user identity (`end_user`, key owner `user` / `metadata.user_api_key_user_id`, "
        "or an e-mail in `metadata`)"
    )


def _tool(
    request_meta: list[dict[str, Any]], tags: list[str], metadata: dict[str, Any]
) -> tuple[str, str]:
    explicit = _first_text(request_meta, ("application", "app", "tool"))
    if explicit:
        return explicit, "metadata"
    tagged = _prefixed(tags, ("application", "app", "tool"))
    if tagged:
        return tagged, "request_tags"
    alias = metadata.get("user_api_key_alias")
    if isinstance(alias, str) and alias.strip():
        return alias, "key_alias"
    return DEFAULT_TOOL, "default"


def _workflow(request_meta: list[dict[str, Any]], tags: list[str]) -> str | None:
    explicit = _first_text(request_meta, ("workflow",))
    if explicit:
        return explicit
    tagged = _prefixed(tags, ("workflow",))
    if tagged:
        return tagged
    known = {normalize_workflow(t) for t in tags} & KNOWN_WORKFLOWS
    return known.pop() if len(known) == 1 else None


def _cache_hit(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _model(obj: dict[str, Any]) -> str | None:
    model = obj.get("model")
    if isinstance(model, str) and len(model.strip()) > 128:
        model = None  # e.g. a long deployment ARN: the public model name still says which
    return optional_str(model or obj.get("model_group"), "model", 128)


def _provider(obj: dict[str, Any], model: str | None) -> str | None:
    provider = optional_str(obj.get("custom_llm_provider"), "custom_llm_provider", 128)
    if provider:
        return provider
    if model and "/" in model:
        return model.split("/", 1)[0] or None
    return None


def normalize_litellm(obj: dict[str, Any]) -> InteractionRecord:
    """One LiteLLM spend-logs row or StandardLoggingPayload as an interaction (mapping in the
    module docstring). Raises RecordError, never quoting content."""
    shape = _shape_of(obj)
    if shape is None:
        if "request_id" in obj:
            shape = SPEND_LOGS
        elif "id" in obj and ("trace_id" in obj or "response_cost" in obj):
            shape = PAYLOAD
        else:
            raise RecordError(
                "not a LiteLLM record: no `request_id` (spend logs) or `id` (logging payload)"
            )

    metadata = _object(obj.get("metadata"), "metadata")
    spend_meta = _object(metadata.get("spend_logs_metadata"), "metadata.spend_logs_metadata")
    requester_meta = _object(metadata.get("requester_metadata"), "metadata.requester_metadata")
    # What the calling application said about the request, most specific first.
    request_meta = [spend_meta, requester_meta, metadata]

    event_id = optional_str(obj.get("request_id" if shape == SPEND_LOGS else "id"), "id", 255)
    if not event_id:
        raise RecordError("no event id (`request_id` or `id`)")
    start = obj.get("startTime")
    occurred_at = to_utc(start if start not in (None, "") else obj.get("endTime"))

    user_id, user_email, identity_source, key_owner = _identity(obj, metadata, request_meta, shape)

    tags = _tags(obj.get("request_tags"), "request_tags") + _tags(
        spend_meta.get("tags"), "metadata.spend_logs_metadata.tags"
    )
    tool, tool_source = _tool(request_meta, tags, metadata)

    # Content: the spend-logs `messages` column is `{}` unless prompts are stored, and even
    # then LiteLLM may leave it empty and keep the request body in `proxy_server_request`.
    if shape == SPEND_LOGS:
        messages = _json_column(obj.get("messages"), "messages")
        response = _json_column(obj.get("response"), "response")
    else:
        messages, response = obj.get("messages"), obj.get("response")
    stored, prompt, history_turns, has_user = _request_content(messages)
    prompt_source = "messages"
    if not stored and shape == SPEND_LOGS:
        for body_value, name in (
            (obj.get("proxy_server_request"), "proxy_server_request"),
            (metadata.get("proxy_server_request"), "metadata.proxy_server_request"),
        ):
            body = _json_column(body_value, name)
            if isinstance(body, dict) and body:
                stored, prompt, history_turns, has_user = _request_content(body)
                if stored:
                    prompt_source = "proxy_server_request"
                    break
    call_status = obj.get("status") or metadata.get("status")
    # A failed call's `response` is at most the error text, not something the model said.
    output = None if call_status == "failure" and isinstance(response, str) else response
    output_clean = clean_text(_response_text(output))
    prompt_clean = clean_text(prompt)
    status: ContentStatus = "present" if stored else "not_stored"
    if prompt_clean in REDACTED_MARKERS:
        status, prompt_clean, output_clean = "redacted", None, None
    elif output_clean in REDACTED_MARKERS:
        output_clean = None

    attributes: dict[str, Any] = {}
    # Free-form request metadata: only the allow-listed facts (normalize.METADATA_KEYS) are
    # kept, the rest is counted; the reader's own facts below win on a name clash.
    for source in (spend_meta, requester_meta):
        keep_metadata(attributes, source, skip=_MAPPED_METADATA)
    attributes["litellm_shape"] = shape
    attributes["identity_source"] = identity_source
    attributes["tool_source"] = tool_source
    _put(attributes, "status", call_status)
    _put(attributes, "call_type", obj.get("call_type"))
    if key_owner and key_owner != user_id:
        _put(attributes, "key_owner", key_owner)
    _put(attributes, "key_alias", metadata.get("user_api_key_alias"))
    _put(attributes, "api_key_hash", obj.get("api_key") or metadata.get("user_api_key_hash"))
    _put(attributes, "team_id", obj.get("team_id") or metadata.get("user_api_key_team_id"))
    _put(attributes, "team_alias", metadata.get("user_api_key_team_alias"))
    _put(attributes, "organization_id", obj.get("organization_id"))
    _put(attributes, "model_group", obj.get("model_group"))
    _put(attributes, "api_base", obj.get("api_base"))
    _put(
        attributes,
        "client_ip",
        obj.get("requester_ip_address") or metadata.get("requester_ip_address"),
    )
    _put(attributes, "cache_hit", _cache_hit(obj.get("cache_hit")))
    _put(attributes, "stream", obj.get("stream"))
    if tags:
        _put(attributes, "request_tags", ",".join(tags)[:MAX_ATTRIBUTE_TEXT])
    error = obj.get("error_information") or metadata.get("error_information")
    if isinstance(error, dict):
        _put(attributes, "error_class", error.get("error_class"))
        _put(attributes, "error_code", error.get("error_code"))
    if stored:
        attributes["prompt_source"] = prompt_source
    if isinstance(response, dict):
        _put(attributes, "response_model", response.get("model"))
    if stored and not has_user:
        attributes["no_user_message"] = True
    if any(t and _TRUNCATED.search(t) for t in (prompt_clean, output_clean)):
        attributes["content_truncated"] = True
    if prompt_clean == "":
        attributes["empty_prompt"] = True
    unknown = unknown_fields(obj, SPEND_LOGS_KEYS if shape == SPEND_LOGS else PAYLOAD_KEYS)
    if unknown:
        attributes["unknown_fields"] = unknown

    session = obj.get("session_id") or (obj.get("trace_id") if shape == PAYLOAD else None)
    model = _model(obj)
    return InteractionRecord(
        event_id=event_id,
        source_format=NAME,
        occurred_at=occurred_at,
        user_id=user_id,
        user_email=user_email,
        tool=optional_str(tool, "tool", 128),
        provider=_provider(obj, model),
        model=model,
        prompt_text=prompt_clean,
        output_text=output_clean,
        history_turns=history_turns,
        input_tokens=optional_int(obj.get("prompt_tokens"), "prompt_tokens"),
        output_tokens=optional_int(obj.get("completion_tokens"), "completion_tokens"),
        cost_usd=optional_float(
            obj.get("spend") if shape == SPEND_LOGS else obj.get("response_cost"),
            "spend" if shape == SPEND_LOGS else "response_cost",
        ),
        session_id=optional_str(session, "session_id", 255),
        workflow=normalize_workflow(optional_str(_workflow(request_meta, tags), "workflow", 64)),
        content_status=status,
        attributes=attributes,
    )
