"""Helpers of the devices' security tests: set credentials, read telemetry back."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.integration.factories import Account, Api, unique

TELEMETRY = "v1/devices/me/telemetry"


def device_id(device: dict[str, Any]) -> str:
    return str(device["id"]["id"])


async def set_basic(
    api: Api, account: Account, device: dict[str, Any], **value: str
) -> httpx.Response:
    """``POST /api/device/credentials`` with MQTT basic credentials ``value``."""
    credentials = await api.ok("GET", f"/api/device/{device_id(device)}/credentials", account)
    credentials.update(credentialsType="MQTT_BASIC", credentialsValue=json.dumps(value))
    return await api.client.post(
        "/api/device/credentials", headers=account.headers, json=credentials
    )


async def set_token(
    api: Api, account: Account, device: dict[str, Any], token: str
) -> httpx.Response:
    """``POST /api/device/credentials`` with access token ``token``."""
    credentials = await api.ok("GET", f"/api/device/{device_id(device)}/credentials", account)
    credentials.update(credentialsType="ACCESS_TOKEN", credentialsId=token, credentialsValue=None)
    return await api.client.post(
        "/api/device/credentials", headers=account.headers, json=credentials
    )


async def create_with_token(api: Api, account: Account, token: str) -> httpx.Response:
    """``POST /api/device?accessToken=`` for a new device."""
    return await api.client.post(
        "/api/device",
        params={"accessToken": token},
        headers=account.headers,
        json={"name": unique("Device")},
    )


async def read_token(api: Api, account: Account, device: dict[str, Any]) -> str:
    credentials = await api.ok("GET", f"/api/device/{device_id(device)}/credentials", account)
    assert credentials["credentialsType"] == "ACCESS_TOKEN", credentials
    return str(credentials["credentialsId"])


async def latest_keys(api: Api, account: Account, device: dict[str, Any]) -> set[str]:
    """The telemetry keys a device has values for."""
    path = f"/api/plugins/telemetry/DEVICE/{device_id(device)}/keys/timeseries"
    return set(await api.ok("GET", path, account))
