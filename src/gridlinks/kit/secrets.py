"""Random tokens, keyed hashes and derived keys. Never logs or returns what it hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

_TOKEN_ALPHABET = string.ascii_letters + string.digits


def random_token(length: int = 20) -> str:
    """A random token from letters and digits (ThingsBoard access tokens are 20 such)."""
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(length))


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
