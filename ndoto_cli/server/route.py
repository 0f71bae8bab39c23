"""What every request goes through before its endpoint: the caller check, then one body parser.

FastAPI reads and parses a request's body before it runs any dependency, so a token checked in a
dependency would come after the cost of a 100 MB parse. These route classes put the check first:
an account or platform route authenticates its caller (401 or 429 without reading the body), a
public route counts its client address. Then one parser serves every route: the body (already
capped by ``max_body_size``, 413) is parsed with a depth bound, so a deeply nested document is a
422, never a RecursionError deep in a parser or a serializer. FastAPI validates what it left.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from ndoto_cli.core import limits
from ndoto_cli.core.errors import Invalid, TooManyRequests
from ndoto_cli.server.auth import account_caller, client_key, platform_caller

BODY_EXTRA_DEPTH = 4  # levels a body may add around its attribute fields
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def _constant(name: str) -> None:
    raise Invalid(f"the body holds {name}, which is not a JSON number")


def parse_json(raw: bytes, *, field_depth: int) -> Any:
    """JSON with a bounded depth: too deep is a 422 naming the field when it can (Python's parser
    would raise RecursionError, and serializers give up near 255 levels)."""
    max_depth = field_depth + BODY_EXTRA_DEPTH
    try:
        data = json.loads(raw, parse_constant=_constant)
    except RecursionError:
        raise Invalid(f"the body is nested more than {max_depth} levels deep") from None
    except UnicodeDecodeError:
        raise Invalid("the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise Invalid(f"the body is not valid JSON: {exc.msg} at position {exc.pos}") from None
    if limits.depth(data, stop_at=max_depth + 1) > max_depth:
        if isinstance(data, dict):
            for key, value in data.items():
                if limits.depth(value, stop_at=field_depth + 1) > field_depth:
                    name = str(key)[:64]
                    raise Invalid(f"{name} is nested more than {field_depth} levels deep", field=name)
        raise Invalid(f"the body is nested more than {max_depth} levels deep")
    return data


def is_form(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip().lower() in FORM_TYPES


async def read_body(request: Request) -> None:
    """Parse a JSON body once, with the limits, and leave it where FastAPI looks for it."""
    if request.method in ("GET", "HEAD", "OPTIONS") or is_form(request):
        return
    raw = await request.body()
    if not raw.strip():
        return
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind and kind != "application/json" and not kind.endswith("+json"):
        return  # FastAPI answers 422 for a body it cannot read as JSON
    request._json = parse_json(raw, field_depth=request.app.state.settings.json_max_depth)  # Starlette's cache: FastAPI reads it from there


async def json_or_form(request: Request) -> dict[str, Any]:
    """A body that may be JSON or a form (Chatwoot's message clients send both): a dict."""
    if is_form(request):
        raw = await request.body()
        if raw.lstrip()[:1] == b"{":
            raise Invalid("the body looks like JSON but was sent as a form: add the header Content-Type: application/json")
        form = await request.form(max_fields=100, max_files=0, max_part_size=limits.CONTENT * 4)
        return {k: v for k, v in form.items() if isinstance(v, str)}
    if not (await request.body()).strip():
        return {}
    data = await request.json()
    if not isinstance(data, dict):
        raise Invalid("the body must be a JSON object")
    return data


class _Route(APIRoute):
    async def before(self, request: Request) -> None:
        """The caller check of this kind of route (runs before the body is read)."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            await self.before(request)
            await read_body(request)
            return await handler(request)

        return route


class AccountRoute(_Route):
    """``/api/v1/accounts/{account_id}/...``: a user's or a bot's token, in that account."""

    async def before(self, request: Request) -> None:
        request.state.caller = await account_caller(request)


class PlatformRoute(_Route):
    """``/platform/api/v1/...``: a platform app's token."""

    async def before(self, request: Request) -> None:
        request.state.platform = await platform_caller(request)


class PublicRoute(_Route):
    """``/public/api/v1/...``: no token; each client address has a request budget per minute."""

    async def before(self, request: Request) -> None:
        wait = request.app.state.public_clients.hit(client_key(request))
        if wait is not None:
            raise TooManyRequests("too many requests from this address", retry_after=wait)


class WidgetRoute(PublicRoute):
    """``/api/v1/widget/...``: a site's visitors; each client address has the public API's budget.
    The visitor token and the page's origin are checked by the endpoints (``server.widget.routes``)."""
