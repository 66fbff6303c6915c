"""Server-side RPC as plain data: the request body's rules, persistent RPC states, and
ThingsBoard's JSON for a stored RPC. Pure: no I/O.

ThingsBoard's rules, kept: ``timeout`` defaults to 10 s and is raised to at least 5 s;
``expirationTime`` (epoch ms), when given, wins over ``timeout``; ``retries`` defaults to 5.
GridLinks adds bounds ThingsBoard lacks, so a bad body is a 400 naming the field."""

from __future__ import annotations

import random
import uuid
from collections.abc import Container
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

from gridlinks.errors import BadRequestError, InvalidArgumentError
from gridlinks.kit.ids import entity_id
from gridlinks.kit.jsonvalue import dump_json, json_value_problem

DEFAULT_TIMEOUT_MS = 10_000
MIN_TIMEOUT_MS = 5_000
MAX_TIMEOUT_MS = 3_600_000  # a live call holds an HTTP request that long at most
# A persistent RPC waits for its device at most this long.
MAX_PERSISTENT_LIFETIME_MS = 30 * 24 * 3_600_000
DEFAULT_RETRIES = 5
MAX_RETRIES = 100
MAX_METHOD_LENGTH = 255
MAX_PARAMS_BYTES = 64 * 1024
MAX_ADDITIONAL_INFO_BYTES = 16 * 1024
# Bounds on what one device can pile up: two-way calls waiting on one node, stored calls not
# finished. Past them a call is refused with 429 rather than exhausting memory or the table.
MAX_WAITING_CALLS_PER_DEVICE = 100
MAX_OPEN_PERSISTENT_PER_DEVICE = 1000
# Request ids are JSON-safe and fit a Java int (the ThingsBoard device SDKs parse them so).
# Live calls take ids below 2**30, persistent ones from 2**30: a delivery report or a reply
# for a live call never needs the database.
MAX_REQUEST_ID = 2**31 - 1
FIRST_PERSISTENT_REQUEST_ID = 2**30


class RpcStatus(StrEnum):
    """ThingsBoard's persistent RPC states."""

    QUEUED = "QUEUED"  # stored, not sent yet (the device is offline)
    SENT = "SENT"  # handed to the device's connection
    # The device acknowledged it (MQTT PUBACK, long-poll took it); final for a one-way call.
    DELIVERED = "DELIVERED"
    SUCCESSFUL = "SUCCESSFUL"  # a two-way call: the device replied
    TIMEOUT = "TIMEOUT"  # delivered, but no reply before expirationTime
    EXPIRED = "EXPIRED"  # never delivered before expirationTime
    FAILED = "FAILED"  # retries used up, or cancelled (the device changed owner)


FINAL_STATES = frozenset(
    {RpcStatus.SUCCESSFUL, RpcStatus.TIMEOUT, RpcStatus.EXPIRED, RpcStatus.FAILED}
)
# Not yet acknowledged by the device: sent again when it connects.
UNDELIVERED_STATES = frozenset({RpcStatus.QUEUED, RpcStatus.SENT})
OPEN_STATES = frozenset({RpcStatus.QUEUED, RpcStatus.SENT, RpcStatus.DELIVERED})


class RpcOutcome(Enum):
    """How a live (non-persistent) call ended."""

    REPLIED = "replied"  # two-way: the device answered
    DELIVERED = "delivered"  # one-way: handed to the device
    TIMEOUT = "timeout"  # two-way: no answer in time
    OFFLINE = "offline"  # the device is connected to no node


@dataclass(frozen=True)
class RpcRequest:
    """A validated request body."""

    method: str
    params: Any
    oneway: bool
    persistent: bool
    expiration_time: int
    retries: int
    additional_info: Any = None

    def wait_ms(self, now_ms: int) -> int:
        return max(self.expiration_time - now_ms, 0)


