"""Claim benchmark: how many device claims a second one GridLinks process serves, and how fast.

For each database backend this starts a real ``gridlinks serve`` on a loopback port (a fresh
SQLite data directory, or a fresh PostgreSQL database that is dropped afterwards), sets up a tenant,
customers with one CUSTOMER_USER each and N devices over the REST API, has every device announce a
claim window over the device HTTP API, and then measures, with one logged-in ``httpx.AsyncClient``
per customer:

* ``POST /api/customer/device/{name}/claim``: every device claimed once by its customer;
* ``GET /api/auth/user``: the same number of requests, as a baseline for a cheap authenticated
  request; the ratio of the two rates says what claiming costs on top of the HTTP/auth stack.

The load generator is this process; the server is a separate one. Run it through ``scripts/bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
LISTENING = re.compile(r"GridLinks HTTP listening on (http://[\d.]+:\d+)")
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 30.0
REQUEST_TIMEOUT_SECONDS = 60.0
PROGRESS_EVERY_SECONDS = 5.0
CLAIM_WINDOW_MS = 3_600_000
PASSWORD = "bench-password-1"  # a throwaway account on a throwaway server
MEASURED = ("claim", "auth/user")  # the phases the benchmark is about
AIM_CLAIMS_PER_SECOND = 1000.0
AIM_P99_MS = 50.0
# Other processes busier than this (% of one core) during a measured phase make its figures
# unreliable: the report says so.
DISTURBED_OTHER_CPU_PERCENT = 15.0
# --wait-quiet: the machine counts as quiet after this many seconds below this busy % of a core.
QUIET_SECONDS = 3
QUIET_BUSY_PERCENT = 10.0

# Settings of the benchmarked server. Logins are not measured, so hashing is cheap; the per-user
# and per-address claim rate limits (30 and 120 a minute by default) would otherwise turn almost
# every claim into a 429 (the load generator's clients all come from 127.0.0.1).
SERVER_SETTINGS = {
    "GRIDLINKS_HTTP_HOST": "127.0.0.1",
    "GRIDLINKS_HTTP_PORT": "0",
    # Claims go over HTTP only; the default MQTT port 1883 is often held by another broker.
    "GRIDLINKS_MQTT_PORT": "0",
    "GRIDLINKS_MQTT_HOST": "127.0.0.1",
    "GRIDLINKS_LOG_LEVEL": "INFO",  # the "listening on" line is logged at INFO
    "GRIDLINKS_PASSWORD_HASH_TIME_COST": "1",
    "GRIDLINKS_PASSWORD_HASH_MEMORY_KIB": "1024",
    "GRIDLINKS_CLAIM_USER_ATTEMPTS_PER_MINUTE": "1000000000",
    "GRIDLINKS_CLAIM_ADDRESS_ATTEMPTS_PER_MINUTE": "0",
}

DESCRIPTION = """\
Claim benchmark: how many device claims a second one GridLinks process serves, and how fast.

Per backend it starts a fresh server (SQLite in a temporary data directory; PostgreSQL in a fresh
database gridlinks_bench_<timestamp> that is dropped at the end), creates a tenant, customers with
one user each and the devices over the REST API, opens a claim window on every device
(POST /api/v1/{token}/claim), then measures POST /api/customer/device/{name}/claim (each device
claimed once) and, as a baseline, GET /api/auth/user with the same customers and as many requests.
"""

EPILOG = """\
The benchmarked server runs with:
  {settings}
GRIDLINKS_CLAIM_USER_ATTEMPTS_PER_MINUTE and GRIDLINKS_CLAIM_ADDRESS_ATTEMPTS_PER_MINUTE=0 lift
the per-user and per-address claim rate limits (default 30 and 120 a minute), which a load test
would otherwise hit at once. Add or override settings with --server-env, e.g.
GRIDLINKS_LOG_LEVEL=WARNING to leave out the per-request log lines.

The load generator shares the machine with the server (and PostgreSQL); the table shows the CPU
each used during a phase, and warns when other processes were busy.

Exit status: 0 when the measured requests succeeded (failures <= --max-error-rate), 1 when not,
2 when the benchmark could not run (server did not start, set-up refused).

examples:
  scripts/bench                                   # SQLite and PostgreSQL, 4800 devices
  scripts/bench --backend sqlite --devices 1600   # quicker
  scripts/bench --json results.json --profile /tmp/prof   # also profile the server
""".format(settings="\n  ".join(f"{k}={v}" for k, v in SERVER_SETTINGS.items()))


# --- measurements ----------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (0.0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def read_machine_busy_seconds() -> float:
    """CPU seconds the machine's processes have used so far (user, nice and system time of all
    cores, from ``/proc/stat``; interrupts and steal time are not any process's)."""
    try:
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:4]]
    except OSError:
        return 0.0
    return sum(ticks) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Process:
    title: str  # command line (PostgreSQL backends show "postgres: ... user database ...")
    cpu_seconds: float


