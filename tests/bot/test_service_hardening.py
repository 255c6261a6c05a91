"""Service-level hardening from the audit (issue 16): demo mode, health on a full disk, caching
of staff pages, file modes, and which client address the server believes."""
from __future__ import annotations

import os
import signal
import stat
import subprocess

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from tests.staff_helpers import (
    BASE_URL,
    cheap_argon2,  # noqa: F401  (autouse fixture)
    client_for,
    make_staff,
)


@pytest.fixture
def app(settings):
    from bot.app import create_app

    settings.run_workers = False
    return create_app(settings)


# --- demo mode never runs in production -----------------------------------------------------------

def test_serve_demo_is_refused_in_production(settings, monkeypatch, capsys):
    from bot import cli, demo
    from core.settings import get_settings

    monkeypatch.setattr(demo, "seed_demo", lambda *_a: pytest.fail("demo data seeded in production"))
    monkeypatch.setenv("RISTAPO_ENV", "production")
    get_settings.cache_clear()
    assert cli.main(["serve", "--demo"]) == 2
    err = capsys.readouterr().err
    assert "--demo is refused" in err and "RISTAPO_ENV=production" in err
    assert os.environ.get("RISTAPO_DEMO") != "1"


def test_demo_setting_is_refused_in_production(monkeypatch):
    from pydantic import ValidationError

    from core.settings import Settings

    monkeypatch.setenv("RISTAPO_ENV", "production")
    monkeypatch.setenv("RISTAPO_DEMO", "1")
    with pytest.raises(ValidationError, match="RISTAPO_DEMO is refused"):
        Settings()


# --- /healthz looks at the disk ---------------------------------------------------------------------

