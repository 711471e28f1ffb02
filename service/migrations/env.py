"""Alembic environment: runs on the connection that ``Database.migrate`` passes in."""

from __future__ import annotations

from alembic import context

from service.models import Base

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=Base.metadata,
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
