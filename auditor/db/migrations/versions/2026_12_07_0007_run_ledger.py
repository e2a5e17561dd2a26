"""run ledger (runs); source_files.mtime_ns; 64-bit token counts, history turns and file
sizes on PostgreSQL

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-07 21:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None

# PostgreSQL's INTEGER is 32-bit: a token count or history length the readers accept (up to
# 2**53) or a file over 2 GB would be refused there. SQLite's INTEGER is 64-bit already, so
# nothing changes on SQLite (and no table is rebuilt).
_WIDENED = (
    ("interactions", "history_turns"),
    ("interactions", "input_tokens"),
    ("interactions", "output_tokens"),
    ("source_files", "size_bytes"),
)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("command", sa.String(length=32), nullable=False),
        sa.Column("arguments", sa.JSON(), nullable=False),
        sa.Column("periods", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=False), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("os_user", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("config_digest", sa.String(length=64), nullable=False),
        sa.Column("policy_revision", sa.String(length=64), nullable=True),
        sa.Column("scanner_revision", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    op.create_index(op.f("ix_runs_started_at"), "runs", ["started_at"], unique=False)
    op.create_index(op.f("ix_runs_outcome"), "runs", ["outcome"], unique=False)
    op.add_column(
        "source_files",
        sa.Column("mtime_ns", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
    )
    if op.get_bind().dialect.name == "postgresql":
        for table, column in _WIDENED:
            op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column in _WIDENED:
            op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger())
    with op.batch_alter_table("source_files", schema=None) as batch_op:
        batch_op.drop_column("mtime_ns")
    op.drop_index(op.f("ix_runs_outcome"), table_name="runs")
    op.drop_index(op.f("ix_runs_started_at"), table_name="runs")
    op.drop_table("runs")
