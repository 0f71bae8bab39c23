"""The website chat widget: its API (``routes``), its live updates (``live``), and its script,
styles and translations (``static/``), shipped in the package and served by ``ndoto serve``.

A site owner embeds one script tag (``ndoto inboxes embed INBOX`` prints it); ``/widget/demo``
shows it on a page of its own. The script builds the chat inside a shadow root on the host page
and talks to ``/api/v1/widget`` across origins: CORS for the browser, the inbox's allowed origins
checked by the server. Every response here carries a content security policy that the widget
itself satisfies: no inline script, no eval.
"""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import Query, Request
from fastapi.responses import HTMLResponse
from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles

from ndoto_cli.core.errors import NdotoError
from ndoto_cli.core.services import widget as rules

STATIC = Path(__file__).resolve().parent / "static"
API_PREFIX = "/api/v1/widget"
# The demo page's policy: scripts, styles, connections only from this server; nothing inline.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
ALLOW_HEADERS = "content-type, x-ndoto-visitor, last-event-id"


def own_origin(request: Request) -> str:
    """This server's origin, as visitors' browsers see it: its own pages (the demo) may always chat."""
    return (request.app.state.settings.public_url or f"{request.url.scheme}://{request.url.netloc}").rstrip("/")


class WidgetHeaders:
    """CORS and a content security policy for the widget's paths (the rest of the app is untouched).

    The browser is told an origin may read the answers only when the inbox named by the request's
    ``website_token`` allows it (looked up, then remembered for ``CACHE_SECONDS``), so a page of
    another site is refused by the browser before any answer reaches it; the endpoints check the
    origin again (a 403) for clients that are not browsers or ignore CORS."""

    CACHE_SECONDS = 5.0

    def __init__(self, app: Any) -> None:
        self.app = app
        self._allowed: dict[tuple[str, str, str], tuple[bool, float]] = {}

    async def _may(self, scope: dict[str, Any], origin: str) -> bool:
        tokens = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("website_token", [])
        if len(tokens) != 1:
            return False  # none, or several: the endpoint might read another one than this check
        request = Request(scope)
        own = own_origin(request)
        key, now = (tokens[0], origin, own), time.monotonic()
        cached = self._allowed.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        token = tokens[0]
        try:
            async with request.app.state.db.read() as s:
                inbox = await rules.widget_inbox(s, website_token=token)
        except NdotoError:
            allowed = False  # no such website: the endpoint says so, to clients that may read it
        else:
            allowed = rules.origin_allowed(inbox, origin, own_origin=own)
        if len(self._allowed) > 10_000:
            self._allowed.clear()
        self._allowed[key] = (allowed, now + self.CACHE_SECONDS)
        return allowed

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith((API_PREFIX, "/widget")):
            await self.app(scope, receive, send)
            return
        origin = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"origin"), None)
        api = path.startswith(API_PREFIX)
        cors = api and origin is not None and await self._may(scope, origin)
        if api and scope["method"] == "OPTIONS":
            headers = [(b"access-control-allow-methods", b"GET, POST, PATCH, OPTIONS"),
                       (b"access-control-allow-headers", ALLOW_HEADERS.encode()), (b"access-control-max-age", b"600"),
                       (b"vary", b"Origin")]
            if cors:
                headers.append((b"access-control-allow-origin", origin.encode("latin-1")))  # type: ignore[union-attr]
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"content-security-policy", (API_CSP if api else PAGE_CSP).encode()))
                headers.append((b"x-content-type-options", b"nosniff"))
                if api:
                    headers.append((b"vary", b"Origin"))
                if cors:
                    headers.append((b"access-control-allow-origin", origin.encode("latin-1")))  # type: ignore[union-attr]
                if not api:
                    # Public files: any host page loads the script and fetches the translations.
                    headers += [(b"cross-origin-resource-policy", b"cross-origin"), (b"access-control-allow-origin", b"*")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def demo_page(base_url: str, website_token: str, title: str) -> str:
    snippet = rules.snippet
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}: Ndoto chat demo</title><link rel="stylesheet" href="/widget/demo.css"><link rel="icon" href="data:,"></head>
<body>
<main><h1>{html.escape(title)}</h1>
<p>This page shows your inbox's chat as a visitor sees it. Open the bubble at the corner and write.</p>
<p>Put it on your site with this one tag:</p>
<pre><code>{html.escape(snippet(base_url, website_token))}</code></pre></main>
{snippet(base_url, website_token)}
</body>
</html>
"""


def install(app: Any) -> None:
    """Routes, static files and headers of the widget, on the app."""
    from ndoto_cli.server.widget.routes import router

    app.include_router(router)

    @app.get("/widget/demo", response_class=HTMLResponse, tags=["widget"], summary="A page to try an inbox's chat at once")
    async def demo(request: Request, inbox: str = Query(max_length=255, description="The inbox's website token")) -> HTMLResponse:
        async with request.app.state.db.read() as s:
            found = await rules.widget_inbox(s, website_token=inbox)
        return HTMLResponse(demo_page(own_origin(request), found.identifier, found.name))

    app.mount("/widget", GZipMiddleware(StaticFiles(directory=STATIC), minimum_size=400), name="widget-static")
    app.add_middleware(WidgetHeaders)
