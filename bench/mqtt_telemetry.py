"""MQTT telemetry benchmark: QoS 1 telemetry messages a second one GridLinks process takes in,
stores and acknowledges, how long a PUBACK takes, and the same load against Mosquitto.

It starts a real ``gridlinks serve`` (fresh SQLite data directory or PostgreSQL database), inserts
N devices with access tokens in bulk, and starts the load generator in its own process(es): each
device connects with its own token and publishes ``{"ts": ..., "values": {"temperature": 21.5,
"humidity": 40}}`` (2 data points) on ``v1/devices/me/telemetry`` at QoS 1, keeping up to
``--inflight`` messages unacknowledged. After a warm-up the benchmark measures for ``--seconds``,
then the generator stops publishing, waits for every outstanding PUBACK and disconnects. Rows in
``ts_kv`` are counted at both ends of the measured window and after the server has stopped: every
acknowledged message must be stored. The same generator then runs the same load against the
Mosquitto broker on 127.0.0.1:1883 (anonymous, topic ``bench/{i}/telemetry``) for comparison.
Run it through ``scripts/bench mqtt-telemetry``.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import json
import os
import platform
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mqtt_common import (
    STAGE_CONNECTED,
    BenchClient,
    BenchError,
    CpuMeter,
    GeneratorProcess,
    PublishTemplate,
    RunningServer,
    Shared,
    add_server_options,
    check_publish_template,
    children_of,
    collect_results,
    connect_packet,
    count_log_problems,
    count_telemetry_rows,
    cpu_model,
    database_for,
    disturbance,
    generator_entry,
    latency_summary,
    load_average,
    log,
    machine_line,
    open_connection,
    parse_with_profile_dir,
    pids,
    platform_for,
    positive,
    postgres_backends_of,
    process_pids_named,
    profiled,
    provision_devices,
    raise_open_files_limit,
    run_async,
    server_env,
    source_state,
    spawn_generators,
    start_mqtt_server,
    stop_generators,
    stop_mqtt_server,
    table,
    wait_for_stage,
    wait_phase,
    wait_until,
    wait_until_quiet,
)

AIM_STORED_PER_SECOND = 10_000.0
AIM_P99_MS = 50.0
TELEMETRY_TOPIC = "v1/devices/me/telemetry"
# The message: 2 data points with an explicit, per-device unique timestamp (a point re-sent with
# the same device, key and ts overwrites its row, which would make the storage check fail).
PAYLOAD = b'{"ts":%d,"values":{"temperature":21.5,"humidity":40}}'
POINTS_PER_MESSAGE = 2
# Phases the benchmark sets for the generators.
PHASE_PUBLISH, PHASE_MEASURE, PHASE_DRAIN = 1, 2, 3
PHASE_POLL_SECONDS = 0.01
PACE_TICK_SECONDS = 0.005
DRAIN_LIMIT_SECONDS = 60.0
# A generator process this busy (% of one core) is what limits the throughput.
GENERATOR_BOUND_PERCENT = 90.0

DESCRIPTION = """\
MQTT telemetry benchmark: QoS 1 telemetry through one GridLinks process - messages acknowledged
and stored per second, PUBACK latency, and the same load against Mosquitto for comparison.

Steps: fresh server (SQLite in a temporary data directory unless --backend postgres or
--database-url); --devices devices with access tokens inserted in bulk; the load generator
(--clients-processes processes, each with a share of the devices) connects every device with its
own token, then each connection publishes {"ts": <unique ms>, "values": {"temperature": 21.5,
"humidity": 40}} at QoS 1 on v1/devices/me/telemetry, keeping --inflight messages
unacknowledged (a new one as each PUBACK arrives; with --rate, paced to that many messages a
second in all instead). --warmup-seconds are not measured; then --seconds are. At the end the
generator stops publishing, waits for the outstanding PUBACKs and disconnects.

