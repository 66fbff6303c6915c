"""A device simulated by a real ``DeviceLink`` in the platform's local links: it records what
it gets and answers through ``platform.rpc`` as a transport would."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gridlinks.bootstrap import Platform
from gridlinks.delivery.messages import RpcCall, ToDevice
from tests.integration.factories import (
    Account,
    Api,
    create_customer_user_quickly,
    create_tenant_admin_quickly,
)

Answer = Callable[[RpcCall], Any]


@dataclass
class SimulatedDevice:
    """``answer`` (None: stay silent) is called for each two-way call; ``acknowledge``
    reports delivery as an MQTT PUBACK would."""

    platform: Platform
    device_id: uuid.UUID
    answer: Answer | None = None
    acknowledge: bool = True
    # False: like an MQTT device not subscribed to the RPC topic (yet).
    takes_rpc: bool = True
    calls: list[RpcCall] = field(default_factory=list)
    called: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _remove: Callable[[], None] | None = None

    def connect(self) -> SimulatedDevice:
        self._remove = self.platform.delivery.links.register(self.device_id, self)
        return self

    def disconnect(self) -> None:
        if self._remove is not None:
            self._remove()

    def deliver(self, message: ToDevice) -> bool:
        if not isinstance(message, RpcCall) or not self.takes_rpc:
            return False
        self.calls.append(message)
        self.called.set()
        task = asyncio.get_running_loop().create_task(self._respond(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _respond(self, call: RpcCall) -> None:
        rpc = self.platform.rpc
        if self.acknowledge:
            await rpc.rpc_delivered(self.device_id, call.request_id)
        if not call.oneway and self.answer is not None:
            await rpc.rpc_replied(self.device_id, call.request_id, self.answer(call))

    async def first_call(self) -> RpcCall:
        await asyncio.wait_for(self.called.wait(), 10)
        return self.calls[0]

    async def settle(self) -> None:
        """Wait until the answers to the calls so far are in."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))


def echo(call: RpcCall) -> Any:
    return {"method": call.method, "echo": call.params}


@dataclass
class Shop:
    """A tenant with a customer owning a device, a user of that customer, and a stranger
    customer's user."""

    tenant: Account
    owner: Account
    stranger: Account
    customer_id: str
    device_id: uuid.UUID
    device_name: str


async def open_shop(api: Api) -> Shop:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    other = await api.create_customer(tenant)
    owner = await create_customer_user_quickly(api, tenant, customer)
    stranger = await create_customer_user_quickly(api, tenant, other)
    device = await api.create_device(tenant)
    device_id = device["id"]["id"]
    await api.ok("POST", f"/api/customer/{customer['id']['id']}/device/{device_id}", tenant)
    return Shop(tenant, owner, stranger, customer["id"]["id"], uuid.UUID(device_id), device["name"])
