"""source watermarks: how far each database source (a LiteLLM spend-log table) has been read;
source_files.source_name: the `[sources]` entry a file or read belongs to

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 00:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "source_watermarks",
        sa.Column("source", sa.String(length=512), nullable=False),
        sa.Column("source_format", sa.String(length=64), nullable=False),
        sa.Column("position_time", sa.DateTime(timezone=False), nullable=False),
        sa.Column("position_id", sa.String(length=255), nullable=False),
        sa.Column("settled_before", sa.DateTime(timezone=False), nullable=False),
        sa.Column("settled_count", big, nullable=False),
        sa.Column("records_read", big, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_source_watermarks")),
    )
    with op.batch_alter_table("source_files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_name", sa.String(length=128), nullable=True))
        batch_op.create_index(batch_op.f("ix_source_files_source_name"), ["source_name"])


def downgrade() -> None:
    with op.batch_alter_table("source_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_source_files_source_name"))
        batch_op.drop_column("source_name")
    op.drop_table("source_watermarks")
