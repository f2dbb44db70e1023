"""Alembic environment: always run with a connection handed over by `Store.migrate`."""

from alembic import context

from modeldeck.platform.schema import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
