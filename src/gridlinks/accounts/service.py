"""Use cases of tenants, customers, users, sign-in and activation."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from gridlinks.accounts.domain import (
    CUSTOMER_ADMINISTRATORS,
    CUSTOMER_USERS,
    Authority,
    Customer,
    Principal,
    Tenant,
    User,
    merge_generic_permissions,
    password_problem,
)
from gridlinks.accounts.groups_repository import GroupRepository
from gridlinks.accounts.groups_service import GroupService
from gridlinks.accounts.repository import CustomerRepository, TenantRepository, UserRepository
from gridlinks.accounts.schemas import (
    EMAIL_PATTERN,
    NAME_MAX,
    CustomerSave,
    TenantSave,
    UserSave,
)
from gridlinks.accounts.security import PasswordService, TokenPair, TokenService
from gridlinks.db.unit_of_work import UnitOfWork
from gridlinks.errors import (
    AuthenticationError,
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    TokenExpiredError,
)
from gridlinks.kit.clock import Clock
from gridlinks.kit.ids import new_id
from gridlinks.kit.pagination import PageRequest

# Called inside the unit of work that creates a tenant (e.g. to add its default device profile).
TenantCreatedHook = Callable[[UnitOfWork, uuid.UUID], Awaitable[object]]


def _check_generation(token_generation: int, user_generation: int) -> None:
    """A token of an older generation was revoked (sign-out, password change, disabled user).
    ThingsBoard answers an outdated token as an expired one (401, code 11): clients then try
    their refresh token, which is refused too, and sign in again."""
    if token_generation != user_generation:
        raise TokenExpiredError("Token has been revoked")


class AccountService:
    """Tenants, customers and users, and who a token belongs to."""

    def __init__(
        self,
        clock: Clock,
        passwords: PasswordService,
        tokens: TokenService,
        groups: GroupService,
        tenant_created_hooks: Sequence[TenantCreatedHook] = (),
    ) -> None:
        self._clock = clock
        self._passwords = passwords
        self._tokens = tokens
        self._groups = groups
        self._tenant_created_hooks = list(tenant_created_hooks)

    # --- sign-in -------------------------------------------------------------------------
    async def login(self, uow: UnitOfWork, email: str, password: str) -> TokenPair:
        users = UserRepository(uow.connection)
        user = await users.find_by_email(email.strip())
        password_hash = await users.password_hash(user.id) if user else None
        if user is None or not self._passwords.verify(password_hash, password):
            raise AuthenticationError("Invalid username or password")
        if not user.enabled:
            raise AuthenticationError("User account is not active")
        return self._tokens.issue_pair(user, await users.token_generation(user.id))

    async def refresh(self, uow: UnitOfWork, refresh_token: str) -> TokenPair:
        """A new pair for a refresh token of the user's current token generation."""
        claims = self._tokens.read(refresh_token, refresh=True)
        users = UserRepository(uow.connection)
        user = await users.get(claims.user_id)
        if user is None or not user.enabled:
            raise AuthenticationError("User account is not active")
        generation = await users.token_generation(user.id)
        _check_generation(claims.generation, generation)
        return self._tokens.issue_pair(user, generation)

    async def principal(self, uow: UnitOfWork, access_token: str) -> Principal:
        """The caller behind an access token, with the permissions of its groups. The token
        must be of the user's current generation (read in the same query as the user)."""
        claims = self._tokens.read(access_token)
        found = await UserRepository(uow.connection).get_for_principal(claims.user_id)
        if found is None or not found.user.enabled:
            raise AuthenticationError("User account is not active")
        _check_generation(claims.generation, found.token_generation)
        user = found.user
        permissions = {}
        if user.authority is Authority.CUSTOMER_USER:
            permissions = merge_generic_permissions(found.role_permissions)
        return Principal(
            user.id,
            user.email,
            user.authority,
            user.tenant_id,
            user.customer_id,
            permissions,
            customer_title=found.customer_title,
        )

    async def logout(self, uow: UnitOfWork, actor: Principal) -> None:
        """Sign the caller out everywhere: every access and refresh token it holds stops
        working (ThingsBoard's ``POST /api/auth/logout``)."""
        await UserRepository(uow.connection).revoke_tokens(actor.user_id)

    # --- tenants -------------------------------------------------------------------------
    async def save_tenant(self, uow: UnitOfWork, actor: Principal, data: TenantSave) -> Tenant:
        if not actor.is_sys_admin:
            raise PermissionDeniedError()
        repo = TenantRepository(uow.connection)
        fields = data.model_dump(exclude={"id"})
        if data.id is not None:
            tenant = await self.get_tenant(uow, actor, data.id.id)
            updated = replace(tenant, **fields)
            await repo.update(updated)
            return updated
        tenant = Tenant(id=new_id(), created_time=self._clock.now_ms(), **fields)
        await repo.add(tenant)
        await self._groups.create_built_in_roles(uow, tenant.id)
        for hook in self._tenant_created_hooks:
            await hook(uow, tenant.id)
        return tenant

    async def get_tenant(self, uow: UnitOfWork, actor: Principal, tenant_id: uuid.UUID) -> Tenant:
        """The system admin reads any tenant, a tenant admin its own; customer users none (as
        ThingsBoard: the tenant and its administrators are not the customers' business)."""
        if not (actor.is_sys_admin or (actor.is_tenant_admin and actor.tenant_id == tenant_id)):
            raise PermissionDeniedError()
        tenant = await TenantRepository(uow.connection).get(tenant_id)
        if tenant is None:
            raise NotFoundError()
        return tenant

    async def page_tenants(
        self, uow: UnitOfWork, actor: Principal, request: PageRequest
    ) -> tuple[list[Tenant], int]:
        if not actor.is_sys_admin:
            raise PermissionDeniedError()
        return await TenantRepository(uow.connection).page(request)

    async def delete_tenant(self, uow: UnitOfWork, actor: Principal, tenant_id: uuid.UUID) -> None:
        tenant = await self.get_tenant(uow, actor, tenant_id)
        if not actor.is_sys_admin:
            raise PermissionDeniedError()
        await TenantRepository(uow.connection).delete(tenant.id)

    # --- customers -----------------------------------------------------------------------
    async def save_customer(
        self, uow: UnitOfWork, actor: Principal, data: CustomerSave
    ) -> Customer:
        if not actor.is_tenant_admin or actor.tenant_id is None:
            raise PermissionDeniedError()
        repo = CustomerRepository(uow.connection)
        clash = await repo.find_by_title(actor.tenant_id, data.title)
        fields = data.model_dump(exclude={"id"})
        if data.id is not None:
            customer = await self.get_customer(uow, actor, data.id.id)
            if clash is not None and clash.id != customer.id:
                raise ConflictError("Customer with such title already exists!")
            updated = replace(customer, **fields)
            await repo.update(updated)
            return updated
        if clash is not None:
            raise ConflictError("Customer with such title already exists!")
        customer = Customer(
            id=new_id(), tenant_id=actor.tenant_id, created_time=self._clock.now_ms(), **fields
        )
        await repo.add(customer)
        await self._groups.create_built_in_groups(uow, customer)
        return customer

    async def get_customer(
        self, uow: UnitOfWork, actor: Principal, customer_id: uuid.UUID
    ) -> Customer:
        customer = await CustomerRepository(uow.connection).get(customer_id)
        if customer is None or customer.tenant_id != actor.tenant_id:
            raise NotFoundError()
        if not actor.sees_owner(customer.tenant_id, customer.id):
            raise PermissionDeniedError()
        return customer

    async def find_customer(self, uow: UnitOfWork, actor: Principal, title: str) -> Customer:
        # Tenant admins only (as ThingsBoard): for anyone else 403-or-404 would tell which
        # titles the tenant's other customers have.
        if not actor.is_tenant_admin or actor.tenant_id is None:
            raise PermissionDeniedError()
        customer = await CustomerRepository(uow.connection).find_by_title(actor.tenant_id, title)
        if customer is None:
            raise NotFoundError()
        return await self.get_customer(uow, actor, customer.id)

    async def page_customers(
        self, uow: UnitOfWork, actor: Principal, request: PageRequest
    ) -> tuple[list[Customer], int]:
        if not actor.is_tenant_admin or actor.tenant_id is None:
            raise PermissionDeniedError()
        return await CustomerRepository(uow.connection).page(actor.tenant_id, request)

    async def delete_customer(
        self, uow: UnitOfWork, actor: Principal, customer_id: uuid.UUID
    ) -> None:
        customer = await self.get_customer(uow, actor, customer_id)
        if not actor.is_tenant_admin:
            raise PermissionDeniedError()
        # Users, roles and devices follow by foreign key; groups have none to their owner.
        await GroupRepository(uow.connection).delete_owned(customer.id)
        await CustomerRepository(uow.connection).delete(customer.id)

    # --- users ---------------------------------------------------------------------------
    async def save_user(
        self, uow: UnitOfWork, actor: Principal, data: UserSave, group_ids: list[uuid.UUID]
    ) -> User:
        """Create or update a user; new users are disabled until activated."""
        authority = self._authority(data.authority)
        tenant_id, customer_id = await self._user_owner(uow, actor, authority, data)
        repo = UserRepository(uow.connection)
        email = data.email.strip().lower()
        clash = await repo.find_by_email(email)
        fields = {
            "email": email,
            "first_name": data.first_name,
            "last_name": data.last_name,
            "phone": data.phone,
            "additional_info": data.additional_info,
        }
        if data.id is not None:
            user = await self.get_user(uow, actor, data.id.id)
            if user.id != actor.user_id and not actor.may_manage(user, "WRITE"):
                raise PermissionDeniedError()
            if clash is not None and clash.id != user.id:
                raise ConflictError("User with email already exists!")
            if (user.authority, user.tenant_id, user.customer_id) != (
                authority,
                tenant_id,
                customer_id,
            ):
                raise InvalidArgumentError("A user's authority, tenant and customer cannot change")
            updated = replace(user, **fields)
            await repo.update(updated)
            return updated
        if clash is not None:
            raise ConflictError("User with email already exists!")
        user = User(
            id=new_id(),
            tenant_id=tenant_id,
            customer_id=customer_id,
            authority=authority,
            created_time=self._clock.now_ms(),
            **fields,
        )
        await repo.add(user)
        if customer_id is not None:
            await self._place_customer_user(uow, actor, user, group_ids)
        return user

    def _authority(self, text: str) -> Authority:
        try:
            return Authority(text)
        except ValueError:
            raise InvalidArgumentError(
                "authority must be SYS_ADMIN, TENANT_ADMIN or CUSTOMER_USER"
            ) from None

    async def _user_owner(
        self, uow: UnitOfWork, actor: Principal, authority: Authority, data: UserSave
    ) -> tuple[uuid.UUID | None, uuid.UUID | None]:
        if authority is Authority.SYS_ADMIN:
            if actor.is_sys_admin and data.id is not None and data.id.id == actor.user_id:
                return None, None  # a system admin edits its own profile
            raise PermissionDeniedError("System administrators are created with 'gridlinks init'")
        if authority is Authority.TENANT_ADMIN:
            tenant_id = data.tenant_id.id if data.tenant_id else actor.tenant_id
            if tenant_id is None:
                raise InvalidArgumentError("tenantId is required for a tenant administrator")
            if not (actor.is_sys_admin or (actor.is_tenant_admin and actor.tenant_id == tenant_id)):
                raise PermissionDeniedError()
            await self.get_tenant(uow, actor, tenant_id)
            return tenant_id, None
        if data.customer_id is None:
            raise InvalidArgumentError("customerId is required for a customer user")
        customer = await self.get_customer(uow, actor, data.customer_id.id)
        editing_self = data.id is not None and data.id.id == actor.user_id
        if not editing_self and not actor.allows("USER", "CREATE" if data.id is None else "WRITE"):
            raise PermissionDeniedError()
        return customer.tenant_id, customer.id

    async def _place_customer_user(
        self, uow: UnitOfWork, actor: Principal, user: User, group_ids: list[uuid.UUID]
    ) -> None:
        """Into the groups asked for, else into the customer's built-in *Customer Users*.
        Naming groups is a membership change: it needs write access to each group (else
        whoever may create users could create them straight into *Customer Administrators*)."""
        assert user.customer_id is not None
        if not group_ids:
            default = await self._groups.built_in_group(uow, user.customer_id, CUSTOMER_USERS)
            await GroupRepository(uow.connection).add_members(default.id, [user.id])
            return
        for group_id in group_ids:
            group = await self._groups.get_group(uow, actor, group_id, write=True)
            if group.type != "USER" or group.owner_id not in (user.customer_id, user.tenant_id):
                raise InvalidArgumentError("entityGroupId must be a user group of the user's owner")
            await GroupRepository(uow.connection).add_members(group.id, [user.id])

    async def create_sys_admin(self, uow: UnitOfWork, email: str, password: str) -> User:
        """The first system administrator (``gridlinks init`` / ``create-sysadmin``)."""
        if not re.fullmatch(EMAIL_PATTERN, email) or len(email) > NAME_MAX:
            raise InvalidArgumentError("The e-mail must look like name@example.com")
        repo = UserRepository(uow.connection)
        if await repo.find_by_email(email.lower()) is not None:
            raise ConflictError("User with email already exists!")
        user = User(new_id(), None, None, email.lower(), Authority.SYS_ADMIN, self._clock.now_ms())
        await repo.add(user)
        return await self.set_password(uow, user, password)

    async def make_customer_admin(self, uow: UnitOfWork, user: User) -> None:
        """Put a customer user into its customer's *Customer Administrators* group."""
        assert user.customer_id is not None
        group = await self._groups.built_in_group(uow, user.customer_id, CUSTOMER_ADMINISTRATORS)
        await GroupRepository(uow.connection).add_members(group.id, [user.id])

    async def get_user(self, uow: UnitOfWork, actor: Principal, user_id: uuid.UUID) -> User:
        user = await UserRepository(uow.connection).get(user_id)
        if user is None:
            raise NotFoundError()
        if user.id == actor.user_id:
            return user
        if actor.is_sys_admin:
            if user.authority is Authority.TENANT_ADMIN:
                return user
            raise PermissionDeniedError()
        if user.tenant_id is None or user.tenant_id != actor.tenant_id:
            raise NotFoundError()
        if not actor.sees_owner(user.tenant_id, user.customer_id) or not actor.allows(
            "USER", "READ"
        ):
            raise PermissionDeniedError()
        return user

    async def get_user_to_manage(
        self, uow: UnitOfWork, actor: Principal, user_id: uuid.UUID, operation: str = "WRITE"
    ) -> User:
        """A user the actor may not only read but manage (see ``Principal.may_manage``)."""
        user = await self.get_user(uow, actor, user_id)
        if not actor.may_manage(user, operation):
            raise PermissionDeniedError()
        return user

    async def page_users(
        self,
        uow: UnitOfWork,
        actor: Principal,
        request: PageRequest,
        *,
        customer_id: uuid.UUID | None = None,
        tenant_id: uuid.UUID | None = None,
    ) -> tuple[list[User], int]:
        repo = UserRepository(uow.connection)
        if tenant_id is not None:  # a tenant's admins, for the system admin
            await self.get_tenant(uow, actor, tenant_id)
            return await repo.page(request, tenant_id=tenant_id, authority=Authority.TENANT_ADMIN)
        if customer_id is not None:
            customer = await self.get_customer(uow, actor, customer_id)
            if not actor.allows("USER", "READ"):
                raise PermissionDeniedError()
            return await repo.page(request, tenant_id=customer.tenant_id, customer_id=customer.id)
        if not actor.is_tenant_admin or actor.tenant_id is None:
            raise PermissionDeniedError()
        return await repo.page(request, tenant_id=actor.tenant_id)

    async def delete_user(self, uow: UnitOfWork, actor: Principal, user_id: uuid.UUID) -> None:
        user = await self.get_user(uow, actor, user_id)
        if user.id == actor.user_id:
            raise InvalidArgumentError("You cannot delete yourself")
        if not actor.may_manage(user, "DELETE"):
            raise PermissionDeniedError()
        await GroupRepository(uow.connection).remove_entity_everywhere(user.id)
        await UserRepository(uow.connection).delete(user.id)

    # --- passwords -----------------------------------------------------------------------
    async def set_password(self, uow: UnitOfWork, user: User, password: str) -> User:
        """Set a password and enable the user (used by ``init`` and the demo data); tokens
        issued under the previous password stop working."""
        problem = password_problem(password)
        if problem:
            raise InvalidArgumentError(problem)
        repo = UserRepository(uow.connection)
        await repo.set_password_hash(user.id, self._passwords.hash(password))
        await repo.set_enabled(user.id, True)
        await repo.revoke_tokens(user.id)
        return replace(user, enabled=True)

    async def password_is(self, uow: UnitOfWork, user: User, password: str) -> bool:
        """Whether ``password`` is the user's password (``gridlinks demo --show`` prints a
        demo password only while it still is one)."""
        password_hash = await UserRepository(uow.connection).password_hash(user.id)
        return self._passwords.verify(password_hash, password)

    async def set_credentials_enabled(
        self, uow: UnitOfWork, actor: Principal, user_id: uuid.UUID, enabled: bool
    ) -> None:
        """Lock a user out (every token it holds stops working at once) or let it back in.
        Only an activated user (one with a password) can be enabled: a pending user is
        enabled by its activation link."""
        user = await self.get_user_to_manage(uow, actor, user_id)
        repo = UserRepository(uow.connection)
        if enabled and not user.enabled and await repo.password_hash(user.id) is None:
            raise InvalidArgumentError("User is not activated yet: use its activation link")
        await repo.set_enabled(user.id, enabled)
        if not enabled:
            await repo.revoke_tokens(user.id)
