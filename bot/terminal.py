"""``ristapo chat``: the same engine and database, in the terminal."""
from __future__ import annotations

import sys

from bot.runtime import get_runtime
from bot.service import handle_inbound
from bot.startup import prepare
from core import db
from core.messages import Inbound, OutMessage


def render(m: OutMessage) -> str:
    lines = [m.plain_text()]
    choices = m.buttons + m.quick_replies
    if choices:
        lines.append("  " + "  ".join(f"[{i + 1}] {b.label}" for i, b in enumerate(choices)))
    return "\n".join(lines)


def run_terminal_chat(user: str = "local", stdin=None, stdout=None) -> int:
    """Reads lines, prints replies; a number picks a button of the last message."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    prepare()
    rt = get_runtime()
    choices: list = []
    print("りすたぽ チャット(終わるときは Ctrl-D)", file=stdout)
    for raw in stdin:
        line = raw.strip()
        if not line:
            continue
        if line.isdigit() and 0 < int(line) <= len(choices):
            inbound = Inbound(kind="postback", action=choices[int(line) - 1].action)
        else:
            inbound = Inbound(kind="text", text=line)
        with db.session_scope() as session:
            handled = handle_inbound(session, rt, channel="terminal", platform_id=user, inbound=inbound)
        for m in handled.out:
            print(render(m), file=stdout)
            print("", file=stdout)
        choices = (handled.out[-1].buttons + handled.out[-1].quick_replies) if handled.out else []
        stdout.flush()
    return 0
