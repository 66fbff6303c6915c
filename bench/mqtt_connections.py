"""MQTT connections benchmark: how many token-authenticated devices one GridLinks process holds,
how fast they connect, and what each costs the server in memory.

It starts a real ``gridlinks serve`` (fresh SQLite data directory or PostgreSQL database, loopback
ports chosen by the system), inserts N devices with access tokens in bulk, and starts a load
generator in its own process, which opens N MQTT connections over 127.0.0.1 (CONNECT with the
token as user name, keep-alive 120 s), waits for CONNACK 0 on each, and holds them all open for
``--hold-seconds`` (sending PINGREQ when a connection has been silent for 3/4 of its keep-alive).
Run it through ``scripts/bench mqtt-connections``.
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mqtt_common import (
    PINGREQ,
    STAGE_CONNECTED,
    STAGE_READY,
    BenchClient,
    BenchError,
    CpuMeter,
    GeneratorProcess,
    Shared,
    add_server_options,
    children_of,
    collect_results,
    connect_packet,
    count_log_problems,
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
    tree_rss_kib,
    wait_for_stage,
    wait_phase,
    wait_until,
    wait_until_quiet,
)

AIM_CONNECTIONS = 10_000
AIM_HOLD_SECONDS = 60.0
AIM_KIB_PER_CONNECTION = 10.0
# Phases the benchmark sets for the generator.
PHASE_CONNECT, PHASE_RELEASE = 1, 2
HOLD_PROGRESS_EVERY_SECONDS = 10.0
SETTLE_SECONDS = 2.0  # before reading RSS: let the server finish what the last step started

DESCRIPTION = """\
MQTT connections benchmark: N concurrent token-authenticated device connections to one
GridLinks process - connect rate, CONNACK latency, failures, and server memory per connection.

Steps: fresh server (SQLite in a temporary data directory unless --backend postgres or
--database-url); N devices with access tokens inserted in bulk (through the GridLinks tables and
domain types); a load generator in its own process opens --warmup-connections connections and
closes them (so that first-use costs are not counted per connection), then the benchmark reads
the server's RSS, the generator opens the N connections (at most --connect-concurrency at once),
each waiting for CONNACK 0, and holds them for --hold-seconds; RSS is read again at the end of the
hold. Memory per connection = (RSS held - RSS before) / connections, RSS being VmRSS of the
server process and its children (/proc/<pid>/status).

Aim (the MQTT transport issue): 10,000 concurrent token-authenticated devices held for a minute,
memory per connection <= 10 KB (taken as 10 KiB: VmRSS counts KiB).
"""

EPILOG = """\
CONNACK latency is from writing CONNECT to reading CONNACK (authentication: one read unit of
work); "connect p99" is from starting the TCP connect to CONNACK. Connections are opened as fast
as --connect-concurrency allows, so the connect rate is the server's limit, and latency includes
queueing behind the other connections being opened at the same time.

The generator shares the machine with the server: the table shows the CPU each used while
connecting (% of one core), and the report warns when other processes were busy.

Exit status: 0 when every connection was accepted and held, the server stopped with exit code
0, and the generator finished; 1 otherwise; 2 when the benchmark could not run.

examples:
  scripts/bench mqtt-connections                          # 10,000 connections held 60 s
  scripts/bench mqtt-connections --connections 2000 --hold-seconds 10
  scripts/bench mqtt-connections --protocol 4 --json out.json
  scripts/bench mqtt-connections --backend postgres       # fresh PostgreSQL database
"""


# --- the load generator (its own process) ----------------------------------------------------


@dataclass(frozen=True)
class GeneratorSpec:
    host: str
    port: int
    level: int
    keep_alive_seconds: int
    tokens: list[str]
    warmup: int
    concurrency: int
    connect_timeout_seconds: float


class HeldClient(BenchClient):
    """Keeps the generator's open-connection counter right when the server closes one."""

    def __init__(self, level: int, shared: Shared) -> None:
        super().__init__(level)
        self.shared = shared
        self.accepted = False

    def on_lost(self) -> None:
        if self.accepted:
            self.shared.connected.value -= 1


