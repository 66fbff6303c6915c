"""Devices as plain data and the rules about their credentials (pure: no I/O)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

ACCESS_TOKEN = "ACCESS_TOKEN"
MQTT_BASIC = "MQTT_BASIC"
CREDENTIAL_TYPES = frozenset({ACCESS_TOKEN, MQTT_BASIC})
ACCESS_TOKEN_MAX_LENGTH = 255
DEFAULT_PROFILE_NAME = "default"


@dataclass(frozen=True)
class DeviceProfile:
    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    type: str
    transport_type: str
    provision_type: str
    is_default: bool
    created_time: int
    description: str | None = None
    profile_data: Any = None


@dataclass(frozen=True)
class Device:
    id: uuid.UUID
    tenant_id: uuid.UUID
    customer_id: uuid.UUID | None
    device_profile_id: uuid.UUID
    name: str
    type: str
    created_time: int
    label: str | None = None
    additional_info: Any = None
    is_gateway: bool = False
    version: int = 1


@dataclass(frozen=True)
class DeviceCredentials:
    """``credentials_id`` is the access token, or for MQTT basic a digest of client id and user
    name; ``credentials_value`` holds ``clientId``, ``userName`` and ``passwordHash`` only."""

    id: uuid.UUID
    device_id: uuid.UUID
    credentials_type: str
    credentials_id: str
    created_time: int
    credentials_value: Any = None


def is_gateway(additional_info: Any) -> bool:
    """ThingsBoard marks gateways with ``additionalInfo.gateway = true``."""
    return isinstance(additional_info, dict) and additional_info.get("gateway") is True


def access_token_problem(token: str) -> str | None:
    """Why ``token`` cannot be an access token, or ``None``."""
    if not token or token != token.strip():
        return "Access token must not be empty or start/end with spaces"
    if len(token) > ACCESS_TOKEN_MAX_LENGTH:
        return f"Access token must be at most {ACCESS_TOKEN_MAX_LENGTH} characters"
    if "/" in token or "#" in token or "+" in token:
        return "Access token must not contain '/', '#' or '+'"
    return None
