"""Reading device time series over ThingsBoard's REST paths: latest and range reads, string
and strict values, keys, authorization and parameter checks."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.factories import (
    Account,
    Api,
    create_customer_user_quickly,
    create_tenant_admin_quickly,
    expect_error,
)
from tests.integration.telemetry.helpers import TS, Sender, create_sender, send, timeseries

TYPED = {
    "t": 22.5,
    "n": 40,
    "whole": 2.0,
    "on": True,
    "text": "true",
    "obj": {"a": [1, "b"]},
}


@pytest.fixture
async def sender(api: Api) -> Sender:
    return await create_sender(api, await create_tenant_admin_quickly(api))


async def send_series(client: httpx.AsyncClient, sender: Sender, count: int = 10) -> None:
    payload = [{"ts": TS + i, "values": {"a": i, "b": i * 10}} for i in range(count)]
    await send(client, sender, payload)


async def test_latest_values_are_strings_by_default(
    api: Api, client: httpx.AsyncClient, sender: Sender
) -> None:
    await send(client, sender, {"ts": TS, "values": TYPED})
    assert await timeseries(api, sender.tenant, sender.id) == {
        "n": [{"ts": TS, "value": "40"}],
        "obj": [{"ts": TS, "value": '{"a":[1,"b"]}'}],
        "on": [{"ts": TS, "value": "true"}],
        "t": [{"ts": TS, "value": "22.5"}],
        "text": [{"ts": TS, "value": "true"}],
        "whole": [{"ts": TS, "value": "2.0"}],
    }


async def test_strict_data_types_keep_json_types(
    api: Api, client: httpx.AsyncClient, sender: Sender
) -> None:
    await send(client, sender, {"ts": TS, "values": TYPED})
    found = await timeseries(api, sender.tenant, sender.id, useStrictDataTypes="true")
    values = {key: points[0]["value"] for key, points in found.items()}
    assert values == TYPED
    for key, value in TYPED.items():
        assert type(values[key]) is type(value), key


async def test_latest_of_named_keys_leaves_out_keys_without_data(
    api: Api, client: httpx.AsyncClient, sender: Sender
) -> None:
    await send_series(client, sender)
    found = await timeseries(api, sender.tenant, sender.id, keys="a,nothing")
    assert found == {"a": [{"ts": TS + 9, "value": "9"}]}


async def test_range_is_inclusive_newest_first_and_limited_per_key(
    api: Api, client: httpx.AsyncClient, sender: Sender
) -> None:
    await send_series(client, sender)
    found = await timeseries(
        api, sender.tenant, sender.id, keys="a,b", startTs=TS + 2, endTs=TS + 6, limit=3
    )
    assert [p["ts"] - TS for p in found["a"]] == [6, 5, 4]
    assert [p["value"] for p in found["b"]] == ["60", "50", "40"]


async def test_range_in_ascending_order_with_the_default_limit(
    api: Api, client: httpx.AsyncClient, sender: Sender
) -> None:
    await send_series(client, sender)
    found = await timeseries(
        api, sender.tenant, sender.id, keys="a", startTs=TS + 2, endTs=TS + 6, orderBy="ASC"
    )
    assert [p["ts"] - TS for p in found["a"]] == [2, 3, 4, 5, 6]


async def test_range_without_keys_reads_every_key(
    api: Api, client: httpx.AsyncClient, sender: Sender
) -> None:
    await send_series(client, sender, count=3)
    found = await timeseries(api, sender.tenant, sender.id, startTs=TS, endTs=TS + 1)
    assert sorted(found) == ["a", "b"]
    assert [p["ts"] - TS for p in found["a"]] == [1, 0]


async def test_range_accepts_agg_none_and_an_interval(
    api: Api, client: httpx.AsyncClient, sender: Sender
) -> None:
    await send_series(client, sender, count=2)
    params = {"keys": "a", "startTs": TS, "endTs": TS + 1, "agg": "NONE", "interval": 0}
    assert len((await timeseries(api, sender.tenant, sender.id, **params))["a"]) == 2


async def test_device_without_telemetry_answers_an_empty_object(api: Api, sender: Sender) -> None:
    assert await timeseries(api, sender.tenant, sender.id) == {}
    assert await timeseries(api, sender.tenant, sender.id, startTs=0, endTs=TS) == {}


async def test_keys_of_a_device_are_sorted(
    api: Api, client: httpx.AsyncClient, sender: Sender
) -> None:
    await send(client, sender, {"zeta": 1, "alpha": 2})
    await send(client, sender, [{"mid": 3}])
    path = f"/api/plugins/telemetry/DEVICE/{sender.id}/keys/timeseries"
    assert await api.ok("GET", path, sender.tenant) == ["alpha", "mid", "zeta"]


# --- authorization --------------------------------------------------------------------------


async def test_customer_user_reads_its_own_customers_device(
    api: Api, client: httpx.AsyncClient
) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    user = await create_customer_user_quickly(api, tenant, customer)
    sender = await create_sender(api, tenant)
    await api.ok("POST", f"/api/customer/{customer['id']['id']}/device/{sender.id}", tenant)
    await send(client, sender, {"ts": TS, "values": {"t": 1}})
    assert await timeseries(api, user, sender.id) == {"t": [{"ts": TS, "value": "1"}]}


def read_paths(device_id: str) -> list[str]:
    base = f"/api/plugins/telemetry/DEVICE/{device_id}"
    return [
        f"{base}/values/timeseries",
        f"{base}/values/timeseries?keys=t&startTs=0&endTs={TS * 2}",
        f"{base}/keys/timeseries",
    ]


async def expect_refused(
    client: httpx.AsyncClient, account: Account, device_id: str, status: int
) -> None:
    for path in read_paths(device_id):
        response = await client.get(path, headers=account.headers)
        body = expect_error(response, status, 20 if status == 403 else 32)
        assert "22.5" not in str(body)


async def test_customer_user_of_another_customer_is_refused(
    api: Api, client: httpx.AsyncClient
) -> None:
    tenant = await create_tenant_admin_quickly(api)
    owner, other = await api.create_customer(tenant), await api.create_customer(tenant)
    outsider = await create_customer_user_quickly(api, tenant, other)
    sender = await create_sender(api, tenant)
    await api.ok("POST", f"/api/customer/{owner['id']['id']}/device/{sender.id}", tenant)
    await send(client, sender, {"t": 22.5})
    await expect_refused(client, outsider, sender.id, 403)


async def test_customer_user_cannot_read_an_unassigned_device(
    api: Api, client: httpx.AsyncClient
) -> None:
    tenant = await create_tenant_admin_quickly(api)
    user = await create_customer_user_quickly(api, tenant, await api.create_customer(tenant))
    sender = await create_sender(api, tenant)
    await send(client, sender, {"t": 22.5})
    await expect_refused(client, user, sender.id, 403)


async def test_another_tenants_device_is_not_found(
    api: Api, client: httpx.AsyncClient, sender: Sender
) -> None:
    await send(client, sender, {"t": 22.5})
    stranger = await create_tenant_admin_quickly(api)
    await expect_refused(client, stranger, sender.id, 404)


async def test_unknown_device_is_not_found(
    api: Api, client: httpx.AsyncClient, sender: Sender
) -> None:
    await expect_refused(client, sender.tenant, "00000000-0000-4000-8000-000000000000", 404)


async def test_reading_needs_a_signed_in_user(client: httpx.AsyncClient, sender: Sender) -> None:
    for path in read_paths(sender.id):
        expect_error(await client.get(path), 401, 10)


# --- bad parameters -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "startTs=abc&endTs=1",
        "startTs=1&endTs=1.5",
        "startTs=1",
        "endTs=1",
        "startTs=5&endTs=1",
        "startTs=-1&endTs=1",
        "startTs=0&endTs=1&limit=0",
        "startTs=0&endTs=1&limit=10001",
        "startTs=0&endTs=1&limit=ten",
        "startTs=0&endTs=1&orderBy=SIDEWAYS",
        "startTs=0&endTs=1&agg=AVG&interval=1000",
        "agg=MAX",
        "useStrictDataTypes=maybe",
        "startTs=0&endTs=1&interval=-5",
    ],
)
async def test_bad_parameters_are_400(
    client: httpx.AsyncClient, sender: Sender, query: str
) -> None:
    path = f"/api/plugins/telemetry/DEVICE/{sender.id}/values/timeseries?keys=a&{query}"
    body = expect_error(await client.get(path, headers=sender.tenant.headers), 400, 31)
    assert body["message"]


async def test_aggregation_is_refused_with_a_clear_message(
    client: httpx.AsyncClient, sender: Sender
) -> None:
    path = f"/api/plugins/telemetry/DEVICE/{sender.id}/values/timeseries?keys=a&agg=AVG"
    body = expect_error(await client.get(path, headers=sender.tenant.headers), 400, 31)
    assert "ggregation is not supported" in body["message"]


@pytest.mark.parametrize("suffix", ["values/timeseries", "keys/timeseries"])
async def test_entity_types_other_than_device_are_400(
    client: httpx.AsyncClient, sender: Sender, suffix: str
) -> None:
    response = await client.get(
        f"/api/plugins/telemetry/ASSET/{sender.id}/{suffix}", headers=sender.tenant.headers
    )
    assert "entityType DEVICE" in expect_error(response, 400, 30)["message"]


async def test_malformed_entity_id_is_400(client: httpx.AsyncClient, sender: Sender) -> None:
    response = await client.get(
        "/api/plugins/telemetry/DEVICE/not-a-uuid/values/timeseries", headers=sender.tenant.headers
    )
    expect_error(response, 400, 31)
