"""Two ``gridlinks serve`` processes on one PostgreSQL database and one Redis (the same
``GRIDLINKS_DATABASE_URL``, ``GRIDLINKS_REDIS_URL`` and secret key): the device holds its
connection to process A, the customer's user talks to process B. The RPC, its reply and the
shared-attribute push cross between them on the bus, and B knows whether the device is online
anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from tb_device_mqtt import TBDeviceMqttClient

from tests.conftest import REDIS_ENV
from tests.e2e.claiming_helpers import ClaimingTenancy, set_up_claiming_tenancy
from tests.e2e.mqtt_helpers import save_attributes
from tests.e2e.rpc_helpers import (
    NO_ACTIVE_CONNECTION_STATUS,
    PLUGINS,
    RPC,
    DeviceRpcHandler,
    Recorder,
    aside,
    claimed_device,
    long_poll,
    rebased,
    rpc_once_offline,
    rpc_while_polling,
    send_persistent_rpc,
    send_rpc,
    tb_client,
    wait_disconnected,
    wait_for_rpc_status,
)
from tests.e2e.running_server import Server, StartServer

# PostgreSQL only: two processes on one SQLite file is not a supported deployment.
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.redis,
    pytest.mark.parametrize(
        "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
    ),
]


@dataclass
class TwoNodes:
    a: Server  # holds the device's connection
    b: Server  # takes the REST calls
    tenancy: ClaimingTenancy  # signed in on A
    buyer_on_b: httpx.Client
    admin_on_b: httpx.Client


@pytest.fixture
def nodes(start_server: StartServer) -> Iterator[TwoNodes]:
    redis_url = os.environ.get(REDIS_ENV)
    if not redis_url:
        pytest.skip(f"Redis variant: set {REDIS_ENV}")
    a = start_server(redis_url=redis_url)
    b = start_server(redis_url=redis_url)
    tenancy = set_up_claiming_tenancy(a)
    buyer_on_b = rebased(tenancy.buyer.client, b.base_url)
    admin_on_b = rebased(tenancy.admin, b.base_url)
    try:
        yield TwoNodes(a, b, tenancy, buyer_on_b, admin_on_b)
    finally:
        for client in (buyer_on_b, admin_on_b):
            client.close()
        tenancy.close()


def echo(body: Any) -> dict[str, Any]:
    return {"echo": body["params"]}


@pytest.mark.parametrize("prefix", [PLUGINS, RPC], ids=["plugins", "rpc"])
def test_a_two_way_rpc_sent_through_b_is_answered_by_the_device_on_a(
    nodes: TwoNodes, prefix: str
) -> None:
    device = claimed_device(nodes.tenancy)
    handler = DeviceRpcHandler(reply=echo)

    with tb_client(TBDeviceMqttClient, nodes.a.mqtt_address, device.token, handler):
        response = send_rpc(nodes.buyer_on_b, device.id, "setLevel", {"level": 4}, prefix=prefix)

    assert response.status_code == 200, response.text
    assert response.json() == {"echo": {"level": 4}}
    [(_, body)] = handler.wait_for(1)
    assert body == {"method": "setLevel", "params": {"level": 4}}


def test_a_one_way_rpc_sent_through_b_reaches_the_device_on_a(nodes: TwoNodes) -> None:
    device = claimed_device(nodes.tenancy)
    handler = DeviceRpcHandler()

    with tb_client(TBDeviceMqttClient, nodes.a.mqtt_address, device.token, handler):
        response = send_rpc(nodes.buyer_on_b, device.id, "beep", {}, oneway=True)
        handler.wait_for(1, "one-way RPC crossing processes")

    assert response.status_code == 200, response.text


def test_a_shared_attribute_written_through_b_reaches_the_device_on_a(nodes: TwoNodes) -> None:
    device = claimed_device(nodes.tenancy)
    pushed = Recorder()

    with tb_client(TBDeviceMqttClient, nodes.a.mqtt_address, device.token) as client:
        client.subscribe_to_all_attributes(pushed.attribute_callback)
        save_attributes(nodes.admin_on_b, device.id, "SHARED_SCOPE", {"targetTemp": 18})
        [values] = pushed.wait_for(1, "attribute push crossing processes")

    assert values == {"targetTemp": 18}


def test_a_device_connected_to_neither_process_has_no_active_connection_on_b(
    nodes: TwoNodes,
) -> None:
    device = claimed_device(nodes.tenancy)
    handler = DeviceRpcHandler(reply=echo)
    with tb_client(TBDeviceMqttClient, nodes.a.mqtt_address, device.token, handler):
        assert send_rpc(nodes.buyer_on_b, device.id, "ping", 1).status_code == 200

    response = rpc_once_offline(nodes.buyer_on_b, device.id)

    assert response.status_code == NO_ACTIVE_CONNECTION_STATUS[PLUGINS], response.text
    assert len(handler.calls) == 1


def test_an_http_long_poll_on_a_gets_the_rpc_sent_through_b_and_b_returns_the_reply(
    nodes: TwoNodes,
) -> None:
    device = claimed_device(nodes.tenancy)

    with aside() as pool:
        poll = pool.submit(long_poll, nodes.a.base_url, device.token, "rpc")
        call = rpc_while_polling(
            pool,
            lambda: send_rpc(nodes.buyer_on_b, device.id, "read", {"reg": 7}),
            NO_ACTIVE_CONNECTION_STATUS[PLUGINS],
        )
        polled = poll.result(timeout=30)
        assert polled.status_code == 200, polled.text
        request_id = polled.json()["id"]
        answered = httpx.post(
            f"{nodes.a.base_url}/api/v1/{device.token}/rpc/{request_id}",
            json={"reg": 7, "value": 1234},
            timeout=10,
        )
        response = call.result(timeout=30)

    assert answered.status_code == 200, answered.text
    assert response.status_code == 200, response.text
    assert response.json() == {"reg": 7, "value": 1234}


def test_a_persistent_rpc_sent_through_b_is_delivered_when_the_device_connects_to_a(
    nodes: TwoNodes,
) -> None:
    device = claimed_device(nodes.tenancy)
    rpc_id = send_persistent_rpc(nodes.buyer_on_b, device.id, "setMode", {"mode": "night"})
    handler = DeviceRpcHandler(reply=echo)

    with tb_client(TBDeviceMqttClient, nodes.a.mqtt_address, device.token, handler):
        [(_, body)] = handler.wait_for(1, "persistent RPC delivered on A")
        rpc = wait_for_rpc_status(nodes.buyer_on_b, rpc_id, "SUCCESSFUL")

    assert body == {"method": "setMode", "params": {"mode": "night"}}
    assert rpc["response"] == {"echo": {"mode": "night"}}


def test_deleting_the_device_through_b_closes_its_connection_on_a(nodes: TwoNodes) -> None:
    device = claimed_device(nodes.tenancy)

    with tb_client(TBDeviceMqttClient, nodes.a.mqtt_address, device.token) as client:
        response = nodes.admin_on_b.delete(f"/api/device/{device.id}")
        assert response.status_code == 200, response.text
        wait_disconnected(client, "connection on A closed after the delete on B")
