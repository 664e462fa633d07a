"""Alembic environment of the consortium's own tables (version table of their own)."""

from alembic import context
from sqlalchemy import create_engine

from catalyst_hub.consortium.tables import metadata

config = context.config
engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url"))

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table="consortium_alembic_version",
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
