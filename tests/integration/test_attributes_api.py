"""Device attributes under /api/plugins/telemetry, in every path style the clients use."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.factories import Account, Api, create_tenant_admin_quickly, expect_error

TYPED_VALUES: dict[str, Any] = {
    "flag": True,
    "text_flag": "true",
    "count": 1,
    "ratio": 1.5,
    "whole_float": 2.0,
    "nothing": None,
    "nested": {"a": {"b": [1, "two", False]}},
    "items": [1, 1.5, "x", None, {"k": "v"}],
    "unicode": "Zähler №7 温度",
}


async def device_of(api: Api) -> tuple[Account, str]:
    tenant = await create_tenant_admin_quickly(api)
    device = await api.create_device(tenant)
    return tenant, device["id"]["id"]


async def read(api: Api, tenant: Account, device_id: str, suffix: str = "", **params: str) -> Any:
    path = f"/api/plugins/telemetry/DEVICE/{device_id}/values/attributes{suffix}"
    return await api.ok("GET", path, tenant, params=params)


def as_dict(attributes: list[dict[str, Any]]) -> dict[str, Any]:
    return {a["key"]: a["value"] for a in attributes}


SAVE_PATHS = [
    "/api/plugins/telemetry/{id}/SERVER_SCOPE",
    "/api/plugins/telemetry/DEVICE/{id}/SERVER_SCOPE",
    "/api/plugins/telemetry/DEVICE/{id}/attributes/SERVER_SCOPE",
]


@pytest.mark.parametrize("path", SAVE_PATHS, ids=["device", "entity-v1", "entity-v2"])
async def test_attributes_saved_through_each_path_style_are_read_back(api: Api, path: str) -> None:
    tenant, device_id = await device_of(api)
    await api.ok("POST", path.format(id=device_id), tenant, json={"firmware": "1.2.3"})
    attributes = await read(api, tenant, device_id)
    assert [(a["key"], a["value"]) for a in attributes] == [("firmware", "1.2.3")]
    assert isinstance(attributes[0]["lastUpdateTs"], int)


async def test_json_types_survive_the_round_trip(api: Api) -> None:
    tenant, device_id = await device_of(api)
    await api.ok(
        "POST", f"/api/plugins/telemetry/{device_id}/SHARED_SCOPE", tenant, json=TYPED_VALUES
    )
    response = await api.client.get(
        f"/api/plugins/telemetry/DEVICE/{device_id}/values/attributes/SHARED_SCOPE",
        headers=tenant.headers,
    )
    stored = as_dict(response.json())
    assert stored == TYPED_VALUES
    for key, value in TYPED_VALUES.items():
        assert type(stored[key]) is type(value), key  # 2.0 stays a float, "true" a string


async def test_body_sent_as_text_plain_is_parsed_as_json(api: Api) -> None:
    tenant, device_id = await device_of(api)
    response = await api.client.post(
        f"/api/plugins/telemetry/DEVICE/{device_id}/SERVER_SCOPE",
        content=json.dumps({"mode": "eco", "level": 3}),
        headers={**tenant.headers, "Content-Type": "text/plain"},
    )
    assert response.status_code == 200, response.text
    assert as_dict(await read(api, tenant, device_id)) == {"level": 3, "mode": "eco"}


async def test_saving_a_key_again_replaces_its_value(api: Api) -> None:
    tenant, device_id = await device_of(api)
    path = f"/api/plugins/telemetry/{device_id}/SERVER_SCOPE"
    await api.ok("POST", path, tenant, json={"mode": "eco", "level": 3})
    await api.ok("POST", path, tenant, json={"mode": "boost"})
    assert as_dict(await read(api, tenant, device_id)) == {"level": 3, "mode": "boost"}


async def test_attributes_are_read_by_scope(api: Api) -> None:
    tenant, device_id = await device_of(api)
    await api.ok(
        "POST", f"/api/plugins/telemetry/{device_id}/SERVER_SCOPE", tenant, json={"k": "server"}
    )
    await api.ok(
        "POST", f"/api/plugins/telemetry/{device_id}/SHARED_SCOPE", tenant, json={"k": "shared"}
    )
    server = await read(api, tenant, device_id, "/SERVER_SCOPE")
    shared = await read(api, tenant, device_id, "/SHARED_SCOPE")
    assert (as_dict(server), as_dict(shared)) == ({"k": "server"}, {"k": "shared"})
    assert await read(api, tenant, device_id, "/CLIENT_SCOPE") == []
    assert sorted(a["value"] for a in await read(api, tenant, device_id)) == ["server", "shared"]


async def test_attributes_are_read_by_keys(api: Api) -> None:
    tenant, device_id = await device_of(api)
    await api.ok(
        "POST",
        f"/api/plugins/telemetry/{device_id}/SERVER_SCOPE",
        tenant,
        json={"a": 1, "b": 2, "c": 3},
    )
    assert as_dict(await read(api, tenant, device_id, keys="a,c,unknown")) == {"a": 1, "c": 3}
    assert as_dict(await read(api, tenant, device_id, "/SERVER_SCOPE", keys="b")) == {"b": 2}


async def test_attribute_keys_are_listed(api: Api) -> None:
    tenant, device_id = await device_of(api)
    await api.ok(
        "POST", f"/api/plugins/telemetry/{device_id}/SERVER_SCOPE", tenant, json={"b": 1, "a": 2}
    )
    keys = await api.ok("GET", f"/api/plugins/telemetry/DEVICE/{device_id}/keys/attributes", tenant)
    assert keys == ["a", "b"]


@pytest.mark.parametrize("body", [None, b"", b"{}"], ids=["no-body", "empty-body", "empty-object"])
async def test_delete_by_keys_accepts_any_body_and_removes_only_those_keys(
    api: Api, body: bytes | None
) -> None:
    tenant, device_id = await device_of(api)
    await api.ok(
        "POST",
        f"/api/plugins/telemetry/{device_id}/SERVER_SCOPE",
        tenant,
        json={"a": 1, "b": 2, "c": 3},
    )
    response = await api.client.request(
        "DELETE",
        f"/api/plugins/telemetry/DEVICE/{device_id}/SERVER_SCOPE",
        params={"keys": "a,b"},
        content=body,
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert as_dict(await read(api, tenant, device_id)) == {"c": 3}


async def test_delete_through_the_device_path_leaves_other_scopes_alone(api: Api) -> None:
    tenant, device_id = await device_of(api)
    await api.ok("POST", f"/api/plugins/telemetry/{device_id}/SERVER_SCOPE", tenant, json={"k": 1})
    await api.ok("POST", f"/api/plugins/telemetry/{device_id}/SHARED_SCOPE", tenant, json={"k": 2})
    await api.ok("DELETE", f"/api/plugins/telemetry/{device_id}/SERVER_SCOPE?keys=k", tenant)
    remaining = await read(api, tenant, device_id)
    assert [(a["key"], a["value"]) for a in remaining] == [("k", 2)]


async def test_delete_without_keys_is_refused(api: Api) -> None:
    tenant, device_id = await device_of(api)
    await api.ok("POST", f"/api/plugins/telemetry/{device_id}/SERVER_SCOPE", tenant, json={"k": 1})
    response = await api.client.delete(
        f"/api/plugins/telemetry/{device_id}/SERVER_SCOPE", headers=tenant.headers
    )
    expect_error(response, 400, 30)
    assert as_dict(await read(api, tenant, device_id)) == {"k": 1}


async def test_client_scope_cannot_be_written_by_users(api: Api) -> None:
    tenant, device_id = await device_of(api)
    for path in SAVE_PATHS:
        response = await api.client.post(
            path.replace("SERVER_SCOPE", "CLIENT_SCOPE").format(id=device_id),
            headers=tenant.headers,
            json={"reported": 1},
        )
        expect_error(response, 400, 30)
    assert await read(api, tenant, device_id) == []


async def test_unknown_scope_is_refused(api: Api) -> None:
    tenant, device_id = await device_of(api)
    base = f"/api/plugins/telemetry/DEVICE/{device_id}"
    for method, path, body in (
        ("POST", f"{base}/PRIVATE_SCOPE", {"k": 1}),
        ("GET", f"{base}/values/attributes/PRIVATE_SCOPE", None),
        ("DELETE", f"{base}/PRIVATE_SCOPE?keys=k", None),
    ):
        response = await api.client.request(method, path, headers=tenant.headers, json=body)
        assert response.status_code == 400, (method, path)
        expect_error(response, 400, 30)
    assert await read(api, tenant, device_id) == []


async def test_body_that_is_not_a_json_object_is_refused(api: Api) -> None:
    tenant, device_id = await device_of(api)
    path = f"/api/plugins/telemetry/{device_id}/SERVER_SCOPE"
    for body in (b"[1, 2]", b'"text"', b"5", b"null", b"", b"   "):
        response = await api.client.post(path, headers=tenant.headers, content=body)
        assert response.status_code == 400, body
        assert response.json()["errorCode"] in (30, 31), body
        expect_error(response, 400, response.json()["errorCode"])
    assert await read(api, tenant, device_id) == []


async def test_blank_attribute_key_is_refused(api: Api) -> None:
    tenant, device_id = await device_of(api)
    response = await api.client.post(
        f"/api/plugins/telemetry/{device_id}/SERVER_SCOPE",
        headers=tenant.headers,
        json={"ok": 1, " ": 2},
    )
    expect_error(response, 400, 30)
    assert await read(api, tenant, device_id) == []


async def test_attributes_of_other_entity_types_are_refused(api: Api) -> None:
    tenant, device_id = await device_of(api)
    response = await api.client.post(
        f"/api/plugins/telemetry/ASSET/{device_id}/SERVER_SCOPE",
        headers=tenant.headers,
        json={"k": 1},
    )
    expect_error(response, 400, 30)


async def test_attributes_of_an_unknown_device_are_not_found(api: Api) -> None:
    tenant, _device_id = await device_of(api)
    response = await api.client.get(
        "/api/plugins/telemetry/DEVICE/0b6f1a5e-0000-4000-8000-000000000000/values/attributes",
        headers=tenant.headers,
    )
    expect_error(response, 404, 32)
