"""Steps shared by the MQTT end-to-end tests: deadlines, REST reads of what devices sent,
gateways, and real MQTT clients (the paho fork of tb-mqtt-client, tb-mqtt-client itself) that
are connected when handed out and always stopped afterwards, so no client thread outlives its
test.

Everything waits with a deadline (``wait_until``), never with a bare sleep.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
from tb_device_mqtt import TBDeviceMqttClient

from tests.e2e.claiming_helpers import NULL_UUID, ok
from tests.e2e.running_server import Server

DEADLINE_SECONDS = 10.0
POLL_SECONDS = 0.02
T = TypeVar("T")

TELEMETRY_TOPIC = "v1/devices/me/telemetry"
ATTRIBUTES_TOPIC = "v1/devices/me/attributes"
CLAIM_TOPIC = "v1/devices/me/claim"
ATTRIBUTE_REQUEST_TOPIC = "v1/devices/me/attributes/request/"
ATTRIBUTE_RESPONSE_TOPIC = "v1/devices/me/attributes/response/"

# Paho's names for the protocol levels, as the tests parametrize them.
PROTOCOLS = {"3.1": mqtt.MQTTv31, "3.1.1": mqtt.MQTTv311, "5": mqtt.MQTTv5}


def wait_until(predicate: Callable[[], T], what: str, timeout: float = DEADLINE_SECONDS) -> T:
    """Call ``predicate`` until it returns something true and return that; fail the test
    naming ``what`` if it has not happened within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout} s (last seen: {value!r})")
        time.sleep(POLL_SECONDS)


# --- REST: devices, gateways, what devices sent ---------------------------------------------------
def create_gateway(
    admin: httpx.Client, name: str, access_token: str, customer_id: str | None = None
) -> dict[str, Any]:
    """A gateway device (``additionalInfo.gateway = true``), assigned to ``customer_id`` when
    one is given."""
    body = {"name": name, "type": "gateway", "additionalInfo": {"gateway": True}}
    gateway: dict[str, Any] = ok(
        admin.post("/api/device", params={"accessToken": access_token}, json=body)
    )
    if customer_id is not None:
        gateway = ok(admin.post(f"/api/customer/{customer_id}/device/{gateway['id']['id']}"))
        assert gateway["customerId"]["id"] == customer_id
    return gateway


def device_named(admin: httpx.Client, name: str) -> dict[str, Any] | None:
    """The tenant's device called ``name`` (``GET /api/tenant/devices?deviceName=``), or None."""
    response = admin.get("/api/tenant/devices", params={"deviceName": name})
    if response.status_code == 404:
        return None
    found: dict[str, Any] = ok(response)
    return found


def wait_for_device(admin: httpx.Client, name: str) -> dict[str, Any]:
    return wait_until(lambda: device_named(admin, name), f"device {name!r} created")


def owner_id(admin: httpx.Client, device_id: str) -> str:
    """The id of the customer owning the device (the null UUID when unassigned)."""
    return str(ok(admin.get(f"/api/device/{device_id}"))["customerId"]["id"])


def timeseries(
    client: httpx.Client, device_id: str, keys: list[str], **params: Any
) -> dict[str, list[dict[str, Any]]]:
    """``GET .../values/timeseries?keys=...`` with extra query parameters (``startTs``...)."""
    found: dict[str, list[dict[str, Any]]] = ok(
        client.get(
            f"/api/plugins/telemetry/DEVICE/{device_id}/values/timeseries",
            params={"keys": ",".join(keys), **params},
        )
    )
    return found


def wait_for_latest(
    client: httpx.Client, device_id: str, expected: dict[str, str]
) -> dict[str, list[dict[str, Any]]]:
    """Poll the latest values until each key of ``expected`` has that value (as text, the
    REST default) and return what was read."""

    def latest_matches() -> dict[str, list[dict[str, Any]]] | None:
        found = timeseries(client, device_id, list(expected))
        values = {key: points[0]["value"] for key, points in found.items() if points}
        return found if values == expected else None

    return wait_until(latest_matches, f"latest telemetry {expected}")


