"""Claiming rules (SPEC 3), pure: no database, no clock, no I/O.

The claim decision is ``decide_claim(windows, presented_secret_hash, device_customer_id,
now_ms, locked_until_ms)``: the service computes the HMAC of the presented key, locks the device,
reads its windows and the caller's customer's lock-out on it, and applies the returned
``ClaimDecision`` in the same transaction (counting a failure for the caller's customer and
locking it out under ``LockoutPolicy`` when the decision says so).

Brute force is held back per *guesser*, not per device: failures are counted per (device,
customer of the caller), so one customer's wrong keys never lock another customer - or the
buyer holding the device - out of it.
"""

from __future__ import annotations

import hmac
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

CLAIMING_DATA = "claimingData"
CLAIMING_ALLOWED = "claimingAllowed"
MASKED_SECRET = "******"
MAX_SECRET_LENGTH = 1024


class WindowSource(StrEnum):
    DEVICE = "device"
    SERVER = "server"


class ClaimResponse(StrEnum):
    """What the caller sees (ThingsBoard's ClaimResponse), plus GridLinks' 429."""

    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    CLAIMED = "CLAIMED"
    LOCKED = "LOCKED"  # 429 with Retry-After
    DENIED = "DENIED"  # 403: no CLAIM_DEVICES permission
    NOT_FOUND = "NOT_FOUND"  # 404: no device of that name in the caller's tenant


class ClaimReason(StrEnum):
    """The real reason of an outcome: audited, never shown to the caller."""

    CLAIMED = "claimed"
    WRONG_KEY = "wrong key"
    EXPIRED = "expired"
    NO_WINDOW = "no window"
    ALREADY_CLAIMED = "already claimed"
    LOCKED = "locked"
    RATE_LIMITED = "rate limited"
    NOT_ALLOWED = "not allowed"
    UNKNOWN_DEVICE = "unknown device"


@dataclass(frozen=True)
class ClaimWindow:
    device_id: uuid.UUID
    source: WindowSource
    secret_hash: str
    expires_at_ms: int
    created_time: int


@dataclass(frozen=True)
class ClaimLockout:
    """One customer's failed claims of one device: how many in a row, and until when (epoch
    ms) that customer's claims of the device are refused with 429."""

    failed_attempts: int = 0
    locked_until_ms: int = 0


@dataclass(frozen=True)
class LockoutPolicy:
    """After ``after_failures`` consecutive failures a customer is locked out of a device for
    ``initial_seconds``, doubling with each further failure, at most ``max_seconds``."""

    after_failures: int = 5
    initial_seconds: int = 60
    max_seconds: int = 3600

    def lock_seconds(self, failed_attempts: int) -> int:
        """How long to lock after the ``failed_attempts``-th consecutive failure (0: no lock)."""
        extra = failed_attempts - self.after_failures
        if extra < 0:
            return 0
        # Cap the exponent only where the maximum applies anyway (keeps the number small).
        seconds: int = self.initial_seconds * 2 ** min(extra, self.max_seconds.bit_length())
        return min(seconds, self.max_seconds)


@dataclass(frozen=True)
class ClaimDecision:
    """What to answer and what to change. ``window`` is the window the decision was made on."""

    response: ClaimResponse
    reason: ClaimReason
    window: ClaimWindow | None = None
    assign: bool = False  # set the device's owner to the caller's customer
    consume_windows: bool = False  # delete both windows, lock-outs, claimingAllowed/-Data
    count_failure: bool = False  # one more consecutive failure of the caller's customer
    retry_after_seconds: int = 0


def effective_window(windows: Iterable[ClaimWindow], now_ms: int) -> ClaimWindow | None:
    """The window a claim is decided on (SPEC 3.1.4): the device window while it is open,
    else the server window; an expired device window only decides when there is no server
    window (so that the answer is "expired"). An expired announcement must not hide the
    tenant's valid ``claimingData`` until housekeeping purges it."""
    by_source = {w.source: w for w in windows}
    device = by_source.get(WindowSource.DEVICE)
    server = by_source.get(WindowSource.SERVER)
    if device is not None and (now_ms <= device.expires_at_ms or server is None):
        return device
    return server


def secrets_equal(stored_hash: str, presented_hash: str) -> bool:
    """Constant-time comparison of two keyed hashes."""
    return hmac.compare_digest(stored_hash.encode(), presented_hash.encode())