Measured: messages acknowledged per second (PUBACK 0), messages stored per second (rows of
ts_kv committed during the window / 2 points), PUBACK latency (publish written -> PUBACK read),
CPU of the server, the generator and PostgreSQL. Checked: after the server has stopped, ts_kv
holds exactly acknowledged messages x 2 rows. Then the same generator, with the same devices
count, window and payload, publishes anonymously on bench/{i}/telemetry to Mosquitto on
127.0.0.1:1883 (--mosquitto), and the report gives the GridLinks / Mosquitto throughput ratio.

Aim (the MQTT transport issue): >= 10,000 messages/s stored, PUBACK p99 <= 50 ms.
"""

EPILOG = """\
Closed loop: with --inflight W and D devices, W x D messages are always outstanding, so by
Little's law the mean PUBACK latency is about W x D / throughput (10 x 1,000 / 10,000 msg/s =
1 s): p99 <= 50 ms at 10,000 msg/s needs at most ~500 messages outstanding. Use --rate to measure
latency at a given offered load instead (the window then only caps what is outstanding).

PUBACK is sent by GridLinks only after the batch holding the message is committed
(GRIDLINKS_TELEMETRY_BATCH_MAX_POINTS / _MAX_DELAY_MS); Mosquitto acknowledges at once and stores
nothing (no subscriber), so the ratio is the cost of durable storage plus the Python transport.

The generator shares the 2 cores with the server: the table shows the CPU each used in the
measured window (% of one core). On a 2-core machine one generator process is usually right:
a second one takes CPU from the server.

Exit status: 0 when every measured message was acknowledged with reason 0, the stored rows match
the acknowledged messages, the server exited 0 and the generators finished; 1 otherwise; 2 when
the benchmark could not run.

examples:
  scripts/bench mqtt-telemetry                              # SQLite, then Mosquitto
  scripts/bench mqtt-telemetry --backend postgres --skip-mosquitto
  scripts/bench mqtt-telemetry --rate 3000 --seconds 20     # latency at 3,000 msg/s offered
  scripts/bench mqtt-telemetry --json out.json --profile /tmp/prof
"""


# --- the load generator (its own process or processes) ---------------------------------------


@dataclass(frozen=True)
class GeneratorSpec:
    host: str
    port: int
    level: int
    clients: list[tuple[str, str | None, str]]  # client id, user name (token), topic
    inflight: int
    rate: float  # messages a second for this process; 0: as fast as the window allows
    connect_concurrency: int
    connect_timeout_seconds: float


@dataclass
class Stats:
    """One generator process's counters (one event loop: no locks)."""

    sending: bool = False
    measuring: bool = False
    closed_loop: bool = True
    sent: int = 0
    acknowledged: int = 0
    acknowledged_measured: int = 0
    sent_measured: int = 0
    reasons: Counter[int] = field(default_factory=Counter)  # PUBACK reason codes other than 0
    unknown_acks: int = 0
    skipped: int = 0  # paced messages not sent because the window was full
    latencies: array.array[float] = field(default_factory=lambda: array.array("d"))


class Publisher(BenchClient):
    """One device: QoS 1 telemetry with up to ``inflight`` messages unacknowledged."""

    def __init__(self, level: int, topic: str, stats: Stats, inflight: int) -> None:
        super().__init__(level)
        self.template = PublishTemplate(topic, level)
        self.stats = stats
        self.inflight = inflight
        self.pending: dict[int, tuple[float, bool]] = {}
        self.next_id = 0
        self.last_ts = 0
        self.owed = 0
        self.received_at = 0.0

    def send(self, count: int) -> None:
        stats, pending, frames = self.stats, self.pending, []
        measured, now = stats.measuring, time.perf_counter()
        for _ in range(count):
            packet_id = self.next_id % 65535 + 1
            self.next_id = packet_id
            ts = max(int(time.time() * 1000), self.last_ts + 1)
            self.last_ts = ts
            frames.append(self.template.frame(packet_id, PAYLOAD % ts))
            pending[packet_id] = (now, measured)
        self.write(b"".join(frames))
        stats.sent += count
        if measured:
            stats.sent_measured += count

    def data_received(self, data: bytes) -> None:
        self.received_at = time.perf_counter()
        super().data_received(data)

    def on_puback(self, packet_id: int, reason: int) -> None:
        stats = self.stats
        entry = self.pending.pop(packet_id, None)
        if entry is None:
            stats.unknown_acks += 1
            return
        sent_at, measured = entry
        stats.acknowledged += 1
        if reason:  # below 0x80 is success (Mosquitto: 0x10, no matching subscribers)
            stats.reasons[reason] += 1
        if measured:
            stats.acknowledged_measured += 1
            stats.latencies.append(self.received_at - sent_at)
        if stats.closed_loop and stats.sending:
            self.owed += 1

    def after_data(self) -> None:
        if self.owed:
            owed, self.owed = self.owed, 0
            self.send(owed)

    @property
    def room(self) -> int:
        return self.inflight - len(self.pending)


