"""Composition root: Settings -> database, keys, services.

The only place that picks SQLite or PostgreSQL, and memory or Redis for rate limits and the bus.
Nothing here runs at import time: call ``build_platform(settings)``, ``await platform.start()``
and ``await platform.close()`` when done.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from redis.asyncio import Redis

from gridlinks.accounts.activation import ActivationService
from gridlinks.accounts.groups_service import GroupService
from gridlinks.accounts.security import PasswordService, TokenService
from gridlinks.accounts.service import AccountService
from gridlinks.attributes.service import AttributeService
from gridlinks.audit.service import AuditLog
from gridlinks.bus.base import Bus, Event
from gridlinks.bus.memory import MemoryBus
from gridlinks.bus.redis import RedisBus
from gridlinks.claiming.attributes import ClaimingDataHook
from gridlinks.claiming.domain import LockoutPolicy
from gridlinks.claiming.service import ClaimingService, ClaimPolicy
from gridlinks.config import Settings
from gridlinks.db.engine import Database, async_database_url, create_database
from gridlinks.db.migrate import upgrade_schema
from gridlinks.db.unit_of_work import UnitOfWork
from gridlinks.delivery.links import LocalLinks
from gridlinks.delivery.messages import TELEMETRY_STORED
from gridlinks.delivery.presence import LocalPresence, Presence, RedisPresence
from gridlinks.delivery.service import Delivery
from gridlinks.devicelink.client_rpc import SessionLimits
from gridlinks.devicelink.service import DeviceLinkService
from gridlinks.devices.attribute_access import DeviceAttributeService
from gridlinks.devices.clashes import CredentialsClashGuard
from gridlinks.devices.profiles import DeviceProfileService
from gridlinks.devices.service import DeviceService
from gridlinks.devices.telemetry_access import DeviceTelemetryService
from gridlinks.devices.tokens import LOOKUP_PURPOSE, SEAL_PURPOSE, AccessTokenSeal
from gridlinks.devices.transport_access import TransportAccess
from gridlinks.errors import ConfigurationError
from gridlinks.kit.clock import Clock, SystemClock
from gridlinks.kit.files import create_private_file, private_directory, tighten_file
from gridlinks.kit.metrics import Metrics
from gridlinks.kit.secrets import derive_key
from gridlinks.limits.base import RateLimiter
from gridlinks.limits.memory import MemoryRateLimiter
from gridlinks.limits.redis import RedisRateLimiter
from gridlinks.live.service import LiveService
from gridlinks.rpc.service import RpcService
from gridlinks.telemetry.repository import Row
from gridlinks.telemetry.service import TelemetryService
from gridlinks.telemetry.writer import TelemetryWriter

log = logging.getLogger("gridlinks")

SECRET_FILE = "secret.key"
MIN_SECRET_LENGTH = 32
KNOWN_BAD_SECRETS = frozenset({"changeme", "secret", "gridlinks", "default"})
# How long each readiness check (database, Redis) may take before it counts as failed.
READINESS_TIMEOUT_SECONDS = 2.0


@dataclass
class Readiness:
    """What ``/readyz`` asks beyond the database and Redis: ``gridlinks serve`` sets
    ``mqtt_listening`` once the MQTT listeners are up (None: not started on this node)."""

    mqtt_listening: Callable[[], bool] | None = None


@dataclass
class Platform:
    """Everything the entry points (HTTP, MQTT, CLI) need."""

    settings: Settings
    database: Database
    clock: Clock
    accounts: AccountService
    activation: ActivationService
    groups: GroupService
    devices: DeviceService
    device_profiles: DeviceProfileService
    attributes: AttributeService
    device_attributes: DeviceAttributeService
    audit: AuditLog
    claiming: ClaimingService
    limiter: RateLimiter
    bus: Bus
    transport_access: TransportAccess
    telemetry: TelemetryService
    telemetry_writer: TelemetryWriter
    device_telemetry: DeviceTelemetryService
    delivery: Delivery
    rpc: RpcService
    live: LiveService
    device_link: DeviceLinkService
    metrics: Metrics = field(default_factory=Metrics)
    readiness: Readiness = field(default_factory=Readiness)
    # The rate limiter's Redis client, pinged by /readyz (None: no Redis configured).
    redis: Redis | None = None

    def unit_of_work(self, *, write: bool = True) -> UnitOfWork:
        return UnitOfWork(self.database, write=write)

    async def migrate(self) -> None:
        """Upgrade the schema, then seal access tokens an older version stored in plaintext
        (that step needs the server secret, which Alembic never sees)."""
        await upgrade_schema(self.database)
        await self.seal_stored_tokens()

    async def seal_stored_tokens(self) -> None:
        """Idempotent: after the first start no plaintext token is left, not even in free pages
        of a SQLite file (it is rebuilt when anything was sealed)."""
        async with self.unit_of_work() as uow:
            sealed = await self.devices.seal_stored_tokens(uow)
            await uow.commit()
        if sealed:
            await self.database.compact()
            log.info("sealed %d device access tokens stored in plaintext", sealed)

    async def start(self) -> None:
        """Start what runs beside requests: the telemetry flusher, the bus reader (Redis).
        Tokens left in plaintext (``serve --no-migrate`` after a schema-only upgrade) are
        sealed first: devices are looked up by their tokens' keyed hashes."""
        try:
            await self.seal_stored_tokens()
        except Exception:
            # The database may be down for now (requests answer 503 meanwhile): serve anyway.
            log.exception("could not look for plaintext access tokens; the next start retries")
        await self.telemetry_writer.start()
        await self.bus.start()
        await self.delivery.start()

    async def readiness_failures(self) -> dict[str, str]:
        """What keeps this node from serving: ``{"database": "unreachable (OSError)"}``;
        empty when ready. Each check gets ``READINESS_TIMEOUT_SECONDS``."""
        failures = {}
        checks = [("database", self.database.ping)]
        if self.redis is not None:
            checks.append(("redis", self._ping_redis))
        for name, check in checks:
            try:
                await asyncio.wait_for(check(), READINESS_TIMEOUT_SECONDS)
            except TimeoutError:
                failures[name] = f"no answer within {READINESS_TIMEOUT_SECONDS:g} s"
            except Exception as exc:
                failures[name] = f"unreachable ({type(exc).__name__})"
        listening = self.readiness.mqtt_listening
        if self.settings.mqtt_enabled and (listening is None or not listening()):
            failures["mqtt"] = "not listening"
        return failures

    def readiness_checks(self) -> list[str]:
        """The checks ``readiness_failures`` makes on this node."""
        checks = ["database"]
        if self.redis is not None:
            checks.append("redis")
        if self.settings.mqtt_enabled:
            checks.append("mqtt")
        return checks

    async def _ping_redis(self) -> None:
        assert self.redis is not None
        await self.redis.ping()

    async def housekeeping(self) -> None:
        """Purge expired claim windows and expire persistent RPCs every
        ``housekeeping_interval_seconds``, until cancelled (a round under way is finished
        first). A failed round is logged and retried next time."""
        while True:
            await asyncio.sleep(self.settings.housekeeping_interval_seconds)
            # A round is never cut short: cancelled inside a driver call, aiosqlite could
            # leave the canceller waiting forever. A cancellation that arrives during a round
            # waits for it to end (it is one short transaction), then ends the loop.
            round_ = asyncio.ensure_future(self._logged_housekeeping_round())
            try:
                await asyncio.shield(round_)
            except asyncio.CancelledError:
                await asyncio.wait({round_})
                raise

    async def _logged_housekeeping_round(self) -> None:
        try:
            await self.housekeeping_round()
        except Exception:
            log.exception(
                "housekeeping failed; retrying in %.0f s",
                self.settings.housekeeping_interval_seconds,
            )

    async def housekeeping_round(self) -> None:
        """One round of ``housekeeping``."""
        async with self.unit_of_work() as uow:
            purged = await self.claiming.purge_expired(uow)
            expired = await self.rpc.expire_due(uow)
            await uow.commit()
        if purged:
            log.info("purged %d expired claim windows", purged)
        if expired:
            log.info("%d persistent RPCs expired or timed out", expired)

    async def close(self) -> None:
        """Store pending telemetry first (it needs the database), then close the rest."""
        await self.telemetry_writer.close()
        await self.device_link.close()
        self.rpc.close()
        await self.delivery.close()
        await self.bus.close()
        await self.limiter.close()
        await self.database.dispose()


