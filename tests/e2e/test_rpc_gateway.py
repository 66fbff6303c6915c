"""RPC and shared attributes through a gateway: the unmodified ``TBGatewayMqttClient`` connects
a sub-device (``gw_connect_device``); a REST RPC to that sub-device reaches the handler set with
``gw_set_server_side_rpc_request_handler`` on ``v1/gateway/rpc`` as
``{"device", "data": {"id", "method", "params"}}``, and ``gw_send_rpc_reply`` answers it. A
shared attribute of the sub-device reaches ``gw_subscribe_to_attribute`` as
``{"device", "data": {...}}`` on ``v1/gateway/attributes``.

The gateway belongs to the buyer's customer, so its sub-devices do too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tb_gateway_mqtt import TBGatewayMqttClient

from tests.e2e.claiming_helpers import (
    ClaimingTenancy,
    set_up_claiming_tenancy,
    unique,
    unique_token,
)
from tests.e2e.mqtt_helpers import (
    acknowledged,
    create_gateway,
    save_attributes,
    wait_for_device,
    wait_until,
)
from tests.e2e.rpc_helpers import (
    MIN_TIMEOUT_MS,
    NO_ACTIVE_CONNECTION_STATUS,
    PLUGINS,
    RPC,
    GatewayRpcHandler,
    Recorder,
    send_rpc,
    tb_client,
)
from tests.e2e.running_server import Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def tenancy(server: Server) -> Iterator[ClaimingTenancy]:
    tenancy = set_up_claiming_tenancy(server)
    yield tenancy
    tenancy.close()


def gateway_token(tenancy: ClaimingTenancy) -> str:
    token = unique_token()
    create_gateway(tenancy.admin, unique("Gateway"), token, tenancy.buyer.customer_id)
    return token


def connect_sub_device(tenancy: ClaimingTenancy, gateway: TBGatewayMqttClient, name: str) -> str:
    """``gw_connect_device``, acknowledged: the sub-device exists, owned by the buyer."""
    info = gateway.gw_connect_device(name, "thermostat")
    assert info.get() == 0
    assert acknowledged(info)
    device = wait_for_device(tenancy.admin, name)
    assert device["customerId"]["id"] == tenancy.buyer.customer_id
    return str(device["id"]["id"])


def answer(data: Any) -> dict[str, Any]:
    return {"ok": True, "method": data["method"], "params": data["params"]}


@pytest.mark.parametrize("prefix", [PLUGINS, RPC], ids=["plugins", "rpc"])
def test_a_two_way_rpc_to_a_sub_device_is_answered_by_the_gateway(
    server: Server, tenancy: ClaimingTenancy, prefix: str
) -> None:
    token, name = gateway_token(tenancy), unique("Sub Thermostat")
    handler = GatewayRpcHandler(reply=answer)

    with tb_client(TBGatewayMqttClient, server.mqtt_address, token, handler) as gateway:
        sub_id = connect_sub_device(tenancy, gateway, name)
        response = send_rpc(tenancy.buyer.client, sub_id, "setPoint", {"value": 19}, prefix=prefix)

    assert response.status_code == 200, response.text
    assert response.json() == {"ok": True, "method": "setPoint", "params": {"value": 19}}
    [envelope] = handler.wait_for(1, "gateway RPC handler")
    assert envelope["device"] == name
    assert {k: envelope["data"][k] for k in ("method", "params")} == {
        "method": "setPoint",
        "params": {"value": 19},
    }
    assert isinstance(envelope["data"]["id"], int)


def test_a_one_way_rpc_to_a_sub_device_reaches_the_gateway_handler(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    token, name = gateway_token(tenancy), unique("Sub Relay")
    handler = GatewayRpcHandler()

    with tb_client(TBGatewayMqttClient, server.mqtt_address, token, handler) as gateway:
        sub_id = connect_sub_device(tenancy, gateway, name)
        response = send_rpc(tenancy.buyer.client, sub_id, "toggle", {"relay": 2}, oneway=True)
        [envelope] = handler.wait_for(1, "gateway one-way RPC")

    assert (response.status_code, response.content) == (200, b""), response.text
    assert envelope["device"] == name
    assert envelope["data"]["method"] == "toggle"
    assert envelope["data"]["params"] == {"relay": 2}


def test_calls_to_two_sub_devices_each_return_their_own_reply(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    token = gateway_token(tenancy)
    names = [unique("Sub A"), unique("Sub B")]
    handler = GatewayRpcHandler(reply=lambda data: {"from": data["params"]["to"]})

    with tb_client(TBGatewayMqttClient, server.mqtt_address, token, handler) as gateway:
        ids = [connect_sub_device(tenancy, gateway, name) for name in names]
        answers = [
            send_rpc(tenancy.buyer.client, sub_id, "whoAmI", {"to": name}).json()
            for sub_id, name in zip(ids, names, strict=True)
        ]

    assert answers == [{"from": names[0]}, {"from": names[1]}]
    assert [envelope["device"] for envelope in handler.wait_for(2)] == names


def test_a_sub_device_the_gateway_disconnected_has_no_active_connection(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    token, name = gateway_token(tenancy), unique("Sub Gone")
    handler = GatewayRpcHandler(reply=answer)

    with tb_client(TBGatewayMqttClient, server.mqtt_address, token, handler) as gateway:
        sub_id = connect_sub_device(tenancy, gateway, name)
        left = gateway.gw_disconnect_device(name)
        assert left.get() == 0
        wait_until(lambda: acknowledged(left), "gw_disconnect_device acknowledged")
        # The gateway itself is still connected; its sub-device is not.
        response = send_rpc(tenancy.buyer.client, sub_id, "ping", {}, timeout=MIN_TIMEOUT_MS)

    assert response.status_code == NO_ACTIVE_CONNECTION_STATUS[PLUGINS], response.text
    assert handler.calls == []


def test_a_shared_attribute_of_a_sub_device_reaches_the_gateways_callback(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    token, name = gateway_token(tenancy), unique("Sub Lamp")
    for_key, for_device = Recorder(), Recorder()

    with tb_client(TBGatewayMqttClient, server.mqtt_address, token) as gateway:
        sub_id = connect_sub_device(tenancy, gateway, name)
        gateway.gw_subscribe_to_attribute(name, "brightness", for_key.record)
        gateway.gw_subscribe_to_all_device_attributes(name, for_device.record)
        save_attributes(tenancy.admin, sub_id, "SHARED_SCOPE", {"brightness": 80})
        [pushed] = for_key.wait_for(1, "gw_subscribe_to_attribute callback")
        [same] = for_device.wait_for(1, "gw_subscribe_to_all_device_attributes callback")

    assert pushed == {"device": name, "data": {"brightness": 80}}
    assert same == pushed