def points_between(
    client: httpx.Client, device_id: str, key: str, start_ts: int, end_ts: int
) -> list[tuple[int, str]]:
    """Every stored ``(ts, value)`` of ``key`` in [start_ts, end_ts], oldest first."""
    found = timeseries(
        client, device_id, [key], startTs=start_ts, endTs=end_ts, orderBy="ASC", limit=1000
    )
    return [(point["ts"], point["value"]) for point in found.get(key, [])]


def attributes(client: httpx.Client, device_id: str, scope: str) -> dict[str, Any]:
    """``{key: value}`` of one scope (``GET .../values/attributes/{scope}``)."""
    found = ok(client.get(f"/api/plugins/telemetry/DEVICE/{device_id}/values/attributes/{scope}"))
    return {attribute["key"]: attribute["value"] for attribute in found}


def wait_for_attributes(
    client: httpx.Client, device_id: str, scope: str, expected: dict[str, Any]
) -> dict[str, Any]:
    def present() -> dict[str, Any] | None:
        found = attributes(client, device_id, scope)
        return found if expected.items() <= found.items() else None

    return wait_until(present, f"{scope} attributes {expected}")


def save_attributes(
    admin: httpx.Client, device_id: str, scope: str, values: dict[str, Any]
) -> None:
    ok(admin.post(f"/api/plugins/telemetry/DEVICE/{device_id}/attributes/{scope}", json=values))


def is_unassigned(admin: httpx.Client, device_id: str) -> bool:
    return owner_id(admin, device_id) == NULL_UUID


# --- paho (the fork installed with tb-mqtt-client) ------------------------------------------------
@dataclass
class PahoDevice:
    """A paho client and everything its callbacks reported, guarded by one condition."""

    client: mqtt.Client
    protocol: int
    changed: threading.Condition = field(default_factory=threading.Condition)
    connack: ReasonCode | None = None
    acknowledged: dict[int, ReasonCode] = field(default_factory=dict)  # mid -> PUBACK reason
    messages: list[mqtt.MQTTMessage] = field(default_factory=list)
    disconnects: list[tuple[ReasonCode, bool]] = field(default_factory=list)  # (reason, by server)
    log: list[str] = field(default_factory=list)

    def wait_for(self, predicate: Callable[[], T], what: str) -> T:
        """Wait (deadline) until ``predicate`` - evaluated under the lock - is true."""
        with self.changed:
            if not self.changed.wait_for(predicate, timeout=DEADLINE_SECONDS):
                raise AssertionError(f"{what}: not within {DEADLINE_SECONDS} s; log: {self.log}")
            return predicate()

    def publish(self, topic: str, payload: str | bytes, qos: int = 1) -> ReasonCode | None:
        """Publish and, for QoS 1 and 2, wait until the server has acknowledged it; the
        reason code of the acknowledgement (PUBACK, or PUBREC for QoS 2), None for QoS 0."""
        info = self.client.publish(topic, payload, qos=qos)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, f"publish not queued: {info.rc}"
        if qos == 0:
            info.wait_for_publish(timeout=DEADLINE_SECONDS)
            assert info.is_published()
            return None
        return self.wait_for(
            lambda: self.acknowledged.get(info.mid), f"acknowledgement of the message to {topic}"
        )

    def publish_json(self, topic: str, payload: Any, qos: int = 1) -> ReasonCode | None:
        return self.publish(topic, json.dumps(payload), qos)

    def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        result, _ = self.client.subscribe(topic_filter, qos=qos)
        assert result == mqtt.MQTT_ERR_SUCCESS

    def message_on(self, topic: str) -> mqtt.MQTTMessage:
        """Wait for the first message received on ``topic``."""

        def received() -> mqtt.MQTTMessage | None:
            return next((m for m in self.messages if m.topic == topic), None)

        return self.wait_for(received, f"a message on {topic}")

    # paho callbacks (API version 2), called on paho's network thread
    def _on_connect(self, _c: Any, _u: Any, _flags: Any, reason: ReasonCode, _p: Any) -> None:
        with self.changed:
            self.connack = reason
            self.changed.notify_all()

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: ReasonCode, _p: Any) -> None:
        with self.changed:
            self.acknowledged[mid] = reason
            self.changed.notify_all()

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        with self.changed:
            self.messages.append(message)
            self.changed.notify_all()

    def _on_disconnect(
        self, _c: Any, _u: Any, flags: mqtt.DisconnectFlags, reason: ReasonCode, _p: Any
    ) -> None:
        with self.changed:
            self.disconnects.append((reason, flags.is_disconnect_packet_from_server))
            self.changed.notify_all()

    def _on_log(self, _c: Any, _u: Any, _level: int, text: str) -> None:
        with self.changed:
            self.log.append(text)


