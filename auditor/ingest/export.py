"""Export normalized interactions (JSON Lines or CSV): what every reader made of the logs.

Used to check a reader's mapping on real logs and to hand the normalized population to other
tools. The output holds raw prompt and output text: it is written owner-only and whole. In CSV
a text cell that a spreadsheet would run as a formula gets a leading "'".
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.db.models import Interaction
from auditor.errors import InputError
from auditor.fileio import atomic_file, spreadsheet_safe
from auditor.normalize import INTERACTION_FIELDS
from auditor.periods import period_bounds

EXPORT_FIELDS = (INTERACTION_FIELDS[0], "source_format", *INTERACTION_FIELDS[1:])
BATCH = 1000


def _rows(session: Session, period: str | None) -> Iterator[dict[str, Any]]:
    query = select(Interaction).order_by(Interaction.occurred_at, Interaction.id)
    if period:
        start, end = period_bounds(period)
        query = query.where(Interaction.occurred_at >= start, Interaction.occurred_at < end)
    for row in session.scalars(query.execution_options(yield_per=BATCH)):
        values = {name: getattr(row, name) for name in EXPORT_FIELDS}
        values["occurred_at"] = row.occurred_at.isoformat(timespec="microseconds") + "Z"
        yield values
        session.expunge(row)


def _csv_value(value: Any) -> Any:
    return spreadsheet_safe(value) if isinstance(value, str) else value


def export_interactions(
    session: Session,
    out: Path,
    fmt: Literal["jsonl", "csv"] = "jsonl",
    *,
    period: str | None = None,
) -> int:
    """Write interactions (all, or one period's) to `out`; return how many were written.

    Raises InputError if the file cannot be written.
    """
    if fmt not in ("jsonl", "csv"):
        raise InputError(f"unknown export format {fmt!r}", "use jsonl or csv")
    count = 0
    try:
        with atomic_file(out) as fh:
            if fmt == "csv":
                writer = csv.DictWriter(fh, fieldnames=EXPORT_FIELDS)
                writer.writeheader()
                for values in _rows(session, period):
                    writer.writerow({k: _csv_value(v) for k, v in values.items()})
                    count += 1
            else:
                for values in _rows(session, period):
                    fh.write(json.dumps(values, ensure_ascii=False) + "\n")
                    count += 1
    except OSError as exc:
        raise InputError(f"{out}: cannot be written ({exc.strerror})") from None
    return count
