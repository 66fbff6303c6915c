"""The service the MQTT gateway topic ``v1/gateway/claim`` calls: one window per named device."""

from __future__ import annotations

import uuid

import pytest

from gridlinks.bootstrap import Platform
from gridlinks.devices.domain import Device
from gridlinks.devices.repository import DeviceRepository
from gridlinks.errors import BadRequestError
from tests.integration.claiming.conftest import (
    Shop,
    assert_claimed_by,
    assert_refused,
    claim,
    create_device_with_token,
    stored_windows,
)


async def announce_from_gateway(platform: Platform, shop: Shop, payload: object) -> dict[str, bool]:
    tenant_id = uuid.UUID(shop.device["tenantId"]["id"])

    async def resolve(name: str) -> Device:
        # Issue 4's gateway finds or creates the device; these tests pre-create them.
        async with platform.unit_of_work(write=False) as lookup:
            device = await DeviceRepository(lookup.connection).find_by_name(tenant_id, name)
        assert device is not None, name
        return device

    async with platform.unit_of_work() as uow:
        opened = await platform.claiming.announce_from_gateway(uow, payload, resolve)
        await uow.commit()
    return opened


async def test_a_gateway_opens_a_window_for_each_named_device(
    platform: Platform, shop: Shop
) -> None:
    second, _token = await create_device_with_token(shop.api, shop.tenant)
    payload = {shop.name: {"secretKey": "one", "durationMs": 60_000}, second["name"]: {}}
    opened = await announce_from_gateway(platform, shop, payload)
    assert opened == {shop.name: True, second["name"]: True}
    assert_claimed_by(await claim(shop.api, shop.buyer, shop.name, "one"), shop.customer)
    assert_claimed_by(await claim(shop.api, shop.buyer, second["name"], ""), shop.customer)


async def test_gateway_entries_that_are_not_objects_are_skipped(
    platform: Platform, shop: Shop
) -> None:
    payload = {shop.name: {"secretKey": "k"}, "Other": "not an object", "Third": [1]}
    assert await announce_from_gateway(platform, shop, payload) == {shop.name: True}


@pytest.mark.parametrize("payload", [{}, {"A": "x"}, ["A"], "A", None])
async def test_a_gateway_claim_without_any_valid_entry_is_refused(
    platform: Platform, shop: Shop, payload: object
) -> None:
    with pytest.raises(BadRequestError):
        await announce_from_gateway(platform, shop, payload)
    assert await stored_windows(platform, shop.device_id) == []


async def test_a_gateway_announcement_for_a_claimed_device_opens_nothing(
    platform: Platform, shop: Shop
) -> None:
    await announce_from_gateway(platform, shop, {shop.name: {"secretKey": "k"}})
    assert_claimed_by(await claim(shop.api, shop.buyer, shop.name, "k"), shop.customer)
    opened = await announce_from_gateway(platform, shop, {shop.name: {"secretKey": "k2"}})
    assert opened == {shop.name: False}
    assert_refused(await claim(shop.api, shop.buyer, shop.name, "k2"), "CLAIMED")
