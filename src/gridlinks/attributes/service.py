"""Use cases of attributes. Callers authorize the entity first (e.g. ``DeviceService``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from gridlinks.attributes.domain import (
    SCOPES,
    AttributeValue,
    scope_problem,
    values_problem,
)
from gridlinks.attributes.repository import AttributeRepository
from gridlinks.bus.base import Bus, Event
from gridlinks.db.unit_of_work import UnitOfWork
from gridlinks.delivery.messages import ATTRIBUTES_CHANGED
from gridlinks.errors import InvalidArgumentError
from gridlinks.kit.clock import Clock


class AttributeHook(Protocol):
    """Lets a feature take part in attribute writes (claiming owns ``claimingData``)."""

    async def before_save(
        self, uow: UnitOfWork, entity_id: uuid.UUID, scope: str, values: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """Validate, act on, and possibly rewrite (mask) the values about to be stored."""
        ...

    async def before_delete(
        self, uow: UnitOfWork, entity_id: uuid.UUID, scope: str, keys: Sequence[str]
    ) -> None: ...


class AttributeService:
    """Save, read and delete the attributes of an entity the caller may reach."""

    def __init__(self, clock: Clock, bus: Bus, hooks: Sequence[AttributeHook] = ()) -> None:
        self._clock = clock
        self._bus = bus
        self._hooks = list(hooks)

    def _publish_after_commit(
        self,
        uow: UnitOfWork,
        entity_id: uuid.UUID,
        scope: str,
        values: Mapping[str, Any],
        deleted: Sequence[str] = (),
    ) -> None:
        """``AttributesChanged`` once committed: shared values are pushed to the device, live
        subscriptions see every scope."""
        event = Event(
            ATTRIBUTES_CHANGED,
            {
                "entityId": str(entity_id),
                "scope": scope,
                "values": dict(values),
                "deleted": list(deleted),
                "ts": self._clock.now_ms(),
            },
        )

        async def publish() -> None:
            await self._bus.publish(event)

        uow.after_commit(publish)

    async def save(
        self, uow: UnitOfWork, entity_type: str, entity_id: uuid.UUID, scope: str, values: Any
    ) -> None:
        """Store ``values`` in any scope: devices write ``CLIENT_SCOPE``; which scopes users
        may write is the REST face's rule (``DeviceAttributeService``)."""
        problem = scope_problem(scope, for_write=False) or values_problem(values)
        if problem:
            raise InvalidArgumentError(problem)
        for hook in self._hooks:
            values = await hook.before_save(uow, entity_id, scope, values)
        await AttributeRepository(uow.connection).upsert(
            entity_type, entity_id, scope, values, self._clock.now_ms()
        )
        self._publish_after_commit(uow, entity_id, scope, values)

    async def read(
        self,
        uow: UnitOfWork,
        entity_id: uuid.UUID,
        scope: str | None,
        keys: list[str] | None,
    ) -> list[AttributeValue]:
        if scope is not None:
            problem = scope_problem(scope, for_write=False)
            if problem:
                raise InvalidArgumentError(problem)
        scopes = [scope] if scope else list(SCOPES)
        return await AttributeRepository(uow.connection).read(entity_id, scopes, keys)

    async def delete(
        self, uow: UnitOfWork, entity_id: uuid.UUID, scope: str, keys: list[str] | None
    ) -> None:
        problem = scope_problem(scope, for_write=False)
        if problem:
            raise InvalidArgumentError(problem)
        if not keys:
            raise InvalidArgumentError("keys must name at least one attribute")
        for hook in self._hooks:
            await hook.before_delete(uow, entity_id, scope, keys)
        await AttributeRepository(uow.connection).delete(entity_id, scope, keys)
        self._publish_after_commit(uow, entity_id, scope, {}, keys)