def resolve_secret_key(settings: Settings) -> str:
    """The server secret: given, or (embedded mode only) kept in the data directory."""
    if settings.secret_key:
        if len(settings.secret_key) < MIN_SECRET_LENGTH or settings.secret_key in KNOWN_BAD_SECRETS:
            raise ConfigurationError(
                f"GRIDLINKS_SECRET_KEY must be at least {MIN_SECRET_LENGTH} random characters; "
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return settings.secret_key
    if not settings.uses_embedded_database:
        raise ConfigurationError(
            "GRIDLINKS_SECRET_KEY is required with PostgreSQL (every node must share it); "
            "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    return _embedded_secret(settings.data_dir / SECRET_FILE)


def _embedded_secret(path: Path) -> str:
    """The secret kept in the data directory (0700), in a file only we may read (0600)."""
    private_directory(path.parent)
    if path.exists():
        tighten_file(path)
        return path.read_text().strip()
    value = secrets.token_urlsafe(48)
    if not create_private_file(path, value + "\n"):
        return path.read_text().strip()  # another process created it meanwhile
    log.info("generated a new server secret in %s", path)
    return value


def build_platform(settings: Settings, clock: Clock | None = None) -> Platform:
    """Wire the services for ``settings``; connects lazily on first use."""
    clock = clock or SystemClock()
    metrics = Metrics()
    secret = resolve_secret_key(settings)
    url = async_database_url(settings.database_url, settings.sqlite_path)
    database = create_database(
        url,
        pool_size=settings.database_pool_size,
        echo=settings.database_echo,
        wait_seconds=settings.database_pool_timeout_seconds,
    )
    metrics.watch_database_pool(database.pool_checked_out, database.pool_size)
    tokens = TokenService(
        derive_key(secret, "jwt"),
        clock,
        settings.access_token_lifetime_seconds,
        settings.refresh_token_lifetime_seconds,
    )
    groups = GroupService(clock)
    device_profiles = DeviceProfileService(clock)
    audit = AuditLog(clock)
    # MQTT basic passwords are keyed hashes under "device-credentials"; access tokens have keys
    # of their own for the lookup hash and the sealed copy.
    credentials_key = derive_key(secret, "device-credentials")
    device_tokens = AccessTokenSeal(
        derive_key(secret, LOOKUP_PURPOSE), derive_key(secret, SEAL_PURPOSE)
    )
    limiter, bus, redis = _limiter_and_bus(settings, clock)
    clash_guard = CredentialsClashGuard(limiter, clock)
    devices = DeviceService(
        clock, credentials_key, device_tokens, clash_guard, device_profiles, audit, bus
    )
    passwords = PasswordService(settings.password_hash_time_cost, settings.password_hash_memory_kib)
    accounts = AccountService(
        clock,
        passwords,
        tokens,
        groups,
        tenant_created_hooks=[device_profiles.ensure_default_profile],
    )
    activation = ActivationService(
        clock,
        passwords,
        tokens,
        accounts,
        activation_key=derive_key(secret, "activation"),
        activation_lifetime_seconds=settings.activation_token_lifetime_seconds,
        public_url=settings.public_url,
    )
    claim_key = derive_key(secret, "claim-secret")
    attributes = AttributeService(clock, bus, hooks=[ClaimingDataHook(clock, claim_key)])
    claiming = ClaimingService(
        clock, claim_key, claim_policy(settings), audit, limiter, bus, metrics
    )
    telemetry = TelemetryService()
    telemetry_writer = TelemetryWriter(
        partial(UnitOfWork, database),
        telemetry,
        max_batch_points=settings.telemetry_batch_max_points,
        max_delay_ms=settings.telemetry_batch_max_delay_ms,
        metrics=metrics,
        on_stored=partial(_publish_telemetry, bus),
    )
    transport_access = TransportAccess(clock, credentials_key, device_tokens, device_profiles)
    delivery = _delivery(bus, redis)
    rpc = RpcService(clock, devices, audit, delivery, bus, partial(UnitOfWork, database))
    device_attributes = DeviceAttributeService(devices, attributes)
    device_telemetry = DeviceTelemetryService(devices, telemetry)
    live = LiveService(
        partial(UnitOfWork, database),
        bus,
        clock,
        accounts,
        devices,
        device_telemetry,
        device_attributes,
    )
    device_link = DeviceLinkService(
        unit_of_work=partial(UnitOfWork, database),
        clock=clock,
        devices=devices,
        transport_access=transport_access,
        attributes=attributes,
        claiming=claiming,
        telemetry_writer=telemetry_writer,
        bus=bus,
        links=delivery.links,
        rpc_events=rpc,
        limits=SessionLimits(settings.mqtt_max_payload_bytes, settings.mqtt_receive_maximum),
    )
    return Platform(
        settings,
        database,
        clock,
        accounts,
        activation,
        groups,
        devices,
        device_profiles,
        attributes,
        device_attributes,
        audit,
        claiming,
        limiter,
        bus,
        transport_access,
        telemetry=telemetry,
        telemetry_writer=telemetry_writer,
        device_telemetry=device_telemetry,
        delivery=delivery,
        rpc=rpc,
        live=live,
        device_link=device_link,
        metrics=metrics,
        redis=redis,
    )


def claim_policy(settings: Settings) -> ClaimPolicy:
    return ClaimPolicy(
        allow_by_default=settings.claim_allow_by_default,
        default_duration_ms=settings.claim_default_duration_ms,
        lockout=LockoutPolicy(
            after_failures=settings.claim_lockout_after_failures,
            initial_seconds=settings.claim_lockout_initial_seconds,
            max_seconds=settings.claim_lockout_max_seconds,
        ),
        user_attempts_per_minute=settings.claim_user_attempts_per_minute,
        address_attempts_per_minute=settings.claim_address_attempts_per_minute,
        idempotency_ttl_seconds=settings.claim_idempotency_ttl_seconds,
    )


async def _publish_telemetry(bus: Bus, rows: Sequence[Row]) -> None:
    """One ``TelemetryStored`` event per committed batch (live subscriptions follow it)."""
    data = {"rows": [[str(entity), key, ts, value] for entity, key, ts, value in rows]}
    await bus.publish(Event(TELEMETRY_STORED, data))


def _delivery(bus: Bus, redis: Redis | None) -> Delivery:
    """Presence in Redis when there is one (several nodes), else this node's own links."""
    links = LocalLinks()
    node_id = uuid.uuid4().hex
    presence: Presence = (
        LocalPresence(links) if redis is None else RedisPresence(redis, links, node_id)
    )
    return Delivery(bus, links, presence, node_id)


def _limiter_and_bus(settings: Settings, clock: Clock) -> tuple[RateLimiter, Bus, Redis | None]:
    """Redis when ``GRIDLINKS_REDIS_URL`` is set (shared by every node), else in memory; the
    limiter's Redis client comes along for the readiness check."""
    if not settings.redis_url:
        return MemoryRateLimiter(clock), MemoryBus(), None
    try:
        limiter_redis = Redis.from_url(settings.redis_url)
        bus_redis = Redis.from_url(settings.redis_url)
    except ValueError:
        raise ConfigurationError(
            "GRIDLINKS_REDIS_URL is not a Redis URL; use redis://host:6379/0"
        ) from None
    return RedisRateLimiter(limiter_redis, clock), RedisBus(bus_redis), limiter_redis
