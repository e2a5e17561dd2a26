"""Typed SQLAlchemy 2.0 models: the store every stage reads and writes.

Raw prompt and output text live only on `Interaction`; every other table holds ids, counts,
hashes and masked excerpts. Relations are `lazy="raise"` so that a stage cannot walk into
another stage's data by accident; load explicitly with `selectinload` where needed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=False)}


# Timestamps are stored as naive UTC (SQLite has no time zones); convert at the edges.

# Counts and sizes that can pass 2**31 (token counts up to normalize.MAX_COUNT, files over
# 2 GB): BIGINT on PostgreSQL, whose INTEGER is 32-bit; SQLite's INTEGER is 64-bit already.
BigCount = BigInteger().with_variant(Integer(), "sqlite")


class Meta(Base):
    """Facts about the store itself, e.g. the fingerprint of the HMAC key its hashes use."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))


class SourceFile(Base):
    """One ingested log file, identified by its content digest so re-ingesting is a no-op."""

    __tablename__ = "source_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(2048))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size_bytes: Mapped[int] = mapped_column(BigCount)
    # Modification time (ns) when read: with path and size, recognises an unchanged file
    # without hashing it again. None for files read before it was recorded.
    mtime_ns: Mapped[int | None] = mapped_column(BigCount)
    source_format: Mapped[str] = mapped_column(String(64))
    ingested_at: Mapped[datetime]
    records_total: Mapped[int] = mapped_column(default=0)
    records_loaded: Mapped[int] = mapped_column(default=0)
    records_duplicate: Mapped[int] = mapped_column(default=0)
    records_rejected: Mapped[int] = mapped_column(default=0)
    # The `[sources]` entry this file (or database read) was delivered by, for the expected
    # delivery checks; None for paths given on the command line.
    source_name: Mapped[str | None] = mapped_column(String(128), index=True)


class SourceWatermark(Base):
    """How far a database source has been read: the (`startTime`, `request_id`) of the last
    row, so the next run reads only what is newer (less the source's lag, re-read to catch rows
    written late). `settled_before` / `settled_count`: the source's row count before the next
    read's lower bound when this read ended; more rows there later arrived beyond the lag."""

    __tablename__ = "source_watermarks"

    # The source without its password, e.g. `litellm-db postgresql://ro@gw-db:5432/litellm`.
    source: Mapped[str] = mapped_column(String(512), primary_key=True)
    source_format: Mapped[str] = mapped_column(String(64))
    position_time: Mapped[datetime]
    position_id: Mapped[str] = mapped_column(String(255))
    settled_before: Mapped[datetime]
    settled_count: Mapped[int] = mapped_column(BigCount)
    records_read: Mapped[int] = mapped_column(BigCount)
    updated_at: Mapped[datetime]
    run_id: Mapped[str | None] = mapped_column(String(40))


class IngestRejection(Base):
    """A record that could not be read: file, line and a reason that never quotes the content."""

    __tablename__ = "ingest_rejections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_file_id: Mapped[int] = mapped_column(ForeignKey("source_files.id"), index=True)
    line_no: Mapped[int]
    reason: Mapped[str] = mapped_column(String(500))


class Person(Base):
    """A row of the people directory (HR extract)."""

    __tablename__ = "people"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    name: Mapped[str | None] = mapped_column(String(255))
    department: Mapped[str | None] = mapped_column(String(255), index=True)
    manager_id: Mapped[str | None] = mapped_column(String(255), index=True)
    region: Mapped[str | None] = mapped_column(String(64))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    loaded_at: Mapped[datetime]


