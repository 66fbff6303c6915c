"""Settings, read from ``GRIDLINKS_*`` environment variables (and a ``.env`` file).

Every setting has a safe default for the embedded mode (SQLite in the data directory, no other
service). Settings are grouped by prefix and carry their unit in the name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

NULL_UUID_TEXT = "13814000-1dd2-11b2-8080-808080808080"


class Settings(BaseSettings):
    """GridLinks configuration. Build one with ``Settings()``; nothing reads it at import time."""

    model_config = SettingsConfigDict(env_prefix="GRIDLINKS_", env_file=".env", extra="ignore")

    data_dir: Path = Path("./gridlinks-data")
    # Empty means: SQLite file ``gridlinks.db`` in the data directory.
    database_url: str = Field(default="", repr=False)  # may hold a password
    # Connections kept open per node (as many again may be opened under load).
    database_pool_size: int = Field(default=20, ge=1)
    # How long a request or MQTT message waits for a free database connection (or, on SQLite,
    # for the write lock) before it is answered 503 with Retry-After.
    database_pool_timeout_seconds: float = Field(default=10.0, gt=0)
    database_echo: bool = False
    redis_url: str = Field(default="", repr=False)

    http_host: str = "0.0.0.0"  # noqa: S104 - a server listens on all interfaces by default
    http_port: int = Field(default=8080, ge=0, le=65535)
    mqtt_host: str = "0.0.0.0"  # noqa: S104
    mqtt_port: int = Field(default=1883, ge=0, le=65535)
    # MQTT device transport. False: this node serves HTTP only.
    mqtt_enabled: bool = True
    # TLS listener (MQTT over TLS), started when a certificate and key are given. With a CA
    # file, clients must present a certificate signed by it.
    mqtt_tls_port: int = Field(default=8883, ge=0, le=65535)
    mqtt_tls_cert_file: str = ""
    mqtt_tls_key_file: str = ""
    mqtt_tls_ca_file: str = ""
    # Connections beyond this get CONNACK "server busy" (5) / "server unavailable" (3.x).
    mqtt_max_connections: int = Field(default=100_000, ge=1)
    # Largest MQTT packet accepted (and announced to MQTT 5 clients); larger -> disconnect.
    mqtt_max_packet_bytes: int = Field(default=65_536, ge=1024, le=268_435_460)
    # Unacknowledged messages a client may have in flight (MQTT 5 Receive Maximum); beyond
    # that the server stops reading from the connection until it has caught up.
    mqtt_receive_maximum: int = Field(default=100, ge=1, le=65535)
    # A connection must send CONNECT within this time.
    mqtt_connect_timeout_seconds: float = Field(default=10.0, gt=0)
    public_url: str = "http://localhost:8080"

    # The one server secret. Keys for JWT signing and claim-secret hashing derive from it.
    # Embedded mode generates one into the data directory; PostgreSQL mode requires it.
    secret_key: str = Field(default="", repr=False)

    access_token_lifetime_seconds: int = Field(default=9000, ge=1)
    refresh_token_lifetime_seconds: int = Field(default=604800, ge=1)
    activation_token_lifetime_seconds: int = Field(default=86400, ge=1)

    # Argon2id cost (OWASP's baseline is 19 MiB / 2 passes; argon2-cffi's default is 64 MiB / 3).
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_kib: int = Field(default=65536, ge=8)

    # Claiming (SPEC 3). ThingsBoard's security.claim.allowClaimingByDefault / .duration.
    claim_allow_by_default: bool = True
    claim_default_duration_ms: int = Field(default=86_400_000, ge=1)
    # Brute force: after this many consecutive failures of one customer on one device, that
    # customer (not the device: other customers and the buyer holding it are not affected) is
    # locked out of it for claim_lockout_initial_seconds, doubling on each further failure up
    # to the maximum. A new announcement by the device clears the device's lock-outs.
    claim_lockout_after_failures: int = Field(default=5, ge=1)
    claim_lockout_initial_seconds: int = Field(default=60, ge=1)
    claim_lockout_max_seconds: int = Field(default=3600, ge=1)
    # Claim attempts one user may make in any 60 seconds (sliding window, across all devices).
    claim_user_attempts_per_minute: int = Field(default=30, ge=1)
    # Claim attempts from one source address in any 60 seconds (0: no such limit). Behind a
    # reverse proxy, the proxy must send X-Forwarded-For or every client shares its address.
    claim_address_attempts_per_minute: int = Field(default=120, ge=0)
    # How long an Idempotency-Key of a successful claim is remembered.
    claim_idempotency_ttl_seconds: int = Field(default=86400, ge=1)
    # How often expired claim windows and idempotency records are purged.
    housekeeping_interval_seconds: float = Field(default=60.0, gt=0)

    # Telemetry is stored in batches shared by every device connection: a batch is committed
    # once it holds this many points, or this long after its first write, whichever is first.
    # A device's write (MQTT PUBACK, HTTP 200) is answered after its batch is committed.
    telemetry_batch_max_points: int = Field(default=5000, ge=1)
    telemetry_batch_max_delay_ms: float = Field(default=5.0, ge=0)

    log_level: str = "INFO"
    # text: one escaped line per record; json: one JSON object per line (docs/deployment.md).
    log_format: Literal["text", "json"] = "text"
    # GET /metrics (Prometheus). Disabled: 404. With a token, scrapers must send
    # "Authorization: Bearer <token>" (401 otherwise).
    metrics_enabled: bool = True
    metrics_token: str = Field(default="", repr=False)
    max_request_body_bytes: int = Field(default=1_048_576, ge=1024)
    # A connection must deliver a request's headers within this time (from its first byte, or
    # from the connection's opening): slowloris connections are closed.
    http_header_timeout_seconds: float = Field(default=10.0, gt=0)
    # A request body must arrive whole within this time; a body that stalls gets 408 and the
    # connection is closed. Bodies are read before any database connection is taken.
    http_body_timeout_seconds: float = Field(default=30.0, gt=0)

    @field_validator("public_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def mqtt_max_payload_bytes(self) -> int:
        """The payload size devices are told to stay under (``getSessionLimits``): the packet
        limit less room for the fixed header, topic and properties."""
        return self.mqtt_max_packet_bytes - 512

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "gridlinks.db"

    @property
    def uses_embedded_database(self) -> bool:
        return not self.database_url or self.database_url.startswith("sqlite")
