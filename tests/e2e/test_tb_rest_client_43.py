"""tb-rest-client 4.3, unchanged, against a real ``gridlinks serve``: RestClientCE and RestClientPE.

Each test walks the path of a ThingsBoard integration: the system administrator creates a tenant
and its administrator; the administrator creates customers, a customer user, a device with a
given access token and its attributes, and assigns the device; the customer user then sees only
its own customer's devices.

4.3 never raises when a reply does not fit its model: it returns the ``ValueError`` in place of
the object, or of a nested id. Every reply goes through ``typed``, so such a reply fails here.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
import requests
from tb_rest_client.models.models_ce import (
    ActivateUserRequest,
    Customer,
    Device,
    DeviceCredentials,
    DeviceProfileInfo,
    JwtPair,
    PageDataDevice,
    Tenant,
    User,
)
from tb_rest_client.models.models_pe import (
    EntityGroup,
    EntityGroupInfo,
    EntityId,
    GroupPermission,
    GroupPermissionInfo,
    Role,
)
from tb_rest_client.rest import ApiException
from tb_rest_client.rest_client_base import RestClientBase
from tb_rest_client.rest_client_ce import RestClientCE
from tb_rest_client.rest_client_pe import RestClientPE

from tests.e2e.running_server import Server

pytestmark = pytest.mark.e2e

PASSWORD = "user-password-123"
NULL_UUID = "13814000-1dd2-11b2-8080-808080808080"
# true is not "true", 42 is not 42.0 or "42": compared as JSON text, so the types must survive.
ATTRIBUTES: dict[str, Any] = {
    "enabled": True,
    "enabledText": "true",
    "count": 42,
    "countText": "42",
    "ratio": 0.25,
    "config": {"mode": "eco", "limits": [1, 2.5, None], "schedule": {"on": False}},
}
CLAIM_PERMISSIONS = {"DEVICE": ["CLAIM_DEVICES"]}

T = TypeVar("T")


# --- small helpers -----------------------------------------------------------------------------
def typed(value: Any, cls: type[T]) -> T:
    """``value`` if it is a ``cls``. 4.3 hands back a ValueError instead of raising, and takes the
    class from models_pe or models_ce, whichever matches the JSON keys: compare by name."""
    assert type(value).__name__ == cls.__name__, f"expected {cls.__name__}, got {value!r}"
    return value


def id_of(value: Any, entity_type: str) -> str:
    """The UUID of an id object of ``entity_type`` (4.3 leaves a ValueError there on a mismatch)."""
    assert not isinstance(value, Exception), f"expected a {entity_type} id, got {value!r}"
    assert value.entity_type == entity_type, f"expected a {entity_type} id, got {value}"
    return str(uuid.UUID(value.id))


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def unique_token() -> str:
    return f"token-{uuid.uuid4().hex[:12]}"


def unique_email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@e2e.test"


def refused_status(call: Callable[[], object]) -> int:
    with pytest.raises(ApiException) as refused:
        call()
    return int(refused.value.status)


def signed_in(client_class: type[RestClientBase], base_url: str, email: str, password: str) -> Any:
    """A client signed in as ``email``; 4.3 ``login`` does not raise on a refusal, so ask."""
    client = client_class(base_url)
    client.login(email, password)
    assert typed(client.get_user(), User).email == email
    return client


def activate(issuer: RestClientBase, user: User) -> None:
    """Activate ``user`` through the link ``issuer`` gets for it, as an e-mail would."""
    # The link is text/plain, which 4.3 returns as the repr of the bytes: "b'http://...'".
    link = issuer.get_activation_link(user.id)
    found = re.search(r"activateToken=([\w-]+)", link)
    assert found, f"no activateToken in {link!r}"
    request = ActivateUserRequest(activate_token=found.group(1), password=PASSWORD)
    pair = typed(issuer.activate_user(request, send_activation_mail=False), JwtPair)
    assert pair.token and pair.refresh_token


def attribute_values(client: RestClientBase, device: Device) -> dict[str, Any]:
    found = client.get_attributes_by_scope(device.id, "SERVER_SCOPE", ",".join(ATTRIBUTES))
    return {item["key"]: item["value"] for item in typed(found, list)}


def as_json(values: dict[str, Any]) -> str:
    return json.dumps(values, sort_keys=True)


# --- steps ---------------------------------------------------------------------------------------
@dataclass
class Tenancy:
    """A tenant seen through its administrator's client, with two customers and a user of one."""

    admin: Any  # RestClientCE or RestClientPE, signed in as the tenant administrator
    tenant_id: Any  # TenantId
    customer: Customer
    other_customer: Customer
    customer_user: User


def create_tenant_admin(sysadmin: RestClientBase) -> User:
    tenant = typed(sysadmin.save_tenant(Tenant(title=unique("Tenant"))), Tenant)
    id_of(tenant.id, "TENANT")
    body = User(email=unique_email("admin"), authority="TENANT_ADMIN", tenant_id=tenant.id)
    admin = typed(sysadmin.save_user(body, send_activation_mail=False), User)
    id_of(admin.id, "USER")
    assert admin.authority == "TENANT_ADMIN"
    assert id_of(admin.tenant_id, "TENANT") == tenant.id.id
    activate(sysadmin, admin)
    return admin


