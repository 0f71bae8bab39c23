"""Alembic environment: runs on the connection handed over by ``ndoto_cli.core.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import ndoto_cli.core.models  # noqa: F401 - registers the tables on SQLModel.metadata

target_metadata = SQLModel.metadata
connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only for `alembic revision --autogenerate` by developers
    from sqlalchemy import create_engine

    from ndoto_cli.core.settings import get_settings

    url = get_settings().resolved_database_url.replace("+aiosqlite", "")
    connection = create_engine(url).connect()

from ndoto_cli.core.db.migrate import include_object

context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True, include_object=include_object)
with context.begin_transaction():
    context.run_migrations()
