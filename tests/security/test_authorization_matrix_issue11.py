"""Who may command and watch a device (issue 11): every RPC, shared-attribute and telemetry
endpoint called by six callers, each answer checked against the table.

Callers (columns, in this order):
  TA  the tenant administrator of tenant A (owner of everything below)
  CA  a customer administrator of C1, the customer that owns device D
  CU  a plain user of C1 (in C1's *Customer Users*: READ, READ_ATTRIBUTES, READ_TELEMETRY,
      RPC_CALL; no WRITE_ATTRIBUTES)
  OA  a customer administrator of C2, another customer of tenant A
  TB  the tenant administrator of tenant B
  AN  nobody signed in

As everywhere in GridLinks: another tenant's device (or RPC) is 404, its existence not
revealed; another customer's in the same tenant 403; no token 401. Persistent RPCs
(``"persistent": true``) answer ``{"rpcId"}`` at once, so no device needs to be connected.
ThingsBoard lets only tenant administrators delete a persistent RPC (``RpcV2Controller``:
``hasAnyAuthority('TENANT_ADMIN')``), so customer users get 403 there even for their own device.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration.factories import (
    Account,
    Api,
    create_customer_user_quickly,
    create_tenant_admin_quickly,
    expect_error,
)

pytestmark = pytest.mark.security

ROLES = ("TA", "CA", "CU", "OA", "TB", "AN")
ERROR_CODES = {401: 10, 403: 20, 404: 32}
RPC_BODY = {"method": "setGpio", "params": {"pin": 7, "value": 1}, "persistent": True}
PAGE = "pageSize=10&page=0"
TELEMETRY = "/api/plugins/telemetry/DEVICE"

Call = tuple[str, str, Any]


@dataclass
class World:
    api: Api
    callers: dict[str, Account | None]
    c1: dict[str, Any]
    device: dict[str, Any]

    @property
    def ta(self) -> Account:
        account = self.callers["TA"]
        assert account is not None
        return account

    @property
    def device_id(self) -> str:
        return str(self.device["id"]["id"])

    async def persistent_rpc(self) -> str:
        """A persistent RPC to D, sent by TA: its id."""
        answer = await self.api.ok(
            "POST", f"/api/plugins/rpc/oneway/{self.device_id}", self.ta, json=RPC_BODY
        )
        return str(answer["rpcId"])


async def build_world(api: Api) -> World:
    ta, tb = await create_tenant_admin_quickly(api), await create_tenant_admin_quickly(api)
    c1, c2 = await api.create_customer(ta), await api.create_customer(ta)

    async def admins_of(customer: dict[str, Any]) -> str:
        path = f"/api/entityGroup/CUSTOMER/{customer['id']['id']}/USER/Customer Administrators"
        group = await api.ok("GET", path, ta)
        return f"&entityGroupId={group['id']['id']}"

    device = await api.create_device(ta)
    await api.ok("POST", f"/api/customer/{c1['id']['id']}/device/{device['id']['id']}", ta)
    callers: dict[str, Account | None] = {
        "TA": ta,
        "CA": await create_customer_user_quickly(api, ta, c1, await admins_of(c1)),
        "CU": await create_customer_user_quickly(api, ta, c1),
        "OA": await create_customer_user_quickly(api, ta, c2, await admins_of(c2)),
        "TB": tb,
        "AN": None,
    }
    return World(api, callers, c1, device)


Build = Callable[[World], Awaitable[Call]]


@dataclass(frozen=True)
class Row:
    what: str
    expected: str  # one status per caller, in ROLES order
    build: Build


def fixed(method: str, path: Callable[[World], str], body: Any = None) -> Build:
    async def build(world: World) -> Call:
        return method, path(world), body

    return build


def on_new_rpc(method: str, path: Callable[[World, str], str]) -> Build:
    """A call about a persistent RPC made for it alone (a delete by one caller never changes
    what the next one meets)."""

    async def build(world: World) -> Call:
        return method, path(world, await world.persistent_rpc()), None

    return build


async def call(world: World, role: str, method: str, path: str, body: Any) -> Any:
    account = world.callers[role]
    headers = account.headers if account is not None else {}
    return await world.api.client.request(method, path, headers=headers, json=body)


async def run(world: World, rows: list[Row]) -> None:
    """Make every call; fail once, with every cell that differs from the table. A refusal
    must be ThingsBoard error JSON with the error code of its status."""
    wrong = []
    for row in rows:
        expected = row.expected.split()
        assert len(expected) == len(ROLES), row.what
        for role, status in zip(ROLES, expected, strict=True):
            method, path, body = await row.build(world)
            response = await call(world, role, method, path, body)
            got = response.status_code
            if got != int(status):
                wrong.append(f"{row.what} / {role}: {status} expected, got {got} {response.text}")
            elif got in ERROR_CODES:
                expect_error(response, got, ERROR_CODES[got])
    assert not wrong, "\n".join(wrong)


def rpc_rows() -> list[Row]:
    rows = []
    for prefix in ("/api/plugins/rpc", "/api/rpc"):
        for kind in ("oneway", "twoway"):
            rows.append(
                Row(
                    f"POST {prefix}/{kind} (persistent)",
                    "200 200 200 403 404 401",
                    fixed("POST", lambda w, p=prefix, k=kind: f"{p}/{k}/{w.device_id}", RPC_BODY),
                )
            )
    return rows


ROWS = [
    *rpc_rows(),
    Row(
        "GET /api/rpc/persistent/{rpcId}",
        "200 200 200 403 404 401",
        on_new_rpc("GET", lambda w, rpc: f"/api/rpc/persistent/{rpc}"),
    ),
    Row(
        "GET /api/rpc/persistent/device/{deviceId}",
        "200 200 200 403 404 401",
        fixed("GET", lambda w: f"/api/rpc/persistent/device/{w.device_id}?{PAGE}&rpcStatus=QUEUED"),
    ),
    Row(
        "DELETE /api/rpc/persistent/{rpcId}",
        "200 403 403 403 404 401",
        on_new_rpc("DELETE", lambda w, rpc: f"/api/rpc/persistent/{rpc}"),
    ),
    Row(
        "POST SHARED_SCOPE attributes",
        "200 200 403 403 404 401",
        fixed("POST", lambda w: f"{TELEMETRY}/{w.device_id}/SHARED_SCOPE", {"target": 21}),
    ),
    Row(
        "POST SHARED_SCOPE attributes (attributes/ path)",
        "200 200 403 403 404 401",
        fixed(
            "POST", lambda w: f"{TELEMETRY}/{w.device_id}/attributes/SHARED_SCOPE", {"eco": True}
        ),
    ),
    Row(
        "DELETE SHARED_SCOPE attributes",
        "200 200 403 403 404 401",
        fixed("DELETE", lambda w: f"{TELEMETRY}/{w.device_id}/SHARED_SCOPE?keys=target"),
    ),
    Row(
        "GET SHARED_SCOPE attributes",
        "200 200 200 403 404 401",
        fixed("GET", lambda w: f"{TELEMETRY}/{w.device_id}/values/attributes/SHARED_SCOPE"),
    ),
    Row(
        "GET attributes of every scope",
        "200 200 200 403 404 401",
        fixed("GET", lambda w: f"{TELEMETRY}/{w.device_id}/values/attributes"),
    ),
    Row(
        "GET attribute keys",
        "200 200 200 403 404 401",
        fixed("GET", lambda w: f"{TELEMETRY}/{w.device_id}/keys/attributes"),
    ),
    Row(
        "GET latest telemetry",
        "200 200 200 403 404 401",
        fixed("GET", lambda w: f"{TELEMETRY}/{w.device_id}/values/timeseries?keys=temperature"),
    ),
    Row(
        "GET telemetry keys",
        "200 200 200 403 404 401",
        fixed("GET", lambda w: f"{TELEMETRY}/{w.device_id}/keys/timeseries"),
    ),
]


async def test_every_issue_11_endpoint_answers_each_caller_as_the_table_says(api: Api) -> None:
    await run(await build_world(api), ROWS)


async def test_a_persistent_rpc_answers_its_id_at_once_and_reads_back_queued(api: Api) -> None:
    world = await build_world(api)
    rpc_id = await world.persistent_rpc()
    stored = await api.ok("GET", f"/api/rpc/persistent/{rpc_id}", world.ta)
    assert stored["id"]["id"] == rpc_id
    assert stored["deviceId"]["id"] == world.device_id
    assert stored["status"] == "QUEUED"


async def test_a_device_that_does_not_exist_is_404_for_its_own_tenant_admin(api: Api) -> None:
    world = await build_world(api)
    missing = "0d3c1a55-0000-4000-8000-00000000beef"
    for method, path, body in [
        ("POST", f"/api/plugins/rpc/twoway/{missing}", RPC_BODY),
        ("GET", f"/api/rpc/persistent/device/{missing}?{PAGE}&rpcStatus=QUEUED", None),
        ("GET", f"/api/rpc/persistent/{missing}", None),
        ("POST", f"{TELEMETRY}/{missing}/SHARED_SCOPE", {"target": 1}),
    ]:
        response = await call(world, "TA", method, path, body)
        expect_error(response, 404, 32)


async def test_an_rpc_id_or_device_id_that_is_not_a_uuid_is_a_400(api: Api) -> None:
    world = await build_world(api)
    for method, path, body in [
        ("POST", "/api/plugins/rpc/oneway/not-a-uuid", RPC_BODY),
        ("GET", "/api/rpc/persistent/not-a-uuid", None),
        ("DELETE", "/api/rpc/persistent/not-a-uuid", None),
    ]:
        response = await call(world, "TA", method, path, body)
        assert response.status_code == 400, (path, response.status_code, response.text)


async def test_after_a_release_the_former_owners_users_lose_access_at_once(api: Api) -> None:
    world = await build_world(api)
    before = [
        ("POST", f"/api/plugins/rpc/twoway/{world.device_id}", RPC_BODY),
        ("GET", f"/api/rpc/persistent/device/{world.device_id}?{PAGE}&rpcStatus=QUEUED", None),
        ("GET", f"{TELEMETRY}/{world.device_id}/values/attributes/SHARED_SCOPE", None),
        ("GET", f"{TELEMETRY}/{world.device_id}/values/timeseries?keys=temperature", None),
    ]
    for method, path, body in before:
        response = await call(world, "CU", method, path, body)
        assert response.status_code == 200, (path, response.status_code, response.text)
    name = world.device["name"]
    await api.ok("DELETE", f"/api/customer/device/{name}/claim", world.ta)
    for role in ("CU", "CA"):
        for method, path, body in before:
            expect_error(await call(world, role, method, path, body), 403, 20)
    for method, path, body in before:
        response = await call(world, "TA", method, path, body)
        assert response.status_code == 200, (path, response.status_code, response.text)


async def test_an_rpc_of_a_device_released_since_is_out_of_its_former_owners_reach(
    api: Api,
) -> None:
    world = await build_world(api)
    rpc_id = await world.persistent_rpc()
    response = await call(world, "CU", "GET", f"/api/rpc/persistent/{rpc_id}", None)
    assert response.status_code == 200, response.text
    await api.ok("DELETE", f"/api/customer/device/{world.device['name']}/claim", world.ta)
    expect_error(await call(world, "CU", "GET", f"/api/rpc/persistent/{rpc_id}", None), 403, 20)
