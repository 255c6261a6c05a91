"""Privacy end to end: data keys, rotation and re-encryption, start-up refusal without a key."""
from __future__ import annotations

import base64
import json
import os

import pytest
from sqlalchemy import Text, type_coerce
from sqlmodel import select

from core import crypto, db
from core.crypto import DecryptionError, MissingKeyError
from core.models import Message
from tests.bot.privacy_helpers import (
    all_text_values,
    raw_tokens,
    run_cli,
    some_content,
    tables_holding,
    use_key_file,
)
from tests.conftest import CANARY


class TestKeys:
    def test_rotation_reencrypts_and_the_old_key_can_then_be_removed(self, chat, monkeypatch, capsys):
        s = use_key_file(monkeypatch, None)
        some_content(chat)
        keyfile = s.data_dir / "keys" / "data-keys.json"
        assert json.loads(keyfile.read_text())["current"] == "dev1"

        code, out = run_cli(capsys, "keys", "rotate", "--no-reencrypt")
        new = json.loads(keyfile.read_text())["current"]
        assert code == 0 and new != "dev1" and new in out
        code, out = run_cli(capsys, "keys", "remove", "dev1")
        assert code == 1, "a key still in use is never removed"
        assert set(json.loads(keyfile.read_text())["keys"]) == {"dev1", new}

        code, out = run_cli(capsys, "keys", "reencrypt")
        assert code == 0 and "message.body" in out and "re-encrypted" in out
        code, out = run_cli(capsys, "keys", "status")
        assert code == 0 and "key dev1: no longer used" in out
        assert {crypto.KeyRing.key_id_of(t) for t in raw_tokens()} == {new}

        code, out = run_cli(capsys, "keys", "remove", "dev1")
        assert code == 0
        assert set(json.loads(keyfile.read_text())["keys"]) == {new}
        # a process that starts now knows only the new key, and reads everything
        crypto.configure(data_key=None, key_file=None, data_dir=s.data_dir, production=False)
        assert set(crypto.keyring().keys) == {new}
        assert tables_holding(CANARY) == {"message.body"}
        assert CANARY not in out

    def test_rotate_in_one_step_with_a_key_file(self, chat, monkeypatch, capsys):
        use_key_file(monkeypatch, None)
        some_content(chat)
        code, out = run_cli(capsys, "keys", "rotate")
        current = crypto.keyring().current
        assert code == 0 and current != "dev1"
        assert {crypto.KeyRing.key_id_of(t) for t in raw_tokens()} == {current}
        assert CANARY not in out and base64.b64encode(crypto.keyring().keys[current]).decode() not in out

    def test_a_running_process_reads_rows_rotated_by_another(self, chat, monkeypatch, capsys):
        use_key_file(monkeypatch, None)
        some_content(chat)
        old_ring = crypto.keyring()
        code, _ = run_cli(capsys, "keys", "rotate")
        assert code == 0
        # the "service" still holds the ring it loaded at start-up (dev1 only)
        crypto.set_keyring(crypto.KeyRing(keys={"dev1": old_ring.keys["dev1"]}, current="dev1", reload=old_ring.reload))
        assert tables_holding(CANARY) == {"message.body"}

    def test_rotation_with_the_key_in_the_environment_prints_the_new_value(self, chat, monkeypatch, capsys):
        from bot.startup import prepare
        from core.settings import get_settings

        some_content(chat)
        code, out = run_cli(capsys, "keys", "rotate")
        assert code == 0
        value = next(line.split("=", 1)[1] for line in out.splitlines() if line.startswith("RISTAPO_DATA_KEY="))
        ring = crypto.parse_keys(value)
        assert ring.current != "t1" and set(ring.keys) == {ring.current, "t1"}
        # nothing rewritten yet: services still running with the old value must keep reading
        assert {crypto.KeyRing.key_id_of(t) for t in raw_tokens()} == {"t1"}

        monkeypatch.setenv("RISTAPO_DATA_KEY", value)
        get_settings.cache_clear()
        code, out = run_cli(capsys, "keys", "reencrypt")
        assert code == 0
        assert {crypto.KeyRing.key_id_of(t) for t in raw_tokens()} == {ring.current}
        code, out = run_cli(capsys, "keys", "remove", "t1")
        assert code == 0
        smaller = next(line.split("=", 1)[1] for line in out.splitlines() if line.startswith("RISTAPO_DATA_KEY="))
        monkeypatch.setenv("RISTAPO_DATA_KEY", smaller)
        get_settings.cache_clear()
        prepare(get_settings(), create_tables=False)
        assert set(crypto.keyring().keys) == {ring.current}
        assert tables_holding(CANARY) == {"message.body"}

    def test_plain_values_left_from_before_encryption_are_encrypted(self, chat, capsys):
        some_content(chat)
        with db.engine().begin() as conn:
            body = Message.__table__.c.body
            conn.execute(Message.__table__.update().values({body.name: type_coerce("legacy plain text", Text)}).where(Message.__table__.c.id == 1))
        code, out = run_cli(capsys, "keys", "status")
        assert "1 values are not encrypted yet" in out
        code, out = run_cli(capsys, "keys", "reencrypt")
        assert code == 0 and "1 plain values encrypted" in out
        assert all(t.startswith("enc1:t1:") for t in raw_tokens())

    def test_a_wrong_key_is_a_clear_error_never_garbage(self, chat):
        some_content(chat)
        other = base64.b64encode(os.urandom(32)).decode()
        crypto.set_keyring(crypto.parse_keys(f"t1:{other}"))
        with pytest.raises(DecryptionError, match=r"key 't1' does not open this value \(wrong key"):
            list(all_text_values())
        crypto.set_keyring(crypto.parse_keys(f"t2:{other}"))
        with pytest.raises(DecryptionError, match=r"no key with id 't1' is configured \(known: t2\)"):
            with db.session_scope() as s:
                s.exec(select(Message).where(Message.body.is_not(None))).all()

    def test_tampered_or_damaged_values_are_refused(self):
        ring = crypto.parse_keys("a:" + crypto.new_key_b64())
        token = ring.encrypt(CANARY)
        kid, blob = token.split(":", 2)[1:]
        raw = bytearray(base64.b64decode(blob))
        raw[-1] ^= 1
        for bad in (f"enc1:{kid}:" + base64.b64encode(bytes(raw)).decode(), f"enc1:{kid}:***", f"enc1:{kid}:AAAA", CANARY + ":x:y"):
            with pytest.raises(DecryptionError) as err:
                ring.decrypt(bad)
            assert CANARY not in str(err.value)
        assert "keys" not in repr(ring) and str(ring.keys[kid]) not in repr(ring)

    def test_production_without_a_key_refuses_to_start(self, tmp_path, monkeypatch):
        from bot.startup import prepare
        from core.settings import Settings

        monkeypatch.delenv("RISTAPO_DATA_KEY", raising=False)
        monkeypatch.delenv("RISTAPO_DATA_KEY_FILE", raising=False)
        s = Settings(env="production", data_dir=tmp_path / "var", database_url=f"sqlite:///{tmp_path}/p.db")
        with pytest.raises(MissingKeyError, match="RISTAPO_DATA_KEY or RISTAPO_DATA_KEY_FILE; refusing to start"):
            prepare(s, create_tables=False)
        assert not (tmp_path / "var" / "keys" / "data-keys.json").exists(), "production never invents a key"

    def test_dev_mode_creates_a_key_under_the_data_dir_and_says_so(self, tmp_path, monkeypatch, caplog):
        from bot.startup import prepare
        from core.settings import Settings

        monkeypatch.delenv("RISTAPO_DATA_KEY", raising=False)
        monkeypatch.delenv("RISTAPO_DATA_KEY_FILE", raising=False)
        s = Settings(env="dev", data_dir=tmp_path / "var", database_url=f"sqlite:///{tmp_path}/d.db")
        caplog.set_level("WARNING", logger="ristapo.crypto")
        prepare(s, create_tables=False)
        path = tmp_path / "var" / "keys" / "data-keys.json"
        assert path.exists() and (path.stat().st_mode & 0o077) == 0
        assert any("created a development data key" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records)
        key = crypto.keyring().keys["dev1"]
        caplog.clear()
        prepare(s, create_tables=False)
        assert crypto.keyring().keys["dev1"] == key, "the same key is used on the next start"
        assert not caplog.records
