"""Claiming driven by tb-rest-client 4.3, unchanged: RestClientCE and RestClientPE.

Neither flavour wraps the customer claim, so the tests call the generated API as a ThingsBoard
integration would: ``device_controller.claim_device_using_post1(device_name=, body=ClaimRequest)``
(``POST /api/customer/device/{deviceName}/claim``; PE adds an optional ``sub_customer_id``) and
``device_controller.re_claim_device_using_delete(device_name=)`` (``DELETE`` on the same path).
Both return the reply raw (``DeferredResultResponseEntity``): the parsed JSON, or the bytes of
an empty body. A refusal is an ``ApiException`` whose ``body`` is the raw reply.

The device side goes through the client too: ``DeviceApiControllerApi.claim_device_using_post``
of an anonymous client is ``POST /api/v1/{token}/claim`` without an auth header, as a device sends
it. (4.3's wrapper ``RestClientBase.claim_device(token, body)`` cannot be used: it calls
``self.device_api_controller``, which 4.3 never creates - AttributeError.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from tb_rest_client.api.api_ce.device_api_controller_api import DeviceApiControllerApi
from tb_rest_client.api_client import ApiClient
from tb_rest_client.models.models_ce import ClaimRequest, Device, PageDataAuditLog, User
from tb_rest_client.rest import ApiException
from tb_rest_client.rest_client_base import RestClientBase
from tb_rest_client.rest_client_ce import RestClientCE
from tb_rest_client.rest_client_pe import RestClientPE

from tests.e2e.running_server import Server
from tests.e2e.test_tb_rest_client_43 import (
    NULL_UUID,
    PASSWORD,
    Tenancy,
    create_customer_user,
    create_device,
    id_of,
    owner_of,
    set_up_tenancy,
    signed_in,
    typed,
    unique,
    unique_token,
)

pytestmark = pytest.mark.e2e

CLIENTS = [pytest.param(RestClientCE, id="ce"), pytest.param(RestClientPE, id="pe")]
FAILURE = b'"FAILURE"'
CLAIMED = b'"CLAIMED"'
EXPIRED_WINDOW_MS = 1
# The claim path carries the device name: the client percent-encodes it, the server decodes it.
NAME_TO_ENCODE = "Zähler #1 ?a=b&c+d"
VALID_WINDOW_MS = 60_000
# The audit action types of claims and releases, as in ThingsBoard.
CLAIM_ACTION_TYPES = {"ASSIGNED_TO_CUSTOMER", "UNASSIGNED_FROM_CUSTOMER"}


# --- steps -------------------------------------------------------------------------------------
@dataclass
class Shop:
    """A tenant whose administrator made a device, and the customer user who buys it."""

    tenancy: Tenancy
    admin: Any  # the tenant administrator's client (RestClientCE or RestClientPE)
    buyer: Any  # the customer user's client, same flavour
    device_side: DeviceApiControllerApi  # of an anonymous client: speaks as the device
    device: Device
    token: str

    @property
    def buyer_customer_id(self) -> str:
        return str(self.tenancy.customer.id.id)

    def announce(self, body: dict[str, Any] | None = None) -> None:
        """The device announces a window over the device HTTP API."""
        reply = self.device_side.claim_device_using_post(device_token=self.token, body=body)
        assert reply == b"", f"expected an empty reply, got {reply!r}"

    def announce_expired_window(self, secret_key: str) -> None:
        self.announce({"secretKey": secret_key, "durationMs": EXPIRED_WINDOW_MS})
        time.sleep(0.02)


def open_shop(server: Server, client_class: type[RestClientBase]) -> Shop:
    tenancy = set_up_tenancy(server, client_class)
    token = unique_token()
    device = create_device(tenancy.admin, unique(NAME_TO_ENCODE), token)
    buyer = signed_in(client_class, server.base_url, tenancy.customer_user.email, PASSWORD)
    anonymous = client_class(server.base_url)  # never signed in: no X-Authorization
    device_side = DeviceApiControllerApi(ApiClient(anonymous.configuration))
    return Shop(tenancy, tenancy.admin, buyer, device_side, device, token)


def claim(client: Any, device_name: str, secret_key: str | None = None) -> Any:
    """``claim_device_using_post1`` with ``ClaimRequest(secret_key=...)``, or no body."""
    if secret_key is None:
        return client.device_controller.claim_device_using_post1(device_name=device_name)
    body = ClaimRequest(secret_key=secret_key)
    return client.device_controller.claim_device_using_post1(device_name=device_name, body=body)


def refusal(call: Callable[[], object]) -> tuple[int, bytes]:
    """The status and raw body of the ``ApiException`` that ``call`` raises."""
    with pytest.raises(ApiException) as refused:
        call()
    return int(refused.value.status), refused.value.body


def assert_claimed_by(result: Any, customer_id: str, device: Device) -> None:
    """The 200 reply, handed back as parsed JSON: ``{"device": {...}, "response": "SUCCESS"}``."""
    assert isinstance(result, dict), f"expected the ClaimResult JSON, got {result!r}"
    assert result["response"] == "SUCCESS"
    assert result["device"] is not None
    assert result["device"]["id"] == {"entityType": "DEVICE", "id": device.id.id}
    assert result["device"]["customerId"] == {"entityType": "CUSTOMER", "id": customer_id}


def claim_successfully(shop: Shop, secret_key: str) -> None:
    shop.announce({"secretKey": secret_key, "durationMs": VALID_WINDOW_MS})
    assert_claimed_by(
        claim(shop.buyer, shop.device.name, secret_key), shop.buyer_customer_id, shop.device
    )
    assert owner_of(shop.admin, shop.device) == shop.buyer_customer_id


def released(reply: Any) -> bool:
    """``re_claim_device_using_delete`` hands back the raw empty body."""
    return reply == b""


# --- the scenarios -------------------------------------------------------------------------------
@pytest.mark.parametrize("client_class", CLIENTS)
def test_customer_claims_an_announced_device_with_claim_device_using_post1(
    server: Server, client_class: type[RestClientBase]
) -> None:
    """ThingsBoard's claim test sequence: expired window, valid window, claimed already."""
    shop = open_shop(server, client_class)
    name = shop.device.name

    shop.announce_expired_window("value")
    assert refusal(lambda: claim(shop.buyer, name, "value")) == (400, FAILURE)

    shop.announce({"secretKey": "value", "durationMs": VALID_WINDOW_MS})
    result = claim(shop.buyer, name, "value")
    assert_claimed_by(result, shop.buyer_customer_id, shop.device)
    assert owner_of(shop.admin, shop.device) == shop.buyer_customer_id

    assert refusal(lambda: claim(shop.buyer, name, "value")) == (400, CLAIMED)
    assert owner_of(shop.admin, shop.device) == shop.buyer_customer_id


