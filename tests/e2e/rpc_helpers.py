"""Steps shared by the RPC and shared-attribute end-to-end tests (issue 11).

The external contract is ThingsBoard's:

- ``POST /api/plugins/rpc/{oneway|twoway}/{deviceId}`` (``RpcV1Controller``) answers a two-way
  call the device never answered with 408 and a device with no active connection with 409;
  ``POST /api/rpc/{oneway|twoway}/{deviceId}`` (``RpcV2Controller``) answers 504 for both.
- A one-way call is 200 with an empty body once sent; a two-way call is 200 with the device's
  reply as the body; a persistent call is 200 with ``{"rpcId": <uuid>}`` at once, and its state
  is read with ``GET /api/rpc/persistent/{rpcId}``.
- ThingsBoard never waits less than 5 s (``min_timeout``) for a device.

Devices are the unmodified tb-mqtt-client (``TBDeviceMqttClient``, ``TBGatewayMqttClient``)
or plain HTTP long-polls run aside on a thread. Everything waits with a deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from tb_device_mqtt import TBDeviceMqttClient
from tb_gateway_mqtt import TBGatewayMqttClient

from tests.e2e.claiming_helpers import (
    VALID_WINDOW_MS,
    ClaimingTenancy,
    announce,
    claim,
    create_device,
    ok,
    unique,
    unique_token,
)
from tests.e2e.mqtt_helpers import DEADLINE_SECONDS, stop_tb_client, wait_until

T = TypeVar("T")
TB = TypeVar("TB", bound=TBDeviceMqttClient)

CLAIM_KEY = "rpc-e2e-claim-key"
PLUGINS = "/api/plugins/rpc"  # ThingsBoard's first form (RpcV1Controller)
RPC = "/api/rpc"  # the newer form (RpcV2Controller), also home of persistent RPC
TIMEOUT_STATUS = {PLUGINS: 408, RPC: 504}
NO_ACTIVE_CONNECTION_STATUS = {PLUGINS: 409, RPC: 504}
MIN_TIMEOUT_MS = 5_000  # ThingsBoard's server.rest.server_side_rpc.min_timeout
PERSISTENT_TIMEOUT_MS = 120_000  # long enough to outlast a server restart
# A REST call waiting for a device must be allowed longer than the RPC's own timeout.
HTTP_WAIT_SECONDS = 30.0
POLL_TIMEOUT_MS = 20_000  # the long-poll timeout tb_device_http uses is 30 s; tests need less
REPEAT_SECONDS = 0.5


# --- a device the buyer has claimed ----------------------------------------------------------
@dataclass(frozen=True)
class ClaimedDevice:
    """A device that announced a claim window over HTTP and that ``tenancy.buyer`` claimed."""

    id: str
    name: str
    token: str


def claimed_device(tenancy: ClaimingTenancy, prefix: str = "Boiler") -> ClaimedDevice:
    token, name = unique_token(), unique(prefix)
    device = create_device(tenancy.admin, name, token)
    window = {"secretKey": CLAIM_KEY, "durationMs": VALID_WINDOW_MS}
    announced = announce(tenancy.base_url, token, window)
    assert announced.status_code == 200, announced.text
    result = ok(claim(tenancy.buyer.client, name, {"secretKey": CLAIM_KEY}))
    assert result["response"] == "SUCCESS", result
    assert result["device"]["customerId"]["id"] == tenancy.buyer.customer_id
    return ClaimedDevice(device["id"]["id"], name, token)


def rebased(client: httpx.Client, base_url: str) -> httpx.Client:
    """The same signed-in user talking to another server (same database and secret key)."""
    return httpx.Client(base_url=base_url, headers=client.headers, timeout=HTTP_WAIT_SECONDS)


# --- REST: server-side RPC --------------------------------------------------------------------
def send_rpc(
    client: httpx.Client,
    device_id: str,
    method: str,
    params: Any,
    *,
    oneway: bool = False,
    prefix: str = PLUGINS,
    **options: Any,
) -> httpx.Response:
    """``POST {prefix}/{oneway|twoway}/{deviceId}`` with ``{"method", "params", **options}``
    (``timeout``, ``persistent``, ``retries``, ``additionalInfo``...)."""
    kind = "oneway" if oneway else "twoway"
    body = {"method": method, "params": params, **options}
    return client.post(f"{prefix}/{kind}/{device_id}", json=body, timeout=HTTP_WAIT_SECONDS)


def send_persistent_rpc(
    client: httpx.Client, device_id: str, method: str, params: Any, *, oneway: bool = False
) -> str:
    """A persistent RPC: answered at once with ``{"rpcId"}``; returns that id."""
    response = send_rpc(
        client,
        device_id,
        method,
        params,
        oneway=oneway,
        prefix=RPC,
        persistent=True,
        timeout=PERSISTENT_TIMEOUT_MS,
    )
    body = ok(response)
    assert set(body) == {"rpcId"}, body
    return str(body["rpcId"])


def persistent_rpc(client: httpx.Client, rpc_id: str) -> dict[str, Any]:
    found: dict[str, Any] = ok(client.get(f"/api/rpc/persistent/{rpc_id}"))
    return found


def wait_for_rpc_status(client: httpx.Client, rpc_id: str, status: str) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        rpc = persistent_rpc(client, rpc_id)
        return rpc if rpc["status"] == status else None

    return wait_until(reached, f"persistent RPC {rpc_id} {status}")


def assert_error(response: httpx.Response, status: int, error_code: int) -> None:
    """ThingsBoard's error JSON with this status and ``errorCode``."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert (body["status"], body["errorCode"]) == (status, error_code), body


