"""OpenAI chat-completions request/response pairs logged as JSON Lines by a gateway."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from auditor.ingest.base import RawRecord, Reader, Rejected, iter_json_lines
from auditor.ingest.registry import register
from auditor.normalize import InteractionRecord, RecordError, normalize_openai_chat

_LOOKS_LIKE = re.compile(rb'^\s*\{.*"request"\s*:\s*\{.*"messages"', re.DOTALL)


@register
class OpenAIChatReader(Reader):
    name = "openai-chat"
    description = (
        "OpenAI chat completions: one JSON object per line with `request`, `response` "
        "and the user identity the gateway added"
    )

    def sniff(self, head: bytes) -> bool:
        first = head.split(b"\n", 1)[0]
        return bool(_LOOKS_LIKE.match(first))

    def records(self, path: Path, *, max_line_bytes: int) -> Iterator[RawRecord | Rejected]:
        return iter_json_lines(path, max_line_bytes=max_line_bytes)

    def normalize(self, raw: RawRecord) -> InteractionRecord:
        if not isinstance(raw.obj, dict):
            raise RecordError("record is not an object")
        return normalize_openai_chat(raw.obj, source_format=self.name)
