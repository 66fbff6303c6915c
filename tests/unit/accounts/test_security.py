"""Tokens and passwords: ``TokenService`` with a clock the tests move, ``PasswordService``."""

from __future__ import annotations

import uuid

import jwt
import pytest

from gridlinks.accounts.domain import Authority, User
from gridlinks.accounts.security import PasswordService, TokenService
from gridlinks.errors import AuthenticationError, TokenExpiredError
from gridlinks.kit.clock import FixedClock

KEY = b"k" * 32
ACCESS_SECONDS, REFRESH_SECONDS = 60, 3600
# Far from the wall clock on purpose: the service must judge time by its own clock only.
NOW_MS = 2_500_000_000_000


def create_user(authority: Authority = Authority.TENANT_ADMIN) -> User:
    return User(uuid.uuid4(), uuid.uuid4(), None, "a@x.test", authority, 0, enabled=True)


def create_tokens(clock: FixedClock, key: bytes = KEY) -> TokenService:
    return TokenService(key, clock, ACCESS_SECONDS, REFRESH_SECONDS)


def test_issued_access_token_is_read_back_as_its_user_and_authority() -> None:
    tokens, user = create_tokens(FixedClock(NOW_MS)), create_user()
    claims = tokens.read(tokens.issue_pair(user, 0).token)
    assert (claims.user_id, claims.scope) == (user.id, "TENANT_ADMIN")


def test_tokens_carry_integer_expiry_from_the_services_clock() -> None:
    pair = create_tokens(FixedClock(NOW_MS)).issue_pair(create_user(), 0)
    access = jwt.decode(pair.token, options={"verify_signature": False})
    refresh = jwt.decode(pair.refresh_token, options={"verify_signature": False})
    assert access["exp"] == NOW_MS // 1000 + ACCESS_SECONDS
    assert refresh["exp"] == NOW_MS // 1000 + REFRESH_SECONDS
    assert isinstance(access["exp"], int) and refresh["scopes"] == ["REFRESH_TOKEN"]


def test_access_token_is_valid_until_its_last_second() -> None:
    clock = FixedClock(NOW_MS)
    tokens = create_tokens(clock)
    token = tokens.issue_pair(create_user(), 0).token
    clock.advance(ACCESS_SECONDS * 1000 - 1)
    tokens.read(token)
    clock.advance(1)
    with pytest.raises(TokenExpiredError):
        tokens.read(token)


def test_expired_refresh_token_is_reported_as_expired() -> None:
    clock = FixedClock(NOW_MS)
    tokens = create_tokens(clock)
    refresh = tokens.issue_pair(create_user(), 0).refresh_token
    clock.advance(REFRESH_SECONDS * 1000)
    with pytest.raises(TokenExpiredError):
        tokens.read(refresh, refresh=True)


def test_token_issued_by_a_clock_running_ahead_is_accepted() -> None:
    issuer = create_tokens(FixedClock(NOW_MS + 5_000))
    token = issuer.issue_pair(create_user(), 0).token
    assert create_tokens(FixedClock(NOW_MS)).read(token).scope == "TENANT_ADMIN"


def test_refresh_token_is_not_an_access_token() -> None:
    tokens = create_tokens(FixedClock(NOW_MS))
    pair = tokens.issue_pair(create_user(), 0)
    with pytest.raises(AuthenticationError) as refused:
        tokens.read(pair.refresh_token)
    assert not isinstance(refused.value, TokenExpiredError)
    assert tokens.read(pair.refresh_token, refresh=True).scope == "REFRESH_TOKEN"


def test_access_token_is_not_a_refresh_token() -> None:
    tokens = create_tokens(FixedClock(NOW_MS))
    with pytest.raises(AuthenticationError):
        tokens.read(tokens.issue_pair(create_user(), 0).token, refresh=True)


def test_token_signed_with_another_key_is_refused_even_when_expired() -> None:
    clock = FixedClock(NOW_MS)
    foreign = create_tokens(clock, b"o" * 32).issue_pair(create_user(), 0).token
    clock.advance(REFRESH_SECONDS * 10_000)
    with pytest.raises(AuthenticationError) as refused:
        create_tokens(clock).read(foreign)
    assert not isinstance(refused.value, TokenExpiredError)  # no hint that it was ever valid


def test_unsigned_token_is_refused() -> None:
    tokens = create_tokens(FixedClock(NOW_MS))
    claims = jwt.decode(
        tokens.issue_pair(create_user(), 0).token, options={"verify_signature": False}
    )
    unsigned = jwt.encode(claims, None, algorithm="none")
    with pytest.raises(AuthenticationError):
        tokens.read(unsigned)


def test_token_without_the_gridlinks_claims_is_refused() -> None:
    tokens = create_tokens(FixedClock(NOW_MS))
    bare = jwt.encode({"exp": NOW_MS // 1000 + 60, "iss": "gridlinks"}, KEY, algorithm="HS256")
    with pytest.raises(AuthenticationError):
        tokens.read(bare)


def test_password_verifies_against_its_own_hash_only() -> None:
    passwords = PasswordService()
    hashed = passwords.hash("correct horse")
    assert passwords.verify(hashed, "correct horse")
    assert not passwords.verify(hashed, "wrong horse")


def test_missing_or_corrupt_hash_verifies_nothing() -> None:
    passwords = PasswordService()
    assert not passwords.verify(None, "anything")
    assert not passwords.verify("", "anything")
    assert not passwords.verify("$argon2id$corrupt", "anything")