@dataclass(frozen=True)
class PersistentRpc:
    """A stored RPC and its state."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    device_id: uuid.UUID
    request_id: int
    oneway: bool
    method: str
    params: Any
    status: RpcStatus
    retries: int
    attempts: int
    expiration_time: int
    created_time: int
    sender_user_id: uuid.UUID | None = None
    sender_customer_id: uuid.UUID | None = None
    response: Any = None
    additional_info: Any = None

    @property
    def retries_used_up(self) -> bool:
        """A call sent ``attempts`` times was retried ``attempts - 1`` times."""
        return self.attempts > self.retries


def parse_rpc_request(data: Any, *, oneway: bool, now_ms: int) -> RpcRequest:
    """Validate a request body (parsed JSON); a mistake is a 400 naming the field. Unknown
    fields are ignored, as ThingsBoard does."""
    if data is None:
        raise BadRequestError('Request body is required: {"method": ..., "params": ...}')
    if not isinstance(data, dict):
        raise BadRequestError("Request body must be a JSON object")
    persistent = _optional_bool(data, "persistent")
    return RpcRequest(
        method=_method(data.get("method")),
        params=_bounded_json(data.get("params"), "params", MAX_PARAMS_BYTES),
        oneway=oneway,
        persistent=persistent,
        expiration_time=_expiration_time(data, persistent, now_ms),
        retries=_retries(data.get("retries")),
        additional_info=_bounded_json(
            data.get("additionalInfo"), "additionalInfo", MAX_ADDITIONAL_INFO_BYTES
        ),
    )


def _method(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError("method is required and must be a non-empty string")
    if len(value) > MAX_METHOD_LENGTH:
        raise InvalidArgumentError(f"method must be at most {MAX_METHOD_LENGTH} characters")
    if any(ord(char) < 32 for char in value) or json_value_problem(value):
        raise InvalidArgumentError("method must not contain control characters")
    return value


def _bounded_json(value: Any, name: str, max_bytes: int) -> Any:
    if len(dump_json(value).encode()) > max_bytes:
        raise InvalidArgumentError(f"{name} must be at most {max_bytes} bytes of JSON")
    return value


def _optional_int(data: dict[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{name} must be an integer")
    return value


def _optional_bool(data: dict[str, Any], name: str) -> bool:
    value = data.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{name} must be true or false")
    return value


def _expiration_time(data: dict[str, Any], persistent: bool, now_ms: int) -> int:
    """``expirationTime`` when given (within bounds), else now + ``timeout`` (at least 5 s)."""
    timeout = _optional_int(data, "timeout")
    if timeout is not None and not 0 <= timeout <= MAX_TIMEOUT_MS:
        raise InvalidArgumentError(f"timeout must be between 0 and {MAX_TIMEOUT_MS} ms")
    expiration = _optional_int(data, "expirationTime")
    if expiration is None:
        return now_ms + max(MIN_TIMEOUT_MS, DEFAULT_TIMEOUT_MS if timeout is None else timeout)
    latest = now_ms + (MAX_PERSISTENT_LIFETIME_MS if persistent else MAX_TIMEOUT_MS)
    if expiration <= now_ms:
        raise InvalidArgumentError("expirationTime must be in the future (epoch milliseconds)")
    if expiration > latest:
        raise InvalidArgumentError(
            f"expirationTime must be at most {latest - now_ms} ms from now"
            + ("" if persistent else " for a call that is not persistent")
        )
    return expiration


def _retries(value: Any) -> int:
    retries = _optional_int({"retries": value}, "retries")
    if retries is None:
        return DEFAULT_RETRIES
    if not 0 <= retries <= MAX_RETRIES:
        raise InvalidArgumentError(f"retries must be between 0 and {MAX_RETRIES}")
    return retries


def new_request_id(taken: Container[int], *, persistent: bool = False) -> int:
    """A request id not in ``taken`` (the device's pending calls on this node). Random, so
    that two nodes calling the same device at once hardly ever pick the same id."""
    low, high = (
        (FIRST_PERSISTENT_REQUEST_ID, MAX_REQUEST_ID)
        if persistent
        else (1, FIRST_PERSISTENT_REQUEST_ID - 1)
    )
    while True:
        candidate = random.randint(low, high)
        if candidate not in taken:
            return candidate


def is_persistent_request_id(request_id: int) -> bool:
    return FIRST_PERSISTENT_REQUEST_ID <= request_id <= MAX_REQUEST_ID


def rpc_json(rpc: PersistentRpc) -> dict[str, Any]:
    """ThingsBoard's ``Rpc`` JSON; ``request`` is its ``ToDeviceRpcRequest`` (``params`` as
    JSON text, as ThingsBoard keeps it)."""
    tenant = entity_id("TENANT", rpc.tenant_id)
    device = entity_id("DEVICE", rpc.device_id)
    return {
        "id": entity_id("RPC", rpc.id),
        "createdTime": rpc.created_time,
        "tenantId": tenant,
        "deviceId": device,
        "expirationTime": rpc.expiration_time,
        "request": {
            "id": str(rpc.id),
            "tenantId": tenant,
            "deviceId": device,
            "oneway": rpc.oneway,
            "expirationTime": rpc.expiration_time,
            "body": {"method": rpc.method, "params": dump_json(rpc.params)},
            "persisted": True,
            "retries": rpc.retries,
            "additionalInfo": rpc.additional_info,
        },
        "response": rpc.response,
        "status": rpc.status.value,
        "additionalInfo": rpc.additional_info,
    }


def parse_status(value: str | None) -> RpcStatus | None:
    """The ``rpcStatus`` filter of a listing (ThingsBoard's names)."""
    if not value:
        return None
    try:
        return RpcStatus(value.upper())
    except ValueError:
        names = ", ".join(status.value for status in RpcStatus)
        raise InvalidArgumentError(f"rpcStatus must be one of: {names}") from None
