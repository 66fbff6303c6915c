"""API shapes of accounts: request models (camelCase, unknown keys ignored) and JSON renderers
that emit ThingsBoard's full entity shapes."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gridlinks.accounts.domain import (
    Customer,
    EntityGroup,
    GroupPermission,
    Role,
    Tenant,
    User,
)
from gridlinks.kit.ids import entity_id

NAME_MAX = 255
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"


class ApiModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class IdRef(ApiModel):
    """``{"entityType": ..., "id": ...}`` as sent by the clients (entityType optional)."""

    id: uuid.UUID
    entity_type: str | None = Field(default=None, alias="entityType", max_length=64)


class ContactFields(ApiModel):
    email: str | None = Field(default=None, max_length=NAME_MAX)
    phone: str | None = Field(default=None, max_length=64)
    country: str | None = Field(default=None, max_length=128)
    city: str | None = Field(default=None, max_length=128)
    address: str | None = Field(default=None, max_length=NAME_MAX)
    additional_info: Any = Field(default=None, alias="additionalInfo")


class TenantSave(ContactFields):
    id: IdRef | None = None
    title: str = Field(min_length=1, max_length=NAME_MAX)


class CustomerSave(ContactFields):
    id: IdRef | None = None
    title: str = Field(min_length=1, max_length=NAME_MAX)


class UserSave(ApiModel):
    id: IdRef | None = None
    email: str = Field(min_length=3, max_length=NAME_MAX, pattern=EMAIL_PATTERN)
    authority: str = Field(max_length=32)
    tenant_id: IdRef | None = Field(default=None, alias="tenantId")
    customer_id: IdRef | None = Field(default=None, alias="customerId")
    first_name: str | None = Field(default=None, alias="firstName", max_length=NAME_MAX)
    last_name: str | None = Field(default=None, alias="lastName", max_length=NAME_MAX)
    phone: str | None = Field(default=None, max_length=64)
    additional_info: Any = Field(default=None, alias="additionalInfo")


class LoginRequest(ApiModel):
    username: str = Field(max_length=NAME_MAX)
    password: str = Field(max_length=1024)


class RefreshRequest(ApiModel):
    refresh_token: str = Field(alias="refreshToken", max_length=4096)


class ActivateRequest(ApiModel):
    activate_token: str = Field(alias="activateToken", max_length=512)
    password: str = Field(max_length=1024)


class ChangePasswordRequest(ApiModel):
    current_password: str = Field(alias="currentPassword", max_length=1024)
    new_password: str = Field(alias="newPassword", max_length=1024)


class EntityGroupSave(ApiModel):
    id: IdRef | None = None
    type: str = Field(max_length=32)
    name: str = Field(min_length=1, max_length=NAME_MAX)
    owner_id: IdRef | None = Field(default=None, alias="ownerId")
    description: str | None = Field(default=None, max_length=4096)
    additional_info: Any = Field(default=None, alias="additionalInfo")


class RoleSave(ApiModel):
    id: IdRef | None = None
    name: str = Field(min_length=1, max_length=NAME_MAX)
    type: str = Field(max_length=16)
    permissions: Any = None
    customer_id: IdRef | None = Field(default=None, alias="customerId")
    additional_info: Any = Field(default=None, alias="additionalInfo")


class GroupPermissionSave(ApiModel):
    id: IdRef | None = None
    user_group_id: IdRef = Field(alias="userGroupId")
    role_id: IdRef = Field(alias="roleId")
    entity_group_id: IdRef | None = Field(default=None, alias="entityGroupId")
    entity_group_type: str | None = Field(default=None, alias="entityGroupType", max_length=32)
    is_public: bool = Field(default=False, alias="isPublic")


def _contact_json(item: Tenant | Customer) -> dict[str, Any]:
    return {
        "title": item.title,
        "name": item.title,
        "email": item.email,
        "phone": item.phone,
        "country": item.country,
        "state": None,
        "city": item.city,
        "address": item.address,
        "address2": None,
        "zip": None,
        "additionalInfo": item.additional_info,
        "version": 1,
    }


def tenant_json(tenant: Tenant) -> dict[str, Any]:
    return {
        "id": entity_id("TENANT", tenant.id),
        "createdTime": tenant.created_time,
        **_contact_json(tenant),
        "region": "Global",
        "tenantProfileId": None,  # GridLinks has no tenant profiles
    }


def customer_json(customer: Customer) -> dict[str, Any]:
    return {
        "id": entity_id("CUSTOMER", customer.id),
        "createdTime": customer.created_time,
        "tenantId": entity_id("TENANT", customer.tenant_id),
        "parentCustomerId": None,
        "ownerId": entity_id("TENANT", customer.tenant_id),
        **_contact_json(customer),
        "isPublic": False,
    }


def user_json(user: User) -> dict[str, Any]:
    owner = (
        entity_id("CUSTOMER", user.customer_id)
        if user.customer_id
        else entity_id("TENANT", user.tenant_id)
    )
    return {
        "id": entity_id("USER", user.id),
        "createdTime": user.created_time,
        "tenantId": entity_id("TENANT", user.tenant_id),
        "customerId": entity_id("CUSTOMER", user.customer_id),
        "ownerId": owner,
        "email": user.email,
        "name": user.email,
        "authority": user.authority.value,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "phone": user.phone,
        "additionalInfo": user.additional_info,
        "version": 1,
    }


def entity_group_json(group: EntityGroup) -> dict[str, Any]:
    owner = entity_id(group.owner_type, group.owner_id)
    return {
        "id": entity_id("ENTITY_GROUP", group.id),
        "createdTime": group.created_time,
        "tenantId": entity_id("TENANT", group.tenant_id),
        "type": group.type,
        "name": group.name,
        "ownerId": owner,
        "ownerIds": [owner],
        "description": group.description,
        "additionalInfo": group.additional_info,
        "configuration": None,
        "groupAll": False,
        "edgeGroupAll": False,
        "version": 1,
    }


def role_json(role: Role) -> dict[str, Any]:
    return {
        "id": entity_id("ROLE", role.id),
        "createdTime": role.created_time,
        "tenantId": entity_id("TENANT", role.tenant_id),
        "customerId": entity_id("CUSTOMER", role.customer_id),
        "ownerId": (
            entity_id("CUSTOMER", role.customer_id)
            if role.customer_id
            else entity_id("TENANT", role.tenant_id)
        ),
        "name": role.name,
        "type": role.type,
        "permissions": role.permissions,
        "additionalInfo": role.additional_info,
        "version": 1,
    }


def group_permission_json(permission: GroupPermission) -> dict[str, Any]:
    return {
        "id": entity_id("GROUP_PERMISSION", permission.id),
        "createdTime": permission.created_time,
        "tenantId": entity_id("TENANT", permission.tenant_id),
        "userGroupId": entity_id("ENTITY_GROUP", permission.user_group_id),
        "roleId": entity_id("ROLE", permission.role_id),
        "entityGroupId": (
            entity_id("ENTITY_GROUP", permission.entity_group_id)
            if permission.entity_group_id
            else None
        ),
        "entityGroupType": permission.entity_group_type,
        "isPublic": permission.is_public,
        "name": None,
    }