def test_customer_claims_without_a_key_what_the_device_announced_without_one(
    server: Server,
) -> None:
    """No body on either side: 4.3 sends ``{}``, which means the empty key and the default
    duration."""
    shop = open_shop(server, RestClientCE)

    shop.announce()
    result = claim(shop.buyer, shop.device.name)

    assert_claimed_by(result, shop.buyer_customer_id, shop.device)


@pytest.mark.parametrize("client_class", CLIENTS)
def test_customer_user_and_tenant_admin_release_with_re_claim_device_using_delete(
    server: Server, client_class: type[RestClientBase]
) -> None:
    shop = open_shop(server, client_class)
    name = shop.device.name
    claim_successfully(shop, "value")

    # A user of another customer may not release it (ThingsBoard CE would let it: SPEC 3.3).
    stranger_user = create_customer_user(shop.admin, shop.tenancy.other_customer)
    stranger = signed_in(client_class, server.base_url, stranger_user.email, PASSWORD)
    status, _ = refusal(
        lambda: stranger.device_controller.re_claim_device_using_delete(device_name=name)
    )
    assert status == 403
    assert owner_of(shop.admin, shop.device) == shop.buyer_customer_id

    # The owner's user releases it; it is unassigned and its window is gone.
    assert released(shop.buyer.device_controller.re_claim_device_using_delete(device_name=name))
    assert owner_of(shop.admin, shop.device) == NULL_UUID
    assert refusal(lambda: claim(shop.buyer, name, "value")) == (400, FAILURE)

    # Claimed again, then released by the tenant administrator.
    claim_successfully(shop, "value")
    assert released(shop.admin.device_controller.re_claim_device_using_delete(device_name=name))
    assert owner_of(shop.admin, shop.device) == NULL_UUID


def write_as_object(admin: Any, device: Device, data: dict[str, Any]) -> Any:
    return admin.telemetry_controller.save_entity_attributes_v2_using_post(
        entity_type="DEVICE",
        entity_id=device.id.id,
        scope="SERVER_SCOPE",
        body={"claimingData": data},
    )


