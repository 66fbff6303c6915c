"""Accounts as plain data, and the permission rules (pure: no I/O).

The permission model is ThingsBoard PE's: a role holds ``{resource: [operations]}``; a group
permission gives a role to a user group; a customer user may do what the roles of its groups
allow, on what its own customer owns. Tenant admins may do everything inside their tenant; the
system admin manages tenants and their admins and sees no tenant data.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Authority(StrEnum):
    SYS_ADMIN = "SYS_ADMIN"
    TENANT_ADMIN = "TENANT_ADMIN"
    CUSTOMER_USER = "CUSTOMER_USER"


RESOURCES = frozenset(
    {
        "ALL",
        "PROFILE",
        "ADMIN_SETTINGS",
        "ALARM",
        "DEVICE",
        "ASSET",
        "CUSTOMER",
        "DASHBOARD",
        "ENTITY_VIEW",
        "EDGE",
        "TENANT",
        "USER",
        "WIDGETS_BUNDLE",
        "WIDGET_TYPE",
        "ROLE",
        "GROUP_PERMISSION",
        "DEVICE_GROUP",
        "ASSET_GROUP",
        "USER_GROUP",
        "CUSTOMER_GROUP",
        "DASHBOARD_GROUP",
        "ENTITY_VIEW_GROUP",
        "EDGE_GROUP",
        "AUDIT_LOG",
        "DEVICE_PROFILE",
        "ASSET_PROFILE",
        "OTA_PACKAGE",
        "RULE_CHAIN",
        "API_USAGE_STATE",
        "TB_RESOURCE",
    }
)

OPERATIONS = frozenset(
    {
        "ALL",
        "CREATE",
        "READ",
        "WRITE",
        "DELETE",
        "RPC_CALL",
        "READ_CREDENTIALS",
        "WRITE_CREDENTIALS",
        "READ_ATTRIBUTES",
        "WRITE_ATTRIBUTES",
        "READ_TELEMETRY",
        "WRITE_TELEMETRY",
        "ADD_TO_GROUP",
        "REMOVE_FROM_GROUP",
        "CHANGE_OWNER",
        "IMPERSONATE",
        "CLAIM_DEVICES",
        "SHARE_GROUP",
        "ASSIGN_TO_TENANT",
    }
)

CUSTOMER_ADMINISTRATORS = "Customer Administrators"
CUSTOMER_USERS = "Customer Users"
CUSTOMER_ADMINISTRATOR_ROLE = "Customer Administrator"
CUSTOMER_USER_ROLE = "Customer User"

# Built-in roles every tenant gets; the two built-in groups of each customer use them.
BUILT_IN_ROLE_PERMISSIONS: dict[str, dict[str, list[str]]] = {
    CUSTOMER_ADMINISTRATOR_ROLE: {"ALL": ["ALL"]},
    CUSTOMER_USER_ROLE: {
        "ALL": ["READ", "READ_ATTRIBUTES", "READ_TELEMETRY", "RPC_CALL"],
        "DEVICE": ["CLAIM_DEVICES"],
        "PROFILE": ["ALL"],
    },
}
BUILT_IN_GROUP_ROLES = {
    CUSTOMER_ADMINISTRATORS: CUSTOMER_ADMINISTRATOR_ROLE,
    CUSTOMER_USERS: CUSTOMER_USER_ROLE,
}

# What only the system admin or tenant admins may touch, whatever a customer role says.
TENANT_ONLY_RESOURCES = frozenset({"TENANT", "ADMIN_SETTINGS"})

MIN_PASSWORD_LENGTH = 6


def password_problem(password: str) -> str | None:
    """Why ``password`` is not acceptable, or ``None``."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Password must be at least {MIN_PASSWORD_LENGTH} characters long"
    return None


GROUP_TYPES = frozenset({"CUSTOMER", "ASSET", "DEVICE", "USER", "ENTITY_VIEW", "DASHBOARD", "EDGE"})
ROLE_TYPES = frozenset({"GENERIC", "GROUP"})


@dataclass(frozen=True)
class Tenant:
    id: uuid.UUID
    title: str
    created_time: int
    email: str | None = None
    phone: str | None = None
    country: str | None = None
    city: str | None = None
    address: str | None = None
    additional_info: Any = None


@dataclass(frozen=True)
class Customer:
    id: uuid.UUID
    tenant_id: uuid.UUID
    title: str
    created_time: int
    email: str | None = None
    phone: str | None = None
    country: str | None = None
    city: str | None = None
    address: str | None = None
    additional_info: Any = None


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    tenant_id: uuid.UUID | None
    customer_id: uuid.UUID | None
    email: str
    authority: Authority
    created_time: int
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    additional_info: Any = None
    enabled: bool = False


