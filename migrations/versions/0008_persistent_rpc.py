"""rpc_requests: persistent server-side RPC with its state

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 22:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rpc_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("sender_user_id", sa.Uuid(), nullable=True),
        sa.Column("sender_customer_id", sa.Uuid(), nullable=True),
        sa.Column("oneway", sa.Boolean(), nullable=False),
        sa.Column("method", sa.String(length=255), nullable=False),
        sa.Column("params_json", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("response_json", sa.Text(), nullable=True),
        sa.Column("additional_info", sa.JSON(), nullable=True),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("expiration_time", sa.BigInteger(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_rpc_requests_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_rpc_requests_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rpc_requests")),
    )
    op.create_index(
        "ix_rpc_requests_device_status", "rpc_requests", ["device_id", "status"], unique=False
    )
    op.create_index(
        "ix_rpc_requests_device_request", "rpc_requests", ["device_id", "request_id"], unique=False
    )
    op.create_index(
        "ix_rpc_requests_status_expiration",
        "rpc_requests",
        ["status", "expiration_time"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_rpc_requests_status_expiration", table_name="rpc_requests")
    op.drop_index("ix_rpc_requests_device_request", table_name="rpc_requests")
    op.drop_index("ix_rpc_requests_device_status", table_name="rpc_requests")
    op.drop_table("rpc_requests")