def write_as_string(admin: Any, device: Device, data: dict[str, Any]) -> Any:
    return admin.telemetry_controller.save_device_attributes_using_post(
        device_id=device.id.id, scope="SERVER_SCOPE", body={"claimingData": json.dumps(data)}
    )


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(write_as_object, id="object-save_entity_attributes_v2_using_post"),
        pytest.param(write_as_string, id="string-save_device_attributes_using_post"),
    ],
)
def test_customer_claims_with_the_claiming_data_the_tenant_admin_wrote(
    server: Server, write: Callable[[Any, Device, dict[str, Any]], Any]
) -> None:
    """Server-side key: the tenant writes SERVER_SCOPE ``claimingData``; reading it back shows
    the expiry and a masked key; the claim consumes it."""
    shop = open_shop(server, RestClientCE)
    secret, expiration = f"server-{unique_token()}", int(time.time() * 1000) + VALID_WINDOW_MS

    write(shop.admin, shop.device, {"secretKey": secret, "expirationTime": expiration})
    stored = shop.admin.get_attributes_by_scope(shop.device.id, "SERVER_SCOPE", "claimingData")
    [attribute] = typed(stored, list)
    assert attribute["key"] == "claimingData"
    assert attribute["value"]["expirationTime"] == expiration
    assert attribute["value"]["secretKey"] not in ("", secret)
    assert secret not in json.dumps(stored)

    assert refusal(lambda: claim(shop.buyer, shop.device.name, "wrong")) == (400, FAILURE)
    result = claim(shop.buyer, shop.device.name, secret)
    assert_claimed_by(result, shop.buyer_customer_id, shop.device)
    remaining = shop.admin.get_attributes_by_scope(shop.device.id, "SERVER_SCOPE", "claimingData")
    assert typed(remaining, list) == []


@pytest.mark.parametrize("client_class", CLIENTS)
def test_audit_log_of_claims_and_releases_reads_as_thingsboard_audit_logs(
    server: Server, client_class: type[RestClientBase]
) -> None:
    """4.3's AuditLog accepts ThingsBoard's action types only (else a ValueError in place of the
    entry): every entry GridLinks writes for a claimed device must read as an AuditLog."""
    shop = open_shop(server, client_class)
    name, secret = shop.device.name, f"s3cret-{unique_token()}"
    shop.announce_expired_window(secret)
    assert refusal(lambda: claim(shop.buyer, name, secret)) == (400, FAILURE)
    claim_successfully(shop, secret)
    assert refusal(lambda: claim(shop.buyer, name, secret)) == (400, CLAIMED)
    shop.announce({"secretKey": secret})  # refused (the device is claimed), but acknowledged
    assert released(shop.buyer.device_controller.re_claim_device_using_delete(device_name=name))

    page = shop.admin.audit_log_controller.get_audit_logs_by_entity_id_using_get(
        entity_type="DEVICE", entity_id=shop.device.id.id, page_size=100, page=0
    )
    entries = typed(page, PageDataAuditLog).data
    for entry in entries:
        assert type(entry).__name__ == "AuditLog", f"expected an AuditLog, got {entry!r}"
        assert id_of(entry.entity_id, "DEVICE") == shop.device.id.id
        assert secret not in json.dumps(entry.to_dict(), default=str)
    outcomes = [(e.action_type, e.action_status) for e in entries]
    assert outcomes.count(("ASSIGNED_TO_CUSTOMER", "SUCCESS")) == 1
    assert outcomes.count(("ASSIGNED_TO_CUSTOMER", "FAILURE")) == 2  # expired, then claimed
    assert outcomes.count(("UNASSIGNED_FROM_CUSTOMER", "SUCCESS")) == 1
    assert outcomes.count(("ATTRIBUTES_UPDATED", "FAILURE")) == 1  # the refused announcement
    user = typed(shop.buyer.get_user(), User)
    claims = [e for e in entries if e.action_type in CLAIM_ACTION_TYPES]
    assert {id_of(e.user_id, "USER") for e in claims} == {user.id.id}

    # The client's wrapper reads the same page.
    wrapped = shop.admin.get_audit_logs_by_entity_id(shop.device.id, 100, 0)
    assert [e.id.id for e in typed(wrapped, PageDataAuditLog).data] == [e.id.id for e in entries]
