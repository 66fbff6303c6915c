"""Device access tokens at rest: looked up by a keyed hash, kept sealed (AES-GCM).

A database dump shows neither: the hash needs the server secret to test a guess, the sealed
token needs it to open. The API still reads a token back (makers flash it into firmware).
"""

from __future__ import annotations

import uuid

from gridlinks.kit.secrets import SecretBox, keyed_hash

LOOKUP_PURPOSE = "device-token-lookup"
SEAL_PURPOSE = "device-token-seal"


class AccessTokenSeal:
    """Keyed lookup hashes and sealed copies of access tokens."""

    def __init__(self, lookup_key: bytes, seal_key: bytes) -> None:
        self._lookup_key = lookup_key
        self._box = SecretBox(seal_key)

    def lookup_id(self, token: str) -> str:
        """What ``device_credentials.credentials_id`` holds for an access token: unique, indexed."""
        return keyed_hash(self._lookup_key, token)

    def seal(self, token: str, credentials_id: uuid.UUID, device_id: uuid.UUID) -> bytes:
        return self._box.seal(token, _associated(credentials_id, device_id))

    def open(self, sealed: bytes, credentials_id: uuid.UUID, device_id: uuid.UUID) -> str:
        return self._box.open(sealed, _associated(credentials_id, device_id))


def _associated(credentials_id: uuid.UUID, device_id: uuid.UUID) -> bytes:
    # Binds a sealed token to its row and device: copied elsewhere it does not open.
    return f"gridlinks:device-token:{credentials_id}:{device_id}".encode()