async def open_many(
    spec: GeneratorSpec, shared: Shared, first: int, count: int, counting: bool
) -> tuple[list[HeldClient], Counter[str], array.array[float], array.array[float], float]:
    """Open ``count`` connections (tokens ``first..``) with ``spec.concurrency`` workers."""
    clients: list[HeldClient] = []
    failures: Counter[str] = Counter()
    connect_latency, connack_latency = array.array("d"), array.array("d")
    indexes = iter(range(first, first + count))

    def make() -> HeldClient:
        return HeldClient(spec.level, shared)

    async def worker() -> None:
        for i in indexes:
            packet = connect_packet(
                f"mqtt-bench-{i}", spec.tokens[i], spec.level, spec.keep_alive_seconds
            )
            client, outcome = await open_connection(
                make, spec.host, spec.port, packet, spec.connect_timeout_seconds
            )
            if client is None:
                failures[outcome.failure] += 1
                continue
            assert isinstance(client, HeldClient)
            client.accepted = counting
            if counting:
                shared.connected.value += 1
            clients.append(client)
            connect_latency.append(outcome.connect_seconds)
            connack_latency.append(outcome.connack_seconds)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(spec.concurrency, count))))
    return clients, failures, connect_latency, connack_latency, time.perf_counter() - started


async def close_all(clients: Sequence[BenchClient], limit_seconds: float = 30.0) -> None:
    for client in clients:
        client.disconnect()
    await wait_until(lambda: all(c.closed for c in clients), limit_seconds)


async def keep_alive(clients: Sequence[BenchClient], keep_alive_seconds: int) -> int:
    """PINGREQ on connections silent for 3/4 of the keep-alive; runs until cancelled."""
    sent = 0
    try:
        while keep_alive_seconds:
            await asyncio.sleep(1.0)
            silent_since = time.monotonic() - 0.75 * keep_alive_seconds
            for client in clients:
                if not client.closed and client.last_sent < silent_since:
                    client.write(PINGREQ)
                    sent += 1
    except asyncio.CancelledError:
        pass
    return sent


async def generate(spec: GeneratorSpec, shared: Shared) -> dict[str, Any]:
    warm, warm_failures, *_ = await open_many(spec, shared, 0, spec.warmup, counting=False)
    await close_all(warm)
    shared.stage.value = STAGE_READY
    await wait_phase(shared, PHASE_CONNECT)
    clients, failures, connect_latency, connack_latency, seconds = await open_many(
        spec, shared, 0, len(spec.tokens), counting=True
    )
    shared.stage.value = STAGE_CONNECTED
    pinger = asyncio.create_task(keep_alive(clients, spec.keep_alive_seconds))
    await wait_phase(shared, PHASE_RELEASE)
    pinger.cancel()
    pings_sent = await pinger
    dropped = Counter(c.close_reason for c in clients if c.closed)
    pings_answered = sum(c.pings_answered for c in clients)
    await close_all(clients)
    return {
        "warmup_failures": dict(warm_failures),
        "accepted": len(clients),
        "failures": dict(failures),
        "connect_seconds": seconds,
        "connect_latency": connect_latency,
        "connack_latency": connack_latency,
        "dropped_during_hold": dict(dropped),
        "pings_sent": pings_sent,
        "pings_answered": pings_answered,
        "not_closed": sum(1 for c in clients if not c.closed),
    }


def generator_process(spec: GeneratorSpec, shared: Shared, results: Any) -> None:
    generator_entry(lambda: generate(spec, shared), shared, results)


# --- one run ---------------------------------------------------------------------------------


