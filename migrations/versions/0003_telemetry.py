"""telemetry: time series and latest values

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 06:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ts_kv",
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("value_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("entity_id", "key", "ts", name=op.f("pk_ts_kv")),
    )
    op.create_table(
        "ts_kv_latest",
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("value_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("entity_id", "key", name=op.f("pk_ts_kv_latest")),
    )


def downgrade() -> None:
    op.drop_table("ts_kv_latest")
    op.drop_table("ts_kv")