def test_healthz_is_503_with_the_reason_on_a_full_or_unwritable_disk(app, monkeypatch):
    from core import health

    client = TestClient(app)
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["disk"] == "ok"

    monkeypatch.setattr(health, "free_bytes", lambda _path: 50 * 1024 * 1024)  # below the 200 MB default
    r = client.get("/healthz")
    assert r.status_code == 503 and r.json()["status"] == "unhealthy" and r.json()["disk"] == "low_space"
    assert r.json()["database"] == "ok"  # SELECT 1 still works: the database alone says nothing

    monkeypatch.setattr(health, "free_bytes", lambda _path: 10**12)

    def no_space(_path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(health, "write_probe", no_space)
    r = client.get("/healthz")
    assert r.status_code == 503 and r.json()["disk"] == "not_writable"


def test_the_free_space_minimum_is_configurable(settings, monkeypatch):
    from core import health

    monkeypatch.setattr(health, "free_bytes", lambda _path: 50 * 1024 * 1024)
    assert health.disk_problem(settings.data_dir, 200) == "low_space"
    assert health.disk_problem(settings.data_dir, 10) is None
    assert list(settings.data_dir.glob(".healthz-*")) == []  # the probe file is removed


# --- Cache-Control: no-store on every staff-side response ---------------------------------------------

def test_every_admin_api_and_console_response_says_no_store(app):
    staff_id = make_staff("ken", ["staff", "admin", "editor"])[0]
    signed_in = client_for(app, staff_id)
    anonymous = TestClient(app, base_url=BASE_URL)
    responses = [
        signed_in.get("/admin/api/me"),
        signed_in.get("/admin/api/tickets"),
        signed_in.get("/admin/api/staff"),
        signed_in.get("/admin/api/audit"),
        signed_in.get("/console/inbox"),
        signed_in.get("/console/kb"),
        signed_in.get("/admin/api/tickets/99999"),  # an error
        anonymous.get("/admin/api/me"),  # 401
        anonymous.get("/console/inbox", follow_redirects=False),  # redirect to login
        anonymous.get("/console/login"),
        anonymous.post("/admin/api/login", json={"username": "ken", "password": "wrong-password-123"}),
    ]
    for r in responses:
        assert r.headers.get("cache-control") == "no-store", (r.request.url.path, r.status_code, r.headers.get("cache-control"))


# --- files that hold data or keys are private --------------------------------------------------------

def test_the_sqlite_file_and_key_files_are_created_0600(tmp_path):
    from sqlalchemy import text

    from core import crypto, db, identity

    data_dir = tmp_path / "var"
    engine = db.make_engine(f"sqlite:///{data_dir / 'ristapo.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        files = [data_dir / "ristapo.db"] + [p for p in data_dir.iterdir() if p.name.endswith(("-wal", "-shm"))]
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in files}
    engine.dispose()
    identity.configure(data_dir, None)
    crypto.configure(data_key=None, key_file=None, data_dir=data_dir, production=False)
    keys = [p for p in (data_dir / "keys").iterdir()]
    modes |= {p.name: stat.S_IMODE(p.stat().st_mode) for p in keys}
    assert len(modes) >= 4, modes  # database, its WAL files, the pepper and the data key
    assert all(m & 0o077 == 0 for m in modes.values()), {k: oct(v) for k, v in modes.items()}


# --- X-Forwarded-For is believed only from configured proxies ------------------------------------------

def _login_ip(base: str, forwarded_for: str) -> str:
    from admin.models import AuditEvent
    from core import db

    httpx.post(base + "/admin/api/login", json={"username": "nobody", "password": "wrong-password-123"},
               headers={"X-Forwarded-For": forwarded_for}, timeout=30)
    with db.session_scope() as s:
        return s.exec(select(AuditEvent.ip).where(AuditEvent.action == "login.fail").order_by(AuditEvent.id.desc())).first()


@pytest.mark.slow
def test_x_forwarded_for_is_ignored_unless_the_proxy_is_configured(settings):
    from tests.e2e.test_line_crash import ROOT, _free_port, _start

    results = {}
    for proxies in ("", "127.0.0.1"):
        env = dict(os.environ, RISTAPO_RUN_WORKERS="0", RISTAPO_FORWARDED_ALLOW_IPS=proxies, NO_PROXY="127.0.0.1,localhost", PYTHONPATH=str(ROOT))
        port = _free_port()
        proc = _start(env, port)
        try:
            results[proxies] = _login_ip(f"http://127.0.0.1:{port}", "192.0.2.77")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
    assert results == {"": "127.0.0.1", "127.0.0.1": "192.0.2.77"}


# --- the staff side's admission gate ---------------------------------------------------------------

def test_staff_side_requests_beyond_the_limit_wait_then_get_503_and_others_pass():
    import asyncio

    from admin.admission import StaffSideAdmission

    async def slow_app(scope, receive, send):
        await asyncio.sleep(0.3)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"cache-control", b"max-age=600")]})
        await send({"type": "http.response.body", "body": b"ok"})

    gate = StaffSideAdmission(slow_app, limit=2, queue_seconds=0.1)

    async def scenario():
        transport = httpx.ASGITransport(app=gate)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            staff = [client.get("/console/inbox") for _ in range(3)] + [client.get("/admin/api/tickets")]
            other = [client.get("/webhooks/line"), client.get("/healthz"), client.get("/console/events")]
            return await asyncio.gather(*staff), await asyncio.gather(*other)

    staff, other = asyncio.run(scenario())
    assert sorted(r.status_code for r in staff) == [200, 200, 503, 503]
    busy = [r for r in staff if r.status_code == 503]
    assert all(r.headers["retry-after"] == "5" and r.headers["cache-control"] == "no-store" for r in busy)
    assert all(r.headers["cache-control"] == "no-store" for r in staff)  # the app's own max-age replaced
    assert [r.status_code for r in other] == [200, 200, 200]  # not counted: webhooks, health, event streams
    assert [r.headers["cache-control"] for r in other] == ["max-age=600", "max-age=600", "no-store"]