def read_processes() -> dict[int, Process]:
    """Every process's title and user + system CPU seconds so far (Linux ``/proc``)."""
    tick = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            cpu_seconds = (int(fields[11]) + int(fields[12])) / tick
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").strip()
            name = title.decode(errors="replace") or stat[stat.find("(") : stat.rfind(")") + 1]
            table[int(entry.name)] = Process(name[:70], cpu_seconds)
    return table


@dataclass
class CpuMeter:
    """CPU used during a phase by the server, this load generator, the PostgreSQL backends of
    the benchmark database, and everything else on the machine (naming the busiest others)."""

    server_pid: int
    database: str = ""  # PostgreSQL database name; "" for SQLite (it runs inside the server)
    start: dict[int, Process] = field(default_factory=dict)
    machine_start: float = 0.0

    def __post_init__(self) -> None:
        self.start, self.machine_start = read_processes(), read_machine_busy_seconds()

    def _is_database(self, process: Process) -> bool:
        return bool(self.database) and (
            process.title.startswith("postgres:") and f" {self.database} " in process.title
        )

    def usage(self, seconds: float) -> dict[str, Any]:
        """CPU of each part in percent of one core; ``other`` is the rest of the machine."""
        end, machine = read_processes(), read_machine_busy_seconds() - self.machine_start
        wall = max(seconds, 1e-9)
        server = client = database = 0.0
        others: list[tuple[float, str]] = []
        for pid, process in end.items():
            before = self.start.get(pid)
            used = process.cpu_seconds - (before.cpu_seconds if before else 0.0)
            if pid == self.server_pid:
                server = used
            elif pid == os.getpid():
                client = used
            elif self._is_database(process):
                database += used
            elif used > 0:
                others.append((used, process.title))
        others.sort(reverse=True)
        return {
            "server_cpu_percent": round(100 * server / wall, 1),
            "client_cpu_percent": round(100 * client / wall, 1),
            "database_cpu_percent": round(100 * database / wall, 1),
            "other_cpu_percent": round(
                100 * max(machine - server - client - database, 0) / wall, 1
            ),
            "busiest_other_processes": [
                f"{title} ({100 * used / wall:.0f}%)" for used, title in others[:3]
            ],
        }


@dataclass
class PhaseResult:
    """What one phase measured: counts by status, latencies, wall time, CPU usage."""

    name: str
    seconds: float
    latencies_ms: list[float]
    statuses: Counter[str]
    cpu: dict[str, Any] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    @property
    def errors(self) -> int:
        return self.requests - self.statuses.get("ok", 0)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms)
        return {
            "requests": self.requests,
            "errors": self.errors,
            "statuses": dict(self.statuses),
            "seconds": round(self.seconds, 3),
            "requests_per_second": round(self.rate, 1),
            "latency_ms": {
                "p50": round(percentile(ordered, 0.50), 2),
                "p90": round(percentile(ordered, 0.90), 2),
                "p99": round(percentile(ordered, 0.99), 2),
                "max": round(ordered[-1], 2) if ordered else 0.0,
                "mean": round(sum(ordered) / len(ordered), 2) if ordered else 0.0,
            },
            **self.cpu,
            "server_cpu_ms_per_request": round(self.server_cpu_ms_per_request, 2),
        }

    @property
    def server_cpu_ms_per_request(self) -> float:
        """Server CPU time per request: steadier than rates on a machine that is not quiet."""
        cpu_seconds = self.cpu.get("server_cpu_percent", 0.0) / 100 * self.seconds
        return 1000 * cpu_seconds / self.requests if self.requests else 0.0


# --- load ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request of a phase; ``client`` carries the caller's base URL and auth header."""

    client: httpx.AsyncClient
    method: str
    url: str
    body: dict[str, Any] | None = None


# Decides whether a response is the expected one; anything else is recorded by its status.
Check = Callable[[httpx.Response], bool]


def is_200(response: httpx.Response) -> bool:
    return response.status_code == 200


def is_claim_success(response: httpx.Response) -> bool:
    if response.status_code != 200:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("response") == "SUCCESS"


def status_label(response: httpx.Response, ok: bool) -> str:
    if ok:
        return "ok"
    if response.status_code == 200:
        return "200 (unexpected body)"
    return str(response.status_code)


@dataclass
class Recorder:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)


async def _lane(calls: Sequence[Call], check: Check, recorder: Recorder) -> None:
    """Send ``calls`` one after another: one request in flight per lane."""
    for call in calls:
        started = time.perf_counter()
        try:
            response = await call.client.request(call.method, call.url, json=call.body)
            label = status_label(response, check(response))
        except httpx.HTTPError as exc:
            label = type(exc).__name__
        recorder.latencies_ms.append((time.perf_counter() - started) * 1000)
        recorder.statuses[label] += 1


