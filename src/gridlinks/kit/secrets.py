"""Random tokens, keyed hashes, derived keys and sealed (encrypted) values. Never logs or
returns what it hashes or seals."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gridlinks.errors import GridLinksError

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


class UnsealError(GridLinksError):
    """A sealed value does not open: the server secret changed, or the bytes were altered or
    copied to another row. A server fault (500), never the client's."""

    default_message = "A stored secret cannot be decrypted (was the server secret changed?)"


class SecretBox:
    """AES-256-GCM under one key, a random 96-bit nonce per value.

    ``seal`` gives ``version || nonce || ciphertext+tag``. The ``associated`` data (say, the id
    of the row that holds the value) is authenticated but not stored: a sealed value copied to
    another row does not open there."""

    VERSION = b"\x01"
    NONCE_BYTES = 12

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plaintext: str, associated: bytes) -> bytes:
        nonce = secrets.token_bytes(self.NONCE_BYTES)
        return self.VERSION + nonce + self._aead.encrypt(nonce, plaintext.encode(), associated)

    def open(self, sealed: bytes, associated: bytes) -> str:
        version, nonce = sealed[:1], sealed[1 : 1 + self.NONCE_BYTES]
        if version != self.VERSION:
            raise UnsealError()
        try:
            return self._aead.decrypt(nonce, sealed[1 + self.NONCE_BYTES :], associated).decode()
        except (InvalidTag, ValueError):
            raise UnsealError() from None
