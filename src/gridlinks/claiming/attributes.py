"""The ``claimingData`` server attribute opens, replaces and closes the server window.

Plugged into ``AttributeService`` as a hook: the value is validated, the secret goes into the
window as a keyed hash, and the attribute itself keeps only a masked copy, so the secret is in
no table and no response.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from gridlinks.attributes.domain import SERVER_SCOPE
from gridlinks.claiming.domain import (
    CLAIMING_DATA,
    ClaimDataError,
    ClaimWindow,
    WindowSource,
    masked_claiming_data,
    parse_claiming_data,
)
from gridlinks.claiming.repository import ClaimLockoutRepository, ClaimWindowRepository
from gridlinks.db.unit_of_work import UnitOfWork
from gridlinks.errors import InvalidArgumentError
from gridlinks.kit.clock import Clock
from gridlinks.kit.secrets import keyed_hash


class ClaimingDataHook:
    """Attribute hook for ``SERVER_SCOPE`` ``claimingData`` of devices."""

    def __init__(self, clock: Clock, secret_hash_key: bytes) -> None:
        self._clock = clock
        self._key = secret_hash_key

    async def before_save(
        self, uow: UnitOfWork, entity_id: uuid.UUID, scope: str, values: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        if CLAIMING_DATA not in values:
            return values
        if scope != SERVER_SCOPE:
            # Elsewhere it would open no window and keep the secret in plain text.
            raise InvalidArgumentError("claimingData is a SERVER_SCOPE attribute; write it there")
        try:
            data = parse_claiming_data(values[CLAIMING_DATA])
        except ClaimDataError as exc:
            raise InvalidArgumentError(str(exc)) from None
        window = ClaimWindow(
            entity_id,
            WindowSource.SERVER,
            keyed_hash(self._key, data.secret_key),
            data.expiration_time_ms,
            self._clock.now_ms(),
        )
        await ClaimWindowRepository(uow.connection).put(window)
        return {**values, CLAIMING_DATA: masked_claiming_data(data)}

    async def before_delete(
        self, uow: UnitOfWork, entity_id: uuid.UUID, scope: str, keys: Sequence[str]
    ) -> None:
        if scope == SERVER_SCOPE and CLAIMING_DATA in keys:
            # The tenant withdraws its key: with it go the lock-outs (its way to lift them).
            await ClaimWindowRepository(uow.connection).delete(entity_id, WindowSource.SERVER)
            await ClaimLockoutRepository(uow.connection).clear(entity_id)
