"""Jinja filters shared by the web chat and the console (which shows the chat's bubbles in previews)."""
from __future__ import annotations

import re

from markupsafe import Markup, escape

# Phone numbers in bot texts become tap-to-call links (e.g. 0120-279-338, 110番, 110(無料), 189, #7110).
TEL = re.compile(
    r"(?<![0-9A-Za-z&-])(0\d{1,4}-\d{1,4}-\d{3,4}|#\d{4})(?![\d-])"
    r"|(?<![\d#,.-])(110|119|189)(?=番|\s|$|[()（）、。])",
    re.MULTILINE,
)


def tel_links(text: str | None) -> Markup:
    """Escapes ``text`` and wraps phone numbers in ``tel:`` links."""
    escaped = str(escape(text or ""))
    return Markup(TEL.sub(lambda m: tel_anchor(m.group(0)), escaped))


def tel_anchor(number: str) -> str:
    """``<a class="tel" href="tel:…">number</a>`` for a number already found in escaped text."""
    target = number.replace("-", "").replace("#", "%23")
    return f'<a class="tel" href="tel:{target}">{number}</a>'


FILTERS = {"tel": tel_links}