def new_paho(
    protocol: int, username: str | None, client_id: str = "", password: str | None = None
) -> PahoDevice:
    """A paho client (callback API 2) that reports into a ``PahoDevice`` and never reconnects
    on its own (a refusal stays a refusal)."""
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=protocol,
        reconnect_on_failure=False,
    )
    if username is not None:
        client.username_pw_set(username, password)
    device = PahoDevice(client, protocol)
    client.on_connect = device._on_connect
    client.on_publish = device._on_publish
    client.on_message = device._on_message
    client.on_disconnect = device._on_disconnect
    client.on_log = device._on_log
    return device


@contextmanager
def paho_session(device: PahoDevice, address: tuple[str, int]) -> Iterator[PahoDevice]:
    """Connect, run paho's network thread, wait for CONNACK; always disconnect and stop the
    thread afterwards. The CONNACK may be a refusal: check ``device.connack``."""
    host, port = address
    device.client.connect(host, port, keepalive=60)
    device.client.loop_start()
    try:
        device.wait_for(lambda: device.connack is not None, "CONNACK")
        yield device
    finally:
        device.client.disconnect()
        device.client.loop_stop()


@contextmanager
def connected_paho(
    address: tuple[str, int], token: str, protocol: int = mqtt.MQTTv5, client_id: str = ""
) -> Iterator[PahoDevice]:
    """A paho client connected with ``token`` as user name (CONNACK success checked)."""
    with paho_session(new_paho(protocol, token, client_id), address) as device:
        assert device.connack is not None
        assert not device.connack.is_failure, f"CONNACK {device.connack}"
        yield device


# --- tb-mqtt-client ----------------------------------------------------------------------------
TB = TypeVar("TB", bound=TBDeviceMqttClient)


@contextmanager
def connected_tb_client(
    client_class: type[TB], address: tuple[str, int], token: str
) -> Iterator[TB]:
    """An unmodified ``TBDeviceMqttClient`` (or ``TBGatewayMqttClient``), connected: its
    ``connect()`` returns before CONNACK, so wait for ``is_connected()``. ``disconnect()``
    stops paho's thread, ``stop()`` the SDK's own two threads."""
    host, port = address
    client = client_class(host, port, username=token)
    try:
        client.connect()
        wait_until(client.is_connected, "tb-mqtt-client connected")
        yield client
    finally:
        leftover = stop_tb_client(client)
    assert not leftover, f"tb-mqtt-client threads still running: {leftover}"


def stop_tb_client(client: TBDeviceMqttClient) -> list[str]:
    """``disconnect()`` and ``stop()``, then wait for the client's threads to end; the names
    of those still running after the deadline."""
    client.disconnect()
    client.stop()
    threads = [
        client._TBDeviceMqttClient__service_loop,  # type: ignore[attr-defined]
        client._TBDeviceMqttClient__timeout_thread,  # type: ignore[attr-defined]
    ]
    for thread in threads:
        thread.join(timeout=DEADLINE_SECONDS)
    return [thread.name for thread in threads if thread.is_alive()]


def acknowledged(publish_info: Any) -> bool:
    """Whether every PUBLISH behind a tb-mqtt-client ``TBPublishInfo`` has been acknowledged
    (its ``get()`` returns after 1 s whether or not a PUBACK came)."""
    infos = publish_info.message_info
    infos = infos if isinstance(infos, list) else [infos]
    return bool(infos) and all(info.is_published() for info in infos)


def server_log_has(server: Server, text: str) -> bool:
    return text in server.log_text()