async def connect_all(
    spec: GeneratorSpec, stats: Stats, shared: Shared
) -> tuple[list[Publisher], Counter[str]]:
    publishers: list[Publisher] = []
    failures: Counter[str] = Counter()
    indexes = iter(range(len(spec.clients)))

    async def worker() -> None:
        for i in indexes:
            client_id, username, topic = spec.clients[i]

            def make(topic: str = topic) -> Publisher:
                return Publisher(spec.level, topic, stats, spec.inflight)

            packet = connect_packet(client_id, username, spec.level, 120)
            client, outcome = await open_connection(
                make, spec.host, spec.port, packet, spec.connect_timeout_seconds
            )
            if client is None:
                failures[outcome.failure] += 1
                continue
            assert isinstance(client, Publisher)
            publishers.append(client)
            shared.connected.value += 1

    workers = min(spec.connect_concurrency, len(spec.clients))
    await asyncio.gather(*(worker() for _ in range(workers)))
    return publishers, failures


async def follow_phase(shared: Shared, stats: Stats) -> None:
    """Mirror the benchmark's phase into ``stats``; publish the acknowledged count."""
    while True:
        phase = shared.phase.value
        stats.sending = phase in (PHASE_PUBLISH, PHASE_MEASURE)
        stats.measuring = phase == PHASE_MEASURE
        shared.acknowledged.value = stats.acknowledged
        if phase >= PHASE_DRAIN:
            return
        await asyncio.sleep(PHASE_POLL_SECONDS)


async def pace(publishers: Sequence[Publisher], rate: float, stats: Stats) -> None:
    """Open-ish loop: ``rate`` messages a second in all, round robin over the devices; a
    message due on a device whose window is full goes to the next one, or is skipped."""
    started, scheduled, turn = time.perf_counter(), 0, 0
    count = len(publishers)
    while stats.sending:
        await asyncio.sleep(PACE_TICK_SECONDS)
        due = int((time.perf_counter() - started) * rate) - scheduled
        scheduled += due
        batch: Counter[int] = Counter()
        tried = 0
        while due and tried < count:
            index, turn = turn, (turn + 1) % count
            publisher = publishers[index]
            if not publisher.closed and publisher.room > batch[index]:
                batch[index] += 1
                due -= 1
                tried = 0
            else:
                tried += 1
        stats.skipped += due
        for index, n in batch.items():
            publishers[index].send(n)


