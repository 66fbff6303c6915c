"""Claim secrets never reach the database nor an answer (SPEC 3.1: HMAC only, masked reads).

One scenario uses every path a secret travels: a device announcement, ``claimingData`` as a
string and as an object, wrong guesses, read-backs, the audit log, successful claims (with an
Idempotency-Key), and malformed payloads carrying a secret. Every secret is distinctive, so a
plain text search of every table and every answer finds any copy. The scenario is shared with
the end-to-end test, which also searches the server's log and database files.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gridlinks.bootstrap import Platform
from gridlinks.kit.clock import SystemClock
from tests.integration.factories import (
    Account,
    Api,
    create_customer_user_quickly,
    create_tenant_admin_quickly,
    unique,
)

WINDOW_MS = 600_000


@dataclass
class SecretTrail:
    """The secrets a scenario used and every answer it got."""

    secrets: list[str] = field(default_factory=list)
    # Secrets of windows still open at the end: their keyed hashes are at rest.
    pending: list[str] = field(default_factory=list)
    responses: list[httpx.Response] = field(default_factory=list)

    def new_secret(self, label: str) -> str:
        secret = f"S3cr3t-{label}-{uuid.uuid4().hex}"
        self.secrets.append(secret)
        return secret

    def found_in(self, data: bytes) -> list[str]:
        """The secrets that occur in ``data`` (as UTF-8 text)."""
        return [secret for secret in self.secrets if secret.encode() in data]

    def leaks_in_responses(self) -> dict[str, list[str]]:
        leaks = {}
        for response in self.responses:
            headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items()).encode()
            found = self.found_in(response.content + headers)
            if found:
                leaks[f"{response.request.method} {response.request.url.path}"] = found
        return leaks


@dataclass(frozen=True)
class Device:
    id: str
    name: str
    token: str


@dataclass
class Scenario:
    """Sends requests, keeping every answer, and checks the expected status."""

    api: Api
    trail: SecretTrail
    tenant: Account
    buyer: Account

    async def send(
        self, method: str, path: str, account: Account | None, status: int, **kwargs: Any
    ) -> httpx.Response:
        headers = {**(account.headers if account else {}), **kwargs.pop("headers", {})}
        response = await self.api.client.request(method, path, headers=headers, **kwargs)
        self.trail.responses.append(response)
        assert response.status_code == status, (method, path, response.status_code, response.text)
        return response

    async def device(self) -> Device:
        name, token = unique("Secretive"), unique("secret-token")
        path = f"/api/device?accessToken={token}"
        response = await self.send("POST", path, self.tenant, 200, json={"name": name})
        return Device(response.json()["id"]["id"], name, token)

    async def announce(self, device: Device, status: int = 200, **body: Any) -> None:
        await self.send("POST", f"/api/v1/{device.token}/claim", None, status, **body)

    async def write_claiming_data(self, device: Device, value: Any, status: int = 200) -> None:
        path = f"/api/plugins/telemetry/DEVICE/{device.id}/SERVER_SCOPE"
        await self.send("POST", path, self.tenant, status, json={"claimingData": value})

    async def claim(self, device_name: str, status: int, **body: Any) -> Any:
        path = f"/api/customer/device/{device_name}/claim"
        return (await self.send("POST", path, self.buyer, status, **body)).json()


def expires_in(milliseconds: int) -> int:
    return SystemClock().now_ms() + milliseconds


def claiming_data(secret_key: str) -> dict[str, Any]:
    return {"secretKey": secret_key, "expirationTime": expires_in(WINDOW_MS)}


async def exercise_claiming_with_secrets(api: Api) -> SecretTrail:
    """Announce, write claimingData, guess wrong, read back, send malformed payloads, claim."""
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    buyer = await create_customer_user_quickly(api, tenant, customer)
    run = Scenario(api, SecretTrail(), tenant, buyer)
    announced, labelled, owned, pending = [await run.device() for _ in range(4)]
    device_secret, server_secret = await _open_windows(run, announced, labelled)
    await _leave_windows_open(run, pending)
    # An announcement of a device a customer already owns is acknowledged and audited.
    await run.send("POST", f"/api/customer/{customer['id']['id']}/device/{owned.id}", tenant, 200)
    await run.announce(owned, json={"secretKey": run.trail.new_secret("owned")})
    for device in (announced, announced, labelled, labelled):  # below the lock-out
        wrong = {"secretKey": run.trail.new_secret("wrong")}
        assert await run.claim(device.name, 400, json=wrong) == "FAILURE"
    await _read_back(run, labelled, announced)
    await _send_malformed(run, labelled, announced)
    await _claim_with_the_right_keys(run, announced, device_secret, labelled, server_secret)
    await _read_back(run, labelled, announced)
    return run.trail


async def _open_windows(run: Scenario, announced: Device, labelled: Device) -> tuple[str, str]:
    """A device window; claimingData as a string, then replaced by an object. The secrets."""
    device_secret, server_secret = run.trail.new_secret("device"), run.trail.new_secret("server")
    await run.announce(announced, json={"secretKey": device_secret, "durationMs": WINDOW_MS})
    replaced = claiming_data(run.trail.new_secret("replaced"))
    await run.write_claiming_data(labelled, json.dumps(replaced))
    await run.write_claiming_data(labelled, claiming_data(server_secret))
    return device_secret, server_secret


async def _leave_windows_open(run: Scenario, device: Device) -> None:
    """Both windows of a device nobody claims: their hashes stay at rest."""
    run.trail.pending += [run.trail.new_secret("pending-device"), run.trail.new_secret("pending")]
    await run.announce(device, json={"secretKey": run.trail.pending[0]})
    await run.write_claiming_data(device, claiming_data(run.trail.pending[1]))


async def _claim_with_the_right_keys(
    run: Scenario, announced: Device, device_secret: str, labelled: Device, server_secret: str
) -> None:
    """The device window (a retry with its Idempotency-Key replays it), the server window."""
    once = {"Idempotency-Key": unique("retry")}
    body = {"secretKey": device_secret}
    first = await run.claim(announced.name, 200, json=body, headers=once)
    assert await run.claim(announced.name, 200, json=body, headers=once) == first
    assert first["response"] == "SUCCESS"
    await run.claim(labelled.name, 200, json={"secretKey": server_secret})
    assert await run.claim(announced.name, 400, json=body) == "CLAIMED"


async def _read_back(run: Scenario, labelled: Device, announced: Device) -> None:
    """Attributes (every path), keys and the audit log, as the tenant sees them."""
    path = f"/api/plugins/telemetry/DEVICE/{labelled.id}/values/attributes"
    values = (await run.send("GET", path, run.tenant, 200)).json()
    masked = [a["value"] for a in values if a["key"] == "claimingData"]
    assert all(v["secretKey"] == "******" for v in masked), masked
    for path in (
        f"/api/plugins/telemetry/DEVICE/{labelled.id}/values/attributes/SERVER_SCOPE",
        f"/api/plugins/telemetry/DEVICE/{labelled.id}/keys/attributes",
        f"/api/plugins/telemetry/DEVICE/{announced.id}/values/attributes",
        f"/api/audit/logs/entity/DEVICE/{announced.id}?pageSize=100&page=0",
        f"/api/audit/logs/entity/DEVICE/{labelled.id}?pageSize=100&page=0",
        "/api/audit/logs?pageSize=1000&page=0",
    ):
        await run.send("GET", path, run.tenant, 200)


async def _send_malformed(run: Scenario, labelled: Device, announced: Device) -> None:
    """Payloads that carry a secret in the wrong place or shape: each refused."""
    new = run.trail.new_secret
    later = expires_in(WINDOW_MS)
    for value in (
        {"secretKey": new("known"), "expirationTime": later, "note": new("unknown")},
        {"secretKey": [new("listed")], "expirationTime": later},
        {"secretKey": {"nested": new("nested")}, "expirationTime": later},
        {"secretKey": new("no-expiry")},
        {"secretKey": new("bad-expiry"), "expirationTime": new("expiry")},
        '{"secretKey": "' + new("broken-string") + '", "expirationTime": ',
        new("bare-string"),
    ):
        await run.write_claiming_data(labelled, value, status=400)
    broken = '{"secretKey": "' + new("broken-announcement") + '", "durationMs": 6'
    await run.announce(announced, 400, content=broken.encode())
    for announcement in (
        {"secretKey": {"nested": new("announced-object")}},
        {"secretKey": new("bad-duration"), "durationMs": new("ms")},
        {"secretKey": new("too-long") + "x" * 1100},
        [new("announced-list")],
    ):
        await run.announce(announced, 400, json=announcement)
    broken = '{"secretKey": "' + new("broken-claim") + '"'
    await run.claim(announced.name, 400, content=broken.encode())
    for wrong_type in (
        {"secretKey": {"nested": new("claimed-object")}},
        {"secretKey": [new("claimed-list")]},
        {"secretKey": new("claimed-too-long") + "x" * 1100},
    ):
        await run.claim(announced.name, 400, json=wrong_type)
    await run.claim(unique("Missing"), 404, json={"secretKey": new("missing")})


async def every_row_as_text(platform: Platform) -> str:
    """Every row of every table in the database (not only the ones the code declares)."""
    lines = []
    async with platform.database.engine.connect() as connection:
        for name in await _table_names(connection):
            result = await connection.execute(sa.text(f'SELECT * FROM "{name}"'))
            lines += [f"{name}: {tuple(row)!r}" for row in result]
    return "\n".join(lines)


async def _table_names(connection: AsyncConnection) -> list[str]:
    def names(sync_connection: sa.Connection) -> list[str]:
        return sa.inspect(sync_connection).get_table_names()

    return await connection.run_sync(names)


async def test_no_claim_secret_is_stored_in_any_table(api: Api, platform: Platform) -> None:
    trail = await exercise_claiming_with_secrets(api)

    stored = await every_row_as_text(platform)

    # The open windows are there as keyed hashes, the masked claimingData as "******".
    assert all(platform.claiming.secret_hash(s) in stored for s in trail.pending)
    assert "******" in stored
    assert trail.found_in(stored.encode()) == []


async def test_no_claim_secret_is_echoed_in_any_answer(api: Api) -> None:
    trail = await exercise_claiming_with_secrets(api)

    assert trail.leaks_in_responses() == {}
