"""``gridlinks init``, ``create-sysadmin`` and ``demo``: one unit of work each over the platform.

Imported only when one of them runs (``gridlinks --help`` stays light).
"""

from __future__ import annotations

import getpass
import os
import time
from datetime import UTC, datetime

from gridlinks.bootstrap import Platform, build_platform
from gridlinks.cli.hints import command_name
from gridlinks.config import Settings
from gridlinks.provisioning.demo import (
    CUSTOMER_USER,
    DemoDevice,
    DemoReport,
    demo_report,
    issue_demo_codes,
    load_demo_once,
)


async def init(settings: Settings, demo: bool) -> None:
    """Create or upgrade the schema; with ``demo``, load the demo data on the first run."""
    platform = build_platform(settings)
    try:
        await platform.migrate()
        print("schema is up to date")
        if demo:
            await _load_demo(platform)
    finally:
        await platform.close()


async def _load_demo(platform: Platform) -> None:
    async with platform.unit_of_work() as uow:
        report = await load_demo_once(
            uow, platform.accounts, platform.devices, platform.attributes, platform.clock
        )
        await uow.commit()
    show = f"`{command_name()} demo --show`"
    if report is None:
        print(f"demo data was loaded on the first run; {show} shows the accounts again")
        return
    print("demo data loaded; the claim codes below are shown only now (they are stored hashed)")
    _print_accounts(report)
    _print_new_codes(report)
    print(f"{show} lists the demo accounts and devices again")


async def create_sysadmin(settings: Settings, email: str) -> None:
    password = os.environ.get("GRIDLINKS_ADMIN_PASSWORD") or getpass.getpass("Password: ")
    await add_sysadmin(settings, email, password)
    print(f"created system administrator {email}")


async def add_sysadmin(settings: Settings, email: str, password: str) -> None:
    """Create the schema if needed, then the system administrator ``email``."""
    platform = build_platform(settings)
    try:
        await platform.migrate()
        async with platform.unit_of_work() as uow:
            await platform.accounts.create_sys_admin(uow, email, password)
            await uow.commit()
    finally:
        await platform.close()


async def demo(settings: Settings, new_codes: bool) -> None:
    """Show the demo accounts and devices; with ``new_codes``, first replace the claim codes
    of the unclaimed demo devices (the only way to print a code again: they are hashed)."""
    platform = build_platform(settings)
    try:
        await platform.migrate()
        async with platform.unit_of_work() as uow:
            if new_codes:
                report = await issue_demo_codes(
                    uow, platform.accounts, platform.attributes, platform.clock
                )
            else:
                report = await demo_report(uow, platform.accounts)
            await uow.commit()
    finally:
        await platform.close()
    print(f"demo data loaded on {_when(report.loaded_ms)}")
    _print_accounts(report)
    if new_codes:
        _print_new_codes(report)
    else:
        _print_devices(report)


def _print_accounts(report: DemoReport) -> None:
    print("demo accounts (e-mail / password):")
    for account in report.accounts:
        password = account.password or ("(changed)" if account.exists else "(deleted)")
        print(f"  {account.email:28} {password:10} {account.role}")


def _print_new_codes(report: DemoReport) -> None:
    coded = [device for device in report.devices if device.claim_code]
    if not coded:
        print("no unclaimed demo devices: no claim codes to give")
        return
    until = _when(min(d.code_expires_ms or 0 for d in coded))
    print(f"unclaimed demo devices and their claim codes (valid until {until};")
    print(f"sign in as {CUSTOMER_USER[0]} and claim one):")
    for device in coded:
        print(f"  {device.name:28} {device.claim_code}")


def _print_devices(report: DemoReport) -> None:
    print("demo devices:")
    for device in report.devices:
        print(f"  {device.name:28} {_device_state(device)}")
    if any(device.claimed_by is None for device in report.devices):
        print("claim codes are stored hashed, so the first `init --demo` printed them only once;")
        print(
            f"`{command_name()} demo --new-codes` gives the unclaimed demo devices new codes "
            "and prints them (their old codes stop working)"
        )


def _device_state(device: DemoDevice) -> str:
    if device.claimed_by is not None:
        return f"claimed by {device.claimed_by!r}"
    if device.code_expires_ms is None:
        return "unclaimed; no claim code"
    if device.code_expires_ms < time.time() * 1000:
        return f"unclaimed; its claim code expired on {_when(device.code_expires_ms)}"
    return f"unclaimed; its claim code is valid until {_when(device.code_expires_ms)}"


def _when(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