@dataclass
class Run:
    backend: str
    connections: int
    protocol: int
    provision_seconds: float = 0.0
    generator: dict[str, Any] = field(default_factory=dict)
    rss_kib: dict[str, int] = field(default_factory=dict)
    connect_cpu: dict[str, Any] = field(default_factory=dict)
    hold_cpu: dict[str, Any] = field(default_factory=dict)
    hold_seconds: float = 0.0
    server_exit_code: int | None = None
    server_log_problems: int = 0
    load_before: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return int(self.generator.get("accepted", 0))

    @property
    def failed(self) -> int:
        return sum(self.generator.get("failures", {}).values())

    @property
    def dropped(self) -> int:
        return sum(self.generator.get("dropped_during_hold", {}).values())

    @property
    def connect_rate(self) -> float:
        seconds = self.generator.get("connect_seconds", 0.0)
        return self.accepted / seconds if seconds else 0.0

    @property
    def kib_per_connection(self) -> float:
        grown = self.rss_kib.get("held", 0) - self.rss_kib.get("before", 0)
        return grown / self.accepted if self.accepted else 0.0

    @property
    def server_cpu_ms_per_connection(self) -> float:
        seconds = self.connect_cpu.get("cpu_seconds", {}).get("server", 0.0)
        return 1000 * seconds / self.accepted if self.accepted else 0.0

    def aims(self) -> dict[str, bool]:
        return {
            "connections_held": (
                self.connections >= AIM_CONNECTIONS
                and self.accepted == self.connections
                and self.dropped == 0
                and self.hold_seconds >= AIM_HOLD_SECONDS
            ),
            "memory_per_connection": 0 < self.kib_per_connection <= AIM_KIB_PER_CONNECTION,
        }

    def problems(self) -> list[str]:
        found = []
        if self.failed:
            found.append(f"{self.failed} connections failed: {self.generator['failures']}")
        if self.dropped:
            found.append(
                f"{self.dropped} connections were closed during the hold: "
                f"{self.generator['dropped_during_hold']}"
            )
        if self.server_exit_code != 0:
            found.append(f"the server exited with {self.server_exit_code} (expected 0)")
        return found

    def to_json(self) -> dict[str, Any]:
        g = self.generator
        return {
            "backend": self.backend,
            "protocol_level": self.protocol,
            "connections": self.connections,
            "accepted": self.accepted,
            "failed": self.failed,
            "failures": g.get("failures", {}),
            "provision_seconds": round(self.provision_seconds, 2),
            "connect_seconds": round(g.get("connect_seconds", 0.0), 3),
            "connections_per_second": round(self.connect_rate, 1),
            "connack_latency_ms": latency_summary(g.get("connack_latency", [])),
            "connect_latency_ms": latency_summary(g.get("connect_latency", [])),
            "hold_seconds": round(self.hold_seconds, 1),
            "dropped_during_hold": g.get("dropped_during_hold", {}),
            "pings_sent": g.get("pings_sent", 0),
            "pings_answered": g.get("pings_answered", 0),
            "server_rss_kib": self.rss_kib,
            "server_kib_per_connection": round(self.kib_per_connection, 2),
            "server_cpu_ms_per_connection": round(self.server_cpu_ms_per_connection, 3),
            "connect_cpu": self.connect_cpu,
            "hold_cpu": self.hold_cpu,
            "server_exit_code": self.server_exit_code,
            "server_log_warning_or_error_lines": self.server_log_problems,
            "load_average_before": self.load_before,
            "aims_met": self.aims(),
            "notes": self.notes,
        }


