"""The real, unmodified ThingsBoard gateway SDK (``tb_gateway_mqtt.TBGatewayMqttClient``)
against a real ``gridlinks serve``: a gateway device (``additionalInfo.gateway = true``) speaks
for sub-devices it names; GridLinks creates each one the first time it is named, owned by the
gateway's customer, and stores what the gateway sends for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from tb_gateway_mqtt import TBGatewayMqttClient

from tests.e2e.claiming_helpers import (
    NULL_UUID,
    ClaimingTenancy,
    claim,
    ok,
    set_up_claiming_tenancy,
    unique,
    unique_token,
)
from tests.e2e.mqtt_helpers import (
    acknowledged,
    connected_tb_client,
    owner_id,
    points_between,
    save_attributes,
    wait_for_attributes,
    wait_for_device,
    wait_for_latest,
)
from tests.e2e.mqtt_helpers import (
    create_gateway as create_gateway_device,
)
from tests.e2e.running_server import Server

pytestmark = pytest.mark.e2e


@pytest.fixture
def tenancy(server: Server) -> Iterator[ClaimingTenancy]:
    tenancy = set_up_claiming_tenancy(server)
    yield tenancy
    tenancy.close()


class Answers:
    """Collects what the SDK hands an attribute-request callback."""

    def __init__(self) -> None:
        self.received: list[tuple[Any, Any]] = []
        self._event = threading.Event()

    def __call__(self, content: Any, exception: Any) -> None:
        self.received.append((content, exception))
        self._event.set()

    def wait(self) -> tuple[Any, Any]:
        assert self._event.wait(timeout=10), "no attribute response"
        return self.received[0]


def test_sub_devices_are_created_for_the_gateways_customer_and_get_their_data(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    buyer = tenancy.buyer
    token = unique_token()
    gateway = create_gateway_device(tenancy.admin, unique("Gateway"), token, buyer.customer_id)
    dev_a, dev_b = unique("Dev A"), unique("Dev B")
    ts = int(time.time() * 1000) - 10_000

    with connected_tb_client(TBGatewayMqttClient, server.mqtt_address, token) as client:
        connected = client.gw_connect_device(dev_a, "thermo")
        assert connected.get() == 0
        assert acknowledged(connected)  # acknowledged once the sub-device exists
        device_a = wait_for_device(tenancy.admin, dev_a)
        assert device_a["type"] == "thermo"
        assert device_a["customerId"]["id"] == buyer.customer_id
        assert device_a["id"] != gateway["id"]

        sent = [
            client.gw_send_telemetry(dev_a, {"temperature": 19.5}),
            client.gw_send_telemetry(dev_a, [{"ts": ts, "values": {"pressure": 990}}]),
            client.gw_send_attributes(dev_a, {"model": "TH-1", "serial": 4711}),
            # Never connected: named in a message, created on the spot.
            client.gw_send_telemetry(dev_b, {"level": 3}),
        ]
        for info in sent:
            assert info.get() == 0
            assert acknowledged(info)

        a_id = device_a["id"]["id"]
        save_attributes(tenancy.admin, a_id, "SHARED_SCOPE", {"targetTemp": 21, "mode": "eco"})
        one, two = Answers(), Answers()
        client.gw_request_shared_attributes(dev_a, ["targetTemp"], one)
        assert one.wait() == ({"id": 1, "device": dev_a, "value": 21}, None)
        client.gw_request_shared_attributes(dev_a, ["targetTemp", "mode"], two)
        assert two.wait() == (
            {"id": 2, "device": dev_a, "values": {"targetTemp": 21, "mode": "eco"}},
            None,
        )

    # The gateway's customer reads its sub-devices' data.
    wait_for_latest(buyer.client, a_id, {"temperature": "19.5", "pressure": "990"})
    assert points_between(buyer.client, a_id, "pressure", ts, ts) == [(ts, "990")]
    wait_for_attributes(buyer.client, a_id, "CLIENT_SCOPE", {"model": "TH-1", "serial": 4711})
    device_b = wait_for_device(tenancy.admin, dev_b)
    assert device_b["customerId"]["id"] == buyer.customer_id
    wait_for_latest(buyer.client, device_b["id"]["id"], {"level": "3"})
    # Nothing was stored for the gateway itself.
    gateway_data = tenancy.admin.get(
        f"/api/plugins/telemetry/DEVICE/{gateway['id']['id']}/values/timeseries",
        params={"keys": "temperature,level"},
    )
    assert gateway_data.json() == {}


def test_gateway_claims_its_sub_devices_and_itself_for_the_customer(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    """An unassigned gateway announces claim windows for a connected sub-device, for one it
    names only in the claim, and for itself; the customer then claims each over REST."""
    buyer = tenancy.buyer
    token, gateway_name = unique_token(), unique("Gateway")
    gateway = create_gateway_device(tenancy.admin, gateway_name, token)
    dev_a, dev_c = unique("Dev A"), unique("Dev C")

    with connected_tb_client(TBGatewayMqttClient, server.mqtt_address, token) as client:
        assert client.gw_connect_device(dev_a, "thermo").get() == 0
        sent = [
            client.gw_claim(dev_a, "sek", 60_000),
            client.gw_claim(dev_c, "sek-c", 60_000),
            client.claim("gsek", 60_000),  # the gateway's own device topic
        ]
        for info in sent:
            assert info.get() == 0
            assert acknowledged(info)  # the windows are stored before the PUBACK

    device_a = wait_for_device(tenancy.admin, dev_a)
    device_c = wait_for_device(tenancy.admin, dev_c)
    for device in (device_a, device_c):
        assert device["customerId"]["id"] == NULL_UUID  # the gateway has no customer

    for name, key, device_id in (
        (dev_a, "sek", device_a["id"]["id"]),
        (dev_c, "sek-c", device_c["id"]["id"]),
        (gateway_name, "gsek", gateway["id"]["id"]),
    ):
        response = claim(buyer.client, name, {"secretKey": key})
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["response"] == "SUCCESS"
        assert result["device"]["customerId"]["id"] == buyer.customer_id
        assert owner_id(tenancy.admin, device_id) == buyer.customer_id

    again = claim(buyer.client, dev_a, {"secretKey": "sek"})
    assert (again.status_code, again.content) == (400, b'"CLAIMED"'), again.text


def test_sub_device_of_a_reconnected_gateway_is_found_not_created_again(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    token = unique_token()
    create_gateway_device(tenancy.admin, unique("Gateway"), token)
    name = unique("Dev A")

    with connected_tb_client(TBGatewayMqttClient, server.mqtt_address, token) as client:
        assert client.gw_connect_device(name, "thermo").get() == 0
        assert client.gw_send_telemetry(name, {"round": 1}).get() == 0
        assert client.gw_disconnect_device(name).get() == 0
    first = wait_for_device(tenancy.admin, name)

    with connected_tb_client(TBGatewayMqttClient, server.mqtt_address, token) as client:
        # Another type this time: the existing device is used as it is.
        assert client.gw_connect_device(name, "other-type").get() == 0
        assert client.gw_send_telemetry(name, {"round": 2}).get() == 0

    wait_for_latest(tenancy.admin, first["id"]["id"], {"round": "2"})
    again = wait_for_device(tenancy.admin, name)
    assert again["id"] == first["id"]
    assert again["type"] == "thermo"
    page = {"pageSize": 100, "page": 0, "textSearch": name}
    devices = ok(tenancy.admin.get("/api/tenant/devices", params=page))
    assert [d["name"] for d in devices["data"]] == [name]
