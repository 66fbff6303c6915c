"""Every table, in SQLAlchemy Core. Migrations in ``migrations/versions`` must match these.

Conventions: UUID primary keys, times as epoch milliseconds (``BigInteger``), free-form
ThingsBoard ``additionalInfo`` as JSON, attribute values as compact JSON text so that
``true`` and ``"true"`` stay different.
"""

from __future__ import annotations

import sqlalchemy as sa

from gridlinks.db.metadata import metadata

tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("title", sa.String(255), nullable=False),
    sa.Column("email", sa.String(255)),
    sa.Column("phone", sa.String(64)),
    sa.Column("country", sa.String(128)),
    sa.Column("city", sa.String(128)),
    sa.Column("address", sa.String(255)),
    sa.Column("additional_info", sa.JSON),
    sa.Column("created_time", sa.BigInteger, nullable=False),
)

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column(
        "tenant_id", sa.Uuid, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("title", sa.String(255), nullable=False),
    sa.Column("email", sa.String(255)),
    sa.Column("phone", sa.String(64)),
    sa.Column("country", sa.String(128)),
    sa.Column("city", sa.String(128)),
    sa.Column("address", sa.String(255)),
    sa.Column("additional_info", sa.JSON),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("tenant_id", "title"),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.Uuid, sa.ForeignKey("tenants.id", ondelete="CASCADE")),
    sa.Column("customer_id", sa.Uuid, sa.ForeignKey("customers.id", ondelete="CASCADE")),
    sa.Column("email", sa.String(255), nullable=False, unique=True),
    sa.Column("authority", sa.String(32), nullable=False),
    sa.Column("first_name", sa.String(255)),
    sa.Column("last_name", sa.String(255)),
    sa.Column("phone", sa.String(64)),
    sa.Column("additional_info", sa.JSON),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Column("password_hash", sa.String(255)),
    sa.Column("enabled", sa.Boolean, nullable=False, default=False),
    # Activation tokens are stored as keyed hashes, like every other secret.
    sa.Column("activate_token_hash", sa.String(64), unique=True),
    sa.Column("activate_token_expiry", sa.BigInteger),
    # Every token carries the generation it was issued in; sign-out, a password change and
    # disabling the user move the user to the next generation, so older tokens stop working.
    sa.Column("token_generation", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Index("ix_users_tenant_customer", "tenant_id", "customer_id"),
)

device_profiles = sa.Table(
    "device_profiles",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column(
        "tenant_id", sa.Uuid, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("transport_type", sa.String(32), nullable=False),
    sa.Column("provision_type", sa.String(64), nullable=False),
    sa.Column("is_default", sa.Boolean, nullable=False, default=False),
    sa.Column("profile_data", sa.JSON),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("tenant_id", "name"),
)

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column(
        "tenant_id", sa.Uuid, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    ),
    # NULL = unassigned (rendered as ThingsBoard's null UUID); claiming updates it conditionally.
    sa.Column("customer_id", sa.Uuid, sa.ForeignKey("customers.id", ondelete="SET NULL")),
    sa.Column("device_profile_id", sa.Uuid, sa.ForeignKey("device_profiles.id"), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("type", sa.String(255), nullable=False),
    sa.Column("label", sa.String(255)),
    sa.Column("additional_info", sa.JSON),
    sa.Column("is_gateway", sa.Boolean, nullable=False, default=False),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False, default=1),
    sa.UniqueConstraint("tenant_id", "name"),
    sa.Index("ix_devices_tenant_customer", "tenant_id", "customer_id"),
)

