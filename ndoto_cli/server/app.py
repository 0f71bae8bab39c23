"""The FastAPI app factory. No app at import time: ``create_app(settings)`` builds one, so tests
point everything at a temp dir and ``ndoto serve`` builds exactly one."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request

from ndoto_cli import __version__
from ndoto_cli.core import heap
from ndoto_cli.core.db import Database
from ndoto_cli.core.settings import Settings

log = logging.getLogger("ndoto.server")


class BodyLimit:
    """Request bodies up to ``max_bytes``: one declared bigger is answered 413 before anything
    reads it; one that grows past the limit while read is stopped by Starlette's limiter, whose
    error the app's handlers answer (JSON, like every error here)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        from starlette.middleware.body_limit import RequestBodyLimitMiddleware

        self.app = RequestBodyLimitMiddleware(app, max_body_size=max_bytes)
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"content-length":
                    declared = int(value) if value.isdigit() else -1
                    if declared > self.max_bytes or declared < 0:
                        from starlette.responses import JSONResponse

                        status, message = (413, f"the body is larger than {self.max_bytes} bytes") if declared > 0 else (400, "bad Content-Length")
                        await JSONResponse({"error": message}, status_code=status)(scope, receive, send)
                        return
        await self.app(scope, receive, send)


class TrailingSlash:
    """Serve ``/path/`` as ``/path`` (clients and proxies add slashes) instead of redirecting."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and len(scope["path"]) > 1 and scope["path"].endswith("/"):
            scope = {**scope, "path": scope["path"].rstrip("/") or "/"}
            scope["raw_path"] = scope["path"].encode()
        await self.app(scope, receive, send)


def create_app(settings: Settings, *, db: Database | None = None, start_dispatcher: bool | None = None) -> FastAPI:
    """Build the API. ``db``: share an open database (tests); ``start_dispatcher``: override the setting."""
    run_dispatcher = settings.dispatcher if start_dispatcher is None else start_dispatcher

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_db = db is None
        database = db or await Database(settings).open()
        app.state.db = database
        app.state.widget_hub = Hub(database)
        app.state.dispatcher = None
        if run_dispatcher:
            from ndoto_cli.dispatch.worker import Dispatcher

            app.state.dispatcher = Dispatcher(database, settings)
            await app.state.dispatcher.start()
        heap.set_aside()  # started: what it holds now lives as long as it (core.heap says why)
        try:
            yield
        finally:
            heap.give_back()
            if app.state.dispatcher is not None:
                await app.state.dispatcher.stop()
            if own_db:
                await database.close()

    app = FastAPI(
        title="Ndoto",
        version=__version__,
        description="Agent bots for customer conversations: Chatwoot-compatible account, platform and public APIs. "
        "Authenticate with the `api_access_token` header.",
        lifespan=lifespan,
        strict_content_type=False,  # token auth, no cookies: a body without Content-Type is read as JSON
    )
    app.state.settings = settings
    from ndoto_cli.core.ratelimit import Limiter

    app.state.auth_failures = Limiter(settings.auth_failures_per_minute)
    app.state.public_clients = Limiter(settings.public_requests_per_minute)
    app.state.public_contacts = Limiter(settings.public_messages_per_minute)
    app.state.new_contacts = Limiter(settings.new_contacts_per_minute)

    from ndoto_cli.server import errors
    from ndoto_cli.server.routes import ROUTERS

    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    from ndoto_cli.server import widget
    from ndoto_cli.server.widget.live import Hub

    widget.install(app)

    @app.get("/health", tags=["health"], summary="Liveness, database and dispatcher state")
    async def health(request: Request) -> dict[str, Any]:
        dispatcher = request.app.state.dispatcher
        return {
            "status": "ok",
            "version": __version__,
            "database": request.app.state.db.display_url,
            "dispatcher": bool(dispatcher is not None and getattr(dispatcher, "running", False)),
        }

    app.add_middleware(TrailingSlash)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)  # 413 while reading, without buffering the rest
    return app
