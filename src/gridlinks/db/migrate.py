"""Schema upgrades with Alembic, run from code (``gridlinks init``, test fixtures)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from gridlinks.db.engine import Database


def migrations_dir() -> Path:
    """``migrations/`` of a source checkout, or the copy packed into a wheel."""
    packed = Path(str(resources.files("gridlinks"))) / "migrations"
    if packed.is_dir():
        return packed
    return Path(__file__).resolve().parents[3] / "migrations"


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    command.upgrade(_alembic_config(connection), "head")


async def upgrade_schema(database: Database) -> None:
    """Create or upgrade every table to the newest revision; safe to run again."""
    async with database.engine.connect() as connection:
        await connection.run_sync(_upgrade)
        await connection.commit()
