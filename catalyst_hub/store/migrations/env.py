"""Alembic environment: runs migrations on the engine catalyst_hub hands over."""

from alembic import context
from sqlalchemy import create_engine

from catalyst_hub.store.tables import metadata

config = context.config
engine = config.attributes.get("engine")
if engine is None:
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None, "alembic needs an engine or sqlalchemy.url"
    engine = create_engine(url)

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
