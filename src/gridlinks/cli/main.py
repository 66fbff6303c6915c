"""``gridlinks``: serve, init, create-sysadmin. Run ``gridlinks --help`` for the details."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

from gridlinks import __version__
from gridlinks.bootstrap import build_platform
from gridlinks.cli.serve import serve
from gridlinks.config import Settings
from gridlinks.errors import GridLinksError
from gridlinks.provisioning.demo import seed_demo

EPILOG = """Settings come from GRIDLINKS_* environment variables (or a .env file):
  GRIDLINKS_DATA_DIR       data directory (default ./gridlinks-data)
  GRIDLINKS_DATABASE_URL   postgresql://user@host:5432/db (default: SQLite in the data directory)
  GRIDLINKS_SECRET_KEY     server secret (required with PostgreSQL)
  GRIDLINKS_HTTP_HOST/PORT HTTP listener (default 0.0.0.0:8080; port 0 picks a free one)
  GRIDLINKS_MQTT_HOST/PORT MQTT device listener (default 0.0.0.0:1883; port 0 picks a free one)
  GRIDLINKS_MQTT_TLS_*     MQTT over TLS on 8883: CERT_FILE and KEY_FILE (CA_FILE: client certs)
  GRIDLINKS_MQTT_ENABLED   false: HTTP only on this node
  GRIDLINKS_REDIS_URL      redis://host:6379/0 to share rate limits and events between nodes
  GRIDLINKS_CLAIM_*        claiming: allow by default, default duration, brute-force limits
  GRIDLINKS_HTTP_HEADER_TIMEOUT_SECONDS / _BODY_TIMEOUT_SECONDS
                           slow HTTP clients are cut off after 10 s (head) / 30 s (body)
  GRIDLINKS_DATABASE_POOL_SIZE / _POOL_TIMEOUT_SECONDS
                           20 connections per node; waiting longer than 10 s for one -> 503
See README.md, docs/device-api.md and docs/claiming.md for the rest."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gridlinks",
        description="GridLinks: IoT devices that customers claim, with ThingsBoard's APIs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"gridlinks {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    serve_cmd = commands.add_parser(
        "serve",
        help="run the HTTP API and the MQTT device transport (upgrades the schema first)",
        description="Run GridLinks (HTTP API and MQTT device transport) until SIGINT or "
        "SIGTERM. The schema is upgraded first unless --no-migrate is given. A port that is "
        "already taken stops start-up with an error naming the setting to change.",
    )
    serve_cmd.add_argument(
        "--no-migrate", action="store_true", help="do not upgrade the database schema on start"
    )
    init_cmd = commands.add_parser(
        "init",
        help="create or upgrade the database schema (idempotent)",
        description="Create or upgrade the schema. With --demo, also add the demo accounts "
        "and devices, and print claim codes for the demo devices that are still unclaimed "
        "(new codes on every run). Safe to run again.",
    )
    init_cmd.add_argument(
        "--demo",
        action="store_true",
        help="add demo accounts (sysadmin/tenant/customer) and devices with claim codes",
    )
    admin_cmd = commands.add_parser(
        "create-sysadmin",
        help="create a system administrator",
        description="Create a system administrator. The password is read from "
        "GRIDLINKS_ADMIN_PASSWORD or asked for on the terminal.",
    )
    admin_cmd.add_argument("--email", required=True, help="the administrator's e-mail")
    return parser


# These log SQL with its parameters at INFO/DEBUG: device tokens and hashes would reach the log.
# (GRIDLINKS_DATABASE_ECHO still prints statements: the operator asked for them.)
_QUIET_LOGGERS = ("aiosqlite", "sqlalchemy", "asyncpg", "redis")


def _configure_logging(settings: Settings) -> None:
    # One record, one line (text: control characters escaped; json: one object per line).
    from gridlinks.kit.logsetup import configure_logging

    configure_logging(settings.log_level, settings.log_format, _QUIET_LOGGERS)


async def _init(settings: Settings, demo: bool) -> None:
    platform = build_platform(settings)
    try:
        await platform.migrate()
        print("schema is up to date")
        if demo:
            async with platform.unit_of_work() as uow:
                summary = await seed_demo(
                    uow, platform.accounts, platform.devices, platform.attributes, platform.clock
                )
                await uow.commit()
            print("demo accounts (e-mail / password):")
            for what, email, password in summary.accounts:
                print(f"  {email:28} {password:10} {what}")
            if summary.claim_codes:
                print("unclaimed demo devices and their claim codes (new codes on every run;")
                print("sign in as customer@gridlinks.local and claim one):")
                for name, code in summary.claim_codes:
                    print(f"  {name:28} {code}")
    finally:
        await platform.close()


async def _create_sysadmin(settings: Settings, email: str) -> None:
    password = os.environ.get("GRIDLINKS_ADMIN_PASSWORD") or getpass.getpass("Password: ")
    platform = build_platform(settings)
    try:
        await platform.migrate()
        async with platform.unit_of_work() as uow:
            await platform.accounts.create_sys_admin(uow, email, password)
            await uow.commit()
        print(f"created system administrator {email}")
    finally:
        await platform.close()


def run_fast(main_coroutine: Coroutine[Any, Any, None]) -> None:
    """Run the server on uvloop when it is installed (it comes with uvicorn[standard]):
    ``asyncio.run`` would pick the default loop, and uvicorn's own loop choice does not apply
    to a loop we start."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is not available on every platform
        asyncio.run(main_coroutine)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main_coroutine)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
        _configure_logging(settings)
        if args.command == "serve":
            run_fast(serve(settings, migrate=not args.no_migrate))
        elif args.command == "init":
            asyncio.run(_init(settings, args.demo))
        elif args.command == "create-sysadmin":
            asyncio.run(_create_sysadmin(settings, args.email))
    except GridLinksError as exc:
        print(f"gridlinks: error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
