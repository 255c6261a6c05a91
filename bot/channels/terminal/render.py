"""A bot message as terminal text: the text, then its buttons numbered for the next line."""
from __future__ import annotations

from core.messages import OutMessage


def render(m: OutMessage) -> str:
    """One bot message as plain text, its buttons numbered for the next line."""
    lines = [m.plain_text()]
    choices = m.buttons + m.quick_replies
    if choices:
        lines.append("  " + "  ".join(f"[{i + 1}] {b.label}" for i, b in enumerate(choices)))
    return "\n".join(lines)