def decide_claim(
    windows: Iterable[ClaimWindow],
    presented_secret_hash: str,
    device_customer_id: uuid.UUID | None,
    now_ms: int,
    locked_until_ms: int = 0,
) -> ClaimDecision:
    """SPEC 3.2: the table, after the lock-out of the caller's customer under brute force.
    ``locked_until_ms`` is when that lock-out ends (0: none). A locked-out caller learns
    nothing, not even whether there is a window or an owner."""
    window = effective_window(windows, now_ms)
    if locked_until_ms > now_ms:
        retry = -(-(locked_until_ms - now_ms) // 1000)
        return ClaimDecision(
            ClaimResponse.LOCKED, ClaimReason.LOCKED, window, retry_after_seconds=max(retry, 1)
        )
    unassigned = device_customer_id is None
    if window is None:
        if unassigned:
            return ClaimDecision(ClaimResponse.FAILURE, ClaimReason.NO_WINDOW)
        return ClaimDecision(ClaimResponse.CLAIMED, ClaimReason.ALREADY_CLAIMED)
    if now_ms > window.expires_at_ms:
        return ClaimDecision(ClaimResponse.FAILURE, ClaimReason.EXPIRED, window, count_failure=True)
    if not secrets_equal(window.secret_hash, presented_secret_hash):
        return ClaimDecision(
            ClaimResponse.FAILURE, ClaimReason.WRONG_KEY, window, count_failure=True
        )
    if unassigned:
        return ClaimDecision(
            ClaimResponse.SUCCESS, ClaimReason.CLAIMED, window, assign=True, consume_windows=True
        )
    return ClaimDecision(
        ClaimResponse.CLAIMED, ClaimReason.ALREADY_CLAIMED, window, consume_windows=True
    )


# --- opening windows -------------------------------------------------------------------------
def window_expiry_ms(received_ms: int, duration_ms: int, default_duration_ms: int) -> int:
    """A device window expires at receive time + duration; <= 0 means the default."""
    return received_ms + (duration_ms if duration_ms > 0 else default_duration_ms)


def announcement_refusal(
    device_customer_id: uuid.UUID | None, allow_by_default: bool, claiming_allowed: Any
) -> ClaimReason | None:
    """Why a device may not open a window now (SPEC 3.1.3), or ``None`` when it may.
    Only the boolean ``true`` counts as ``claimingAllowed``; the string ``"true"`` does not."""
    if device_customer_id is not None:
        return ClaimReason.ALREADY_CLAIMED
    if not allow_by_default and claiming_allowed is not True:
        return ClaimReason.NOT_ALLOWED
    return None


class ClaimDataError(ValueError):
    """A claim payload or ``claimingData`` value is malformed. The message names fields only."""


@dataclass(frozen=True)
class Announcement:
    secret_key: str
    duration_ms: int


def parse_announcement(payload: Any) -> Announcement:
    """A device's ``{"secretKey", "durationMs"}`` (ThingsBoard's defaults: ``""`` and 0).

    ``payload`` is parsed JSON, or ``None`` for an empty body. Non-string primitive keys are
    taken as their text (``123`` -> ``"123"``) and numeric strings as durations, as
    ThingsBoard does; unknown fields are ignored."""
    if payload is None:
        return Announcement("", 0)
    if not isinstance(payload, dict):
        raise ClaimDataError('A claim must be a JSON object {"secretKey": ..., "durationMs": ...}')
    return Announcement(
        secret_text(payload.get("secretKey")), _integer(payload.get("durationMs"), "durationMs")
    )


def secret_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str | int | float):
        text = str(value)
    else:
        raise ClaimDataError("secretKey must be a string")
    if len(text) > MAX_SECRET_LENGTH:
        raise ClaimDataError(f"secretKey must be at most {MAX_SECRET_LENGTH} characters")
    return text


_INTEGER_TEXT = re.compile(r"-?[0-9]{1,19}")


def _integer(value: Any, name: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ClaimDataError(f"{name} must be a number of milliseconds")
    if isinstance(value, int):
        result = value
    elif isinstance(value, float) and value.is_integer():
        result = int(value)
    elif isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
        result = int(value.strip())
    else:
        raise ClaimDataError(f"{name} must be a number of milliseconds")
    if abs(result) > 2**62:
        raise ClaimDataError(f"{name} is out of range")
    return result


def parse_gateway_claims(payload: Any) -> dict[str, Any]:
    """A gateway's ``{"<device name>": {"secretKey", "durationMs"}, ...}``: each device's
    announcement payload by name. Entries that are not objects are skipped (as ThingsBoard
    does); a payload with no valid entry is refused."""
    if not isinstance(payload, dict):
        raise ClaimDataError('A gateway claim must be a JSON object {"<device name>": {...}}')
    entries = {
        name: value
        for name, value in payload.items()
        if isinstance(value, dict) and name.strip() and len(name) <= 255
    }
    if not entries:
        raise ClaimDataError("A gateway claim must name at least one device with an object")
    return entries


@dataclass(frozen=True)
class ServerClaimData:
    secret_key: str
    expiration_time_ms: int


def parse_claiming_data(value: Any) -> ServerClaimData:
    """The ``claimingData`` attribute: ``{"secretKey": s, "expirationTime": epoch_ms}`` as a
    JSON object or a string holding one. Unknown fields are refused (a misspelt ``secretkey``
    would otherwise open a window with an empty key that anyone could claim)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ClaimDataError(_CLAIMING_DATA_SHAPE) from None
    if not isinstance(value, dict):
        raise ClaimDataError(_CLAIMING_DATA_SHAPE)
    unknown = sorted(str(k) for k in value if k not in ("secretKey", "expirationTime"))
    if unknown:
        raise ClaimDataError(
            f"claimingData has unknown fields ({', '.join(unknown)[:200]}); "
            "use only secretKey and expirationTime"
        )
    if "expirationTime" not in value:
        raise ClaimDataError("claimingData.expirationTime is required (epoch milliseconds)")
    secret = value.get("secretKey")
    if secret is not None and not isinstance(secret, str):
        raise ClaimDataError("claimingData.secretKey must be a string")
    if secret == MASKED_SECRET:
        # A script read the attribute back and wrote it again: that would set the key "******".
        raise ClaimDataError(
            "claimingData.secretKey is the masked value read back; write the real secret key"
        )
    expiration = _integer(value["expirationTime"], "claimingData.expirationTime")
    return ServerClaimData(secret_text(secret), expiration)


_CLAIMING_DATA_SHAPE = (
    'claimingData must be a JSON object {"secretKey": "...", "expirationTime": <epoch ms>} '
    "or a string holding one"
)


def masked_claiming_data(data: ServerClaimData) -> dict[str, Any]:
    """What reading ``claimingData`` back shows: the expiry, never the key."""
    return {
        "secretKey": MASKED_SECRET if data.secret_key else "",
        "expirationTime": data.expiration_time_ms,
    }
