"""Structured logs for scheduled operation: what a progress line or a stage's counts become in
`--log-format json` (one JSON object per event: time, level, run id, stage, event, counts,
durations). Library code: builds records, never writes them (the CLI does).

Progress messages are written by the auditor itself (file names, periods, counts, reasons);
prompt text and detected values never reach them, and a record carries nothing else.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

LOG_FORMATS = ("plain", "json")

_PERIOD_STEP = re.compile(r"^(\d{4}-\d{2}): (\S+)")
# The first word after "<period>: " in the pipeline's progress messages -> its stage.
_PERIOD_STAGES = {
    "tiers": "tiers",
    "sample": "sample",
    "scanning": "scan",
    "rescanning": "scan",
    "policy": "evaluate",
    "evaluating": "evaluate",
    "findings": "findings",
    "report": "report",
}
_PREFIX_STAGES = ("ingest", "directory", "demo", "report")


def stage_of(message: str) -> tuple[str | None, str | None]:
    """(stage, period) a pipeline progress message belongs to; (None, period) when the
    message does not say (it then belongs to the stage in progress)."""
    step = _PERIOD_STEP.match(message)
    if step:
        return _PERIOD_STAGES.get(step.group(2).rstrip(":").lower()), step.group(1)
    head = message.split(":", 1)[0].split(" ", 1)[0].lower()
    return (head if head in _PREFIX_STAGES else None), None


def utc_stamp(moment: datetime | None = None, *, millis: bool = False) -> str:
    moment = moment or datetime.now(UTC)
    if millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class EventLog:
    """The events of one command: stages entered and left (with their durations), progress,
    counts. `write` receives each record as one line of JSON."""

    write: Callable[[str], None]
    run_id: str | None = None
    stage: str | None = None
    period: str | None = None
    _stage_started: float = 0.0
    _started: float = field(default_factory=time.monotonic)

    def event(
        self, event: str, *, level: str = "info", stage: str | None = None, **fields: Any
    ) -> None:
        record: dict[str, Any] = {
            "time": utc_stamp(millis=True),
            "level": level,
            "run_id": self.run_id,
            "stage": stage if stage is not None else self.stage,
            "event": event,
        }
        if self.period is not None and "period" not in fields:
            record["period"] = self.period
        record.update(fields)
        self.write(json.dumps(record, default=str, ensure_ascii=False))

    def enter(self, stage: str, period: str | None = None) -> None:
        """Start `stage` (for `period`), ending the one in progress with its duration."""
        if stage == self.stage and period == self.period:
            return
        self.leave()
        self.stage, self.period = stage, period
        self._stage_started = time.monotonic()
        self.event("stage_started")

    def leave(self) -> None:
        if self.stage is None:
            return
        self.event("stage_finished", duration_s=round(time.monotonic() - self._stage_started, 3))
        self.stage = self.period = None

    def progress(self, message: str) -> None:
        """A pipeline progress line: its stage entered, the line itself as the message."""
        stage, period = stage_of(message)
        if stage is not None and (stage, period) != (self.stage, None):
            self.enter(stage, period)
        self.event("progress", message=message)

    def counter(self, stage: str, *, every_seconds: float = 5.0) -> Callable[[int, int], None]:
        """A `(done, total)` callback for a long stage: a progress event at most every
        `every_seconds`, and when it completes, with the rate so far."""
        last = [0.0]

        def advance(done: int, total: int) -> None:
            now = time.monotonic()
            if self.stage != stage:
                self.enter(stage, self.period)
            if done < total and now - last[0] < every_seconds:
                return
            last[0] = now
            elapsed = now - self._stage_started
            self.event(
                "progress",
                done=done,
                total=total,
                rate_per_s=round(done / elapsed, 1) if elapsed > 0 else None,
            )

        return advance

    def elapsed(self) -> float:
        return round(time.monotonic() - self._started, 3)