async def _report_progress(name: str, total: int, recorder: Recorder, started: float) -> None:
    while True:
        await asyncio.sleep(PROGRESS_EVERY_SECONDS)
        done = len(recorder.latencies_ms)
        rate = done / (time.perf_counter() - started)
        errors = done - recorder.statuses.get("ok", 0)
        log(f"  {name}: {done}/{total} ({100 * done / total:.0f}%), {rate:.0f}/s, errors {errors}")


def split_lanes(calls: Sequence[Call], lanes: int) -> list[Sequence[Call]]:
    """Lane ``i`` takes calls ``i, i+lanes, ...``. Calls are interleaved by customer, so with
    as many lanes as customers each lane is one customer."""
    return [calls[i::lanes] for i in range(min(lanes, len(calls)))]


async def run_phase(
    name: str, calls: Sequence[Call], check: Check, concurrency: int, meter: CpuMeter
) -> PhaseResult:
    """Send ``calls`` over ``concurrency`` lanes and measure them."""
    recorder = Recorder()
    started = time.perf_counter()
    progress = asyncio.create_task(_report_progress(name, len(calls), recorder, started))
    try:
        await asyncio.gather(
            *(_lane(lane, check, recorder) for lane in split_lanes(calls, concurrency))
        )
    finally:
        progress.cancel()
    seconds = time.perf_counter() - started
    return PhaseResult(
        name, seconds, recorder.latencies_ms, recorder.statuses, meter.usage(seconds)
    )


# --- the server ------------------------------------------------------------------------------


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def read_log(path: Path) -> str:
    return path.read_text(errors="replace")


@dataclass
class Server:
    """A running ``gridlinks serve`` and where it listens."""

    process: asyncio.subprocess.Process
    base_url: str
    log_path: Path
    profile_to: Path | None = None
    profiled_segments: int = 0

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(read_log(self.log_path).splitlines()[-lines:])


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
    if env["GRIDLINKS_HTTP_PORT"] == "0" and not logs_its_port(env):
        env["GRIDLINKS_HTTP_PORT"] = str(free_loopback_port())
    return env


def logs_its_port(env: dict[str, str]) -> bool:
    """Whether the server will log "listening on" (an INFO line) for port 0 to be found."""
    return env.get("GRIDLINKS_LOG_LEVEL", "INFO").upper() in ("DEBUG", "INFO")


def free_loopback_port() -> int:
    """A port free now (another process could take it before the server does: unlikely)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def gridlinks_command(*args: str, profile_to: Path | None = None) -> list[str]:
    """``python -m gridlinks.cli.main ARGS``, under the sampling profiler if ``profile_to``."""
    command = [sys.executable, "-m", "gridlinks.cli.main", *args]
    if profile_to is not None:
        sampler = str(Path(__file__).with_name("sampling_profiler.py"))
        command[1:2] = [sampler, str(profile_to), "-m"]
    return command


async def create_sysadmin(env: dict[str, str], email: str) -> None:
    """``gridlinks create-sysadmin`` (which creates the schema too)."""
    process = await asyncio.create_subprocess_exec(
        *gridlinks_command("create-sysadmin", "--email", email),
        env={**env, "GRIDLINKS_ADMIN_PASSWORD": PASSWORD},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise BenchError(f"gridlinks create-sysadmin failed:\n{output.decode(errors='replace')}")


async def start_server(env: dict[str, str], log_path: Path, profile_to: Path | None) -> Server:
    """``gridlinks serve``, its output in ``log_path``, once it listens."""
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            *gridlinks_command("serve", profile_to=profile_to),
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    port = env["GRIDLINKS_HTTP_PORT"]
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline and process.returncode is None:
        base_url = await listening_url(port, log_path)
        if base_url:
            return Server(process, base_url, log_path, profile_to)
        await asyncio.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    await process.wait()
    raise BenchError(
        f"gridlinks serve did not report its address (exit code {process.returncode}):\n"
        + read_log(log_path)
    )


async def listening_url(port: str, log_path: Path) -> str | None:
    """The server's URL once it listens: port 0 from its log line, else when it accepts."""
    if port == "0":
        found = LISTENING.search(read_log(log_path))
        return found.group(1) if found else None
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", int(port))
    except OSError:
        return None
    writer.close()
    return f"http://127.0.0.1:{port}"


async def stop_server(server: Server) -> None:
    """SIGTERM and wait (a profiled server writes its profile on the way out)."""
    if server.process.returncode is not None:
        return
    server.process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(server.process.wait(), STOP_TIMEOUT_SECONDS)
    except TimeoutError:
        server.process.kill()
        await server.process.wait()
        log(f"  warning: the server did not stop within {STOP_TIMEOUT_SECONDS:.0f} s; killed")


