"""Shared by the MQTT benchmarks (``mqtt_connections.py``, ``mqtt_telemetry.py``).

* the server: environment, start (through ``claim.start_server``), the MQTT address from its
  log line, stop with SIGTERM and its exit status;
* devices with access tokens, inserted in bulk through the GridLinks tables and domain types
  (seconds for 10,000 devices, instead of minutes over the REST API);
* measurements: RSS of a process tree (``/proc/<pid>/status`` VmRSS), CPU per process group
  (``/proc/<pid>/stat``), percentiles (``claim.percentile``);
* the load generator's side of MQTT: a small ``asyncio.Protocol`` client. CONNECT is encoded with
  the GridLinks codec; PUBLISH and PUBACK, the hot path, are built and split by hand (checked
  against the codec at start), so that the generator spends little CPU per message;
* running a generator in its own process (``multiprocessing``, spawn) with shared counters the
  benchmark reads for its progress lines.

Not a package module: the scripts in ``bench/`` import it by name (their directory is on
``sys.path``), as they import ``claim``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import multiprocessing
import multiprocessing.connection
import multiprocessing.sharedctypes
import os
import re
import resource
import secrets
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa

# Shared with the claim benchmark rather than copied.
from claim import (
    ROOT,
    BenchError,
    Process,
    Server,
    cpu_model,
    free_loopback_port,
    fresh_postgres_database,
    git_commit,
    log,
    machine_line,
    percentile,
    positive,
    profiled,
    read_log,
    read_machine_busy_seconds,
    read_processes,
    server_setting,
    start_server,
    stop_server,
    wait_until_quiet,
)

from gridlinks.accounts.domain import Authority, Principal
from gridlinks.accounts.schemas import TenantSave
from gridlinks.bootstrap import Platform, build_platform
from gridlinks.config import Settings
from gridlinks.db.tables import device_credentials, devices, ts_kv
from gridlinks.devices.domain import ACCESS_TOKEN, Device, DeviceCredentials
from gridlinks.mqtt.protocol.codec import PacketDecoder, encode
from gridlinks.mqtt.protocol.packets import Connack, Connect, Disconnect, Packet, Pingresp, Publish

__all__ = [
    "BenchError",
    "Server",
    "add_server_options",
    "cpu_model",
    "git_commit",
    "log",
    "machine_line",
    "parse_with_profile_dir",
    "percentile",
    "positive",
    "profiled",
    "server_setting",
    "wait_until_quiet",
]

MQTT_LISTENING = re.compile(r"GridLinks MQTT listening on mqtt://([\d.]+):(\d+)")
PROGRESS_EVERY_SECONDS = 1.0
INSERT_CHUNK = 1000
# Other processes busier than this (% of one core) during a measured phase: the report warns.
DISTURBED_OTHER_CPU_PERCENT = 15.0

# Settings of the benchmarked server: loopback only, ports chosen by the system (the log line
# "GridLinks ... listening on" tells which), INFO so that those lines are logged.
SERVER_SETTINGS = {
    "GRIDLINKS_HTTP_HOST": "127.0.0.1",
    "GRIDLINKS_HTTP_PORT": "0",
    "GRIDLINKS_MQTT_HOST": "127.0.0.1",
    "GRIDLINKS_MQTT_PORT": "0",
    "GRIDLINKS_LOG_LEVEL": "INFO",
}


# --- the process -----------------------------------------------------------------------------


def raise_open_files_limit() -> int:
    """Raise this process's RLIMIT_NOFILE soft limit to the hard limit (children inherit it);
    the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1_048_576)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def run_async(main: Coroutine[Any, Any, Any]) -> Any:
    """Run ``main`` on uvloop when it is installed (the server uses it too), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


# --- the server ------------------------------------------------------------------------------


def server_env(data_dir: Path, database_url: str, extra: dict[str, str]) -> dict[str, str]:
    """This environment without the caller's GRIDLINKS_* settings, plus the benchmark's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDLINKS_")}
    env.update(SERVER_SETTINGS)
    env.update(
        GRIDLINKS_DATA_DIR=str(data_dir),
        GRIDLINKS_DATABASE_URL=database_url,
        GRIDLINKS_SECRET_KEY=secrets.token_urlsafe(36),
    )
    env.update(extra)
    if env["GRIDLINKS_LOG_LEVEL"].upper() not in ("DEBUG", "INFO"):
        # No "listening on" lines to read a port 0 from: choose the ports here.
        for name in ("GRIDLINKS_HTTP_PORT", "GRIDLINKS_MQTT_PORT"):
            if env[name] == "0":
                env[name] = str(free_loopback_port())
    return env