# --- tb-mqtt-client devices -----------------------------------------------------------------
@dataclass
class Recorder:
    """Collects what an SDK callback was called with, guarded by one condition."""

    calls: list[Any] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def record(self, value: Any) -> None:
        with self.changed:
            self.calls.append(value)
            self.changed.notify_all()

    def wait_for(self, count: int = 1, what: str = "SDK callback") -> list[Any]:
        """The first ``count`` calls, once there are that many."""
        with self.changed:
            done = self.changed.wait_for(lambda: len(self.calls) >= count, DEADLINE_SECONDS)
            assert done, f"{what}: {count} call(s) not within {DEADLINE_SECONDS} s: {self.calls}"
            return list(self.calls[:count])

    def attribute_callback(self, content: Any, exception: Any) -> None:
        """For ``subscribe_to_attribute`` / ``subscribe_to_all_attributes``."""
        assert exception is None, exception
        self.record(content)


class DeviceRpcHandler(Recorder):
    """A ``set_server_side_rpc_request_handler`` handler: records ``(request id, body)`` and
    answers with ``reply(body)`` through ``send_rpc_reply`` (never when ``reply`` is None)."""

    def __init__(self, reply: Callable[[Any], Any] | None = None) -> None:
        super().__init__()
        self.reply = reply
        self.client: TBDeviceMqttClient | None = None

    def __call__(self, request_id: str, body: Any) -> None:
        self.record((request_id, body))
        if self.reply is not None and self.client is not None:
            self.client.send_rpc_reply(request_id, self.reply(body))


class GatewayRpcHandler(Recorder):
    """A ``gw_set_server_side_rpc_request_handler`` handler: records the gateway envelope
    ``{"device", "data": {"id", "method", "params"}}`` and answers with ``gw_send_rpc_reply``."""

    def __init__(self, reply: Callable[[Any], Any] | None = None) -> None:
        super().__init__()
        self.reply = reply

    def __call__(self, gateway: TBGatewayMqttClient, content: Any) -> None:
        self.record(content)
        if self.reply is not None:
            data = content["data"]
            gateway.gw_send_rpc_reply(content["device"], data["id"], self.reply(data))


def _ready(client: TBDeviceMqttClient) -> bool:
    """Connected, and the server has answered ``getSessionLimits``: the SDK asks it after its
    SUBSCRIBEs, so the server has handled those (a gateway's own SUBSCRIBEs are acknowledged)."""
    if not (client.is_connected() and client.rate_limits_received):
        return False
    if isinstance(client, TBGatewayMqttClient):
        return not client.get_subscriptions_in_progress()
    return True


