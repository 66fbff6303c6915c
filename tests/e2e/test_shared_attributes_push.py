"""Shared attributes pushed to a connected device: a write to ``SHARED_SCOPE`` over REST reaches
the unmodified ``TBDeviceMqttClient``'s ``subscribe_to_attribute`` /
``subscribe_to_all_attributes`` callbacks on ``v1/devices/me/attributes``; a delete arrives as
``{"deleted": [...]}``. Other scopes are never pushed.

Keys are never ``fw_title`` / ``fw_version``: those start the SDK's firmware download.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tb_device_mqtt import TBDeviceMqttClient

from tests.e2e.claiming_helpers import ClaimingTenancy, ok, set_up_claiming_tenancy
from tests.e2e.mqtt_helpers import save_attributes, wait_for_attributes
from tests.e2e.rpc_helpers import Recorder, assert_error, claimed_device, tb_client
from tests.e2e.running_server import Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def tenancy(server: Server) -> Iterator[ClaimingTenancy]:
    tenancy = set_up_claiming_tenancy(server)
    yield tenancy
    tenancy.close()


def attributes_url(device_id: str, scope: str) -> str:
    """ThingsBoard's first form, ``/api/plugins/telemetry/DEVICE/{id}/{scope}`` (POST, DELETE)."""
    return f"/api/plugins/telemetry/DEVICE/{device_id}/{scope}"


def test_a_shared_attribute_write_reaches_the_sdks_attribute_callbacks(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device = claimed_device(tenancy)
    one_key, every_key = Recorder(), Recorder()
    values = {"targetTemp": 23.5, "mode": "eco", "schedule": {"mon": [6, 22]}}

    with tb_client(TBDeviceMqttClient, server.mqtt_address, device.token) as client:
        client.subscribe_to_attribute("targetTemp", one_key.attribute_callback)
        client.subscribe_to_all_attributes(every_key.attribute_callback)
        ok(tenancy.admin.post(attributes_url(device.id, "SHARED_SCOPE"), json=values))

        [pushed] = every_key.wait_for(1, "subscribe_to_all_attributes callback")
        [for_key] = one_key.wait_for(1, "subscribe_to_attribute('targetTemp') callback")

    assert pushed == values
    assert for_key == values


def test_the_newer_attributes_path_pushes_too(server: Server, tenancy: ClaimingTenancy) -> None:
    device = claimed_device(tenancy)
    every_key = Recorder()

    with tb_client(TBDeviceMqttClient, server.mqtt_address, device.token) as client:
        client.subscribe_to_all_attributes(every_key.attribute_callback)
        save_attributes(tenancy.admin, device.id, "SHARED_SCOPE", {"brightness": 70})
        [pushed] = every_key.wait_for(1, "attribute push")

    assert pushed == {"brightness": 70}


def test_deleting_shared_attributes_sends_the_deleted_keys(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device = claimed_device(tenancy)
    save_attributes(tenancy.admin, device.id, "SHARED_SCOPE", {"a": 1, "b": 2, "kept": 3})
    every_key = Recorder()

    with tb_client(TBDeviceMqttClient, server.mqtt_address, device.token) as client:
        client.subscribe_to_all_attributes(every_key.attribute_callback)
        response = tenancy.admin.delete(
            attributes_url(device.id, "SHARED_SCOPE"), params={"keys": "a,b"}
        )
        assert response.status_code == 200, response.text
        [pushed] = every_key.wait_for(1, "attribute delete push")

    assert set(pushed) == {"deleted"}, pushed
    assert sorted(pushed["deleted"]) == ["a", "b"]
    wait_for_attributes(tenancy.admin, device.id, "SHARED_SCOPE", {"kept": 3})


def test_server_scope_writes_are_not_pushed_to_the_device(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device = claimed_device(tenancy)
    every_key = Recorder()

    with tb_client(TBDeviceMqttClient, server.mqtt_address, device.token) as client:
        client.subscribe_to_all_attributes(every_key.attribute_callback)
        save_attributes(tenancy.admin, device.id, "SERVER_SCOPE", {"internalNote": "secret"})
        save_attributes(tenancy.admin, device.id, "SHARED_SCOPE", {"marker": 1})
        [first] = every_key.wait_for(1, "the shared marker")

    assert first == {"marker": 1}
    assert all("internalNote" not in str(call) for call in every_key.calls)


def test_a_customer_user_without_write_attributes_is_refused_and_nothing_is_pushed(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    """The built-in *Customer User* role reads attributes but does not write them."""
    device = claimed_device(tenancy)
    every_key = Recorder()

    with tb_client(TBDeviceMqttClient, server.mqtt_address, device.token) as client:
        client.subscribe_to_all_attributes(every_key.attribute_callback)
        refused = tenancy.buyer.client.post(
            attributes_url(device.id, "SHARED_SCOPE"), json={"targetTemp": 99}
        )
        save_attributes(tenancy.admin, device.id, "SHARED_SCOPE", {"marker": 2})
        [first] = every_key.wait_for(1, "the shared marker")

    assert_error(refused, 403, 20)
    assert first == {"marker": 2}


def test_every_connected_device_gets_only_its_own_shared_attributes(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    first, second = claimed_device(tenancy), claimed_device(tenancy)
    got_first, got_second = Recorder(), Recorder()

    with (
        tb_client(TBDeviceMqttClient, server.mqtt_address, first.token) as client_one,
        tb_client(TBDeviceMqttClient, server.mqtt_address, second.token) as client_two,
    ):
        client_one.subscribe_to_all_attributes(got_first.attribute_callback)
        client_two.subscribe_to_all_attributes(got_second.attribute_callback)
        save_attributes(tenancy.admin, first.id, "SHARED_SCOPE", {"who": "first"})
        save_attributes(tenancy.admin, second.id, "SHARED_SCOPE", {"who": "second"})
        got_first.wait_for(1)
        got_second.wait_for(1)

    assert got_first.calls == [{"who": "first"}]
    assert got_second.calls == [{"who": "second"}]
