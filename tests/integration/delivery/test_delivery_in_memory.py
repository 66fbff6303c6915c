"""``platform.delivery`` on one node with the in-memory bus (the embedded mode)."""

from __future__ import annotations

import logging
import uuid

import pytest

from gridlinks.bootstrap import Platform
from gridlinks.bus.base import Event
from gridlinks.delivery.messages import TO_DEVICE, AttributePush, CloseConnection, RpcCall
from tests.integration.delivery.links import RecordingLink


@pytest.fixture
async def node(platform: Platform) -> Platform:
    await platform.start()
    return platform


async def test_a_message_for_a_connected_device_is_delivered_at_once(node: Platform) -> None:
    device, link = uuid.uuid4(), RecordingLink()
    node.delivery.links.register(device, link)
    call = RpcCall(device, 1, "reboot", {"delay": 5})
    assert await node.delivery.send(call) is True
    assert link.offered.get_nowait() == call
    assert link.offered.empty()


async def test_a_device_with_no_link_is_offline_and_not_delivered_to(node: Platform) -> None:
    device = uuid.uuid4()
    node.delivery.links.register(uuid.uuid4(), RecordingLink())
    assert await node.delivery.online(device) is False
    assert await node.delivery.send(RpcCall(device, 1, "reboot")) is False


async def test_a_device_is_online_while_it_has_a_link(node: Platform) -> None:
    device = uuid.uuid4()
    remove = node.delivery.links.register(device, RecordingLink())
    assert await node.delivery.online(device) is True
    remove()
    assert await node.delivery.online(device) is False
    assert await node.delivery.send(AttributePush(device, {"fw": "2.0"})) is False


async def test_a_message_the_only_link_declines_is_offered_once_and_not_delivered(
    node: Platform,
) -> None:
    device, link = uuid.uuid4(), RecordingLink(takes=False)
    node.delivery.links.register(device, link)
    assert await node.delivery.send(AttributePush(device, deleted=("fw",))) is False
    assert link.offered.qsize() == 1  # the bus brings this node's own message back: ignored


async def test_close_reaches_every_link_exactly_once(node: Platform) -> None:
    device, mqtt, poll = uuid.uuid4(), RecordingLink(), RecordingLink()
    node.delivery.links.register(device, mqtt)
    node.delivery.links.register(device, poll)
    close = CloseConnection(device, "deleted")
    assert await node.delivery.send(close) is True
    assert [mqtt.offered.qsize(), poll.offered.qsize()] == [1, 1]


async def test_a_message_published_on_the_bus_by_another_node_reaches_the_link(
    node: Platform,
) -> None:
    device, link = uuid.uuid4(), RecordingLink()
    node.delivery.links.register(device, link)
    data = {"kind": "rpc", "deviceId": str(device), "requestId": 9, "method": "m", "origin": "x"}
    await node.bus.publish(Event(TO_DEVICE, data))
    assert link.offered.get_nowait() == RpcCall(device, 9, "m")


async def test_a_malformed_bus_message_is_logged_and_ignored(
    node: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    device, link = uuid.uuid4(), RecordingLink()
    node.delivery.links.register(device, link)
    with caplog.at_level(logging.WARNING, logger="gridlinks.delivery"):
        await node.bus.publish(Event(TO_DEVICE, {"kind": "rpc", "deviceId": str(device)}))
    assert link.offered.empty()
    assert "malformed" in caplog.text
    assert await node.delivery.send(RpcCall(device, 2, "still-works")) is True


async def test_after_close_the_node_no_longer_hears_bus_messages(node: Platform) -> None:
    device, link = uuid.uuid4(), RecordingLink()
    node.delivery.links.register(device, link)
    await node.delivery.close()
    data = {"kind": "close", "deviceId": str(device), "reason": "deleted", "origin": "x"}
    await node.bus.publish(Event(TO_DEVICE, data))
    assert link.offered.empty()
