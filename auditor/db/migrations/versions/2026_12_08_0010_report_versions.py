"""report versions: each rendering of a period is kept as a new version (reports.series,
version), with the run that rendered it and the period's inputs it was built from, so a
rerun with nothing new renders nothing and a new version says what changed

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 00:10:00.000000
"""

from __future__ import annotations

import posixpath

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reports", sa.Column("series", sa.String(length=255), nullable=True))
    op.add_column("reports", sa.Column("version", sa.Integer(), nullable=True))
    op.add_column("reports", sa.Column("run_id", sa.String(length=40), nullable=True))
    op.add_column("reports", sa.Column("inputs", sa.JSON(), nullable=True))
    op.add_column("reports", sa.Column("inputs_digest", sa.String(length=64), nullable=True))
    op.create_index(op.f("ix_reports_series"), "reports", ["series"], unique=False)
    # Reports written before versions were overwritten in place: one row per file name, each
    # the first (and only) version of its series, named as it was.
    bind = op.get_bind()
    reports = sa.table(
        "reports",
        sa.column("id", sa.Integer()),
        sa.column("path", sa.String()),
        sa.column("series", sa.String()),
        sa.column("version", sa.Integer()),
    )
    rows = bind.execute(sa.select(reports.c.id, reports.c.path)).all()
    for row_id, path in rows:
        name = posixpath.basename(str(path).replace("\\", "/"))
        bind.execute(
            reports.update().where(reports.c.id == row_id).values(series=name[:255], version=1)
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_reports_series"), table_name="reports")
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("inputs_digest")
        batch.drop_column("inputs")
        batch.drop_column("run_id")
        batch.drop_column("version")
        batch.drop_column("series")