@dataclass
class RunningServer:
    """A ``gridlinks serve`` (``claim.Server``) and its MQTT address."""

    server: Server
    mqtt_host: str
    mqtt_port: int

    @property
    def pid(self) -> int:
        return self.server.process.pid


async def start_mqtt_server(
    env: dict[str, str], log_path: Path, profile_to: Path | None = None
) -> RunningServer:
    """``gridlinks serve`` once it listens; the MQTT address from its log (port 0) or env."""
    server = await start_server(env, log_path, profile_to)
    host, port = env["GRIDLINKS_MQTT_HOST"], env["GRIDLINKS_MQTT_PORT"]
    if port == "0":
        # MQTT starts before HTTP, so its line is there once HTTP's is.
        found = MQTT_LISTENING.search(read_log(log_path))
        if found is None:
            await stop_server(server)
            raise BenchError(f"the server logged no MQTT address:\n{server.log_tail()}")
        host, port = found.group(1), found.group(2)
    return RunningServer(server, host, int(port))


async def stop_mqtt_server(running: RunningServer) -> int | None:
    """SIGTERM, wait (``claim.stop_server`` kills it after 30 s); the exit status."""
    await stop_server(running.server)
    return running.server.process.returncode


def count_log_problems(log_path: Path) -> int:
    text = log_path.read_text(errors="replace")
    return sum(
        1
        for line in text.splitlines()
        if " ERROR " in line or " WARNING " in line or "Traceback" in line
    )


@contextlib.asynccontextmanager
async def database_for(args: Any) -> AsyncIterator[tuple[str, str, str]]:
    """``(label, database_url, postgres_database_name)`` of the run: SQLite in the data
    directory (url ""), a fresh PostgreSQL database (created, then dropped unless --keep), or
    the existing --database-url."""
    if args.database_url:
        name = args.database_url.rsplit("/", 1)[1].split("?", 1)[0]
        yield "custom", args.database_url, name if "postgres" in args.database_url else ""
    elif args.backend == "postgres":
        async with fresh_postgres_database(args.postgres_server, args.keep) as url:
            yield "postgres", url, url.rsplit("/", 1)[1]
    else:
        yield "sqlite", "", ""


# --- devices and stored rows -----------------------------------------------------------------


@dataclass(frozen=True)
class BenchDevice:
    id: uuid.UUID
    token: str


def platform_for(env: dict[str, str]) -> Platform:
    """A platform on the benchmarked server's database (for set-up and counting rows)."""
    settings = Settings(
        data_dir=Path(env["GRIDLINKS_DATA_DIR"]),
        database_url=env["GRIDLINKS_DATABASE_URL"],
        secret_key=env["GRIDLINKS_SECRET_KEY"],
        redis_url="",
        _env_file=None,  # type: ignore[call-arg]
    )
    return build_platform(settings)


async def provision_devices(platform: Platform, count: int, run_id: str) -> list[BenchDevice]:
    """A tenant (through ``AccountService``, so it has its default profile and roles) and
    ``count`` devices with one access token each, inserted in bulk: rows built from the
    ``Device`` and ``DeviceCredentials`` domain types, ``INSERT_CHUNK`` per statement."""
    await platform.migrate()
    sysadmin = Principal(uuid.uuid4(), "bench@bench.test", Authority.SYS_ADMIN, None, None)
    async with platform.unit_of_work() as uow:
        tenant = await platform.accounts.save_tenant(
            uow, sysadmin, TenantSave(title=f"MQTT bench {run_id}")
        )
        profile = await platform.device_profiles.ensure_default_profile(uow, tenant.id)
        now = platform.clock.now_ms()
        made = [BenchDevice(uuid.uuid4(), secrets.token_urlsafe(15)) for _ in range(count)]
        device_rows = [
            asdict(
                Device(
                    id=d.id,
                    tenant_id=tenant.id,
                    customer_id=None,
                    device_profile_id=profile.id,
                    name=f"mqtt-bench-{run_id}-{i:06d}",
                    type=profile.name,
                    created_time=now,
                )
            )
            for i, d in enumerate(made)
        ]
        credential_rows = [
            asdict(DeviceCredentials(uuid.uuid4(), d.id, ACCESS_TOKEN, d.token, now)) for d in made
        ]
        for table, rows in ((devices, device_rows), (device_credentials, credential_rows)):
            for start in range(0, len(rows), INSERT_CHUNK):
                await uow.connection.execute(table.insert(), rows[start : start + INSERT_CHUNK])
        await uow.commit()
    return made


