"""Fixtures: the platform's MQTT server on a free loopback port, and devices with tokens."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import uvloop

from gridlinks.bootstrap import Platform
from tests.integration.factories import Account, Api
from tests.integration.mqtt.harness import RunningMqtt, start_mqtt


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """uvloop, as ``gridlinks serve`` runs: its transports are not ``asyncio.Transport``
    subclasses, which once broke every connection on the real server only."""
    return {"uvloop": uvloop.new_event_loop}


@pytest.fixture
async def mqtt(platform: Platform) -> AsyncIterator[RunningMqtt]:
    await platform.start()
    running = await start_mqtt(platform)
    try:
        yield running
    finally:
        await running.close()


@dataclass
class Maker:
    """A tenant admin with helpers to make devices and read them back over REST."""

    api: Api
    tenant: Account

    async def device(self, **fields: Any) -> tuple[dict[str, Any], str]:
        """A new device and its access token."""
        device = await self.api.create_device(self.tenant, **fields)
        credentials = await self.api.ok(
            "GET", f"/api/device/{device['id']['id']}/credentials", self.tenant
        )
        return device, credentials["credentialsId"]

    async def gateway(self) -> tuple[dict[str, Any], str]:
        return await self.device(additionalInfo={"gateway": True})

    async def get(self, path: str) -> Any:
        return await self.api.ok("GET", path, self.tenant)


@pytest.fixture
async def maker(api: Api) -> Maker:
    return Maker(api, await api.create_tenant_admin())
