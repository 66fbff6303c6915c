"""API shapes of devices, device profiles and credentials (ThingsBoard JSON)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from gridlinks.accounts.schemas import NAME_MAX, ApiModel, IdRef
from gridlinks.devices.domain import MQTT_BASIC, Device, DeviceCredentials, DeviceProfile
from gridlinks.kit.ids import entity_id


class DeviceSave(ApiModel):
    id: IdRef | None = None
    name: str = Field(min_length=1, max_length=NAME_MAX)
    type: str | None = Field(default=None, max_length=NAME_MAX)
    label: str | None = Field(default=None, max_length=NAME_MAX)
    device_profile_id: IdRef | None = Field(default=None, alias="deviceProfileId")
    customer_id: IdRef | None = Field(default=None, alias="customerId")
    additional_info: Any = Field(default=None, alias="additionalInfo")


class DeviceProfileSave(ApiModel):
    id: IdRef | None = None
    name: str = Field(min_length=1, max_length=NAME_MAX)
    description: str | None = Field(default=None, max_length=4096)
    type: str = Field(default="DEFAULT", max_length=32)
    transport_type: str = Field(default="DEFAULT", alias="transportType", max_length=32)
    provision_type: str = Field(default="DISABLED", alias="provisionType", max_length=64)
    default: bool = False
    profile_data: Any = Field(default=None, alias="profileData")


class CredentialsInput(ApiModel):
    credentials_type: str = Field(default="ACCESS_TOKEN", alias="credentialsType", max_length=32)
    credentials_id: str | None = Field(default=None, alias="credentialsId", max_length=255)
    credentials_value: str | None = Field(default=None, alias="credentialsValue", max_length=4096)


class CredentialsSave(CredentialsInput):
    id: IdRef | None = None
    device_id: IdRef = Field(alias="deviceId")


class DeviceWithCredentialsSave(ApiModel):
    device: DeviceSave
    credentials: CredentialsInput


def device_json(device: Device) -> dict[str, Any]:
    owner = (
        entity_id("CUSTOMER", device.customer_id)
        if device.customer_id
        else entity_id("TENANT", device.tenant_id)
    )
    return {
        "id": entity_id("DEVICE", device.id),
        "createdTime": device.created_time,
        "tenantId": entity_id("TENANT", device.tenant_id),
        "customerId": entity_id("CUSTOMER", device.customer_id),
        "ownerId": owner,
        "name": device.name,
        "type": device.type,
        "label": device.label,
        "deviceProfileId": entity_id("DEVICE_PROFILE", device.device_profile_id),
        "firmwareId": None,
        "softwareId": None,
        "externalId": None,
        "additionalInfo": device.additional_info,
        "deviceData": {
            "configuration": {"type": "DEFAULT"},
            "transportConfiguration": {"type": "DEFAULT"},
        },
        "version": device.version,
    }


def device_profile_json(profile: DeviceProfile) -> dict[str, Any]:
    return {
        "id": entity_id("DEVICE_PROFILE", profile.id),
        "createdTime": profile.created_time,
        "tenantId": entity_id("TENANT", profile.tenant_id),
        "name": profile.name,
        "description": profile.description,
        "type": profile.type,
        "transportType": profile.transport_type,
        "provisionType": profile.provision_type,
        "default": profile.is_default,
        "profileData": profile.profile_data,
        "image": None,
        "defaultRuleChainId": None,
        "defaultDashboardId": None,
        "defaultQueueName": None,
        "provisionDeviceKey": None,
        "firmwareId": None,
        "softwareId": None,
        "defaultEdgeRuleChainId": None,
        "externalId": None,
        "version": 1,
    }


def device_profile_info_json(profile: DeviceProfile) -> dict[str, Any]:
    return {
        "id": entity_id("DEVICE_PROFILE", profile.id),
        "tenantId": entity_id("TENANT", profile.tenant_id),
        "name": profile.name,
        "image": None,
        "defaultDashboardId": None,
        "type": profile.type,
        "transportType": profile.transport_type,
    }


def credentials_json(credentials: DeviceCredentials) -> dict[str, Any]:
    """The password of MQTT basic credentials is never returned (only its hash is stored)."""
    value: str | None = None
    if credentials.credentials_type == MQTT_BASIC and isinstance(
        credentials.credentials_value, dict
    ):
        shown = {k: credentials.credentials_value.get(k) for k in ("clientId", "userName")}
        value = json.dumps(shown)
    return {
        "id": {"id": str(credentials.id)},
        "createdTime": credentials.created_time,
        "deviceId": entity_id("DEVICE", credentials.device_id),
        "credentialsType": credentials.credentials_type,
        "credentialsId": credentials.credentials_id,
        "credentialsValue": value,
        "version": 1,
    }
