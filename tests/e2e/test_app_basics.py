"""Start-up contract: settings, health, the terminal chat, the installed command."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]


def test_healthz_reports_database(settings):
    from bot.app import create_app

    with TestClient(create_app(settings)) as client:
        r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok" and r.json()["line"] is False and r.json()["telegram"] is False


def test_missing_channel_credentials_switch_channels_off_with_one_line(settings, caplog):
    from bot.app import create_app

    caplog.set_level("INFO")
    create_app(settings)
    lines = [r.getMessage() for r in caplog.records if r.name == "ristapo.startup"]
    assert any(line.startswith("LINE channel off") for line in lines)
    assert any(line.startswith("Telegram channel off") for line in lines)


def test_relative_database_url_resolves_against_data_dir(tmp_path, monkeypatch):
    from core.settings import Settings

    monkeypatch.delenv("RISTAPO_DATABASE_URL", raising=False)
    s = Settings(data_dir=tmp_path / "data")
    assert s.database_url == f"sqlite:///{tmp_path / 'data' / 'ristapo.db'}"


def test_production_refuses_placeholder_secret(tmp_path):
    import pytest
    from pydantic import ValidationError

    from core.settings import Settings

    with pytest.raises(ValidationError):
        Settings(env="production", data_dir=tmp_path, line_channel_secret="changethis")


def test_terminal_chat_uses_the_same_engine(settings):
    from bot.channels.terminal.adapter import run_terminal_chat

    out = io.StringIO()
    run_terminal_chat(user="t1", stdin=io.StringIO("こんにちは\n1\n仕事を探したい\n"), stdout=out)
    text = out.getvalue()
    assert "同意する" in text and "ありがとうございます" in text
    assert "ハローワーク" in text


def test_installed_command_works_from_another_directory(tmp_path):
    exe = Path(sys.executable).with_name("ristapo")
    env = {**os.environ, "RISTAPO_DATA_DIR": str(tmp_path / "var")}
    r = subprocess.run([str(exe), "classify"], input="住むところがない\n".encode(), cwd=tmp_path, env=env, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    assert '"intent": "faq"' in r.stdout.decode()