@dataclass(frozen=True)
class EntityGroup:
    id: uuid.UUID
    tenant_id: uuid.UUID
    owner_type: str
    owner_id: uuid.UUID
    type: str
    name: str
    created_time: int
    description: str | None = None
    additional_info: Any = None
    built_in: bool = False


@dataclass(frozen=True)
class Role:
    id: uuid.UUID
    tenant_id: uuid.UUID
    customer_id: uuid.UUID | None
    name: str
    type: str
    permissions: Any
    created_time: int
    additional_info: Any = None
    built_in: bool = False


@dataclass(frozen=True)
class GroupPermission:
    id: uuid.UUID
    tenant_id: uuid.UUID
    user_group_id: uuid.UUID
    role_id: uuid.UUID
    created_time: int
    entity_group_id: uuid.UUID | None = None
    entity_group_type: str | None = None
    is_public: bool = False


@dataclass(frozen=True)
class Principal:
    """Who is calling, and the merged GENERIC permissions of the groups they belong to."""

    user_id: uuid.UUID
    email: str
    authority: Authority
    tenant_id: uuid.UUID | None
    customer_id: uuid.UUID | None
    permissions: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # The title of a customer user's customer (for audit entries), when loaded.
    customer_title: str | None = None

    @property
    def is_sys_admin(self) -> bool:
        return self.authority is Authority.SYS_ADMIN

    @property
    def is_tenant_admin(self) -> bool:
        return self.authority is Authority.TENANT_ADMIN

    @property
    def is_customer_user(self) -> bool:
        return self.authority is Authority.CUSTOMER_USER

    def allows(self, resource: str, operation: str) -> bool:
        """May this principal do ``operation`` on ``resource`` (ownership checked separately)?"""
        if self.is_tenant_admin:
            return resource != "TENANT" or operation == "READ"
        if self.is_sys_admin:
            return resource in ("TENANT", "USER", "PROFILE", "ADMIN_SETTINGS")
        if resource in TENANT_ONLY_RESOURCES:
            return False  # no customer role reaches above its customer, even with ALL
        for name in (resource, "ALL"):
            granted = self.permissions.get(name, frozenset())
            if operation in granted or "ALL" in granted:
                return True
        return False

    def sees_owner(self, tenant_id: uuid.UUID, customer_id: uuid.UUID | None) -> bool:
        """Is an object owned by (tenant, customer) inside this principal's reach?"""
        if self.is_sys_admin or tenant_id != self.tenant_id:
            return False
        return self.is_tenant_admin or customer_id == self.customer_id

    def may_manage(self, user: User, operation: str) -> bool:
        """May this principal do ``operation`` (WRITE, DELETE, ...) on another ``user``: change
        it, delete it, read its activation link, switch its credentials?

        The system admin manages tenant administrators; a tenant admin every user of its tenant;
        a customer user only users of its own customer, and only with that operation on USER
        (the built-in *Customer Users* may read their colleagues, never manage them).
        """
        if user.id == self.user_id or user.authority is Authority.SYS_ADMIN:
            return False
        if self.is_sys_admin:
            return user.authority is Authority.TENANT_ADMIN
        if user.tenant_id is None or not self.sees_owner(user.tenant_id, user.customer_id):
            return False
        return self.is_tenant_admin or self.allows("USER", operation)


def merge_generic_permissions(role_permissions: Iterable[Any]) -> dict[str, frozenset[str]]:
    """Union of GENERIC role permission maps; non-map (GROUP role) values are skipped."""
    merged: dict[str, set[str]] = {}
    for permissions in role_permissions:
        if not isinstance(permissions, dict):
            continue
        for resource, operations in permissions.items():
            if isinstance(operations, list):
                merged.setdefault(str(resource), set()).update(str(op) for op in operations)
    return {resource: frozenset(ops) for resource, ops in merged.items()}


def validate_role_permissions(role_type: str, permissions: Any) -> str | None:
    """Why ``permissions`` is not valid for ``role_type``, or ``None`` when it is."""
    if role_type == "GROUP":
        if not isinstance(permissions, list) or not all(op in OPERATIONS for op in permissions):
            return "GROUP role permissions must be a list of operations"
        return None
    if not isinstance(permissions, dict):
        return "GENERIC role permissions must be an object {resource: [operations]}"
    for resource, operations in permissions.items():
        if resource not in RESOURCES:
            return f"Unknown resource {str(resource)[:40]!r} in role permissions"
        if not isinstance(operations, list) or not all(
            isinstance(op, str) and op in OPERATIONS for op in operations
        ):
            return f"Operations of {resource} must be a list of known operation names"
    return None
