"""ChatGPT Enterprise Compliance API conversations, as a firm's export script saves them.

Accepted files (gzip or not):
- JSON Lines: one conversation object per line, or one list page (`{object: "list", data}`)
  per line, or one Sumo Logic-style record per line (a conversation carrying a single
  `message` instead of `messages`);
- a JSON array of conversations (or of list pages), streamed element by element: memory is
  bounded by the largest conversation, which must fit in `max_line_bytes`;
- a single pretty-printed JSON document (one list page or one conversation), read whole up
  to `max_line_bytes` and rejected as a whole above it.

One interaction per visible user message, paired with the assistant messages that follow it
before the next user message. Messages are taken in the order the file gives them (the API
lists them oldest first); `history_turns` counts the conversation's messages before the user
message. A list page whose `has_more` is true and that is not followed by another page in the
same file means the export stopped early: its conversations carry `export_incomplete`. A
conversation whose `messages.has_more` is true carries `messages_incomplete`.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from auditor.ingest.base import (
    HEAD_BYTES,
    TOO_LONG_NUMBER,
    RawRecord,
    Reader,
    Rejected,
    iter_json_lines,
    open_binary,
)
from auditor.ingest.jsonarray import ArrayDamaged, array_elements
from auditor.ingest.registry import register
from auditor.normalize import (
    ContentStatus,
    InteractionRecord,
    RecordError,
    clean_text,
    normalize_workflow,
    optional_str,
    to_utc,
    unknown_fields,
)

TOOL = "chatgpt"
PROVIDER = "openai"
ACCOUNT_TYPE = "enterprise_workspace"  # the Compliance API covers a workspace's members only
# Conversations of the Sumo-style flattened shape still waiting for a reply; bounded so that a
# file interleaving many conversations cannot grow memory without limit.
MAX_OPEN_CONVERSATIONS = 1024
BOM = b"\xef\xbb\xbf"

_OBJECT_TYPE = re.compile(rb'"object"\s*:\s*"compliance\.workspace\.(?:conversation|message)')

CONVERSATION_KEYS = frozenset(
    {
        "object",
        "id",
        "workspace_id",
        "user_id",
        "user_email",
        "created_at",
        "last_active_at",
        "title",
        "messages",
        "message",
        "gpt_id",
        "project_id",
    }
)
MESSAGE_KEYS = frozenset(
    {
        "object",
        "id",
        "conversation_id",
        "created_at",
        "parent_id",
        "author",
        "role",
        "content",
        "files",
        "gpt_id",
        "project_id",
        "metadata",
        "status",
        "end_turn",
        "recipient",
    }
)
# Context ChatGPT adds as "user" messages (custom instructions, memory); nobody typed it there.
_HIDDEN_CONTENT_TYPES = frozenset({"user_editable_context", "model_editable_context"})


class _Damaged(Exception):
    """The file's structure ends or breaks where it must not; the message says how."""


# -- turning conversations into one record per user message ------------------------------------


def _role(message: dict[str, Any]) -> str | None:
    author = message.get("author")
    role = author.get("role") if isinstance(author, dict) else message.get("role")
    return role if isinstance(role, str) else None


def _content_type(message: dict[str, Any]) -> str | None:
    content = message.get("content")
    if not isinstance(content, dict):
        return None
    kind = content.get("content_type", content.get("type"))
    return kind if isinstance(kind, str) else None


def _is_visible_user_message(message: dict[str, Any]) -> bool:
    if _role(message) != "user" or _content_type(message) in _HIDDEN_CONTENT_TYPES:
        return False
    metadata = message.get("metadata")
    return not (
        isinstance(metadata, dict) and metadata.get("is_visually_hidden_from_conversation") is True
    )


def _turn(
    conversation: dict[str, Any],
    message: dict[str, Any],
    history_turns: int,
    shape: str,
) -> dict[str, Any]:
    """The object a RawRecord carries: one user message with its conversation's facts."""
    messages = conversation.get("messages")
    incomplete = isinstance(messages, dict) and messages.get("has_more") is True
    return {
        "conversation": {k: v for k, v in conversation.items() if k not in ("messages", "message")},
        "message": message,
        "replies": [],
        "history_turns": history_turns,
        "messages_incomplete": incomplete,
        "export_incomplete": False,
        "shape": shape,
    }