def create_customer(admin: RestClientBase) -> Customer:
    title = unique("Customer")
    customer = typed(admin.save_customer(Customer(title=title)), Customer)
    id_of(customer.id, "CUSTOMER")
    assert customer.title == title
    return customer


def create_customer_user(admin: RestClientBase, customer: Customer) -> User:
    body = User(email=unique_email("buyer"), authority="CUSTOMER_USER", customer_id=customer.id)
    user = typed(admin.save_user(body, send_activation_mail=False), User)
    id_of(user.id, "USER")
    assert id_of(user.customer_id, "CUSTOMER") == customer.id.id
    activate(admin, user)
    return user


def set_up_tenancy(server: Server, client_class: type[RestClientBase]) -> Tenancy:
    sysadmin = signed_in(
        client_class, server.base_url, server.sysadmin_email, server.sysadmin_password
    )
    admin_user = create_tenant_admin(sysadmin)
    admin = signed_in(client_class, server.base_url, admin_user.email, PASSWORD)
    customer, other_customer = create_customer(admin), create_customer(admin)
    customer_user = create_customer_user(admin, customer)
    return Tenancy(admin, admin_user.tenant_id, customer, other_customer, customer_user)


def create_device(admin: RestClientBase, name: str, access_token: str) -> Device:
    """A device with ``access_token``; 4.3's Device needs a deviceProfileId, so read it first."""
    profile = typed(admin.get_default_device_profile_info(), DeviceProfileInfo)
    assert profile.name == "default"
    body = Device(name=name, type=profile.name, device_profile_id=profile.id)
    device = typed(admin.save_device(body, access_token=access_token), Device)
    id_of(device.id, "DEVICE")
    assert device.name == name
    assert id_of(device.device_profile_id, "DEVICE_PROFILE") == profile.id.id
    assert id_of(device.customer_id, "CUSTOMER") == NULL_UUID
    credentials = typed(admin.get_device_credentials_by_device_id(device.id), DeviceCredentials)
    assert (credentials.credentials_type, credentials.credentials_id) == (
        "ACCESS_TOKEN",
        access_token,
    )
    return device