async def generate(spec: GeneratorSpec, shared: Shared) -> dict[str, Any]:
    check_publish_template(spec.level)
    stats = Stats(closed_loop=spec.rate <= 0)
    publishers, failures = await connect_all(spec, stats, shared)
    shared.stage.value = STAGE_CONNECTED
    await wait_phase(shared, PHASE_PUBLISH, PHASE_POLL_SECONDS)
    follower = asyncio.create_task(follow_phase(shared, stats))
    stats.sending = True
    if stats.closed_loop:
        for publisher in publishers:
            publisher.send(publisher.inflight)
        await follower
    else:
        await asyncio.gather(follower, pace(publishers, spec.rate, stats))
    lost_while_publishing = Counter(p.close_reason for p in publishers if p.closed)
    await wait_until(
        lambda: not any(p.pending and not p.closed for p in publishers), DRAIN_LIMIT_SECONDS
    )
    shared.acknowledged.value = stats.acknowledged
    unacknowledged = sum(len(p.pending) for p in publishers)
    for publisher in publishers:
        publisher.disconnect()
    await wait_until(lambda: all(p.closed for p in publishers), 30)
    return {
        "connected": len(publishers),
        "connect_failures": dict(failures),
        "sent": stats.sent,
        "acknowledged": stats.acknowledged,
        "sent_measured": stats.sent_measured,
        "acknowledged_measured": stats.acknowledged_measured,
        "refused": {f"0x{code:02x}": n for code, n in stats.reasons.items() if code >= 0x80},
        "success_reasons": {f"0x{code:02x}": n for code, n in stats.reasons.items() if code < 0x80},
        "unknown_acks": stats.unknown_acks,
        "skipped": stats.skipped,
        "unacknowledged_at_end": unacknowledged,
        "lost_while_publishing": dict(lost_while_publishing),
        "latencies": stats.latencies,
    }


def generator_process(spec: GeneratorSpec, shared: Shared, results: Any) -> None:
    generator_entry(lambda: generate(spec, shared), shared, results)


# --- one run against one target --------------------------------------------------------------


@dataclass
class Target:
    """Where the load goes: a GridLinks server on some database, or Mosquitto."""

    label: str
    host: str
    port: int
    clients: list[tuple[str, str | None, str]]
    server_pids: set[int]
    database: str = ""
    server: RunningServer | None = None
    count_rows: Callable[[], Awaitable[int]] | None = None


@dataclass
class Result:
    label: str
    devices: int
    seconds: float = 0.0
    acknowledged: int = 0  # in the measured window (by arrival)
    stored_rows: int | None = None  # committed in the measured window
    stored_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    cpu: dict[str, Any] = field(default_factory=dict)
    generators: list[dict[str, Any]] = field(default_factory=list)
    storage_check: dict[str, Any] = field(default_factory=dict)
    server_exit_code: int | None = None
    server_log_problems: int = 0
    load_before: str = ""
    notes: list[str] = field(default_factory=list)

    def total(self, key: str) -> int:
        return sum(int(g.get(key, 0)) for g in self.generators)

    @property
    def acknowledged_per_second(self) -> float:
        return self.acknowledged / self.seconds if self.seconds else 0.0

    @property
    def stored_per_second(self) -> float | None:
        if self.stored_rows is None or not self.stored_seconds:
            return None
        return self.stored_rows / POINTS_PER_MESSAGE / self.stored_seconds

    @property
    def server_cpu_ms_per_message(self) -> float:
        seconds = self.cpu.get("cpu_seconds", {}).get("server", 0.0)
        return 1000 * seconds / self.acknowledged if self.acknowledged else 0.0

    @property
    def p99_ms(self) -> float:
        return latency_summary(self.latencies)["p99"]

    def refused(self) -> Counter[str]:
        return self.reasons("refused")

    def reasons(self, kind: str) -> Counter[str]:
        """PUBACK reason codes other than 0: "refused" (0x80 and up) or "success_reasons"."""
        total: Counter[str] = Counter()
        for g in self.generators:
            total.update(g.get(kind, {}))
        return total

    def problems(self) -> list[str]:
        found = []
        failures: Counter[str] = Counter()
        lost: Counter[str] = Counter()
        for g in self.generators:
            failures.update(g.get("connect_failures", {}))
            lost.update(g.get("lost_while_publishing", {}))
        if failures:
            found.append(f"{sum(failures.values())} connections failed: {dict(failures)}")
        if lost:
            found.append(f"{sum(lost.values())} connections were lost: {dict(lost)}")
        if self.refused():
            found.append(f"messages refused (PUBACK reason): {dict(self.refused())}")
        if self.total("unacknowledged_at_end"):
            found.append(f"{self.total('unacknowledged_at_end')} messages never acknowledged")
        if self.storage_check and not self.storage_check.get("ok"):
            found.append(f"stored rows do not match: {self.storage_check}")
        if self.server_exit_code not in (None, 0):
            found.append(f"the server exited with {self.server_exit_code} (expected 0)")
        return [f"{self.label}: {problem}" for problem in found]

    def to_json(self) -> dict[str, Any]:
        stored = self.stored_per_second
        return {
            "target": self.label,
            "devices": self.devices,
            "measured_seconds": round(self.seconds, 2),
            "messages_acknowledged": self.acknowledged,
            "messages_acknowledged_per_second": round(self.acknowledged_per_second, 1),
            "messages_stored_per_second": None if stored is None else round(stored, 1),
            "rows_stored_in_window": self.stored_rows,
            "puback_latency_ms": latency_summary(self.latencies),
            "latency_samples": len(self.latencies),
            "server_cpu_ms_per_message": round(self.server_cpu_ms_per_message, 3),
            "cpu": self.cpu,
            "sent_total": self.total("sent"),
            "acknowledged_total": self.total("acknowledged"),
            "skipped_window_full": self.total("skipped"),
            "refused": dict(self.refused()),
            "puback_success_reasons_other_than_0": dict(self.reasons("success_reasons")),
            "unacknowledged_at_end": self.total("unacknowledged_at_end"),
            "storage_check": self.storage_check,
            "server_exit_code": self.server_exit_code,
            "server_log_warning_or_error_lines": self.server_log_problems,
            "load_average_before": self.load_before,
            "notes": self.notes,
        }


