"""The policy input contract: the one document Rego sees for an interaction.

The document carries ids, directory facts (department, barrier side, AI-literacy training),
oversight facts the log recorded (human review, external use, agent actions and their
approval) and per-entity-type counts and scores. Tool facts are not copied in: the policies
look them up in their own registry (policies/data/tools.json).
It never carries prompt or output text, detected values or their hashes, so a policy (or an
OPA server's decision log) cannot leak them. Documented in policies/README.md and by the
example documents in policies/examples/.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from auditor.db.models import Detection, Interaction, Person
from auditor.normalize import attribute_text

# A log that does not say which account was used shows neither a firm nor a personal account.
# Defaulting to "enterprise_sso" asserted a fact nobody logged (fail-open); "unknown" keeps
# the gap visible to the policies and in every decision built from this input.
DEFAULT_ACCOUNT_TYPE = "unknown"

# The order fields are listed in `fields_scanned`, whatever order the caller passes.
FIELD_ORDER = ("prompt", "output", "attributes")

# Agent actions as the policies name them; anything else a log says is kept as "other".
AGENT_ACTIONS = frozenset({"none", "draft", "send", "execute", "write"})
_TRUE = frozenset({"true", "yes", "y", "1"})
_FALSE = frozenset({"false", "no", "n", "0"})
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")

# Where each fact is read from: attribute names as directories and logs spell them, first wins.
LITERACY_DONE_KEYS = ("ai_literacy_done", "ai_literacy_completed")
LITERACY_DATE_KEYS = ("ai_literacy_completed_on", "ai_literacy_date", "ai_literacy_completed")
BARRIER_KEYS = ("barrier_side", "information_barrier_side")
REVIEWED_KEYS = ("human_reviewed", "reviewed")
REVIEWER_KEYS = ("reviewer_id", "reviewed_by")
EXTERNAL_KEYS = ("output_used_externally", "sent_externally")
ACTION_KEYS = ("agent_action",)
APPROVED_KEYS = ("action_approved", "agent_action_approved")
APPROVER_KEYS = ("approver_id", "approved_by")


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
                ("attributes", attribute_text(interaction.attributes)),
            )
            if text is not None
        }
    else:
        present = set(fields_scanned)
    attributes = interaction.attributes or {}
    directory = (person.attributes or {}) if person is not None else {}
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
            "barrier_side": _text(directory, BARRIER_KEYS),
            "ai_literacy_done": _flag(directory, LITERACY_DONE_KEYS),
            "ai_literacy_completed_on": _date(directory, LITERACY_DATE_KEYS),
        },
        "oversight": oversight(attributes),
        "detections": summarize_detections(detections),
    }


def oversight(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Human review, external use and agent actions as the log recorded them.

    `null` means the log did not say, which the policies never read as "reviewed" or
    "approved". A recorded reviewer or approver counts as a review or an approval.
    """
    reviewed = _flag(attributes, REVIEWED_KEYS)
    if reviewed is None and _text(attributes, REVIEWER_KEYS):
        reviewed = True
    approved = _flag(attributes, APPROVED_KEYS)
    if approved is None and _text(attributes, APPROVER_KEYS):
        approved = True
    action = (_text(attributes, ACTION_KEYS) or "none").lower()
    return {
        "human_reviewed": reviewed,
        "output_used_externally": _flag(attributes, EXTERNAL_KEYS),
        "agent_action": action if action in AGENT_ACTIONS else "other",
        "action_approved": approved,
    }


def _first(values: Mapping[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        value = values.get(key)
        if value is not None and value != "":
            return value
    return None


def _flag(values: Mapping[str, Any], keys: Sequence[str]) -> bool | None:
    """A yes/no fact: booleans, 1/0, or true/false/yes/no text; None when absent or unclear."""
    for key in keys:
        value = values.get(key)
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return bool(value)
        if isinstance(value, str):
            word = value.strip().lower()
            if word in _TRUE:
                return True
            if word in _FALSE:
                return False
            if _DATE.match(word):
                return True  # a completion date says it was done (when: see _date)
    return None


def _date(values: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    """An ISO date (YYYY-MM-DD) from the first key holding one."""
    for key in keys:
        value = values.get(key)
        if isinstance(value, str) and _DATE.match(value.strip()):
            return value.strip()[:10]
    return None


def _text(values: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    value = _first(values, keys)
    return str(value).strip()[:64] or None if value is not None else None


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
