"""Twenty customers claim one device at the same moment, round after round: exactly one wins.

The claims of a round are sent together (``asyncio.gather``): on PostgreSQL they meet in the
database on twenty pooled connections, on SQLite they queue for the single writer. Between
rounds the tenant administrator releases the device and the device announces a new window.
The helpers here are shared with the end-to-end variant against a real server.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from gridlinks.config import Settings
from tests.integration.factories import (
    Account,
    Api,
    create_customer_user_quickly,
    create_tenant_admin_quickly,
    unique,
)

BUYERS = 20
ROUNDS = 50
# Every buyer claims once a round: far more than the 30 claims a minute a user may make, and
# all of them from one address (0: no per-address limit).
CLAIM_ATTEMPTS_PER_MINUTE = 100_000
NO_ADDRESS_LIMIT = 0
WINDOW_MS = 600_000


@dataclass(frozen=True)
class Buyer:
    """A customer user of a customer of its own, and the HTTP client it claims through."""

    client: httpx.AsyncClient
    account: Account
    customer_id: str

    @property
    def user_id(self) -> str:
        return str(self.account.user["id"]["id"])


@dataclass(frozen=True)
class RacedDevice:
    id: str
    name: str
    token: str


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "claim_user_attempts_per_minute": CLAIM_ATTEMPTS_PER_MINUTE,
            "claim_address_attempts_per_minute": NO_ADDRESS_LIMIT,
        }
    )


async def create_buyers(
    api: Api, tenant: Account, clients: Sequence[httpx.AsyncClient]
) -> list[Buyer]:
    """One customer with one customer user per client."""
    buyers = []
    for client in clients:
        customer = await api.create_customer(tenant)
        account = await create_customer_user_quickly(api, tenant, customer)
        buyers.append(Buyer(client, account, customer["id"]["id"]))
    return buyers


async def create_raced_device(api: Api, tenant: Account) -> RacedDevice:
    name, token = unique("Raced"), unique("race-token")
    device = await api.ok("POST", f"/api/device?accessToken={token}", tenant, json={"name": name})
    return RacedDevice(device["id"]["id"], name, token)


async def announce(client: httpx.AsyncClient, device: RacedDevice, secret_key: str) -> None:
    body = {"secretKey": secret_key, "durationMs": WINDOW_MS}
    response = await client.post(f"/api/v1/{device.token}/claim", json=body)
    assert response.status_code == 200, response.text


async def race(buyers: Sequence[Buyer], device: RacedDevice, secret_key: str) -> list[Any]:
    """Every buyer claims ``device`` at once; their answers, in the buyers' order."""
    path = f"/api/customer/device/{device.name}/claim"
    responses = await asyncio.gather(
        *(
            buyer.client.post(path, headers=buyer.account.headers, json={"secretKey": secret_key})
            for buyer in buyers
        )
    )
    return [(r.status_code, r.json()) for r in responses]


def winner_of(buyers: Sequence[Buyer], answers: Sequence[Any]) -> Buyer:
    """The one buyer answered 200 SUCCESS, owning the device; all others got 400 "CLAIMED"."""
    outcomes = Counter(
        (status, body["response"] if status == 200 else body) for status, body in answers
    )
    assert outcomes == {(200, "SUCCESS"): 1, (400, "CLAIMED"): len(buyers) - 1}, outcomes
    index = next(i for i, (status, _) in enumerate(answers) if status == 200)
    winner = buyers[index]
    assert answers[index][1]["device"]["customerId"]["id"] == winner.customer_id
    return winner


async def owner_of(api: Api, tenant: Account, device: RacedDevice) -> str:
    body = await api.ok("GET", f"/api/device/{device.id}", tenant)
    return str(body["customerId"]["id"])


async def release(api: Api, tenant: Account, device: RacedDevice) -> None:
    await api.ok("DELETE", f"/api/customer/device/{device.name}/claim", tenant)


async def run_rounds(
    api: Api, tenant: Account, buyers: Sequence[Buyer], device: RacedDevice, rounds: int
) -> list[Buyer]:
    """``rounds`` races, each on a fresh window; the winners in order."""
    winners = []
    for number in range(rounds):
        secret_key = f"round-{number}-{unique('key')}"
        await announce(api.client, device, secret_key)
        winner = winner_of(buyers, await race(buyers, device, secret_key))
        assert await owner_of(api, tenant, device) == winner.customer_id, f"round {number}"
        winners.append(winner)
        await release(api, tenant, device)
    return winners


async def claim_audit_entries(api: Api, tenant: Account, device: RacedDevice) -> list[Any]:
    """Every claim attempt audited on ``device`` (all pages)."""
    entries: list[Any] = []
    for page in range(1000):
        body = await api.ok(
            "GET",
            f"/api/audit/logs/entity/DEVICE/{device.id}?pageSize=1000&page={page}"
            "&actionTypes=ASSIGNED_TO_CUSTOMER",
            tenant,
        )
        entries += body["data"]
        if not body["hasNext"]:
            break
    return entries


def assert_audited_as(entries: Sequence[Any], winners: Sequence[Buyer], losers: int) -> None:
    """One SUCCESS entry per won round, by its winner; one "already claimed" per lost claim."""
    succeeded = [e for e in entries if e["actionStatus"] == "SUCCESS"]
    failed = [e for e in entries if e["actionStatus"] == "FAILURE"]
    assert len(succeeded) + len(failed) == len(entries)
    assert len(succeeded) == len(winners)
    assert Counter(e["userId"]["id"] for e in succeeded) == Counter(w.user_id for w in winners)
    assert Counter(e["actionFailureDetails"] for e in failed) == {
        "claim refused: already claimed": losers
    }


@pytest.mark.slow  # twenty claimants, several rounds
async def test_exactly_one_of_twenty_concurrent_claims_wins_every_round(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    buyers = await create_buyers(api, tenant, [api.client] * BUYERS)
    device = await create_raced_device(api, tenant)

    winners = await run_rounds(api, tenant, buyers, device, ROUNDS)

    assert len(winners) == ROUNDS
    entries = await claim_audit_entries(api, tenant, device)
    assert_audited_as(entries, winners, losers=ROUNDS * (BUYERS - 1))
