"""Evaluate a sample: one policy input per sampled interaction, one decision row per verdict.

Rego decides; this module only gathers the facts, counts, and records. Every evaluated
interaction gets at least one decision, so "no violation" is recorded (`*`, `pass`) rather
than implied, and a failure is recorded as `not_evaluated` with its reason. So is a coverage
gap — a field not scanned, scanned in part, failed, or not stored at the source — beside the
violations that could still be decided: an item that could not be fully tested is not a pass.
Every row of an evaluation carries the SHA-256 of its canonical input (`input_digest`), so an
export can name what was decided on without the input ever being kept.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, defer

from auditor.db.models import (
    Decision,
    Detection,
    Interaction,
    Person,
    PolicyEvaluation,
    Sample,
    SampleItem,
    ScanRecord,
)
from auditor.errors import AuditorError, NotFoundError, PolicyError
from auditor.normalize import attribute_text
from auditor.ops.lifetime import check_termination
from auditor.policy.engine import PolicyEngine
from auditor.policy.input import build_policy_input

ALL_RULES = "*"
PASS = "pass"
VIOLATION = "violation"
NOT_EVALUATED = "not_evaluated"
# Statuses under which a field's text (all of it, or a prefix) went through the scanner.
SCANNED_STATUSES = frozenset({"scanned", "partial"})
FULLY_SCANNED = "scanned"
NO_TEXT_STATUSES = frozenset({"not_stored", "redacted"})
FIELDS = ("prompt", "output", "attributes")
NOT_STORED_REASON = "content not stored at source"
FAILED_PREFIX = "policy evaluation failed"
MESSAGE_MAX = 1000
CHUNK = 500


@dataclass
class EvaluateStats:
    """What one run did. `items == evaluated + skipped_already_done + not_evaluated`.

    `evaluated` counts interactions fully evaluated now (a `pass` or violations only);
    `not_evaluated` those that got a `not_evaluated` decision now (failure or a coverage gap,
    with whatever rules could still be decided); `failed` the part of those whose evaluation
    failed (engine error, time-out, malformed policy: the decision's message starts with
    FAILED_PREFIX); `violations` counts violation rows.
    """

    items: int = 0
    evaluated: int = 0
    skipped_already_done: int = 0
    violations: int = 0
    not_evaluated: int = 0
    failed: int = 0


def evaluate_sample(
    session: Session,
    engine: PolicyEngine,
    sample_id: str,
    *,
    require_scanned: Collection[str] = FIELDS,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EvaluateStats:
    """Evaluate every interaction of a sample with `engine` and add Decision rows.

    Each decision records the scanner revision of the newest scan its input came from. An
    interaction is skipped only if it already has decisions at this policy revision, none
    `not_evaluated`, all built from the scanner revision of its newest scan now; otherwise
    its decisions at this policy revision are replaced. A field named in `require_scanned`
    that was not fully scanned (no scan, failed, partial) or whose text the source did not
    store adds a `*`/`not_evaluated` decision saying so, beside the rules that could still be
    decided: never a silent pass. A run that decided anything is recorded as a
    PolicyEvaluation (pack revision, engine, rule count). Does not commit. Raises
    NotFoundError if the sample does not exist and PolicyError for a field other than
    prompt, output or attributes. `progress(done, total)` is called as interactions are done.
    """
    unknown = sorted(set(require_scanned).difference(FIELDS))
    if unknown:
        raise PolicyError(
            f"cannot require field {unknown[0]!r} scanned", "fields are " + ", ".join(FIELDS)
        )
    if session.get(Sample, sample_id) is None:
        raise NotFoundError(f"sample {sample_id} does not exist", "draw a sample first")
    moment = now or datetime.now(UTC)
    # Stored naive UTC; a naive `now` is taken to be UTC already.
    evaluated_at = moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
    interaction_ids = list(
        session.scalars(
            select(SampleItem.interaction_id)
            .where(SampleItem.sample_id == sample_id)
            .order_by(SampleItem.draw_order)
        )
    )
    required = tuple(f for f in FIELDS if f in set(require_scanned))
    stats = EvaluateStats(items=len(interaction_ids))
    done = 0
    if progress is not None:
        progress(0, len(interaction_ids))
    for chunk in _chunks(interaction_ids, CHUNK):
        check_termination()
        _evaluate_chunk(session, engine, chunk, required, evaluated_at, stats)
        done += len(chunk)
        if progress is not None:
            progress(done, len(interaction_ids))
    decided = stats.evaluated + stats.not_evaluated
    if decided:
        # The evidence of which pack decided: its revision and how many rules it had (an
        # unavailable engine has none, and every decision says not_evaluated).
        session.add(
            PolicyEvaluation(
                sample_id=sample_id,
                policy_revision=engine.revision,
                engine=engine.name,
                rule_count=len(engine.rules()),
                interactions=decided,
                evaluated_at=evaluated_at,
            )
        )
        session.flush()
    return stats


def _chunks(ids: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _evaluate_chunk(
    session: Session,
    engine: PolicyEngine,
    ids: Sequence[int],
    required: tuple[str, ...],
    evaluated_at: datetime,
    stats: EvaluateStats,
) -> None:
    scans = _latest_scans(session, ids)
    existing: dict[int, list[tuple[str, str | None]]] = defaultdict(list)
    for iid, verdict, scanner_revision in session.execute(
        select(Decision.interaction_id, Decision.verdict, Decision.scanner_revision).where(
            Decision.interaction_id.in_(ids), Decision.policy_revision == engine.revision
        )
    ):
        existing[iid].append((verdict, scanner_revision))

    def done(iid: int) -> bool:
        # A not_evaluated decision is always retried: a failed field may have been scanned
        # again under the same scanner revision, or the engine failure may have passed.
        current = scans[iid][0] if iid in scans else None
        rows = existing.get(iid)
        if not rows:
            return False
        return all(v != NOT_EVALUATED and rev == current for v, rev in rows)

    todo = [iid for iid in ids if not done(iid)]
    stats.skipped_already_done += len(ids) - len(todo)
    if not todo:
        return
    redo = [iid for iid in todo if iid in existing]
    if redo:
        session.execute(
            delete(Decision).where(
                Decision.interaction_id.in_(redo), Decision.policy_revision == engine.revision
            )
        )

    # Prompt and output text are never loaded here; only whether they are there.
    interactions = {
        row.id: row
        for row in session.scalars(
            select(Interaction)
            .where(Interaction.id.in_(todo))
            .options(
                defer(Interaction.prompt_text, raiseload=True),
                defer(Interaction.output_text, raiseload=True),
            )
        )
    }
    has_text: dict[int, set[str]] = defaultdict(set)
    for iid, has_prompt, has_output in session.execute(
        select(
            Interaction.id,
            Interaction.prompt_text.is_not(None),
            Interaction.output_text.is_not(None),
        ).where(Interaction.id.in_(todo))
    ):
        if has_prompt:
            has_text[iid].add("prompt")
        if has_output:
            has_text[iid].add("output")
    for iid, interaction in interactions.items():
        if attribute_text(interaction.attributes) is not None:
            has_text[iid].add("attributes")
    people = _people_for(session, list(interactions.values()))
    detections: dict[int, dict[str, list[Detection]]] = defaultdict(lambda: defaultdict(list))
    for det in session.scalars(
        select(Detection).where(Detection.interaction_id.in_(todo)).order_by(Detection.id)
    ):
        detections[det.interaction_id][det.scanner_revision].append(det)

    titles = {rule.rule_id: rule.title for rule in engine.rules()}
    for iid in todo:
        interaction = interactions[iid]
        revision, field_status = scans.get(iid, (None, {}))
        by_revision = detections.get(iid, {})
        if revision is None:
            # No scan record: use whatever detections exist (normally none).
            found = [d for ds in by_revision.values() for d in ds]
        else:
            # Only the newest scan counts, so a re-scan does not double the counts.
            found = by_revision.get(revision, [])
        scanned = [f for f, status in field_status.items() if status in SCANNED_STATUSES]
        gaps = coverage_gaps(
            required, field_status, has_text[iid], content_status=interaction.content_status
        )
        rows, digest = _decide(
            engine, build_args=(interaction, people.get(iid), found, scanned), gaps=gaps
        )
        for rule_id, verdict, severity, message, entity_types in rows:
            session.add(
                Decision(
                    interaction_id=iid,
                    rule_id=rule_id,
                    verdict=verdict,
                    severity=severity,
                    title=titles.get(rule_id, ""),
                    message=message[:MESSAGE_MAX],
                    entity_types=list(entity_types),
                    policy_revision=engine.revision,
                    scanner_revision=revision,
                    engine=engine.name,
                    evaluated_at=evaluated_at,
                    input_digest=digest,
                )
            )
        verdicts = [row[1] for row in rows]
        stats.violations += verdicts.count(VIOLATION)
        if NOT_EVALUATED in verdicts:
            stats.not_evaluated += 1
            stats.failed += any(row[3].startswith(FAILED_PREFIX) for row in rows)
        else:
            stats.evaluated += 1


def coverage_gaps(
    required: Sequence[str],
    field_status: Mapping[str, str],
    has_text: Collection[str],
    *,
    content_status: str,
) -> list[str]:
    """Why the data rules could not see all of an interaction's required fields; [] if they did.

    A required field counts as covered only if its newest scan record says `scanned`. A scan
    that covered the field before its text was purged still counts (its detections remain).
    When the source logged the prompt (`content_status` present), a missing output is a reply
    without text (e.g. only tool calls), not a gap: there was nothing to scan; nor are
    attributes without text.
    Each reason names the fields (never their content), grouped by cause.
    """
    causes: dict[str, list[str]] = defaultdict(list)
    for field in required:
        status = field_status.get(field)
        if status == FULLY_SCANNED:
            continue
        if field == "output" and content_status == "present" and field not in has_text:
            continue
        if field == "attributes" and field not in has_text and status is None:
            continue  # the log carried no attribute text: nothing to scan
        if status == "partial":
            causes["partial"].append(field)
        elif status == "error":
            causes["error"].append(field)
        elif field not in has_text and (
            status in NO_TEXT_STATUSES or (status is None and content_status != "present")
        ):
            causes["not_stored"].append(field)
        else:
            # No scan record although there is text (or nothing says the source lacks it), or
            # a record that no longer fits the text: either way the scanner did not see it.
            causes["missing"].append(field)
    wording = {
        "missing": "{} not scanned",
        "error": "scan of {} failed",
        "partial": "{} scanned only in part",
        "not_stored": NOT_STORED_REASON + " ({})",
    }
    return [wording[c].format(" and ".join(causes[c])) for c in wording if causes.get(c)]


def input_digest(doc: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of a policy input document.

    Canonical: keys sorted, no whitespace, UTF-8 (not ASCII-escaped), so the same facts give
    the same digest whatever order they were gathered in. Raises TypeError or ValueError if
    the document is not plain JSON.
    """
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


