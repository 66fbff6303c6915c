"""Devices that send telemetry over the HTTP device API, for the telemetry API tests."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from tests.integration.factories import Account, Api

TS = 1_700_000_000_000


@dataclass
class Sender:
    """A device of ``tenant`` with an access token."""

    id: str
    token: str
    tenant: Account


async def create_sender(api: Api, tenant: Account, **fields: Any) -> Sender:
    token = f"tok-{secrets.token_hex(8)}"
    body = {"name": f"Sensor-{secrets.token_hex(4)}", **fields}
    device = await api.ok("POST", f"/api/device?accessToken={token}", tenant, json=body)
    return Sender(device["id"]["id"], token, tenant)


async def post_telemetry(client: httpx.AsyncClient, token: str, payload: Any) -> httpx.Response:
    return await client.post(f"/api/v1/{token}/telemetry", json=payload)


async def send(client: httpx.AsyncClient, sender: Sender, payload: Any) -> None:
    response = await post_telemetry(client, sender.token, payload)
    assert response.status_code == 200, response.text
    assert response.content == b""


async def timeseries(api: Api, account: Account, device_id: str, **params: Any) -> Any:
    path = f"/api/plugins/telemetry/DEVICE/{device_id}/values/timeseries"
    return await api.ok("GET", path, account, params=params)
