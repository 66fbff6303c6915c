"""Random tokens, keyed hashes and derived keys. Never logs or returns what it hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

_TOKEN_ALPHABET = string.ascii_letters + string.digits
# Crockford base32: no I, L, O or U, so a code read aloud or off a label is not misread.
CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def random_token(length: int = 20) -> str:
    """A random token from letters and digits (ThingsBoard access tokens are 20 such)."""
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(length))


def claim_code(groups: int = 4, group_length: int = 4) -> str:
    """A claim code such as ``7KQ2-M9XD-4RTB-0HWE``: 16 Crockford base32 characters are
    80 random bits (the SPEC asks for at least 64)."""
    return "-".join(
        "".join(secrets.choice(CROCKFORD_ALPHABET) for _ in range(group_length))
        for _ in range(groups)
    )


def random_urlsafe(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def derive_key(server_secret: str, purpose: str) -> bytes:
    """A key for one purpose (``jwt``, ``claim-secret``...), derived from the server secret."""
    return hmac.new(
        server_secret.encode(), f"gridlinks:{purpose}".encode(), hashlib.sha256
    ).digest()


def keyed_hash(key: bytes, value: str) -> str:
    """HMAC-SHA256 of ``value`` as hex: what the database stores instead of a secret."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
