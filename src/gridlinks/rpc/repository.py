"""All SQL of persistent RPC. State changes are conditional updates (``WHERE status IN
...``), so a late delivery report never moves a finished call back, whatever the order of
events on several nodes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gridlinks.db.paging import fetch_page
from gridlinks.db.tables import rpc_requests
from gridlinks.kit.jsonvalue import dump_json
from gridlinks.kit.pagination import PageRequest
from gridlinks.rpc.domain import UNDELIVERED_STATES, PersistentRpc, RpcStatus

_T = rpc_requests.c
SORT_COLUMNS: dict[str, sa.ColumnElement[Any]] = {
    "createdTime": _T.created_time,
    "expirationTime": _T.expiration_time,
    "status": _T.status,
    "request": _T.method,
}


def _rpc(row: sa.Row[Any]) -> PersistentRpc:
    values = dict(row._mapping)
    params = json.loads(values.pop("params_json"))
    response_json = values.pop("response_json")
    status = RpcStatus(values.pop("status"))
    response = None if response_json is None else json.loads(response_json)
    return PersistentRpc(**values, params=params, status=status, response=response)


def _states(states: Collection[RpcStatus]) -> list[str]:
    return [state.value for state in states]


def _delivered_two_way() -> sa.ColumnElement[bool]:
    """Delivered and waiting for a reply (a delivered one-way call is done)."""
    return sa.and_(_T.status == RpcStatus.DELIVERED.value, _T.oneway.is_(False))


class RpcRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, rpc: PersistentRpc) -> None:
        await self._c.execute(
            rpc_requests.insert().values(
                id=rpc.id,
                tenant_id=rpc.tenant_id,
                device_id=rpc.device_id,
                request_id=rpc.request_id,
                sender_user_id=rpc.sender_user_id,
                sender_customer_id=rpc.sender_customer_id,
                oneway=rpc.oneway,
                method=rpc.method,
                params_json=dump_json(rpc.params),
                status=rpc.status.value,
                response_json=None if rpc.response is None else dump_json(rpc.response),
                additional_info=rpc.additional_info,
                retries=rpc.retries,
                attempts=rpc.attempts,
                expiration_time=rpc.expiration_time,
                created_time=rpc.created_time,
            )
        )

    async def get(self, rpc_id: uuid.UUID) -> PersistentRpc | None:
        row = (await self._c.execute(rpc_requests.select().where(_T.id == rpc_id))).first()
        return _rpc(row) if row else None

    async def delete(self, rpc_id: uuid.UUID) -> None:
        await self._c.execute(rpc_requests.delete().where(_T.id == rpc_id))

    async def page(
        self, device_id: uuid.UUID, status: RpcStatus | None, request: PageRequest
    ) -> tuple[list[PersistentRpc], int]:
        query = rpc_requests.select().where(_T.device_id == device_id)
        if status is not None:
            query = query.where(_T.status == status.value)
        rows, total = await fetch_page(
            self._c,
            query,
            request,
            search_column=_T.method,
            sort_columns=SORT_COLUMNS,
            default_sort="createdTime",
            tiebreak=_T.id,
        )
        return [_rpc(row) for row in rows], total

    async def count_open(self, device_id: uuid.UUID) -> int:
        """The device's stored calls not finished yet."""
        query = (
            sa.select(sa.func.count())
            .select_from(rpc_requests)
            .where(_T.device_id == device_id)
            .where(sa.or_(_T.status.in_(_states(UNDELIVERED_STATES)), _delivered_two_way()))
        )
        return int((await self._c.execute(query)).scalar_one())

    async def undelivered(self, device_id: uuid.UUID, now_ms: int) -> list[PersistentRpc]:
        """The device's calls not acknowledged yet and not expired, oldest first."""
        query = (
            rpc_requests.select()
            .where(_T.device_id == device_id)
            .where(_T.status.in_([RpcStatus.QUEUED.value, RpcStatus.SENT.value]))
            .where(_T.expiration_time > now_ms)
            .order_by(_T.created_time, _T.id)
        )
        return [_rpc(row) for row in (await self._c.execute(query)).all()]

    async def move(
        self,
        rpc_id: uuid.UUID,
        from_states: Collection[RpcStatus],
        to: RpcStatus,
        *,
        attempts: int | None = None,
        response: Any = None,
    ) -> bool:
        """``rpc_id`` to ``to`` when it is in one of ``from_states``; True when it moved."""
        values: dict[str, Any] = {"status": to.value}
        if attempts is not None:
            values["attempts"] = attempts
        if response is not None:
            values["response_json"] = dump_json(response)
        statement = (
            rpc_requests.update()
            .where(_T.id == rpc_id)
            .where(_T.status.in_(_states(from_states)))
            .values(**values)
        )
        return (await self._c.execute(statement)).rowcount == 1

    async def find_by_request(
        self, device_id: uuid.UUID, request_id: int, states: Collection[RpcStatus]
    ) -> Sequence[uuid.UUID]:
        """The ids of the device's calls with ``request_id`` in one of ``states``."""
        query = (
            sa.select(_T.id)
            .where(_T.device_id == device_id)
            .where(_T.request_id == request_id)
            .where(_T.status.in_(_states(states)))
        )
        return (await self._c.execute(query)).scalars().all()

    async def expire(self, now_ms: int) -> int:
        """Past ``expirationTime``: never delivered -> EXPIRED; a delivered two-way call
        without a reply -> TIMEOUT (a delivered one-way call is done)."""
        moved = 0
        for condition, to in (
            (_T.status.in_(_states(UNDELIVERED_STATES)), RpcStatus.EXPIRED),
            (_delivered_two_way(), RpcStatus.TIMEOUT),
        ):
            statement = (
                rpc_requests.update()
                .where(condition)
                .where(_T.expiration_time <= now_ms)
                .values(status=to.value)
            )
            moved += (await self._c.execute(statement)).rowcount
        return moved

    async def cancel_from_other_customers(
        self, device_id: uuid.UUID, owner_id: uuid.UUID | None, response: Any
    ) -> int:
        """FAILED for the device's open calls sent by users of a customer other than
        ``owner_id`` (the device's owner now); calls of tenant admins stay."""
        condition: sa.ColumnElement[bool] = _T.sender_customer_id.is_not(None)
        if owner_id is not None:
            condition = sa.and_(condition, _T.sender_customer_id != owner_id)
        statement = (
            rpc_requests.update()
            .where(_T.device_id == device_id)
            .where(sa.or_(_T.status.in_(_states(UNDELIVERED_STATES)), _delivered_two_way()))
            .where(condition)
            .values(status=RpcStatus.FAILED.value, response_json=dump_json(response))
        )
        return (await self._c.execute(statement)).rowcount
