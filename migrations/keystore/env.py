"""Alembic environment of the key store (its own database; see governance/keys/models.py).

Its version table has its own name so that even a misconfiguration that pointed both URLs
at one database could not confuse the two migration histories.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

config = context.config
VERSION_TABLE = "keystore_alembic_version"


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, version_table=VERSION_TABLE)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        context.configure(connection=conn, version_table=VERSION_TABLE)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        literal_binds=True,
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