def _messages_of(conversation: dict[str, Any]) -> list[Any]:
    """`messages` as the API nests it (`{data: [...]}`) or as a plain list. Raises _Damaged."""
    messages = conversation.get("messages")
    if isinstance(messages, dict):
        messages = messages.get("data")
    if not isinstance(messages, list):
        raise _Damaged("`messages` is not a list (nor an object with a `data` list)")
    if not all(isinstance(m, dict) for m in messages):
        raise _Damaged("`messages` holds a non-object")
    return messages


def _conversation_turns(conversation: dict[str, Any]) -> list[dict[str, Any]]:
    """Split a conversation (nested shape) into one turn per visible user message."""
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(_messages_of(conversation)):
        if _is_visible_user_message(message):
            turns.append(_turn(conversation, message, index, "conversation"))
        elif _role(message) == "assistant" and turns:
            turns[-1]["replies"].append(message)
    return turns


@dataclass
class _Flattened:
    """Pairs Sumo-style records (one message each) into turns, per conversation, in order."""

    open_turns: OrderedDict[str, RawRecord] = field(default_factory=OrderedDict)
    seen: OrderedDict[str, int] = field(default_factory=OrderedDict)

    def add(
        self, record_no: int, conversation: dict[str, Any], notes: tuple[str, ...]
    ) -> Iterator[RawRecord | Rejected]:
        conv_id = conversation.get("id")
        message = conversation.get("message")
        if isinstance(conv_id, bool) or not isinstance(conv_id, str | int):
            yield Rejected(record_no, "conversation has no `id`")
            return
        if not isinstance(message, dict):
            yield Rejected(record_no, "`message` is not an object")
            return
        key = str(conv_id)
        history = self.seen.pop(key, 0)
        self.seen[key] = history + 1
        if len(self.seen) > MAX_OPEN_CONVERSATIONS * 8:
            self.seen.popitem(last=False)
        if _is_visible_user_message(message):
            if key in self.open_turns:
                yield self.open_turns.pop(key)
            turn = _turn(conversation, message, history, "flattened")
            self.open_turns[key] = RawRecord(record_no, turn, notes)
            if len(self.open_turns) > MAX_OPEN_CONVERSATIONS:
                yield self.open_turns.popitem(last=False)[1]
        elif _role(message) == "assistant" and key in self.open_turns:
            self.open_turns[key].obj["replies"].append(message)

    def flush(self) -> Iterator[RawRecord]:
        while self.open_turns:
            yield self.open_turns.popitem(last=False)[1]


def _is_page(obj: dict[str, Any]) -> bool:
    return obj.get("object") == "list" or (
        isinstance(obj.get("data"), list) and "messages" not in obj and "message" not in obj
    )


