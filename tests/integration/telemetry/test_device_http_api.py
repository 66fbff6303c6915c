"""The HTTP device API for telemetry and client attributes, driven by plain httpx requests (as
tb-mqtt-client's ``TBHTTPDevice`` sends them, without needing it)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.integration.factories import Api, create_tenant_admin_quickly, expect_error
from tests.integration.telemetry.helpers import (
    TS,
    Sender,
    create_sender,
    post_telemetry,
    send,
    timeseries,
)


@pytest.fixture
async def sender(api: Api) -> Sender:
    return await create_sender(api, await create_tenant_admin_quickly(api))


async def stored(api: Api, sender: Sender) -> Any:
    return await timeseries(api, sender.tenant, sender.id, useStrictDataTypes="true")


async def client_attributes(api: Api, sender: Sender) -> dict[str, Any]:
    path = f"/api/plugins/telemetry/DEVICE/{sender.id}/values/attributes/CLIENT_SCOPE"
    return {a["key"]: a["value"] for a in await api.ok("GET", path, sender.tenant)}


# --- telemetry ------------------------------------------------------------------------------


async def test_flat_telemetry_is_stored_now_and_answered_with_an_empty_200(
    api: Api, client: httpx.AsyncClient, sender: Sender
) -> None:
    response = await post_telemetry(client, sender.token, {"temperature": 22.5, "on": True})
    assert response.status_code == 200 and response.content == b""
    found = await stored(api, sender)
    assert {k: v[0]["value"] for k, v in found.items()} == {"temperature": 22.5, "on": True}
    assert found["temperature"][0]["ts"] > TS


async def test_timestamped_array_is_stored_at_its_timestamps(
    api: Api, client: httpx.AsyncClient, sender: Sender
) -> None:
    await send(client, sender, [{"ts": TS, "values": {"t": 1}}, {"ts": TS + 5, "values": {"t": 2}}])
    found = await timeseries(api, sender.tenant, sender.id, startTs=TS, endTs=TS + 5)
    assert found == {"t": [{"ts": TS + 5, "value": "2"}, {"ts": TS, "value": "1"}]}


async def test_empty_object_is_accepted_and_stores_nothing(
    api: Api, client: httpx.AsyncClient, sender: Sender
) -> None:
    await send(client, sender, {})
    assert await stored(api, sender) == {}


async def test_telemetry_sent_as_text_plain_is_parsed_as_json(
    api: Api, client: httpx.AsyncClient, sender: Sender
) -> None:
    response = await client.post(
        f"/api/v1/{sender.token}/telemetry",
        content=json.dumps({"ts": TS, "values": {"t": 7}}),
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 200, response.text
    assert await stored(api, sender) == {"t": [{"ts": TS, "value": 7}]}


async def test_unknown_token_is_401_for_telemetry(client: httpx.AsyncClient) -> None:
    expect_error(await post_telemetry(client, "no-such-token", {"t": 1}), 401, 10)


async def test_unknown_token_is_401_even_with_a_malformed_body(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/no-such-token/telemetry", content=b"{oops")
    expect_error(response, 401, 10)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{not json",
        b"42",
        b'"text"',
        b"[1, 2]",
        b'{"ts": "yesterday", "values": {"t": 1}}',
        b'{"ts": 1, "values": [1]}',
        b'{"": 1}',
        b'{"t": NaN}',
        b'{"t": "a\\u0000b"}',
    ],
)
async def test_malformed_telemetry_is_400_and_stores_nothing(
    api: Api, client: httpx.AsyncClient, sender: Sender, body: bytes
) -> None:
    response = await client.post(
        f"/api/v1/{sender.token}/telemetry",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    expect_error(response, 400, 31)
    assert await stored(api, sender) == {}


async def test_a_message_with_one_bad_entry_stores_none_of_it(
    api: Api, client: httpx.AsyncClient, sender: Sender
) -> None:
    response = await post_telemetry(client, sender.token, [{"t": 1}, {"ts": -1, "values": {}}])
    expect_error(response, 400, 31)
    assert await stored(api, sender) == {}


# --- client attributes ----------------------------------------------------------------------


async def test_client_attributes_are_stored_with_their_types(
    api: Api, client: httpx.AsyncClient, sender: Sender
) -> None:
    values = {"firmware": "1.2.3", "battery": 87, "charging": False, "cfg": {"a": [1]}}
    response = await client.post(f"/api/v1/{sender.token}/attributes", json=values)
    assert response.status_code == 200 and response.content == b""
    assert await client_attributes(api, sender) == values


async def test_client_attributes_are_not_telemetry(
    api: Api, client: httpx.AsyncClient, sender: Sender
) -> None:
    await client.post(f"/api/v1/{sender.token}/attributes", json={"firmware": "1.2.3"})
    assert await stored(api, sender) == {}


async def test_unknown_token_is_401_for_attributes(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/no-such-token/attributes", json={"a": 1})
    expect_error(response, 401, 10)


@pytest.mark.parametrize("body", [b"", b"[1]", b"42", b"{oops", b'{"": 1}'])
async def test_malformed_attributes_are_400_and_store_nothing(
    api: Api, client: httpx.AsyncClient, sender: Sender, body: bytes
) -> None:
    response = await client.post(f"/api/v1/{sender.token}/attributes", content=body)
    assert response.status_code == 400, response.text
    assert await client_attributes(api, sender) == {}


async def test_users_still_cannot_write_client_attributes(
    client: httpx.AsyncClient, sender: Sender
) -> None:
    response = await client.post(
        f"/api/plugins/telemetry/DEVICE/{sender.id}/CLIENT_SCOPE",
        json={"firmware": "forged"},
        headers=sender.tenant.headers,
    )
    expect_error(response, 400, 30)
