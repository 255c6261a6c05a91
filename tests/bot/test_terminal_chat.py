"""``ristapo chat`` driven through a pipe, as a script would: one turn per line, no log lines."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _chat(tmp_path: Path, text: str, *args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("ristapo")
    if not exe.exists():
        pytest.skip("the ristapo console script is not installed in this environment")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISTAPO_")}
    env.update(RISTAPO_DATA_DIR=str(tmp_path / "var"), RISTAPO_ID_PEPPER="terminal-test")
    return subprocess.run([str(exe), "chat", *args], input=text.encode(), cwd=tmp_path, env=env, capture_output=True, timeout=180)


def test_a_piped_chat_is_one_turn_per_line_without_log_lines(tmp_path):
    run = _chat(tmp_path, "こんにちは\n同意する\n住むところがない\n")
    out, err = run.stdout.decode(), run.stderr.decode()
    assert run.returncode == 0, err
    assert err == ""  # logs go to a file, never into the conversation
    assert (tmp_path / "var" / "logs" / "chat.log").exists()
    assert '"level"' not in out and "Traceback" not in out
    assert out.count("あなた> ") == 3  # the script's own lines are echoed, so the output reads as a dialogue
    assert "終わるときは Ctrl-D" not in out  # the keyboard hint is for people at a terminal only
    assert out.index("あなた> 住むところがない") < out.index("更生緊急保護")


def test_each_run_is_a_fresh_conversation_unless_a_user_is_named(tmp_path):
    first = _chat(tmp_path, "こんにちは\n1\n").stdout.decode()
    assert "記録について" in first and "ありがとうございます" in first
    again = _chat(tmp_path, "こんにちは\n").stdout.decode()
    assert "記録について" in again  # a new person: asked for consent again
    _chat(tmp_path, "こんにちは\n1\n", "--user", "kazuko")
    named = _chat(tmp_path, "こんにちは\n", "--user", "kazuko").stdout.decode()
    assert "記録について" not in named  # the same name continues the consented conversation