def check_device_is_found_by_name(admin: RestClientBase, base_url: str, device: Device) -> None:
    """4.3 asks ``/api/tenant/devices?deviceName=``; 4.4 (and TB 3.x+) ``/api/tenant/device``."""
    found = typed(admin.get_tenant_device(device.name), Device)
    assert id_of(found.id, "DEVICE") == device.id.id
    response = requests.get(
        f"{base_url}/api/tenant/device",
        params={"deviceName": device.name},
        headers={"X-Authorization": f"Bearer {admin.get_token()}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["id"] == {"entityType": "DEVICE", "id": device.id.id}


def check_attributes_keep_json_types(admin: RestClientBase, device: Device) -> None:
    admin.save_device_attributes(device.id, "SERVER_SCOPE", ATTRIBUTES)
    assert as_json(attribute_values(admin, device)) == as_json(ATTRIBUTES)
    admin.delete_entity_attributes(device.id, "SERVER_SCOPE", "enabled,count")
    remaining = {k: v for k, v in ATTRIBUTES.items() if k not in ("enabled", "count")}
    assert as_json(attribute_values(admin, device)) == as_json(remaining)


def check_customer_user_sees_only_its_customer_devices(
    server: Server, client_class: type[RestClientBase], tenancy: Tenancy, device: Device
) -> None:
    user = signed_in(client_class, server.base_url, tenancy.customer_user.email, PASSWORD)
    page = typed(user.get_customer_devices(tenancy.customer.id, 100, 0), PageDataDevice)
    assert [id_of(typed(d, Device).id, "DEVICE") for d in page.data] == [device.id.id]
    assert (page.total_elements, page.has_next) == (1, False)
    other_customer_id = tenancy.other_customer.id
    assert refused_status(lambda: user.get_customer_devices(other_customer_id, 100, 0)) in (
        403,
        404,
    )
    assert refused_status(lambda: user.get_tenant_devices(100, 0)) == 403


def owner_of(admin: RestClientBase, device: Device) -> str:
    return id_of(typed(admin.get_device_by_id(device.id), Device).customer_id, "CUSTOMER")


def grant_claiming_through_a_user_group(
    admin: RestClientPE, customer: Customer, user: User
) -> None:
    """PE: a USER group of the customer, a GENERIC role, the permission tying them, the user."""
    owner = EntityId(id=customer.id.id, entity_type="CUSTOMER")
    body = EntityGroup(type="USER", name=unique("Claimers"), owner_id=owner)
    group = typed(admin.save_entity_group(body), EntityGroupInfo)
    id_of(group.id, "ENTITY_GROUP")
    assert group.type == "USER"
    assert [id_of(o, "CUSTOMER") for o in group.owner_ids] == [customer.id.id]
    body = Role(name=unique("Claim devices"), type="GENERIC", permissions=CLAIM_PERMISSIONS)
    role = typed(admin.save_role(body), Role)
    id_of(role.id, "ROLE")
    assert (role.type, role.permissions) == ("GENERIC", CLAIM_PERMISSIONS)
    body = GroupPermission(user_group_id=group.id, role_id=role.id)
    permission = typed(admin.save_group_permission(body), GroupPermission)
    assert id_of(permission.user_group_id, "ENTITY_GROUP") == group.id.id
    assert id_of(permission.role_id, "ROLE") == role.id.id
    admin.add_entities_to_entity_group(group.id, [user.id.id])
    granted = typed(admin.get_user_group_permissions(group.id), list)
    assert [typed(p, GroupPermissionInfo).role.permissions for p in granted] == [CLAIM_PERMISSIONS]


# --- the scenarios -------------------------------------------------------------------------------
def test_rest_client_ce_manages_accounts_devices_attributes_and_assignment(server: Server) -> None:
    tenancy = set_up_tenancy(server, RestClientCE)
    admin: RestClientCE = tenancy.admin
    token = unique_token()
    device = create_device(admin, unique("Meter A"), token)
    check_device_is_found_by_name(admin, server.base_url, device)
    check_attributes_keep_json_types(admin, device)

    customer_id = tenancy.customer.id
    assigned = typed(admin.assign_device_to_customer(customer_id, device.id), Device)
    assert id_of(assigned.customer_id, "CUSTOMER") == customer_id.id
    released = typed(admin.unassign_device_from_customer(device.id), Device)
    assert id_of(released.customer_id, "CUSTOMER") == NULL_UUID
    typed(admin.assign_device_to_customer(customer_id, device.id), Device)
    elsewhere = create_device(admin, unique("Meter B"), unique_token())
    typed(admin.assign_device_to_customer(tenancy.other_customer.id, elsewhere.id), Device)

    check_customer_user_sees_only_its_customer_devices(server, RestClientCE, tenancy, device)
    check_log_holds_no_secrets(server, [token, PASSWORD, server.sysadmin_password])


def check_log_holds_no_secrets(server: Server, secrets: list[str]) -> None:
    """Access tokens travel in query strings and passwords in bodies: neither is logged."""
    log = server.log_text()
    assert "POST /api/device -> 200" in log  # the log is really being read
    for secret in secrets:
        assert secret not in log


def test_rest_client_pe_manages_accounts_devices_owners_groups_and_roles(server: Server) -> None:
    tenancy = set_up_tenancy(server, RestClientPE)
    admin: RestClientPE = tenancy.admin
    device = create_device(admin, unique("Meter A"), unique_token())
    check_device_is_found_by_name(admin, server.base_url, device)
    check_attributes_keep_json_types(admin, device)

    customer_id = tenancy.customer.id
    admin.change_owner_to_customer(customer_id, device.id)
    assert owner_of(admin, device) == customer_id.id
    admin.change_owner_to_tenant(tenancy.tenant_id, device.id)
    assert owner_of(admin, device) == NULL_UUID
    admin.change_owner_to_customer(customer_id, device.id)
    elsewhere = create_device(admin, unique("Meter B"), unique_token())
    admin.change_owner_to_customer(tenancy.other_customer.id, elsewhere.id)
    grant_claiming_through_a_user_group(admin, tenancy.customer, tenancy.customer_user)

    check_customer_user_sees_only_its_customer_devices(server, RestClientPE, tenancy, device)


def test_rest_client_ce_takes_the_empty_answers_of_void_operations(server: Server) -> None:
    """Attribute writes, deletes, credential changes and logout answer an empty body, as in
    ThingsBoard: the client returns without error and the change is made."""
    tenancy = set_up_tenancy(server, RestClientCE)
    admin: RestClientCE = tenancy.admin
    device = create_device(admin, unique("Meter A"), unique_token())

    assert admin.save_device_attributes(device.id, "SERVER_SCOPE", ATTRIBUTES) == b""
    assert as_json(attribute_values(admin, device)) == as_json(ATTRIBUTES)
    admin.delete_entity_attributes(device.id, "SERVER_SCOPE", ",".join(ATTRIBUTES))
    assert attribute_values(admin, device) == {}
    admin.re_claim_device(device.name)
    admin.set_user_credentials_enabled(tenancy.customer_user.id, False)
    sign_in = {"username": tenancy.customer_user.email, "password": PASSWORD}
    refused = requests.post(f"{server.base_url}/api/auth/login", json=sign_in, timeout=10)
    assert refused.status_code == 401
    admin.delete_device(device.id)
    assert refused_status(lambda: admin.get_device_by_id(device.id)) == 404

    admin.logout()
    assert refused_status(admin.get_user) == 401
