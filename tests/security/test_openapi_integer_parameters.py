"""Every integer parameter of every operation is range-checked: a value past 64 bits, or out of
the declared range, is a 400 with ThingsBoard error JSON (errorCode 31), never a 500, and the
connection it came on stays usable.

The operations and their integer parameters are read from the OpenAPI document, so a new
operation is covered without touching this file.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.claiming_helpers import set_up_claiming_tenancy
from tests.e2e.running_server import Server
from tests.integration.factories import Account, Api, create_tenant_admin_quickly, expect_error

pytestmark = pytest.mark.security

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
OUT_OF_ANY_RANGE = (INT64_MAX + 1, INT64_MIN - 1, 10**30, -(10**30))


@dataclass(frozen=True)
class IntegerParameter:
    method: str
    path: str
    name: str
    location: str
    minimum: int | None
    maximum: int | None


def integer_schema(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The integer branch of a parameter schema (``int | None`` is an ``anyOf``)."""
    if schema.get("type") == "integer":
        return schema
    for branch in schema.get("anyOf", []):
        if branch.get("type") == "integer":
            return dict(branch)
    return None


def integer_parameters(document: dict[str, Any]) -> Iterator[IntegerParameter]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schema = integer_schema(parameter["schema"])
                if schema is not None:
                    yield IntegerParameter(
                        method.upper(),
                        path,
                        parameter["name"],
                        parameter["in"],
                        schema.get("minimum"),
                        schema.get("maximum"),
                    )


def valid_value(parameter: dict[str, Any], known: dict[str, str]) -> Any:
    """A value the operation accepts, so only the integer under test can be wrong."""
    name = parameter["name"]
    if name in known:
        return known[name]
    schema = integer_schema(parameter["schema"])
    if schema is not None:
        return max(schema.get("minimum", 0), 1)
    if "uuid" in str(parameter["schema"]):
        return str(uuid.uuid4())
    return "DEVICE" if "type" in name.lower() else "x"


def request_for(
    document: dict[str, Any], target: IntegerParameter, value: int, known: dict[str, str]
) -> tuple[str, dict[str, Any]]:
    """The URL path and query of ``target``'s operation with ``value`` in ``target``."""
    operation = document["paths"][target.path][target.method.lower()]
    path, query = target.path, {}
    for parameter in operation.get("parameters", []):
        if parameter["name"] == target.name:
            filled: Any = value
        elif parameter.get("required") or parameter["in"] == "path":
            filled = valid_value(parameter, known)
        else:
            continue
        if parameter["in"] == "path":
            path = path.replace("{" + parameter["name"] + "}", str(filled))
        elif parameter["in"] == "query":
            query[parameter["name"]] = str(filled)
    return path, query


def bad_values(target: IntegerParameter) -> list[int]:
    values = list(OUT_OF_ANY_RANGE)
    if target.minimum is not None and target.minimum > INT64_MIN:
        values.append(target.minimum - 1)
    if target.maximum is not None and target.maximum < INT64_MAX:
        values.append(target.maximum + 1)
    return values


async def known_ids(api: Api, tenant: Account) -> dict[str, str]:
    device = await api.create_device(tenant)
    customer = await api.create_customer(tenant)
    return {
        "entity_id": device["id"]["id"],
        "device_id": device["id"]["id"],
        "customer_id": customer["id"]["id"],
        "tenant_id": tenant.user["tenantId"]["id"],
        "user_id": tenant.user["id"]["id"],
        "entity_type": "DEVICE",
    }


async def test_every_integer_parameter_declares_its_range(api: Api) -> None:
    document = (await api.client.get("/v3/api-docs")).json()
    found = list(integer_parameters(document))
    assert len(found) >= 20  # paging on every listing, time ranges, limits
    for parameter in found:
        assert parameter.minimum is not None and parameter.maximum is not None, parameter
        assert INT64_MIN <= parameter.minimum <= parameter.maximum <= INT64_MAX, parameter


async def test_integers_out_of_range_in_any_parameter_are_bad_requests(api: Api) -> None:
    document = (await api.client.get("/v3/api-docs")).json()
    tenant = await create_tenant_admin_quickly(api)
    known = await known_ids(api, tenant)
    for target in integer_parameters(document):
        for value in bad_values(target):
            path, query = request_for(document, target, value, known)
            response = await api.client.request(
                target.method, path, params=query, headers=tenant.headers
            )
            assert response.status_code == 400, (target, value, response.text)
            expect_error(response, 400, 31)


async def test_timeseries_and_audit_time_ranges_past_64_bits_are_bad_requests(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    device = await api.create_device(tenant)
    timeseries = f"/api/plugins/telemetry/DEVICE/{device['id']['id']}/values/timeseries"
    audit_page = {"pageSize": 10, "page": 0}
    for path, query in (
        (timeseries, {"keys": "t", "startTs": 0, "endTs": 2**63}),
        (timeseries, {"keys": "t", "startTs": -(2**63) - 1, "endTs": 0}),
        (timeseries, {"keys": "t", "startTs": 0, "endTs": 1, "limit": 2**63}),
        ("/api/audit/logs", {**audit_page, "startTime": 2**63}),
        ("/api/audit/logs", {**audit_page, "endTime": 2**64}),
    ):
        response = await api.client.get(path, params=query, headers=tenant.headers)
        expect_error(response, 400, 31)


async def test_largest_64_bit_time_range_is_answered(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    device = await api.create_device(tenant)
    timeseries = f"/api/plugins/telemetry/DEVICE/{device['id']['id']}/values/timeseries"
    query = {"keys": "t", "startTs": 0, "endTs": INT64_MAX, "limit": 10_000}
    assert await api.ok("GET", timeseries, tenant, params=query) == {}
    audit = {"pageSize": 10, "page": 0, "startTime": 0, "endTime": INT64_MAX}
    page = await api.ok("GET", "/api/audit/logs", tenant, params=audit)
    assert page["totalElements"] >= 0


def http_exchange(sock: socket.socket, request: bytes) -> bytes:
    """Send one request and read one whole response (``Content-Length`` framed)."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection mid-body"
        body += chunk
    return head + b"\r\n\r\n" + body


@pytest.mark.e2e
def test_overflowing_query_keeps_the_keep_alive_connection(server: Server) -> None:
    tenancy = set_up_claiming_tenancy(server)
    try:
        token = tenancy.admin.headers["X-Authorization"]
        host, port = server.base_url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            for _ in range(2):
                overflow = (
                    f"GET /api/audit/logs?pageSize=10&page=0&startTime={2**63} HTTP/1.1\r\n"
                    f"Host: {host}\r\nX-Authorization: {token}\r\n\r\n"
                ).encode()
                assert http_exchange(sock, overflow).startswith(b"HTTP/1.1 400 ")
            fine = (
                f"GET /api/auth/user HTTP/1.1\r\nHost: {host}\r\nX-Authorization: {token}\r\n\r\n"
            ).encode()
            assert http_exchange(sock, fine).startswith(b"HTTP/1.1 200 ")
    finally:
        tenancy.close()
