"""Twenty customers race for one device over twenty real connections to ``gridlinks serve``.

The same rounds as ``tests/integration/test_claim_concurrency.py``, but every buyer has its own
HTTP client (its own TCP connection) to a server process, so the claims of a round arrive
together at uvicorn and, on PostgreSQL, meet in the database on separate pooled connections.
"""

from __future__ import annotations

import time
from contextlib import AsyncExitStack

import httpx
import pytest

from tests.e2e.running_server import Server, StartServer
from tests.integration.factories import (
    Api,
    create_customer_user_quickly,
    create_tenant_admin_quickly,
    login,
)
from tests.integration.test_claim_concurrency import (
    BUYERS,
    CLAIM_ATTEMPTS_PER_MINUTE,
    NO_ADDRESS_LIMIT,
    assert_audited_as,
    claim_audit_entries,
    create_buyers,
    create_raced_device,
    run_rounds,
)

pytestmark = pytest.mark.e2e

ROUNDS = 20
TIMEOUT_SECONDS = 30.0
# A claim takes a few milliseconds; a delayed ACK holds an answer back for 40 ms or more.
PROMPT_ANSWER_SECONDS = 0.025


async def signed_in_api(server: Server, client: httpx.AsyncClient) -> Api:
    return Api(client, await login(client, server.sysadmin_email, server.sysadmin_password))


async def test_exactly_one_of_twenty_claims_on_separate_connections_wins_every_round(
    start_server: StartServer,
) -> None:
    server = start_server(
        claim_user_attempts_per_minute=str(CLAIM_ATTEMPTS_PER_MINUTE),
        claim_address_attempts_per_minute=str(NO_ADDRESS_LIMIT),
    )
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=server.base_url, timeout=TIMEOUT_SECONDS)
            )
            for _ in range(BUYERS + 1)
        ]
        api = await signed_in_api(server, clients[0])
        tenant = await create_tenant_admin_quickly(api)
        buyers = await create_buyers(api, tenant, clients[1:])
        device = await create_raced_device(api, tenant)

        winners = await run_rounds(api, tenant, buyers, device, ROUNDS)

        entries = await claim_audit_entries(api, tenant, device)
    assert_audited_as(entries, winners, losers=ROUNDS * (BUYERS - 1))
    assert "Traceback" not in server.log_text()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_claim_answers_on_a_kept_alive_connection_are_not_held_back(
    start_server: StartServer,
) -> None:
    server = start_server()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=TIMEOUT_SECONDS) as client:
        api = await signed_in_api(server, client)
        tenant = await create_tenant_admin_quickly(api)
        buyer = await create_customer_user_quickly(api, tenant, await api.create_customer(tenant))
        device = await create_raced_device(api, tenant)
        path = f"/api/customer/device/{device.name}/claim"
        durations = []
        for _ in range(11):
            started = time.perf_counter()
            response = await client.post(path, headers=buyer.headers, json={"secretKey": ""})
            durations.append(time.perf_counter() - started)
            assert (response.status_code, response.json()) == (400, "FAILURE")

    # A delayed-ACK stall holds back every answer on the connection, so even the fastest would
    # take 40 ms; the fastest is used because a busy CI machine slows the others down.
    assert min(durations) < PROMPT_ANSWER_SECONDS, durations
