"""Alembic environment: the connection comes from ``Store.migrate`` (config.attributes['connection'])."""

from alembic import context

from meshclaw.store.tables import Base
from meshclaw.store import tables_workplace  # noqa: F401 - its tables share Base.metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