class Interaction(Base):
    """One use of an AI tool: a prompt and the output it got, normalized from any log format."""

    __tablename__ = "interactions"
    __table_args__ = (
        UniqueConstraint("source_format", "event_id", name="uq_interactions_source_event"),
        Index("ix_interactions_occurred_at", "occurred_at"),
        Index("ix_interactions_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255))
    source_format: Mapped[str] = mapped_column(String(64))
    source_file_id: Mapped[int | None] = mapped_column(ForeignKey("source_files.id"))
    source_line: Mapped[int | None]
    occurred_at: Mapped[datetime]
    user_id: Mapped[str | None] = mapped_column(String(255))
    user_email: Mapped[str | None] = mapped_column(String(320))
    tool: Mapped[str | None] = mapped_column(String(128))
    provider: Mapped[str | None] = mapped_column(String(128))
    model: Mapped[str | None] = mapped_column(String(128))
    prompt_text: Mapped[str | None] = mapped_column(Text)
    output_text: Mapped[str | None] = mapped_column(Text)
    history_turns: Mapped[int] = mapped_column(BigCount, default=0)
    input_tokens: Mapped[int | None] = mapped_column(BigCount)
    output_tokens: Mapped[int | None] = mapped_column(BigCount)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    session_id: Mapped[str | None] = mapped_column(String(255))
    workflow: Mapped[str | None] = mapped_column(String(64))
    content_status: Mapped[str] = mapped_column(String(16), default="present")
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Sample(Base):
    """A drawn sample and its manifest: enough to draw it again and get the same listing."""

    __tablename__ = "samples"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    created_at: Mapped[datetime]
    method: Mapped[str] = mapped_column(String(64))
    seed: Mapped[str] = mapped_column(String(64))
    seed_source: Mapped[str] = mapped_column(String(64))
    generator: Mapped[str] = mapped_column(String(128))
    population_filter: Mapped[dict[str, Any]] = mapped_column(default=dict)
    population_count: Mapped[int]
    population_sha256: Mapped[str] = mapped_column(String(64))
    requested_size: Mapped[int]
    size: Mapped[int]
    # The test plan fixed before sampling: confidence, tolerable rate, expected deviations,
    # what counts as a deviation, and how the size was reached.
    plan: Mapped[dict[str, Any]] = mapped_column(default=dict)
    manifest_sha256: Mapped[str] = mapped_column(String(64))

    items: Mapped[list[SampleItem]] = relationship(
        back_populates="sample", lazy="raise", order_by="SampleItem.draw_order"
    )


class SampleItem(Base):
    __tablename__ = "sample_items"
    __table_args__ = (UniqueConstraint("sample_id", "interaction_id", name="uq_sample_items_pair"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sample_id: Mapped[str] = mapped_column(ForeignKey("samples.id"), index=True)
    draw_order: Mapped[int]
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id"), index=True)
    stratum: Mapped[str] = mapped_column(String(128), default="all")

    sample: Mapped[Sample] = relationship(back_populates="items", lazy="raise")


class ScanRecord(Base):
    """That a field of an interaction was scanned by a scanner revision, and how it went."""

    __tablename__ = "scan_records"
    __table_args__ = (
        UniqueConstraint(
            "interaction_id", "field", "scanner_revision", name="uq_scan_records_triple"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id"), index=True)
    field: Mapped[str] = mapped_column(String(16))
    scanner_revision: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))  # scanned/partial/not_stored/redacted/error
    reason: Mapped[str | None] = mapped_column(String(500))
    # Why a field was not scanned or only in part, as a code to count by: over_limit, timeout,
    # detection_cap, unsupported_language (partial); error; not_stored, redacted (no text).
    # None when scanned.
    reason_code: Mapped[str | None] = mapped_column(String(32))
    chars_scanned: Mapped[int] = mapped_column(default=0)
    scanned_at: Mapped[datetime]


class Detection(Base):
    """One detected entity: offsets, score, keyed hash and masked excerpt — never the value."""

    __tablename__ = "detections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id"), index=True)
    field: Mapped[str] = mapped_column(String(16))
    entity_type: Mapped[str] = mapped_column(String(64))
    start: Mapped[int]
    end: Mapped[int]
    score: Mapped[float] = mapped_column(Float)
    recognizer: Mapped[str] = mapped_column(String(128))
    value_hash: Mapped[str] = mapped_column(String(64))
    masked_excerpt: Mapped[str] = mapped_column(String(1000))
    scanner_revision: Mapped[str] = mapped_column(String(64))
    # The register's client id of a CLIENT_NAME or CLIENT_ACCOUNT detection, else None.
    subject_id: Mapped[str | None] = mapped_column(String(64))


class Decision(Base):
    """A policy verdict for one interaction and rule: `violation`, `pass` (rule id `*`: no rule
    fired) or `not_evaluated` (with the reason, never a silent pass)."""

    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_interaction_rule", "interaction_id", "rule_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id"))
    rule_id: Mapped[str] = mapped_column(String(128))
    verdict: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str | None] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(255), default="")
    message: Mapped[str] = mapped_column(String(1000))
    entity_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    policy_revision: Mapped[str] = mapped_column(String(64))
    # The scan the input was built from: a rescan (new scanner revision) re-evaluates.
    scanner_revision: Mapped[str | None] = mapped_column(String(64))
    engine: Mapped[str] = mapped_column(String(32))
    evaluated_at: Mapped[datetime]
    # SHA-256 of the canonical policy input (`auditor.policy.evaluate.input_digest`): names
    # what was decided on without keeping the input. None where no input could be built.
    input_digest: Mapped[str | None] = mapped_column(String(64))