@contextlib.asynccontextmanager
async def profiled(server: Server, phase: str) -> AsyncIterator[None]:
    """Sample the server's stacks during the block (with ``--profile``; else nothing)."""
    if server.profile_to is None:
        yield
        return
    server.process.send_signal(signal.SIGUSR1)
    yield
    server.process.send_signal(signal.SIGUSR2)
    server.profiled_segments += 1
    written = Path(f"{server.profile_to}-{server.profiled_segments}")
    slug = re.sub(r"[^a-z0-9]+", "-", phase)
    for _ in range(200):
        if written.with_suffix(".txt").exists():
            for suffix in (".folded", ".txt"):
                target = Path(f"{server.profile_to}-{slug}{suffix}")
                written.with_suffix(suffix).rename(target)
            log(f"  server profile of {phase}: {server.profile_to}-{slug}.txt")
            return
        await asyncio.sleep(0.05)
    log(f"  warning: the server wrote no profile for {phase}")


@contextlib.asynccontextmanager
async def running_server(
    env: dict[str, str], data_dir: Path, profile_to: Path | None
) -> AsyncIterator[Server]:
    await create_sysadmin(env, "root@bench.test")
    server = await start_server(env, data_dir / "server.log", profile_to)
    try:
        yield server
    finally:
        await stop_server(server)


# --- databases -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    """Where one run stores its data: a label, the server's database URL, and cleanup."""

    label: str
    database_url: str  # "" = SQLite in the data directory

    @property
    def database_name(self) -> str:
        """The PostgreSQL database's name ("" for SQLite)."""
        if not self.database_url.startswith("postgres"):
            return ""
        return self.database_url.rsplit("/", 1)[1].split("?", 1)[0]


async def postgres_admin(admin_url: str, statement: str) -> None:
    """Run one statement (CREATE/DROP DATABASE) on the PostgreSQL server's ``postgres`` database."""
    try:
        connection = await asyncpg.connect(admin_url)
    except (OSError, asyncpg.PostgresError) as exc:
        raise BenchError(f"cannot connect to PostgreSQL at {admin_url}: {exc}") from None
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def fresh_postgres_database(server_url: str, keep: bool) -> AsyncIterator[str]:
    """A new database ``gridlinks_bench_<timestamp>`` on ``server_url``, dropped afterwards."""
    name = f"gridlinks_bench_{datetime.now(UTC):%Y%m%d_%H%M%S}_{secrets.token_hex(2)}"
    admin_url = f"{server_url.rstrip('/')}/postgres"
    await postgres_admin(admin_url, f'CREATE DATABASE "{name}"')
    log(f"  created PostgreSQL database {name}")
    try:
        yield f"{server_url.rstrip('/')}/{name}"
    finally:
        if keep:
            log(f"  kept PostgreSQL database {name} (--keep)")
        else:
            await postgres_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            log(f"  dropped PostgreSQL database {name}")


@contextlib.asynccontextmanager
async def backend_database(name: str, args: argparse.Namespace) -> AsyncIterator[Backend]:
    if args.database_url:
        yield Backend("custom", args.database_url)
    elif name == "sqlite":
        yield Backend("sqlite", "")
    else:
        async with fresh_postgres_database(args.postgres_server, args.keep) as url:
            yield Backend("postgres", url)


# --- data set-up over the REST API -----------------------------------------------------------


class BenchError(Exception):
    """The benchmark cannot go on (server did not start, set-up request refused, ...)."""


def bearer(token: str) -> dict[str, str]:
    return {"X-Authorization": f"Bearer {token}"}


async def expect_ok(
    client: httpx.AsyncClient, method: str, path: str, token: str = "", **kwargs: Any
) -> Any:
    headers = bearer(token) if token else {}
    response = await client.request(method, path, headers=headers, **kwargs)
    if response.status_code != 200:
        raise BenchError(f"{method} {path} answered {response.status_code}: {response.text[:500]}")
    if not response.content:
        return None
    if response.headers.get("content-type", "").startswith("application/json"):
        return response.json()
    return response.text


async def login(client: httpx.AsyncClient, email: str) -> str:
    body = await expect_ok(
        client, "POST", "/api/auth/login", json={"username": email, "password": PASSWORD}
    )
    return str(body["token"])


async def activate(client: httpx.AsyncClient, issuer_token: str, user: dict[str, Any]) -> None:
    """Set the new user's password through its activation link."""
    link = await expect_ok(
        client, "GET", f"/api/user/{user['id']['id']}/activationLink", issuer_token
    )
    activate_token = str(link).rsplit("activateToken=", 1)[1]
    await expect_ok(
        client,
        "POST",
        "/api/noauth/activate",
        json={"activateToken": activate_token, "password": PASSWORD},
    )


