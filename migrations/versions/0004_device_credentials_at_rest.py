"""device credentials at rest: sealed access tokens, MQTT basic user name key, device names

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 16:00:00.000000

Adds ``device_credentials.token_sealed`` (the access token sealed with AES-GCM) and
``user_name_key`` (indexed). Hashing and sealing the tokens already stored needs the server
secret, which migrations never see: the application does it when it starts
(``DeviceService.seal_stored_tokens``), so no plaintext token is left after the first start.

Data moved here (no secret needed): ``user_name_key`` of MQTT basic credentials, and device names
respelled as they are now stored (Unicode NFC, no leading or trailing spaces) where that name is
valid and free in the tenant.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Frozen copies of the rules of this revision (migrations do not import feature code).
_REFUSED = frozenset({"Cc", "Cs", "Zl", "Zp"})
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _user_name_key(user_name: str) -> str:
    return "mqtt-basic:" + hashlib.sha256(f"|{user_name}".encode()).hexdigest()


def _normalized(name: str) -> str | None:
    """The name as now stored, or ``None`` when it cannot be (left as it is)."""
    spelled = unicodedata.normalize("NFC", name)
    start, end = 0, len(spelled)
    while start < end and unicodedata.category(spelled[start]) == "Zs":
        start += 1
    while end > start and unicodedata.category(spelled[end - 1]) == "Zs":
        end -= 1
    spelled = spelled[start:end]
    if all(unicodedata.category(ch) in ("Zs", "Cf") for ch in spelled):
        return None
    if any(unicodedata.category(ch) in _REFUSED or ch in _BIDI for ch in spelled):
        return None
    return spelled if len(spelled) <= 255 else None


def upgrade() -> None:
    with op.batch_alter_table("device_credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_sealed", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("user_name_key", sa.String(length=255), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_device_credentials_user_name_key"), ["user_name_key"], unique=False
        )
    connection = op.get_bind()
    _fill_user_name_keys(connection)
    _respell_device_names(connection)


def _fill_user_name_keys(connection: sa.Connection) -> None:
    credentials = sa.table(
        "device_credentials",
        sa.column("id", sa.Uuid()),
        sa.column("credentials_type", sa.String()),
        sa.column("credentials_value", sa.JSON()),
        sa.column("user_name_key", sa.String()),
    )
    query = sa.select(credentials.c.id, credentials.c.credentials_value).where(
        credentials.c.credentials_type == "MQTT_BASIC"
    )
    for row_id, value in connection.execute(query).all():
        user_name = _value(value).get("userName")
        if isinstance(user_name, str) and user_name:
            update = credentials.update().where(credentials.c.id == row_id)
            connection.execute(update.values(user_name_key=_user_name_key(user_name)))


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, dict) else {}


def _respell_device_names(connection: sa.Connection) -> None:
    devices = sa.table(
        "devices", sa.column("id", sa.Uuid()), sa.column("tenant_id"), sa.column("name")
    )
    rows = connection.execute(sa.select(devices.c.id, devices.c.tenant_id, devices.c.name)).all()
    taken = {(tenant_id, name) for _id, tenant_id, name in rows}
    for device_id, tenant_id, name in rows:
        spelled = _normalized(name)
        if spelled is None or spelled == name or (tenant_id, spelled) in taken:
            continue
        update = devices.update().where(devices.c.id == device_id).values(name=spelled)
        connection.execute(update)
        taken.discard((tenant_id, name))
        taken.add((tenant_id, spelled))


def downgrade() -> None:
    # Sealed tokens cannot be unsealed here (no server secret): after a downgrade, devices with
    # access tokens need new ones (POST /api/device/credentials).
    with op.batch_alter_table("device_credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_credentials_user_name_key"))
        batch_op.drop_column("user_name_key")
        batch_op.drop_column("token_sealed")
