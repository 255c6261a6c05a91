"""Alembic migrations: they build exactly the models' schema on SQLite and PostgreSQL, the
command works from any directory, and the app refuses an unmigrated database.

If ``test_migrations_build_exactly_the_models`` fails, a model changed without a migration:
run ``ristapo db revision -m "what changed"``, read the generated file, commit it.
"""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import create_engine, inspect, text

from core import db, migrate
from tests.conftest import PG_ADMIN_URL, POSTGRES_URL, TEST_KEY

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not migrate.heads(), reason="no migration scripts in core/migrations/versions yet"),
]


@pytest.fixture
def empty_db_url(db_backend, tmp_path):
    """A URL of a brand-new, empty database on the backend under test (dropped afterwards)."""
    if db_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    if PG_ADMIN_URL is None:
        pytest.skip("RISTAPO_PG_ADMIN_URL not set: cannot create a scratch PostgreSQL database")
    name = f"ristapo_mig_{uuid.uuid4().hex[:10]}"
    owner = sa.engine.make_url(POSTGRES_URL).username
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" OWNER "{owner}"'))
    try:
        yield sa.engine.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _diff(url: str) -> list:
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return migrate.schema_diff(conn)
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = db.make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_one_linear_history():
    heads = migrate.heads()
    assert heads, "core/migrations/versions has no migration scripts"
    assert len(heads) == 1, f"migration history has several heads {heads}: merge them (alembic merge) before release"


def test_migrations_build_exactly_the_models(empty_db_url):
    before, after = migrate.upgrade(empty_db_url)
    assert before.current == () and after.up_to_date
    diff = _diff(empty_db_url)
    assert not diff, (
        "the models differ from what the migrations build — a model changed without a migration:\n"
        + migrate.format_diff(diff)
        + '\nwrite one: ristapo db revision -m "what changed"  (then read and commit core/migrations/versions/…)'
    )


def test_downgrade_to_base_and_up_again(empty_db_url):
    migrate.upgrade(empty_db_url)
    migrate.downgrade(empty_db_url, "base")
    assert _tables(empty_db_url) <= {migrate.VERSION_TABLE}
    migrate.upgrade(empty_db_url)
    assert not _diff(empty_db_url)


def test_rendered_custom_types_are_importable(empty_db_url):
    """What autogenerate writes for EncryptedText / AutoString / UTCDateTime runs as written."""
    from alembic.autogenerate import produce_migrations, render_python_code
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    from core.migrations import env_render

    db.import_all_models()
    engine = db.make_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            batch = conn.dialect.name == "sqlite"
            ctx = MigrationContext.configure(conn, opts={"target_metadata": SQLModel.metadata, "render_item": env_render.render_item, "render_as_batch": batch})
            script = produce_migrations(ctx, SQLModel.metadata)
            imports: set[str] = set()

            def render_item(type_, obj, autogen_context):
                result = env_render.render_item(type_, obj, autogen_context)
                imports.update(autogen_context.imports)
                return result

            code = render_python_code(script.upgrade_ops, render_item=render_item, render_as_batch=batch, migration_context=ctx)
            assert "core.crypto.EncryptedText()" in code
            assert "import core.crypto" in imports
            namespace: dict = {"op": Operations(ctx), "sa": sa}
            for line in sorted(imports):
                exec(line, namespace)  # why exec: the migration's generated import lines
            exec("def upgrade():\n" + code, namespace)  # why exec: the generated body
            namespace["upgrade"]()
            conn.commit()
            assert not migrate.schema_diff(conn)
    finally:
        engine.dispose()


def _env(url: str, env: str = "production") -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith("RISTAPO_")}
    e.update(RISTAPO_ENV=env, RISTAPO_DATABASE_URL=url, RISTAPO_DATA_KEY=f"t1:{TEST_KEY}", RISTAPO_ID_PEPPER="test-pepper")
    return e


def _ristapo(args: list[str], url: str, cwd: Path, env: str = "production") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], cwd=cwd, env=_env(url, env) | {"RISTAPO_DATA_DIR": str(cwd / "var")},
        capture_output=True, text=True, timeout=120,
    )


