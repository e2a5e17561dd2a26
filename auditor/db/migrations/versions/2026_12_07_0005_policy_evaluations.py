"""policy evaluations: the pack revision, engine and rule count of each policy stage run

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 21:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_evaluations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.String(length=64), nullable=False),
        sa.Column("policy_revision", sa.String(length=64), nullable=False),
        sa.Column("engine", sa.String(length=64), nullable=False),
        sa.Column("rule_count", sa.Integer(), nullable=False),
        sa.Column("interactions", sa.Integer(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["sample_id"], ["samples.id"], name=op.f("fk_policy_evaluations_sample_id_samples")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_evaluations")),
    )
    with op.batch_alter_table("policy_evaluations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_policy_evaluations_policy_revision"), ["policy_revision"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_policy_evaluations_sample_id"), ["sample_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("policy_evaluations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policy_evaluations_sample_id"))
        batch_op.drop_index(batch_op.f("ix_policy_evaluations_policy_revision"))
    op.drop_table("policy_evaluations")
