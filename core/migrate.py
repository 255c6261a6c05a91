"""Schema migrations (Alembic) configured in code: no alembic.ini, works from any directory.

The scripts live in ``core/migrations`` (package data). What startup does with them
(:func:`ensure_schema`):

* ``RISTAPO_ENV=test``: ``create_all`` (fast; the migration tests use :func:`upgrade` instead).
* dev on SQLite (the newcomer default): upgrade to head automatically; a database made by
  an older ``create_all`` that equals the models is adopted (stamped) instead.
* anything else (production, PostgreSQL): refuse to start unless the database is exactly at
  head, with a message that says to run ``ristapo db upgrade``.
"""
from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine

from core import db

log = logging.getLogger("ristapo.migrate")
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"
UPGRADE_HINT = "run `ristapo db upgrade` (with the same RISTAPO_DATABASE_URL) before starting ristapo"
_HINT = UPGRADE_HINT[0].upper() + UPGRADE_HINT[1:]
# why: Alembic's INFO lines (plugins, "Context impl") would be noise in every start-up log
logging.getLogger("alembic").setLevel(logging.WARNING)


class SchemaNotReady(SystemExit):
    """The database schema is not the one this code was written for; the app must not start.

    Why a ``SystemExit``: every entry point (serve, worker, chat) then stops with just the
    message on stderr and exit status 1, and no ``except Exception`` swallows it.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Status:
    current: tuple[str, ...]  # revisions recorded in the database ("" = none)
    heads: tuple[str, ...]  # what this code needs
    has_tables: bool  # the database holds ristapo tables

    @property
    def up_to_date(self) -> bool:
        return bool(self.heads) and set(self.current) == set(self.heads)

    def describe(self) -> str:
        cur = ", ".join(self.current) or "none"
        head = ", ".join(self.heads) or "none"
        return f"database revision {cur}; this code needs {head}"


def alembic_config(url: str | None = None, *, connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the packaged scripts; the URL travels as an attribute.

    Why attributes and not ``sqlalchemy.url``: the ini parser would treat ``%`` in a
    password as interpolation, and the URL would show up in Alembic's own logging.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        cfg.attributes["url"] = url
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def heads() -> tuple[str, ...]:
    return tuple(sorted(script_directory().get_heads()))


def _user_tables(conn: Connection) -> set[str]:
    return {t for t in inspect(conn).get_table_names() if t != VERSION_TABLE}


def status(conn: Connection) -> Status:
    current = MigrationContext.configure(conn).get_current_heads()
    return Status(current=tuple(sorted(current)), heads=heads(), has_tables=bool(_user_tables(conn)))


def schema_diff(conn: Connection) -> list:
    """Differences between the database and the models (empty = identical), as Alembic ops."""
    from sqlmodel import SQLModel

    db.import_all_models()
    ctx = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": conn.dialect.name == "sqlite"})
    diff = compare_metadata(ctx, SQLModel.metadata)
    # why: the version table belongs to Alembic, not to the models
    return [d for d in diff if not (isinstance(d, tuple) and d[0] == "remove_table" and d[1].name == VERSION_TABLE)]


def format_diff(diff: list) -> str:
    lines: list[str] = []
    for item in diff:
        if isinstance(item, list):  # column modifications come grouped
            lines.extend("  " + _fmt(sub) for sub in item)
        else:
            lines.append("  " + _fmt(item))
    return "\n".join(lines)


def _fmt(item) -> str:
    kind = item[0]
    if kind in ("add_table", "remove_table"):
        return f"{kind} {item[1].name}"
    if kind in ("add_column", "remove_column"):
        return f"{kind} {item[2]}.{item[3].name}"
    if kind in ("add_index", "remove_index"):
        return f"{kind} {item[1].name} on {item[1].table.name}({', '.join(c.name for c in item[1].columns)})"
    if kind in ("add_constraint", "remove_constraint"):
        return f"{kind} {item[1].name} on {item[1].table.name}"
    if kind.startswith("modify_"):
        return f"{kind} {item[2]}.{item[3]}: {item[-2]!r} -> {item[-1]!r}"
    return repr(item)


@contextlib.contextmanager
def _sqlite_lock(url: str) -> Iterator[None]:
    """Serialise concurrent auto-upgrades of one SQLite file (serve and workers starting together)."""
    path = url.split("///", 1)[-1] if url.startswith("sqlite") else ""
    if not path or path == ":memory:":
        yield
        return
    import fcntl

    lock_path = Path(path + ".migrate.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def upgrade(url: str, revision: str = "head") -> tuple[Status, Status]:
    """Upgrade the database at ``url``; returns (before, after).

    A database whose tables were made by ``create_all`` (no migration history) is adopted by
    stamping head when it equals the models; otherwise :class:`SchemaNotReady` says why.
    """
    if not heads():
        raise SchemaNotReady("this build has no migration scripts (core/migrations/versions is empty)")
    with _sqlite_lock(url):
        engine = db.make_engine(url)
        try:
            with engine.connect() as conn:
                before = status(conn)
                if not before.current and before.has_tables:
                    diff = schema_diff(conn)
                    if diff:
                        raise SchemaNotReady(
                            "the database has ristapo tables but no migration history, and they differ from the models:\n"
                            + format_diff(diff)
                            + "\nmigrate it by hand or start from an empty database"
                        )
                    log.info("adopting a database created without migrations: stamping %s", ", ".join(before.heads))
                    command.stamp(alembic_config(connection=conn), "heads")
                    conn.commit()
                elif revision == "head" and before.up_to_date:
                    return before, before
            # why a fresh connection: env.py turns SQLite foreign keys off before the transaction
            command.upgrade(alembic_config(url), revision if revision != "head" else "heads")
            with engine.connect() as conn:
                after = status(conn)
        finally:
            engine.dispose()
    return before, after


def downgrade(url: str, revision: str) -> tuple[Status, Status]:
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            before = status(conn)
        command.downgrade(alembic_config(url), revision)
        with engine.connect() as conn:
            after = status(conn)
    finally:
        engine.dispose()
    return before, after


def check(engine: Engine) -> Status:
    """Raise :class:`SchemaNotReady` unless the database is exactly at head."""
    with engine.connect() as conn:
        st = status(conn)
    if st.up_to_date:
        return st
    if not st.current:
        what = "has ristapo tables but no migration history" if st.has_tables else "is not migrated (empty)"
        raise SchemaNotReady(f"the database {what}; {st.describe()}. {_HINT}.")
    known = {s.revision for s in script_directory().walk_revisions()}
    if any(rev not in known for rev in st.current):
        raise SchemaNotReady(
            f"the database is newer than this code ({st.describe()}): deploy the newer ristapo, "
            "or downgrade the database with the code that made it"
        )
    raise SchemaNotReady(f"the database is out of date ({st.describe()}). {_HINT}.")


def ensure_schema(settings) -> str:
    """What startup does to the schema (see the module docstring); returns what happened."""
    if settings.env == "test":
        db.create_all()
        return "create_all"
    if not heads():
        # why: a checkout without migration scripts yet still starts (create_all, as before)
        db.create_all()
        return "create_all"
    if settings.env == "dev" and settings.is_sqlite:
        before, after = upgrade(settings.database_url)
        if before.current != after.current:
            log.info("dev database upgraded: %s -> %s", ", ".join(before.current) or "empty", ", ".join(after.current))
            return "upgraded"
        return "current"
    try:
        check(db.engine())
    except SchemaNotReady as exc:
        raise SchemaNotReady(f"ristapo: refusing to start: {exc}") from None
    return "checked"


def new_revision(message: str, *, autogenerate: bool = True, url: str | None = None, rev_id: str | None = None) -> str | None:
    """Write a new revision file into core/migrations/versions; returns its path.

    Without ``url`` the comparison runs against a temporary SQLite database upgraded to the
    current head, so a developer needs no running database. Batch operations are rendered,
    which run on SQLite and PostgreSQL alike.
    """
    tmpdir = None
    if url is None:
        tmpdir = tempfile.mkdtemp(prefix="ristapo-rev-")
        url = f"sqlite:///{os.path.join(tmpdir, 'head.db')}"
        if heads():
            command.upgrade(alembic_config(url), "heads")
    try:
        scripts = command.revision(alembic_config(url), message=message, autogenerate=autogenerate, rev_id=rev_id)
    finally:
        if tmpdir:
            import shutil

            shutil.rmtree(tmpdir, ignore_errors=True)
    if isinstance(scripts, list):
        scripts = scripts[0] if scripts else None
    return scripts.path if scripts is not None else None
