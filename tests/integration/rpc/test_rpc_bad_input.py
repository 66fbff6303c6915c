"""Bad RPC requests get a 400 naming the problem (413 past the body limit), never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.factories import Api, expect_error
from tests.integration.rpc.devices import open_shop

OK = {"method": "setGpio", "params": {}}


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"params": {}}, "method"),
        ({"method": "", "params": {}}, "method"),
        ({"method": "   "}, "method"),
        ({"method": 7}, "method"),
        ({"method": ["a"]}, "method"),
        ({"method": "x" * 256}, "method"),
        ({"method": "a\nb"}, "method"),
        ({**OK, "params": {"blob": "x" * 70_000}}, "params"),
        ({**OK, "timeout": -1}, "timeout"),
        ({**OK, "timeout": 3_600_001}, "timeout"),
        ({**OK, "timeout": "soon"}, "timeout"),
        ({**OK, "timeout": True}, "timeout"),
        ({**OK, "timeout": 1.5}, "timeout"),
        ({**OK, "timeout": 10**30}, "timeout"),
        ({**OK, "expirationTime": 1}, "expirationTime"),
        ({**OK, "expirationTime": 2**70}, "expirationTime"),
        ({**OK, "persistent": "yes"}, "persistent"),
        ({**OK, "persistent": True, "retries": -1}, "retries"),
        ({**OK, "persistent": True, "retries": 1000}, "retries"),
        ({**OK, "additionalInfo": "x" * 20_000}, "additionalInfo"),
        ([OK], "object"),
        ("setGpio", "object"),
    ],
)
async def test_a_bad_body_is_a_400_naming_the_field(api: Api, body: Any, named: str) -> None:
    shop = await open_shop(api)
    for path in ("plugins/rpc/twoway", "rpc/oneway"):
        response = await api.client.post(
            f"/api/{path}/{shop.device_id}", headers=shop.owner.headers, json=body
        )
        error = expect_error(response, 400, response.json().get("errorCode"))
        assert named in error["message"], error


async def test_an_empty_or_broken_body_is_a_400(api: Api) -> None:
    shop = await open_shop(api)
    for content in (b"", b"{", b'{"method": NaN}'):
        response = await api.client.post(
            f"/api/rpc/twoway/{shop.device_id}",
            headers={**shop.owner.headers, "content-type": "application/json"},
            content=content,
        )
        assert response.status_code == 400, (content, response.text)


async def test_a_body_past_the_request_limit_is_a_413(api: Api) -> None:
    shop = await open_shop(api)
    body = json.dumps({"method": "m", "params": "x" * 2_000_000})
    response = await api.client.post(
        f"/api/rpc/twoway/{shop.device_id}", headers=shop.owner.headers, content=body
    )
    assert response.status_code == 413


async def test_a_malformed_or_unknown_device_id_is_400_or_404(api: Api) -> None:
    shop = await open_shop(api)
    malformed = await api.client.post(
        "/api/rpc/twoway/not-a-uuid", headers=shop.owner.headers, json=OK
    )
    assert malformed.status_code == 400
    unknown = await api.client.post(
        "/api/rpc/twoway/0e0c5b0e-0000-4000-8000-000000000000",
        headers=shop.owner.headers,
        json=OK,
    )
    expect_error(unknown, 404, 32)


async def test_unknown_fields_are_ignored_as_thingsboard_does(api: Api) -> None:
    shop = await open_shop(api)
    response = await api.client.post(
        f"/api/rpc/twoway/{shop.device_id}",
        headers=shop.owner.headers,
        json={**OK, "persistent": True, "colour": "blue"},
    )
    assert response.status_code == 200 and "rpcId" in response.json()
