"""Alembic environment: the URL is given by ``service.migrate`` (or DATABASE_URL)."""

from alembic import context
from sqlalchemy import create_engine, pool

from service.migrate import include_object
from service.settings import get_settings, normalise_database_url
from service.tables import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return normalise_database_url(config.attributes.get("url") or get_settings().database_url)


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = create_engine(_url(), poolclass=pool.NullPool)
    with connectable.connect() as connection:
        # SQLite cannot ALTER most things; batch mode rebuilds tables instead
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=include_object,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    connectable.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