async def count_telemetry_rows(platform: Platform) -> int:
    """Rows in ``ts_kv`` (one per stored data point)."""
    async with platform.unit_of_work(write=False) as uow:
        result = await uow.connection.execute(sa.select(sa.func.count()).select_from(ts_kv))
        return int(result.scalar_one())


# --- memory and CPU --------------------------------------------------------------------------


def children_of(pid: int) -> list[int]:
    """``pid`` and every descendant (from the parent ids in ``/proc/*/stat``)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [child for child, ppid in parents.items() if ppid == parent]
        tree += kids
        frontier += kids
    return tree


def rss_kib(pid: int) -> int:
    """VmRSS of one process in KiB (0 when it is gone)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def tree_rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` and its child processes, in KiB."""
    return sum(rss_kib(p) for p in children_of(pid))


def process_pids_named(name: str) -> set[int]:
    """Processes whose command name (``/proc/<pid>/comm``) is ``name``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == name:
                    found.add(int(entry.name))
    return found


# Decides whether a process belongs to a group of the CPU split.
Member = Callable[[int, Process], bool]


def pids(members: Iterable[int]) -> Member:
    chosen = set(members)
    return lambda pid, _process: pid in chosen


def postgres_backends_of(database: str) -> Member:
    return lambda _pid, process: (
        bool(database)
        and (process.title.startswith("postgres:") and f" {database} " in process.title)
    )


def thread_cpu_seconds(pid: int) -> dict[int, float]:
    """User + system CPU seconds of each thread of ``pid`` (``/proc/<pid>/task/*/stat``)."""
    tick = os.sysconf("SC_CLK_TCK")
    threads = {}
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                threads[int(task.name)] = (int(fields[11]) + int(fields[12])) / tick
    return threads


@dataclass
class CpuMeter:
    """CPU used between its creation and ``usage()`` by named groups of processes (the first
    group a process matches), in % of one core, plus ``other``: the rest of the machine. With
    ``threads_of``, that process's CPU is also split into its main thread and the others (for
    the server: the event loop vs. aiosqlite's connection threads and the thread pool)."""

    groups: dict[str, Member]
    threads_of: int = 0
    start: dict[int, Process] = field(default_factory=dict)
    machine_start: float = 0.0
    wall_start: float = 0.0
    threads_start: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.start, self.machine_start = read_processes(), read_machine_busy_seconds()
        self.threads_start = thread_cpu_seconds(self.threads_of) if self.threads_of else {}
        self.wall_start = time.perf_counter()

    def usage(self) -> dict[str, Any]:
        end, machine = read_processes(), read_machine_busy_seconds() - self.machine_start
        wall = max(time.perf_counter() - self.wall_start, 1e-9)
        used = dict.fromkeys(self.groups, 0.0)
        others: list[tuple[float, str]] = []
        for pid, process in end.items():
            before = self.start.get(pid)
            seconds = process.cpu_seconds - (before.cpu_seconds if before else 0.0)
            group = next((g for g, member in self.groups.items() if member(pid, process)), None)
            if group is not None:
                used[group] += seconds
            elif seconds > 0:
                others.append((seconds, process.title))
        others.sort(reverse=True)
        result: dict[str, Any] = {
            f"{group}_cpu_percent": round(100 * seconds / wall, 1)
            for group, seconds in used.items()
        }
        result["other_cpu_percent"] = round(100 * max(machine - sum(used.values()), 0) / wall, 1)
        result["busiest_other_processes"] = [
            f"{title} ({100 * seconds / wall:.0f}%)" for seconds, title in others[:3]
        ]
        result["cpu_seconds"] = {group: round(seconds, 2) for group, seconds in used.items()}
        if self.threads_of:
            # Other threads = the process less its main thread: threads that ended meanwhile
            # (aiosqlite's, one per database connection) are no longer listed in /proc.
            main = thread_cpu_seconds(self.threads_of).get(self.threads_of, 0.0)
            main -= self.threads_start.get(self.threads_of, 0.0)
            process_end, process_start = end.get(self.threads_of), self.start.get(self.threads_of)
            total = 0.0
            if process_end is not None and process_start is not None:
                total = process_end.cpu_seconds - process_start.cpu_seconds
            result["main_thread_cpu_percent"] = round(100 * main / wall, 1)
            result["other_threads_cpu_percent"] = round(100 * max(total - main, 0) / wall, 1)
        return result


def disturbance(cpu: dict[str, Any], phase: str) -> str | None:
    """A warning when other processes were busy during a measured phase."""
    other = cpu.get("other_cpu_percent", 0.0)
    if other <= DISTURBED_OTHER_CPU_PERCENT:
        return None
    busiest = ", ".join(cpu.get("busiest_other_processes", [])) or "short-lived"
    return (
        f"{phase}: other processes used {other:.0f}% of a core meanwhile (busiest: {busiest}); "
        "its figures may be disturbed"
    )


def source_state() -> str:
    """The commit benchmarked, and whether ``src/`` had uncommitted changes."""
    changed = ""
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "src", "migrations"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    return git_commit() + (" + uncommitted changes in src/" if changed else "")


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "?"


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/max/mean in milliseconds."""
    ordered = sorted(seconds)
    ms = 1000.0
    return {
        "p50": round(percentile(ordered, 0.50) * ms, 2),
        "p90": round(percentile(ordered, 0.90) * ms, 2),
        "p99": round(percentile(ordered, 0.99) * ms, 2),
        "max": round(ordered[-1] * ms, 2) if ordered else 0.0,
        "mean": round(sum(ordered) / len(ordered) * ms, 2) if ordered else 0.0,
    }


def table(columns: Sequence[tuple[str, int]], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned first column, right-aligned others."""

    def line(values: Sequence[object]) -> str:
        return "".join(
            f"{value!s:<{width}}" if i == 0 else f"{value!s:>{width}}"
            for i, (value, (_, width)) in enumerate(zip(values, columns, strict=True))
        )

    return "\n".join([line([name for name, _ in columns]), *(line(row) for row in rows)])


# --- the generator's MQTT client -------------------------------------------------------------

PINGREQ = b"\xc0\x00"
DISCONNECT = b"\xe0\x00"  # reason 0 at level 5 too (remaining length 0)
PUBACK_FIRST_BYTE = 0x40


def variable_byte_int(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


def connect_packet(
    client_id: str, username: str | None, level: int, keep_alive_seconds: int
) -> bytes:
    """CONNECT (clean start), encoded by the GridLinks codec."""
    return encode(
        Connect(
            client_id=client_id,
            protocol_level=level,
            clean_start=True,
            keep_alive_seconds=keep_alive_seconds,
            username=username,
        ),
        level,
    )


class PublishTemplate:
    """QoS 1 PUBLISH frames for one topic, built by hand (the codec builds a packet object and
    validates the topic on every call: too slow for the generator's hot path)."""

    __slots__ = ("_fixed", "_properties", "_topic")

    def __init__(self, topic: str, level: int) -> None:
        raw = topic.encode()
        self._topic = len(raw).to_bytes(2, "big") + raw
        self._properties = b"\x00" if level == 5 else b""
        self._fixed = len(self._topic) + 2 + len(self._properties)

    def frame(self, packet_id: int, payload: bytes) -> bytes:
        return b"".join(
            (
                b"\x32",
                variable_byte_int(self._fixed + len(payload)),
                self._topic,
                packet_id.to_bytes(2, "big"),
                self._properties,
                payload,
            )
        )


def check_publish_template(level: int) -> None:
    """The hand-built frame is what the GridLinks codec encodes (else stop: a bug here would
    benchmark something else)."""
    topic, payload = "v1/devices/me/telemetry", b'{"ts":1,"values":{"a":1}}' * 8
    built = PublishTemplate(topic, level).frame(513, payload)
    expected = encode(Publish(topic, payload, qos=1, packet_id=513), level)
    if built != expected:
        raise BenchError(f"hand-built PUBLISH differs from the codec's at level {level}")


class BenchClient(asyncio.Protocol):
    """One MQTT connection of the load generator. PUBACKs are split out by hand and passed to
    ``on_puback``; every other packet goes through the GridLinks decoder."""

    def __init__(self, level: int) -> None:
        self.level = level
        self.transport: asyncio.Transport | None = None
        self.connack: asyncio.Future[Connack] = asyncio.get_running_loop().create_future()
        self.closed = False
        self.close_reason = ""
        self.last_sent = 0.0
        self.pings_answered = 0
        self._buffer = b""
        self._decoder = PacketDecoder(protocol_level=level)

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        end, size = 0, len(buffer)
        while size - end >= 2:
            start = end
            length, shift, index = 0, 0, start + 1
            while True:  # remaining length: a variable byte integer
                if index >= size:
                    self._buffer = buffer[start:]
                    self.after_data()
                    return
                byte = buffer[index]
                length |= (byte & 0x7F) << shift
                index += 1
                if not byte & 0x80:
                    break
                shift += 7
            end = index + length
            if end > size:
                end = start
                break
            if buffer[start] == PUBACK_FIRST_BYTE:
                reason = buffer[index + 2] if length > 2 else 0
                self.on_puback((buffer[index] << 8) | buffer[index + 1], reason)
            else:
                for packet in self._decoder.feed(buffer[start:end]):
                    self.on_packet(packet)
        self._buffer = buffer[end:] if end < size else b""
        self.after_data()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.close_reason:
            self.close_reason = "closed by the server" if exc is None else type(exc).__name__
        if not self.connack.done():
            self.connack.set_exception(
                ConnectionError(f"connection lost before CONNACK ({self.close_reason})")
            )
        self.on_lost()

    # for subclasses
    def on_puback(self, packet_id: int, reason: int) -> None:
        pass

    def after_data(self) -> None:
        """Called once per ``data_received`` (to write what it made due, in one go)."""

    def on_lost(self) -> None:
        pass

    def on_packet(self, packet: Packet) -> None:
        if isinstance(packet, Connack):
            if not self.connack.done():
                self.connack.set_result(packet)
        elif isinstance(packet, Disconnect):
            self.close_reason = f"DISCONNECT 0x{packet.reason_code:02x} from the server"
        elif isinstance(packet, Pingresp):
            self.pings_answered += 1

    # sending
    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)
            self.last_sent = time.monotonic()

    def disconnect(self) -> None:
        """DISCONNECT (normal) and close."""
        if self.transport is not None and not self.closed:
            self.transport.write(DISCONNECT)
            self.transport.close()


@dataclass
class ConnectOutcome:
    ok: bool
    failure: str = ""
    connect_seconds: float = 0.0  # TCP connect start -> CONNACK
    connack_seconds: float = 0.0  # CONNECT written -> CONNACK


async def open_connection(
    make_client: Callable[[], BenchClient],
    host: str,
    port: int,
    connect_bytes: bytes,
    limit_seconds: float,
) -> tuple[BenchClient | None, ConnectOutcome]:
    """TCP connect, CONNECT, wait for CONNACK; the client when accepted (reason 0)."""
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    try:
        async with asyncio.timeout(limit_seconds):
            _, client = await loop.create_connection(make_client, host, port)
            assert isinstance(client, BenchClient)
            written = time.perf_counter()
            client.write(connect_bytes)
            connack = await client.connack
    except TimeoutError:
        return None, ConnectOutcome(False, "timeout")
    except OSError as exc:  # ConnectionError (lost before CONNACK) included
        reason = os.strerror(exc.errno) if exc.errno else str(exc) or type(exc).__name__
        return None, ConnectOutcome(False, reason)
    done = time.perf_counter()
    if connack.reason_code != 0:
        client.disconnect()
        return None, ConnectOutcome(False, f"CONNACK 0x{connack.reason_code:02x}")
    return client, ConnectOutcome(True, "", done - started, done - written)


# --- generator processes ---------------------------------------------------------------------

# Stages a generator reports through its ``stage`` counter.
STAGE_STARTING, STAGE_READY, STAGE_CONNECTED, STAGE_DONE, STAGE_FAILED = 0, 1, 2, 3, 9


@dataclass
class Shared:
    """Counters in shared memory: ``phase`` is written by the benchmark, the others by one
    generator process each (no locks: one writer per value; readers tolerate a stale value)."""

    phase: Any
    stage: Any
    connected: Any
    acknowledged: Any

    @classmethod
    def create(cls, context: Any, phase: Any) -> Shared:
        def value() -> Any:
            return context.Value(ctypes.c_longlong, 0, lock=False)

        return cls(phase, value(), value(), value())


@dataclass
class GeneratorProcess:
    process: Any  # multiprocessing Process (spawn context)
    shared: Shared
    results: multiprocessing.connection.Connection

    @property
    def pid(self) -> int:
        return int(self.process.pid)


def spawn_generators(
    target: Callable[..., None], specs: Sequence[Any]
) -> tuple[Any, list[GeneratorProcess]]:
    """One process per spec: ``target(spec, shared, results_pipe)``. Returns the shared phase
    value and the processes. Spawned, not forked: the benchmark's event loop and database
    connections must not be copied into them."""
    context = multiprocessing.get_context("spawn")
    phase = context.Value(ctypes.c_longlong, 0, lock=False)
    generators = []
    for spec in specs:
        receiver, sender = context.Pipe(duplex=False)
        shared = Shared.create(context, phase)
        process = context.Process(target=target, args=(spec, shared, sender), daemon=True)
        process.start()
        sender.close()
        generators.append(GeneratorProcess(process, shared, receiver))
    return phase, generators


async def wait_for_stage(
    generators: Sequence[GeneratorProcess],
    stage: int,
    limit_seconds: float,
    progress: Callable[[], str] | None = None,
) -> None:
    """Until every generator reached ``stage``; a progress line every second if given."""
    deadline = time.monotonic() + limit_seconds
    next_progress = time.monotonic() + PROGRESS_EVERY_SECONDS
    while not all(g.shared.stage.value >= stage for g in generators):
        for g in generators:
            if g.shared.stage.value == STAGE_FAILED or not g.process.is_alive():
                raise BenchError(f"load generator {g.pid} failed (exit code {g.process.exitcode})")
        if time.monotonic() > deadline:
            raise BenchError(
                f"load generators did not reach stage {stage} in {limit_seconds:.0f} s"
            )
        if progress is not None and time.monotonic() >= next_progress:
            log(progress())
            next_progress += PROGRESS_EVERY_SECONDS
        await asyncio.sleep(0.05)


async def collect_results(
    generators: Sequence[GeneratorProcess], limit_seconds: float
) -> list[dict[str, Any]]:
    """Each generator's result (sent through its pipe), then wait for it to exit 0."""
    results = []
    for g in generators:
        ready = await asyncio.to_thread(g.results.poll, limit_seconds)
        if not ready:
            raise BenchError(f"load generator {g.pid} sent no results in {limit_seconds:.0f} s")
        results.append(g.results.recv())
        await asyncio.to_thread(g.process.join, 30)
        if g.process.exitcode != 0:
            raise BenchError(f"load generator {g.pid} exited with {g.process.exitcode}")
    return results


def stop_generators(generators: Sequence[GeneratorProcess]) -> None:
    """Terminate generators still running (only on the way out after an error)."""
    for g in generators:
        if g.process.is_alive():
            g.process.terminate()
            g.process.join(5)


def generator_entry(
    main: Callable[[], Coroutine[Any, Any, dict[str, Any]]],
    shared: Shared,
    results: multiprocessing.connection.Connection,
) -> None:
    """Run a generator's ``main()`` and send its result; on error mark it failed."""
    raise_open_files_limit()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the benchmark's to handle
    try:
        result = run_async(main())
    except BaseException:
        shared.stage.value = STAGE_FAILED
        raise
    results.send(result)
    results.close()
    shared.stage.value = STAGE_DONE


async def wait_until(
    condition: Callable[[], bool], limit_seconds: float, poll_seconds: float = 0.02
) -> bool:
    """Poll ``condition`` until true or ``limit_seconds`` passed; whether it came true.
    Polling: an event per connection would cost the generator memory for nothing."""
    deadline = time.monotonic() + limit_seconds
    while not condition():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(poll_seconds)
    return True


async def wait_phase(shared: Shared, phase: int, poll_seconds: float = 0.02) -> None:
    """In a generator: until the benchmark sets ``phase`` (or a later one)."""
    while shared.phase.value < phase:  # noqa: ASYNC110 - shared memory has no waiter
        await asyncio.sleep(poll_seconds)


def add_server_options(
    parser: argparse.ArgumentParser, *, phase: str, server_env_example: str = ""
) -> None:
    """The options both MQTT benchmarks share: which server to start, and what to record.
    ``phase`` names what waits for a quiet machine and what is profiled (e.g. "connecting")."""
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="database of the fresh server (sqlite)",
    )
    parser.add_argument(
        "--postgres-server",
        default="postgresql://root@127.0.0.1:5432",
        metavar="URL",
        help="with --backend postgres: where a fresh database is created and dropped (%(default)s)",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="use this existing database instead (not created, not dropped)",
    )
    parser.add_argument(
        "--server-env",
        type=server_setting,
        action="append",
        default=[],
        metavar="GRIDLINKS_X=V",
        help="extra server setting (repeatable)" + server_env_example,
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help=f"before {phase}, wait up to SECONDS for the machine to go idle (0)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help=f"sample the server's stacks while {phase} (bench/sampling_profiler.py)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the data directory and PostgreSQL database"
    )


def parse_with_profile_dir(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> argparse.Namespace:
    args = parser.parse_args(argv)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    return args