async def hold(run: Run, server_pid: int, generator: GeneratorProcess, seconds: float) -> None:
    """Wait ``seconds`` with the connections open; a progress line every 10 s."""
    started = time.monotonic()
    next_line = started + HOLD_PROGRESS_EVERY_SECONDS
    while (elapsed := time.monotonic() - started) < seconds:
        if not generator.process.is_alive():
            raise BenchError(f"the load generator died (exit code {generator.process.exitcode})")
        if time.monotonic() >= next_line:
            log(
                f"  holding: {elapsed:.0f}/{seconds:.0f} s, "
                f"{generator.shared.connected.value} open, "
                f"server RSS {tree_rss_kib(server_pid) / 1024:.1f} MiB"
            )
            next_line += HOLD_PROGRESS_EVERY_SECONDS
        await asyncio.sleep(min(0.5, max(seconds - elapsed, 0.0)))
    run.hold_seconds = time.monotonic() - started


async def measure(
    run: Run, args: argparse.Namespace, server: Any, spec: GeneratorSpec, database: str
) -> None:
    phase, generators = spawn_generators(generator_process, [spec])
    (generator,) = generators
    try:
        log(f"  generator (pid {generator.pid}): {spec.warmup} warm-up connections")
        await wait_for_stage(generators, STAGE_READY, 300)
        await wait_until_quiet(args.wait_quiet)
        run.load_before = load_average()
        await asyncio.sleep(SETTLE_SECONDS)
        run.rss_kib["before"] = tree_rss_kib(server.pid)
        groups = {
            "server": pids(children_of(server.pid)),
            "generator": pids([generator.pid]),
            "database": postgres_backends_of(database),
        }
        meter = CpuMeter(groups, threads_of=server.pid)
        started = time.perf_counter()
        log(
            f"  opening {run.connections} connections (server RSS "
            f"{run.rss_kib['before'] / 1024:.1f} MiB)"
        )

        def progress() -> str:
            done = generator.shared.connected.value
            rate = done / (time.perf_counter() - started)
            return f"  connected {done}/{run.connections} ({rate:.0f}/s)"

        phase.value = PHASE_CONNECT
        async with profiled(server.server, "connect"):
            await wait_for_stage(generators, STAGE_CONNECTED, 600, progress)
        run.connect_cpu = meter.usage()
        log(progress())
        await asyncio.sleep(SETTLE_SECONDS)
        run.rss_kib["connected"] = tree_rss_kib(server.pid)
        hold_meter = CpuMeter(groups)
        log(
            f"  holding {generator.shared.connected.value} connections for "
            f"{args.hold_seconds:.0f} s"
        )
        await hold(run, server.pid, generator, args.hold_seconds)
        run.rss_kib["held"] = tree_rss_kib(server.pid)
        run.hold_cpu = hold_meter.usage()
        phase.value = PHASE_RELEASE
        (run.generator,) = await collect_results(generators, 120)
        await asyncio.sleep(SETTLE_SECONDS)
        run.rss_kib["after_close"] = tree_rss_kib(server.pid)
    finally:
        stop_generators(generators)


async def run_once(args: argparse.Namespace) -> Run:
    run_id = datetime.now(UTC).strftime("%H%M%S") + secrets.token_hex(2)
    data_dir = Path(tempfile.mkdtemp(prefix="gridlinks-bench-mqtt-"))
    try:
        async with database_for(args) as (label, database_url, database):
            run = Run(label, args.connections, args.protocol)
            log(f"== {label}: server data in {data_dir}")
            env = server_env(data_dir, database_url, dict(args.server_env))
            platform_ = platform_for(env)
            try:
                started = time.perf_counter()
                devices = await provision_devices(platform_, args.connections, run_id)
                run.provision_seconds = time.perf_counter() - started
            finally:
                await platform_.close()
            log(
                f"  {len(devices)} devices with access tokens inserted in "
                f"{run.provision_seconds:.1f} s"
            )
            profile_to = args.profile / label if args.profile else None
            server = await start_mqtt_server(env, data_dir / "server.log", profile_to)
            log(f"  server pid {server.pid}, MQTT on {server.mqtt_host}:{server.mqtt_port}")
            spec = GeneratorSpec(
                host=server.mqtt_host,
                port=server.mqtt_port,
                level=args.protocol,
                keep_alive_seconds=args.keep_alive,
                tokens=[d.token for d in devices],
                warmup=min(args.warmup_connections, args.connections),
                concurrency=args.connect_concurrency,
                connect_timeout_seconds=args.connect_timeout,
            )
            try:
                await measure(run, args, server, spec, database)
            except BenchError:
                log("  server log (last lines):\n" + server.server.log_tail())
                raise
            finally:
                run.server_exit_code = await stop_mqtt_server(server)
            run.server_log_problems = count_log_problems(data_dir / "server.log")
            note = disturbance(run.connect_cpu, "connect")
            if note:
                run.notes.append(note)
            return run
    finally:
        if args.keep:
            log(f"  kept {data_dir} (--keep)")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


