"""Who may manage whom: every user, customer, tenant, group, role and group-permission endpoint
called by six callers, each answer checked against the table.

Callers (columns, in this order):
  SA  the system administrator
  TA  the tenant administrator of tenant A (owner of everything below)
  TB  the tenant administrator of tenant B
  CA  a customer administrator of customer C1 of tenant A (in C1's *Customer Administrators*)
  CU  a plain customer user of C1 (in C1's *Customer Users*)
  OA  a customer administrator of C2, another customer of tenant A

Each row names what is tried and the status each caller gets ("-": not applicable). Rows that
change something build a fresh target per caller (through TA), so one caller's success never
changes what the next caller meets. A refusal never carries an activation token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration.factories import (
    Account,
    Api,
    create_customer_user_quickly,
    create_tenant,
    create_tenant_admin_quickly,
    create_user,
    unique,
)

pytestmark = pytest.mark.security

ROLES = ("SA", "TA", "TB", "CA", "CU", "OA")
PAGE = "pageSize=10&page=0"

Call = tuple[str, str, Any]


@dataclass
class World:
    api: Api
    callers: dict[str, Account]
    tenant_a: dict[str, Any]
    c1: dict[str, Any]
    c2: dict[str, Any]
    c1_admins: dict[str, Any]
    c1_users: dict[str, Any]

    @property
    def ta(self) -> Account:
        return self.callers["TA"]

    def customer_of(self, role: str) -> dict[str, Any]:
        return self.c2 if role == "OA" else self.c1

    async def pending_user(self, customer: dict[str, Any] | None = None) -> dict[str, Any]:
        """A not yet activated user of ``customer`` (default C1), made by TA."""
        body = {"authority": "CUSTOMER_USER", "customerId": (customer or self.c1)["id"]}
        return await create_user(self.api, self.ta, body)

    async def pending_customer_admin(self) -> dict[str, Any]:
        body = {"authority": "CUSTOMER_USER", "customerId": self.c1["id"]}
        query = f"&entityGroupId={self.c1_admins['id']['id']}"
        return await create_user(self.api, self.ta, body, query)

    async def pending_tenant_admin(self) -> dict[str, Any]:
        body = {"authority": "TENANT_ADMIN", "tenantId": self.tenant_a["id"]}
        return await create_user(self.api, self.ta, body)

    async def c1_group(self) -> dict[str, Any]:
        body = {"type": "USER", "name": unique("Group"), "ownerId": self.c1["id"]}
        group: dict[str, Any] = await self.api.ok("POST", "/api/entityGroup", self.ta, json=body)
        return group

    async def role(self, customer: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": unique("Role"),
            "type": "GENERIC",
            "permissions": {"DEVICE": ["READ"]},
        }
        if customer is not None:
            body["customerId"] = customer["id"]
        role: dict[str, Any] = await self.api.ok("POST", "/api/role", self.ta, json=body)
        return role

    async def built_in_role(self, name: str) -> dict[str, Any]:
        roles = await self.api.ok("GET", f"/api/roles?{PAGE}&textSearch={name}", self.ta)
        found: dict[str, Any] = next(r for r in roles["data"] if r["name"] == name)
        return found


async def build_world(api: Api) -> World:
    ta, tb = await create_tenant_admin_quickly(api), await create_tenant_admin_quickly(api)
    c1, c2 = await api.create_customer(ta), await api.create_customer(ta)

    async def group(customer: dict[str, Any], name: str) -> dict[str, Any]:
        path = f"/api/entityGroup/CUSTOMER/{customer['id']['id']}/USER/{name}"
        found: dict[str, Any] = await api.ok("GET", path, ta)
        return found

    c1_admins, c2_admins = (
        await group(c1, "Customer Administrators"),
        await group(c2, "Customer Administrators"),
    )
    callers = {
        "SA": api.sysadmin,
        "TA": ta,
        "TB": tb,
        "CA": await create_customer_user_quickly(
            api, ta, c1, f"&entityGroupId={c1_admins['id']['id']}"
        ),
        "CU": await create_customer_user_quickly(api, ta, c1),
        "OA": await create_customer_user_quickly(
            api, ta, c2, f"&entityGroupId={c2_admins['id']['id']}"
        ),
    }
    tenant_a = await api.ok("GET", f"/api/tenant/{ta.user['tenantId']['id']}", ta)
    return World(api, callers, tenant_a, c1, c2, c1_admins, await group(c1, "Customer Users"))


Build = Callable[[World, str], Awaitable[Call]]


@dataclass(frozen=True)
class Row:
    what: str
    expected: str  # one status (or "-") per caller, in ROLES order
    build: Build


def fixed(method: str, path: Callable[[World], str], body: Any = None) -> Build:
    """A call that is the same for every caller."""

    async def build(world: World, role: str) -> Call:
        return method, path(world), body(world) if callable(body) else body

    return build


async def run(world: World, rows: list[Row]) -> None:
    """Make every call; fail once, with every cell that differs from the table."""
    wrong = []
    for row in rows:
        expected = row.expected.split()
        assert len(expected) == len(ROLES), row.what
        for role, status in zip(ROLES, expected, strict=True):
            if status == "-":
                continue
            method, path, body = await row.build(world, role)
            account = world.callers[role]
            response = await world.api.client.request(
                method, path, headers=account.headers, json=body
            )
            if response.status_code != int(status):
                wrong.append(
                    f"{row.what} / {role}: {status} expected, got "
                    f"{response.status_code} {response.text[:120]}"
                )
            if response.status_code >= 400:
                assert "activateToken" not in response.text, (row.what, role)
    assert not wrong, "\n".join(wrong)


def user_body(user: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**user, **changes}


async def activation_link_of_pending_customer_admin(world: World, role: str) -> Call:
    user = await world.pending_customer_admin()
    return "GET", f"/api/user/{user['id']['id']}/activationLink", None


async def activation_link_of_pending_tenant_admin(world: World, role: str) -> Call:
    user = await world.pending_tenant_admin()
    return "GET", f"/api/user/{user['id']['id']}/activationLink", None


async def create_customer_user_in_c1(world: World, role: str) -> Call:
    body = {"email": f"{unique('new')}@x.test", "authority": "CUSTOMER_USER"}
    return "POST", "/api/user?sendActivationMail=false", {**body, "customerId": world.c1["id"]}


async def create_customer_admin_in_c1(world: World, role: str) -> Call:
    _method, _path, body = await create_customer_user_in_c1(world, role)
    query = f"sendActivationMail=false&entityGroupId={world.c1_admins['id']['id']}"
    return "POST", f"/api/user?{query}", body


async def create_tenant_admin_of_a(world: World, role: str) -> Call:
    body = {"email": f"{unique('boss')}@x.test", "authority": "TENANT_ADMIN"}
    return "POST", "/api/user?sendActivationMail=false", {**body, "tenantId": world.tenant_a["id"]}


async def create_sys_admin(world: World, role: str) -> Call:
    body = {"email": f"{unique('root')}@x.test", "authority": "SYS_ADMIN"}
    return "POST", "/api/user?sendActivationMail=false", body


async def update_plain_user_of_c1(world: World, role: str) -> Call:
    return "POST", "/api/user", user_body(await world.pending_user(), firstName="Mallory")


async def update_pending_customer_admin_of_c1(world: World, role: str) -> Call:
    user = await world.pending_customer_admin()
    return "POST", "/api/user", user_body(user, email=f"{unique('taken')}@x.test")


async def update_tenant_admin_of_a(world: World, role: str) -> Call:
    return "POST", "/api/user", user_body(await world.pending_tenant_admin(), firstName="Mallory")


async def turn_plain_user_of_c1_into_tenant_admin(world: World, role: str) -> Call:
    user = await world.pending_user()
    body = user_body(user, authority="TENANT_ADMIN", tenantId=world.tenant_a["id"])
    body.pop("customerId")
    return "POST", "/api/user", body


async def read_pending_customer_admin(world: World, role: str) -> Call:
    return "GET", f"/api/user/{(await world.pending_customer_admin())['id']['id']}", None


async def read_tenant_admin_a(world: World, role: str) -> Call:
    return "GET", f"/api/user/{world.ta.user['id']['id']}", None


async def delete_plain_user_of_c1(world: World, role: str) -> Call:
    return "DELETE", f"/api/user/{(await world.pending_user())['id']['id']}", None


async def delete_tenant_admin_of_a(world: World, role: str) -> Call:
    return "DELETE", f"/api/user/{(await world.pending_tenant_admin())['id']['id']}", None


async def disable_plain_user_of_c1(world: World, role: str) -> Call:
    user = await world.pending_user()
    path = f"/api/user/{user['id']['id']}/userCredentialsEnabled?userCredentialsEnabled=false"
    return "POST", path, None


async def disable_tenant_admin_of_a(world: World, role: str) -> Call:
    user = await world.pending_tenant_admin()
    path = f"/api/user/{user['id']['id']}/userCredentialsEnabled?userCredentialsEnabled=false"
    return "POST", path, None


#                                                   SA  TA  TB  CA  CU  OA
USER_ROWS = [
    Row("create a user of C1", "404 200 404 200 403 403", create_customer_user_in_c1),
    Row("create an administrator of C1", "404 200 404 200 403 403", create_customer_admin_in_c1),
    Row("create a tenant admin of A", "200 200 403 403 403 403", create_tenant_admin_of_a),
    Row("create a system admin", "403 403 403 403 403 403", create_sys_admin),
    Row("update a user of C1", "404 200 404 200 403 403", update_plain_user_of_c1),
    Row(
        "change the e-mail of a pending admin of C1",
        "404 200 404 200 403 403",
        update_pending_customer_admin_of_c1,
    ),
    Row("update a tenant admin of A", "200 200 403 403 403 403", update_tenant_admin_of_a),
    Row(
        "turn a user of C1 into a tenant admin",
        "403 400 403 403 403 403",
        turn_plain_user_of_c1_into_tenant_admin,
    ),
    Row("read a pending admin of C1", "403 200 404 200 200 403", read_pending_customer_admin),
    Row("read tenant admin TA", "200 200 404 403 403 403", read_tenant_admin_a),
    Row(
        "activation link of a pending admin of C1",
        "403 200 404 200 403 403",
        activation_link_of_pending_customer_admin,
    ),
    Row(
        "activation link of a pending tenant admin of A",
        "200 200 404 403 403 403",
        activation_link_of_pending_tenant_admin,
    ),
    Row("delete a user of C1", "403 200 404 200 403 403", delete_plain_user_of_c1),
    Row("delete a tenant admin of A", "200 200 404 403 403 403", delete_tenant_admin_of_a),
    Row("disable a user of C1", "403 200 404 200 403 403", disable_plain_user_of_c1),
    Row("disable a tenant admin of A", "200 200 404 403 403 403", disable_tenant_admin_of_a),
    Row(
        "list the tenant's users",
        "403 200 200 403 403 403",
        fixed("GET", lambda w: f"/api/users?{PAGE}"),
    ),
    Row(
        "list the users of C1",
        "404 200 404 200 200 403",
        fixed("GET", lambda w: f"/api/customer/{w.c1['id']['id']}/users?{PAGE}"),
    ),
    Row(
        "list the administrators of tenant A",
        "200 200 403 403 403 403",
        fixed("GET", lambda w: f"/api/tenant/{w.tenant_a['id']['id']}/users?{PAGE}"),
    ),
]


async def test_user_management_matrix(api: Api) -> None:
    await run(await build_world(api), USER_ROWS)


# --- customers and tenants ----------------------------------------------------------------


async def update_c1(world: World, role: str) -> Call:
    return "POST", "/api/customer", {"id": world.c1["id"], "title": world.c1["title"], "city": "X"}


async def delete_a_customer_of_a(world: World, role: str) -> Call:
    customer = await world.api.create_customer(world.ta)
    return "DELETE", f"/api/customer/{customer['id']['id']}", None


async def delete_own_customer(world: World, role: str) -> Call:
    return "DELETE", f"/api/customer/{world.customer_of(role)['id']['id']}", None


async def update_tenant_a(world: World, role: str) -> Call:
    return "POST", "/api/tenant", {"id": world.tenant_a["id"], "title": world.tenant_a["title"]}


async def delete_a_tenant(world: World, role: str) -> Call:
    return "DELETE", f"/api/tenant/{(await create_tenant(world.api))['id']['id']}", None


def c1_path(suffix: str = "") -> Callable[[World], str]:
    return lambda w: f"/api/customer/{w.c1['id']['id']}{suffix}"


def tenant_a_path(suffix: str = "") -> Callable[[World], str]:
    return lambda w: f"/api/tenant/{w.tenant_a['id']['id']}{suffix}"


#                                                   SA  TA  TB  CA  CU  OA
CUSTOMER_AND_TENANT_ROWS = [
    Row(
        "create a customer",
        "403 200 200 403 403 403",
        fixed("POST", lambda w: "/api/customer", lambda w: {"title": unique("C")}),
    ),
    Row("update C1", "403 200 404 403 403 403", update_c1),
    Row("read C1", "404 200 404 200 200 403", fixed("GET", c1_path())),
    Row(
        "list customers",
        "403 200 200 403 403 403",
        fixed("GET", lambda w: f"/api/customers?{PAGE}"),
    ),
    Row(
        "find C1 by title",
        "403 200 404 403 403 403",
        fixed("GET", lambda w: f"/api/tenant/customers?customerTitle={w.c1['title']}"),
    ),
    Row("delete a customer of A", "404 200 404 403 403 403", delete_a_customer_of_a),
    Row("delete one's own customer", "- - - 403 403 403", delete_own_customer),
    Row(
        "create a tenant",
        "200 403 403 403 403 403",
        fixed("POST", lambda w: "/api/tenant", lambda w: {"title": unique("T")}),
    ),
    Row("update tenant A", "200 403 403 403 403 403", update_tenant_a),
    Row("read tenant A", "200 200 403 403 403 403", fixed("GET", tenant_a_path())),
    Row("list tenants", "200 403 403 403 403 403", fixed("GET", lambda w: f"/api/tenants?{PAGE}")),
    Row("delete a tenant", "200 403 403 403 403 403", delete_a_tenant),
]


async def test_customer_and_tenant_management_matrix(api: Api) -> None:
    await run(await build_world(api), CUSTOMER_AND_TENANT_ROWS)


# --- user groups and membership -----------------------------------------------------------


async def create_group_of_c1(world: World, role: str) -> Call:
    body = {"type": "USER", "name": unique("Group"), "ownerId": world.c1["id"]}
    return "POST", "/api/entityGroup", body


async def rename_group_of_c1(world: World, role: str) -> Call:
    group = await world.c1_group()
    return "POST", "/api/entityGroup", {**group, "name": unique("Renamed")}


async def delete_group_of_c1(world: World, role: str) -> Call:
    return "DELETE", f"/api/entityGroup/{(await world.c1_group())['id']['id']}", None


async def add_user_to_c1_admins(world: World, role: str) -> Call:
    user = await world.pending_user()
    path = f"/api/entityGroup/{world.c1_admins['id']['id']}/addEntities"
    return "POST", path, [user["id"]["id"]]


async def add_oneself_to_c1_admins(world: World, role: str) -> Call:
    path = f"/api/entityGroup/{world.c1_admins['id']['id']}/addEntities"
    return "POST", path, [world.callers[role].user["id"]["id"]]


async def remove_admin_from_c1_admins(world: World, role: str) -> Call:
    admin = await world.pending_customer_admin()
    path = f"/api/entityGroup/{world.c1_admins['id']['id']}/deleteEntities"
    return "POST", path, [admin["id"]["id"]]


def c1_admins_path(suffix: str = "") -> Callable[[World], str]:
    return lambda w: f"/api/entityGroup/{w.c1_admins['id']['id']}{suffix}"


#                                                   SA  TA  TB  CA  CU  OA
GROUP_ROWS = [
    Row("create a user group of C1", "403 200 404 200 403 403", create_group_of_c1),
    Row(
        "read C1's administrators group", "404 200 404 200 200 403", fixed("GET", c1_admins_path())
    ),
    Row(
        "find C1's administrators group by name",
        "404 200 404 200 200 403",
        fixed(
            "GET",
            lambda w: f"/api/entityGroup/CUSTOMER/{w.c1['id']['id']}/USER/Customer Administrators",
        ),
    ),
    Row("rename a user group of C1", "404 200 404 200 403 403", rename_group_of_c1),
    Row("delete a user group of C1", "404 200 404 200 403 403", delete_group_of_c1),
    Row(
        "add a user of C1 to C1's administrators", "404 200 404 200 403 403", add_user_to_c1_admins
    ),
    Row("add oneself to C1's administrators", "- - - 200 403 403", add_oneself_to_c1_admins),
    Row(
        "remove an administrator of C1 from C1's administrators",
        "404 200 404 200 403 403",
        remove_admin_from_c1_admins,
    ),
    Row(
        "list the caller's user groups",
        "403 200 200 200 200 200",
        fixed("GET", lambda w: "/api/entityGroups/USER"),
    ),
]


async def test_user_group_management_matrix(api: Api) -> None:
    await run(await build_world(api), GROUP_ROWS)


# --- roles and group permissions ----------------------------------------------------------


async def create_role_for_c1(world: World, role: str) -> Call:
    body = {"name": unique("Role"), "type": "GENERIC", "permissions": {}}
    return "POST", "/api/role", {**body, "customerId": world.c1["id"]}


async def update_role(world: World, role: str) -> Call:
    return "POST", "/api/role", {**(await world.role()), "permissions": {"ALL": ["ALL"]}}


async def delete_role(world: World, role: str) -> Call:
    return "DELETE", f"/api/role/{(await world.role())['id']['id']}", None


async def read_built_in_admin_role(world: World, role: str) -> Call:
    return (
        "GET",
        f"/api/role/{(await world.built_in_role('Customer Administrator'))['id']['id']}",
        None,
    )


async def grant_admin_role_to_group_of_c1(world: World, role: str) -> Call:
    admin_role = await world.built_in_role("Customer Administrator")
    body = {"userGroupId": (await world.c1_group())["id"], "roleId": admin_role["id"]}
    return "POST", "/api/groupPermission", body


async def grant_admin_role_to_c1_users(world: World, role: str) -> Call:
    admin_role = await world.built_in_role("Customer Administrator")
    return (
        "POST",
        "/api/groupPermission",
        {"userGroupId": world.c1_users["id"], "roleId": admin_role["id"]},
    )


async def grant_c1_role_to_group_of_c1(world: World, role: str) -> Call:
    c1_role = await world.role(world.c1)
    body = {"userGroupId": (await world.c1_group())["id"], "roleId": c1_role["id"]}
    return "POST", "/api/groupPermission", body


async def granted_permission(world: World) -> dict[str, Any]:
    body = {
        "userGroupId": (await world.c1_group())["id"],
        "roleId": (await world.role(world.c1))["id"],
    }
    found: dict[str, Any] = await world.api.ok("POST", "/api/groupPermission", world.ta, json=body)
    return found


async def read_group_permission(world: World, role: str) -> Call:
    return "GET", f"/api/groupPermission/{(await granted_permission(world))['id']['id']}", None


async def delete_group_permission(world: World, role: str) -> Call:
    return "DELETE", f"/api/groupPermission/{(await granted_permission(world))['id']['id']}", None


#                                                   SA  TA  TB  CA  CU  OA
ROLE_ROWS = [
    Row(
        "create a role",
        "403 200 200 403 403 403",
        fixed(
            "POST",
            lambda w: "/api/role",
            lambda w: {"name": unique("R"), "type": "GENERIC", "permissions": {"ALL": ["ALL"]}},
        ),
    ),
    Row("create a role of C1", "403 200 404 403 403 403", create_role_for_c1),
    Row(
        "read the built-in Customer Administrator role",
        "404 200 404 403 403 403",
        read_built_in_admin_role,
    ),
    Row("update a role", "403 200 404 403 403 403", update_role),
    Row("delete a role", "404 200 404 403 403 403", delete_role),
    Row("list roles", "403 200 200 200 200 200", fixed("GET", lambda w: f"/api/roles?{PAGE}")),
    Row(
        "grant the tenant's admin role to a group of C1",
        "404 200 404 403 403 403",
        grant_admin_role_to_group_of_c1,
    ),
    Row(
        "grant a role of C1 to a group of C1",
        "404 200 404 200 403 403",
        grant_c1_role_to_group_of_c1,
    ),
    Row("read a group permission of C1", "404 200 404 200 200 403", read_group_permission),
    Row("delete a group permission of C1", "404 200 404 200 403 403", delete_group_permission),
    Row(
        "read the permissions of C1's administrators group",
        "404 200 404 200 200 403",
        fixed("GET", lambda w: f"/api/userGroup/{w.c1_admins['id']['id']}/groupPermissions"),
    ),
    # Last: TA's success makes every member of C1's *Customer Users* an administrator.
    Row(
        "grant the tenant's admin role to C1's users",
        "404 - 404 403 403 403",
        grant_admin_role_to_c1_users,
    ),
]


async def test_role_and_group_permission_matrix(api: Api) -> None:
    await run(await build_world(api), ROLE_ROWS)


# --- what a caller may change about itself ------------------------------------------------


def me(world: World, role: str) -> dict[str, Any]:
    user: dict[str, Any] = world.callers[role].user
    return user


async def rename_oneself(world: World, role: str) -> Call:
    return "POST", "/api/user", user_body(me(world, role), firstName=unique("Me"))


async def make_oneself_tenant_admin(world: World, role: str) -> Call:
    body = user_body(me(world, role), authority="TENANT_ADMIN", tenantId=world.tenant_a["id"])
    body.pop("customerId", None)
    return "POST", "/api/user", body


async def move_oneself_to_another_customer(world: World, role: str) -> Call:
    other = world.c1 if role == "OA" else world.c2
    return "POST", "/api/user", user_body(me(world, role), customerId=other["id"])


async def change_own_email(world: World, role: str) -> Call:
    return "POST", "/api/user", user_body(me(world, role), email=f"{unique('me')}@x.test")


async def disable_oneself(world: World, role: str) -> Call:
    user_id = me(world, role)["id"]["id"]
    return "POST", f"/api/user/{user_id}/userCredentialsEnabled?userCredentialsEnabled=false", None


async def delete_oneself(world: World, role: str) -> Call:
    return "DELETE", f"/api/user/{me(world, role)['id']['id']}", None


async def read_oneself(world: World, role: str) -> Call:
    return "GET", f"/api/user/{me(world, role)['id']['id']}", None


async def read_own_customer(world: World, role: str) -> Call:
    return "GET", f"/api/customer/{world.customer_of(role)['id']['id']}", None


#                                                   SA  TA  TB  CA  CU  OA
SELF_ROWS = [
    Row("read oneself", "200 200 200 200 200 200", read_oneself),
    Row("read one's own customer", "- - - 200 200 200", read_own_customer),
    Row("rename oneself", "200 200 200 200 200 200", rename_oneself),
    Row("make oneself a tenant admin", "- - - 403 403 403", make_oneself_tenant_admin),
    Row("move oneself to another customer", "- - - 403 403 403", move_oneself_to_another_customer),
    Row("disable oneself", "403 403 403 403 403 403", disable_oneself),
    Row("delete oneself", "400 400 400 400 400 400", delete_oneself),
    Row("change one's own e-mail", "200 200 200 200 200 200", change_own_email),
]


async def test_what_a_caller_may_change_about_itself(api: Api) -> None:
    await run(await build_world(api), SELF_ROWS)
