"""``gridlinks``: serve, init, create-sysadmin, demo. Run ``gridlinks --help`` for the details.

Each command imports what it needs when it runs: ``--help`` and ``--version`` must not load the
server (FastAPI, SQLAlchemy, uvicorn take seconds to import).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from gridlinks import __version__
from gridlinks.errors import GridLinksError

if TYPE_CHECKING:
    from gridlinks.config import Settings

    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

EPILOG = """First run:
  gridlinks init --demo    schema plus demo accounts and devices; prints the accounts and the
                           demo claim codes once (scripts/serve does this, then serve)
  gridlinks demo --show    the demo accounts (a password only while unchanged) and devices again
  gridlinks init && gridlinks create-sysadmin --email you@example.com
                           no demo data: just your own system administrator
Settings come from GRIDLINKS_* environment variables (or a .env file):
  GRIDLINKS_DATA_DIR       data directory (default ./gridlinks-data)
  GRIDLINKS_DATABASE_URL   postgresql://user@host:5432/db (default: SQLite in the data directory)
  GRIDLINKS_SECRET_KEY     server secret (required with PostgreSQL)
  GRIDLINKS_HTTP_HOST/PORT HTTP listener (default 0.0.0.0:8080; port 0 picks a free one)
  GRIDLINKS_MQTT_HOST/PORT MQTT device listener (default 0.0.0.0:1883; port 0 picks a free one)
  GRIDLINKS_MQTT_TLS_*     MQTT over TLS on 8883: CERT_FILE and KEY_FILE (CA_FILE: client certs)
  GRIDLINKS_MQTT_ENABLED   false: HTTP only on this node (e.g. another MQTT broker holds 1883)
  GRIDLINKS_REDIS_URL      redis://host:6379/0 to share rate limits and events between nodes
  GRIDLINKS_CLAIM_*        claiming: allow by default, default duration, brute-force limits
  GRIDLINKS_HTTP_HEADER_TIMEOUT_SECONDS / _BODY_TIMEOUT_SECONDS
                           slow HTTP clients are cut off after 10 s (head) / 30 s (body)
  GRIDLINKS_DATABASE_POOL_SIZE / _POOL_TIMEOUT_SECONDS
                           20 connections per node; waiting longer than 10 s for one -> 503
  GRIDLINKS_LOG_LEVEL / _LOG_FORMAT
                           INFO / text (json: one JSON object per line)
  GRIDLINKS_METRICS_ENABLED / _METRICS_TOKEN
                           Prometheus metrics at /metrics (true); a token makes it need
                           "Authorization: Bearer <token>". /healthz and /readyz are always on
