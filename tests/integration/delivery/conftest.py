"""The delivery does not touch the database: its tests run on SQLite only (no PostgreSQL
variant), on a copy of the migrated template as everywhere else."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture
def database_url(tmp_path: Path, migrated_sqlite_file: Path) -> str:
    path = tmp_path / "gridlinks.db"
    shutil.copyfile(migrated_sqlite_file, path)
    return f"sqlite:///{path}"
