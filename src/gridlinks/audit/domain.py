"""Audit entries (ThingsBoard's AuditLog shape). Pure."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from gridlinks.kit.ids import NULL_UUID, entity_id

# ThingsBoard's ActionType values (tb-rest-client refuses others when it reads the log).
ASSIGNED_TO_CUSTOMER = "ASSIGNED_TO_CUSTOMER"
UNASSIGNED_FROM_CUSTOMER = "UNASSIGNED_FROM_CUSTOMER"
ATTRIBUTES_UPDATED = "ATTRIBUTES_UPDATED"
ACTION_TYPES = frozenset(
    [
        "ADDED",
        "DELETED",
        "UPDATED",
        "ATTRIBUTES_UPDATED",
        "ATTRIBUTES_DELETED",
        "TIMESERIES_UPDATED",
        "TIMESERIES_DELETED",
        "RPC_CALL",
        "CREDENTIALS_UPDATED",
        "ASSIGNED_TO_CUSTOMER",
        "UNASSIGNED_FROM_CUSTOMER",
        "ACTIVATED",
        "SUSPENDED",
        "CREDENTIALS_READ",
        "ATTRIBUTES_READ",
        "RELATION_ADD_OR_UPDATE",
        "RELATION_DELETED",
        "RELATIONS_DELETED",
        "REST_API_RULE_ENGINE_CALL",
        "ALARM_ACK",
        "ALARM_CLEAR",
        "ALARM_DELETE",
        "ALARM_ASSIGNED",
        "ALARM_UNASSIGNED",
        "LOGIN",
        "LOGOUT",
        "LOCKOUT",
        "ASSIGNED_FROM_TENANT",
        "ASSIGNED_TO_TENANT",
        "PROVISION_SUCCESS",
        "PROVISION_FAILURE",
        "ASSIGNED_TO_EDGE",
        "UNASSIGNED_FROM_EDGE",
        "ADDED_COMMENT",
        "UPDATED_COMMENT",
        "DELETED_COMMENT",
        "SMS_SENT",
    ]
)
SUCCESS = "SUCCESS"
FAILURE = "FAILURE"


@dataclass(frozen=True)
class AuditEntry:
    id: uuid.UUID
    tenant_id: uuid.UUID
    customer_id: uuid.UUID | None
    entity_type: str
    entity_id: uuid.UUID | None
    entity_name: str | None
    user_id: uuid.UUID | None
    user_name: str | None
    action_type: str
    action_status: str
    created_time: int
    action_data: dict[str, Any] = field(default_factory=dict)
    action_failure_details: str | None = None


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entity_id("AUDIT_LOG", entry.id),
        "createdTime": entry.created_time,
        "tenantId": entity_id("TENANT", entry.tenant_id),
        "customerId": entity_id("CUSTOMER", entry.customer_id or NULL_UUID),
        "entityId": entity_id(entry.entity_type, entry.entity_id or NULL_UUID),
        "entityName": entry.entity_name,
        "userId": entity_id("USER", entry.user_id or NULL_UUID),
        "userName": entry.user_name,
        "actionType": entry.action_type,
        "actionData": entry.action_data,
        "actionStatus": entry.action_status,
        "actionFailureDetails": entry.action_failure_details,
    }
