"""Use cases of attributes. Callers authorize the entity first (e.g. ``DeviceService``)."""

from __future__ import annotations

import uuid
from typing import Any

from gridlinks.attributes.domain import (
    SCOPES,
    AttributeValue,
    scope_problem,
    values_problem,
)
from gridlinks.attributes.repository import AttributeRepository
from gridlinks.db.unit_of_work import UnitOfWork
from gridlinks.errors import InvalidArgumentError
from gridlinks.kit.clock import Clock


class AttributeService:
    """Save, read and delete the attributes of an entity the caller may reach."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def save(
        self, uow: UnitOfWork, entity_type: str, entity_id: uuid.UUID, scope: str, values: Any
    ) -> None:
        problem = scope_problem(scope, for_write=True) or values_problem(values)
        if problem:
            raise InvalidArgumentError(problem)
        await AttributeRepository(uow.connection).upsert(
            entity_type, entity_id, scope, values, self._clock.now_ms()
        )

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
        await AttributeRepository(uow.connection).delete(entity_id, scope, keys)
