"""The tenant, device and customer scenario with tb-rest-client 4.4 (``RestClient``), unchanged.

4.4 cannot share a virtual environment with 4.3, so this is a script for the 4.4 environment
(``.venv-tb44``, built by scripts/test), not a test module; ``test_tb_rest_client_44.py`` runs it
against a real server:

    .venv-tb44/bin/python tests/e2e/tb44_scenario.py BASE_URL SYSADMIN_EMAIL

with the system administrator's password in ``GRIDLINKS_E2E_SYSADMIN_PASSWORD``. It prints each
step and exits non-zero on the first failed check. Unlike 4.3, 4.4 raises ``ValueError`` when a
reply does not fit its model; the checks still look at real attributes and types.

What 4.4 sends differently from 4.3: ``assign_device_to_customer`` is
``POST /api/owner/CUSTOMER/...`` then ``GET /api/device/{id}``; ``unassign_device_from_customer``
reads ``/api/auth/user`` then posts ``/api/owner/TENANT/...``; ``get_tenant_device`` uses
``/api/tenant/device?deviceName=``; attribute writes are ``Content-Type: text/plain``; POST and
DELETE without a body send no body at all.
"""

from __future__ import annotations

import json
import os
import re
import sys
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from tb_rest_client.models import (
    ActivateUserRequest,
    AttributeData,
    Customer,
    Device,
    DeviceCredentials,
    DeviceProfileInfo,
    EntityGroup,
    EntityGroupInfo,
    EntityId,
    GroupPermission,
    JwtPair,
    PageDataDevice,
    Role,
    Tenant,
    User,
)
from tb_rest_client.rest import ApiException
from tb_rest_client.rest_client import RestClient

PASSWORD_ENV = "GRIDLINKS_E2E_SYSADMIN_PASSWORD"
PASSWORD = "user-password-123"
NULL_UUID = "13814000-1dd2-11b2-8080-808080808080"
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


def step(what: str) -> None:
    print(f"- {what}", flush=True)


def typed(value: Any, cls: type[T]) -> T:
    assert isinstance(value, cls), f"expected {cls.__name__}, got {value!r}"
    return value


def id_of(value: Any, entity_type: str) -> str:
    assert value is not None, f"expected a {entity_type} id, got None"
    assert value.entity_type == entity_type, f"expected a {entity_type} id, got {value}"
    return str(uuid.UUID(value.id))


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def unique_email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@e2e.test"


def refused_status(call: Callable[[], object]) -> int:
    try:
        call()
    except ApiException as refused:
        return int(refused.status)
    raise AssertionError("the call was not refused")


def signed_in(base_url: str, email: str, password: str) -> RestClient:
    client = RestClient(base_url)
    client.login(email, password)
    assert typed(client.get_user(), User).email == email
    return client


def activate(issuer: RestClient, user: User) -> None:
    link = issuer.get_activation_link(user.id)
    found = re.search(r"activateToken=([\w-]+)", link)
    assert found, f"no activateToken in {link!r}"
    request = ActivateUserRequest(activate_token=found.group(1), password=PASSWORD)
    pair = typed(issuer.activate_user(request, send_activation_mail=False), JwtPair)
    assert pair.token and pair.refresh_token


def create_tenant_admin(sysadmin: RestClient) -> User:
    step("system administrator creates a tenant and its administrator")
    tenant = typed(sysadmin.save_tenant(Tenant(title=unique("Tenant"))), Tenant)
    id_of(tenant.id, "TENANT")
    body = User(email=unique_email("admin"), authority="TENANT_ADMIN", tenant_id=tenant.id)
    admin = typed(sysadmin.save_user(body, send_activation_mail=False), User)
    assert admin.authority == "TENANT_ADMIN"
    assert id_of(admin.tenant_id, "TENANT") == tenant.id.id
    activate(sysadmin, admin)
    return admin


def create_customer(admin: RestClient) -> Customer:
    title = unique("Customer")
    customer = typed(admin.save_customer(Customer(title=title)), Customer)
    id_of(customer.id, "CUSTOMER")
    assert customer.title == title
    return customer


def create_customer_user(admin: RestClient, customer: Customer) -> User:
    step("tenant administrator creates and activates a customer user")
    body = User(email=unique_email("buyer"), authority="CUSTOMER_USER", customer_id=customer.id)
    user = typed(admin.save_user(body, send_activation_mail=False), User)
    assert id_of(user.customer_id, "CUSTOMER") == customer.id.id
    activate(admin, user)
    return user


def create_device(admin: RestClient, name: str) -> Device:
    step(f"tenant administrator creates device {name!r} with an access token")
    token = f"token-{uuid.uuid4().hex[:12]}"
    profile = typed(admin.get_default_device_profile_info(), DeviceProfileInfo)
    body = Device(name=name, type=profile.name, device_profile_id=profile.id)
    device = typed(admin.save_device(body, access_token=token), Device)
    assert device.name == name
    assert id_of(device.device_profile_id, "DEVICE_PROFILE") == profile.id.id
    assert id_of(device.customer_id, "CUSTOMER") == NULL_UUID
    credentials = typed(admin.get_device_credentials_by_device_id(device.id), DeviceCredentials)
    assert (credentials.credentials_type, credentials.credentials_id) == ("ACCESS_TOKEN", token)
    return device


