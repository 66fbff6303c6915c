"""WebSocket subscribers of latest telemetry: each opens ThingsBoard's telemetry WebSocket
(``/api/ws/plugins/telemetry?token=JWT``), subscribes to one device's latest telemetry
(``tsSubCmds``) and, for every update of ``KEY`` it receives, records when the value was sent
(the publisher puts its send time, epoch ms, in the value) and how long it took to arrive.

Runs in a load-generator process of its own; ``shared.connected`` counts subscriptions sent,
``shared.acknowledged`` the updates received so far."""

from __future__ import annotations

import array
import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mqtt_common import STAGE_CONNECTED, Shared, generator_entry

KEY = "sent"
PATH = "/api/ws/plugins/telemetry?token="
PHASE_DONE = 9
CONNECT_CONCURRENCY = 50


@dataclass(frozen=True)
class SubscriberSpec:
    ws_url: str  # ws://127.0.0.1:PORT
    token: str
    device_ids: list[str]  # subscriber i watches device_ids[i % len(device_ids)]
    first: int  # index of this process's first subscriber
    count: int


@dataclass
class Stats:
    updates: int = 0  # values received (a frame may carry several)
    frames: int = 0  # frames with at least one value
    first_frames: int = 0
    sent_ms: array.array[float] = field(default_factory=lambda: array.array("d"))
    latency_ms: array.array[float] = field(default_factory=lambda: array.array("d"))
    failures: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # errorCode frames


def subscribe_command(device_id: str) -> str:
    command = {"entityType": "DEVICE", "entityId": device_id, "scope": "LATEST_TELEMETRY"}
    return json.dumps(
        {"tsSubCmds": [{**command, "cmdId": 1}], "historyCmds": [], "attrSubCmds": []}
    )


def record(stats: Stats, raw: str | bytes) -> None:
    now = time.time() * 1000
    try:
        frame = json.loads(raw)
        points = (frame.get("data") or {}).get(KEY) or []
    except (ValueError, AttributeError):
        stats.errors["not a JSON update"] += 1
        return
    if frame.get("errorCode"):
        stats.errors[f"errorCode {frame['errorCode']}: {str(frame.get('errorMsg'))[:60]}"] += 1
    if not points:
        stats.first_frames += 1
        return
    stats.frames += 1
    for point in points:
        try:
            sent = float(point[1])
        except (TypeError, ValueError, IndexError):
            stats.errors["value not a number"] += 1
            continue
        stats.updates += 1
        stats.sent_ms.append(sent)
        stats.latency_ms.append(now - sent)


async def subscribe(spec: SubscriberSpec, shared: Shared) -> dict[str, Any]:
    from websockets.asyncio.client import connect
    from websockets.exceptions import WebSocketException

    stats = Stats()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    closed: Counter[str] = Counter()

    async def one(index: int) -> None:
        device_id = spec.device_ids[index % len(spec.device_ids)]
        try:
            async with gate:
                connection = await connect(
                    spec.ws_url + PATH + spec.token,
                    ping_interval=None,
                    compression=None,
                    max_size=2**20,
                    open_timeout=30,
                )
            async with connection:
                await connection.send(subscribe_command(device_id))
                shared.connected.value += 1
                async for raw in connection:
                    record(stats, raw)
                    if shared.phase.value >= PHASE_DONE:
                        return
            closed[f"closed by the server ({connection.close_code})"] += 1
        except (OSError, TimeoutError, WebSocketException) as exc:
            stats.failures[type(exc).__name__] += 1

    tasks = [asyncio.create_task(one(spec.first + i)) for i in range(spec.count)]

    async def report() -> None:
        while shared.phase.value < PHASE_DONE:
            shared.acknowledged.value = stats.updates
            connected = shared.connected.value + sum(stats.failures.values())
            if connected >= spec.count and shared.stage.value < STAGE_CONNECTED:
                shared.stage.value = STAGE_CONNECTED
            await asyncio.sleep(0.05)

    await report()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "subscribed": shared.connected.value,
        "failures": dict(stats.failures),
        "closed_early": dict(closed),
        "first_frames": stats.first_frames,
        "updates": stats.updates,
        "frames": stats.frames,
        "errors": dict(stats.errors),
        "sent_ms": stats.sent_ms,
        "latency_ms": stats.latency_ms,
    }


def subscriber_process(spec: SubscriberSpec, shared: Shared, results: Any) -> None:
    generator_entry(lambda: subscribe(spec, shared), shared, results)
