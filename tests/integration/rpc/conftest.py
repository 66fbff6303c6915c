"""``simulate``: connect simulated devices whose pending answers are awaited before the
platform closes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from gridlinks.bootstrap import Platform
from tests.integration.rpc.devices import SimulatedDevice

Simulate = Callable[..., SimulatedDevice]


@pytest.fixture
async def simulate(platform: Platform) -> AsyncIterator[Simulate]:
    made: list[SimulatedDevice] = []

    def connect(device_id: uuid.UUID, on: Platform | None = None, **kwargs: Any) -> SimulatedDevice:
        device = SimulatedDevice(on or platform, device_id, **kwargs).connect()
        made.append(device)
        return device

    yield connect
    for device in made:
        await device.settle()
        device.disconnect()