# --- output ----------------------------------------------------------------------------------

COLUMNS = (
    ("backend", 9),
    ("conns", 7),
    ("failed", 7),
    ("seconds", 8),
    ("conn/s", 8),
    ("CONNACK p50", 12),
    ("p99", 8),
    ("max", 8),
    ("connect p99", 12),
    ("RSS before", 11),
    ("RSS held", 10),
    ("KiB/conn", 9),
    ("srv ms/conn", 12),
    ("server%", 8),
    ("gen%", 6),
    ("db%", 5),
    ("other%", 7),
)


def row(run: Run) -> list[object]:
    s = run.to_json()
    connack, connect, cpu = s["connack_latency_ms"], s["connect_latency_ms"], run.connect_cpu
    return [
        run.backend,
        run.accepted,
        run.failed,
        f"{s['connect_seconds']:.2f}",
        f"{run.connect_rate:.0f}",
        f"{connack['p50']:.1f} ms",
        f"{connack['p99']:.1f}",
        f"{connack['max']:.1f}",
        f"{connect['p99']:.1f} ms",
        f"{run.rss_kib.get('before', 0) / 1024:.1f} MiB",
        f"{run.rss_kib.get('held', 0) / 1024:.1f} MiB",
        f"{run.kib_per_connection:.2f}",
        f"{run.server_cpu_ms_per_connection:.3f}",
        f"{cpu.get('server_cpu_percent', 0):.0f}",
        f"{cpu.get('generator_cpu_percent', 0):.0f}",
        f"{cpu.get('database_cpu_percent', 0):.0f}",
        f"{cpu.get('other_cpu_percent', 0):.0f}",
    ]


