"""review web application: accounts, web_sessions, login_failures, evidence_views; the role
a review event was recorded in; the review trail's hash chain (existing history is chained)

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-07 21:00:00.000000
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.String(length=255), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("api_token_hash", sa.String(length=64), nullable=True),
        sa.Column("api_token_created_at", sa.DateTime(timezone=False), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("username", name=op.f("uq_accounts_username")),
        sa.UniqueConstraint("api_token_hash", name=op.f("uq_accounts_api_token_hash")),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_web_sessions_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
    )
    op.create_index(
        op.f("ix_web_sessions_account_id"), "web_sessions", ["account_id"], unique=False
    )
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=False), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index(op.f("ix_login_failures_username"), "login_failures", ["username"])
    op.create_index(op.f("ix_login_failures_client"), "login_failures", ["client"])
    op.create_index(op.f("ix_login_failures_at"), "login_failures", ["at"])
    op.create_table(
        "evidence_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.String(length=64), nullable=False),
        sa.Column("viewer", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["finding_id"], ["findings.id"], name=op.f("fk_evidence_views_finding_id_findings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_views")),
    )
    op.create_index(op.f("ix_evidence_views_finding_id"), "evidence_views", ["finding_id"])
    with op.batch_alter_table("review_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("event_hash", sa.String(length=64), nullable=True))
    _chain_existing_history()
    with op.batch_alter_table("review_events", schema=None) as batch_op:
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("event_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(op.f("uq_review_events_prev_hash"), ["prev_hash"])


def _digest(
    prev_hash: str,
    finding_id: str,
    reviewer: str,
    role: str | None,
    disposition: str,
    note: str,
    at: Any,
) -> str:
    """Frozen copy of auditor.db.trail.event_digest as of this revision."""
    material = json.dumps(
        [
            prev_hash,
            finding_id,
            reviewer,
            role,
            disposition,
            note,
            at.isoformat(timespec="microseconds"),
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(material.encode()).hexdigest()


def _chain_existing_history() -> None:
    conn = op.get_bind()
    events = sa.table(
        "review_events",
        sa.column("id", sa.Integer()),
        sa.column("finding_id", sa.String()),
        sa.column("at", sa.DateTime()),
        sa.column("reviewer", sa.String()),
        sa.column("disposition", sa.String()),
        sa.column("note", sa.String()),
        sa.column("role", sa.String()),
        sa.column("prev_hash", sa.String()),
        sa.column("event_hash", sa.String()),
    )
    prev = "0" * 64
    rows = conn.execute(
        sa.select(
            events.c.id,
            events.c.finding_id,
            events.c.reviewer,
            events.c.role,
            events.c.disposition,
            events.c.note,
            events.c.at,
        ).order_by(events.c.id)
    ).all()
    for row in rows:
        digest = _digest(
            prev, row.finding_id, row.reviewer, row.role, row.disposition, row.note or "", row.at
        )
        conn.execute(
            events.update()
            .where(events.c.id == row.id)
            .values(prev_hash=prev, event_hash=digest, note=row.note or "")
        )
        prev = digest


def downgrade() -> None:
    with op.batch_alter_table("review_events", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_review_events_prev_hash"), type_="unique")
        batch_op.drop_column("event_hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("role")
    op.drop_index(op.f("ix_evidence_views_finding_id"), table_name="evidence_views")
    op.drop_table("evidence_views")
    op.drop_index(op.f("ix_login_failures_at"), table_name="login_failures")
    op.drop_index(op.f("ix_login_failures_client"), table_name="login_failures")
    op.drop_index(op.f("ix_login_failures_username"), table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_index(op.f("ix_web_sessions_account_id"), table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_table("accounts")
