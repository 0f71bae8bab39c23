"""``ndoto serve`` (the REST API + the dispatcher) and ``ndoto worker`` (the dispatcher alone)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from ndoto_cli.commands.output import ExitCode, console, fail, run, token_notice
from ndoto_cli.commands.output import settings as read_settings


class LogLevel(str, Enum):
    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        fail(f"cannot listen on {host}:{port}: {exc.strerror}", hint="choose another --port (0 picks a free one)")
    return sock


def serve(
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option("--port", "-p", min=0, max=65535, help="Port (default 8787; 0 picks a free one).")] = None,
    ssl_certfile: Annotated[Path | None, typer.Option("--ssl-certfile", help="TLS certificate (PEM) to serve https.")] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option("--ssl-keyfile", help="TLS private key (PEM).")] = None,
    no_dispatcher: Annotated[bool, typer.Option("--no-dispatcher", help="Serve the API only (run `ndoto worker` elsewhere).")] = False,
    log_level: Annotated[LogLevel, typer.Option("--log-level", case_sensitive=False, help="How much the server logs.")] = LogLevel.warning,
) -> None:
    """Run the REST API and the dispatcher that delivers events to bots, until Ctrl-C.

    Applies migrations first; on an empty database it creates the first account and
    administrator and prints the administrator's token once.

    Example: ndoto serve --port 8787
    """
    settings = read_settings()
    host = host or settings.host
    port = settings.port if port is None else port
    if (ssl_certfile is None) != (ssl_keyfile is None):
        fail("--ssl-certfile and --ssl-keyfile go together", exit_code=ExitCode.USAGE)
    for path in (ssl_certfile, ssl_keyfile):
        if path is not None and not path.is_file():
            fail(f"no such file: {path}")

    async def bootstrap(db: Any) -> Any:
        from ndoto_cli.core.services import accounts, bots

        boot = await db.write(lambda s: accounts.bootstrap(s))
        async with db.read() as s:
            warned = await bots.every_warning(s, db.settings)
        return boot, db.display_url, warned

    boot, database, warned = run(bootstrap, settings=settings)
    for line in warned:
        sys.stderr.write(f"Warning: {line}\n")
    sock = _bind(host, port)
    real_port = sock.getsockname()[1]
    scheme = "https" if ssl_certfile else "http"
    shown_host = f"[{host}]" if ":" in host else host
    base = f"{scheme}://{shown_host}:{real_port}"
    settings = settings.model_copy(update={"host": host, "port": real_port})
    dispatcher = settings.dispatcher and not no_dispatcher
    out = console()
    out.print(f"Ndoto API  {base}", highlight=False)
    out.print(f"Docs       {base}/docs", highlight=False)
    out.print(f"Database   {database}", highlight=False)
    out.print(f"Dispatcher {'running in this process' if dispatcher else 'off (run `ndoto worker`)'}", highlight=False)
    if boot.created:
        out.print(f"Created account {boot.account.id} ({boot.account.name}) and administrator {boot.admin.email}.")
        token_notice(boot.token, "Administrator")
    out.print("Press Ctrl-C to stop.", style="dim")

    import uvicorn

    from ndoto_cli.server.app import create_app

    app = create_app(settings, start_dispatcher=dispatcher)
    config = uvicorn.Config(
        app, log_level=log_level.value, ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None, timeout_graceful_shutdown=10, lifespan="on",
        # Behind a load balancer: its X-Forwarded-* headers become the client's address and scheme
        # (uvicorn's own handling), only from the balancers named.
        proxy_headers=bool(settings.forwarded_allow_ips), forwarded_allow_ips=settings.forwarded_allow_ips or "",
        server_header=False,
    )
    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            # Live widget streams never end by themselves: end them first, or every stop would
            # wait out the graceful-shutdown timeout while visitors are connected.
            hub = getattr(app.state, "widget_hub", None)
            if hub is not None:
                with contextlib.suppress(RuntimeError):
                    asyncio.get_running_loop().call_soon_threadsafe(hub.close_all)
            super().handle_exit(sig, frame)

    server = Server(config)
    from ndoto_cli.core.errors import NdotoError

    with contextlib.ExitStack() as held:
        try:
            held.enter_context(_in_use(settings, "serve", base))
        except NdotoError as exc:
            fail(exc.message, code=exc.code)
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:
            pass
    out.print("Stopped.", style="dim")


def _in_use(settings: Any, role: str, address: str | None) -> Any:
    """Tell ``ndoto db restore`` and ``ndoto status`` that this process uses the database."""
    from ndoto_cli.core.db import sqlite_path

    path = sqlite_path(settings.resolved_database_url)
    if not path or path == ":memory:":
        return contextlib.nullcontext()
    from ndoto_cli.core.db.backup import in_use

    return in_use(path, role=role, address=address)


def worker(
    log_level: Annotated[LogLevel, typer.Option("--log-level", case_sensitive=False, help="How much the worker logs.")] = LogLevel.info,
) -> None:
    """Run only the dispatcher (for deployments that separate the API and delivery), until Ctrl-C.

    Example: ndoto worker
    """
    import logging

    logging.basicConfig(level=log_level.value.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def go(db: Any) -> None:
        from ndoto_cli.dispatch.worker import Dispatcher

        with _in_use(db.settings, "worker", None):  # once the database opened: its errors come first
            dispatcher = Dispatcher(db, db.settings)
            await dispatcher.start()
            # Ctrl-C, and SIGTERM (systemd, docker stop): a clean stop that gives back unstarted claims.
            stopping = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stopping.set)
            console().print(f"Dispatcher running on {db.display_url}. Press Ctrl-C to stop.", highlight=False)
            from ndoto_cli.core import heap

            heap.set_aside()  # started: what it holds now lives as long as it (core.heap says why)
            try:
                await stopping.wait()
            finally:
                heap.give_back()
                await dispatcher.stop()
        console().print("Stopped.", style="dim")

    settings = read_settings()
    try:
        run(go, settings=settings)
    except KeyboardInterrupt:
        console().print("Stopped.", style="dim")
