"""Schema-driven fuzzing of a real ``gridlinks serve`` against its own OpenAPI document.

Schemathesis generates requests for every operation of ``/v3/api-docs`` - valid ones and ones
that break the declared schema - as a tenant administrator and as a customer user, and checks
every answer: never a 5xx, only documented status codes and content types, bodies matching the
documented schemas. The device API (``/api/v1/{token}/...``) is fuzzed with generated (unknown)
tokens and with a real one.

The run is bounded (``GRIDLINKS_FUZZ_EXAMPLES`` examples per operation, mode and caller) and
derandomized, so CI sees the same requests every time; raise the number locally to dig deeper.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.claiming_helpers import (
    PASSWORD,
    create_device,
    set_up_claiming_tenancy,
    unique,
    unique_token,
)
from tests.e2e.running_server import Server

pytestmark = [pytest.mark.e2e, pytest.mark.security]

EXAMPLES = int(os.environ.get("GRIDLINKS_FUZZ_EXAMPLES", "5"))
FAILURES_SHOWN_PER_OPERATION = 3
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
TIMEOUT_SECONDS = 30
# Long-polls with a real token wait up to their ``timeout``: fuzzed with a short one.
LONG_POLLS = {"/api/v1/{token}/rpc", "/api/v1/{token}/attributes/updates"}


def sign_in(base_url: str, email: str) -> dict[str, str]:
    """A fresh token for every operation: fuzzing ``/api/auth/logout`` may revoke the last."""
    body = {"username": email, "password": PASSWORD}
    response = requests.post(f"{base_url}/api/auth/login", json=body, timeout=TIMEOUT_SECONDS)
    assert response.status_code == 200, response.text
    return {"X-Authorization": f"Bearer {response.json()['token']}"}


def refused_by_the_http_server(response: schemathesis.Response) -> bool:
    """uvicorn's own plain-text 400 for a request target over 64 KiB: refused before the app
    sees it (generated bad strings percent-encoded at up to 12 bytes a character get there)."""
    target_bytes = len(str(response.request.url).encode())
    return (
        response.status_code == 400
        and target_bytes > 65_000
        and response.content == b"Invalid HTTP request received."
    )


def describe(error: BaseException) -> str:
    return "".join(str(part) for part in (error, *getattr(error, "__notes__", ())))


def fuzz(
    operation: schemathesis.APIOperation,
    mode: schemathesis.GenerationMode,
    call: Callable[[schemathesis.Case], None],
    **fixed: Any,
) -> list[str]:
    """Run ``EXAMPLES`` generated cases of ``operation``; the failures, described."""
    found: list[str] = []

    @hypothesis.given(case=operation.as_strategy(generation_mode=mode, **fixed))
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],  # no shrinking: every failure is reported as it happened
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        if len(found) >= FAILURES_SHOWN_PER_OPERATION:
            return
        try:
            call(case)
        except (Exception, BaseExceptionGroup) as error:
            found.append(f"{operation.label} ({mode.value}):\n{describe(error)}")

    # Unsatisfiable: nothing to break in this mode (e.g. an operation without parameters).
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        run()
    return found


def fuzz_as(
    schema: Any, base_url: str, email: str, under: str = "/", **fixed: Any
) -> tuple[int, list[str]]:
    """Fuzz every operation whose path starts with ``under``, signed in as ``email``, with
    ``fixed`` parts (``path_parameters=...``): (operations run, failures)."""
    session = requests.Session()
    failures: list[str] = []
    count = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith(under):
            continue
        headers = sign_in(base_url, email)

        def call(case: schemathesis.Case, headers: dict[str, str] = headers) -> None:
            sent = {"base_url": base_url, "session": session, "headers": headers}
            response = case.call(**sent, timeout=TIMEOUT_SECONDS)
            if not refused_by_the_http_server(response):
                case.validate_response(
                    response, checks=CHECKS, headers=headers, transport_kwargs=sent
                )

        extra = {}
        if fixed and operation.method.upper() == "GET" and operation.path in LONG_POLLS:
            extra = {"query": {"timeout": "50"}}
        for mode in schemathesis.GenerationMode:
            failures += fuzz(operation, mode, call, **fixed, **extra)
        count += 1
    session.close()
    return count, failures


def test_every_operation_answers_as_documented_under_fuzzing(server: Server) -> None:
    tenancy = set_up_claiming_tenancy(server)
    try:
        token = unique_token()
        create_device(tenancy.admin, unique("Fuzzed meter"), token)
        assigned = create_device(tenancy.admin, unique("Assigned meter"), unique_token())
        path = f"/api/customer/{tenancy.buyer.customer_id}/device/{assigned['id']['id']}"
        assert tenancy.admin.post(path).status_code == 200
        schema = schemathesis.openapi.from_url(
            f"{server.base_url}/v3/api-docs", timeout=TIMEOUT_SECONDS
        )
        base_url = server.base_url
        count, failures = fuzz_as(schema, base_url, tenancy.admin_email)
        failures += fuzz_as(schema, base_url, tenancy.buyer.email)[1]
        known_token = {"path_parameters": {"token": token}}
        failures += fuzz_as(schema, base_url, tenancy.admin_email, "/api/v1/", **known_token)[1]
    finally:
        tenancy.close()
    assert count >= 80, f"only {count} operations in the document"
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures)
