"""Activation links and password changes."""

from __future__ import annotations

import uuid
from dataclasses import replace

from gridlinks.accounts.domain import Principal, password_problem
from gridlinks.accounts.repository import UserRepository
from gridlinks.accounts.security import PasswordService, TokenPair, TokenService
from gridlinks.accounts.service import AccountService
from gridlinks.db.unit_of_work import UnitOfWork
from gridlinks.errors import InvalidArgumentError, NotFoundError
from gridlinks.kit.clock import Clock
from gridlinks.kit.secrets import keyed_hash, random_urlsafe


def _check_password(password: str) -> None:
    problem = password_problem(password)
    if problem:
        raise InvalidArgumentError(problem)


class ActivationService:
    """New users set their password through a one-time link; signed-in users change theirs.
    Activation tokens are stored only as keyed hashes."""

    def __init__(
        self,
        clock: Clock,
        passwords: PasswordService,
        tokens: TokenService,
        accounts: AccountService,
        activation_key: bytes,
        activation_lifetime_seconds: int,
        public_url: str,
    ) -> None:
        self._clock = clock
        self._passwords = passwords
        self._tokens = tokens
        self._accounts = accounts
        self._activation_key = activation_key
        self._activation_ms = activation_lifetime_seconds * 1000
        self._public_url = public_url

    async def activation_link(self, uow: UnitOfWork, actor: Principal, user_id: uuid.UUID) -> str:
        """A fresh link (the previous one stops working); only its hash is stored. Whoever holds
        the link chooses the user's password, so only those who may manage the user get it."""
        user = await self._accounts.get_user_to_manage(uow, actor, user_id)
        if user.enabled:
            raise InvalidArgumentError("User is already activated")
        token = random_urlsafe(24)
        expiry = self._clock.now_ms() + self._activation_ms
        await UserRepository(uow.connection).set_activation(
            user.id, keyed_hash(self._activation_key, token), expiry
        )
        return f"{self._public_url}/api/noauth/activate?activateToken={token}"

    async def activate(self, uow: UnitOfWork, token: str, password: str) -> TokenPair:
        repo = UserRepository(uow.connection)
        found = await repo.find_by_activation(keyed_hash(self._activation_key, token))
        if found is None or found[1] < self._clock.now_ms():
            raise NotFoundError("Invalid or expired activation token")
        user, _expiry = found
        _check_password(password)
        await repo.set_password_hash(user.id, self._passwords.hash(password))
        await repo.set_activation(user.id, None, None)
        await repo.set_enabled(user.id, True)
        # Tokens from before (a re-activated, previously disabled user) stay dead.
        generation = await repo.revoke_tokens(user.id)
        return self._tokens.issue_pair(replace(user, enabled=True), generation)

    async def change_password(
        self, uow: UnitOfWork, actor: Principal, current: str, new: str
    ) -> TokenPair:
        """Every token issued so far stops working; the caller goes on with the pair answered
        (as ThingsBoard does)."""
        repo = UserRepository(uow.connection)
        if not self._passwords.verify(await repo.password_hash(actor.user_id), current):
            raise InvalidArgumentError("Current password doesn't match!")
        _check_password(new)
        await repo.set_password_hash(actor.user_id, self._passwords.hash(new))
        generation = await repo.revoke_tokens(actor.user_id)
        user = await repo.get(actor.user_id)
        assert user is not None
        return self._tokens.issue_pair(user, generation)