class PolicyEvaluation(Base):
    """One run of the policy stage over a sample: which pack (revision), how many rules it
    had, which engine, and how many interactions it decided. A pack's rule count is part of
    the audit evidence: an empty or cut-down pack could otherwise pass everything unseen."""

    __tablename__ = "policy_evaluations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sample_id: Mapped[str] = mapped_column(ForeignKey("samples.id"), index=True)
    policy_revision: Mapped[str] = mapped_column(String(64), index=True)
    engine: Mapped[str] = mapped_column(String(64))
    rule_count: Mapped[int]
    interactions: Mapped[int]
    evaluated_at: Mapped[datetime]


class Finding(Base):
    """A policy violation to review. The id survives re-runs, so reviews carry over."""

    __tablename__ = "findings"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id"), index=True)
    rule_id: Mapped[str] = mapped_column(String(128), index=True)
    entity_type: Mapped[str] = mapped_column(String(64), default="")
    value_hash: Mapped[str] = mapped_column(String(64), default="")
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(String(1000))
    masked_excerpt: Mapped[str | None] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(32), default="open")
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    # `sample` (the audit sample's evaluation) or `monitoring` (`auditor monitor`, every
    # interaction): only the sample's findings count towards its deviation rate.
    source: Mapped[str] = mapped_column(
        String(16), default="sample", server_default="sample", index=True
    )

    reviews: Mapped[list[ReviewEvent]] = relationship(
        back_populates="finding", lazy="raise", order_by="ReviewEvent.id"
    )


class ReviewEvent(Base):
    """Append-only review history of a finding: who decided what, when, and why."""

    __tablename__ = "review_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    finding_id: Mapped[str] = mapped_column(ForeignKey("findings.id"), index=True)
    at: Mapped[datetime]
    reviewer: Mapped[str] = mapped_column(String(255))
    disposition: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(String(2000), default="")
    # The signed-in role the reviewer acted in (`auditor serve`); None from the command line
    # and for the auditor's own events.
    role: Mapped[str | None] = mapped_column(String(32))
    # The hash chain over the whole trail (auditor/db/trail.py sets both at flush).
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    event_hash: Mapped[str] = mapped_column(String(64))

    finding: Mapped[Finding] = relationship(back_populates="reviews", lazy="raise")


