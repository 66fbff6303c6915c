"""Device time series under ``/api/plugins/telemetry`` (ThingsBoard's read endpoints)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from gridlinks.api.deps import CurrentPrincipal, PlatformDep, UnitOfWorkDep, parse_bool
from gridlinks.api.params import (
    KEY_LIST_MAX_LENGTH,
    MAX_EPOCH_MS,
    EntityTypePath,
    bounded_int_query,
    epoch_ms_query,
)
from gridlinks.errors import BadRequestError
from gridlinks.telemetry.domain import (
    DEFAULT_READ_LIMIT,
    MAX_READ_LIMIT,
    parse_keys,
    range_query,
    timeseries_json,
)

router = APIRouter(prefix="/api/plugins/telemetry", tags=["telemetry"])

Keys = Annotated[
    str | None,
    Query(max_length=KEY_LIST_MAX_LENGTH, description="comma-separated; none: all"),
]


@router.get("/{entity_type}/{entity_id}/values/timeseries")
async def read_timeseries(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    entity_type: EntityTypePath,
    entity_id: uuid.UUID,
    keys: Keys = None,
    start_ts: Annotated[int | None, epoch_ms_query("startTs", "inclusive")] = None,
    end_ts: Annotated[int | None, epoch_ms_query("endTs", "inclusive")] = None,
    limit: Annotated[
        int, bounded_int_query(1, MAX_READ_LIMIT, description="points per key")
    ] = DEFAULT_READ_LIMIT,
    order_by: Annotated[str, Query(alias="orderBy", max_length=8)] = "DESC",
    agg: Annotated[str | None, Query(max_length=16)] = None,
    interval: Annotated[
        int | None, bounded_int_query(0, MAX_EPOCH_MS, description="ignored: no aggregation")
    ] = None,
    use_strict_data_types: Annotated[
        str | None, Query(alias="useStrictDataTypes", max_length=8)
    ] = None,
) -> dict[str, list[dict[str, Any]]]:
    """``{key: [{"ts", "value"}]}``. With ``startTs`` and ``endTs`` (both inclusive): the
    points in that range, ``limit`` per key, newest first unless ``orderBy=ASC``. Without
    them: the latest value of each key. Keys without data are left out. Values are strings
    unless ``useStrictDataTypes=true``."""
    if agg is not None and agg.upper() != "NONE":
        raise BadRequestError("Aggregation is not supported; use agg=NONE or leave it out")
    strict = parse_bool(use_strict_data_types)
    wanted = parse_keys(keys)
    if start_ts is None and end_ts is None:
        points = await platform.device_telemetry.read_latest(
            uow, actor, entity_type, entity_id, wanted
        )
        return timeseries_json(points, strict_types=strict)
    if start_ts is None or end_ts is None:
        raise BadRequestError("startTs and endTs must be given together")
    query = range_query(wanted, start_ts, end_ts, limit, order_by)
    points = await platform.device_telemetry.read_range(uow, actor, entity_type, entity_id, query)
    return timeseries_json(points, strict_types=strict)


@router.get("/{entity_type}/{entity_id}/keys/timeseries")
async def timeseries_keys(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    entity_type: EntityTypePath,
    entity_id: uuid.UUID,
) -> list[str]:
    """The keys the device has sent time series for, sorted."""
    return await platform.device_telemetry.keys(uow, actor, entity_type, entity_id)
