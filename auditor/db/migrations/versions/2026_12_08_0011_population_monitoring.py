"""population monitoring: monitor_runs, monitor_items, monitor_violations; findings.source

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 00:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every finding so far came from an audit sample's evaluation.
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(length=16), server_default="sample", nullable=False)
        )
        batch_op.create_index(batch_op.f("ix_findings_source"), ["source"], unique=False)
    op.create_table(
        "monitor_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("engine", sa.String(length=16), nullable=False),
        sa.Column("scanner_revision", sa.String(length=64), nullable=False),
        sa.Column("policy_revision", sa.String(length=64), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=False), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_runs")),
    )
    op.create_index(op.f("ix_monitor_runs_period"), "monitor_runs", ["period"], unique=False)
    op.create_table(
        "monitor_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("interaction_id", sa.Integer(), nullable=False),
        sa.Column("scanner_revision", sa.String(length=64), nullable=False),
        sa.Column("policy_revision", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("violations", sa.Integer(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["interaction_id"],
            ["interactions.id"],
            name=op.f("fk_monitor_items_interaction_id_interactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_items")),
        sa.UniqueConstraint(
            "interaction_id", "scanner_revision", "policy_revision", name="uq_monitor_items_triple"
        ),
    )
    op.create_index(
        op.f("ix_monitor_items_interaction_id"), "monitor_items", ["interaction_id"], unique=False
    )
    op.create_table(
        "monitor_violations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("interaction_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=128), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("message", sa.String(length=1000), nullable=False),
        sa.Column("entity_types", sa.JSON(), nullable=False),
        sa.Column("scanner_revision", sa.String(length=64), nullable=False),
        sa.Column("policy_revision", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["interaction_id"],
            ["interactions.id"],
            name=op.f("fk_monitor_violations_interaction_id_interactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_violations")),
        sa.UniqueConstraint("key", name=op.f("uq_monitor_violations_key")),
    )
    op.create_index(
        op.f("ix_monitor_violations_interaction_id"),
        "monitor_violations",
        ["interaction_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_monitor_violations_rule_id"), "monitor_violations", ["rule_id"], unique=False
    )
    op.create_index(
        op.f("ix_monitor_violations_policy_revision"),
        "monitor_violations",
        ["policy_revision"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("monitor_violations")
    op.drop_table("monitor_items")
    op.drop_index(op.f("ix_monitor_runs_period"), table_name="monitor_runs")
    op.drop_table("monitor_runs")
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_findings_source"))
        batch_op.drop_column("source")