def print_report(run: Run, args: argparse.Namespace) -> None:
    g = run.generator
    print()
    print(
        f"GridLinks MQTT connections benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{machine_line()}, commit {source_state()}"
    )
    print(
        f"{args.connections} connections, MQTT level {args.protocol}, token auth, keep-alive "
        f"{args.keep_alive} s, at most {args.connect_concurrency} connecting at once, held "
        f"{run.hold_seconds:.0f} s; load generator: 1 process; load average before: "
        f"{run.load_before}"
    )
    print(
        "CONNACK = CONNECT written -> CONNACK read; connect = TCP connect start -> CONNACK. "
        "srv ms/conn = server CPU per connection while connecting. CPU in % of one core while "
        "connecting: server, gen = load generator, db = PostgreSQL backends, other = the rest"
    )
    print()
    print(table(COLUMNS, [row(run)]))
    print()
    rss = run.rss_kib
    print(
        f"server RSS: before {rss.get('before', 0) / 1024:.1f} MiB, all connected "
        f"{rss.get('connected', 0) / 1024:.1f} MiB, end of hold {rss.get('held', 0) / 1024:.1f} "
        f"MiB, after closing {rss.get('after_close', 0) / 1024:.1f} MiB"
    )
    cpu = run.connect_cpu
    if "main_thread_cpu_percent" in cpu:
        print(
            f"server CPU while connecting: {cpu['server_cpu_percent']:.0f}% of a core = event "
            f"loop thread {cpu['main_thread_cpu_percent']:.0f}% + other threads (database driver) "
            f"{cpu['other_threads_cpu_percent']:.0f}%"
        )
    hold_cpu = run.hold_cpu
    print(
        f"during the hold: server {hold_cpu.get('server_cpu_percent', 0):.1f}% and generator "
        f"{hold_cpu.get('generator_cpu_percent', 0):.1f}% of a core; "
        f"{run.dropped} connections dropped; PINGREQ sent {g.get('pings_sent', 0)}, "
        f"PINGRESP {g.get('pings_answered', 0)}"
    )
    print(
        f"devices inserted in {run.provision_seconds:.1f} s; server exit code "
        f"{run.server_exit_code}; server log warning/error lines: {run.server_log_problems}"
    )
    aims = run.aims()
    print(
        f"aim {AIM_CONNECTIONS:,} connections held {AIM_HOLD_SECONDS:.0f} s: "
        f"{'met' if aims['connections_held'] else 'NOT met'} "
        f"({run.accepted:,} accepted, {run.dropped} dropped, {run.hold_seconds:.0f} s)"
    )
    print(
        f"aim <= {AIM_KIB_PER_CONNECTION:.0f} KiB server memory per connection: "
        f"{'met' if aims['memory_per_connection'] else 'NOT met'} "
        f"({run.kib_per_connection:.2f} KiB)"
    )
    for note in run.notes:
        print(f"note: {note}")


def write_json(path: Path, run: Run, args: argparse.Namespace) -> None:
    document = {
        "benchmark": "mqtt-connections",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": source_state(),
        "machine": {
            "cpus": os.cpu_count(),
            "cpu": cpu_model(),
            "python": platform.python_version(),
        },
        "options": {
            "connections": args.connections,
            "hold_seconds": args.hold_seconds,
            "protocol": args.protocol,
            "keep_alive": args.keep_alive,
            "connect_concurrency": args.connect_concurrency,
            "warmup_connections": args.warmup_connections,
            "server_env": dict(args.server_env),
        },
        "aim": {
            "connections": AIM_CONNECTIONS,
            "hold_seconds": AIM_HOLD_SECONDS,
            "kib_per_connection": AIM_KIB_PER_CONNECTION,
        },
        "run": run.to_json(),
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    log(f"results written to {path}")


# --- command line ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench mqtt-connections",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--connections", type=positive, default=10_000, help="devices = connections (10000)"
    )
    parser.add_argument(
        "--hold-seconds", type=float, default=60.0, help="how long to hold them open (60)"
    )
    parser.add_argument(
        "--protocol", type=int, choices=(4, 5), default=5, help="MQTT level: 4 = 3.1.1, 5 (5)"
    )
    parser.add_argument(
        "--keep-alive", type=int, default=120, help="CONNECT keep-alive in seconds (120)"
    )
    parser.add_argument(
        "--connect-concurrency",
        type=positive,
        default=200,
        help="connections being opened at once (200)",
    )
    parser.add_argument(
        "--connect-timeout", type=float, default=60.0, help="per connection, to CONNACK (60 s)"
    )
    parser.add_argument(
        "--warmup-connections",
        type=int,
        default=50,
        help="connections opened and closed before the RSS baseline (50)",
    )
    add_server_options(parser, phase="connecting")
    return parse_with_profile_dir(parser, argv)


async def main_async(args: argparse.Namespace) -> int:
    run = await run_once(args)
    print_report(run, args)
    if args.json:
        write_json(args.json, run, args)
    problems = run.problems()
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    limit = raise_open_files_limit()  # inherited by the server and the generator
    needed = args.connections + 200
    if limit < needed:
        print(
            f"bench: error: {args.connections} connections need about {needed} open files, "
            f"the limit is {limit} (ulimit -Hn)",
            file=sys.stderr,
        )
        return 2
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
