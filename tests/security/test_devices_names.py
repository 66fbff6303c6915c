"""Defect 11: every device name that can be created can be claimed and found by name.

Names are stored in one spelling: Unicode NFC, leading and trailing spaces trimmed. Control
characters (newline, tab, escape, bidirectional overrides, line separators) and blank names are
refused at creation and rename. Lookups by name (claim, release, ``deviceName=``) spell the
name they are given the same way, so an NFD-typed name finds the NFC-stored device.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import httpx
import pytest

from gridlinks.kit.clock import SystemClock
from tests.integration.factories import (
    Account,
    Api,
    create_customer_user_quickly,
    create_tenant_admin_quickly,
    expect_error,
    unique,
)
from tests.security.devices_support import device_id

pytestmark = pytest.mark.security

CAFE = "Caf\u00e9"  # NFC
CAFE_NFD = unicodedata.normalize("NFD", CAFE)


async def create(api: Api, tenant: Account, name: str) -> httpx.Response:
    return await api.client.post("/api/device", headers=tenant.headers, json={"name": name})


async def claim(
    api: Api, tenant: Account, buyer: Account, device: dict[str, Any], name: str
) -> Any:
    """Open a claim window on ``device`` and claim it by ``name`` as ``buyer``."""
    secret = unique("claim-key")
    expiry = SystemClock().now_ms() + 600_000
    await api.ok(
        "POST",
        f"/api/plugins/telemetry/DEVICE/{device_id(device)}/SERVER_SCOPE",
        tenant,
        json={"claimingData": {"secretKey": secret, "expirationTime": expiry}},
    )
    response = await api.client.post(
        f"/api/customer/device/{name}/claim", headers=buyer.headers, json={"secretKey": secret}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def tenant_and_buyer(api: Api) -> tuple[Account, Account]:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    return tenant, await create_customer_user_quickly(api, tenant, customer)


@pytest.mark.parametrize(
    "name",
    [
        "Boiler\n7",
        "Boiler 7\n",
        "\tBoiler",
        "Boiler\r\n7",
        "Boiler\x1b[2J",
        "\u202eBoiler",
        "Boiler\u2028",
    ],
)
async def test_names_with_control_characters_are_refused(api: Api, name: str) -> None:
    tenant = await create_tenant_admin_quickly(api)

    body = expect_error(await create(api, tenant, name), 400, 30)

    assert body["message"] == "Device name must not contain control characters"


@pytest.mark.parametrize("name", [" ", "    ", "\u3000", "\u00a0\u200b"])
async def test_blank_names_are_refused(api: Api, name: str) -> None:
    tenant = await create_tenant_admin_quickly(api)

    body = expect_error(await create(api, tenant, name), 400, 30)

    assert body["message"] == "Device name should be specified!"


async def test_renaming_to_a_name_with_control_characters_is_refused(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    device = await api.create_device(tenant)

    renamed = await api.client.post(
        "/api/device", headers=tenant.headers, json={**device, "name": "Boiler\n7"}
    )

    expect_error(renamed, 400, 30)
    assert (await api.ok("GET", f"/api/device/{device_id(device)}", tenant))["name"] == device[
        "name"
    ]


async def test_nfc_and_nfd_spellings_are_one_device(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    name = f"{CAFE} {unique('meter')}"
    created = await create(api, tenant, unicodedata.normalize("NFD", name))
    assert created.status_code == 200, created.text

    again = await create(api, tenant, name)

    assert created.json()["name"] == name  # stored NFC
    assert expect_error(again, 400, 31)["message"] == "Device with such name already exists!"


async def test_leading_and_trailing_spaces_are_trimmed(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    name = unique("Boiler")

    created = await create(api, tenant, f"  {name}\u00a0 ")

    assert created.json()["name"] == name
    assert (await create(api, tenant, name)).status_code == 400


async def test_a_device_created_with_an_nfd_name_is_claimed_by_its_nfc_name(api: Api) -> None:
    tenant, buyer = await tenant_and_buyer(api)
    name = f"{CAFE} {unique('meter')}"
    device = (await create(api, tenant, unicodedata.normalize("NFD", name))).json()

    answer = await claim(api, tenant, buyer, device, name)

    assert answer["response"] == "SUCCESS"


async def test_a_device_is_claimed_by_a_name_typed_in_nfd_with_stray_spaces(api: Api) -> None:
    tenant, buyer = await tenant_and_buyer(api)
    name = f"{CAFE} {unique('meter')}"
    device = (await create(api, tenant, name)).json()

    answer = await claim(api, tenant, buyer, device, f" {unicodedata.normalize('NFD', name)} ")

    assert answer["response"] == "SUCCESS"
    mine = await api.ok("GET", "/api/user/devices?pageSize=10&page=0", buyer)
    assert [d["name"] for d in mine["data"]] == [name]


async def test_lookups_by_name_find_the_device_in_either_spelling(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    name = f"{CAFE} {unique('meter')}"
    device = (await create(api, tenant, name)).json()

    for spelled in (name, unicodedata.normalize("NFD", name), f"{name} "):
        for path in ("/api/tenant/devices", "/api/tenant/device"):
            found = await api.ok("GET", path, tenant, params={"deviceName": spelled})
            assert found["id"] == device["id"], (path, spelled)