_Row = tuple[str, str, str | None, str, Sequence[str]]


def _decide(
    engine: PolicyEngine,
    *,
    build_args: tuple[Interaction, Person | None, list[Detection], list[str]],
    gaps: list[str],
) -> tuple[list[_Row], str | None]:
    """The decision rows for one interaction and the digest of the input they were decided
    on (None if no input could be built)."""
    interaction, person, found, scanned = build_args
    digest: str | None = None
    try:
        doc = build_policy_input(interaction, person, found, fields_scanned=scanned)
        digest = input_digest(doc)
        violations = engine.evaluate(doc)
    except AuditorError as exc:
        return [(ALL_RULES, NOT_EVALUATED, None, f"{FAILED_PREFIX}: {exc}", ())], digest
    except Exception as exc:  # any failure must become a recorded not_evaluated
        # The type only: an unexpected error's text is not known to be free of content.
        failed = f"{FAILED_PREFIX}: {type(exc).__name__}"
        return [(ALL_RULES, NOT_EVALUATED, None, failed, ())], digest
    rows: list[_Row] = [
        (v.rule_id, VIOLATION, v.severity, v.message, v.entity_types) for v in violations
    ]
    if gaps:
        # ISA 530: an item that could not be fully tested counts as not evaluated, while the
        # violations that could be decided are still recorded.
        rows.append(
            (
                ALL_RULES,
                NOT_EVALUATED,
                None,
                "; ".join(gaps) + ": data rules could not be fully applied; "
                "tool and account rules were evaluated",
                (),
            )
        )
    elif not rows:
        rows.append((ALL_RULES, PASS, None, "no rule violated", ()))
    return rows, digest


