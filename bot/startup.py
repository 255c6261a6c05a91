"""Bring a process up: settings → keys → database → knowledge. Used by serve, chat, worker, tests."""
from __future__ import annotations

import logging

from core import crypto, db, identity
from core.settings import Settings, get_settings

log = logging.getLogger("ristapo.startup")


def prepare(settings: Settings | None = None, *, create_tables: bool = True) -> Settings:
    """Configures keys and the engine, and makes sure the schema is right (core.migrate).

    Raises ``crypto.MissingKeyError`` in production without a data key, and
    ``migrate.SchemaNotReady`` on an unmigrated or out-of-date database (refuse to start;
    a dev SQLite database is upgraded automatically, tests use create_all).
    """
    settings = settings or get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    crypto.configure(
        data_key=settings.data_key,
        key_file=settings.data_key_file,
        data_dir=settings.data_dir,
        production=settings.env == "production",
    )
    identity.configure(settings.data_dir, settings.id_pepper)
    db.init_engine(settings.database_url)
    if create_tables:
        from core import migrate

        migrate.ensure_schema(settings)
    return settings


def log_channels(settings: Settings) -> None:
    """One clear line per optional channel that is off."""
    if not settings.line_enabled:
        log.info("LINE channel off: set RISTAPO_LINE_CHANNEL_SECRET and RISTAPO_LINE_CHANNEL_ACCESS_TOKEN to turn it on")
    if not settings.telegram_enabled:
        log.info("Telegram channel off: set RISTAPO_TELEGRAM_TOKEN and RISTAPO_TELEGRAM_SECRET to turn it on")
