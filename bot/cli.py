"""The ``ristapo`` console script.

Core commands live here; other rooms and each channel add theirs through a
``register(subparsers, parser)`` function (each sets ``func`` on its parsers). Those modules
only build parsers: what a command needs is imported when it runs, so ``ristapo --help``
stays quick.
"""
from __future__ import annotations

import argparse
import sys

from admin import cli as admin_cli
from admin import kb_cli
from bot import privacy_cli, worker_cli
from bot.channels import CHANNELS
from core import migrate_cli

# how long `ristapo serve` waits for open requests after SIGTERM (then it closes them)
SHUTDOWN_GRACE_SECONDS = 10


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    from core.logs import setup_logging
    from core.settings import get_settings

    setup_logging()
    if args.demo:
        if get_settings().env == "production":
            # why refuse: demo mode creates accounts and prints their one-time passwords
            print("ristapo: --demo is refused when RISTAPO_ENV=production: demo accounts and their one-time "
                  "passwords must never exist on a live service. Run the demo with RISTAPO_ENV=dev on a "
                  "machine without real data.", file=sys.stderr)
            return 2
        os.environ["RISTAPO_DEMO"] = "1"
        get_settings.cache_clear()
    from bot.app import create_app

    settings = get_settings()
    app = create_app(settings)
    app.state.freeze_heap = True
    if args.demo:
        from bot.demo import seed_demo

        seed_demo(print)
    base = f"http://{args.host}:{args.port}"
    print(f"ristapo: web chat {base}/chat   console {base}/console   (data: {settings.data_dir})", flush=True)
    # why a bounded graceful shutdown: an open console (server-sent events) or a stuck client
    # would otherwise keep the process alive after SIGTERM; nothing is lost by cutting them,
    # since an unanswered webhook is redelivered and stored events survive the restart
    proxies = args.forwarded_allow_ips if args.forwarded_allow_ips is not None else settings.forwarded_allow_ips
    uvicorn.run(
        app, host=args.host, port=args.port, log_config=None, access_log=False, timeout_graceful_shutdown=_shutdown_grace(),  # type: ignore[arg-type]  # uvicorn annotates int but passes it to asyncio.timeout, which takes float
        # why off unless configured: uvicorn trusts X-Forwarded-For from 127.0.0.1 by default, so
        # any local process (or a proxy that passes the header through) could pick the client IP
        # that login throttling and the audit log see
        proxy_headers=bool(proxies.strip()), forwarded_allow_ips=proxies.strip() or None,
    )
    return 0


def _shutdown_grace() -> float:
    import os

    try:
        return float(os.environ.get("RISTAPO_SHUTDOWN_GRACE_SECONDS", SHUTDOWN_GRACE_SECONDS))
    except ValueError:
        return SHUTDOWN_GRACE_SECONDS


def cmd_classify(args: argparse.Namespace) -> int:
    from knowledge.evaluate import run_classify

    return run_classify(sys.stdin, sys.stdout)


def cmd_eval(args: argparse.Namespace) -> int:
    from knowledge.evaluate import run_eval

    return run_eval(args.file, sys.stdout)


def cmd_kb_check(args: argparse.Namespace) -> int:
    from knowledge.kb_check import main as kb_check_main

    argv = []
    if args.entries:
        argv += ["--entries", args.entries]
    return kb_check_main(argv)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ristapo", description="りすたぽ chat front door")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the web service (web chat, webhooks, console, workers)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--demo", action="store_true", help="create demo accounts and clearly marked demo conversations (refused in production)")
    p.add_argument("--forwarded-allow-ips", default=None, help="reverse proxies whose X-Forwarded-For is trusted (default: RISTAPO_FORWARDED_ALLOW_IPS, else none)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("classify", help="one JSON line per input line: intent, topic, score, candidates")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("eval", help="accuracy on a labelled JSONL file")
    p.add_argument("file")
    p.set_defaults(func=cmd_eval)

    kb = sub.add_parser("kb", help="knowledge-base tools").add_subparsers(dest="kb_command", required=True)
    p = kb.add_parser("check", help="validate entries against topics.yaml and the seeds")
    p.add_argument("--entries", default=None)
    p.set_defaults(func=cmd_kb_check)
    parser._kb_subparsers = kb  # type: ignore[attr-defined]  # extensions add "kb publish"

    admin_cli.register(sub, parser)
    kb_cli.register(sub, parser)
    for channel in CHANNELS:
        if channel.register_cli is not None:
            channel.register_cli(sub, parser)
    worker_cli.register(sub, parser)
    privacy_cli.register(sub, parser)
    migrate_cli.register(sub, parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
