"""Alembic environment for ristapo, configured in code by :func:`core.migrate.alembic_config`.

The database URL comes from ``config.attributes["url"]`` (or an open connection in
``config.attributes["connection"]``), never from an ini file, so ``ristapo db upgrade`` works
from any directory. SQLite runs in batch mode (it cannot ALTER most things in place).
"""
from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from core import db
from core.migrations.env_render import render_item

config = context.config
db.import_all_models()
target_metadata = SQLModel.metadata


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=render_item,
        compare_type=True,
        compare_server_default=False,
    )


def run_migrations_offline() -> None:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=str(url).startswith("sqlite"),
        render_item=render_item,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = db.make_engine(config.attributes["url"])
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                # why: batch mode copies tables; with foreign keys on, the copy/drop would cascade
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
            if connection.dialect.name == "sqlite":
                bad = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                connection.commit()
                if bad:
                    raise RuntimeError(f"migration left rows violating foreign keys: {bad[:5]}")
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
