"""Client-side RPC (device -> server): the methods GridLinks answers itself, whatever the
transport. ThingsBoard hands these to its rule engine; GridLinks has none, so it answers
``getSessionLimits`` (tb-mqtt-client asks on every connect) and ``getCurrentTime``, and says
clearly that any other method is not supported instead of leaving the device waiting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gridlinks.errors import BadRequestError

SESSION_LIMITS = "getSessionLimits"
CURRENT_TIME = "getCurrentTime"
SUPPORTED_METHODS = (SESSION_LIMITS, CURRENT_TIME)
MAX_METHOD_NAME = 255
_SHAPE = 'A client-side RPC request must be {"method": "<name>", "params": ...}'


@dataclass(frozen=True)
class ClientRpcRequest:
    method: str
    params: Any = None


def parse_client_rpc(body: Any) -> ClientRpcRequest:
    """``{"method": "<name>", "params": ...}`` -> the request; anything else -> 400."""
    if not isinstance(body, dict):
        raise BadRequestError(_SHAPE)
    method = body.get("method")
    if not isinstance(method, str) or not method or len(method) > MAX_METHOD_NAME:
        raise BadRequestError(_SHAPE)
    return ClientRpcRequest(method, body.get("params"))


def unsupported_answer(method: str) -> dict[str, Any]:
    """The reply to a method GridLinks does not implement (a JSON object, so tb-mqtt-client's
    callback gets it as it gets any reply)."""
    return {
        "error": f"Unsupported client-side RPC method '{method[:64]}'; "
        f"supported: {', '.join(SUPPORTED_METHODS)}",
    }


@dataclass(frozen=True)
class SessionLimits:
    """What ``getSessionLimits`` reports (ThingsBoard's shape, wire contract section 1.4)."""

    max_payload_bytes: int
    max_inflight_messages: int

    def answer(self, *, gateway: bool) -> dict[str, Any]:
        # GridLinks enforces no per-device message rates: empty rate limits mean unlimited.
        rates = {"messages": "", "telemetryMessages": "", "telemetryDataPoints": ""}
        answer: dict[str, Any] = {
            "maxPayloadSize": self.max_payload_bytes,
            "maxInflightMessages": self.max_inflight_messages,
            "rateLimits": rates,
        }
        if gateway:
            answer["gatewayRateLimits"] = dict(rates)
        return answer


def answer_client_rpc(
    request: ClientRpcRequest, limits: SessionLimits, now_ms: int, *, gateway: bool = False
) -> dict[str, Any]:
    """The reply to ``request``: always a JSON object."""
    if request.method == SESSION_LIMITS:
        return limits.answer(gateway=gateway)
    if request.method == CURRENT_TIME:
        return {"currentTime": now_ms}
    return unsupported_answer(request.method)
