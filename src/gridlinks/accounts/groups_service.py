"""Use cases of user groups, roles and group permissions (ThingsBoard PE model)."""

from __future__ import annotations

import uuid
from dataclasses import replace

from gridlinks.accounts.domain import (
    BUILT_IN_GROUP_ROLES,
    BUILT_IN_ROLE_PERMISSIONS,
    GROUP_TYPES,
    ROLE_TYPES,
    Customer,
    EntityGroup,
    GroupPermission,
    Principal,
    Role,
    validate_role_permissions,
)
from gridlinks.accounts.groups_repository import (
    GroupPermissionRepository,
    GroupRepository,
    RoleRepository,
)
from gridlinks.accounts.repository import CustomerRepository, UserRepository
from gridlinks.accounts.schemas import EntityGroupSave, GroupPermissionSave, RoleSave
from gridlinks.db.unit_of_work import UnitOfWork
from gridlinks.errors import (
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from gridlinks.kit.clock import Clock
from gridlinks.kit.ids import new_id, optional_uuid
from gridlinks.kit.pagination import PageRequest


class GroupService:
    """User groups, roles and group permissions of a tenant and its customers."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    # --- built-ins -----------------------------------------------------------------------
    async def create_built_in_roles(self, uow: UnitOfWork, tenant_id: uuid.UUID) -> None:
        """Give a new tenant the roles its customers' built-in groups use."""
        repo = RoleRepository(uow.connection)
        for name, permissions in BUILT_IN_ROLE_PERMISSIONS.items():
            if await repo.find_built_in(tenant_id, name) is None:
                role = Role(
                    new_id(),
                    tenant_id,
                    None,
                    name,
                    "GENERIC",
                    permissions,
                    self._clock.now_ms(),
                    built_in=True,
                )
                await repo.add(role)

    async def create_built_in_groups(self, uow: UnitOfWork, customer: Customer) -> None:
        """Each customer gets *Customer Administrators* and *Customer Users*."""
        await self.create_built_in_roles(uow, customer.tenant_id)
        groups = GroupRepository(uow.connection)
        roles = RoleRepository(uow.connection)
        for group_name, role_name in BUILT_IN_GROUP_ROLES.items():
            group = EntityGroup(
                new_id(),
                customer.tenant_id,
                "CUSTOMER",
                customer.id,
                "USER",
                group_name,
                self._clock.now_ms(),
                built_in=True,
            )
            await groups.add(group)
            role = await roles.find_built_in(customer.tenant_id, role_name)
            assert role is not None  # created just above
            await GroupPermissionRepository(uow.connection).add(
                GroupPermission(
                    new_id(), customer.tenant_id, group.id, role.id, self._clock.now_ms()
                )
            )

    async def built_in_group(
        self, uow: UnitOfWork, customer_id: uuid.UUID, name: str
    ) -> EntityGroup:
        group = await GroupRepository(uow.connection).find(customer_id, "USER", name)
        if group is None:
            raise NotFoundError(f"Built-in group {name!r} of the customer is missing")
        return group

    # --- entity groups -------------------------------------------------------------------
    async def save_group(
        self, uow: UnitOfWork, actor: Principal, data: EntityGroupSave
    ) -> EntityGroup:
        """Create a group under an owner the actor reaches, or rename one. Built-in groups keep
        their names: the platform finds them by name."""
        if data.type not in GROUP_TYPES:
            raise InvalidArgumentError(f"Entity group type must be one of {sorted(GROUP_TYPES)}")
        repo = GroupRepository(uow.connection)
        if data.id is not None:
            group = await self.get_group(uow, actor, data.id.id, write=True)
            if group.built_in and data.name != group.name:
                raise InvalidArgumentError("Built-in entity groups cannot be renamed")
            existing = await repo.find(group.owner_id, group.type, data.name)
            if existing is not None and existing.id != group.id:
                raise ConflictError("Entity group with such name already exists!")
            updated = replace(
                group,
                name=data.name,
                description=data.description,
                additional_info=data.additional_info,
            )
            await repo.update(updated)
            return updated
        owner_type, owner_id = await self._owner_of(uow, actor, data)
        if not actor.allows(f"{data.type}_GROUP", "CREATE"):
            raise PermissionDeniedError()
        if await repo.find(owner_id, data.type, data.name) is not None:
            raise ConflictError("Entity group with such name already exists!")
        assert actor.tenant_id is not None
        group = EntityGroup(
            new_id(),
            actor.tenant_id,
            owner_type,
            owner_id,
            data.type,
            data.name,
            self._clock.now_ms(),
            data.description,
            data.additional_info,
        )
        await repo.add(group)
        return group

    async def _owner_of(
        self, uow: UnitOfWork, actor: Principal, data: EntityGroupSave
    ) -> tuple[str, uuid.UUID]:
        """The owner a new group names (default: the actor's own), once the actor reaches it."""
        if actor.tenant_id is None:
            raise PermissionDeniedError()
        if data.owner_id is None:
            if actor.customer_id is not None:
                return "CUSTOMER", actor.customer_id
            return "TENANT", actor.tenant_id
        owner_type = (data.owner_id.entity_type or "").upper()
        customer_id: uuid.UUID | None = None
        if owner_type == "CUSTOMER":
            customer = await CustomerRepository(uow.connection).get(data.owner_id.id)
            if customer is None or customer.tenant_id != actor.tenant_id:
                raise NotFoundError("Owner of the entity group not found")
            customer_id = customer.id
        elif owner_type != "TENANT":
            raise InvalidArgumentError("ownerId.entityType must be TENANT or CUSTOMER")
        elif data.owner_id.id != actor.tenant_id:
            raise NotFoundError("Owner of the entity group not found")
        if not actor.sees_owner(actor.tenant_id, customer_id):
            raise PermissionDeniedError()
        return owner_type, data.owner_id.id

    async def get_group(
        self, uow: UnitOfWork, actor: Principal, group_id: uuid.UUID, *, write: bool = False
    ) -> EntityGroup:
        group = await GroupRepository(uow.connection).get(group_id)
        if group is None or group.tenant_id != actor.tenant_id:
            raise NotFoundError()
        customer_id = group.owner_id if group.owner_type == "CUSTOMER" else None
        if not actor.sees_owner(group.tenant_id, customer_id):
            raise PermissionDeniedError()
        if write and not actor.allows("USER_GROUP" if group.type == "USER" else "ALL", "WRITE"):
            raise PermissionDeniedError()
        return group

    async def find_group(
        self, uow: UnitOfWork, actor: Principal, owner_id: uuid.UUID, group_type: str, name: str
    ) -> EntityGroup:
        group = await GroupRepository(uow.connection).find(owner_id, group_type.upper(), name)
        if group is None:
            raise NotFoundError()
        return await self.get_group(uow, actor, group.id)

    async def list_groups(
        self, uow: UnitOfWork, actor: Principal, group_type: str
    ) -> list[EntityGroup]:
        if group_type.upper() not in GROUP_TYPES:
            raise InvalidArgumentError(f"groupType must be one of {sorted(GROUP_TYPES)}")
        if actor.tenant_id is None:
            raise PermissionDeniedError()
        owners = [actor.customer_id] if actor.customer_id else [actor.tenant_id]
        return await GroupRepository(uow.connection).list_owned(owners, group_type.upper())

    async def list_owned_groups(
        self, uow: UnitOfWork, actor: Principal, owner_id: uuid.UUID, group_type: str
    ) -> list[EntityGroup]:
        groups = await GroupRepository(uow.connection).list_owned([owner_id], group_type.upper())
        return [
            g
            for g in groups
            if g.tenant_id == actor.tenant_id
            and actor.sees_owner(g.tenant_id, g.owner_id if g.owner_type == "CUSTOMER" else None)
        ]

    async def delete_group(self, uow: UnitOfWork, actor: Principal, group_id: uuid.UUID) -> None:
        group = await self.get_group(uow, actor, group_id, write=True)
        if group.built_in:
            raise InvalidArgumentError("Built-in entity groups cannot be deleted")
        await GroupRepository(uow.connection).delete(group.id)

    async def change_members(
        self,
        uow: UnitOfWork,
        actor: Principal,
        group_id: uuid.UUID,
        entity_ids: list[uuid.UUID],
        *,
        add: bool,
    ) -> None:
        """Add or remove entities; every id must be an entity the group's owner owns."""
        group = await self.get_group(uow, actor, group_id, write=True)
        if group.type != "USER":
            raise InvalidArgumentError("Only user groups hold members in GridLinks")
        users = UserRepository(uow.connection)
        owner_customer = group.owner_id if group.owner_type == "CUSTOMER" else None
        for user_id in entity_ids:
            user = await users.get(user_id)
            if (
                user is None
                or user.tenant_id != group.tenant_id
                or (owner_customer is not None and user.customer_id != owner_customer)
            ):
                raise NotFoundError(f"User {user_id} is not owned by the group's owner")
        repo = GroupRepository(uow.connection)
        if add:
            await repo.add_members(group.id, entity_ids)
        else:
            await repo.remove_members(group.id, entity_ids)

    # --- roles ---------------------------------------------------------------------------
    async def save_role(self, uow: UnitOfWork, actor: Principal, data: RoleSave) -> Role:
        if not actor.is_tenant_admin or actor.tenant_id is None:
            raise PermissionDeniedError()
        if data.type not in ROLE_TYPES:
            raise InvalidArgumentError("Role type must be GENERIC or GROUP")
        permissions = (
            data.permissions
            if data.permissions is not None
            else ({} if data.type == "GENERIC" else [])
        )
        problem = validate_role_permissions(data.type, permissions)
        if problem:
            raise InvalidArgumentError(problem)
        repo = RoleRepository(uow.connection)
        customer_id = optional_uuid(data.customer_id.id) if data.customer_id else None
        if customer_id is not None:
            customer = await CustomerRepository(uow.connection).get(customer_id)
            if customer is None or customer.tenant_id != actor.tenant_id:
                raise NotFoundError("Customer not found")
        if data.id is not None:
            role = await self.get_role(uow, actor, data.id.id)
            if role.built_in and (data.name, data.type) != (role.name, role.type):
                raise InvalidArgumentError("Built-in roles keep their name and type")
            updated = replace(
                role,
                name=data.name,
                type=data.type,
                permissions=permissions,
                additional_info=data.additional_info,
            )
            await repo.update(updated)
            return updated
        role = Role(
            new_id(),
            actor.tenant_id,
            customer_id,
            data.name,
            data.type,
            permissions,
            self._clock.now_ms(),
            data.additional_info,
        )
        await repo.add(role)
        return role

    async def get_role(self, uow: UnitOfWork, actor: Principal, role_id: uuid.UUID) -> Role:
        role = await RoleRepository(uow.connection).get(role_id)
        if role is None or role.tenant_id != actor.tenant_id:
            raise NotFoundError()
        if not actor.is_tenant_admin and role.customer_id != actor.customer_id:
            raise PermissionDeniedError()  # customers see only roles of their own
        return role

    async def page_roles(
        self, uow: UnitOfWork, actor: Principal, request: PageRequest, role_type: str | None
    ) -> tuple[list[Role], int]:
        if actor.tenant_id is None:
            raise PermissionDeniedError()
        if actor.is_tenant_admin:
            return await RoleRepository(uow.connection).page(actor.tenant_id, request, role_type)
        if actor.customer_id is None or not actor.allows("ROLE", "READ"):
            raise PermissionDeniedError()
        return await RoleRepository(uow.connection).page(
            actor.tenant_id, request, role_type, customer_id=actor.customer_id
        )

    async def delete_role(self, uow: UnitOfWork, actor: Principal, role_id: uuid.UUID) -> None:
        role = await self.get_role(uow, actor, role_id)
        if not actor.is_tenant_admin:
            raise PermissionDeniedError()
        if role.built_in:
            raise InvalidArgumentError("Built-in roles cannot be deleted")
        await RoleRepository(uow.connection).delete(role.id)

    # --- group permissions ---------------------------------------------------------------
    async def save_permission(
        self, uow: UnitOfWork, actor: Principal, data: GroupPermissionSave
    ) -> GroupPermission:
        group = await self.get_group(uow, actor, data.user_group_id.id, write=True)
        if group.type != "USER":
            raise InvalidArgumentError("userGroupId must be a user group")
        role = await self.get_role(uow, actor, data.role_id.id)
        entity_group_id = data.entity_group_id.id if data.entity_group_id else None
        if role.type == "GROUP" and entity_group_id is None:
            raise InvalidArgumentError("A GROUP role needs entityGroupId")
        if entity_group_id is not None:
            await self.get_group(uow, actor, entity_group_id)
        repo = GroupPermissionRepository(uow.connection)
        assert actor.tenant_id is not None
        permission = GroupPermission(
            data.id.id if data.id else new_id(),
            actor.tenant_id,
            group.id,
            role.id,
            self._clock.now_ms(),
            entity_group_id,
            data.entity_group_type,
            data.is_public,
        )
        if data.id is not None:
            await self.get_permission(uow, actor, data.id.id)
            await repo.update(permission)
        else:
            await repo.add(permission)
        return permission

    async def get_permission(
        self, uow: UnitOfWork, actor: Principal, permission_id: uuid.UUID
    ) -> GroupPermission:
        permission = await GroupPermissionRepository(uow.connection).get(permission_id)
        if permission is None or permission.tenant_id != actor.tenant_id:
            raise NotFoundError()
        await self.get_group(uow, actor, permission.user_group_id)
        return permission

    async def delete_permission(
        self, uow: UnitOfWork, actor: Principal, permission_id: uuid.UUID
    ) -> None:
        permission = await self.get_permission(uow, actor, permission_id)
        await self.get_group(uow, actor, permission.user_group_id, write=True)
        await GroupPermissionRepository(uow.connection).delete(permission.id)

    async def permissions_of_group(
        self, uow: UnitOfWork, actor: Principal, group_id: uuid.UUID, *, as_user_group: bool
    ) -> list[tuple[GroupPermission, Role | None]]:
        group = await self.get_group(uow, actor, group_id)
        repo = GroupPermissionRepository(uow.connection)
        found = await (
            repo.of_user_group(group.id) if as_user_group else repo.of_entity_group(group.id)
        )
        roles = RoleRepository(uow.connection)
        return [(p, await roles.get(p.role_id)) for p in found]
