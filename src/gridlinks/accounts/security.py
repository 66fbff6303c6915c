"""Password hashing (Argon2) and JWTs (HS256 under a key derived from the server secret)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gridlinks.accounts.domain import Authority, User
from gridlinks.errors import AuthenticationError, TokenExpiredError
from gridlinks.kit.clock import Clock

ISSUER = "gridlinks"
REFRESH_SCOPE = "REFRESH_TOKEN"
# The user's token generation when the token was issued (absent in tokens from before
# revocation existed: those count as generation 0).
GENERATION_CLAIM = "gen"


class PasswordService:
    """Argon2id hashes; verification that never raises for a wrong or corrupt hash."""

    def __init__(self, time_cost: int = 3, memory_kib: int = 65536) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        self._stand_in_hash: str | None = None

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Without a hash (unknown e-mail, user not activated) a stand-in hash is checked, so
        the answer takes as long and does not tell which e-mails exist."""
        if not password_hash:
            self._check(self._stand_in(), password)
            return False
        return self._check(password_hash, password)

    def _check(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _stand_in(self) -> str:
        if self._stand_in_hash is None:
            self._stand_in_hash = self._hasher.hash(secrets.token_urlsafe(16))
        return self._stand_in_hash


@dataclass(frozen=True)
class TokenPair:
    token: str
    refresh_token: str

    def to_json(self) -> dict[str, Any]:
        return {"token": self.token, "refreshToken": self.refresh_token}


@dataclass(frozen=True)
class TokenClaims:
    user_id: uuid.UUID
    scope: str
    generation: int = 0


class TokenService:
    """Issues and checks access and refresh tokens (ThingsBoard-shaped claims)."""

    def __init__(
        self,
        signing_key: bytes,
        clock: Clock,
        access_lifetime_seconds: int,
        refresh_lifetime_seconds: int,
    ) -> None:
        self._key = signing_key
        self._clock = clock
        self._access_seconds = access_lifetime_seconds
        self._refresh_seconds = refresh_lifetime_seconds

    def issue_pair(self, user: User, generation: int) -> TokenPair:
        """An access and a refresh token of ``user``'s current token ``generation``."""
        now_s = self._clock.now_ms() // 1000
        base: dict[str, Any] = {
            "sub": user.email,
            "userId": str(user.id),
            "iss": ISSUER,
            "iat": now_s,
            "jti": uuid.uuid4().hex,
            GENERATION_CLAIM: generation,
        }
        access = {
            **base,
            "scopes": [user.authority.value],
            "enabled": user.enabled,
            "isPublic": False,
            "tenantId": str(user.tenant_id) if user.tenant_id else None,
            "customerId": str(user.customer_id) if user.customer_id else None,
            "exp": now_s + self._access_seconds,
        }
        refresh = {**base, "scopes": [REFRESH_SCOPE], "exp": now_s + self._refresh_seconds}
        return TokenPair(self._encode(access), self._encode(refresh))

    def read(self, token: str, *, refresh: bool = False) -> TokenClaims:
        """Check signature, expiry and scope; raise the matching authentication error."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                issuer=ISSUER,
                # Time is checked below against our clock, not PyJWT's wall clock: a token
                # issued by a node whose clock runs a little ahead is not "issued in the future".
                options={
                    "require": ["exp", "userId", "scopes"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError:
            raise AuthenticationError("Invalid JWT token") from None
        if int(claims["exp"]) <= self._clock.now_ms() // 1000:
            raise TokenExpiredError()
        scopes = claims.get("scopes") or []
        is_refresh = scopes == [REFRESH_SCOPE]
        if (
            is_refresh != refresh
            or not scopes
            or (not refresh and scopes[0] not in Authority.__members__)
        ):
            raise AuthenticationError("Invalid JWT token")
        try:
            user_id = uuid.UUID(str(claims["userId"]))
        except ValueError:
            raise AuthenticationError("Invalid JWT token") from None
        generation = claims.get(GENERATION_CLAIM, 0)
        if type(generation) is not int:
            raise AuthenticationError("Invalid JWT token")
        return TokenClaims(user_id=user_id, scope=str(scopes[0]), generation=generation)

    def _encode(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._key, algorithm="HS256")
