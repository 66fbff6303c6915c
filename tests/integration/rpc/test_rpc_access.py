"""Who may call a device and read its stored calls: the tenant's admin and the owning
customer's users; another customer's user is refused (403), another tenant does not see the
device (404), the system admin is refused (403, as ThingsBoard), no token is 401. After a
release the former owner's pending calls are cancelled and its access ends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from gridlinks.bootstrap import Platform
from tests.integration.factories import Account, Api, create_tenant_admin_quickly
from tests.integration.rpc.conftest import Simulate
from tests.integration.rpc.devices import Shop, echo, open_shop

LIVE = {"method": "getState", "params": {}}
PERSISTENT = {**LIVE, "persistent": True, "timeout": 60_000}

Request = Callable[[httpx.AsyncClient, Shop, dict[str, str], str], Awaitable[httpx.Response]]


async def _twoway(client: httpx.AsyncClient, shop: Shop, h: dict[str, str], _: str) -> Any:
    return await client.post(f"/api/plugins/rpc/twoway/{shop.device_id}", headers=h, json=LIVE)


async def _oneway(client: httpx.AsyncClient, shop: Shop, h: dict[str, str], _: str) -> Any:
    return await client.post(f"/api/rpc/oneway/{shop.device_id}", headers=h, json=LIVE)


async def _persist(client: httpx.AsyncClient, shop: Shop, h: dict[str, str], _: str) -> Any:
    return await client.post(f"/api/rpc/twoway/{shop.device_id}", headers=h, json=PERSISTENT)


async def _read(client: httpx.AsyncClient, _shop: Shop, h: dict[str, str], rpc: str) -> Any:
    return await client.get(f"/api/rpc/persistent/{rpc}", headers=h)


async def _list(client: httpx.AsyncClient, shop: Shop, h: dict[str, str], _: str) -> Any:
    path = f"/api/rpc/persistent/device/{shop.device_id}?pageSize=5&page=0"
    return await client.get(path, headers=h)


async def _delete(client: httpx.AsyncClient, _shop: Shop, h: dict[str, str], rpc: str) -> Any:
    return await client.delete(f"/api/rpc/persistent/{rpc}", headers=h)


ENDPOINTS = [_twoway, _oneway, _persist, _read, _list, _delete]


async def _stored_call(api: Api, shop: Shop) -> str:
    response = await _persist(api.client, shop, shop.tenant.headers, "")
    return str(response.json()["rpcId"])


async def _callers(api: Api, shop: Shop) -> dict[str, tuple[dict[str, str], int]]:
    outsider: Account = await create_tenant_admin_quickly(api)
    return {
        "tenant admin": (shop.tenant.headers, 200),
        "owning customer's user": (shop.owner.headers, 200),
        "another customer's user": (shop.stranger.headers, 403),
        "another tenant's admin": (outsider.headers, 404),
        "system admin": (api.sysadmin.headers, 403),
        "nobody": ({}, 401),
    }


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.__name__.strip("_"))
async def test_every_rpc_endpoint_answers_each_caller_as_thingsboard(
    simulate: Simulate, api: Api, platform: Platform, endpoint: Request
) -> None:
    shop = await open_shop(api)
    simulate(shop.device_id, answer=echo)
    for who, (headers, expected) in (await _callers(api, shop)).items():
        if endpoint is _delete and who == "owning customer's user":
            expected = 403  # ThingsBoard: only tenant administrators delete stored calls
        rpc_id = await _stored_call(api, shop)
        response = await endpoint(api.client, shop, headers, rpc_id)
        assert response.status_code == expected, (who, response.status_code, response.text)


async def test_an_unknown_stored_call_is_404(api: Api) -> None:
    shop = await open_shop(api)
    missing = "0e0c5b0e-0000-4000-8000-000000000000"
    response = await api.client.get(f"/api/rpc/persistent/{missing}", headers=shop.owner.headers)
    assert response.status_code == 404


async def test_a_release_cancels_the_former_owners_pending_calls(
    simulate: Simulate, api: Api, platform: Platform
) -> None:
    shop = await open_shop(api)
    owners = (await _persist(api.client, shop, shop.owner.headers, "")).json()["rpcId"]
    tenants = await _stored_call(api, shop)
    released = await api.client.delete(
        f"/api/customer/device/{shop.device_name}/claim", headers=shop.owner.headers
    )
    assert released.status_code == 200, released.text
    cancelled = await api.ok("GET", f"/api/rpc/persistent/{owners}", shop.tenant)
    assert cancelled["status"] == "FAILED"
    assert "changed owner" in cancelled["response"]["error"]
    kept = await api.ok("GET", f"/api/rpc/persistent/{tenants}", shop.tenant)
    assert kept["status"] == "QUEUED"
    device = simulate(shop.device_id)
    await platform.rpc.device_connected(shop.device_id)
    assert [str(call.rpc_id) for call in device.calls] == [tenants]


async def test_after_a_release_the_former_owner_can_neither_call_nor_read(
    simulate: Simulate, api: Api, platform: Platform
) -> None:
    shop = await open_shop(api)
    simulate(shop.device_id, answer=echo)
    rpc_id = (await _persist(api.client, shop, shop.owner.headers, "")).json()["rpcId"]
    await api.ok("DELETE", f"/api/customer/device/{shop.device_id}", shop.tenant)
    for endpoint in ENDPOINTS:
        response = await endpoint(api.client, shop, shop.owner.headers, rpc_id)
        assert response.status_code == 403, (endpoint.__name__, response.text)


async def test_a_customer_user_without_rpc_call_may_read_but_not_call(
    simulate: Simulate, api: Api, platform: Platform
) -> None:
    shop = await open_shop(api)
    simulate(shop.device_id, answer=echo)
    rpc_id = await _stored_call(api, shop)
    reader = await _reader(api, shop)
    for endpoint, expected in ((_twoway, 403), (_persist, 403), (_delete, 403), (_read, 200)):
        response = await endpoint(api.client, shop, reader.headers, rpc_id)
        assert response.status_code == expected, (endpoint.__name__, response.text)


async def _reader(api: Api, shop: Shop) -> Account:
    """A user of the owning customer whose only role allows READ on devices."""
    from tests.integration.factories import create_customer_user_quickly

    role = await api.ok(
        "POST",
        "/api/role",
        shop.tenant,
        json={"name": "Readers", "type": "GENERIC", "permissions": {"DEVICE": ["READ"]}},
    )
    group = await api.ok(
        "POST",
        "/api/entityGroup",
        shop.tenant,
        json={
            "name": "Readers",
            "type": "USER",
            "ownerId": {"entityType": "CUSTOMER", "id": shop.customer_id},
        },
    )
    await api.ok(
        "POST",
        "/api/groupPermission",
        shop.tenant,
        json={"roleId": role["id"], "userGroupId": group["id"]},
    )
    customer = {"id": {"entityType": "CUSTOMER", "id": shop.customer_id}}
    reader = await create_customer_user_quickly(
        api, shop.tenant, customer, f"&entityGroupId={group['id']['id']}"
    )
    return reader
