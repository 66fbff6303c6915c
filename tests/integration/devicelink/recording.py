"""A ``DeviceRpcEvents`` that records what the transports report, for assertions."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from gridlinks.bootstrap import Platform

T = TypeVar("T")
WAIT_SECONDS = 5.0


class RecordingRpcEvents:
    def __init__(self) -> None:
        self.connected: list[uuid.UUID] = []
        self.delivered: list[tuple[uuid.UUID, int]] = []
        self.replied: list[tuple[uuid.UUID, int, Any]] = []

    async def device_connected(self, device_id: uuid.UUID) -> None:
        self.connected.append(device_id)

    async def rpc_delivered(self, device_id: uuid.UUID, request_id: int) -> None:
        self.delivered.append((device_id, request_id))

    async def rpc_replied(self, device_id: uuid.UUID, request_id: int, reply: Any) -> None:
        self.replied.append((device_id, request_id, reply))

    @staticmethod
    async def until(condition: Callable[[], T], what: str) -> T:
        """Wait (polling the loop) until ``condition()`` is true; fail after 5 s."""
        deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
        while not (value := condition()):
            assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.01)
        return value


def record_rpc_events(platform: Platform) -> RecordingRpcEvents:
    recorder = RecordingRpcEvents()
    platform.device_link.rpc_events = recorder
    return recorder