See README.md, docs/deployment.md, docs/device-api.md and docs/claiming.md for the rest."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gridlinks",
        description="GridLinks: IoT devices that customers claim, with ThingsBoard's APIs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"gridlinks {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_serve(commands)
    _add_init(commands)
    _add_create_sysadmin(commands)
    _add_demo(commands)
    return parser


def _add_serve(commands: Commands) -> None:
    serve_cmd = commands.add_parser(
        "serve",
        help="run the HTTP API and the MQTT device transport (upgrades the schema first)",
        description="Run GridLinks (HTTP API and MQTT device transport) until SIGINT or "
        "SIGTERM. The schema is upgraded first unless --no-migrate is given. A port that is "
        "already taken stops start-up (exit code 2) with an error naming the setting to "
        "change; GRIDLINKS_MQTT_ENABLED=false runs HTTP only.",
    )
    serve_cmd.add_argument(
        "--no-migrate", action="store_true", help="do not upgrade the database schema on start"
    )
    # The command the operator typed (scripts/serve), for the taken-port hint.
    serve_cmd.add_argument("--launched-as", default=None, help=argparse.SUPPRESS)


def _add_init(commands: Commands) -> None:
    init_cmd = commands.add_parser(
        "init",
        help="create or upgrade the database schema (idempotent)",
        description="Create or upgrade the schema. With --demo, the first run on a database "
        "also adds the demo accounts and devices and prints the accounts and the demo "
        "devices' claim codes; later runs change nothing and say how to see them again "
        "(gridlinks demo --show). Safe to run again.",
    )
    init_cmd.add_argument(
        "--demo",
        action="store_true",
        help="first run only: add demo accounts (sysadmin/tenant/customer) and devices with "
        "claim codes",
    )


def _add_create_sysadmin(commands: Commands) -> None:
    admin_cmd = commands.add_parser(
        "create-sysadmin",
        help="create a system administrator",
        description="Create a system administrator (and the schema, if missing). The password "
        "is read from GRIDLINKS_ADMIN_PASSWORD or asked for on the terminal.",
    )
    admin_cmd.add_argument("--email", required=True, help="the administrator's e-mail")


def _add_demo(commands: Commands) -> None:
    demo_cmd = commands.add_parser(
        "demo",
        help="show the demo accounts and devices loaded by init --demo",
        description="Show the demo accounts and devices that `gridlinks init --demo` loaded. "
        "A demo password is shown only while it is still the account's password ('(changed)' "
        "otherwise). Claim codes are stored hashed, so they cannot be shown again: "
        "--new-codes gives the demo devices nobody has claimed yet new codes (valid 30 days) "
        "and prints them; their old codes stop working.",
    )
    demo_cmd.add_argument(
        "--show", action="store_true", help="print the demo accounts and devices (the default)"
    )
    demo_cmd.add_argument(
        "--new-codes",
        action="store_true",
        help="replace the claim codes of the unclaimed demo devices and print the new ones",
    )


# These log SQL with its parameters at INFO/DEBUG: device tokens and hashes would reach the log.
# (GRIDLINKS_DATABASE_ECHO still prints statements: the operator asked for them.)
# Alembic's plugin set-up lines say nothing to an operator; its "Running upgrade" lines stay.
_QUIET_LOGGERS = ("aiosqlite", "sqlalchemy", "asyncpg", "redis", "alembic.runtime.plugins")


def _configure_logging(settings: Settings) -> None:
    # One record, one line (text: control characters escaped; json: one object per line).
    from gridlinks.kit.logsetup import configure_logging

    configure_logging(settings.log_level, settings.log_format, _QUIET_LOGGERS)


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


def _run(args: argparse.Namespace, settings: Settings) -> None:
    # Imported here, not at the top: see the module docstring.
    if args.command == "serve":
        from gridlinks.cli.serve import serve

        run_fast(serve(settings, migrate=not args.no_migrate))
        return
    from gridlinks.cli import commands

    if args.command == "init":
        asyncio.run(commands.init(settings, args.demo))
    elif args.command == "create-sysadmin":
        asyncio.run(commands.create_sysadmin(settings, args.email))
    elif args.command == "demo":
        asyncio.run(commands.demo(settings, new_codes=args.new_codes))


def _print_error(args: argparse.Namespace, error: GridLinksError) -> None:
    from gridlinks.cli.hints import PortTakenError, command_name, port_hint

    print(f"gridlinks: error: {error.message}", file=sys.stderr)
    if isinstance(error, PortTakenError):
        command = args.launched_as or f"{command_name()} serve"
        print(f"gridlinks: {port_hint(error, command)}", file=sys.stderr)


def _load_settings() -> Settings:
    """The GRIDLINKS_* settings; a bad value is a ConfigurationError naming the variable (the
    value itself is not repeated: it may be a secret)."""
    from pydantic import ValidationError

    from gridlinks.config import Settings
    from gridlinks.errors import ConfigurationError

    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"GRIDLINKS_{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigurationError(f"bad setting: {problems}") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _load_settings()
        _configure_logging(settings)
        _run(args, settings)
    except GridLinksError as exc:
        _print_error(args, exc)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