def generator_specs(target: Target, args: argparse.Namespace) -> list[GeneratorSpec]:
    processes = min(args.clients_processes, len(target.clients))
    return [
        GeneratorSpec(
            host=target.host,
            port=target.port,
            level=args.protocol,
            clients=target.clients[i::processes],
            inflight=args.inflight,
            rate=args.rate / processes,
            connect_concurrency=args.connect_concurrency,
            connect_timeout_seconds=60.0,
        )
        for i in range(processes)
    ]


def acknowledged_so_far(generators: Sequence[GeneratorProcess]) -> int:
    return sum(g.shared.acknowledged.value for g in generators)


async def publish_for(seconds: float, what: str, generators: Sequence[GeneratorProcess]) -> None:
    """Let the generators publish for ``seconds``; a progress line every second."""
    started = time.perf_counter()
    last_count, last_time = acknowledged_so_far(generators), started
    while (elapsed := time.perf_counter() - started) < seconds:
        await asyncio.sleep(min(1.0, seconds - elapsed))
        for g in generators:
            if not g.process.is_alive():
                raise BenchError(f"load generator {g.pid} died (exit {g.process.exitcode})")
        now, count = time.perf_counter(), acknowledged_so_far(generators)
        log(
            f"  {what}: {now - started:4.0f}/{seconds:.0f} s, "
            f"{(count - last_count) / (now - last_time):7.0f} acks/s"
        )
        last_count, last_time = count, now


async def timed_count(target: Target) -> tuple[int, float] | None:
    """Rows in ts_kv and the moment (midpoint of the query) they were counted."""
    if target.count_rows is None:
        return None
    before = time.perf_counter()
    rows = await target.count_rows()
    return rows, (before + time.perf_counter()) / 2


