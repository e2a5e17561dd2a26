"""The policy input contract: the one document Rego sees for an interaction.

The document carries ids, tool facts, directory facts and per-entity-type counts and scores.
It never carries prompt or output text, detected values or their hashes, so a policy (or an
OPA server's decision log) cannot leak them. Documented in policies/README.md and by the
example documents in policies/examples/.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from auditor.db.models import Detection, Interaction, Person

# A log that does not say which account was used shows neither a firm nor a personal account.
# Defaulting to "enterprise_sso" asserted a fact nobody logged (fail-open); "unknown" keeps
# the gap visible to the policies and in every decision built from this input.
DEFAULT_ACCOUNT_TYPE = "unknown"

# The order fields are listed in `fields_scanned`, whatever order the caller passes.
FIELD_ORDER = ("prompt", "output")


def build_policy_input(
    interaction: Interaction,
    person: Person | None,
    detections: Sequence[Detection],
    *,
    fields_scanned: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Build the policy input document for one interaction.

    `detections` are the interaction's detections from one scanner revision; they are
    reduced to a count and a maximum score per entity type. `fields_scanned` names the fields
    a scan covered (from the scan records); if not given, the fields that hold text are
    assumed scanned. Reads plain columns only, never relationships.
    """
    if fields_scanned is None:
        present = {
            name
            for name, text in (
                ("prompt", interaction.prompt_text),
                ("output", interaction.output_text),
            )
            if text is not None
        }
    else:
        present = set(fields_scanned)
    attributes = interaction.attributes or {}
    account_type = attributes.get("account_type")
    user_pid = interaction.user_id
    if user_pid is None and person is not None:
        user_pid = person.user_id
    return {
        "interaction": {
            "id": interaction.id,
            "event_id": interaction.event_id,
            "occurred_at": iso_utc(interaction.occurred_at),
            "tool": interaction.tool,
            "provider": interaction.provider,
            "model": interaction.model,
            "workflow": interaction.workflow,
            "content_status": interaction.content_status,
            "account_type": str(account_type) if account_type else DEFAULT_ACCOUNT_TYPE,
            "fields_scanned": [f for f in FIELD_ORDER if f in present]
            + sorted(present.difference(FIELD_ORDER)),
        },
        "user": {
            "user_pid": user_pid,
            "in_directory": person is not None,
            "department": person.department if person is not None else None,
            "region": person.region if person is not None else None,
            "manager_pid": person.manager_id if person is not None else None,
        },
        "detections": summarize_detections(detections),
    }


def summarize_detections(detections: Sequence[Detection]) -> dict[str, dict[str, Any]]:
    """Count and maximum score per entity type, keyed and ordered by entity type."""
    summary: dict[str, dict[str, Any]] = {}
    for det in detections:
        entry = summary.setdefault(det.entity_type, {"count": 0, "max_score": 0.0})
        entry["count"] += 1
        entry["max_score"] = max(entry["max_score"], float(det.score))
    return {key: summary[key] for key in sorted(summary)}


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, to the second. Naive datetimes are taken as UTC (the store)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