async def create_user(
    client: httpx.AsyncClient, issuer_token: str, email: str, owner: dict[str, Any]
) -> str:
    """Create and activate a user (``owner`` names authority and tenant or customer); its e-mail."""
    user = await expect_ok(
        client,
        "POST",
        "/api/user?sendActivationMail=false",
        issuer_token,
        json={"email": email, **owner},
    )
    await activate(client, issuer_token, user)
    return email


async def create_tenant_admin(client: httpx.AsyncClient, run_id: str) -> str:
    """A new tenant and its administrator, created by the sysadmin; the admin's token."""
    sysadmin = await login(client, "root@bench.test")
    tenant = await expect_ok(
        client, "POST", "/api/tenant", sysadmin, json={"title": f"Bench maker {run_id}"}
    )
    email = await create_user(
        client,
        sysadmin,
        f"maker-{run_id}@bench.test",
        {"authority": "TENANT_ADMIN", "tenantId": tenant["id"]},
    )
    return await login(client, email)


async def create_customer_users(
    client: httpx.AsyncClient, tenant_token: str, run_id: str, count: int
) -> list[str]:
    """``count`` customers with one CUSTOMER_USER each (in the built-in Customer Users group,
    which has CLAIM_DEVICES); their e-mails."""
    emails = []
    for index in range(count):
        customer = await expect_ok(
            client,
            "POST",
            "/api/customer",
            tenant_token,
            json={"title": f"Bench customer {index:02d} {run_id}"},
        )
        owner = {"authority": "CUSTOMER_USER", "customerId": customer["id"]}
        email = f"buyer-{index:02d}-{run_id}@bench.test"
        emails.append(await create_user(client, tenant_token, email, owner))
    return emails


@dataclass(frozen=True)
class Device:
    name: str
    access_token: str
    secret_key: str


def make_devices(count: int, run_id: str) -> list[Device]:
    """Device ``i`` belongs to customer ``i % customers``: the list is interleaved by customer."""
    return [
        Device(f"bench-{run_id}-{i:06d}", secrets.token_urlsafe(15), secrets.token_urlsafe(9))
        for i in range(count)
    ]


def device_creations(tenant: httpx.AsyncClient, devices: Sequence[Device]) -> list[Call]:
    return [
        Call(
            tenant,
            "POST",
            f"/api/device?accessToken={d.access_token}",
            {"name": d.name, "type": "default"},
        )
        for d in devices
    ]


def announcements(anonymous: httpx.AsyncClient, devices: Sequence[Device]) -> list[Call]:
    return [
        Call(
            anonymous,
            "POST",
            f"/api/v1/{d.access_token}/claim",
            {"secretKey": d.secret_key, "durationMs": CLAIM_WINDOW_MS},
        )
        for d in devices
    ]


def claims(
    customers: Sequence[httpx.AsyncClient], devices: Sequence[Device], offset: int
) -> list[Call]:
    """Claim of ``devices[i]`` by customer ``(offset + i) % len(customers)``."""
    return [
        Call(
            customers[(offset + i) % len(customers)],
            "POST",
            f"/api/customer/device/{d.name}/claim",
            {"secretKey": d.secret_key},
        )
        for i, d in enumerate(devices)
    ]


def current_user_calls(customers: Sequence[httpx.AsyncClient], count: int) -> list[Call]:
    return [Call(customers[i % len(customers)], "GET", "/api/auth/user") for i in range(count)]


# --- one run ---------------------------------------------------------------------------------


