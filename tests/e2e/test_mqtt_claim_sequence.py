"""ThingsBoard's own MQTT claim tests (``MqttClaimDeviceTest``, ``MqttV5ClaimTest``), replayed
with the paho fork at MQTT 3.1.1 and 5 against a real ``gridlinks serve``.

Each runs ThingsBoard's sequence, for a device on ``v1/devices/me/claim`` and for a gateway
on ``v1/gateway/claim`` (which creates the named device), with and without secret and
duration:

1. the device announces a window of 1 ms;
2. the customer's claim is refused with ``"FAILURE"`` (expired);
3. the device announces a valid window (60 s, or ``{}``: the 24 h default) and disconnects;
4. the customer's claim succeeds: ``SUCCESS``, the device now belongs to the customer;
5. the same claim again is refused with ``"CLAIMED"``.

ThingsBoard retries each REST claim up to 20 times, 100 ms apart, until it gets the answer it
expects (its windows reach a cache asynchronously); the same tolerance is kept here, although
GridLinks acknowledges an announcement only once its window is stored.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.e2e.claiming_helpers import (
    ClaimingTenancy,
    claim,
    create_device,
    set_up_claiming_tenancy,
    unique,
    unique_token,
)
from tests.e2e.mqtt_helpers import (
    CLAIM_TOPIC,
    PROTOCOLS,
    PahoDevice,
    connected_paho,
    create_gateway,
    owner_id,
    wait_for_device,
)
from tests.e2e.running_server import Server

pytestmark = pytest.mark.e2e

CLAIM_ATTEMPTS = 20
CLAIM_RETRY_SECONDS = 0.1
EXPIRED_MS = 1
VALID_MS = 60_000


@dataclass(frozen=True)
class Scenario:
    """One of ThingsBoard's tests: what the device announces, what the customer sends."""

    gateway: bool
    expired: dict[str, Any]  # step 1
    valid: dict[str, Any]  # step 3
    rest_body: dict[str, Any]  # steps 2, 4 and 5


SCENARIOS = {
    "testClaimingDevice": Scenario(
        gateway=False,
        expired={"secretKey": "value", "durationMs": EXPIRED_MS},
        valid={"secretKey": "value", "durationMs": VALID_MS},
        rest_body={"secretKey": "value"},
    ),
    "testClaimingDeviceWithoutSecretAndDuration": Scenario(
        gateway=False,
        expired={"durationMs": EXPIRED_MS},
        valid={},
        rest_body={"secretKey": None},
    ),
    "testGatewayClaimingDevice": Scenario(
        gateway=True,
        expired={"secretKey": "value", "durationMs": EXPIRED_MS},
        valid={"secretKey": "value", "durationMs": VALID_MS},
        rest_body={"secretKey": "value"},
    ),
    "testGatewayClaimingDeviceWithoutSecretAndDuration": Scenario(
        gateway=True,
        expired={"durationMs": EXPIRED_MS},
        valid={},
        rest_body={"secretKey": None},
    ),
}


@pytest.fixture
def tenancy(server: Server) -> Iterator[ClaimingTenancy]:
    tenancy = set_up_claiming_tenancy(server)
    yield tenancy
    tenancy.close()


def claim_expecting(
    client: httpx.Client, name: str, body: dict[str, Any], status: int, answer: bytes | None
) -> httpx.Response:
    """ThingsBoard's ``doPostClaimAsync``: claim until the expected status (and body) comes
    back, at most ``CLAIM_ATTEMPTS`` times; the last answer is returned either way."""
    for _ in range(CLAIM_ATTEMPTS):
        response = claim(client, name, body)
        if response.status_code == status and answer in (None, response.content):
            break
        time.sleep(CLAIM_RETRY_SECONDS)
    return response


def announce(device: PahoDevice, scenario: Scenario, name: str, window: dict[str, Any]) -> None:
    """The claim message of a device, or of the gateway for the device ``name``; QoS 1,
    acknowledged with success."""
    if scenario.gateway:
        reason = device.publish_json("v1/gateway/claim", {name: window})
    else:
        reason = device.publish_json(CLAIM_TOPIC, window)
    assert reason is not None and not reason.is_failure, reason


@pytest.mark.parametrize("level", ["3.1.1", "5"])
@pytest.mark.parametrize("scenario_name", list(SCENARIOS))
def test_thingsboard_mqtt_claim_sequence(
    server: Server, tenancy: ClaimingTenancy, scenario_name: str, level: str
) -> None:
    scenario = SCENARIOS[scenario_name]
    buyer, admin = tenancy.buyer, tenancy.admin
    token = unique_token()
    if scenario.gateway:
        create_gateway(admin, unique("Gateway"), token)
        name = unique("Gateway device")
    else:
        name = unique("Device")
        create_device(admin, name, token)

    with connected_paho(server.mqtt_address, token, PROTOCOLS[level]) as device:
        if scenario.gateway:
            connected = device.publish_json("v1/gateway/connect", {"device": name})
            assert connected is not None and not connected.is_failure
        device_id = wait_for_device(admin, name)["id"]["id"]

        # 1-2: a window of 1 ms has expired by the time the customer claims.
        announce(device, scenario, name, scenario.expired)
        time.sleep(0.02)  # 20 windows of 1 ms
        failed = claim_expecting(buyer.client, name, scenario.rest_body, 400, b'"FAILURE"')
        assert (failed.status_code, failed.content) == (400, b'"FAILURE"'), failed.text
        assert owner_id(admin, device_id) != buyer.customer_id

        # 3: a valid window; then the device goes away, as in ThingsBoard's test.
        announce(device, scenario, name, scenario.valid)

    # 4: the claim succeeds.
    claimed = claim_expecting(buyer.client, name, scenario.rest_body, 200, None)
    assert claimed.status_code == 200, claimed.text
    result = claimed.json()
    assert result["response"] == "SUCCESS"
    assert result["device"] is not None
    assert result["device"]["name"] == name
    assert result["device"]["customerId"] == {"entityType": "CUSTOMER", "id": buyer.customer_id}
    assert owner_id(admin, device_id) == buyer.customer_id

    # 5: claimed already.
    again = claim_expecting(buyer.client, name, scenario.rest_body, 400, b'"CLAIMED"')
    assert (again.status_code, again.content) == (400, b'"CLAIMED"'), again.text
    assert owner_id(admin, device_id) == buyer.customer_id
