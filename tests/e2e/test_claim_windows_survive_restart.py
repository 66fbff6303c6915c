"""Claim windows live in the database: a restarted server still honours them (SPEC 3.1).

One device announces its window, another gets ``claimingData`` from its tenant; the server
stops (SIGTERM, exit 0) and a new one starts on the same database, where the buyer claims both.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gridlinks.kit.clock import SystemClock
from tests.e2e.running_server import Server, StartServer, stop
from tests.integration.factories import (
    Account,
    Api,
    create_customer_user_quickly,
    create_tenant_admin_quickly,
    login,
    unique,
)

pytestmark = pytest.mark.e2e

WINDOW_MS = 3_600_000
DEVICE_KEY = "key-announced-before-restart"
SERVER_KEY = "key-written-before-restart"


async def signed_in_api(server: Server, client: httpx.AsyncClient) -> Api:
    return Api(client, await login(client, server.sysadmin_email, server.sysadmin_password))


async def open_windows(server: Server) -> tuple[Account, str, str]:
    """A buyer, a device that announced a window, and one with claimingData; their names."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        api = await signed_in_api(server, client)
        tenant = await create_tenant_admin_quickly(api)
        buyer = await create_customer_user_quickly(api, tenant, await api.create_customer(tenant))
        announcing, token = unique("Announcing"), unique("restart-token")
        await api.ok("POST", f"/api/device?accessToken={token}", tenant, json={"name": announcing})
        body = {"secretKey": DEVICE_KEY, "durationMs": WINDOW_MS}
        announced = await client.post(f"/api/v1/{token}/claim", json=body)
        assert announced.status_code == 200, announced.text
        labelled = await api.create_device(tenant)
        claiming_data = {
            "secretKey": SERVER_KEY,
            "expirationTime": SystemClock().now_ms() + WINDOW_MS,
        }
        await api.ok(
            "POST",
            f"/api/plugins/telemetry/DEVICE/{labelled['id']['id']}/SERVER_SCOPE",
            tenant,
            json={"claimingData": claiming_data},
        )
    return buyer, announcing, labelled["name"]


async def claim(server: Server, buyer: Account, device_name: str, secret_key: str) -> Any:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        response = await client.post(
            f"/api/customer/device/{device_name}/claim",
            headers=buyer.headers,
            json={"secretKey": secret_key},
        )
    return response.status_code, response.json()


async def test_windows_opened_before_a_restart_can_be_claimed_after_it(
    start_server: StartServer,
) -> None:
    first = start_server()
    buyer, announcing, labelled = await open_windows(first)
    stop(first)

    second = start_server()
    announced_claim = await claim(second, buyer, announcing, DEVICE_KEY)
    labelled_claim = await claim(second, buyer, labelled, SERVER_KEY)

    assert announced_claim[0] == 200 and announced_claim[1]["response"] == "SUCCESS"
    assert labelled_claim[0] == 200 and labelled_claim[1]["response"] == "SUCCESS"
    assert announced_claim[1]["device"]["customerId"]["id"] == buyer.user["customerId"]["id"]
