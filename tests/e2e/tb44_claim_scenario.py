"""Claiming with tb-rest-client 4.4 (``RestClient``), unchanged.

4.4 cannot share a virtual environment with 4.3, so this is a script for the 4.4 environment
(``.venv-tb44``, built by scripts/test), not a test module; ``test_claiming_tb_rest_client_44.py``
sets up a tenant over plain HTTP and runs it against a real server:

    .venv-tb44/bin/python tests/e2e/tb44_claim_scenario.py \\
        BASE_URL TENANT_ADMIN_EMAIL BUYER_EMAIL OTHER_CUSTOMER_USER_EMAIL

with the three users' password in ``GRIDLINKS_E2E_PASSWORD``. The buyer and the other user are
customer users of two customers of the administrator's tenant. It prints each step and exits
non-zero on the first failed check.

The 4.4 calls: ``device_controller.claim_device(device_name=, body=ClaimRequest)`` and its
wrapper ``claim_device_by_name`` (``POST /api/customer/device/{deviceName}/claim``, reply handed
back as parsed JSON); ``device_controller.re_claim_device(device_name=)`` and the wrapper
``re_claim_device`` (``DELETE`` on the same path, no body); ``claim_device(token, body)`` for the
device side (``POST /api/v1/{token}/claim``, no auth header). A refusal is an ``ApiException``
whose ``body`` is the raw reply.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from tb_rest_client.models import (
    ActionType,
    AttributeData,
    AuditLog,
    ClaimRequest,
    Device,
    DeviceProfileInfo,
    PageDataAuditLog,
    User,
)
from tb_rest_client.rest import ApiException
from tb_rest_client.rest_client import RestClient

PASSWORD_ENV = "GRIDLINKS_E2E_PASSWORD"
NULL_UUID = "13814000-1dd2-11b2-8080-808080808080"
FAILURE = b'"FAILURE"'
CLAIMED = b'"CLAIMED"'
EXPIRED_WINDOW_MS = 1
VALID_WINDOW_MS = 60_000
# ThingsBoard's action types, as the client's ActionType model lists them (4.4's AuditLog takes
# any string, so they are checked here).
TB_ACTION_TYPES = frozenset(
    value for name, value in vars(ActionType).items() if name.isupper() and isinstance(value, str)
)

T = TypeVar("T")


def step(what: str) -> None:
    print(f"- {what}", flush=True)


def typed(value: Any, cls: type[T]) -> T:
    assert isinstance(value, cls), f"expected {cls.__name__}, got {value!r}"
    return value


def id_of(value: Any, entity_type: str) -> str:
    assert value is not None, f"expected a {entity_type} id, got None"
    assert value.entity_type == entity_type, f"expected a {entity_type} id, got {value}"
    return str(uuid.UUID(value.id))


def refusal(call: Callable[[], object]) -> tuple[int, bytes]:
    """The status and raw body of the ``ApiException`` that ``call`` raises."""
    try:
        call()
    except ApiException as refused:
        return int(refused.status), refused.body
    raise AssertionError("the call was not refused")


def signed_in(base_url: str, email: str, password: str) -> RestClient:
    client = RestClient(base_url)
    client.login(email, password)
    assert typed(client.get_user(), User).email == email
    return client


class Scenario:
    """A tenant administrator, a buyer (customer user) and a user of another customer."""

    def __init__(self, admin: RestClient, buyer: RestClient, stranger: RestClient) -> None:
        self.admin = admin
        self.buyer = buyer
        self.stranger = stranger
        self.buyer_customer_id = id_of(typed(buyer.get_user(), User).customer_id, "CUSTOMER")
        self.token = f"token-{uuid.uuid4().hex[:12]}"
        # The name is percent-encoded in the claim path: "#", "?", "&" and "+" must survive.
        self.device = self.create_device(f"Zähler #{uuid.uuid4().hex[:8]} ?a=b&c+d")
        self.name = str(self.device.name)

    def create_device(self, name: str) -> Device:
        step(f"tenant administrator creates device {name!r} with an access token")
        profile = typed(self.admin.get_default_device_profile_info(), DeviceProfileInfo)
        body = Device(name=name, type=profile.name, device_profile_id=profile.id)
        device = typed(self.admin.save_device(body, access_token=self.token), Device)
        assert id_of(device.customer_id, "CUSTOMER") == NULL_UUID
        return device

    def announce(self, body: dict[str, Any]) -> None:
        """The device announces over HTTP (``claim_device``: no auth header is sent)."""
        reply = self.admin.claim_device(self.token, body)
        assert reply is None, f"expected no reply body, got {reply!r}"

    def claim(self, secret_key: str) -> Any:
        body = ClaimRequest(secret_key=secret_key)
        return self.buyer.device_controller.claim_device(device_name=self.name, body=body)

    def owner(self) -> str:
        device = typed(self.admin.get_device_by_id(self.device.id), Device)
        return id_of(device.customer_id, "CUSTOMER")

    def check_claimed(self, result: Any) -> None:
        assert isinstance(result, dict), f"expected the ClaimResult JSON, got {result!r}"
        assert result["response"] == "SUCCESS"
        assert result["device"]["id"] == {"entityType": "DEVICE", "id": self.device.id.id}
        customer = {"entityType": "CUSTOMER", "id": self.buyer_customer_id}
        assert result["device"]["customerId"] == customer
        assert self.owner() == self.buyer_customer_id


def check_claim_sequence(s: Scenario) -> None:
    step('an expired device window: claim_device refused with 400 "FAILURE"')
    s.announce({"secretKey": "value", "durationMs": EXPIRED_WINDOW_MS})
    time.sleep(0.02)
    assert refusal(lambda: s.claim("value")) == (400, FAILURE)

    step("a valid device window: claim_device answers SUCCESS with the device")
    s.announce({"secretKey": "value", "durationMs": VALID_WINDOW_MS})
    s.check_claimed(s.claim("value"))

    step('the same claim again: 400 "CLAIMED", the owner stays')
    assert refusal(lambda: s.claim("value")) == (400, CLAIMED)
    assert s.owner() == s.buyer_customer_id


def check_releases(s: Scenario) -> None:
    step("another customer's user may not release it (re_claim_device: 403)")
    status, _ = refusal(lambda: s.stranger.device_controller.re_claim_device(device_name=s.name))
    assert status == 403, status
    assert s.owner() == s.buyer_customer_id

    step("the buyer releases it with device_controller.re_claim_device")
    reply = s.buyer.device_controller.re_claim_device(device_name=s.name)
    assert reply is None, f"expected no reply body, got {reply!r}"
    assert s.owner() == NULL_UUID

    step("claimed again with claim_device_by_name, released by the tenant administrator")
    s.announce({"secretKey": "again", "durationMs": VALID_WINDOW_MS})
    s.check_claimed(s.buyer.claim_device_by_name(s.name, ClaimRequest(secret_key="again")))
    reply = s.admin.re_claim_device(s.name)
    assert reply is None, f"expected no reply body, got {reply!r}"
    assert s.owner() == NULL_UUID


def claiming_data(s: Scenario) -> list[AttributeData]:
    found = s.admin.get_attributes_by_scope(s.device.id, "SERVER_SCOPE", "claimingData")
    return [typed(item, AttributeData) for item in found]


def check_server_side_key(s: Scenario) -> None:
    step("tenant administrator writes claimingData (text/plain body); it reads back masked")
    secret = f"server-{uuid.uuid4().hex}"
    expiration = int(time.time() * 1000) + VALID_WINDOW_MS
    data = {"secretKey": secret, "expirationTime": expiration}
    s.admin.save_device_attributes(s.device.id, "SERVER_SCOPE", {"claimingData": data})
    [stored] = claiming_data(s)
    assert stored.value["expirationTime"] == expiration
    assert stored.value["secretKey"] not in ("", secret)
    assert secret not in json.dumps(stored.to_dict(), default=str)

    step("the buyer claims with the server-side key; claimingData is consumed")
    assert refusal(lambda: s.claim("wrong")) == (400, FAILURE)
    s.check_claimed(s.claim(secret))
    assert claiming_data(s) == []


def check_audit_log(s: Scenario) -> None:
    step("the device's audit log reads as ThingsBoard AuditLogs with ThingsBoard action types")
    page = typed(s.admin.get_audit_logs_by_entity_id(s.device.id, 100, 0), PageDataAuditLog)
    entries = [typed(entry, AuditLog) for entry in page.data]
    kinds = [(e.action_type, e.action_status) for e in entries]
    unknown = {t for t, _ in kinds} - TB_ACTION_TYPES
    assert not unknown, f"action types ThingsBoard does not have: {unknown}"
    assert kinds.count(("ASSIGNED_TO_CUSTOMER", "SUCCESS")) == 3, kinds
    assert kinds.count(("ASSIGNED_TO_CUSTOMER", "FAILURE")) == 3, kinds  # expired, claimed, wrong
    assert kinds.count(("UNASSIGNED_FROM_CUSTOMER", "SUCCESS")) == 2, kinds
    for entry in entries:
        assert id_of(entry.entity_id, "DEVICE") == s.device.id.id


def run(base_url: str, admin_email: str, buyer_email: str, other_email: str, password: str) -> None:
    step("tenant administrator, buyer and another customer's user sign in")
    admin = signed_in(base_url, admin_email, password)
    buyer = signed_in(base_url, buyer_email, password)
    stranger = signed_in(base_url, other_email, password)
    scenario = Scenario(admin, buyer, stranger)
    check_claim_sequence(scenario)
    check_releases(scenario)
    check_server_side_key(scenario)
    check_audit_log(scenario)


def main(argv: list[str]) -> int:
    if len(argv) != 4 or PASSWORD_ENV not in os.environ:
        print(__doc__, file=sys.stderr)
        return 2
    if not __debug__:
        print("run without -O: the checks are assert statements", file=sys.stderr)
        return 2
    run(*argv, os.environ[PASSWORD_ENV])
    print("tb-rest-client 4.4 claim scenario passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
