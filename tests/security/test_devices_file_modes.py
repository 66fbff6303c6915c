"""Defect 13 (files): the data directory is 0700, the server secret and the SQLite database with
its -wal and -shm files 0600, whatever the umask; files of an older start that others could
read are made private when the server starts."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gridlinks.bootstrap import SECRET_FILE, build_platform
from gridlinks.config import Settings

pytestmark = [pytest.mark.security, pytest.mark.usefixtures("clean_env")]

DATABASE = "gridlinks.db"


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """umask 000: what a careless service manager or container may start us with."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def embedded_settings(data_dir: Path) -> Settings:
    """The embedded mode: SQLite in the data directory, the secret generated there."""
    return Settings(
        data_dir=data_dir,
        password_hash_time_cost=1,
        password_hash_memory_kib=1024,
        _env_file=None,  # type: ignore[call-arg]
    )


async def start_and_write(settings: Settings) -> None:
    """Start as ``gridlinks init`` does and write, so the -wal and -shm files exist."""
    platform = build_platform(settings)
    try:
        await platform.migrate()
        async with platform.unit_of_work() as uow:
            email = f"root-{uuid.uuid4().hex[:8]}@modes.test"
            await platform.accounts.create_sys_admin(uow, email, "long-enough-1")
            await uow.commit()
        data_dir = settings.data_dir
        for name in (DATABASE, f"{DATABASE}-wal", f"{DATABASE}-shm"):
            assert (data_dir / name).exists(), name
            assert mode(data_dir / name) == 0o600, (name, oct(mode(data_dir / name)))
    finally:
        await platform.close()


@pytest.mark.usefixtures("permissive_umask")
async def test_data_directory_secret_and_database_files_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "data"

    await start_and_write(embedded_settings(data_dir))

    assert mode(data_dir) == 0o700
    assert mode(data_dir / SECRET_FILE) == 0o600
    assert mode(data_dir / DATABASE) == 0o600


@pytest.mark.usefixtures("permissive_umask")
async def test_files_an_older_start_left_readable_are_made_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    await start_and_write(embedded_settings(data_dir))
    for name in (SECRET_FILE, DATABASE, f"{DATABASE}-wal", f"{DATABASE}-shm"):
        if (data_dir / name).exists():
            os.chmod(data_dir / name, 0o644)

    await start_and_write(embedded_settings(data_dir))

    assert mode(data_dir / SECRET_FILE) == 0o600
    assert mode(data_dir / DATABASE) == 0o600


@pytest.mark.usefixtures("permissive_umask")
async def test_a_database_given_by_url_is_private_too(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere" / "grid.db"
    settings = embedded_settings(tmp_path / "data").model_copy(
        update={"database_url": f"sqlite:///{path}"}
    )

    platform = build_platform(settings)
    try:
        await platform.migrate()
    finally:
        await platform.close()

    assert mode(path.parent) == 0o700
    assert mode(path) == 0o600
