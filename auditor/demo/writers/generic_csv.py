"""The demo's interactions as a generic CSV export (`--format csv`), one row each.

Each openai-chat record is read the way the `openai-chat` reader reads it, and its normalized
fields are written under the canonical column names, so that the CSV reader gives the same
interactions back. The model is the response's model (the one that answered), falling back to
the request's. `provider` is written only when the record names one (the gateway's log does
not). The gateway facts `account_type`, `gateway` and `client_ip` go in columns whose values
the CSV reader keeps. Rows end in CRLF as RFC 4180 says; prompts keep their line breaks
inside quoted fields.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from auditor.ingest.generic_csv import FIELDS
from auditor.normalize import normalize_openai_chat

FORMAT = "csv"
SUFFIX = ".csv"
EXTRAS = ("account_type", "gateway", "client_ip")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def write(records: Sequence[dict[str, Any]], path: Path) -> int:
    """Write `records` (openai-chat dicts) to `path` as CSV; return the number of rows.

    Raises auditor.normalize.RecordError for a record the openai-chat reader would reject.
    """
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\r\n")
        out.writerow([*FIELDS, *EXTRAS])
        for record in records:
            rec = normalize_openai_chat(record, source_format=FORMAT)
            values = {
                "event_id": rec.event_id,
                "occurred_at": rec.occurred_at.isoformat().replace("+00:00", "Z"),
                "user_id": rec.user_id,
                "user_email": rec.user_email,
                "tool": rec.tool,
                "provider": record.get("provider"),
                "model": rec.model,
                "prompt_text": rec.prompt_text,
                "output_text": rec.output_text,
                "history_turns": rec.history_turns,
                "input_tokens": rec.input_tokens,
                "output_tokens": rec.output_tokens,
                # repr of a float reads back as the same float.
                "cost_usd": repr(rec.cost_usd) if rec.cost_usd is not None else None,
                "session_id": rec.session_id,
                "workflow": rec.workflow,
                "content_status": rec.content_status,
                **{k: rec.attributes.get(k) for k in EXTRAS},
            }
            out.writerow([_text(values[k]) for k in (*FIELDS, *EXTRAS)])
    return len(records)