def _people_for(session: Session, interactions: list[Interaction]) -> dict[int, Person]:
    """Each interaction's directory entry: by user id, else by e-mail (case-insensitive)."""
    user_ids = {i.user_id for i in interactions if i.user_id}
    by_id = {
        p.user_id: p for p in session.scalars(select(Person).where(Person.user_id.in_(user_ids)))
    }
    emails = {i.user_email.lower() for i in interactions if i.user_id not in by_id and i.user_email}
    by_email: dict[str, Person] = {}
    if emails:
        for p in session.scalars(
            select(Person).where(func.lower(Person.email).in_(emails)).order_by(Person.user_id)
        ):
            by_email.setdefault((p.email or "").lower(), p)
    people: dict[int, Person] = {}
    for i in interactions:
        person = by_id.get(i.user_id or "") or by_email.get((i.user_email or "").lower())
        if person is not None:
            people[i.id] = person
    return people


def _latest_scans(session: Session, ids: Sequence[int]) -> dict[int, tuple[str, dict[str, str]]]:
    """Per interaction: the newest scanner revision and each field's status under it."""
    records: dict[int, list[ScanRecord]] = defaultdict(list)
    for rec in session.scalars(select(ScanRecord).where(ScanRecord.interaction_id.in_(ids))):
        records[rec.interaction_id].append(rec)
    latest: dict[int, tuple[str, dict[str, str]]] = {}
    for iid, recs in records.items():
        newest = max(recs, key=lambda r: (r.scanned_at, r.id))
        status = {r.field: r.status for r in recs if r.scanner_revision == newest.scanner_revision}
        latest[iid] = (newest.scanner_revision, status)
    return latest
