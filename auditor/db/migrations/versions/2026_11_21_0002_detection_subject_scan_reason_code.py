"""detection subject id, scan record reason code

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 07:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("detections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject_id", sa.String(length=64), nullable=True))
    with op.batch_alter_table("scan_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason_code", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scan_records", schema=None) as batch_op:
        batch_op.drop_column("reason_code")
    with op.batch_alter_table("detections", schema=None) as batch_op:
        batch_op.drop_column("subject_id")
