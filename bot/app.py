"""The FastAPI application: health, web chat, channel webhooks, the admin API and console.

``create_app`` is the composition root: it imports what it mounts (``mount_rooms``), so it
is the one place in bot/ that imports admin/.
Background workers (inbox, outbox, retention) run as asyncio tasks in the lifespan when
``RISTAPO_RUN_WORKERS`` is true (default), or as separate ``ristapo worker`` processes,
whose composition root is :func:`create_worker` (no web app).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from admin import admission, console
from admin import api as admin_api
from admin.console.kb_preview import AnswerPreview
from bot import answers, pipeline, retention
from bot.channels import CHANNELS
from bot.channels.line import render as line_render
from bot.runtime import get_runtime
from bot.startup import log_channels, prepare
from core import db, health, heap
from core.settings import Settings, get_settings
from knowledge.kb import Entry

log = logging.getLogger("ristapo.app")
WorkerFactory = Callable[[FastAPI], Awaitable[None]]


class RistapoApp(FastAPI):
    """FastAPI with a few exact paths served as plain ASGI before its middleware stack.

    Why: a channel webhook only verifies, stores and answers (bot/channels/webhook_asgi.py);
    in a burst even the framework's outer layers (error and telemetry wrappers, body limit)
    were a tenth of the server's work. ``raw_routes`` maps a path to an ASGI callable.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.raw_routes: dict[str, Callable] = {}

    async def __call__(self, scope, receive, send) -> None:
        raw = self.raw_routes.get(scope.get("path", "")) if scope["type"] == "http" else None
        if raw is not None:
            await raw(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = prepare(settings or get_settings())
    app = RistapoApp(
        title="ristapo",
        lifespan=_lifespan(settings),
        # why dev only: the API map helps an attacker more than anyone in production or test
        docs_url="/docs" if settings.env == "dev" else None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.env == "dev" else None,
    )
    app.state.settings = settings
    app.state.runtime = get_runtime()
    app.state.answer_preview = answer_preview  # the editors' preview (admin/console/kb_preview.py)
    workers: list[WorkerFactory] = []
    on_startup: list[WorkerFactory] = []
    on_shutdown: list[WorkerFactory] = []
    app.state.workers, app.state.on_startup, app.state.on_shutdown = workers, on_startup, on_shutdown
    # set by the long-running commands (serve, worker), not in tests: core/heap.py
    app.state.freeze_heap = False
    _add_health_routes(app, settings)
    mount_rooms(app, settings)
    log_channels(settings)
    return app


def mount_rooms(app: FastAPI, settings: Settings) -> None:
    """Everything the service serves, in order: the pipeline, each channel, the admin side, retention.

    Why this order: channels register their adapters with the pipeline; the web chat lends
    its templates to the console's preview before the console mounts.
    """
    pipeline.install(app, settings)
    for channel in CHANNELS:
        if channel.install is not None:
            channel.install(app, settings)
    admin_api.install(app, settings)
    console.install(app, settings)
    admission.install(app, settings)
    retention.install(app, settings)


def _lifespan(settings: Settings):
    """Start-up hooks, then the workers (when this process runs them); shutdown in reverse."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        tasks: list[asyncio.Task] = []
        for start in app.state.on_startup:
            await start(app)
        if app.state.freeze_heap:
            if settings.run_workers:
                await asyncio.to_thread(pipeline.warm_up)  # why: bot/pipeline/warm.py
            heap.freeze_long_lived()  # why: core/heap.py (full collections were the webhook's p99)
        if settings.run_workers:
            for factory in app.state.workers:
                tasks.append(asyncio.create_task(factory(app)))
        try:
            yield
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            for stop in app.state.on_shutdown:
                with contextlib.suppress(Exception):
                    await stop(app)

    return lifespan


def _add_health_routes(app: FastAPI, settings: Settings) -> None:
    """``/healthz`` for the load balancer and ``/`` to the web chat."""

    @app.get("/healthz", include_in_schema=False)
    def healthz():
        """Database reachable and the data directory writable with room (core/health.py); else 503."""
        db_ok = db.ping()
        disk = health.disk_problem(settings.data_dir, settings.health_min_free_mb)
        ok = db_ok and disk is None
        body = {
            "status": "ok" if ok else "unhealthy",
            "database": "ok" if db_ok else "unreachable",
            "disk": disk or "ok",
            "line": settings.line_enabled,
            "telegram": settings.telegram_enabled,
        }
        return JSONResponse(body, status_code=200 if ok else 503, headers={"Cache-Control": "no-store"})

    @app.get("/", include_in_schema=False)
    def index():
        from fastapi.responses import RedirectResponse

        return RedirectResponse("/chat")


def answer_preview(entry: Entry):
    """The editors' preview of ``entry``: the engine's own answer, and its LINE rendering."""
    messages = answers.answer_messages(entry)
    return AnswerPreview(messages, line_render.render(messages))


@dataclass
class WorkerProcess:
    """What ``ristapo worker`` runs with: the channels' start and stop hooks (no web app)."""

    on_startup: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    on_shutdown: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    freeze_heap: bool = False  # `ristapo worker` sets it; tests build many workers in one process


def create_worker(settings: Settings | None = None) -> WorkerProcess:
    """Readies a worker process: the pipeline, the adapters of the channels that are on, the staff webhook.

    Why not ``create_app``: a worker serves no request; building the whole web app (routers,
    console, templates) only to register two adapters cost start-up time and memory. The staff
    webhook is needed: the turns a worker runs open tickets that staff must hear about.
    """
    from bot import pipeline
    from handoff.events import install_webhook

    settings = prepare(settings or get_settings())
    pipeline.configure(settings)
    install_webhook(settings.staff_webhook_url, settings.public_base_url.rstrip("/") + "/console")
    worker = WorkerProcess()
    if settings.line_enabled:
        from bot.channels.line.adapter import LineAdapter

        line = LineAdapter(settings)
        pipeline.register_adapter(line)
        worker.on_shutdown.append(line.aclose)
    if settings.telegram_enabled:
        from bot.channels.telegram.adapter import TelegramAdapter

        telegram = TelegramAdapter.from_settings(settings)
        pipeline.register_adapter(telegram)
        worker.on_startup.append(telegram.start)
        worker.on_shutdown.append(telegram.stop)
    log_channels(settings)
    return worker
