"""JSON schemas of the main answers (ThingsBoard's Device, Customer, User...), for the OpenAPI
document. They name the fields clients rely on and leave room for the rest (ThingsBoard adds
fields between versions; clients ignore what they do not know).

``SUCCESS_SCHEMAS`` says which operation answers which; a test checks every operation named
there exists, so a moved path cannot leave a stale entry behind.
"""

from __future__ import annotations

from typing import Any

from gridlinks.accounts.domain import Authority
from gridlinks.api.deps import REF_TEMPLATE


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(model=name)}


def _entity(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


_ID = ref("EntityId")
_TIME = {"type": "integer", "description": "epoch milliseconds"}
_TEXT_OR_NULL = {"type": ["string", "null"]}

ENTITY_SCHEMAS: dict[str, dict[str, Any]] = {
    "EntityId": _entity(
        ["entityType", "id"],
        entityType={"type": "string"},
        id={"type": "string", "format": "uuid"},
    ),
    "Device": _entity(
        ["id", "createdTime", "tenantId", "customerId", "name", "type", "deviceProfileId"],
        id=_ID,
        createdTime=_TIME,
        tenantId=_ID,
        customerId={**_ID, "description": "the null UUID when the tenant holds the device"},
        ownerId=_ID,
        name={"type": "string"},
        type={"type": "string"},
        label=_TEXT_OR_NULL,
        deviceProfileId=_ID,
        additionalInfo={"description": "any JSON the client stored"},
    ),
    "DeviceCredentials": _entity(
        ["id", "deviceId", "credentialsType"],
        id={"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}}},
        createdTime=_TIME,
        deviceId=_ID,
        credentialsType={"type": "string", "examples": ["ACCESS_TOKEN", "MQTT_BASIC"]},
        credentialsId={
            **_TEXT_OR_NULL,
            "description": "the access token (ACCESS_TOKEN)",
        },
        credentialsValue={
            **_TEXT_OR_NULL,
            "description": "MQTT_BASIC: JSON text with clientId and userName (never the password)",
        },
    ),
    "Tenant": _entity(
        ["id", "createdTime", "title"],
        id=_ID,
        createdTime=_TIME,
        title={"type": "string"},
        email=_TEXT_OR_NULL,
    ),
    "Customer": _entity(
        ["id", "createdTime", "tenantId", "title"],
        id=_ID,
        createdTime=_TIME,
        tenantId=_ID,
        title={"type": "string"},
        email=_TEXT_OR_NULL,
    ),
    "User": _entity(
        ["id", "createdTime", "tenantId", "customerId", "email", "authority"],
        id=_ID,
        createdTime=_TIME,
        tenantId=_ID,
        customerId=_ID,
        email={"type": "string"},
        authority={"type": "string", "enum": [a.value for a in Authority]},
        firstName=_TEXT_OR_NULL,
        lastName=_TEXT_OR_NULL,
    ),
}


def page_of(item: str) -> dict[str, Any]:
    """ThingsBoard's PageData of ``item``."""
    return {
        "type": "object",
        "description": f"One page of {item} items.",
        "required": ["data", "totalPages", "totalElements", "hasNext"],
        "properties": {
            "data": {"type": "array", "items": ref(item)},
            "totalPages": {"type": "integer", "minimum": 0},
            "totalElements": {"type": "integer", "minimum": 0},
            "hasNext": {"type": "boolean"},
        },
    }


PAGE_SCHEMAS = {
    f"PageData{name}": page_of(name) for name in ("Device", "Tenant", "Customer", "User")
}

# (method, path) -> the schema of its 200 answer.
SUCCESS_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    **{
        key: ref("Device")
        for key in (
            ("POST", "/api/device"),
            ("POST", "/api/device-with-credentials"),
            ("GET", "/api/device/{device_id}"),
            ("GET", "/api/tenant/device"),
            ("POST", "/api/customer/{customer_id}/device/{device_id}"),
            ("DELETE", "/api/customer/device/{device_id}"),
        )
    },
    ("GET", "/api/tenant/devices"): {
        "anyOf": [ref("PageDataDevice"), ref("Device")],
        "description": "with deviceName: that device; otherwise a page of devices",
    },
    ("GET", "/api/customer/{customer_id}/devices"): ref("PageDataDevice"),
    ("GET", "/api/user/devices"): ref("PageDataDevice"),
    ("GET", "/api/device/{device_id}/credentials"): ref("DeviceCredentials"),
    ("POST", "/api/device/credentials"): ref("DeviceCredentials"),
    ("POST", "/api/tenant"): ref("Tenant"),
    ("GET", "/api/tenant/{tenant_id}"): ref("Tenant"),
    ("GET", "/api/tenants"): ref("PageDataTenant"),
    ("POST", "/api/customer"): ref("Customer"),
    ("GET", "/api/customer/{customer_id}"): ref("Customer"),
    ("GET", "/api/tenant/customers"): ref("Customer"),
    ("GET", "/api/customers"): ref("PageDataCustomer"),
    ("GET", "/api/auth/user"): ref("User"),
    ("POST", "/api/user"): ref("User"),
    ("GET", "/api/user/{user_id}"): ref("User"),
    ("GET", "/api/users"): ref("PageDataUser"),
    ("GET", "/api/customer/{customer_id}/users"): ref("PageDataUser"),
    ("GET", "/api/tenant/{tenant_id}/users"): ref("PageDataUser"),
}
