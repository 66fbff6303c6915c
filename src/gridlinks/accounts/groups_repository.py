"""All SQL of entity groups, their members, roles and group permissions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gridlinks.accounts.domain import EntityGroup, GroupPermission, Role
from gridlinks.db.paging import fetch_page
from gridlinks.db.tables import entity_group_members, entity_groups, group_permissions, roles
from gridlinks.kit.pagination import PageRequest


def _group(row: sa.Row[Any]) -> EntityGroup:
    return EntityGroup(**row._mapping)


def _role(row: sa.Row[Any]) -> Role:
    return Role(**row._mapping)


def _permission(row: sa.Row[Any]) -> GroupPermission:
    return GroupPermission(**row._mapping)


class GroupRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, group: EntityGroup) -> None:
        await self._c.execute(entity_groups.insert().values(**asdict(group)))

    async def update(self, group: EntityGroup) -> None:
        query = entity_groups.update().where(entity_groups.c.id == group.id)
        await self._c.execute(query.values(**asdict(group)))

    async def get(self, group_id: uuid.UUID) -> EntityGroup | None:
        query = entity_groups.select().where(entity_groups.c.id == group_id)
        row = (await self._c.execute(query)).first()
        return _group(row) if row else None

    async def find(self, owner_id: uuid.UUID, group_type: str, name: str) -> EntityGroup | None:
        query = entity_groups.select().where(
            entity_groups.c.owner_id == owner_id,
            entity_groups.c.type == group_type,
            entity_groups.c.name == name,
        )
        row = (await self._c.execute(query)).first()
        return _group(row) if row else None

    async def list_owned(
        self, owner_ids: Sequence[uuid.UUID], group_type: str
    ) -> list[EntityGroup]:
        query = (
            entity_groups.select()
            .where(entity_groups.c.owner_id.in_(owner_ids), entity_groups.c.type == group_type)
            .order_by(entity_groups.c.created_time, entity_groups.c.name)
        )
        return [_group(r) for r in (await self._c.execute(query)).all()]

    async def delete(self, group_id: uuid.UUID) -> None:
        await self._c.execute(entity_groups.delete().where(entity_groups.c.id == group_id))

    async def delete_owned(self, owner_id: uuid.UUID) -> None:
        """Every group of an owner (members and group permissions follow by cascade)."""
        await self._c.execute(entity_groups.delete().where(entity_groups.c.owner_id == owner_id))

    async def add_members(self, group_id: uuid.UUID, entity_ids: Sequence[uuid.UUID]) -> None:
        existing = set(await self.member_ids(group_id))
        new = [
            {"group_id": group_id, "entity_id": e}
            for e in dict.fromkeys(entity_ids)
            if e not in existing
        ]
        if new:
            await self._c.execute(entity_group_members.insert(), new)

    async def remove_members(self, group_id: uuid.UUID, entity_ids: Sequence[uuid.UUID]) -> None:
        query = entity_group_members.delete().where(
            entity_group_members.c.group_id == group_id,
            entity_group_members.c.entity_id.in_(entity_ids),
        )
        await self._c.execute(query)

    async def remove_entity_everywhere(self, entity_id: uuid.UUID) -> None:
        query = entity_group_members.delete().where(entity_group_members.c.entity_id == entity_id)
        await self._c.execute(query)

    async def member_ids(self, group_id: uuid.UUID) -> list[uuid.UUID]:
        query = sa.select(entity_group_members.c.entity_id).where(
            entity_group_members.c.group_id == group_id
        )
        return list((await self._c.execute(query)).scalars().all())


class RoleRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, role: Role) -> None:
        await self._c.execute(roles.insert().values(**asdict(role)))

    async def update(self, role: Role) -> None:
        await self._c.execute(roles.update().where(roles.c.id == role.id).values(**asdict(role)))

    async def get(self, role_id: uuid.UUID) -> Role | None:
        row = (await self._c.execute(roles.select().where(roles.c.id == role_id))).first()
        return _role(row) if row else None

    async def find_built_in(self, tenant_id: uuid.UUID, name: str) -> Role | None:
        query = roles.select().where(
            roles.c.tenant_id == tenant_id, roles.c.name == name, roles.c.built_in.is_(True)
        )
        row = (await self._c.execute(query)).first()
        return _role(row) if row else None

    async def delete(self, role_id: uuid.UUID) -> None:
        await self._c.execute(roles.delete().where(roles.c.id == role_id))

    async def page(
        self,
        tenant_id: uuid.UUID,
        request: PageRequest,
        role_type: str | None,
        *,
        customer_id: uuid.UUID | None = None,
    ) -> tuple[list[Role], int]:
        query = roles.select().where(roles.c.tenant_id == tenant_id)
        if customer_id is not None:
            query = query.where(roles.c.customer_id == customer_id)
        if role_type:
            query = query.where(roles.c.type == role_type)
        rows, total = await fetch_page(
            self._c,
            query,
            request,
            search_column=roles.c.name,
            sort_columns={"createdTime": roles.c.created_time, "name": roles.c.name},
            default_sort="createdTime",
            tiebreak=roles.c.id,
        )
        return [_role(r) for r in rows], total


class GroupPermissionRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, permission: GroupPermission) -> None:
        await self._c.execute(group_permissions.insert().values(**asdict(permission)))

    async def update(self, permission: GroupPermission) -> None:
        query = group_permissions.update().where(group_permissions.c.id == permission.id)
        await self._c.execute(query.values(**asdict(permission)))

    async def get(self, permission_id: uuid.UUID) -> GroupPermission | None:
        query = group_permissions.select().where(group_permissions.c.id == permission_id)
        row = (await self._c.execute(query)).first()
        return _permission(row) if row else None

    async def delete(self, permission_id: uuid.UUID) -> None:
        query = group_permissions.delete().where(group_permissions.c.id == permission_id)
        await self._c.execute(query)

    async def of_user_group(self, group_id: uuid.UUID) -> list[GroupPermission]:
        query = group_permissions.select().where(group_permissions.c.user_group_id == group_id)
        return [_permission(r) for r in (await self._c.execute(query)).all()]

    async def of_entity_group(self, group_id: uuid.UUID) -> list[GroupPermission]:
        query = group_permissions.select().where(group_permissions.c.entity_group_id == group_id)
        return [_permission(r) for r in (await self._c.execute(query)).all()]