device_credentials = sa.Table(
    "device_credentials",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column(
        "device_id",
        sa.Uuid,
        sa.ForeignKey("devices.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    sa.Column("credentials_type", sa.String(32), nullable=False),
    # ACCESS_TOKEN: keyed hash (HMAC) of the token; MQTT_BASIC: digest of client id + user name.
    # Platform-wide unique: a device API call or CONNECT is one lookup by this column.
    sa.Column("credentials_id", sa.String(255), nullable=False, unique=True),
    # MQTT_BASIC: {"clientId", "userName", "passwordHash"} - the password itself is never stored.
    sa.Column("credentials_value", sa.JSON),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    # ACCESS_TOKEN: the token sealed with AES-GCM (devices/tokens.py). NULL only on rows written
    # before revision 0004, until the first start seals them (DeviceService.seal_stored_tokens).
    sa.Column("token_sealed", sa.LargeBinary),
    # MQTT_BASIC with a user name: the digest of the user name alone, so credentials of any client
    # id with that user name are found when a registration could make a CONNECT ambiguous.
    sa.Column("user_name_key", sa.String(255), index=True),
)

attributes = sa.Table(
    "attributes",
    metadata,
    sa.Column("entity_type", sa.String(32), nullable=False),
    sa.Column("entity_id", sa.Uuid, primary_key=True),
    sa.Column("scope", sa.String(16), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value_json", sa.Text, nullable=False),
    sa.Column("last_update_ts", sa.BigInteger, nullable=False),
)

entity_groups = sa.Table(
    "entity_groups",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column(
        "tenant_id", sa.Uuid, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("owner_type", sa.String(32), nullable=False),
    sa.Column("owner_id", sa.Uuid, nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("additional_info", sa.JSON),
    # Built-in groups ("Customer Users", ...) cannot be deleted.
    sa.Column("built_in", sa.Boolean, nullable=False, default=False),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("owner_id", "type", "name"),
)

entity_group_members = sa.Table(
    "entity_group_members",
    metadata,
    sa.Column(
        "group_id",
        sa.Uuid,
        sa.ForeignKey("entity_groups.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("entity_id", sa.Uuid, primary_key=True),
    sa.Index("ix_entity_group_members_entity", "entity_id"),
)

roles = sa.Table(
    "roles",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column(
        "tenant_id", sa.Uuid, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("customer_id", sa.Uuid, sa.ForeignKey("customers.id", ondelete="CASCADE")),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    # GENERIC: {resource: [operations]}; GROUP: [operations]
    sa.Column("permissions", sa.JSON, nullable=False),
    sa.Column("additional_info", sa.JSON),
    sa.Column("built_in", sa.Boolean, nullable=False, default=False),
    sa.Column("created_time", sa.BigInteger, nullable=False),
)

group_permissions = sa.Table(
    "group_permissions",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column(
        "tenant_id", sa.Uuid, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column(
        "user_group_id",
        sa.Uuid,
        sa.ForeignKey("entity_groups.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("role_id", sa.Uuid, sa.ForeignKey("roles.id", ondelete="CASCADE"), nullable=False),
    sa.Column("entity_group_id", sa.Uuid, sa.ForeignKey("entity_groups.id", ondelete="CASCADE")),
    sa.Column("entity_group_type", sa.String(32)),
    sa.Column("is_public", sa.Boolean, nullable=False, default=False),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Index("ix_group_permissions_user_group", "user_group_id"),
)

# Claim windows (SPEC 3.1): at most one per device and source ("device" announcement, "server"
# claimingData attribute). The secret is an HMAC under a key that is not in the database.
claim_windows = sa.Table(
    "claim_windows",
    metadata,
    sa.Column(
        "device_id", sa.Uuid, sa.ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("source", sa.String(16), primary_key=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("expires_at_ms", sa.BigInteger, nullable=False),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Index("ix_claim_windows_expires_at_ms", "expires_at_ms"),
)

# Brute-force lock-outs per guesser: one customer's consecutive failed claims of one device, and
# until when that customer's claims of it are refused (429). Read and written only while the
# device row is locked (PostgreSQL) or the single writer is held (SQLite).
claim_lockouts = sa.Table(
    "claim_lockouts",
    metadata,
    sa.Column(
        "device_id", sa.Uuid, sa.ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column(
        "customer_id",
        sa.Uuid,
        sa.ForeignKey("customers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("failed_attempts", sa.Integer, nullable=False),
    sa.Column("locked_until_ms", sa.BigInteger, nullable=False),
)

# A successful claim remembered under the caller's Idempotency-Key, so a retry gets the same 200.
claim_idempotency = sa.Table(
    "claim_idempotency",
    metadata,
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("idempotency_key", sa.String(255), primary_key=True),
    sa.Column("device_name", sa.String(255), nullable=False),
    sa.Column("response_json", sa.Text, nullable=False),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Index("ix_claim_idempotency_created_time", "created_time"),
)

# ThingsBoard's audit log: who did what to which entity, with outcome and (GridLinks) the reason.
audit_logs = sa.Table(
    "audit_logs",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column(
        "tenant_id", sa.Uuid, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("customer_id", sa.Uuid),
    sa.Column("entity_type", sa.String(32), nullable=False),
    sa.Column("entity_id", sa.Uuid),
    sa.Column("entity_name", sa.String(255)),
    sa.Column("user_id", sa.Uuid),
    sa.Column("user_name", sa.String(255)),
    sa.Column("action_type", sa.String(64), nullable=False),
    sa.Column("action_data", sa.JSON),
    sa.Column("action_status", sa.String(16), nullable=False),
    sa.Column("action_failure_details", sa.Text),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Index("ix_audit_logs_tenant_time", "tenant_id", "created_time"),
    sa.Index("ix_audit_logs_entity_time", "entity_id", "created_time"),
)

# Time series (ThingsBoard's ts_kv): one row per entity, key and timestamp; a point re-sent with
# the same timestamp overwrites. No foreign key to devices: a batch of points from many devices
# must not fail because one of them was deleted meanwhile; deleting a device deletes its rows.
ts_kv = sa.Table(
    "ts_kv",
    metadata,
    sa.Column("entity_id", sa.Uuid, primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("ts", sa.BigInteger, primary_key=True),
    sa.Column("value_json", sa.Text, nullable=False),
)

# The newest point of each key (ThingsBoard's ts_kv_latest); it only moves forward in time.
ts_kv_latest = sa.Table(
    "ts_kv_latest",
    metadata,
    sa.Column("entity_id", sa.Uuid, primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("ts", sa.BigInteger, nullable=False),
    sa.Column("value_json", sa.Text, nullable=False),
)

# Installation-wide settings, one JSON value per key (ThingsBoard's admin_settings). Key "demo":
# when ``gridlinks init --demo`` loaded the demo data, so that later starts never load it again.
admin_settings = sa.Table(
    "admin_settings",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("json_value", sa.JSON, nullable=False),
    sa.Column("created_time", sa.BigInteger, nullable=False),
)

# Persistent server-side RPC (ThingsBoard's ``rpc`` table, 3.3+): a command kept until the device
# takes it, with its state. ``request_id`` is what the device sees in
# ``v1/devices/me/rpc/request/{id}``; ``sender_customer_id`` is the customer of the user who sent
# it (NULL: a tenant admin), so a release can cancel what a former owner queued.
rpc_requests = sa.Table(
    "rpc_requests",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column(
        "tenant_id", sa.Uuid, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column(
        "device_id", sa.Uuid, sa.ForeignKey("devices.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("request_id", sa.Integer, nullable=False),
    sa.Column("sender_user_id", sa.Uuid),
    sa.Column("sender_customer_id", sa.Uuid),
    sa.Column("oneway", sa.Boolean, nullable=False),
    sa.Column("method", sa.String(255), nullable=False),
    sa.Column("params_json", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("response_json", sa.Text),
    sa.Column("additional_info", sa.JSON),
    sa.Column("retries", sa.Integer, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("expiration_time", sa.BigInteger, nullable=False),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Index("ix_rpc_requests_device_status", "device_id", "status"),
    sa.Index("ix_rpc_requests_device_request", "device_id", "request_id"),
    sa.Index("ix_rpc_requests_status_expiration", "status", "expiration_time"),
)
