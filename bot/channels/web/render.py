"""How the web chat writes a bot or staff line as HTML: escaped, phone numbers tap-to-call,
and, when the person has switched 「ふりがな」 on, readings over the kanji (<ruby>).

Why the readings are rendered here, on the server: the page must work without JavaScript, and
the readings come from the SudachiPy dictionary plus the entry's own ``readings`` (names and
terms the dictionary gets wrong), which only the server has. Why only when switched on: the
markup of a plain page stays exactly the text people (and tests, and screen readers) expect.
"""
from __future__ import annotations

import logging

from jinja2 import pass_context
from markupsafe import Markup, escape

from core.template_filters import TEL, tel_anchor, tel_links
from knowledge.furigana import as_ruby_html

log = logging.getLogger("ristapo.web")

# why a limit: the dictionary refuses very long input; a longer (staff) text is shown without readings
_MAX_RUBY_CHARS = 4000


def ruby_tel(text: str | None, readings: dict[str, str] | None = None) -> Markup:
    """Like :func:`tel_links`, with ``<ruby>漢字<rt>かんじ</rt></ruby>`` over every kanji word.

    Everything is escaped (:func:`knowledge.furigana.as_ruby_html`); only ruby, rt and the tel
    links are markup. Numbers are found in the raw text, so 110番 still links 110 even though
    番 gets a reading.
    """
    # why str(): a Jinja block (the welcome) arrives as Markup, whose slices re-escape what
    # html.escape writes (&amp; → &amp;amp;)
    text = str(text) if text else ""
    if len(text) > _MAX_RUBY_CHARS:
        return tel_links(text)
    parts: list[str] = []
    at = 0
    try:
        for m in TEL.finditer(text):
            parts.append(as_ruby_html(text[at:m.start()], readings))
            parts.append(tel_anchor(m.group(0)))  # digits, #, - only: nothing to escape
            at = m.end()
        parts.append(as_ruby_html(text[at:], readings))
    except Exception:  # why: a dictionary failure must not hide the message
        log.warning("readings failed; showing the text without them")  # never the text itself
        return tel_links(text)
    return Markup("".join(parts))


@pass_context
def said(context, text: str | None, readings: dict[str, str] | None = None, *, links: bool = True) -> Markup:
    """Jinja filter for a bot/staff line: readings when the page's ``furigana`` is on.

    ``links=False`` (titles): no tap-to-call links, only the escaping and the readings.
    """
    if context.get("furigana"):
        if not links:
            plain = str(text) if text else ""
            return Markup(as_ruby_html(plain, readings)) if len(plain) <= _MAX_RUBY_CHARS else escape(plain)
        return ruby_tel(text, readings)
    return tel_links(text) if links else escape(text or "")
