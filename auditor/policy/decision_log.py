"""A period's policy decisions as OPA decision-log events, for SIEMs that already ingest them.

One event per interaction evaluation: the decision rows of one interaction that share
`evaluated_at`, policy revision and engine. The event has the shape of OPA's `EventV1`
(openpolicyagent.org/docs/management-decision-logs; `v1/plugins/logs/plugin.go`):
`decision_id`, `path`, `bundles`, `result` or `error`, `timestamp`, `labels`, and
`erased: ["/input"]` — OPA's own marker (a list of JSON Pointers) that a field was removed
from the event. The input itself is never exported; `input_digest`, the SHA-256 of its
canonical JSON recorded with the decision, says what was decided on. Nothing here reads
prompt or output text, detected values or the user's e-mail.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path
from typing import Any

from sqlalchemy import Executable, Row, select
from sqlalchemy.orm import Session

from auditor import __version__
from auditor.db.models import Decision, Interaction
from auditor.errors import InputError
from auditor.fileio import atomic_file
from auditor.periods import period_bounds
from auditor.policy.engine import VIOLATIONS_QUERY
from auditor.policy.evaluate import FAILED_PREFIX, NOT_EVALUATED, VIOLATION
from auditor.sample.selection import stable_key

APP = "ai-usage-auditor"
# OPA logs the decision path without the `data.` root, slash-separated.
PATH = VIOLATIONS_QUERY.removeprefix("data.").replace(".", "/")
BUNDLE = "auditor"
DIGEST_ALGORITHM = "SHA-256"
ERASED_INPUT = "/input"
# `error.code` of a not_evaluated decision: the engine (or the input) failed, so the policy
# returned nothing; or a field was not fully scanned, so the data rules could not be fully
# applied while the violations in `result` were still decided.
EVALUATION_FAILED = "evaluation_failed"
COVERAGE_GAP = "coverage_gap"
# Fixed for good: decision ids derive from it, and a SIEM deduplicates on them.
DECISION_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:ai-usage-auditor:decision-log")
BATCH = 1000

_COLUMNS = (
    Decision.interaction_id,
    Decision.evaluated_at,
    Decision.policy_revision,
    Decision.engine,
    Decision.rule_id,
    Decision.verdict,
    Decision.severity,
    Decision.title,
    Decision.message,
    Decision.entity_types,
    Decision.input_digest,
    Interaction.source_format,
    Interaction.event_id,
)


def decision_events(session: Session, period: str) -> Iterator[dict[str, Any]]:
    """Yield one OPA decision-log event per interaction evaluation in a `YYYY-MM` period.

    The period selects interactions by when they occurred, as samples and reports do.
    Events come in order of evaluation time, then interaction id, and are streamed from the
    database in batches, never the whole month at once. Raises InputError on a bad period
    (at the call, before anything is read).
    """
    start, end = period_bounds(period)
    query = (
        select(*_COLUMNS)
        .join(Interaction, Interaction.id == Decision.interaction_id)
        .where(Interaction.occurred_at >= start, Interaction.occurred_at < end)
        .order_by(
            Decision.evaluated_at,
            Decision.interaction_id,
            Decision.policy_revision,
            Decision.engine,
            Decision.id,  # the order the policy returned its violations in
        )
        .execution_options(yield_per=BATCH)
    )
    return _events(session, query)


def _events(session: Session, query: Executable) -> Iterator[dict[str, Any]]:
    rows = session.execute(query)
    try:
        for _, group in groupby(
            rows, key=lambda r: (r.evaluated_at, r.interaction_id, r.policy_revision, r.engine)
        ):
            yield _event(list(group))
    finally:
        rows.close()  # an abandoned export must not hold the cursor open


def _event(rows: Sequence[Row[Any]]) -> dict[str, Any]:
    """One evaluation's rows (one interaction, evaluated_at, revision, engine) as an event."""
    first = rows[0]
    key = stable_key(first.source_format, first.event_id)
    timestamp = _rfc3339(first.evaluated_at)
    event: dict[str, Any] = {
        "decision_id": str(
            uuid.uuid5(
                DECISION_NAMESPACE,
                "\n".join((key, timestamp, first.policy_revision, first.engine)),
            )
        ),
        "path": PATH,
        "bundles": {BUNDLE: {"revision": first.policy_revision}},
        # OPA's labels are strings only.
        "labels": {
            "app": APP,
            "version": __version__,
            "engine": first.engine,
            "interaction": key,
        },
        "timestamp": timestamp,
    }
    digest = next((r.input_digest for r in rows if r.input_digest), None)
    if digest is not None:
        event["input_digest"] = {"algorithm": DIGEST_ALGORITHM, "value": digest}
        event["erased"] = [ERASED_INPUT]
    # Without a digest no input was built (or the decision predates digests): there is
    # nothing to name, and claiming an input was erased would not be known to be true.
    unevaluated = [r.message for r in rows if r.verdict == NOT_EVALUATED]
    failed = any(m.startswith(FAILED_PREFIX) for m in unevaluated)
    if not failed:
        event["result"] = [
            {
                "rule_id": r.rule_id,
                "severity": r.severity,
                "title": r.title,
                "message": r.message,
                "entity_types": list(r.entity_types or []),
            }
            for r in rows
            if r.verdict == VIOLATION
        ]
    if unevaluated:
        event["error"] = {
            "code": EVALUATION_FAILED if failed else COVERAGE_GAP,
            "message": "; ".join(unevaluated),
        }
    return event


def _rfc3339(moment: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, to the microsecond. Naive datetimes are UTC (the store)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def write_decision_log(session: Session, period: str, out: Path) -> int:
    """Write the period's decision events to `out` as JSON Lines; return how many.

    The file is written owner-only (0600) under a temporary name beside `out` and renamed
    into place, so a reader never sees half a log and a failure leaves any earlier file
    untouched. Raises InputError on a bad period or if the file cannot be written.
    """
    events = decision_events(session, period)
    count = 0
    try:
        with atomic_file(out) as fh:
            for event in events:
                fh.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
                count += 1
    except OSError as exc:
        raise InputError(
            f"{out}: cannot be written ({exc.strerror or exc})",
            "check that the directory exists and is writable",
        ) from None
    return count