def _expand(
    items: Iterable[tuple[int, Any, tuple[str, ...]]], *, number_by_conversation: bool
) -> Iterator[RawRecord | Rejected]:
    """Top-level JSON values -> one RawRecord per user message, or rejections.

    `number_by_conversation`: records are numbered by conversation (JSON documents) rather
    than by the line they came from (JSON Lines).
    """
    flattened = _Flattened()
    held: list[RawRecord] = []  # a page that said more follow, until we see whether one does
    conv_no = 0

    def one(no: int, conv: Any, notes: tuple[str, ...]) -> Iterator[RawRecord | Rejected]:
        if not isinstance(conv, dict):
            yield Rejected(no, f"expected a conversation object, got {type(conv).__name__}")
        elif "message" in conv and "messages" not in conv:
            yield from flattened.add(no, conv, notes)
        else:
            try:
                turns = _conversation_turns(conv)
            except _Damaged as exc:
                yield Rejected(no, str(exc))
                return
            if not turns:
                yield Rejected(no, "conversation has no user message")
            for turn in turns:
                yield RawRecord(no, turn, notes)

    def number(line_no: int) -> int:
        nonlocal conv_no
        conv_no += 1
        return conv_no if number_by_conversation else line_no

    for line_no, obj, notes in items:
        if isinstance(obj, Rejected):
            # A broken element of an array was (meant to be) a conversation too.
            yield Rejected(number(obj.line_no), obj.reason) if obj.line_no else obj
            continue
        if isinstance(obj, dict) and _is_page(obj):
            data = obj.get("data")
            if not isinstance(data, list):
                yield Rejected(line_no, "list page has no `data` list")
                continue
            # Another page follows, so the one held was not the export's last.
            yield from held
            held = []
            out = [item for conv in data for item in one(number(line_no), conv, notes)]
            if obj.get("has_more") is True:
                yield from (item for item in out if isinstance(item, Rejected))
                held = [item for item in out if isinstance(item, RawRecord)]
            else:
                yield from out
        else:
            yield from one(number(line_no), obj, notes)
    yield from flattened.flush()
    for item in held:
        item.obj["export_incomplete"] = True
        yield item


# -- reading the file: JSON Lines, a streamed JSON array, or one capped JSON document ------------


def _decode(data: bytes) -> tuple[Any, tuple[str, ...]]:
    """Parse one JSON value from bytes; bad UTF-8 is replaced and noted. Raises _Damaged."""
    notes: tuple[str, ...] = ()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace")
        notes = (f"invalid UTF-8 replaced (first at byte {exc.start} of the record)",)
    try:
        return json.loads(text), notes
    except json.JSONDecodeError as exc:
        raise _Damaged(
            f"not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})"
        ) from None
    except RecursionError:
        raise _Damaged("JSON nested too deeply") from None
    except ValueError:  # an integer literal longer than Python converts
        raise _Damaged(f"not valid JSON ({TOO_LONG_NUMBER})") from None


def _array_values(fh: BinaryIO, cap: int) -> Iterator[tuple[int, Any, tuple[str, ...]]]:
    """The elements of a top-level JSON array (auditor.ingest.jsonarray)."""
    try:
        for element in array_elements(fh, cap, what="conversation"):
            number = element.number
            if element.data is None:
                yield number, Rejected(number, f"conversation is larger than {cap} bytes"), ()
                continue
            try:
                value, notes = _decode(element.data)
            except _Damaged as exc:
                yield number, Rejected(number, str(exc)), ()
                continue
            yield number, value, notes
    except ArrayDamaged as exc:
        yield 0, Rejected(0, f"{exc.reason}; reading stopped"), ()


def _document_values(
    head: bytes, fh: BinaryIO, cap: int
) -> Iterator[tuple[int, Any, tuple[str, ...]]]:
    """One pretty-printed JSON document, read whole but never beyond `cap` bytes."""
    data = head + fh.read(max(0, cap + 1 - len(head)))
    if len(data) > cap:
        yield (
            0,
            Rejected(
                0,
                f"JSON document is larger than {cap} bytes (ingest.max_line_bytes); save the "
                "export as JSON Lines (one conversation per line) or as a JSON array",
            ),
            (),
        )
        return
    try:
        value, notes = _decode(data)
    except _Damaged as exc:
        yield 0, Rejected(0, str(exc)), ()
        return
    if not isinstance(value, dict):
        yield 0, Rejected(0, f"expected a JSON object, got {type(value).__name__}"), ()
        return
    yield 0, value, notes


def _line_values(path: Path, cap: int) -> Iterator[tuple[int, Any, tuple[str, ...]]]:
    for item in iter_json_lines(path, max_line_bytes=cap):
        if isinstance(item, Rejected):
            yield item.line_no, item, ()
        else:
            yield item.line_no, item.obj, item.notes


