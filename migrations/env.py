"""Alembic environment. Imports only gridlinks.db and gridlinks.config.

``gridlinks init`` hands us a live connection in ``config.attributes["connection"]``; the plain
``alembic`` command (run from the repository root) builds an engine from the settings instead.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from gridlinks.config import Settings
from gridlinks.db import tables  # noqa: F401  (registers every table on the metadata)
from gridlinks.db.engine import async_database_url, create_database
from gridlinks.db.metadata import metadata

target_metadata = metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_settings() -> None:
    settings = Settings()
    database = create_database(async_database_url(settings.database_url, settings.sqlite_path))
    async with database.engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await database.dispose()


given = context.config.attributes.get("connection")
if given is not None:
    _run(given)
else:
    asyncio.run(_run_from_settings())
