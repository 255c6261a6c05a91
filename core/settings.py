"""Settings from ``RISTAPO_*`` environment variables (pydantic-settings).

Relative paths resolve against ``data_dir`` (default ``./var`` of the current directory,
overridable with ``RISTAPO_DATA_DIR``) so the installed command behaves the same from any
working directory once the data directory is set.
"""
from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger("ristapo.settings")

PLACEHOLDERS = {"", "changethis", "changeme", "secret", "xxx"}


class Settings(BaseSettings):
    """Every knob of the service; channels switch on only when their credentials exist."""

    model_config = SettingsConfigDict(env_prefix="RISTAPO_", extra="ignore")

    env: str = "dev"  # dev | test | production
    data_dir: Path = Path("var")
    database_url: str = "sqlite:///var/ristapo.db"
    # why repr=False on secrets: a Settings object printed in a log or traceback must not show them
    data_key: str | None = Field(default=None, repr=False)  # base64 32-byte AES key, or "kid:base64,kid2:base64"
    data_key_file: Path | None = None
    public_base_url: str = "http://127.0.0.1:8000"
    kb_dir: Path | None = None  # where entry files live (default: the packaged knowledge/entries)
    id_pepper: str | None = Field(default=None, repr=False)  # HMAC key for platform user ids (default: a file under data_dir/keys)

    line_channel_secret: str | None = Field(default=None, repr=False)
    line_channel_access_token: str | None = Field(default=None, repr=False)
    line_api_base: str = "https://api.line.me"
    line_data_api_base: str = "https://api-data.line.me"

    telegram_token: str | None = Field(default=None, repr=False)
    telegram_secret: str | None = Field(default=None, repr=False)
    telegram_api_base: str = "https://api.telegram.org/bot"

    staff_webhook_url: str | None = None
    # the probation office's own phone number, filled into canned replies that say {電話番号}
    # (empty: those sentences are left out); only a number published by the office itself
    office_phone: str | None = None
    retention_days: int = 180  # default; an admin's value in the console (service_setting) wins
    payload_retention_days: int = 7
    ticket_max_age_days: int = 90  # an open ticket idle this long is closed; its content then follows retention
    run_workers: bool = True
    # the pipeline's tunables (bot/pipeline/tuning.py): for the crash tests and operators
    worker_poll_seconds: float = Field(default=1.0, gt=0)
    worker_busy_poll_seconds: float = Field(default=0.1, gt=0)
    outbox_lease_seconds: float = Field(default=60.0, gt=0)
    retry_base_seconds: float = Field(default=5.0, ge=0)
    turn_batch: int = Field(default=32, ge=1)
    # while traffic flows, a worker pass that found few events waits this long for more (0: never)
    worker_gather_seconds: float = Field(default=0.01, ge=0, le=1.0)
    # PostgreSQL: workers LISTEN for other processes' commits (bot/pipeline/listen.py); a pooler
    # in transaction mode (PgBouncer) does not forward LISTEN: give a direct URL for it here
    worker_listen: bool = True
    listen_database_url: str | None = Field(default=None, repr=False)
    # a message this soon after staff closed a ticket reopens it (never the fallback nobody sees)
    handoff_reopen_hours: int = Field(default=24, ge=0, le=24 * 14)
    # the staff side's share of the server: console/admin API requests running at once, and how
    # long one may wait for its turn before a 503 (admin/admission.py says why)
    console_concurrency: int = Field(default=2, ge=1, le=64)
    console_queue_seconds: float = Field(default=10.0, gt=0, le=120)
    # addresses of reverse proxies whose X-Forwarded-For/-Proto are believed ("127.0.0.1", a
    # comma list, or "*"); empty = none: the client address is the TCP peer (docs/security.md)
    forwarded_allow_ips: str = ""
    # /healthz answers 503 when the data directory has less free space than this, or cannot be
    # written: the webhooks would fail on a full disk while the database still answers SELECT 1
    health_min_free_mb: int = Field(default=200, ge=0)
    demo: bool = False

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        self.data_dir = self.data_dir.expanduser().resolve()
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix) and not self.database_url.startswith(prefix + "/"):
            rel = self.database_url[len(prefix):]
            if rel != ":memory:":
                # why: "var/ristapo.db" means <data_dir>/ristapo.db wherever the command runs
                rel_path = Path(rel)
                if rel_path.parts and rel_path.parts[0] == "var":
                    rel_path = Path(*rel_path.parts[1:])
                self.database_url = prefix + str(self.data_dir / rel_path)
        if self.data_key_file is not None and not self.data_key_file.is_absolute():
            self.data_key_file = self.data_dir / self.data_key_file
        if self.env == "production":
            if self.demo:
                raise ValueError("RISTAPO_DEMO is refused when RISTAPO_ENV=production (demo accounts print one-time passwords)")
            for name in ("line_channel_secret", "line_channel_access_token", "telegram_token", "telegram_secret"):
                value = getattr(self, name)
                if value is not None and value.strip().lower() in PLACEHOLDERS:
                    raise ValueError(f"RISTAPO_{name.upper()} is a placeholder; set the real value or unset it")
        return self

    @property
    def line_enabled(self) -> bool:
        return bool(self.line_channel_secret and self.line_channel_access_token)

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_token and self.telegram_secret)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings()
