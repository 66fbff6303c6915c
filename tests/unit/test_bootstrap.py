"""``bootstrap.resolve_secret_key``: where the server secret comes from."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from gridlinks.bootstrap import SECRET_FILE, resolve_secret_key
from gridlinks.config import Settings
from gridlinks.errors import ConfigurationError

pytestmark = pytest.mark.usefixtures("clean_env")

GOOD_SECRET = "s" * 48


def create_settings(tmp_path: Path, **fields: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", _env_file=None, **fields)  # type: ignore[call-arg]


def test_given_secret_is_used_as_is(tmp_path: Path) -> None:
    assert resolve_secret_key(create_settings(tmp_path, secret_key=GOOD_SECRET)) == GOOD_SECRET
    assert not (tmp_path / "data" / SECRET_FILE).exists()


def test_postgresql_without_a_secret_is_refused(tmp_path: Path) -> None:
    settings = create_settings(tmp_path, database_url="postgresql://gl@db:5432/gridlinks")
    with pytest.raises(ConfigurationError, match="GRIDLINKS_SECRET_KEY"):
        resolve_secret_key(settings)


def test_short_or_well_known_secret_is_refused(tmp_path: Path) -> None:
    for secret in ("short", "x" * 31, "changeme"):
        with pytest.raises(ConfigurationError):
            resolve_secret_key(create_settings(tmp_path, secret_key=secret))


def test_short_secret_is_refused_with_postgresql_too(tmp_path: Path) -> None:
    settings = create_settings(
        tmp_path, database_url="postgresql://gl@db:5432/gridlinks", secret_key="short"
    )
    with pytest.raises(ConfigurationError):
        resolve_secret_key(settings)


def test_embedded_mode_generates_a_private_secret_file(tmp_path: Path) -> None:
    secret = resolve_secret_key(create_settings(tmp_path))
    path = tmp_path / "data" / SECRET_FILE
    assert len(secret) >= 32
    assert path.read_text().strip() == secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_embedded_mode_reuses_the_secret_it_generated(tmp_path: Path) -> None:
    first = resolve_secret_key(create_settings(tmp_path))
    second = resolve_secret_key(create_settings(tmp_path, database_url="sqlite:///other.db"))
    assert first == second
