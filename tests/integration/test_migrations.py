"""The Alembic revisions build exactly the tables the code declares, and upgrade is idempotent."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from gridlinks.bootstrap import Platform
from gridlinks.db.tables import metadata

# Migrate from an empty database here, not from the migrated template other tests copy.
pytestmark = pytest.mark.empty_database


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_migrated_schema_matches_the_table_definitions(platform: Platform) -> None:
    async with platform.database.engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == []


async def test_upgrading_an_up_to_date_schema_changes_nothing(platform: Platform) -> None:
    await platform.migrate()
    await platform.migrate()
    async with platform.database.engine.connect() as connection:
        assert await connection.run_sync(_differences) == []
