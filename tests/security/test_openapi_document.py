"""The OpenAPI document declares what each operation really answers, so a generated client
works: ThingsBoard error JSON on every failure status that can happen, the real success bodies
(empty, JSON null, bare strings, PageData) and the request constraints."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gridlinks.api.response_schemas import SUCCESS_SCHEMAS
from tests.integration.factories import (
    ERROR_KEYS,
    Api,
    create_customer_user_quickly,
    create_tenant_admin_quickly,
    expect_error,
)

pytestmark = pytest.mark.security

ERROR_REF = "#/components/schemas/ThingsboardErrorResponse"
SIGN_IN_OPERATIONS = {
    ("post", "/api/auth/login"),
    ("post", "/api/auth/token"),
    ("post", "/api/noauth/activate"),
}
DEVICE_API_PREFIX = "/api/v1/{token}/"


async def api_document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/v3/api-docs")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, by_method in document["paths"].items():
        for method, operation in by_method.items():
            yield method, path, operation


def json_schema(answer: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = answer["content"]["application/json"]["schema"]
    return schema


async def test_every_failure_status_is_declared_with_thingsboard_error_json(
    client: httpx.AsyncClient,
) -> None:
    document = await api_document(client)
    for method, path, operation in operations(document):
        answers = operation["responses"]
        where = (method, path, sorted(answers))
        assert "422" not in answers, where  # validation errors are rendered as 400
        assert {"200", "400", "503"} <= set(answers), where
        if operation.get("security") != []:
            assert {"401", "403"} <= set(answers), where
        if "requestBody" in operation:
            assert {"408", "413"} <= set(answers), where
        if any(p["in"] == "path" for p in operation.get("parameters", [])):
            assert "404" in answers or path.startswith(DEVICE_API_PREFIX), where
        for status, answer in answers.items():
            if int(status) >= 400:
                schema = json_schema(answer)
                assert schema == {"$ref": ERROR_REF} or {"$ref": ERROR_REF} in schema["anyOf"]


async def test_error_schema_names_exactly_what_the_server_sends(api: Api) -> None:
    document = await api_document(api.client)
    declared = document["components"]["schemas"]["ThingsboardErrorResponse"]
    assert set(declared["required"]) == set(declared["properties"]) == ERROR_KEYS
    expect_error(await api.client.get("/api/auth/user"), 401, 10)


async def test_sign_in_and_device_api_need_no_user_token(client: httpx.AsyncClient) -> None:
    document = await api_document(client)
    for method, path, operation in operations(document):
        needs_none = (method, path) in SIGN_IN_OPERATIONS or path.startswith(DEVICE_API_PREFIX)
        assert (operation.get("security") == []) == needs_none, (method, path)
        if path.startswith(DEVICE_API_PREFIX):
            assert "401" in operation["responses"], path  # an unknown device token


async def test_empty_answers_declare_no_body(client: httpx.AsyncClient) -> None:
    document = await api_document(client)
    release = document["paths"]["/api/customer/device/{device_name}/claim"]["delete"]
    assert "content" not in release["responses"]["200"]
    for kind in ("claim", "telemetry", "attributes"):
        operation = document["paths"][f"{DEVICE_API_PREFIX}{kind}"]["post"]
        assert "content" not in operation["responses"]["200"], kind
    delete_device = document["paths"]["/api/device/{device_id}"]["delete"]
    assert "content" not in delete_device["responses"]["200"]


async def test_release_and_device_claim_really_answer_an_empty_body(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    device = await api.create_device(tenant)
    token = (await api.ok("GET", f"/api/device/{device['id']['id']}/credentials", tenant))[
        "credentialsId"
    ]
    announced = await api.client.post(f"/api/v1/{token}/claim", json={"secretKey": "k"})
    assert (announced.status_code, announced.content) == (200, b"")
    released = await api.client.delete(
        f"/api/customer/device/{device['name']}/claim", headers=tenant.headers
    )
    assert (released.status_code, released.content) == (200, b"")


async def test_claim_declares_thingsboards_bare_string_answers(api: Api) -> None:
    document = await api_document(api.client)
    answers = document["paths"]["/api/customer/device/{device_name}/claim"]["post"]["responses"]
    assert {"200", "400", "401", "403", "404", "429"} <= set(answers)
    bare = json_schema(answers["400"])["anyOf"][0]
    assert set(bare["enum"]) == {"FAILURE", "CLAIMED"}
    assert answers["429"]["headers"]["Retry-After"]["required"] is True
    tenant = await create_tenant_admin_quickly(api)
    buyer = await create_customer_user_quickly(api, tenant, await api.create_customer(tenant))
    device = await api.create_device(tenant)
    refused = await api.client.post(
        f"/api/customer/device/{device['name']}/claim", headers=buyer.headers, json={}
    )
    assert (refused.status_code, refused.json()) == (400, "FAILURE")


async def test_listings_and_entities_declare_their_shapes(client: httpx.AsyncClient) -> None:
    document = await api_document(client)
    schemas = document["components"]["schemas"]
    for (method, path), schema in SUCCESS_SCHEMAS.items():
        operation = document["paths"][path][method.lower()]
        assert json_schema(operation["responses"]["200"]) == schema, (method, path)
    for _method, path, operation in operations(document):
        names = {p["name"] for p in operation.get("parameters", [])}
        if {"pageSize", "page"} <= names and path != "/api/tenant/devices":
            reference = json_schema(operation["responses"]["200"])["$ref"]
            page = schemas[reference.rsplit("/", 1)[1]]
            assert set(page["required"]) == {"data", "totalPages", "totalElements", "hasNext"}
    login = document["paths"]["/api/auth/login"]["post"]["responses"]["200"]
    assert json_schema(login) == {"$ref": "#/components/schemas/JwtPair"}


async def test_string_query_parameters_declare_a_maximum_length(
    client: httpx.AsyncClient,
) -> None:
    document = await api_document(client)
    for method, path, operation in operations(document):
        for parameter in operation.get("parameters", []):
            schema = parameter["schema"]
            branches = schema.get("anyOf", [schema])
            for branch in branches:
                if parameter["in"] == "query" and branch.get("type") == "string":
                    is_uuid = branch.get("format") == "uuid"
                    assert is_uuid or "maxLength" in branch, (method, path, parameter["name"])
