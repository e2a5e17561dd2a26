"""report signatures: signing_keys, reports.signature and reports.key_fingerprint

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=False), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_signing_keys")),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signature", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("key_fingerprint", sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_reports_key_fingerprint_signing_keys"),
            "signing_keys",
            ["key_fingerprint"],
            ["fingerprint"],
        )


def downgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_reports_key_fingerprint_signing_keys"), type_="foreignkey"
        )
        batch_op.drop_column("key_fingerprint")
        batch_op.drop_column("signature")
    op.drop_table("signing_keys")
