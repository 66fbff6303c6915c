"""Telemetry writer micro-benchmark: messages and points a second through ``TelemetryWriter``.

No server and no transport: ``--connections`` coroutines stand in for device connections, each
writing its messages one after another and waiting for each to be committed (as an MQTT
connection does before PUBACK). What is measured is the shared path below the transports:
batching, the two ``executemany`` statements per batch, and the commit.

SQLite (a temporary file) by default. With ``--database-url postgresql://user@host:5432/db`` a
fresh database ``<db>_bench_<random>`` is created beside ``db`` and dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from gridlinks.bootstrap import Platform, build_platform
from gridlinks.config import Settings
from gridlinks.telemetry.domain import DataPoint

AIM_MESSAGES_PER_SECOND = 10_000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=100_000, help="messages in all")
    parser.add_argument(
        "--connections", type=int, default=500, help="concurrent writers (device connections)"
    )
    parser.add_argument("--devices", type=int, default=1000, help="distinct device ids")
    parser.add_argument(
        "--max-points", type=int, default=3, help="points per message: 1 to this (random)"
    )
    parser.add_argument("--batch-max-points", type=int, default=None, help="override setting")
    parser.add_argument("--batch-max-delay-ms", type=float, default=None, help="override setting")
    parser.add_argument(
        "--database-url",
        default="",
        help="PostgreSQL server database (a fresh database is made beside it); default SQLite",
    )
    return parser.parse_args(argv)


@contextlib.asynccontextmanager
async def bench_database(database_url: str, data_dir: Path) -> AsyncIterator[str]:
    """The URL to benchmark against: "" (SQLite in ``data_dir``) or a fresh PostgreSQL one."""
    if not database_url:
        yield ""
        return
    base = make_url(database_url)
    name = f"{base.database or 'postgres'}_bench_{secrets.token_hex(4)}"
    await _postgres_admin(database_url, f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        await _postgres_admin(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _postgres_admin(database_url: str, statement: str) -> None:
    url = make_url(database_url)
    try:
        connection = await asyncpg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            database=url.database or "postgres",
        )
    except (OSError, asyncpg.PostgresError) as exc:
        raise SystemExit(f"cannot connect to PostgreSQL at {url.host}:{url.port}: {exc}") from None
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def make_messages(args: argparse.Namespace) -> list[tuple[uuid.UUID, list[DataPoint]]]:
    """Every message up front, so that building them is not measured."""
    rng = random.Random(7)
    devices = [uuid.uuid4() for _ in range(args.devices)]
    base_ts = 1_700_000_000_000
    messages = []
    for i in range(args.messages):
        count = rng.randint(1, args.max_points)
        points = [
            DataPoint(f"k{j}", base_ts + i, round(rng.uniform(-50, 50), 2)) for j in range(count)
        ]
        messages.append((devices[i % len(devices)], points))
    return messages


async def run(platform: Platform, args: argparse.Namespace) -> tuple[int, int, float]:
    messages = make_messages(args)
    writer = platform.telemetry_writer
    await writer.start()

    async def connection(share: list[tuple[uuid.UUID, list[DataPoint]]]) -> None:
        for device_id, points in share:
            await writer.write(device_id, points)

    shares = [messages[i :: args.connections] for i in range(args.connections)]
    started = time.perf_counter()
    await asyncio.gather(*(connection(share) for share in shares))
    elapsed = time.perf_counter() - started
    return len(messages), sum(len(p) for _, p in messages), elapsed


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gridlinks-bench-") as tmp:
        async with bench_database(args.database_url, Path(tmp)) as url:
            overrides = {}
            if args.batch_max_points is not None:
                overrides["telemetry_batch_max_points"] = args.batch_max_points
            if args.batch_max_delay_ms is not None:
                overrides["telemetry_batch_max_delay_ms"] = args.batch_max_delay_ms
            settings = Settings(
                data_dir=Path(tmp),
                database_url=url,
                secret_key=secrets.token_urlsafe(48),
                _env_file=None,  # type: ignore[call-arg]
                **overrides,  # type: ignore[arg-type]
            )
            platform = build_platform(settings)
            try:
                await platform.migrate()
                messages, points, elapsed = await run(platform, args)
            finally:
                await platform.close()
    backend = "PostgreSQL" if args.database_url else "SQLite"
    rate = messages / elapsed
    print(
        f"{backend}: {messages} messages ({points} points) from {args.connections} connections "
        f"in {elapsed:.2f} s: {rate:,.0f} messages/s, {points / elapsed:,.0f} points/s "
        f"(batch <= {settings.telemetry_batch_max_points} points / "
        f"{settings.telemetry_batch_max_delay_ms} ms; {os.cpu_count()} CPUs)"
    )
    if rate < AIM_MESSAGES_PER_SECOND:
        print(f"below the aim of {AIM_MESSAGES_PER_SECOND:,} messages/s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
