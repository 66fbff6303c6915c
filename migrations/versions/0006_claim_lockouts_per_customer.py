"""claim lock-outs per guessing customer instead of per window

The failure count and lock-out move from ``claim_windows`` (one per device window, so one
customer's wrong keys locked everyone out) to ``claim_lockouts`` (one per device and guessing
customer). Lock-outs in force at upgrade time are not carried over: they were device-wide and
cannot be attributed to a customer.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "claim_lockouts",
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_claim_lockouts_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_claim_lockouts_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", "customer_id", name=op.f("pk_claim_lockouts")),
    )
    with op.batch_alter_table("claim_windows", schema=None) as batch_op:
        batch_op.drop_column("locked_until_ms")
        batch_op.drop_column("failed_attempts")


def downgrade() -> None:
    with op.batch_alter_table("claim_windows", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("failed_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("locked_until_ms", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.drop_table("claim_lockouts")