def test_cli_upgrade_current_check_from_any_directory(empty_db_url, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = _ristapo(["db", "current"], empty_db_url, elsewhere)
    assert r.returncode == 0, r.stderr
    assert "none" in r.stdout and "ristapo db upgrade" in r.stdout
    r = _ristapo(["db", "check"], empty_db_url, elsewhere)
    assert r.returncode == 1 and "ristapo db upgrade" in r.stderr

    r = _ristapo(["db", "upgrade"], empty_db_url, elsewhere)
    assert r.returncode == 0, r.stderr
    assert "upgraded" in r.stdout and "password" not in r.stdout.lower()
    r = _ristapo(["db", "current"], empty_db_url, elsewhere)
    assert r.returncode == 0 and "(head)" in r.stdout
    r = _ristapo(["db", "check"], empty_db_url, elsewhere)
    assert r.returncode == 0, r.stderr
    r = _ristapo(["db", "upgrade"], empty_db_url, elsewhere)
    assert r.returncode == 0 and "already at" in r.stdout


def _settings(monkeypatch, tmp_path, url: str, env: str):
    from core.settings import get_settings

    for k, v in (_env(url, env) | {"RISTAPO_DATA_DIR": str(tmp_path / "var")}).items():
        if k.startswith("RISTAPO_"):
            monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def _restore_settings():
    from core.settings import get_settings

    yield
    get_settings.cache_clear()


def test_production_refuses_an_unmigrated_database(empty_db_url, tmp_path, monkeypatch, _restore_settings):
    from bot.startup import prepare

    s = _settings(monkeypatch, tmp_path, empty_db_url, "production")
    with pytest.raises(migrate.SchemaNotReady) as info:
        prepare(s)
    assert "ristapo db upgrade" in str(info.value) and "refusing to start" in str(info.value)
    assert _tables(empty_db_url) <= {migrate.VERSION_TABLE}, "refusing must not create anything"

    migrate.upgrade(empty_db_url)
    prepare(s)  # now it starts


def test_refuses_out_of_date_and_newer_databases(empty_db_url, tmp_path, monkeypatch, _restore_settings):
    from bot.startup import prepare

    migrate.upgrade(empty_db_url)
    s = _settings(monkeypatch, tmp_path, empty_db_url, "production")
    real_heads = migrate.heads()
    monkeypatch.setattr(migrate, "heads", lambda: ("9999_future",))
    with pytest.raises(migrate.SchemaNotReady, match="out of date.*ristapo db upgrade"):
        prepare(s)
    monkeypatch.setattr(migrate, "heads", lambda: real_heads)
    engine = db.make_engine(empty_db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'abcdef_unknown'"))
    engine.dispose()
    with pytest.raises(migrate.SchemaNotReady, match="newer than this code"):
        prepare(s)


def test_the_app_does_not_start_on_an_unmigrated_postgres_even_in_dev(empty_db_url, tmp_path, monkeypatch, _restore_settings):
    """Only a dev *SQLite* database upgrades itself; a shared server database is never touched."""
    from bot.startup import prepare

    s = _settings(monkeypatch, tmp_path, empty_db_url, "dev")
    if s.is_sqlite:
        prepare(s)  # newcomer path: upgraded automatically
        engine = db.make_engine(empty_db_url)
        with engine.connect() as conn:
            assert migrate.status(conn).up_to_date
        engine.dispose()
        prepare(s)  # and again: nothing to do
    else:
        with pytest.raises(migrate.SchemaNotReady, match="ristapo db upgrade"):
            prepare(s)


def test_dev_adopts_a_database_made_by_create_all(tmp_path, monkeypatch, _restore_settings):
    from sqlmodel import SQLModel

    from bot.startup import prepare

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = db.make_engine(url)
    db.import_all_models()
    SQLModel.metadata.create_all(engine)
    engine.dispose()
    s = _settings(monkeypatch, tmp_path, url, "dev")
    prepare(s)
    engine = db.make_engine(url)
    with engine.connect() as conn:
        assert migrate.status(conn).up_to_date
    engine.dispose()


def test_a_differing_unversioned_database_is_not_adopted(tmp_path):
    url = f"sqlite:///{tmp_path / 'odd.db'}"
    engine = db.make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE channel_user (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(migrate.SchemaNotReady, match="no migration history"):
        migrate.upgrade(url)


def test_0008_drops_topics_kept_without_consent_and_encrypts_the_rest(empty_db_url, settings):
    """Rows written before topics were encrypted: unconsented ones lose them, the others are readable after."""
    from sqlmodel import Session, select

    from core import crypto
    from core.models import Message
    from handoff.models import Ticket

    migrate.upgrade(empty_db_url, "0007")
    engine = db.make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO channel_user (id, channel, user_hash, pseudonym, active, is_demo, created_at) VALUES (1, 'web', 'h', 'A1', true, false, CURRENT_TIMESTAMP)"))
            conn.execute(text("INSERT INTO conversation (id, user_id, state, consent_declined, closed, started_at, last_activity_at) VALUES (1, 1, 'ready', false, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
            for mid, body in ((1, None), (2, crypto.keyring().encrypt("本文"))):  # 2 had consent: a body
                conn.execute(
                    text("INSERT INTO message (id, conversation_id, direction, sender, kind, intent, entry_id, score, created_at, body) "
                         "VALUES (:id, 1, 'in', 'user', 'text', 'faq', 'shuro-shien', 0.9, CURRENT_TIMESTAMP, :body)"),
                    {"id": mid, "body": body},
                )
            conn.execute(text("INSERT INTO ticket (id, conversation_id, user_id, state, priority, crisis, consent_declined, answered_topics, is_demo, created_at, unread, consent_b) "
                              "VALUES (1, 1, 1, 'waiting', 2, false, true, 'kazoku', false, CURRENT_TIMESTAMP, 0, 'not_asked')"))
    finally:
        engine.dispose()
    migrate.upgrade(empty_db_url)
    engine = db.make_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            raw = dict(conn.execute(text("SELECT id, intent FROM message")).all())
        assert raw[1] is None and raw[2].startswith("enc1:")
        with Session(engine) as s:
            assert [(m.id, m.intent, m.entry_id) for m in s.exec(select(Message).order_by(Message.id))] == [(1, None, None), (2, "faq", "shuro-shien")]
            assert s.get(Ticket, 1).answered_topics is None
    finally:
        engine.dispose()
