"""Use cases of claiming: open windows, claim, release (SPEC 3).

Every use case runs in the caller's unit of work; the caller commits, also after a refused
claim (so the failure count and the audit entry are kept), and events reach the bus only after
that commit.

Brute force meets three limits: per user and per source address, a sliding-window rate of
attempts (the ``RateLimiter``); per (device, customer of the caller), a lock-out after
consecutive failures, kept in the database and read and updated only while the device row is
locked, so concurrent guesses are evaluated one after the other and never more than the
lock-out allows. No limit is device-wide: a guesser cannot lock the buyer out.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from gridlinks.accounts.domain import Principal
from gridlinks.accounts.repository import CustomerRepository
from gridlinks.attributes.domain import SERVER_SCOPE
from gridlinks.attributes.repository import AttributeRepository
from gridlinks.audit.domain import (
    ASSIGNED_TO_CUSTOMER,
    ATTRIBUTES_UPDATED,
    UNASSIGNED_FROM_CUSTOMER,
)
from gridlinks.audit.service import AuditAction, AuditLog
from gridlinks.bus.base import Bus, Event
from gridlinks.claiming.domain import (
    CLAIMING_ALLOWED,
    CLAIMING_DATA,
    ClaimDataError,
    ClaimDecision,
    ClaimLockout,
    ClaimReason,
    ClaimResponse,
    ClaimWindow,
    LockoutPolicy,
    WindowSource,
    announcement_refusal,
    decide_claim,
    parse_announcement,
    parse_gateway_claims,
    window_expiry_ms,
)
from gridlinks.claiming.repository import (
    ClaimLockoutRepository,
    ClaimWindowRepository,
    IdempotencyRepository,
)
from gridlinks.db.unit_of_work import UnitOfWork
from gridlinks.devices.domain import Device
from gridlinks.devices.repository import DeviceRepository
from gridlinks.devices.schemas import device_json
from gridlinks.devices.service import publish_access_changed
from gridlinks.errors import (
    BadRequestError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from gridlinks.kit.clock import Clock
from gridlinks.kit.metrics import Metrics, outcome_label
from gridlinks.kit.secrets import keyed_hash
from gridlinks.limits.base import RateLimiter

log = logging.getLogger("gridlinks.claiming")

DEVICE_CLAIMED = "DeviceClaimed"
DEVICE_RELEASED = "DeviceReleased"
MAX_IDEMPOTENCY_KEY_LENGTH = 255


@dataclass(frozen=True)
class ClaimPolicy:
    """The claiming settings (``GRIDLINKS_CLAIM_*``)."""

    allow_by_default: bool = True
    default_duration_ms: int = 86_400_000
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    user_attempts_per_minute: int = 30
    address_attempts_per_minute: int = 120  # 0: no per-address limit
    idempotency_ttl_seconds: int = 86_400


@dataclass(frozen=True)
class ClaimResult:
    """The answer to a claim: ``body`` is the 200 JSON on success."""

    response: ClaimResponse
    body: dict[str, Any] | None = None
    retry_after_seconds: int = 0


class ClaimingService:
    """Claim windows, claims and releases of a tenant's devices."""

    def __init__(
        self,
        clock: Clock,
        secret_hash_key: bytes,
        policy: ClaimPolicy,
        audit: AuditLog,
        limiter: RateLimiter,
        bus: Bus,
        metrics: Metrics | None = None,
    ) -> None:
        self._clock = clock
        self._key = secret_hash_key
        self._policy = policy
        self._audit = audit
        self._limiter = limiter
        self._bus = bus
        self._claims = (metrics or Metrics()).claims

    def secret_hash(self, secret_key: str) -> str:
        return keyed_hash(self._key, secret_key)

    # --- opening windows ----------------------------------------------------------------
    async def announce(self, uow: UnitOfWork, device: Device, payload: Any) -> bool:
        """A device announces ``{"secretKey", "durationMs"}`` (HTTP, MQTT, gateway).

        Returns whether a window was opened. A refusal (device assigned, or claiming not
        allowed) is not an error for the device - ThingsBoard acknowledges those too - but it
        is audited."""
        try:
            announcement = parse_announcement(payload)
        except ClaimDataError as exc:
            raise BadRequestError(str(exc)) from None
        refusal = announcement_refusal(
            device.customer_id,
            self._policy.allow_by_default,
            await self._claiming_allowed(uow, device)
            if not self._policy.allow_by_default
            else None,
        )
        if refusal is not None:
            log.debug("claim window of device %s refused: %s", device.id, refusal.value)
            await self._audit_announcement(uow, device, refusal)
            return False
        now = self._clock.now_ms()
        expiry = window_expiry_ms(now, announcement.duration_ms, self._policy.default_duration_ms)
        window = ClaimWindow(
            device.id, WindowSource.DEVICE, self.secret_hash(announcement.secret_key), expiry, now
        )
        await ClaimWindowRepository(uow.connection).put(window)
        # Only the device itself announces: whoever holds it gets a fresh start, and every
        # customer's failures on it are forgotten (guessing a >= 64-bit key stays hopeless).
        await ClaimLockoutRepository(uow.connection).clear(device.id)
        log.debug("claim window of device %s opened until %d", device.id, expiry)
        return True

    async def announce_from_gateway(
        self,
        uow: UnitOfWork,
        payload: Any,
        resolve_device: Callable[[str], Awaitable[Device]],
    ) -> dict[str, bool]:
        """A gateway announces windows for its devices (``v1/gateway/claim``): each named
        device is resolved (found or created by the gateway transport) and announced.
        Returns, by device name, whether a window was opened."""
        try:
            entries = parse_gateway_claims(payload)
        except ClaimDataError as exc:
            raise BadRequestError(str(exc)) from None
        opened = {}
        for name, entry in entries.items():
            opened[name] = await self.announce(uow, await resolve_device(name), entry)
        return opened

    async def _claiming_allowed(self, uow: UnitOfWork, device: Device) -> Any:
        values = await AttributeRepository(uow.connection).read(
            device.id, [SERVER_SCOPE], [CLAIMING_ALLOWED]
        )
        return values[0].value if values else None

    async def _audit_announcement(
        self, uow: UnitOfWork, device: Device, reason: ClaimReason
    ) -> None:
        action = AuditAction(
            tenant_id=device.tenant_id,
            customer_id=device.customer_id,
            action_type=ATTRIBUTES_UPDATED,
            entity_type="DEVICE",
            entity_id=device.id,
            entity_name=device.name,
            success=False,
            failure_details=f"claim window refused: {reason.value}",
            data={"claimWindow": {"source": WindowSource.DEVICE.value, "reason": reason.value}},
        )
        await self._audit.record(uow, action)

    # --- claiming ----------------------------------------------------------------------
    async def claim(
        self,
        uow: UnitOfWork,
        actor: Principal,
        device_name: str,
        secret_key: str,
        idempotency_key: str | None = None,
        client_address: str | None = None,
    ) -> ClaimResult:
        """A customer user claims a device of its tenant by name and secret key (SPEC 3.2).
        ``client_address`` is the request's source address, for the per-address limit."""
        if actor.tenant_id is None:
            raise PermissionDeniedError()
        if not device_name.strip():
            raise BadRequestError("Parameter 'deviceName' can't be empty!")
        if not actor.is_customer_user or actor.customer_id is None:
            # Tenant administrators cannot claim (ThingsBoard answers 403); the try is audited.
            await self._audit_claim(uow, actor, device_name, None, ClaimReason.NOT_ALLOWED)
            return ClaimResult(ClaimResponse.DENIED)
        if idempotency_key is not None:
            replay = await self._replay(uow, actor, device_name, idempotency_key)
            if replay is not None:
                return replay
        devices = DeviceRepository(uow.connection)
        retry_after = await self._rate_limit(actor, client_address)
        if retry_after:
            # Over the limit, the answer is 429 whether the device exists or not: names cannot
            # be probed that way either.
            device = await devices.find_by_name(actor.tenant_id, device_name)
            await self._audit_claim(uow, actor, device_name, device, ClaimReason.RATE_LIMITED)
            return ClaimResult(ClaimResponse.LOCKED, retry_after_seconds=retry_after)
        # The device row stays locked until commit (PostgreSQL; SQLite has one writer), and all
        # the decision reads is read after it: concurrent claims of a device take turns.
        device = await devices.find_by_name(actor.tenant_id, device_name, for_update=True)
        if device is None:
            await self._audit_claim(uow, actor, device_name, None, ClaimReason.UNKNOWN_DEVICE)
            return ClaimResult(ClaimResponse.NOT_FOUND)
        if not actor.allows("DEVICE", "CLAIM_DEVICES"):
            await self._audit_claim(uow, actor, device_name, device, ClaimReason.NOT_ALLOWED)
            return ClaimResult(ClaimResponse.DENIED)
        windows = await ClaimWindowRepository(uow.connection).of_device(device.id)
        lockout = await ClaimLockoutRepository(uow.connection).of(device.id, actor.customer_id)
        decision = self._decide(windows, secret_key, device, lockout)
        return await self._apply(uow, actor, device, decision, idempotency_key)

    def _decide(
        self, windows: list[ClaimWindow], secret_key: str, device: Device, lockout: ClaimLockout
    ) -> ClaimDecision:
        now = self._clock.now_ms()
        presented = self.secret_hash(secret_key)
        return decide_claim(windows, presented, device.customer_id, now, lockout.locked_until_ms)

    async def _rate_limit(self, actor: Principal, client_address: str | None) -> int:
        """Count the attempt against the caller's per-user and per-address limits (sliding
        windows of a minute); the seconds to wait when one is exceeded, else 0."""
        limits = [(f"claim-user:{actor.user_id}", self._policy.user_attempts_per_minute)]
        if client_address and self._policy.address_attempts_per_minute:
            limits.append(
                (f"claim-address:{client_address}", self._policy.address_attempts_per_minute)
            )
        for key, limit in limits:
            retry_after = await self._limiter.hit(key, limit, 60)
            if retry_after:
                return retry_after
        return 0

    async def _apply(
        self,
        uow: UnitOfWork,
        actor: Principal,
        device: Device,
        decision: ClaimDecision,
        idempotency_key: str | None,
    ) -> ClaimResult:
        assert actor.customer_id is not None
        lockouts = ClaimLockoutRepository(uow.connection)
        if decision.count_failure:
            await self._count_failure(lockouts, device.id, actor.customer_id)
        reason, response = decision.reason, decision.response
        if decision.assign and not await DeviceRepository(uow.connection).assign_if_unassigned(
            device.id, actor.customer_id
        ):
            reason, response = ClaimReason.ALREADY_CLAIMED, ClaimResponse.CLAIMED
        if decision.consume_windows:
            await ClaimWindowRepository(uow.connection).delete(device.id)
            await lockouts.clear(device.id)
            await AttributeRepository(uow.connection).delete(
                device.id, SERVER_SCOPE, [CLAIMING_ALLOWED, CLAIMING_DATA]
            )
        log.debug(
            "claim of device %s by user %s: %s (%s)", device.id, actor.user_id, response, reason
        )
        await self._audit_claim(uow, actor, device.name, device, reason, decision.window)
        if response is not ClaimResponse.SUCCESS:
            return ClaimResult(response, retry_after_seconds=decision.retry_after_seconds)
        claimed = replace(device, customer_id=actor.customer_id, version=device.version + 1)
        body = {"device": device_json(claimed), "response": ClaimResponse.SUCCESS.value}
        if idempotency_key is not None:
            await IdempotencyRepository(uow.connection).add(
                actor.user_id, idempotency_key, device.name, json.dumps(body), self._clock.now_ms()
            )
        self._publish_after_commit(uow, DEVICE_CLAIMED, claimed, actor, actor.customer_id)
        publish_access_changed(self._bus, uow, claimed, "owner")
        return ClaimResult(response, body)

    async def _count_failure(
        self, lockouts: ClaimLockoutRepository, device_id: uuid.UUID, customer_id: uuid.UUID
    ) -> None:
        failures = await lockouts.count_failure(device_id, customer_id)
        lock_seconds = self._policy.lockout.lock_seconds(failures)
        if lock_seconds:
            await lockouts.lock(device_id, customer_id, self._clock.now_ms() + lock_seconds * 1000)

    async def _replay(
        self, uow: UnitOfWork, actor: Principal, device_name: str, key: str
    ) -> ClaimResult | None:
        if not key or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH or not key.isprintable():
            raise InvalidArgumentError(
                f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable characters"
            )
        row = await IdempotencyRepository(uow.connection).find(actor.user_id, key)
        if row is None:
            return None
        if row.device_name != device_name:
            raise InvalidArgumentError("This Idempotency-Key was used to claim another device")
        assert actor.tenant_id is not None
        device = await DeviceRepository(uow.connection).find_by_name(actor.tenant_id, device_name)
        if device is None or device.customer_id != actor.customer_id:
            # Released (or deleted) since: the remembered 200 is no longer true.
            await IdempotencyRepository(uow.connection).delete(actor.user_id, key)
            return None
        return ClaimResult(ClaimResponse.SUCCESS, json.loads(row.response_json))

    async def _audit_claim(
        self,
        uow: UnitOfWork,
        actor: Principal,
        device_name: str,
        device: Device | None,
        reason: ClaimReason,
        window: ClaimWindow | None = None,
    ) -> None:
        assert actor.tenant_id is not None
        # Every claim attempt ends here once: count it by its real reason.
        self._claims.labels(outcome_label(reason.value)).inc()
        success = reason is ClaimReason.CLAIMED
        data: dict[str, Any] = {
            "entityId": str(device.id) if device else None,
            "assignedCustomerId": str(actor.customer_id) if actor.customer_id else None,
            "claim": {"reason": reason.value, "source": window.source.value if window else None},
        }
        if success:
            data["assignedCustomerName"] = actor.customer_title
        action = AuditAction(
            tenant_id=actor.tenant_id,
            customer_id=actor.customer_id,
            action_type=ASSIGNED_TO_CUSTOMER,
            entity_type="DEVICE",
            entity_id=device.id if device else None,
            entity_name=device_name[:255],
            success=success,
            failure_details=None if success else f"claim refused: {reason.value}",
            data=data,
        )
        await self._audit.record(uow, action, actor)

    async def _customer_title(self, uow: UnitOfWork, customer_id: uuid.UUID | None) -> str | None:
        if customer_id is None:
            return None
        customer = await CustomerRepository(uow.connection).get(customer_id)
        return customer.title if customer else None

    # --- releasing ---------------------------------------------------------------------
    async def release(self, uow: UnitOfWork, actor: Principal, device_name: str) -> None:
        """Return a device to its tenant (SPEC 3.3): tenant admins any device of the tenant,
        customer users with ``CLAIM_DEVICES`` only their own customer's devices."""
        if actor.is_sys_admin or actor.tenant_id is None:
            raise PermissionDeniedError()
        if not device_name.strip():
            raise BadRequestError("Parameter 'deviceName' can't be empty!")
        device = await DeviceRepository(uow.connection).find_by_name(
            actor.tenant_id, device_name, for_update=True
        )
        if device is None:
            raise NotFoundError()
        if not actor.allows("DEVICE", "CLAIM_DEVICES"):
            raise PermissionDeniedError()
        if actor.is_customer_user and device.customer_id != actor.customer_id:
            raise PermissionDeniedError()
        await ClaimWindowRepository(uow.connection).delete(device.id, WindowSource.DEVICE)
        await ClaimLockoutRepository(uow.connection).clear(device.id)
        previous = device.customer_id
        if previous is None:
            return
        await DeviceRepository(uow.connection).unassign_if_owned_by(device.id, previous)
        if not self._policy.allow_by_default:
            await AttributeRepository(uow.connection).upsert(
                "DEVICE", device.id, SERVER_SCOPE, {CLAIMING_ALLOWED: True}, self._clock.now_ms()
            )
        await self._audit_release(uow, actor, device, previous)
        self._publish_after_commit(uow, DEVICE_RELEASED, device, actor, previous)
        publish_access_changed(self._bus, uow, device, "owner")

    async def _audit_release(
        self, uow: UnitOfWork, actor: Principal, device: Device, previous: uuid.UUID
    ) -> None:
        action = AuditAction(
            tenant_id=device.tenant_id,
            customer_id=None,
            action_type=UNASSIGNED_FROM_CUSTOMER,
            entity_type="DEVICE",
            entity_id=device.id,
            entity_name=device.name,
            data={
                "entityId": str(device.id),
                "unassignedCustomerId": str(previous),
                "unassignedCustomerName": await self._customer_title(uow, previous),
            },
        )
        await self._audit.record(uow, action, actor)

    def _publish_after_commit(
        self,
        uow: UnitOfWork,
        name: str,
        device: Device,
        actor: Principal,
        customer_id: uuid.UUID,
    ) -> None:
        event = Event(
            name,
            {
                "tenantId": str(device.tenant_id),
                "deviceId": str(device.id),
                "deviceName": device.name,
                "customerId": str(customer_id),
                "userId": str(actor.user_id),
                "ts": self._clock.now_ms(),
            },
        )

        async def publish() -> None:
            await self._bus.publish(event)

        uow.after_commit(publish)

    # --- housekeeping ------------------------------------------------------------------
    async def purge_expired(self, uow: UnitOfWork) -> int:
        """Delete expired windows, lock-outs that ended where no window is left, and old
        idempotency records; returns windows deleted."""
        now = self._clock.now_ms()
        purged = await ClaimWindowRepository(uow.connection).purge_expired(now)
        await ClaimLockoutRepository(uow.connection).purge(now)
        cutoff = now - self._policy.idempotency_ttl_seconds * 1000
        await IdempotencyRepository(uow.connection).purge_older_than(cutoff)
        return purged
