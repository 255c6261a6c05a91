"""The web chat at ``/chat``: ``routes`` (pages and posts), ``render`` (how a line is written), ``throttle``.

Its turns run at once in the request (no webhook, no outbox), so it has no adapter. Light on
purpose, like bot/channels/line/__init__.py.
"""
from __future__ import annotations

from bot.channels.base import Channel


def install(app, settings) -> None:
    """Mounts the chat and its files, and lends its templates to the editors' preview."""
    from starlette.staticfiles import StaticFiles

    from bot.channels.web import routes

    app.state.chat_templates = routes.templates.env.loader  # the previews show the web chat's bubbles
    app.state.chat_filters = {"said": routes.said}  # ... written as the chat writes them (ふりがな too)
    app.state.chat_globals = {"A_FURIGANA": routes.A_FURIGANA}
    app.mount("/static", StaticFiles(directory=str(routes.STATIC_DIR)), name="static")
    app.include_router(routes.router)


CHANNEL = Channel("web", install=install)
