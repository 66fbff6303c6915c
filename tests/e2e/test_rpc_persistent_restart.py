"""Persistent RPC (ThingsBoard 3.3+): sent while the device is offline, stored with state
``QUEUED``, delivered to the unmodified ``TBDeviceMqttClient`` when it next connects, and
``SUCCESSFUL`` (with the device's reply as ``response``) once answered - also when the server
that took the call was stopped and a new one started on the same database in between.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tb_device_mqtt import TBDeviceMqttClient

from tests.e2e.claiming_helpers import ClaimingTenancy, ok, set_up_claiming_tenancy
from tests.e2e.rpc_helpers import (
    DeviceRpcHandler,
    claimed_device,
    persistent_rpc,
    rebased,
    send_persistent_rpc,
    send_rpc,
    tb_client,
    wait_for_rpc_status,
)
from tests.e2e.running_server import Server, StartServer, stop

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def tenancy(server: Server) -> Iterator[ClaimingTenancy]:
    tenancy = set_up_claiming_tenancy(server)
    yield tenancy
    tenancy.close()


def reply_to(body: Any) -> dict[str, Any]:
    return {"applied": body["params"]}


def test_a_persistent_rpc_is_queued_while_the_device_is_offline(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device = claimed_device(tenancy)

    rpc_id = send_persistent_rpc(tenancy.buyer.client, device.id, "setMode", {"mode": "away"})

    rpc = persistent_rpc(tenancy.buyer.client, rpc_id)
    assert rpc["status"] == "QUEUED"
    assert rpc["id"] == {"entityType": "RPC", "id": rpc_id}
    assert rpc["deviceId"] == {"entityType": "DEVICE", "id": device.id}
    assert rpc["expirationTime"] > rpc["createdTime"]


def test_a_persistent_rpc_is_delivered_when_the_device_connects_and_becomes_successful(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device = claimed_device(tenancy)
    rpc_id = send_persistent_rpc(tenancy.buyer.client, device.id, "setMode", {"mode": "away"})
    handler = DeviceRpcHandler(reply=reply_to)

    with tb_client(TBDeviceMqttClient, server.mqtt_address, device.token, handler):
        [(_, body)] = handler.wait_for(1, "persistent RPC delivered on connect")
        rpc = wait_for_rpc_status(tenancy.buyer.client, rpc_id, "SUCCESSFUL")

    assert body == {"method": "setMode", "params": {"mode": "away"}}
    assert rpc["response"] == {"applied": {"mode": "away"}}
    listed = ok(
        tenancy.buyer.client.get(
            f"/api/rpc/persistent/device/{device.id}",
            params={"pageSize": 10, "page": 0, "rpcStatus": "SUCCESSFUL"},
        )
    )
    assert [item["id"]["id"] for item in listed["data"]] == [rpc_id]
    assert listed["totalElements"] == 1


def test_a_persistent_one_way_rpc_ends_delivered_once_the_device_acknowledged_it(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device = claimed_device(tenancy)
    rpc_id = send_persistent_rpc(
        tenancy.buyer.client, device.id, "blink", {"times": 3}, oneway=True
    )
    handler = DeviceRpcHandler()

    with tb_client(TBDeviceMqttClient, server.mqtt_address, device.token, handler):
        handler.wait_for(1, "persistent one-way RPC delivered")
        # ThingsBoard keeps a one-way call DELIVERED once the device acknowledged it (PUBACK):
        # there is no reply to make it SUCCESSFUL.
        rpc = wait_for_rpc_status(tenancy.buyer.client, rpc_id, "DELIVERED")

    assert rpc["response"] is None


def test_persistent_rpcs_are_delivered_in_the_order_they_were_sent(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device = claimed_device(tenancy)
    ids = [send_persistent_rpc(tenancy.buyer.client, device.id, "step", {"n": n}) for n in range(3)]
    handler = DeviceRpcHandler(reply=reply_to)

    with tb_client(TBDeviceMqttClient, server.mqtt_address, device.token, handler):
        calls = handler.wait_for(3, "three persistent RPCs")
        for rpc_id in ids:
            wait_for_rpc_status(tenancy.buyer.client, rpc_id, "SUCCESSFUL")

    assert [body["params"]["n"] for _, body in calls] == [0, 1, 2]


def test_a_deleted_persistent_rpc_is_never_delivered(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device = claimed_device(tenancy)
    rpc_id = send_persistent_rpc(tenancy.buyer.client, device.id, "wipe", {})
    deleted = tenancy.admin.delete(f"/api/rpc/persistent/{rpc_id}")
    assert deleted.status_code == 200, deleted.text
    handler = DeviceRpcHandler(reply=reply_to)

    with tb_client(TBDeviceMqttClient, server.mqtt_address, device.token, handler):
        # A live call after connecting: had the deleted one been delivered, it came first.
        live = send_rpc(tenancy.buyer.client, device.id, "hello", {})

    assert live.status_code == 200, live.text
    assert [body["method"] for _, body in handler.calls] == ["hello"]
    assert tenancy.buyer.client.get(f"/api/rpc/persistent/{rpc_id}").status_code == 404


def test_a_persistent_rpc_survives_a_server_restart_and_is_delivered_after_it(
    start_server: StartServer,
) -> None:
    first = start_server()
    tenancy = set_up_claiming_tenancy(first)
    try:
        device = claimed_device(tenancy)
        rpc_id = send_persistent_rpc(tenancy.buyer.client, device.id, "setMode", {"mode": "eco"})
        assert persistent_rpc(tenancy.buyer.client, rpc_id)["status"] == "QUEUED"
        stop(first)

        second = start_server()
        handler = DeviceRpcHandler(reply=reply_to)
        with (
            rebased(tenancy.buyer.client, second.base_url) as buyer,
            tb_client(TBDeviceMqttClient, second.mqtt_address, device.token, handler),
        ):
            [(_, body)] = handler.wait_for(1, "persistent RPC delivered after the restart")
            rpc = wait_for_rpc_status(buyer, rpc_id, "SUCCESSFUL")
    finally:
        tenancy.close()

    assert body == {"method": "setMode", "params": {"mode": "eco"}}
    assert rpc["response"] == {"applied": {"mode": "eco"}}
