"""The permission rules of ``accounts.domain``: who may do what, on what."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from gridlinks.accounts.domain import (
    BUILT_IN_ROLE_PERMISSIONS,
    CUSTOMER_USER_ROLE,
    OPERATIONS,
    RESOURCES,
    TENANT_ONLY_RESOURCES,
    Authority,
    Principal,
    User,
    merge_generic_permissions,
    validate_role_permissions,
)

TENANT = uuid.UUID(int=1)
OTHER_TENANT = uuid.UUID(int=2)
CUSTOMER = uuid.UUID(int=11)
OTHER_CUSTOMER = uuid.UUID(int=12)

resources = st.sampled_from(sorted(RESOURCES))
operations = st.sampled_from(sorted(OPERATIONS))
specific_resources = st.sampled_from(sorted(RESOURCES - {"ALL"} - TENANT_ONLY_RESOURCES))
customer_resources = st.sampled_from(sorted(RESOURCES - TENANT_ONLY_RESOURCES))
specific_operations = st.sampled_from(sorted(OPERATIONS - {"ALL"}))
permission_maps = st.dictionaries(resources, st.lists(operations, max_size=5), max_size=6)


def customer_user(permissions: dict[str, Any] | None = None) -> Principal:
    merged = merge_generic_permissions([permissions or {}])
    return Principal(uuid.uuid4(), "u@x.test", Authority.CUSTOMER_USER, TENANT, CUSTOMER, merged)


def tenant_admin() -> Principal:
    return Principal(uuid.uuid4(), "a@x.test", Authority.TENANT_ADMIN, TENANT, None)


def sys_admin() -> Principal:
    return Principal(uuid.uuid4(), "root@x.test", Authority.SYS_ADMIN, None, None)


# --- allows -------------------------------------------------------------------------------


@given(resources, operations)
def test_tenant_admin_may_do_everything_but_change_tenants(resource: str, operation: str) -> None:
    expected = resource != "TENANT" or operation == "READ"
    assert tenant_admin().allows(resource, operation) is expected


@given(resources, operations)
def test_sys_admin_may_only_manage_tenants_users_and_settings(
    resource: str, operation: str
) -> None:
    expected = resource in {"TENANT", "USER", "PROFILE", "ADMIN_SETTINGS"}
    assert sys_admin().allows(resource, operation) is expected


@given(resources, operations)
def test_customer_user_without_roles_may_do_nothing(resource: str, operation: str) -> None:
    assert not customer_user().allows(resource, operation)


@given(specific_resources, specific_operations, specific_resources, specific_operations)
def test_granted_operation_is_allowed_on_its_resource_only(
    resource: str, operation: str, other_resource: str, other_operation: str
) -> None:
    principal = customer_user({resource: [operation]})
    assert principal.allows(resource, operation)
    if (other_resource, other_operation) != (resource, operation):
        assert not principal.allows(other_resource, other_operation)


@given(st.sampled_from(sorted(TENANT_ONLY_RESOURCES)), operations)
def test_customer_user_never_reaches_tenant_only_resources_whatever_its_roles(
    resource: str, operation: str
) -> None:
    principal = customer_user({"ALL": ["ALL"], resource: ["ALL"]})
    assert not principal.allows(resource, operation)


@given(specific_resources, operations)
def test_all_operations_on_a_resource_allow_any_operation_there(
    resource: str, operation: str
) -> None:
    assert customer_user({resource: ["ALL"]}).allows(resource, operation)


@given(customer_resources, specific_operations)
def test_operation_granted_on_all_resources_is_allowed_everywhere(
    resource: str, operation: str
) -> None:
    assert customer_user({"ALL": [operation]}).allows(resource, operation)


@given(permission_maps, permission_maps, resources, operations)
def test_more_permissions_never_allow_less(
    granted: dict[str, list[str]], extra: dict[str, list[str]], resource: str, operation: str
) -> None:
    before = customer_user(granted).allows(resource, operation)
    after = Principal(
        uuid.uuid4(),
        "u@x.test",
        Authority.CUSTOMER_USER,
        TENANT,
        CUSTOMER,
        merge_generic_permissions([granted, extra]),
    ).allows(resource, operation)
    assert after or not before


def test_built_in_customer_user_role_reads_and_claims_but_does_not_write_devices() -> None:
    principal = customer_user(BUILT_IN_ROLE_PERMISSIONS[CUSTOMER_USER_ROLE])
    assert principal.allows("DEVICE", "READ") and principal.allows("DEVICE", "CLAIM_DEVICES")
    assert not principal.allows("DEVICE", "WRITE")
    assert not principal.allows("DEVICE", "WRITE_CREDENTIALS")
    assert not principal.allows("USER_GROUP", "CREATE")


# --- sees_owner ---------------------------------------------------------------------------


def test_sys_admin_sees_no_tenant_data() -> None:
    assert not sys_admin().sees_owner(TENANT, None)
    assert not sys_admin().sees_owner(TENANT, CUSTOMER)


def test_tenant_admin_sees_everything_of_its_tenant_and_nothing_else() -> None:
    admin = tenant_admin()
    assert admin.sees_owner(TENANT, None) and admin.sees_owner(TENANT, CUSTOMER)
    assert not admin.sees_owner(OTHER_TENANT, None)
    assert not admin.sees_owner(OTHER_TENANT, CUSTOMER)


def test_customer_user_sees_only_its_own_customers_objects() -> None:
    user = customer_user({"ALL": ["ALL"]})
    assert user.sees_owner(TENANT, CUSTOMER)
    assert not user.sees_owner(TENANT, None)  # unassigned: the tenant's
    assert not user.sees_owner(TENANT, OTHER_CUSTOMER)
    assert not user.sees_owner(OTHER_TENANT, CUSTOMER)


@given(st.uuids(), st.one_of(st.none(), st.uuids()))
def test_nobody_sees_into_another_tenant(
    tenant_id: uuid.UUID, customer_id: uuid.UUID | None
) -> None:
    for principal in (tenant_admin(), customer_user({"ALL": ["ALL"]})):
        if tenant_id != TENANT:
            assert not principal.sees_owner(tenant_id, customer_id)


# --- may_manage ---------------------------------------------------------------------------


def user_of(
    authority: Authority, tenant_id: uuid.UUID | None, customer_id: uuid.UUID | None
) -> User:
    return User(uuid.uuid4(), tenant_id, customer_id, "x@x.test", authority, 0)


PENDING_CUSTOMER_ADMIN = user_of(Authority.CUSTOMER_USER, TENANT, CUSTOMER)


def test_plain_customer_user_reads_but_does_not_manage_its_colleagues() -> None:
    plain = customer_user(BUILT_IN_ROLE_PERMISSIONS[CUSTOMER_USER_ROLE])
    assert plain.allows("USER", "READ")
    for operation in ("WRITE", "DELETE", "CREATE"):
        assert not plain.may_manage(PENDING_CUSTOMER_ADMIN, operation)


def test_customer_admin_manages_users_of_its_own_customer_only() -> None:
    admin = customer_user({"ALL": ["ALL"]})
    assert admin.may_manage(PENDING_CUSTOMER_ADMIN, "WRITE")
    for other in (
        user_of(Authority.CUSTOMER_USER, TENANT, OTHER_CUSTOMER),
        user_of(Authority.TENANT_ADMIN, TENANT, None),
        user_of(Authority.CUSTOMER_USER, OTHER_TENANT, CUSTOMER),
    ):
        assert not admin.may_manage(other, "WRITE")


def test_tenant_admin_manages_its_tenants_users_and_sys_admin_only_tenant_admins() -> None:
    tenant_admin_user = user_of(Authority.TENANT_ADMIN, TENANT, None)
    assert tenant_admin().may_manage(tenant_admin_user, "WRITE")
    assert tenant_admin().may_manage(PENDING_CUSTOMER_ADMIN, "DELETE")
    assert not tenant_admin().may_manage(
        user_of(Authority.TENANT_ADMIN, OTHER_TENANT, None), "WRITE"
    )
    assert sys_admin().may_manage(tenant_admin_user, "WRITE")
    assert not sys_admin().may_manage(PENDING_CUSTOMER_ADMIN, "WRITE")


def test_nobody_manages_a_sys_admin_or_themselves() -> None:
    root = user_of(Authority.SYS_ADMIN, None, None)
    for principal in (sys_admin(), tenant_admin(), customer_user({"ALL": ["ALL"]})):
        assert not principal.may_manage(root, "WRITE")
        me = user_of(principal.authority, principal.tenant_id, principal.customer_id)
        assert not principal.may_manage(
            User(principal.user_id, me.tenant_id, me.customer_id, me.email, me.authority, 0),
            "WRITE",
        )


# --- merge_generic_permissions ------------------------------------------------------------


@given(st.lists(permission_maps, max_size=4))
def test_merge_is_the_union_of_the_maps(maps: list[dict[str, list[str]]]) -> None:
    merged = merge_generic_permissions(maps)
    expected: dict[str, set[str]] = {}
    for permissions in maps:
        for resource, ops in permissions.items():
            expected.setdefault(resource, set()).update(ops)
    assert merged == {resource: frozenset(ops) for resource, ops in expected.items()}


@given(st.lists(permission_maps, max_size=4))
def test_merge_ignores_the_order_of_the_maps(maps: list[dict[str, list[str]]]) -> None:
    assert merge_generic_permissions(maps) == merge_generic_permissions(list(reversed(maps)))


def test_merge_skips_group_roles_and_malformed_operations() -> None:
    merged = merge_generic_permissions(
        [["READ", "WRITE"], None, {"DEVICE": "READ"}, {"DEVICE": ["RPC_CALL"]}]
    )
    assert merged == {"DEVICE": frozenset({"RPC_CALL"})}


# --- validate_role_permissions ------------------------------------------------------------


@given(permission_maps)
def test_map_of_known_resources_and_operations_is_a_valid_generic_role(
    permissions: dict[str, list[str]],
) -> None:
    assert validate_role_permissions("GENERIC", permissions) is None


@given(st.lists(operations, max_size=6))
def test_list_of_known_operations_is_a_valid_group_role(permissions: list[str]) -> None:
    assert validate_role_permissions("GROUP", permissions) is None


def test_generic_role_refuses_what_is_not_a_resource_map() -> None:
    for permissions in (["READ"], "ALL", None, 5):
        assert validate_role_permissions("GENERIC", permissions) is not None, permissions


def test_generic_role_refuses_unknown_resources_and_operations() -> None:
    for permissions in (
        {"SPACESHIP": ["READ"]},
        {"DEVICE": "READ"},
        {"DEVICE": ["FLY"]},
        {"DEVICE": [None]},
    ):
        assert validate_role_permissions("GENERIC", permissions) is not None, permissions


def test_group_role_refuses_unknown_operations_and_maps() -> None:
    for permissions in (["FLY"], {"DEVICE": ["READ"]}, "READ"):
        assert validate_role_permissions("GROUP", permissions) is not None, permissions


def test_refusal_does_not_echo_a_long_resource_name() -> None:
    problem = validate_role_permissions("GENERIC", {"X" * 10_000: ["READ"]})
    assert problem is not None and len(problem) < 120