def _peek(path: Path) -> bytes:
    """The start of the (decompressed) file, without a byte-order mark or leading space.

    Read in small pieces so that a damaged gzip stream still shows what came before the damage.
    """
    pieces: list[bytes] = []
    with open_binary(path) as fh:
        try:
            while sum(map(len, pieces)) < HEAD_BYTES and (piece := fh.read(4096)):
                pieces.append(piece)
        except (EOFError, gzip.BadGzipFile, zlib.error):
            pass  # reading the file again reports the damage as a rejection
    return b"".join(pieces).removeprefix(BOM).lstrip()


def _mode(start: bytes) -> str:
    """How the file is laid out: a JSON array, one pretty-printed JSON document, or lines."""
    if start.startswith(b"["):
        return "array"
    first_line, newline, _ = start.partition(b"\n")
    # A pretty-printed document opens with a line no JSON Lines record ends with.
    if (
        start.startswith(b"{")
        and newline
        and first_line.rstrip().endswith((b"{", b"[", b",", b":"))
    ):
        return "document"
    return "lines"


def _values(path: Path, mode: str, cap: int) -> Iterator[tuple[int, Any, tuple[str, ...]]]:
    if mode == "lines":
        yield from _line_values(path, cap)
        return
    try:
        with open_binary(path) as fh:
            if mode == "array":
                yield from _array_values(fh, cap)
            else:
                start = fh.read(HEAD_BYTES).removeprefix(BOM).lstrip()
                yield from _document_values(start, fh, cap)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        reason = f"compressed stream is damaged ({type(exc).__name__}); reading stopped"
        yield 0, Rejected(0, reason), ()


@register
class ChatGPTComplianceReader(Reader):
    name = "chatgpt-compliance"
    description = (
        "ChatGPT Enterprise Compliance API conversations (JSON list pages, arrays or JSON "
        "Lines; one interaction per user message)"
    )

    def sniff(self, head: bytes) -> bool:
        start = head.removeprefix(BOM).lstrip()
        if not start.startswith((b"{", b"[")):
            return False
        if _OBJECT_TYPE.search(head):
            return True
        # Saved without the `object` markers: the conversation's own keys, together.
        return (
            b'"last_active_at"' in head
            and b'"workspace_id"' in head
            and (b'"messages"' in head or b'"message"' in head)
        )

    def records(self, path: Path, *, max_line_bytes: int) -> Iterator[RawRecord | Rejected]:
        mode = _mode(_peek(path))
        return _expand(_values(path, mode, max_line_bytes), number_by_conversation=mode != "lines")

    def normalize(self, raw: RawRecord) -> InteractionRecord:
        return normalize_turn(raw.obj, source_format=self.name)


# -- mapping one turn to the normalized record ---------------------------------------------------


def content_text(content: Any) -> str | None:
    """Text of a message `content`: `{type, value}` (the API), `{content_type, parts[]}` (other
    clients), `{text}` (code), or a bare string. None when there is no content at all.

    Raises RecordError for a value of the wrong type (never quoting it).
    """
    if content is None or isinstance(content, str):
        return content
    if not isinstance(content, dict):
        raise RecordError(f"message content has unsupported type {type(content).__name__}")
    if "value" in content:
        value = content["value"]
        if value is not None and not isinstance(value, str):
            raise RecordError(f"`content.value` is not text (got {type(value).__name__})")
        return value
    if "parts" in content:
        parts = content["parts"]
        if parts is None:
            return None
        if not isinstance(parts, list):
            raise RecordError(f"`content.parts` is not a list (got {type(parts).__name__})")
        texts = []
        for part in parts:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
            # Other parts are attachments (image or file pointers): no text of their own.
        return "\n".join(texts)
    text = content.get("text")
    if text is not None and not isinstance(text, str):
        raise RecordError(f"`content.text` is not text (got {type(text).__name__})")
    # Content of a type without text (an image alone, a tool trace) is present but empty.
    return text if text is not None else ""


def _model(messages: list[dict[str, Any]]) -> str | None:
    for message in messages:
        metadata = message.get("metadata")
        if isinstance(metadata, dict):
            slug = metadata.get("model_slug") or metadata.get("default_model_slug")
            if slug:
                return optional_str(slug, "metadata.model_slug", 128)
    return None