async def run_load(target: Target, args: argparse.Namespace) -> Result:
    """Connect, warm up, measure, drain: the part every target shares."""
    result = Result(target.label, len(target.clients))
    # Before connecting: idle connections would reach their keep-alive limit meanwhile.
    await wait_until_quiet(args.wait_quiet)
    phase, generators = spawn_generators(generator_process, generator_specs(target, args))
    try:
        log(
            f"  connecting {len(target.clients)} devices "
            f"({len(generators)} generator process(es): "
            f"{', '.join(str(g.pid) for g in generators)})"
        )

        def progress() -> str:
            done = sum(g.shared.connected.value for g in generators)
            return f"  connected {done}/{len(target.clients)}"

        await wait_for_stage(generators, STAGE_CONNECTED, 600, progress)
        result.load_before = load_average()
        groups = {
            "server": pids(target.server_pids),
            "generator": pids([g.pid for g in generators]),
            "database": postgres_backends_of(target.database),
            "bench": pids([os.getpid()]),
        }
        phase.value = PHASE_PUBLISH
        await publish_for(args.warmup_seconds, "warm-up", generators)
        first = await timed_count(target)
        main_pid = target.server.pid if target.server else 0
        meter = CpuMeter(groups, threads_of=main_pid)
        started, acknowledged = time.perf_counter(), acknowledged_so_far(generators)
        phase.value = PHASE_MEASURE
        server = target.server.server if target.server else None
        if server is not None:
            async with profiled(server, f"telemetry-{args.protocol}"):
                await publish_for(args.seconds, "measuring", generators)
        else:
            await publish_for(args.seconds, "measuring", generators)
        phase.value = PHASE_DRAIN
        result.seconds = time.perf_counter() - started
        result.acknowledged = acknowledged_so_far(generators) - acknowledged
        result.cpu = meter.usage()
        last = await timed_count(target)
        if first is not None and last is not None:
            result.stored_rows = last[0] - first[0]
            result.stored_seconds = last[1] - first[1]
        log("  draining: waiting for outstanding PUBACKs, then disconnecting")
        result.generators = await collect_results(generators, DRAIN_LIMIT_SECONDS + 120)
    finally:
        stop_generators(generators)
    for g in result.generators:
        result.latencies.extend(g.pop("latencies"))
    note = disturbance(result.cpu, f"{target.label} measured window")
    if note:
        result.notes.append(note)
    generator_cpu = result.cpu.get("generator_cpu_percent", 0.0)
    if generator_cpu >= GENERATOR_BOUND_PERCENT * len(generators):
        result.notes.append(
            f"the load generator used {generator_cpu:.0f}% of a core per process: this "
            "throughput is the generator's limit, the target may do more"
        )
    return result


async def run_gridlinks(args: argparse.Namespace) -> Result:
    run_id = datetime.now(UTC).strftime("%H%M%S") + secrets.token_hex(2)
    data_dir = Path(tempfile.mkdtemp(prefix="gridlinks-bench-mqtt-"))
    try:
        async with database_for(args) as (label, database_url, database):
            log(f"== GridLinks on {label}: server data in {data_dir}")
            env = server_env(data_dir, database_url, dict(args.server_env))
            platform_ = platform_for(env)  # provisioning and counting rows
            try:
                started = time.perf_counter()
                devices = await provision_devices(platform_, args.devices, run_id)
                log(
                    f"  {len(devices)} devices with access tokens inserted in "
                    f"{time.perf_counter() - started:.1f} s"
                )
                rows_at_start = await count_telemetry_rows(platform_)
                profile_to = args.profile / label if args.profile else None
                server = await start_mqtt_server(env, data_dir / "server.log", profile_to)
                log(f"  server pid {server.pid}, MQTT on {server.mqtt_host}:{server.mqtt_port}")
                target = Target(
                    label,
                    server.mqtt_host,
                    server.mqtt_port,
                    [(f"bench-{i}", d.token, TELEMETRY_TOPIC) for i, d in enumerate(devices)],
                    set(children_of(server.pid)),
                    database,
                    server,
                    lambda: count_telemetry_rows(platform_),
                )
                try:
                    result = await run_load(target, args)
                except BenchError:
                    log("  server log (last lines):\n" + server.server.log_tail())
                    raise
                finally:
                    exit_code = await stop_mqtt_server(server)
                result.server_exit_code = exit_code
                result.server_log_problems = count_log_problems(data_dir / "server.log")
                stored = await count_telemetry_rows(platform_) - rows_at_start
            finally:
                await platform_.close()
            acknowledged_ok = result.total("acknowledged") - sum(result.refused().values())
            expected = acknowledged_ok * POINTS_PER_MESSAGE
            unacknowledged = result.total("unacknowledged_at_end")
            result.storage_check = {
                "rows_stored": stored,
                "messages_acknowledged": acknowledged_ok,
                "expected_rows": expected,
                # Messages never acknowledged may or may not have been stored.
                "ok": expected <= stored <= expected + unacknowledged * POINTS_PER_MESSAGE,
            }
            return result
    finally:
        if args.keep:
            log(f"  kept {data_dir} (--keep)")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


