"""Devices as plain data and the rules about their credentials (pure: no I/O)."""

from __future__ import annotations

import hashlib
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any

ACCESS_TOKEN = "ACCESS_TOKEN"
MQTT_BASIC = "MQTT_BASIC"
CREDENTIAL_TYPES = frozenset({ACCESS_TOKEN, MQTT_BASIC})
ACCESS_TOKEN_MAX_LENGTH = 255
DEVICE_NAME_MAX_LENGTH = 255
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
    """``credentials_id`` is the access token (in memory only: the database keeps a keyed hash
    and the token sealed), or for MQTT basic a digest of client id and user name;
    ``credentials_value`` holds ``clientId``, ``userName`` and ``passwordHash`` only."""

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


# --- MQTT basic credentials -------------------------------------------------------------------
# A CONNECT with a user name tries (client id, user name), then (user name alone); one without a
# user name tries (client id alone), as ThingsBoard does. Two registrations are ambiguous when one
# CONNECT could match both; ``basic_clash_ids`` names what a new registration must not meet.


def mqtt_basic_credentials_id(client_id: str | None, user_name: str | None) -> str:
    """The lookup key of MQTT basic credentials (not secret: both parts are shown by the API)."""
    digest = hashlib.sha256(f"{client_id or ''}|{user_name or ''}".encode()).hexdigest()
    return f"mqtt-basic:{digest}"


BasicPair = tuple[str | None, str | None]


def mqtt_basic_candidates(client_id: str | None, user_name: str | None) -> list[BasicPair]:
    """The (client id, user name) pairs a CONNECT is matched against, in order."""
    if not user_name:
        return [(client_id, None)] if client_id else []
    if not client_id:
        return [(None, user_name)]
    return [(client_id, user_name), (None, user_name)]


def basic_clash_ids(client_id: str | None, user_name: str | None) -> list[str]:
    """Ids of other devices' MQTT basic credentials that would make these ambiguous. With a user
    name, credentials of *any* client id and that user name clash too (looked up by user name
    key); see ``basic_user_name_key``."""
    own = mqtt_basic_credentials_id(client_id, user_name)
    if user_name and client_id:
        return [own, mqtt_basic_credentials_id(None, user_name)]
    return [own]


def basic_user_name_key(user_name: str | None) -> str | None:
    """What MQTT basic credentials with this user name (whatever their client id) are indexed
    by: the id the user name alone would have."""
    return mqtt_basic_credentials_id(None, user_name) if user_name else None


def basic_fields_match(
    credentials: DeviceCredentials, client_id: str | None, user_name: str | None
) -> bool:
    """Whether stored MQTT basic credentials are exactly (client id, user name), not merely
    another pair with the same digest (``a|b`` + ``""`` vs ``a`` + ``b|``)."""
    value = credentials.credentials_value if isinstance(credentials.credentials_value, dict) else {}
    return (value.get("clientId") or None, value.get("userName") or None) == (
        client_id or None,
        user_name or None,
    )


# --- device names -------------------------------------------------------------------------------
# Stored and looked up in one spelling: Unicode NFC, without leading or trailing spaces, so the
# name a buyer types (on a phone that sends NFD, with a stray space) finds the device.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
_INVISIBLE_CATEGORIES = frozenset({"Zs", "Cf"})


def normalize_device_name(name: str) -> str:
    """NFC, without leading or trailing spaces (any Unicode space separator)."""
    normalized = unicodedata.normalize("NFC", name)
    start, end = 0, len(normalized)
    while start < end and unicodedata.category(normalized[start]) == "Zs":
        start += 1
    while end > start and unicodedata.category(normalized[end - 1]) == "Zs":
        end -= 1
    return normalized[start:end]


def device_name_problem(name: str) -> str | None:
    """Why a (normalized) name cannot be a device name, or ``None``. Control characters
    (newline, tab...), line separators and bidirectional overrides are refused: they make a
    name that cannot be typed back, or that shows other than it is."""
    if all(unicodedata.category(ch) in _INVISIBLE_CATEGORIES for ch in name):
        return "Device name should be specified!"
    if any(unicodedata.category(ch) in _REFUSED_CATEGORIES or ch in _BIDI_CONTROLS for ch in name):
        return "Device name must not contain control characters"
    if len(name) > DEVICE_NAME_MAX_LENGTH:
        return f"Device name must be at most {DEVICE_NAME_MAX_LENGTH} characters"
    return None


def is_storable_text(text: str) -> bool:
    """Whether every database can hold ``text``: no NUL, no lone UTF-16 surrogate."""
    return "\x00" not in text and not any("\ud800" <= ch <= "\udfff" for ch in text)
