"""All SQL of tenants, customers and users."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gridlinks.accounts.domain import Authority, Customer, Tenant, User
from gridlinks.db.paging import fetch_page
from gridlinks.db.tables import (
    customers,
    entity_group_members,
    group_permissions,
    roles,
    tenants,
    users,
)
from gridlinks.kit.pagination import PageRequest

_USER_FIELDS = [
    c
    for c in users.c
    if c.name
    not in ("password_hash", "activate_token_hash", "activate_token_expiry", "token_generation")
]
# What ``UserRepository.update`` writes: authority and owner never change, and ``enabled`` and
# the token generation change only through their own statements (no stale copy can undo them).
_PROFILE_FIELDS = ("email", "first_name", "last_name", "phone", "additional_info")


def _tenant(row: sa.Row[Any]) -> Tenant:
    return Tenant(**row._mapping)


def _customer(row: sa.Row[Any]) -> Customer:
    return Customer(**row._mapping)


def _user(row: sa.Row[Any]) -> User:
    data = {c.name: row._mapping[c.name] for c in _USER_FIELDS}
    data["authority"] = Authority(data["authority"])
    return User(**data)


class TenantRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, tenant: Tenant) -> None:
        await self._c.execute(tenants.insert().values(**asdict(tenant)))

    async def update(self, tenant: Tenant) -> None:
        values = asdict(tenant)
        await self._c.execute(tenants.update().where(tenants.c.id == tenant.id).values(**values))

    async def get(self, tenant_id: uuid.UUID) -> Tenant | None:
        row = (await self._c.execute(tenants.select().where(tenants.c.id == tenant_id))).first()
        return _tenant(row) if row else None

    async def find_by_title(self, title: str) -> Tenant | None:
        query = tenants.select().where(tenants.c.title == title).order_by(tenants.c.created_time)
        row = (await self._c.execute(query)).first()
        return _tenant(row) if row else None

    async def delete(self, tenant_id: uuid.UUID) -> None:
        await self._c.execute(tenants.delete().where(tenants.c.id == tenant_id))

    async def page(self, request: PageRequest) -> tuple[list[Tenant], int]:
        rows, total = await fetch_page(
            self._c,
            tenants.select(),
            request,
            search_column=tenants.c.title,
            sort_columns={"createdTime": tenants.c.created_time, "title": tenants.c.title},
            default_sort="createdTime",
            tiebreak=tenants.c.id,
        )
        return [_tenant(r) for r in rows], total


class CustomerRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, customer: Customer) -> None:
        await self._c.execute(customers.insert().values(**asdict(customer)))

    async def update(self, customer: Customer) -> None:
        values = asdict(customer)
        query = customers.update().where(customers.c.id == customer.id).values(**values)
        await self._c.execute(query)

    async def get(self, customer_id: uuid.UUID) -> Customer | None:
        query = customers.select().where(customers.c.id == customer_id)
        row = (await self._c.execute(query)).first()
        return _customer(row) if row else None

    async def find_by_title(self, tenant_id: uuid.UUID, title: str) -> Customer | None:
        query = customers.select().where(
            customers.c.tenant_id == tenant_id, customers.c.title == title
        )
        row = (await self._c.execute(query)).first()
        return _customer(row) if row else None

    async def delete(self, customer_id: uuid.UUID) -> None:
        await self._c.execute(customers.delete().where(customers.c.id == customer_id))

    async def page(self, tenant_id: uuid.UUID, request: PageRequest) -> tuple[list[Customer], int]:
        rows, total = await fetch_page(
            self._c,
            customers.select().where(customers.c.tenant_id == tenant_id),
            request,
            search_column=customers.c.title,
            sort_columns={
                "createdTime": customers.c.created_time,
                "title": customers.c.title,
                "email": customers.c.email,
            },
            default_sort="createdTime",
            tiebreak=customers.c.id,
        )
        return [_customer(r) for r in rows], total


# Built once: it runs on every authenticated request.
_PRINCIPAL_QUERY = (
    sa.select(
        *_USER_FIELDS,
        users.c.token_generation,
        customers.c.title.label("customer_title"),
        roles.c.permissions.label("role_permissions"),
    )
    .select_from(users)
    .outerjoin(customers, customers.c.id == users.c.customer_id)
    .outerjoin(entity_group_members, entity_group_members.c.entity_id == users.c.id)
    .outerjoin(
        group_permissions, group_permissions.c.user_group_id == entity_group_members.c.group_id
    )
    .outerjoin(roles, sa.and_(roles.c.id == group_permissions.c.role_id, roles.c.type == "GENERIC"))
    .where(users.c.id == sa.bindparam("user_id"))
)


@dataclass(frozen=True)
class PrincipalRecord:
    user: User
    customer_title: str | None
    role_permissions: list[Any]
    token_generation: int = 0


class UserRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, user: User) -> None:
        values = asdict(user)
        values["authority"] = user.authority.value
        await self._c.execute(users.insert().values(**values))

    async def update(self, user: User) -> None:
        """Write the profile fields (e-mail, names, phone, additional info)."""
        values = {name: getattr(user, name) for name in _PROFILE_FIELDS}
        await self._c.execute(users.update().where(users.c.id == user.id).values(**values))

    async def set_enabled(self, user_id: uuid.UUID, enabled: bool) -> None:
        query = users.update().where(users.c.id == user_id).values(enabled=enabled)
        await self._c.execute(query)

    async def token_generation(self, user_id: uuid.UUID) -> int:
        """The generation every valid token of the user carries (0 for a missing user)."""
        query = sa.select(users.c.token_generation).where(users.c.id == user_id)
        return int((await self._c.execute(query)).scalar_one_or_none() or 0)

    async def revoke_tokens(self, user_id: uuid.UUID) -> int:
        """Move the user to a new token generation, so every token issued so far stops
        working; answers the new generation. One atomic increment: concurrent revocations
        never fall back to an older generation."""
        query = (
            users.update()
            .where(users.c.id == user_id)
            .values(token_generation=users.c.token_generation + 1)
        )
        await self._c.execute(query)
        return await self.token_generation(user_id)

    async def get(self, user_id: uuid.UUID) -> User | None:
        row = (await self._c.execute(sa.select(*_USER_FIELDS).where(users.c.id == user_id))).first()
        return _user(row) if row else None

    async def get_for_principal(self, user_id: uuid.UUID) -> PrincipalRecord | None:
        """The user, its customer's title and the permission maps of the GENERIC roles its
        groups hold, in one query (it runs on every authenticated request)."""
        rows = (await self._c.execute(_PRINCIPAL_QUERY, {"user_id": user_id})).all()
        if not rows:
            return None
        return PrincipalRecord(
            _user(rows[0]),  # type: ignore[arg-type]
            rows[0].customer_title,
            [r.role_permissions for r in rows if r.role_permissions is not None],
            int(rows[0].token_generation),
        )

    async def find_by_email(self, email: str) -> User | None:
        query = sa.select(*_USER_FIELDS).where(users.c.email == email.lower())
        row = (await self._c.execute(query)).first()
        return _user(row) if row else None

    async def password_hash(self, user_id: uuid.UUID) -> str | None:
        query = sa.select(users.c.password_hash).where(users.c.id == user_id)
        return (await self._c.execute(query)).scalar_one_or_none()

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str) -> None:
        query = users.update().where(users.c.id == user_id).values(password_hash=password_hash)
        await self._c.execute(query)

    async def set_activation(
        self, user_id: uuid.UUID, token_hash: str | None, expiry: int | None
    ) -> None:
        values = {"activate_token_hash": token_hash, "activate_token_expiry": expiry}
        await self._c.execute(users.update().where(users.c.id == user_id).values(**values))

    async def find_by_activation(self, token_hash: str) -> tuple[User, int] | None:
        query = sa.select(*_USER_FIELDS, users.c.activate_token_expiry).where(
            users.c.activate_token_hash == token_hash
        )
        row = (await self._c.execute(query)).first()
        if row is None:
            return None
        data = dict(row._mapping)
        expiry = int(data.pop("activate_token_expiry") or 0)
        data["authority"] = Authority(data["authority"])
        return User(**data), expiry

    async def delete(self, user_id: uuid.UUID) -> None:
        await self._c.execute(users.delete().where(users.c.id == user_id))

    async def page(
        self,
        request: PageRequest,
        *,
        tenant_id: uuid.UUID,
        customer_id: uuid.UUID | None = None,
        authority: Authority | None = None,
        ids: Sequence[uuid.UUID] | None = None,
    ) -> tuple[list[User], int]:
        query = sa.select(*_USER_FIELDS).where(users.c.tenant_id == tenant_id)
        if customer_id is not None:
            query = query.where(users.c.customer_id == customer_id)
        if authority is not None:
            query = query.where(users.c.authority == authority.value)
        if ids is not None:
            query = query.where(users.c.id.in_(ids))
        rows, total = await fetch_page(
            self._c,
            query,
            request,
            search_column=users.c.email,
            sort_columns={
                "createdTime": users.c.created_time,
                "email": users.c.email,
                "firstName": users.c.first_name,
                "lastName": users.c.last_name,
            },
            default_sort="createdTime",
            tiebreak=users.c.id,
        )
        return [_user(r) for r in rows], total
