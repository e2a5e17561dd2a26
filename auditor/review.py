"""The review queue: list findings, record dispositions. History is append-only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, case, extract, false, func, or_, select
from sqlalchemy.orm import Session

from auditor.db.models import EvidenceView, Finding, Interaction, Person, ReviewEvent, UsageTier
from auditor.directory import reporting_line
from auditor.errors import InputError, NotFoundError
from auditor.periods import period_bounds

DISPOSITIONS = ("confirmed", "false-positive", "accepted-risk")
STATUSES = (
    "open",
    "pending_approval",
    "confirmed",
    "false_positive",
    "accepted_risk",
    "superseded",
)
# Four-eyes: these dispositions on a finding of these severities wait for a second reviewer.
FOUR_EYES_DISPOSITIONS = ("false-positive", "accepted-risk")
FOUR_EYES_SEVERITIES = ("critical", "high")
PENDING = "pending_approval"
APPROVED, REJECTED = "approved", "rejected"
SEVERITIES = ("critical", "high", "medium", "low")


def status_for(disposition: str) -> str:
    return disposition.replace("-", "_")


@dataclass(frozen=True)
class QueueItem:
    """A finding as the review queue shows it: no prompt text, only the masked excerpt."""

    id: str
    rule_id: str
    severity: str
    status: str
    title: str
    user_id: str | None
    department: str | None
    tool: str | None
    occurred_at: datetime
    entity_type: str
    masked_excerpt: str | None
    source: str = "sample"  # or "monitoring": a population finding (`auditor monitor`)


_SEVERITY_RANK = case(
    {"critical": 0, "high": 1, "medium": 2, "low": 3}, value=Finding.severity, else_=4
)


def list_findings(
    session: Session,
    *,
    statuses: Sequence[str] = ("open",),
    severity: str | None = None,
    manager_id: str | None = None,
    rule_id: str | None = None,
    limit: int | None = None,
    source: str | None = None,
) -> list[QueueItem]:
    """Findings in review order (severity, then first seen), filtered as asked.

    Statuses may be given as dispositions (`false-positive`). Raises InputError for an unknown
    status or severity, NotFoundError for a manager with nobody reporting to them.
    """
    statuses = [status_for(s) for s in statuses]
    unknown = [s for s in statuses if s not in STATUSES]
    if unknown:
        raise InputError(f"unknown status {unknown[0]!r}", f"use one of {', '.join(STATUSES)}")
    if severity is not None and severity not in SEVERITIES:
        raise InputError(f"unknown severity {severity!r}", f"use one of {', '.join(SEVERITIES)}")
    query = (
        select(
            Finding,
            Interaction.user_id,
            Interaction.tool,
            Interaction.occurred_at,
            Person.department,
        )
        .join(Interaction, Interaction.id == Finding.interaction_id)
        .outerjoin(Person, Person.user_id == Interaction.user_id)
        .order_by(_SEVERITY_RANK, Finding.first_seen, Finding.id)
    )
    if statuses:
        query = query.where(Finding.status.in_(list(statuses)))
    if severity:
        query = query.where(Finding.severity == severity)
    if rule_id:
        query = query.where(Finding.rule_id == rule_id)
    if source:
        query = query.where(Finding.source == source)
    if manager_id:
        team = reporting_line(session, manager_id)
        if not team:
            raise NotFoundError(
                f"nobody in the directory reports to {manager_id}",
                "load the directory with `auditor directory load` or check the id",
            )
        query = query.where(Interaction.user_id.in_(sorted(team)))
    if limit:
        query = query.limit(limit)
    return [_item(f, uid, tool, at, dept) for f, uid, tool, at, dept in session.execute(query)]


def resolve_id(session: Session, id_or_prefix: str) -> Finding:
    """The finding with this id, or the only one starting with this prefix (≥ 6 characters)."""
    finding = session.get(Finding, id_or_prefix)
    if finding is not None:
        return finding
    if len(id_or_prefix) < 6:
        raise InputError(f"finding id {id_or_prefix!r} is too short", "give at least 6 characters")
    matches = list(
        session.scalars(select(Finding).where(Finding.id.startswith(id_or_prefix)).limit(2))
    )
    if not matches:
        raise NotFoundError(f"no finding {id_or_prefix}", "see `auditor review list`")
    if len(matches) > 1:
        raise InputError(f"finding id {id_or_prefix!r} is ambiguous", "give more characters")
    return matches[0]


def resolve(
    session: Session, finding_id: str, disposition: str, note: str, reviewer: str
) -> ReviewEvent:
    """Record a disposition on a finding and set its status. Raises InputError or NotFoundError."""
    if disposition not in DISPOSITIONS:
        raise InputError(
            f"unknown disposition {disposition!r}", f"use one of {', '.join(DISPOSITIONS)}"
        )
    if not reviewer.strip():
        raise InputError("reviewer is empty", "pass --reviewer")
    if not note.strip():
        raise InputError("a disposition needs a note", "say why, with --note")
    finding = resolve_id(session, finding_id)
    event = ReviewEvent(
        finding_id=finding.id,
        at=datetime.now(UTC).replace(tzinfo=None),
        reviewer=reviewer.strip(),
        disposition=disposition,
        note=note.strip()[:2000],
    )
    session.add(event)
    finding.status = status_for(disposition)
    session.flush()
    return event


def history(session: Session, finding_id: str) -> list[ReviewEvent]:
    finding = resolve_id(session, finding_id)
    return list(
        session.scalars(
            select(ReviewEvent).where(ReviewEvent.finding_id == finding.id).order_by(ReviewEvent.id)
        )
    )


# --- Scoped review for signed-in people (auditor serve) -------------------------------------
#
# Every read and write below takes a Scope and applies it in the query, so a finding outside
# the caller's scope is indistinguishable from one that does not exist (NotFoundError).


@dataclass(frozen=True)
class Scope:
    """Whose findings a caller may see: everyone (`people` is None) or the findings of these
    directory user ids only (a manager's reporting line; empty: none at all); never those of
    the user ids in `exclude` (the caller's own)."""

    people: frozenset[str] | None = None
    exclude: frozenset[str] = frozenset()

    def apply(self, query: Select) -> Select:  # type: ignore[type-arg]
        """`query` (which must join Interaction) restricted to this scope."""
        if self.exclude:
            query = query.where(
                or_(Interaction.user_id.is_(None), Interaction.user_id.not_in(sorted(self.exclude)))
            )
        if self.people is None:
            return query
        if not self.people:
            return query.where(false())
        return query.where(Interaction.user_id.in_(sorted(self.people)))


EVERYONE = Scope(None)
SORTS = ("severity", "newest", "oldest")


@dataclass(frozen=True)
class QueueFilter:
    """What the queue page asks for; every field optional. Validate with `check()`."""

    period: str | None = None
    status: str | None = None
    severity: str | None = None
    rule_id: str | None = None
    tool: str | None = None
    department: str | None = None
    sort: str = "severity"

    def check(self) -> None:
        """Raise InputError naming the first field with a value outside its vocabulary."""
        if self.status is not None and self.status not in STATUSES:
            raise InputError(f"unknown status {self.status!r}", f"use one of {', '.join(STATUSES)}")
        if self.severity is not None and self.severity not in SEVERITIES:
            raise InputError(
                f"unknown severity {self.severity!r}", f"use one of {', '.join(SEVERITIES)}"
            )
        if self.sort not in SORTS:
            raise InputError(f"unknown sort {self.sort!r}", f"use one of {', '.join(SORTS)}")
        if self.period is not None:
            period_bounds(self.period)


@dataclass(frozen=True)
class QueuePage:
    items: list[QueueItem]
    total: int  # findings matching the filter (all pages)
    status_counts: dict[str, int]  # in scope and filter, ignoring the status filter
    facets: dict[str, list[str]] = field(default_factory=dict)  # filter choices in scope


def _queue_select(
    scope: Scope, flt: QueueFilter, *columns: Any, with_status: bool = True
) -> Select:  # type: ignore[type-arg]
    """SELECT `columns` over the findings in `scope` matching `flt` (one query, no IN over a
    subquery: SQLite and PostgreSQL plan it as a join)."""
    # Join the person only when a column or the department filter needs them (a left join
    # that every row pays for otherwise).
    needs_person = flt.department is not None or any(
        Person.__table__ in getattr(c, "_from_objects", ()) or c is Person.department
        for c in columns
    )
    query = (
        select(*columns)
        .select_from(Finding)
        .join(Interaction, Interaction.id == Finding.interaction_id)
    )
    if needs_person:
        query = query.outerjoin(Person, Person.user_id == Interaction.user_id)
    query = scope.apply(query)
    if flt.period is not None:
        start, end = period_bounds(flt.period)
        query = query.where(Interaction.occurred_at >= start, Interaction.occurred_at < end)
    if with_status and flt.status is not None:
        query = query.where(Finding.status == flt.status)
    if flt.severity is not None:
        query = query.where(Finding.severity == flt.severity)
    if flt.rule_id is not None:
        query = query.where(Finding.rule_id == flt.rule_id)
    if flt.tool is not None:
        query = query.where(Interaction.tool == flt.tool)
    if flt.department is not None:
        query = query.where(Person.department == flt.department)
    return query


def queue(
    session: Session,
    scope: Scope,
    flt: QueueFilter,
    *,
    offset: int = 0,
    limit: int = 50,
    with_facets: bool = True,
) -> QueuePage:
    """One page of the findings in `scope` that match `flt`, with the total, the counts per
    status and (`with_facets`) the filter choices (rules, tools, departments, periods) within the
    scope. Raises InputError for a filter value outside its vocabulary."""
    flt.check()
    order = {
        "severity": (_SEVERITY_RANK, Finding.first_seen, Finding.id),
        "newest": (Interaction.occurred_at.desc(), Finding.id),
        "oldest": (Interaction.occurred_at, Finding.id),
    }[flt.sort]
    rows = session.execute(
        _queue_select(
            scope,
            flt,
            Finding,
            Interaction.user_id,
            Interaction.tool,
            Interaction.occurred_at,
            Person.department,
        )
        .order_by(*order)
        .offset(max(offset, 0))
        .limit(limit)
    )
    items = [_item(f, uid, tool, at, dept) for f, uid, tool, at, dept in rows]
    counts = dict.fromkeys(STATUSES, 0)
    for status, n in session.execute(
        _queue_select(scope, flt, Finding.status, func.count(), with_status=False).group_by(
            Finding.status
        )
    ):
        counts[status] = counts.get(status, 0) + n
    total = counts.get(flt.status, 0) if flt.status is not None else sum(counts.values())
    return QueuePage(items, total, counts, facets(session, scope) if with_facets else {})


def facets(session: Session, scope: Scope) -> dict[str, list[str]]:
    """The filter choices within `scope`: rule ids, tools, departments and periods that its
    findings have. Four scans of the scope: callers on a hot path may keep it a while."""
    every = QueueFilter()
    out: dict[str, list[str]] = {}
    for name, col in (
        ("rule", Finding.rule_id),
        ("tool", Interaction.tool),
        ("department", Person.department),
    ):
        out[name] = sorted(
            v for v in session.scalars(_queue_select(scope, every, col).distinct()) if v
        )
    year, month = (
        extract("year", Interaction.occurred_at),
        extract("month", Interaction.occurred_at),
    )
    months = {
        f"{int(y):04d}-{int(m):02d}"
        for y, m in session.execute(_queue_select(scope, every, year, month).distinct())
    }
    out["period"] = sorted(months, reverse=True)
    return out


def _item(
    f: Finding, uid: str | None, tool: str | None, at: datetime, dept: str | None
) -> QueueItem:
    return QueueItem(
        id=f.id,
        rule_id=f.rule_id,
        severity=f.severity,
        status=f.status,
        title=f.title,
        user_id=uid,
        department=dept,
        tool=tool,
        occurred_at=at,
        entity_type=f.entity_type,
        masked_excerpt=f.masked_excerpt,
        source=f.source,
    )


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    reviewer: str
    role: str | None
    disposition: str
    note: str


@dataclass(frozen=True)
class EvidenceViewEntry:
    at: datetime
    viewer: str
    role: str


@dataclass(frozen=True)
class FindingDetail:
    """A finding as its page shows it: masked excerpt only, never prompt or output text."""

    item: QueueItem
    message: str
    first_seen: datetime
    last_seen: datetime
    person_name: str | None  # for re-identified views only; callers show a pseudonym otherwise
    tier: str | None  # the person's usage tier in the finding's month, if computed
    history: list[HistoryEntry]
    pending_requester: str | None  # who asked for the disposition awaiting approval


def _scoped_finding(session: Session, scope: Scope, finding_id: str) -> Finding:
    """The finding with exactly this id if it is in scope; NotFoundError otherwise, the same
    answer for a finding outside the scope as for one that does not exist."""
    query = scope.apply(
        select(Finding)
        .join(Interaction, Interaction.id == Finding.interaction_id)
        .where(Finding.id == finding_id)
    )
    finding: Finding | None = session.scalars(query).first()
    if finding is None:
        raise NotFoundError("no such finding", "go back to the queue")
    return finding


def finding_detail(session: Session, scope: Scope, finding_id: str) -> FindingDetail:
    """The finding's page content. Raises NotFoundError if it is missing or outside scope."""
    finding = _scoped_finding(session, scope, finding_id)
    row = session.execute(
        select(Interaction.user_id, Interaction.tool, Interaction.occurred_at)
        .add_columns(Person.department, Person.name)
        .outerjoin(Person, Person.user_id == Interaction.user_id)
        .where(Interaction.id == finding.interaction_id)
    ).one()
    uid, tool, at, dept, name = row
    tier = None
    if uid:
        tier = session.scalar(
            select(UsageTier.tier).where(
                UsageTier.user_id == uid, UsageTier.period == at.strftime("%Y-%m")
            )
        )
    events = _events(session, finding.id)
    return FindingDetail(
        item=_item(finding, uid, tool, at, dept),
        message=finding.message,
        first_seen=finding.first_seen,
        last_seen=finding.last_seen,
        person_name=name,
        tier=tier,
        history=[HistoryEntry(e.at, e.reviewer, e.role, e.disposition, e.note) for e in events],
        pending_requester=_pending_request(finding, events)[0]
        if finding.status == PENDING
        else None,
    )


def _events(session: Session, finding_id: str) -> list[ReviewEvent]:
    return list(
        session.scalars(
            select(ReviewEvent).where(ReviewEvent.finding_id == finding_id).order_by(ReviewEvent.id)
        )
    )


def _pending_request(finding: Finding, events: list[ReviewEvent]) -> tuple[str, str]:
    """Who asked for the disposition that awaits approval, and which disposition."""
    for event in reversed(events):
        if event.disposition in FOUR_EYES_DISPOSITIONS:
            return event.reviewer, event.disposition
    raise InputError(f"finding {finding.id[:12]} awaits approval but its history has no request")


def needs_approval(severity: str, disposition: str) -> bool:
    """Four-eyes: a false positive or accepted risk on a critical or high finding."""
    return disposition in FOUR_EYES_DISPOSITIONS and severity in FOUR_EYES_SEVERITIES


def _check_note(note: str) -> str:
    note = note.strip()
    if not note:
        raise InputError("a disposition needs a note", "say why")
    if len(note) > 2000:
        raise InputError("the note is longer than 2,000 characters", "shorten it")
    return note


def record_disposition(
    session: Session,
    scope: Scope,
    finding_id: str,
    disposition: str,
    note: str,
    *,
    actor: str,
    role: str,
) -> ReviewEvent:
    """Append `actor`'s disposition to a finding in `scope` and set its status; with four-eyes
    (`needs_approval`) the status becomes pending_approval until a second reviewer decides.

    Raises NotFoundError (missing or out of scope) or InputError (unknown disposition, empty
    note, a finding that already awaits approval)."""
    if disposition not in DISPOSITIONS:
        raise InputError(
            f"unknown disposition {disposition!r}", f"use one of {', '.join(DISPOSITIONS)}"
        )
    note = _check_note(note)
    finding = _scoped_finding(session, scope, finding_id)
    if finding.status == PENDING:
        raise InputError(
            "this finding awaits a second reviewer's approval",
            "a reviewer approves or rejects it first",
        )
    now = datetime.now(UTC).replace(tzinfo=None)
    event = ReviewEvent(
        finding_id=finding.id, at=now, reviewer=actor, disposition=disposition, note=note, role=role
    )
    session.add(event)
    finding.status = (
        PENDING if needs_approval(finding.severity, disposition) else status_for(disposition)
    )
    session.flush()
    return event


def decide_approval(
    session: Session,
    scope: Scope,
    finding_id: str,
    approve: bool,
    note: str,
    *,
    actor: str,
    role: str,
) -> ReviewEvent:
    """A second reviewer approves (the requested disposition becomes the status) or rejects
    (the finding is open again) a disposition awaiting approval.

    Raises NotFoundError, or InputError when nothing awaits approval or `actor` asked for it."""
    note = _check_note(note)
    finding = _scoped_finding(session, scope, finding_id)
    if finding.status != PENDING:
        raise InputError("this finding does not await approval", "reload the finding")
    requester, requested = _pending_request(finding, _events(session, finding.id))
    if requester == actor:
        raise InputError(
            "you asked for this disposition: a second reviewer must decide it",
            "ask another reviewer",
        )
    now = datetime.now(UTC).replace(tzinfo=None)
    event = ReviewEvent(
        finding_id=finding.id,
        at=now,
        reviewer=actor,
        disposition=APPROVED if approve else REJECTED,
        note=note,
        role=role,
    )
    session.add(event)
    finding.status = status_for(requested) if approve else "open"
    session.flush()
    return event


def record_evidence_view(
    session: Session, scope: Scope, finding_id: str, *, viewer: str, role: str
) -> None:
    """Record that `viewer` opened the finding's evidence. Raises NotFoundError as above."""
    finding = _scoped_finding(session, scope, finding_id)
    session.add(
        EvidenceView(
            finding_id=finding.id,
            viewer=viewer,
            role=role,
            at=datetime.now(UTC).replace(tzinfo=None),
        )
    )
    session.flush()


def evidence_views(session: Session, scope: Scope, finding_id: str) -> list[EvidenceViewEntry]:
    """Who opened this finding's evidence, oldest first. Raises NotFoundError as above."""
    finding = _scoped_finding(session, scope, finding_id)
    return [
        EvidenceViewEntry(v.at, v.viewer, v.role)
        for v in session.scalars(
            select(EvidenceView)
            .where(EvidenceView.finding_id == finding.id)
            .order_by(EvidenceView.id)
        )
    ]


def severity_counts(session: Session, scope: Scope, flt: QueueFilter) -> dict[str, int]:
    """How many findings in `scope` match `flt`, per severity (every severity, zeros kept)."""
    flt.check()
    counts = dict.fromkeys(SEVERITIES, 0)
    for severity, n in session.execute(
        _queue_select(scope, flt, Finding.severity, func.count()).group_by(Finding.severity)
    ):
        counts[severity] = counts.get(severity, 0) + n
    return counts
