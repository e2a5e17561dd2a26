"""OpenAI chat-completions request/response pairs logged as JSON Lines by a gateway."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from auditor.ingest.base import RawRecord, Reader, Rejected, iter_json_lines
from auditor.ingest.registry import register
from auditor.normalize import (
    InteractionRecord,
    RecordError,
    normalize_openai_batch,
    normalize_openai_chat,
)

_REQUEST = re.compile(rb'"request"\s*:\s*\{')
_BATCH_BODY = re.compile(rb'"response"\s*:\s*(\{\s*"status_code"|null)')
SNIFF_LINES = 5


@register
class OpenAIChatReader(Reader):
    name = "openai-chat"
    description = (
        "OpenAI chat completions: one JSON object per line with `request`, `response` "
        "and the user identity the gateway added; or Batch API output lines"
    )

    def sniff(self, head: bytes) -> bool:
        # A few non-blank lines, so one malformed or truncated first line does not decide.
        lines = [ln.strip() for ln in head.removeprefix(b"\xef\xbb\xbf").split(b"\n")]
        objects = [ln for ln in lines if ln][:SNIFF_LINES]
        return any(
            ln.startswith(b"{")
            and (
                (_REQUEST.search(ln) and b'"messages"' in ln)
                or (b'"custom_id"' in ln and _BATCH_BODY.search(ln))
            )
            for ln in objects
        )

    def records(self, path: Path, *, max_line_bytes: int) -> Iterator[RawRecord | Rejected]:
        return iter_json_lines(path, max_line_bytes=max_line_bytes)

    def normalize(self, raw: RawRecord) -> InteractionRecord:
        if not isinstance(raw.obj, dict):
            raise RecordError("record is not an object")
        if _is_batch(raw.obj):
            return normalize_openai_batch(raw.obj, source_format=self.name)
        return normalize_openai_chat(raw.obj, source_format=self.name)


def _is_batch(obj: dict[str, object]) -> bool:
    """A Batch API output line: `response{status_code, body}` or a failed one (`response`
    null with an `error`), possibly with its input line (`{custom_id, method, url, body}`)."""
    response, request = obj.get("response"), obj.get("request")
    if isinstance(response, dict):
        return "body" in response and "status_code" in response
    merged_input = isinstance(request, dict) and "body" in request and "url" in request
    return "custom_id" in obj and (response is None and "error" in obj or merged_input)