@dataclass
class RunResult:
    backend: str
    phases: dict[str, PhaseResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    server_log_errors: int = 0

    def to_json(self) -> dict[str, Any]:
        claim, auth = self.phases.get("claim"), self.phases.get("auth/user")
        return {
            "backend": self.backend,
            "phases": {name: phase.summary() for name, phase in self.phases.items()},
            "claims_per_auth_user": round(claim.rate / auth.rate, 3) if claim and auth else None,
            "aim_met": aim_met(claim),
            "server_log_error_lines": self.server_log_errors,
            "notes": [*self.notes, *disturbances(self)],
        }


def aim_met(claim: PhaseResult | None) -> bool | None:
    if claim is None or not claim.requests:
        return None
    p99 = percentile(sorted(claim.latencies_ms), 0.99)
    return claim.rate >= AIM_CLAIMS_PER_SECOND and p99 <= AIM_P99_MS


def new_client(base_url: str, token: str = "", connections: int = 100) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        headers=bearer(token) if token else None,
        timeout=REQUEST_TIMEOUT_SECONDS,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


@dataclass
class Session:
    """One run against one server: runs the phases and keeps what they measured."""

    server: Server
    backend: Backend
    args: argparse.Namespace
    run: RunResult

    async def phase(
        self, name: str, calls: Sequence[Call], check: Check = is_200, *, kind: str = "measured"
    ) -> PhaseResult:
        """Run ``calls``. ``kind``: "measured" (reported; profiled with --profile),
        "set-up" (reported; any failure stops the run) or "warm-up" (not reported)."""
        concurrency = self.args.concurrency
        if kind == "measured":
            await wait_until_quiet(self.args.wait_quiet)
            async with profiled(self.server, name):
                result = await run_phase(name, calls, check, concurrency, self.cpu_meter())
        else:
            result = await run_phase(name, calls, check, concurrency, self.cpu_meter())
        if kind != "warm-up":
            self.record(result, must_succeed=kind == "set-up")
        return result

    def record(self, phase: PhaseResult, *, must_succeed: bool) -> None:
        self.run.phases[phase.name] = phase
        latency = phase.summary()["latency_ms"]
        log(
            f"  {phase.name}: {phase.requests} in {phase.seconds:.1f} s = {phase.rate:.0f}/s, "
            f"p50 {latency['p50']} ms, p99 {latency['p99']} ms, "
            f"errors {phase.errors} {dict(phase.statuses)}"
        )
        if must_succeed and phase.errors:
            raise BenchError(
                f"{phase.name}: {phase.errors} requests failed: {dict(phase.statuses)}"
            )

    def cpu_meter(self) -> CpuMeter:
        return CpuMeter(self.server.process.pid, self.backend.database_name)

    def client(self, token: str = "") -> httpx.AsyncClient:
        return new_client(self.server.base_url, token)


async def wait_until_quiet(limit_seconds: float) -> None:
    """Wait (at most ``limit_seconds``) until the machine has been idle for a few seconds:
    other processes' load would disturb the measurement."""
    deadline = time.monotonic() + limit_seconds
    quiet_seconds = 0
    while time.monotonic() < deadline and quiet_seconds < QUIET_SECONDS:
        before = read_machine_busy_seconds()
        await asyncio.sleep(1.0)
        busy_percent = 100 * (read_machine_busy_seconds() - before)
        quiet_seconds = quiet_seconds + 1 if busy_percent < QUIET_BUSY_PERCENT else 0
        if not quiet_seconds:
            log(f"  waiting for other processes to finish (machine busy {busy_percent:.0f}%)")
    if quiet_seconds < QUIET_SECONDS and limit_seconds > 0:
        log(f"  the machine did not go quiet within {limit_seconds:.0f} s: measuring anyway")


async def set_up(session: Session, devices: list[Device], run_id: str) -> list[str]:
    """Tenant, customers and devices; the customer users' e-mails."""
    async with session.client() as client:
        tenant_token = await create_tenant_admin(client, run_id)
        log(f"  creating {session.args.customers} customers with one user each")
        emails = await create_customer_users(client, tenant_token, run_id, session.args.customers)
    async with session.client(tenant_token) as tenant:
        log(f"  creating {len(devices)} devices")
        await session.phase("create devices", device_creations(tenant, devices), kind="set-up")
    return emails


async def claim_api_present(anonymous: httpx.AsyncClient, device: Device) -> bool:
    """Whether the server has the device claim endpoint (a 404 means it does not, yet)."""
    (call,) = announcements(anonymous, [device])
    response = await anonymous.post(call.url, json=call.body)
    return response.status_code != 404


async def announce(session: Session, devices: list[Device]) -> bool:
    """Open a claim window on every device; False when the server has no claim API yet."""
    async with session.client() as anonymous:
        if not await claim_api_present(anonymous, devices[0]):
            session.run.notes.append(
                "the server has no POST /api/v1/{token}/claim (404): claims skipped"
            )
            log(f"  warning: {session.run.notes[-1]}")
            return False
        await session.phase("announce", announcements(anonymous, devices[1:]), kind="set-up")
    return True


async def measure(
    session: Session, emails: list[str], devices: list[Device], with_claims: bool
) -> None:
    """Warm up, then measure claims and GET /api/auth/user with the logged-in customers."""
    warmup = session.args.warmup
    warm, rest = devices[:warmup], devices[warmup:]
    async with contextlib.AsyncExitStack() as stack:
        async with session.client() as anonymous:
            tokens = [await login(anonymous, email) for email in emails]
        customers = [await stack.enter_async_context(session.client(t)) for t in tokens]
        log(f"  warm-up: {len(warm)} claims and {len(warm)} GET /api/auth/user")
        if with_claims:
            await session.phase(
                "warm-up claims", claims(customers, warm, 0), is_claim_success, kind="warm-up"
            )
        await session.phase(
            "warm-up auth/user", current_user_calls(customers, len(warm)), kind="warm-up"
        )
        if with_claims:
            log(f"  measuring {len(rest)} claims")
            await session.phase("claim", claims(customers, rest, warmup), is_claim_success)
        log(f"  measuring {len(rest)} GET /api/auth/user")
        await session.phase("auth/user", current_user_calls(customers, len(rest)))


def count_log_errors(log_path: Path) -> int:
    text = log_path.read_text(errors="replace")
    return sum(1 for line in text.splitlines() if " ERROR " in line or "Traceback" in line)


async def run_backend(name: str, args: argparse.Namespace) -> RunResult:
    """One full run against a fresh server on backend ``name``."""
    run_id = datetime.now(UTC).strftime("%H%M%S") + secrets.token_hex(2)
    data_dir = Path(tempfile.mkdtemp(prefix=f"gridlinks-bench-{name}-"))
    devices = make_devices(args.devices, run_id)
    profile_to = args.profile / name if args.profile else None
    try:
        async with backend_database(name, args) as backend:
            run = RunResult(backend.label)
            log(f"== {backend.label}: server data in {data_dir}")
            env = server_env(data_dir, backend.database_url, dict(args.server_env))
            async with running_server(env, data_dir, profile_to) as server:
                log(f"  server listening on {server.base_url} (pid {server.process.pid})")
                session = Session(server, backend, args, run)
                try:
                    emails = await set_up(session, devices, run_id)
                    with_claims = await announce(session, devices)
                    await measure(session, emails, devices, with_claims)
                except BenchError:
                    log("  server log (last lines):\n" + server.log_tail())
                    raise
            run.server_log_errors = count_log_errors(data_dir / "server.log")
            return run
    finally:
        if args.keep:
            log(f"  kept {data_dir} (--keep)")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


# --- output ----------------------------------------------------------------------------------

COLUMNS = (
    ("backend", 9),
    ("phase", 15),
    ("requests", 9),
    ("errors", 7),
    ("req/s", 8),
    ("p50 ms", 8),
    ("p90 ms", 8),
    ("p99 ms", 8),
    ("max ms", 8),
    ("srv ms/req", 11),
    ("server%", 8),
    ("client%", 8),
    ("db%", 6),
    ("other%", 7),
)


def table_row(values: Sequence[object]) -> str:
    return "".join(
        f"{value!s:<{width}}" if i < 2 else f"{value!s:>{width}}"
        for i, (value, (_, width)) in enumerate(zip(values, COLUMNS, strict=True))
    )


def phase_row(backend: str, phase: PhaseResult) -> str:
    s = phase.summary()
    lat = s["latency_ms"]
    return table_row(
        (
            backend,
            phase.name,
            s["requests"],
            s["errors"],
            f"{s['requests_per_second']:.0f}",
            f"{lat['p50']:.1f}",
            f"{lat['p90']:.1f}",
            f"{lat['p99']:.1f}",
            f"{lat['max']:.1f}",
            f"{s['server_cpu_ms_per_request']:.2f}",
            f"{s['server_cpu_percent']:.0f}",
            f"{s['client_cpu_percent']:.0f}",
            f"{s['database_cpu_percent']:.0f}",
            f"{s['other_cpu_percent']:.0f}",
        )
    )


def print_report(runs: Sequence[RunResult], args: argparse.Namespace) -> None:
    print()
    print(f"GridLinks claim benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine_line()}")
    print(
        f"{args.customers} customers, {args.concurrency} concurrent requests, "
        f"{args.devices} devices ({args.warmup} claimed as warm-up)"
    )
    print(
        "srv ms/req = server CPU time per request. CPU in % of one core: server; client = this "
        "load generator; db = PostgreSQL backends of the benchmark database; other = everything "
        "else on the machine"
    )
    print()
    print(table_row([name for name, _ in COLUMNS]))
    for run in runs:
        for phase in run.phases.values():
            print(phase_row(run.backend, phase))
    print()
    for run in runs:
        summary = run.to_json()
        ratio = summary["claims_per_auth_user"]
        met = summary["aim_met"]
        verdict = "n/a" if met is None else ("met" if met else "NOT met")
        ratio_text = "n/a" if ratio is None else f"{ratio:.2f}"
        print(
            f"{run.backend}: claims/s / auth-user req/s = {ratio_text}; aim "
            f">= {AIM_CLAIMS_PER_SECOND:.0f} claims/s with p99 <= {AIM_P99_MS:.0f} ms: {verdict}"
        )
        for note in [*run.notes, *disturbances(run)]:
            print(f"{run.backend}: note: {note}")
        if run.server_log_errors:
            print(f"{run.backend}: the server logged {run.server_log_errors} error lines")
    print(
        "Server ran with GRIDLINKS_CLAIM_USER_ATTEMPTS_PER_MINUTE=1000000000 and "
        "GRIDLINKS_CLAIM_ADDRESS_ATTEMPTS_PER_MINUTE=0 (claim rate limits lifted)."
    )


def disturbances(run: RunResult) -> list[str]:
    """Warnings for measured phases during which other processes used much CPU."""
    return [
        f"{name}: other processes used {phase.cpu['other_cpu_percent']:.0f}% of a core meanwhile "
        f"(busiest: {', '.join(phase.cpu['busiest_other_processes']) or 'short-lived'}); "
        "its figures may be disturbed"
        for name, phase in run.phases.items()
        if name in MEASURED and phase.cpu.get("other_cpu_percent", 0) > DISTURBED_OTHER_CPU_PERCENT
    ]


def machine_line() -> str:
    return f"{os.cpu_count()} CPUs ({cpu_model()}), Python {platform.python_version()}"


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def git_commit() -> str:
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    return "unknown"


def write_json(path: Path, runs: Sequence[RunResult], args: argparse.Namespace) -> None:
    document = {
        "benchmark": "claim",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "machine": {
            "cpus": os.cpu_count(),
            "cpu": cpu_model(),
            "python": platform.python_version(),
        },
        "options": {
            "customers": args.customers,
            "devices": args.devices,
            "warmup": args.warmup,
            "concurrency": args.concurrency,
            "server_env": {**SERVER_SETTINGS, **dict(args.server_env)},
        },
        "aim": {"claims_per_second": AIM_CLAIMS_PER_SECOND, "p99_ms": AIM_P99_MS},
        "runs": [run.to_json() for run in runs],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    log(f"results written to {path}")


def failures(runs: Sequence[RunResult], max_error_rate: float) -> list[str]:
    problems = []
    for run in runs:
        if "claim" not in run.phases:
            problems.append(f"{run.backend}: claims were not measured")
        for name in MEASURED:
            phase = run.phases.get(name)
            if phase and phase.errors > max_error_rate * phase.requests:
                problems.append(
                    f"{run.backend}: {name}: {phase.errors} of {phase.requests} requests failed "
                    f"({dict(phase.statuses)})"
                )
    return problems


# --- command line ----------------------------------------------------------------------------


def server_setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.startswith("GRIDLINKS_"):
        raise argparse.ArgumentTypeError(f"expected GRIDLINKS_NAME=VALUE, got {text!r}")
    return name, value


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgres", "both"),
        default="both",
        help="database(s) to benchmark, one fresh server each (default: both)",
    )
    parser.add_argument(
        "--postgres-server",
        default="postgresql://root@127.0.0.1:5432",
        metavar="URL",
        help="PostgreSQL server (no database name) where a fresh database is created and "
        "dropped (default: %(default)s)",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="run once against this existing database instead (not created, not dropped); "
        "--backend is then ignored",
    )
    parser.add_argument(
        "--customers", type=positive, default=16, help="customers, one user each (default: 16)"
    )
    parser.add_argument(
        "--devices",
        type=positive,
        default=16 * 300,
        help="devices; each is claimed once, the first --warmup of them as warm-up (default: 4800)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=320,
        help="claims (and as many GET /api/auth/user) sent before measuring (default: 320)",
    )
    parser.add_argument(
        "--concurrency",
        type=positive,
        default=16,
        help="requests in flight; each lane is one customer's client (default: 16)",
    )
    parser.add_argument(
        "--max-error-rate",
        type=float,
        default=0.001,
        help="fail when more than this fraction of measured requests fail (default: 0.001)",
    )
    parser.add_argument(
        "--server-env",
        type=server_setting,
        action="append",
        default=[],
        metavar="GRIDLINKS_X=V",
        help="extra server setting (repeatable), e.g. GRIDLINKS_DATABASE_POOL_SIZE=20",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each measured phase, wait up to SECONDS for other processes on the machine "
        "to go idle (default: 0, do not wait)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="sample the server's stacks during each measured phase (bench/sampling_profiler.py); "
        "writes DIR/<backend>-<phase>.txt (hot spots) and .folded (flame graph input)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the data directory and PostgreSQL database"
    )
    args = parser.parse_args(argv)
    if not 0 <= args.warmup < args.devices:
        parser.error("--warmup must be at least 0 and less than --devices")
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    return args


def backends(args: argparse.Namespace) -> list[str]:
    if args.database_url:
        return ["custom"]
    return ["sqlite", "postgres"] if args.backend == "both" else [args.backend]


async def main_async(args: argparse.Namespace) -> int:
    runs = [await run_backend(name, args) for name in backends(args)]
    print_report(runs, args)
    if args.json:
        write_json(args.json, runs, args)
    problems = failures(runs, args.max_error_rate)
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import uvloop
    except ImportError:
        runner: Callable[[Any], int] = asyncio.run
    else:
        runner = uvloop.run
    try:
        return runner(main_async(args))
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
