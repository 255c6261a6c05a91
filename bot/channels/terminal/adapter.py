"""``ristapo chat``: the same engine and database, in the terminal.

One input line is one turn, so the chat can be scripted with a pipe or a here-document
(``printf '同意する\\n住むところがない\\n' | ristapo chat``). Each run is a fresh conversation
unless ``--user NAME`` is given (then the same name continues where it stopped). Log lines
never go into the conversation: they go to a file under the data directory.
"""
from __future__ import annotations

import logging
import secrets
import sys
from pathlib import Path

from bot.channels.terminal.render import render
from bot.runtime import get_runtime
from bot.service import handle_inbound
from bot.startup import prepare
from core import db
from core.logs import JsonFormatter
from core.messages import Inbound
from core.settings import get_settings

HEADER = "りすたぽ チャット(終わるときは Ctrl-D。番号を送るとボタンを押したことになります)"
LOG_FILE = Path("logs") / "chat.log"


def fresh_user() -> str:
    """A name nobody typed: each run without ``--user`` starts a new conversation."""
    return "terminal-" + secrets.token_hex(8)


def log_to_file(data_dir: Path) -> Path:
    """Sends the root logger's handlers to ``<data_dir>/logs/chat.log`` instead of the screen."""
    path = data_dir / LOG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for h in list(root.handlers):
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler):
            root.removeHandler(h)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    handler._ristapo = True  # type: ignore[attr-defined]  # core.logs.setup_logging replaces it, not adds
    root.addHandler(handler)
    return path


def run_terminal_chat(user: str | None = None, stdin=None, stdout=None) -> int:
    """Reads lines, prints replies; a number picks a button of the last message."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    settings = get_settings()
    if stdin is sys.stdin:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        log_to_file(settings.data_dir)  # before prepare(): it may log (e.g. a new dev key)
    prepare(settings)
    rt = get_runtime()
    user = user or fresh_user()
    interactive = _isatty(stdin)
    choices: list = []
    if interactive:
        print(HEADER, file=stdout)
    for raw in stdin:
        line = raw.strip()
        if not line:
            continue
        if not interactive:
            # why echo: a scripted run's output should read as the whole conversation
            print(f"あなた> {line}", file=stdout)
        if line.isdigit() and 0 < int(line) <= len(choices):
            inbound = Inbound(kind="postback", action=choices[int(line) - 1].action)
        else:
            inbound = Inbound(kind="text", text=line)
        with db.session_scope() as session:
            handled = handle_inbound(session, rt, channel="terminal", platform_id=user, inbound=inbound)
        try:
            for m in handled.out:
                print(render(m), file=stdout)
                print("", file=stdout)
            stdout.flush()
        except BrokenPipeError:  # e.g. `| head`: the reader has enough; the turn is already stored
            return 0
        choices = (handled.out[-1].buttons + handled.out[-1].quick_replies) if handled.out else []
    return 0


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