@contextmanager
def tb_client(
    client_class: type[TB],
    address: tuple[str, int],
    token: str,
    rpc_handler: DeviceRpcHandler | GatewayRpcHandler | None = None,
) -> Iterator[TB]:
    """An unmodified tb-mqtt-client whose RPC handler is set *before* it connects (so an RPC
    delivered at connect time is not missed), ready for calls from the server; its threads are
    stopped afterwards."""
    host, port = address
    client = client_class(host, port, username=token)
    if isinstance(rpc_handler, DeviceRpcHandler):
        rpc_handler.client = client
        client.set_server_side_rpc_request_handler(rpc_handler)
    elif isinstance(rpc_handler, GatewayRpcHandler):
        assert isinstance(client, TBGatewayMqttClient)
        client.gw_set_server_side_rpc_request_handler(rpc_handler)
    try:
        client.connect()
        wait_until(lambda: _ready(client), "tb-mqtt-client connected and subscribed")
        yield client
    finally:
        leftover = stop_tb_client(client)
    assert not leftover, f"tb-mqtt-client threads still running: {leftover}"


def wait_disconnected(client: TBDeviceMqttClient, what: str) -> None:
    """The server closed the SDK's connection, and the SDK's own reconnects (every second
    with the same token) do not bring it back."""
    wait_until(lambda: not client.is_connected(), what)
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        assert not client.is_connected(), f"{what}: the SDK connected again"
        time.sleep(0.05)


# --- plain HTTP devices: long-polls run aside ------------------------------------------------
@contextmanager
def aside() -> Iterator[ThreadPoolExecutor]:
    """Threads for calls that block (long-polls, two-way REST calls waiting for a device)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        yield pool


def long_poll(base_url: str, token: str, what: str, timeout_ms: int = POLL_TIMEOUT_MS) -> Any:
    """``GET /api/v1/{token}/{rpc | attributes/updates}?timeout=``: the HTTP response."""
    return httpx.get(
        f"{base_url}/api/v1/{token}/{what}",
        params={"timeout": timeout_ms},
        timeout=timeout_ms / 1000 + 10,
    )


def repeat_until_done(future: Future[T], act: Callable[[int], Any], what: str) -> T:
    """Call ``act(0)``, ``act(1)``... every half second until ``future`` is done: the server
    gives no sign that a long-poll has arrived, so the event that ends it is repeated until it
    does. Fails naming ``what`` after the deadline."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    attempt = 0
    while not future.done():
        assert time.monotonic() < deadline, f"{what}: not within {DEADLINE_SECONDS} s"
        act(attempt)
        attempt += 1
        try:
            return future.result(timeout=REPEAT_SECONDS)
        except TimeoutError:
            continue
    return future.result()


def rpc_while_polling(
    pool: ThreadPoolExecutor,
    send: Callable[[], httpx.Response],
    offline_status: int,
) -> Future[httpx.Response]:
    """Start ``send`` (a REST RPC) aside; while the device's long-poll has not reached the
    server the call is refused as "no active connection" - send it again until it is not."""

    def attempt() -> httpx.Response:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            response = send()
            if response.status_code != offline_status or time.monotonic() >= deadline:
                return response
            time.sleep(REPEAT_SECONDS / 5)

    return pool.submit(attempt)


def rpc_once_offline(client: httpx.Client, device_id: str, prefix: str = PLUGINS) -> httpx.Response:
    """A two-way call to a device that has just disconnected: the server notices the closed
    connection a moment later, so call again (deadline) until the answer is "no active
    connection"; the last answer."""
    offline = NO_ACTIVE_CONNECTION_STATUS[prefix]

    def answer() -> httpx.Response | None:
        response = send_rpc(client, device_id, "ping", {}, prefix=prefix, timeout=MIN_TIMEOUT_MS)
        return response if response.status_code == offline else None

    return wait_until(answer, f"{prefix}: no active connection", timeout=3 * DEADLINE_SECONDS)
