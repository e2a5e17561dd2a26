"""What both monitoring engines do to one interaction, so that they give the same answers.

An interaction travels as a plain row (`COLUMNS`: what the database holds, or the Parquet
export, or the firm's lake): its fields are scanned with the scan stage's own functions (the
same records, detections, failures and partial scans as the audit's scan), and the monitored
rules are evaluated on the policy input built by `policy.input` from what was found.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from auditor.db.models import Detection, Interaction, Person, ScanRecord
from auditor.errors import AuditorError, PolicyError
from auditor.normalize import attribute_key_spans, attribute_text
from auditor.policy.engine import PolicyEngine, Violation
from auditor.policy.evaluate import FAILED_PREFIX, SCANNED_STATUSES
from auditor.policy.input import build_policy_input
from auditor.scan.engine import Scanner
from auditor.scan.parallel import ScanOutcome
from auditor.scan.stage import ScanStats, _Job, _no_text_record, _store

EVALUATED = "evaluated"
NOT_EVALUATED = "not_evaluated"
REASON_MAX = 500

# An interaction as both engines read it (the Parquet export's columns; `attributes` is JSON
# text there, a dict from the database).
COLUMNS = (
    "id",
    "event_id",
    "source_format",
    "occurred_at",
    "user_id",
    "user_email",
    "tool",
    "provider",
    "model",
    "workflow",
    "content_status",
    "attributes",
    "prompt_text",
    "output_text",
)


def monitored_rules(engine: PolicyEngine) -> tuple[str, ...]:
    """The ids of the pack's rules marked `monitor: true`, sorted.

    Raises PolicyError if the pack marks none (a monitor that evaluates nothing would pass
    everything unseen).
    """
    rules = tuple(sorted(r.rule_id for r in engine.rules() if r.monitor))
    if not rules:
        raise PolicyError(
            f"policy pack {engine.revision[:12]} marks no rule for monitoring",
            'add "monitor": true to the metadata of the rules to watch on every interaction',
        )
    return rules


def interaction_of(row: Mapping[str, Any]) -> Interaction:
    """A transient Interaction (never added to a session) from a row of `COLUMNS`."""
    attributes = row.get("attributes") or {}
    if isinstance(attributes, str):
        attributes = json.loads(attributes)
    occurred = row["occurred_at"]
    if isinstance(occurred, str):
        occurred = datetime.fromisoformat(occurred)
    if isinstance(occurred, datetime) and occurred.tzinfo is not None:
        occurred = occurred.replace(tzinfo=None)  # the store's naive UTC
    return Interaction(
        id=int(row["id"]),
        event_id=row["event_id"],
        source_format=row["source_format"],
        occurred_at=occurred,
        user_id=row.get("user_id"),
        user_email=row.get("user_email"),
        tool=row.get("tool"),
        provider=row.get("provider"),
        model=row.get("model"),
        workflow=row.get("workflow"),
        content_status=row.get("content_status") or "present",
        attributes=attributes,
        prompt_text=row.get("prompt_text"),
        output_text=row.get("output_text"),
    )


def field_text(interaction: Interaction, name: str) -> str | None:
    """The text of a field to scan, as the scan stage reads it."""
    if name == "attributes":
        return attribute_text(interaction.attributes)
    return interaction.prompt_text if name == "prompt" else interaction.output_text


class People:
    """The people directory, to find an interaction's person as the policy stage does: by
    user id, else by e-mail (case-insensitive, the lowest user id first)."""

    def __init__(self, rows: Iterable[Sequence[Any]]) -> None:
        # rows: (user_id, email, department, region, manager_id, attributes)
        self.rows = sorted((tuple(r) for r in rows), key=lambda r: r[0])
        self._by_id: dict[str, Person] = {}
        self._by_email: dict[str, Person] = {}
        for user_id, email, department, region, manager_id, attributes in self.rows:
            person = Person(
                user_id=user_id,
                email=email,
                department=department,
                region=region,
                manager_id=manager_id,
                attributes=attributes or {},
            )
            self._by_id[user_id] = person
            if email:
                self._by_email.setdefault(email.lower(), person)

    def find(self, interaction: Interaction) -> Person | None:
        return self._by_id.get(interaction.user_id or "") or self._by_email.get(
            (interaction.user_email or "").lower()
        )


@dataclass(frozen=True)
class Evaluated:
    """The monitored rules' verdict on one interaction: `evaluated` with the monitored
    violations (none: a pass), or `not_evaluated` with the reason (never a silent pass)."""

    status: str
    reason: str | None = None
    violations: tuple[Violation, ...] = ()


def evaluate_one(
    engine: PolicyEngine,
    monitored: frozenset[str],
    interaction: Interaction,
    person: Person | None,
    detections: Sequence[Detection],
    fields_scanned: Sequence[str],
) -> Evaluated:
    """Evaluate one interaction with the whole pack and keep the monitored rules' violations."""
    try:
        doc = build_policy_input(interaction, person, detections, fields_scanned=fields_scanned)
        violations = engine.evaluate(doc)
    except AuditorError as exc:
        return Evaluated(NOT_EVALUATED, f"{FAILED_PREFIX}: {exc}"[:REASON_MAX])
    except Exception as exc:  # any failure is recorded, by type only (no content)
        return Evaluated(NOT_EVALUATED, f"{FAILED_PREFIX}: {type(exc).__name__}")
    return Evaluated(EVALUATED, None, tuple(v for v in violations if v.rule_id in monitored))


def violation_key(
    interaction_id: int, violation: Violation, scanner_revision: str, policy_revision: str
) -> str:
    """The identity of a monitored violation: loading it twice adds one row."""
    material = "\x1f".join(
        (
            str(interaction_id),
            violation.rule_id,
            ",".join(violation.entity_types),
            violation.message,
            scanner_revision,
            policy_revision,
        )
    )
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class Collected:
    """What `scan_fields` produced for one interaction: ORM objects not in any session."""

    records: list[ScanRecord] = field(default_factory=list)
    detections: list[Detection] = field(default_factory=list)

    def add(self, obj: Any) -> None:
        (self.detections if isinstance(obj, Detection) else self.records).append(obj)

    def add_all(self, objs: Iterable[Any]) -> None:
        for obj in objs:
            self.add(obj)

    @property
    def fields_scanned(self) -> list[str]:
        return [r.field for r in self.records if r.status in SCANNED_STATUSES]


def jobs_of(interaction: Interaction, fields: Sequence[str]) -> list[tuple[str, str | None]]:
    """(field, text) for each field to record: text None for a field without text, which is
    recorded as not stored or redacted; attributes without text are no field at all."""
    jobs = []
    for name in fields:
        text = field_text(interaction, name)
        if text is None and name == "attributes":
            continue
        jobs.append((name, text))
    return jobs


def collect(
    scanner: Scanner,
    interaction: Interaction,
    jobs: Sequence[tuple[str, str | None]],
    outcomes: Sequence[ScanOutcome],
    stats: ScanStats,
) -> Collected:
    """The scan records and detections of one interaction, built by the scan stage's own
    functions from the outcomes of its texts (one per job with text, in order)."""
    out = Collected()
    pending = iter(outcomes)
    for name, text in jobs:
        if text is None:
            out.add(_no_text_record(interaction.id, name, interaction.content_status, scanner))
            stats.fields_not_stored += 1
            continue
        keys = attribute_key_spans(text) if name == "attributes" else ()
        _store(out, scanner, _Job(interaction.id, name, keys), next(pending), stats)  # type: ignore[arg-type]
    return out
