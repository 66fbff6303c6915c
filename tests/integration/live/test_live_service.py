"""``LiveService`` on a real database and bus: fan-out, authorization, access that follows
ownership. The WebSocket itself is covered end to end in tests/e2e/test_live_websocket.py."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from gridlinks.bootstrap import Platform
from gridlinks.live.domain import (
    MAX_SUBSCRIPTIONS_PER_SESSION,
    ClientMessage,
    History,
    Subscribe,
    Unsubscribe,
)
from gridlinks.live.session import Ending, LiveSession
from gridlinks.telemetry.domain import DataPoint
from tests.integration.claiming.conftest import Shop, claim, open_window, release
from tests.integration.factories import Account

FRAME_TIMEOUT_SECONDS = 2.0


async def open_session(platform: Platform, account: Account) -> LiveSession:
    principal = await platform.live.authenticate(account.token)
    return platform.live.open_session(principal, account.token)


async def subscribe(
    platform: Platform, session: LiveSession, device_id: str, cmd_id: int = 1
) -> None:
    command = Subscribe(cmd_id, "TIMESERIES", uuid.UUID(device_id))
    await platform.live.handle(session, ClientMessage(None, (command,)))


async def next_frame(session: LiveSession) -> dict[str, Any]:
    frame = await asyncio.wait_for(session.next_frame(), FRAME_TIMEOUT_SECONDS)
    assert isinstance(frame, str), frame
    decoded: dict[str, Any] = json.loads(frame)
    return decoded


async def store(platform: Platform, device_id: str, **values: Any) -> None:
    points = [DataPoint(key, platform.clock.now_ms(), value) for key, value in values.items()]
    await platform.telemetry_writer.write(uuid.UUID(device_id), points)


async def claimed(shop: Shop) -> None:
    await open_window(shop.api, shop.token, "key")
    response = await claim(shop.api, shop.buyer, shop.name, "key")
    assert response.status_code == 200, response.text


async def test_a_thousand_subscribers_of_one_device_get_the_update_within_one_second(
    platform: Platform, shop: Shop
) -> None:
    principal = await platform.live.authenticate(shop.tenant.token)
    sessions = [platform.live.open_session(principal, shop.tenant.token) for _ in range(1000)]
    for session in sessions:
        await subscribe(platform, session, shop.device_id)
        await next_frame(session)  # the (empty) latest values

    started = time.monotonic()
    await store(platform, shop.device_id, temperature=22.5)
    updates = [await next_frame(session) for session in sessions]
    elapsed = time.monotonic() - started

    assert elapsed < 1.0
    assert all(update["data"]["temperature"][0][1] == "22.5" for update in updates)


async def test_a_client_that_does_not_read_is_dropped_without_holding_up_others(
    platform: Platform, shop: Shop
) -> None:
    slow = await open_session(platform, shop.tenant)
    reader = await open_session(platform, shop.tenant)
    for session in (slow, reader):
        await subscribe(platform, session, shop.device_id)
    await next_frame(reader)

    for n in range(1001):  # the slow one never reads: its queue fills
        slow.offer({"n": n})
    await store(platform, shop.device_id, t=1)

    assert isinstance(slow.ended, Ending) and slow.ended.code == 1013
    assert (await next_frame(reader))["data"]["t"][0][1] == "1"


async def test_release_ends_the_buyers_subscription_with_unauthorized(
    platform: Platform, shop: Shop
) -> None:
    await claimed(shop)
    buyer = await open_session(platform, shop.buyer)
    await subscribe(platform, buyer, shop.device_id, cmd_id=5)
    assert (await next_frame(buyer))["errorCode"] == 0

    response = await release(shop.api, shop.buyer, shop.name)
    assert response.status_code == 200, response.text
    ended = await next_frame(buyer)

    assert (ended["subscriptionId"], ended["errorCode"], ended["data"]) == (5, 3, None)
    assert platform.live.subscriber_count(uuid.UUID(shop.device_id)) == 0


async def test_unassign_by_the_tenant_ends_the_customer_subscription_only(
    platform: Platform, shop: Shop
) -> None:
    await claimed(shop)
    buyer = await open_session(platform, shop.buyer)
    admin = await open_session(platform, shop.tenant)
    for session in (buyer, admin):
        await subscribe(platform, session, shop.device_id)
        await next_frame(session)

    await shop.api.ok("DELETE", f"/api/customer/device/{shop.device_id}", shop.tenant)

    assert (await next_frame(buyer))["errorCode"] == 3
    await store(platform, shop.device_id, after=1)
    assert (await next_frame(admin))["data"]["after"][0][1] == "1"


async def test_another_customers_user_gets_permission_denied_and_no_data(
    platform: Platform, shop: Shop
) -> None:
    await claimed(shop)
    customer = await shop.api.create_customer(shop.tenant)
    stranger = await shop.api.create_customer_user(shop.tenant, customer)
    session = await open_session(platform, stranger)
    await subscribe(platform, session, shop.device_id)
    refused = await next_frame(session)

    assert (refused["errorCode"], refused["data"]) == (3, None)
    assert platform.live.subscriber_count(uuid.UUID(shop.device_id)) == 0


async def test_another_tenants_admin_gets_not_found(platform: Platform, shop: Shop) -> None:
    other = await shop.api.create_tenant_admin()
    session = await open_session(platform, other)
    await subscribe(platform, session, shop.device_id)
    refused = await next_frame(session)

    assert (refused["errorCode"], refused["errorMsg"], refused["data"]) == (
        2,
        "Device not found",
        None,
    )


async def test_closing_a_session_forgets_its_subscriptions(platform: Platform, shop: Shop) -> None:
    session = await open_session(platform, shop.tenant)
    await subscribe(platform, session, shop.device_id)
    assert platform.live.subscriber_count(uuid.UUID(shop.device_id)) == 1

    platform.live.close_session(session)

    assert platform.live.subscriber_count(uuid.UUID(shop.device_id)) == 0


async def subscribe_attributes(
    platform: Platform, session: LiveSession, device_id: str, scope: str | None, cmd_id: int
) -> None:
    command = Subscribe(cmd_id, "ATTRIBUTES", uuid.UUID(device_id), None, scope)
    await platform.live.handle(session, ClientMessage(None, (command,)))


async def test_attribute_subscription_follows_only_its_scope_and_sees_deletes(
    platform: Platform, shop: Shop
) -> None:
    session = await open_session(platform, shop.tenant)
    await subscribe_attributes(platform, session, shop.device_id, "SHARED_SCOPE", 1)
    assert (await next_frame(session))["data"] == {}
    path = f"/api/plugins/telemetry/DEVICE/{shop.device_id}"

    await shop.api.ok("POST", f"{path}/SERVER_SCOPE", shop.tenant, json={"hidden": 1})
    await shop.api.ok("POST", f"{path}/SHARED_SCOPE", shop.tenant, json={"mode": "eco"})
    written = await next_frame(session)
    await shop.api.ok("DELETE", f"{path}/SHARED_SCOPE?keys=mode", shop.tenant)
    deleted = await next_frame(session)

    assert written["data"] == {"mode": [[platform.clock.now_ms(), "eco"]]}
    assert deleted["data"] == {"mode": [[0, ""]]}


async def test_attribute_subscription_without_scope_starts_with_every_scope(
    platform: Platform, shop: Shop
) -> None:
    path = f"/api/plugins/telemetry/DEVICE/{shop.device_id}"
    await shop.api.ok("POST", f"{path}/SERVER_SCOPE", shop.tenant, json={"site": "north"})
    await shop.api.ok("POST", f"{path}/SHARED_SCOPE", shop.tenant, json={"mode": "eco"})
    session = await open_session(platform, shop.tenant)

    await subscribe_attributes(platform, session, shop.device_id, None, 2)
    first = await next_frame(session)

    assert set(first["data"]) == {"site", "mode"}


async def test_subscriptions_past_the_limit_get_an_error_frame(
    platform: Platform, shop: Shop
) -> None:
    session = await open_session(platform, shop.tenant)
    for cmd_id in range(MAX_SUBSCRIPTIONS_PER_SESSION + 1):
        await subscribe(platform, session, shop.device_id, cmd_id)
    frames = [await next_frame(session) for _ in range(MAX_SUBSCRIPTIONS_PER_SESSION + 1)]

    assert all(frame["errorCode"] == 0 for frame in frames[:-1])
    assert (frames[-1]["subscriptionId"], frames[-1]["errorCode"]) == (
        MAX_SUBSCRIPTIONS_PER_SESSION,
        2,
    )


async def test_unsubscribe_stops_the_updates(platform: Platform, shop: Shop) -> None:
    session = await open_session(platform, shop.tenant)
    await subscribe(platform, session, shop.device_id, cmd_id=4)
    await next_frame(session)

    await platform.live.handle(session, ClientMessage(None, (Unsubscribe(4),)))
    await store(platform, shop.device_id, ignored=1)

    assert platform.live.subscriber_count(uuid.UUID(shop.device_id)) == 0
    assert session.queued() == 0


async def test_history_of_another_customers_device_is_refused_without_data(
    platform: Platform, shop: Shop
) -> None:
    await claimed(shop)
    await store(platform, shop.device_id, secret=42)
    customer = await shop.api.create_customer(shop.tenant)
    stranger = await shop.api.create_customer_user(shop.tenant, customer)
    session = await open_session(platform, stranger)
    history = History(3, uuid.UUID(shop.device_id), None, 0, platform.clock.now_ms())

    await platform.live.handle(session, ClientMessage(None, (history,)))
    refused = await next_frame(session)

    assert (refused["subscriptionId"], refused["errorCode"], refused["data"]) == (3, 3, None)