def check_device_is_found_by_name(admin: RestClient, device: Device) -> None:
    step("device is found by name (GET /api/tenant/device?deviceName=)")
    found = typed(admin.get_tenant_device(device.name), Device)
    assert id_of(found.id, "DEVICE") == device.id.id


def attribute_values(admin: RestClient, device: Device) -> dict[str, Any]:
    found = admin.get_attributes_by_scope(device.id, "SERVER_SCOPE", ",".join(ATTRIBUTES))
    return {item.key: item.value for item in (typed(a, AttributeData) for a in found)}


def as_json(values: dict[str, Any]) -> str:
    """true is not "true", 42 is not 42.0 or "42": equal JSON text means the types survived."""
    return json.dumps(values, sort_keys=True)


def check_attributes_keep_json_types(admin: RestClient, device: Device) -> None:
    step("server attributes are saved (text/plain body), read back with their JSON types, deleted")
    admin.save_device_attributes(device.id, "SERVER_SCOPE", ATTRIBUTES)
    assert as_json(attribute_values(admin, device)) == as_json(ATTRIBUTES)
    admin.delete_entity_attributes(device.id, "SERVER_SCOPE", "enabled,count")
    remaining = {k: v for k, v in ATTRIBUTES.items() if k not in ("enabled", "count")}
    assert as_json(attribute_values(admin, device)) == as_json(remaining)


def check_assign_and_unassign(admin: RestClient, customer: Customer, device: Device) -> None:
    step("device is assigned, unassigned and assigned again (the /api/owner/... URLs)")
    assigned = typed(admin.assign_device_to_customer(customer.id, device.id), Device)
    assert id_of(assigned.customer_id, "CUSTOMER") == customer.id.id
    released = typed(admin.unassign_device_from_customer(device.id), Device)
    assert id_of(released.customer_id, "CUSTOMER") == NULL_UUID
    typed(admin.assign_device_to_customer(customer.id, device.id), Device)


def grant_claiming_through_a_user_group(admin: RestClient, customer: Customer, user: User) -> None:
    step("a customer user group gets a GENERIC role with DEVICE: CLAIM_DEVICES; the user joins")
    owner = EntityId(id=customer.id.id, entity_type="CUSTOMER")
    body = EntityGroup(type="USER", name=unique("Claimers"), owner_id=owner)
    group = typed(admin.save_entity_group(body), EntityGroupInfo)
    assert group.type == "USER"
    assert [id_of(o, "CUSTOMER") for o in group.owner_ids] == [customer.id.id]
    body = Role(name=unique("Claim devices"), type="GENERIC", permissions=CLAIM_PERMISSIONS)
    role = typed(admin.save_role(body), Role)
    assert (role.type, role.permissions) == ("GENERIC", CLAIM_PERMISSIONS)
    body = GroupPermission(user_group_id=group.id, role_id=role.id)
    permission = typed(admin.save_group_permission(body), GroupPermission)
    assert id_of(permission.user_group_id, "ENTITY_GROUP") == group.id.id
    assert id_of(permission.role_id, "ROLE") == role.id.id
    admin.add_entities_to_entity_group(group.id, [user.id.id])
    granted = admin.get_user_group_permissions(group.id)
    assert [p.role.permissions for p in granted] == [CLAIM_PERMISSIONS]


def check_customer_user_sees_only_its_customer_devices(
    user: RestClient, customer: Customer, other_customer: Customer, device: Device
) -> None:
    step("customer user sees its customer's device only, not the other customer's or tenant's")
    page = typed(user.get_customer_devices(customer.id, 100, 0), PageDataDevice)
    assert [id_of(d.id, "DEVICE") for d in page.data] == [device.id.id]
    assert (page.total_elements, page.has_next) == (1, False)
    other = refused_status(lambda: user.get_customer_devices(other_customer.id, 100, 0))
    assert other in (403, 404), other
    assert refused_status(lambda: user.get_tenant_devices(100, 0)) == 403


def run(base_url: str, sysadmin_email: str, sysadmin_password: str) -> None:
    sysadmin = signed_in(base_url, sysadmin_email, sysadmin_password)
    admin_user = create_tenant_admin(sysadmin)
    admin = signed_in(base_url, admin_user.email, PASSWORD)
    customer, other_customer = create_customer(admin), create_customer(admin)
    customer_user = create_customer_user(admin, customer)
    device = create_device(admin, unique("Meter A"))
    check_device_is_found_by_name(admin, device)
    check_attributes_keep_json_types(admin, device)
    check_assign_and_unassign(admin, customer, device)
    elsewhere = create_device(admin, unique("Meter B"))
    typed(admin.assign_device_to_customer(other_customer.id, elsewhere.id), Device)
    grant_claiming_through_a_user_group(admin, customer, customer_user)
    user = signed_in(base_url, customer_user.email, PASSWORD)
    check_customer_user_sees_only_its_customer_devices(user, customer, other_customer, device)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or PASSWORD_ENV not in os.environ:
        print(__doc__, file=sys.stderr)
        return 2
    if not __debug__:
        print("run without -O: the checks are assert statements", file=sys.stderr)
        return 2
    run(argv[0], argv[1], os.environ[PASSWORD_ENV])
    print("tb-rest-client 4.4 scenario passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
