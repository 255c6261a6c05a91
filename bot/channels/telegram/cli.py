"""``ristapo telegram set-webhook URL`` and ``ristapo telegram webhook-info``."""
from __future__ import annotations

import argparse
import asyncio
from urllib.parse import urlsplit, urlunsplit


def _webhook_url(url: str) -> str:
    """A bare ``https://host`` gets our route appended; a full URL is used as given."""
    parts = urlsplit(url)
    if parts.path in ("", "/"):
        from bot.channels.telegram.adapter import WEBHOOK_PATH

        parts = parts._replace(path=WEBHOOK_PATH)
    return urlunsplit(parts)


def _bot():
    from telegram import Bot

    from core.settings import get_settings

    s = get_settings()
    if not s.telegram_enabled:
        raise SystemExit("ristapo telegram: set RISTAPO_TELEGRAM_TOKEN and RISTAPO_TELEGRAM_SECRET first")
    return Bot(s.telegram_token or "", base_url=s.telegram_api_base), s


def cmd_set_webhook(args: argparse.Namespace) -> int:
    """Registers the webhook with our secret and only the update kinds the bot serves."""
    from bot.channels.telegram.adapter import ALLOWED_UPDATES, SECRET_PATTERN

    bot, settings = _bot()
    secret = settings.telegram_secret or ""
    if not SECRET_PATTERN.match(secret):
        raise SystemExit("ristapo telegram: RISTAPO_TELEGRAM_SECRET must be 1-256 characters of A-Z a-z 0-9 _ -")
    url = _webhook_url(args.url)
    if not url.startswith("https://"):
        print("ristapo telegram: warning: Telegram only calls https:// webhooks (ports 443, 80, 88, 8443)")

    async def run() -> bool:
        async with bot:
            return await bot.set_webhook(
                url=url,
                secret_token=secret,
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=args.drop_pending,
            )

    ok = asyncio.run(run())
    print(f"ristapo telegram: webhook {'set to ' + url if ok else 'NOT set'} (updates: {', '.join(ALLOWED_UPDATES)})")
    return 0 if ok else 1


def cmd_webhook_info(args: argparse.Namespace) -> int:
    bot, _settings = _bot()

    async def run():
        async with bot:
            return await bot.get_webhook_info()

    info = asyncio.run(run())
    print(f"url: {info.url or '(none)'}\npending updates: {info.pending_update_count}")
    if info.last_error_message:
        print(f"last error: {info.last_error_message}")
    return 0


def register(subparsers, parser: argparse.ArgumentParser) -> None:
    tg = subparsers.add_parser("telegram", help="Telegram channel tools").add_subparsers(dest="telegram_command", required=True)
    p = tg.add_parser("set-webhook", help="register URL (https://host or the full /webhooks/telegram URL) with the secret")
    p.add_argument("url")
    p.add_argument("--drop-pending", action="store_true", help="discard updates Telegram queued while no webhook was set")
    p.set_defaults(func=cmd_set_webhook)
    p = tg.add_parser("webhook-info", help="show the webhook Telegram has registered")
    p.set_defaults(func=cmd_webhook_info)