class UsageTier(Base):
    """A person's usage tier for a period, with the figures it was computed from."""

    __tablename__ = "usage_tiers"
    __table_args__ = (UniqueConstraint("period", "user_id", name="uq_usage_tiers_pair"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    user_id: Mapped[str] = mapped_column(String(255))
    department: Mapped[str | None] = mapped_column(String(255))
    tier: Mapped[str] = mapped_column(String(16))
    active_days: Mapped[int]
    interactions: Mapped[int]
    department_median: Mapped[float] = mapped_column(Float)
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]


class SigningKey(Base):
    """A report signing key's public half (Ed25519), by the SHA-256 of its raw public bytes.

    `auditor verify` checks a report's signature with the key its fingerprint names here."""

    __tablename__ = "signing_keys"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_key_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class ReportRecord(Base):
    """A written report: the SHA-256 of the file and its Ed25519 signature, for `auditor
    verify` later. `signature` and `key_fingerprint` are None for reports written unsigned."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    path: Mapped[str] = mapped_column(String(2048))
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    signature: Mapped[str | None] = mapped_column(String(128))  # base64 of 64 bytes
    key_fingerprint: Mapped[str | None] = mapped_column(ForeignKey("signing_keys.fingerprint"))
    # Reports are records: each rendering is a new version of its series (the first version's
    # file name, e.g. `audit-2026-10.html`; v2 is `audit-2026-10.v2.html`), never overwritten.
    series: Mapped[str | None] = mapped_column(String(255), index=True)
    version: Mapped[int | None]
    # The run (ledger id) that rendered it; None for a report written outside a recorded run.
    run_id: Mapped[str | None] = mapped_column(String(40))
    # The period's inputs it was built from (counts, ids, revisions; auditor.report.versions),
    # and their SHA-256: a rerun with the same inputs renders nothing new.
    inputs: Mapped[dict[str, Any] | None]
    inputs_digest: Mapped[str | None] = mapped_column(String(64))


class Account(Base):
    """Someone who may sign in to `auditor serve`: a role, the directory person it is (for a
    manager's reporting line) and an argon2id hash of the password (never the password)."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    person_id: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    # SHA-256 of the personal API token (`auditor users token`), never the token; one a person.
    api_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    api_token_created_at: Mapped[datetime | None]


class WebSession(Base):
    """A signed-in browser: the SHA-256 of its cookie's random token (the token itself is never
    stored), its CSRF token and the times that bound it (idle and absolute expiry)."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen: Mapped[datetime]


class LoginFailure(Base):
    """A failed sign-in (user name as typed, client address), for rate limiting."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    client: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(index=True)


class EvidenceView(Base):
    """That someone opened a finding's evidence (masked excerpt): who, in which role, when."""

    __tablename__ = "evidence_views"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    finding_id: Mapped[str] = mapped_column(ForeignKey("findings.id"), index=True)
    viewer: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]


class Run(Base):
    """The run ledger: one row per `auditor run`, `ingest`, `report` or `db purge`, written when
    it starts and updated when it ends (also on failure or interrupt), so an auditor can show
    that the control ran each period, what it read and how it ended. A row left `running` by
    a process that died is marked `interrupted` by the next run that takes the lock."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    command: Mapped[str] = mapped_column(String(32))
    # The command's arguments and options as given (paths, formats, periods; never a secret).
    arguments: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The periods the run covered (asked for, or found in the logs).
    periods: Mapped[list[str]] = mapped_column(JSON, default=list)
    started_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]
    host: Mapped[str] = mapped_column(String(255))
    os_user: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    version: Mapped[str] = mapped_column(String(32))
    # SHA-256 of the effective settings (secrets masked), to show the configuration was the same.
    config_digest: Mapped[str] = mapped_column(String(64))
    policy_revision: Mapped[str | None] = mapped_column(String(64))
    scanner_revision: Mapped[str | None] = mapped_column(String(64))
    # running, completed, findings_await_review, not_evaluated, no_new_data, failed,
    # interrupted, refused (auditor.ops.ledger.OUTCOMES)
    outcome: Mapped[str] = mapped_column(String(32), index=True)
    exit_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(500))
    # Every file looked at: path, sha256, format, records total/loaded/duplicate/rejected,
    # and why it was skipped.
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Counts per stage: files, records, sampled, scanned, evaluated, findings, purged, ...
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)


class MonitorRun(Base):
    """One `auditor monitor` of a period: the engine, the scanner and policy revisions, and
    what it covered (interactions, fields scanned, partial, failed, violations, findings)."""

    __tablename__ = "monitor_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    engine: Mapped[str] = mapped_column(String(16))  # local / spark
    scanner_revision: Mapped[str] = mapped_column(String(64))
    policy_revision: Mapped[str] = mapped_column(String(64))
    # The monitored rules: {"id", "title", "severity"} each, as the pack had them.
    rules: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)


class MonitorItem(Base):
    """That an interaction was evaluated for monitoring under a scanner and policy revision:
    the resume point of `auditor monitor` (a killed run skips what has a row) and its
    coverage. `status` is `evaluated` or `not_evaluated` (the reason says why, never text)."""

    __tablename__ = "monitor_items"
    __table_args__ = (
        UniqueConstraint(
            "interaction_id", "scanner_revision", "policy_revision", name="uq_monitor_items_triple"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id"), index=True)
    scanner_revision: Mapped[str] = mapped_column(String(64))
    policy_revision: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(500))
    violations: Mapped[int] = mapped_column(default=0)
    evaluated_at: Mapped[datetime]


class MonitorViolation(Base):
    """A monitored rule that an interaction of the population broke (`auditor monitor`).

    `key` hashes interaction, rule, revisions, entity types and message, so loading the same
    results again (a retried Spark task, a resumed run) adds nothing."""

    __tablename__ = "monitor_violations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id"), index=True)
    rule_id: Mapped[str] = mapped_column(String(128), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(String(1000))
    entity_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    scanner_revision: Mapped[str] = mapped_column(String(64))
    policy_revision: Mapped[str] = mapped_column(String(64), index=True)