async def run_mosquitto(args: argparse.Namespace) -> Result | None:
    host, port = args.mosquitto.rsplit(":", 1)
    try:
        _, writer = await asyncio.open_connection(host, int(port))
        writer.close()
    except OSError as exc:
        log(f"== Mosquitto on {args.mosquitto} is not reachable ({exc}): skipped")
        return None
    log(f"== Mosquitto on {args.mosquitto}")
    run_id = secrets.token_hex(3)
    target = Target(
        "mosquitto",
        host,
        int(port),
        [(f"bench-{run_id}-{i}", None, f"bench/{i}/telemetry") for i in range(args.devices)],
        process_pids_named("mosquitto"),
    )
    return await run_load(target, args)


# --- output ----------------------------------------------------------------------------------

COLUMNS = (
    ("target", 10),
    ("devices", 8),
    ("acked", 9),
    ("acked/s", 9),
    ("stored/s", 9),
    ("p50 ms", 8),
    ("p90 ms", 8),
    ("p99 ms", 8),
    ("max ms", 8),
    ("srv ms/msg", 11),
    ("server%", 8),
    ("gen%", 6),
    ("db%", 5),
    ("other%", 7),
)


def row(result: Result) -> list[object]:
    lat, cpu, stored = latency_summary(result.latencies), result.cpu, result.stored_per_second
    return [
        result.label,
        result.devices,
        result.acknowledged,
        f"{result.acknowledged_per_second:.0f}",
        "-" if stored is None else f"{stored:.0f}",
        f"{lat['p50']:.1f}",
        f"{lat['p90']:.1f}",
        f"{lat['p99']:.1f}",
        f"{lat['max']:.1f}",
        f"{result.server_cpu_ms_per_message:.3f}",
        f"{cpu.get('server_cpu_percent', 0):.0f}",
        f"{cpu.get('generator_cpu_percent', 0):.0f}",
        f"{cpu.get('database_cpu_percent', 0):.0f}",
        f"{cpu.get('other_cpu_percent', 0):.0f}",
    ]


def print_report(results: Sequence[Result], args: argparse.Namespace) -> None:
    print()
    print(
        f"GridLinks MQTT telemetry benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{machine_line()}, commit {source_state()}"
    )
    load = f"paced at {args.rate:.0f} msg/s in all" if args.rate else "as fast as the window allows"
    print(
        f"{args.devices} devices, MQTT level {args.protocol}, QoS 1, {POINTS_PER_MESSAGE} points "
        f"per message, in-flight window {args.inflight} per connection, {load}; "
        f"{args.warmup_seconds:.0f} s warm-up, {args.seconds:.0f} s measured; "
        f"{args.clients_processes} generator process(es)"
    )
    print(
        "acked/s = PUBACKs (reason 0) a second in the window; stored/s = ts_kv rows committed "
        "in the window / 2; latency = PUBLISH written -> PUBACK read; srv ms/msg = server CPU "
        "per message. CPU in % of one core: server (mosquitto for its row), gen = load "
        "generator(s), db = PostgreSQL backends, other = the rest of the machine"
    )
    print()
    print(table(COLUMNS, [row(r) for r in results]))
    print()
    broker = next((r for r in results if r.label == "mosquitto"), None)
    for result in results:
        if result is broker:
            continue
        check = result.storage_check
        print(
            f"{result.label}: storage check: {check.get('rows_stored')} rows stored, "
            f"{check.get('messages_acknowledged')} messages acknowledged x {POINTS_PER_MESSAGE} = "
            f"{check.get('expected_rows')}: {'OK' if check.get('ok') else 'MISMATCH'}; "
            f"server exit code {result.server_exit_code}; server log warning/error lines "
            f"{result.server_log_problems}"
        )
        cpu = result.cpu
        if "main_thread_cpu_percent" in cpu:
            print(
                f"{result.label}: server CPU {cpu['server_cpu_percent']:.0f}% of a core = event "
                f"loop thread {cpu['main_thread_cpu_percent']:.0f}% + other threads (database "
                f"driver) {cpu['other_threads_cpu_percent']:.0f}%"
            )
        stored = result.stored_per_second or 0.0
        met = stored >= AIM_STORED_PER_SECOND and result.p99_ms <= AIM_P99_MS
        print(
            f"{result.label}: aim >= {AIM_STORED_PER_SECOND:,.0f} msg/s stored with PUBACK p99 "
            f"<= {AIM_P99_MS:.0f} ms: {'met' if met else 'NOT met'} ({stored:,.0f} msg/s, p99 "
            f"{result.p99_ms:.1f} ms)"
        )
        if broker is not None and broker.acknowledged_per_second:
            print(
                f"{result.label}: GridLinks / Mosquitto throughput = "
                f"{result.acknowledged_per_second / broker.acknowledged_per_second:.3f} "
                f"(p99 {result.p99_ms:.1f} ms vs {broker.p99_ms:.1f} ms)"
            )
    for result in results:
        if result.total("skipped"):
            print(
                f"{result.label}: {result.total('skipped')} paced messages were not sent because "
                "the device's window was full (the target could not keep up with --rate)"
            )
        for note in result.notes:
            print(f"{result.label}: note: {note}")


