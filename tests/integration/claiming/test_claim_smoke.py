"""The ThingsBoard claim sequence over the device HTTP API, in process."""

from __future__ import annotations

from tests.integration.factories import (
    Api,
    create_customer_user_quickly,
    create_tenant_admin_quickly,
)


async def test_thingsboard_sequence_expired_then_success_then_claimed(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    buyer = await create_customer_user_quickly(api, tenant, customer)
    device = await api.client.post(
        "/api/device?accessToken=smoke-token-1", headers=tenant.headers, json={"name": "Smoke-1"}
    )
    assert device.status_code == 200, device.text
    path = "/api/customer/device/Smoke-1/claim"

    opened = await api.client.post(
        "/api/v1/smoke-token-1/claim", json={"secretKey": "value", "durationMs": 1}
    )
    assert opened.status_code == 200 and opened.content == b""
    import asyncio

    await asyncio.sleep(0.01)
    expired = await api.client.post(path, headers=buyer.headers, json={"secretKey": "value"})
    assert (expired.status_code, expired.json()) == (400, "FAILURE")

    opened = await api.client.post(
        "/api/v1/smoke-token-1/claim", json={"secretKey": "value", "durationMs": 60000}
    )
    assert opened.status_code == 200
    claimed = await api.client.post(path, headers=buyer.headers, json={"secretKey": "value"})
    assert claimed.status_code == 200, claimed.text
    body = claimed.json()
    assert body["response"] == "SUCCESS"
    assert body["device"]["customerId"]["id"] == customer["id"]["id"]

    again = await api.client.post(path, headers=buyer.headers, json={"secretKey": "value"})
    assert (again.status_code, again.json()) == (400, "CLAIMED")

    logs = await api.client.get("/api/audit/logs?pageSize=10&page=0", headers=tenant.headers)
    assert logs.status_code == 200, logs.text
    reasons = [e["actionFailureDetails"] for e in logs.json()["data"]]
    assert reasons == ["claim refused: already claimed", None, "claim refused: expired"]