def _file_count(message: dict[str, Any]) -> int:
    files = message.get("files")
    if isinstance(files, dict):
        files = files.get("data")
    return len(files) if isinstance(files, list) else 0


def normalize_turn(turn: Any, *, source_format: str) -> InteractionRecord:
    """One user message (with its conversation and replies, as `records` builds it) ->
    an InteractionRecord. Raises RecordError; messages never quote content."""
    if (
        not isinstance(turn, dict)
        or not isinstance(turn.get("conversation"), dict)
        or not isinstance(turn.get("message"), dict)
        or not isinstance(turn.get("replies"), list)
    ):
        raise RecordError("record is not a conversation turn")
    conversation: dict[str, Any] = turn["conversation"]
    message: dict[str, Any] = turn["message"]
    replies: list[dict[str, Any]] = turn["replies"]

    conv_id = optional_str(conversation.get("id"), "id", 255)
    if not conv_id:
        raise RecordError("conversation has no `id`")
    message_id = optional_str(message.get("id"), "message.id", 255)
    if not message_id:
        raise RecordError("user message has no `id`")
    # Message ids are UUIDs in the API, but some clients number them per conversation.
    event_id = f"{conv_id}:{message_id}"
    if len(event_id) > 255:
        raise RecordError("conversation and message ids are longer than 255 characters together")

    user_id = optional_str(conversation.get("user_id"), "user_id", 255)
    user_email = optional_str(conversation.get("user_email"), "user_email", 320)
    if not user_id and not user_email:
        raise RecordError("no user identity (`user_id` or `user_email`)")
    if message.get("created_at") is None:
        raise RecordError("user message has no `created_at`")
    occurred_at = to_utc(message["created_at"])

    prompt = clean_text(content_text(message.get("content")))
    status: ContentStatus = "present" if prompt is not None else "not_stored"
    texts = [clean_text(content_text(r.get("content"))) for r in replies]
    output = "\n\n".join(t for t in texts if t) or None

    project_id = optional_str(
        message.get("project_id") or conversation.get("project_id"), "project_id", 255
    )
    gpt_id = optional_str(message.get("gpt_id") or conversation.get("gpt_id"), "gpt_id", 255)
    workspace_id = optional_str(conversation.get("workspace_id"), "workspace_id", 255)

    attributes: dict[str, Any] = {}
    if workspace_id:
        attributes["workspace_id"] = workspace_id
        attributes["account_type"] = ACCOUNT_TYPE
    if gpt_id:
        attributes["gpt_id"] = gpt_id
    if project_id:
        attributes["project_id"] = project_id
    kind = _content_type(message)
    if kind and kind != "text":
        attributes["content_type"] = kind[:64]
    files = _file_count(message)
    if files:
        attributes["files_attached"] = files
    if turn.get("shape") == "flattened":
        attributes["flattened"] = True
    if turn.get("messages_incomplete"):
        attributes["messages_incomplete"] = True
    if turn.get("export_incomplete"):
        attributes["export_incomplete"] = True
    if prompt == "":
        attributes["empty_prompt"] = True
    unknown = unknown_fields(conversation, CONVERSATION_KEYS) + [
        f"message.{name}" for name in unknown_fields(message, MESSAGE_KEYS)
    ]
    if unknown:
        attributes["unknown_fields"] = unknown

    # A project is the nearest thing ChatGPT has to a workflow tag; firms map project ids to
    # workflows with `ingest.workflow_map`. An id too long for a tag stays in attributes only.
    workflow = normalize_workflow(project_id)
    return InteractionRecord(
        event_id=event_id,
        source_format=source_format,
        occurred_at=occurred_at,
        user_id=user_id,
        user_email=user_email.lower() if user_email else None,
        tool=TOOL,
        provider=PROVIDER,
        model=_model([*reversed(replies), message]),
        prompt_text=prompt,
        output_text=output,
        history_turns=int(turn.get("history_turns") or 0),
        session_id=conv_id,
        workflow=workflow if workflow and len(workflow) <= 64 else None,
        content_status=status,
        attributes=attributes,
    )