def write_json(path: Path, results: Sequence[Result], args: argparse.Namespace) -> None:
    document = {
        "benchmark": "mqtt-telemetry",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": source_state(),
        "machine": {
            "cpus": os.cpu_count(),
            "cpu": cpu_model(),
            "python": platform.python_version(),
        },
        "options": {
            key: (str(value) if isinstance(value, Path) else value)
            for key, value in vars(args).items()
        },
        "aim": {"stored_per_second": AIM_STORED_PER_SECOND, "p99_ms": AIM_P99_MS},
        "results": [r.to_json() for r in results],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    log(f"results written to {path}")


# --- command line ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench mqtt-telemetry",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--devices", type=positive, default=1000, help="devices (1000)")
    parser.add_argument(
        "--inflight", type=positive, default=10, help="unacknowledged messages per device (10)"
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds (30)")
    parser.add_argument(
        "--warmup-seconds", type=float, default=5.0, help="publishing before measuring (5)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="messages a second in all (paced); 0 = as fast as the window allows (0)",
    )
    parser.add_argument(
        "--protocol", type=int, choices=(4, 5), default=5, help="MQTT level: 4 = 3.1.1, 5 (5)"
    )
    parser.add_argument(
        "--clients-processes", type=positive, default=1, help="load generator processes (1)"
    )
    parser.add_argument(
        "--connect-concurrency", type=positive, default=100, help="devices connecting at once"
    )
    parser.add_argument(
        "--mosquitto", default="127.0.0.1:1883", metavar="HOST:PORT", help="(%(default)s)"
    )
    parser.add_argument(
        "--skip-mosquitto", action="store_true", help="do not run the load against Mosquitto"
    )
    parser.add_argument(
        "--skip-gridlinks", action="store_true", help="only run the load against Mosquitto"
    )
    add_server_options(
        parser,
        phase="publishing",
        server_env_example=", e.g. GRIDLINKS_TELEMETRY_BATCH_MAX_DELAY_MS=2",
    )
    return parse_with_profile_dir(parser, argv)


async def main_async(args: argparse.Namespace) -> int:
    results = []
    if not args.skip_gridlinks:
        results.append(await run_gridlinks(args))
    if not args.skip_mosquitto:
        broker = await run_mosquitto(args)
        if broker is not None:
            results.append(broker)
    print_report(results, args)
    if args.json:
        write_json(args.json, results, args)
    problems = [problem for result in results for problem in result.problems()]
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    raise_open_files_limit()  # inherited by the server and the generators
    try:
        return int(run_async(main_async(args)))
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
