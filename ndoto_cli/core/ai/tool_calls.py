"""A call of an AI agent's HTTP tool: the model's arguments checked and escaped into the request
that core's tool settings describe (``core.ai.tools``), what the model sees of the answer, the
secret in every form it may come back in, and the record ``bots stats`` counts.

Kept apart from the settings: this is the per-call path (``dispatch.ai.tools`` sends what
:func:`build_request` returns); the settings are checked once, when an admin writes them.
"""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core.ai.tools import DEFAULT_API_KEY_HEADER, MAX_ARGUMENTS, PLACEHOLDER
from ndoto_cli.core.errors import Invalid
from ndoto_cli.core.models import BotTool, ToolCall


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str]
    json: Any = None
    secret_headers: frozenset[str] = field(default_factory=frozenset)  # names whose values are the secret

    def shown(self) -> dict[str, Any]:
        """The request as humans may see it: the secret's headers masked."""
        headers = {k: ("[secret]" if k in self.secret_headers else v) for k, v in self.headers.items()}
        return {"method": self.method, "url": self.url, "headers": headers, "json": self.json}


class BadArguments(Invalid):
    """The model's arguments do not fit the tool: told back to the model, never sent."""


def parse_arguments(text: str | dict[str, Any] | None) -> dict[str, Any]:
    if isinstance(text, dict):
        return text
    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    try:
        value = json.loads(text or "{}", parse_constant=no_constants)
    except json.JSONDecodeError as exc:
        raise BadArguments(f"the arguments are not JSON: {exc.msg}") from exc
    except (ValueError, RecursionError) as exc:  # NaN, a 5,000-digit number, nesting past the stack
        raise BadArguments(f"the arguments are not usable JSON: {str(exc)[:100]}") from exc
    if not isinstance(value, dict):
        raise BadArguments("the arguments must be a JSON object")
    return value


def typed_arguments(tool: BotTool, given: dict[str, str]) -> dict[str, Any]:
    """``NAME=VALUE`` strings (``tools test --arg``) as the schema's types: 4521 stays a string
    where the parameter is a string, becomes a number where it is an integer."""
    props = (tool.parameters or {}).get("properties", {})
    out: dict[str, Any] = {}
    for name, text in given.items():
        kind = (props.get(name) or {}).get("type")
        try:
            if kind == "integer":
                out[name] = int(text)
            elif kind == "number":
                out[name] = float(text)
            elif kind == "boolean" and text.lower() in ("true", "false", "yes", "no", "1", "0"):
                out[name] = text.lower() in ("true", "yes", "1")
            elif kind in ("object", "array"):
                out[name] = json.loads(text)
            else:
                out[name] = text
        except ValueError as exc:
            raise Invalid(f"argument {name}: {text[:40]!r} is not a {kind}", field=name) from exc
    return out


def _escape(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    escaped = quote(text, safe="")
    return escaped.replace(".", "%2E") if text.strip(".") == "" else escaped  # a whole "." or ".." segment


def build_request(tool: BotTool, arguments: dict[str, Any]) -> Request:
    """The request one call makes: arguments checked by the schema, escaped into the path and
    query, the rest in the query (GET, DELETE) or a JSON body; then the tool's headers and auth."""
    from jsonschema import Draft202012Validator

    error = min(Draft202012Validator(tool.parameters).iter_errors(arguments), key=lambda e: list(e.path), default=None)
    if error is not None:
        where = ".".join(str(p) for p in error.path) or "arguments"
        raise BadArguments(f"{where}: {error.message}")
    declared = (tool.parameters or {}).get("properties", {})
    unknown = sorted(set(arguments) - set(declared))
    if unknown:  # only what the admin declared is ever sent
        raise BadArguments(f"{unknown[0]}: not a parameter of this tool")
    used = set(PLACEHOLDER.findall(tool.url))
    missing = [n for n in used if arguments.get(n) is None]
    if missing:
        raise BadArguments(f"{missing[0]}: a value is needed (it is part of the URL)")
    path_end = min([i for i in (tool.url.find("?"),) if i >= 0] or [len(tool.url)])
    for match in PLACEHOLDER.finditer(tool.url[:path_end]):
        text = arguments[match.group(1)]
        text = text if isinstance(text, str) else json.dumps(text)
        # A path segment is one value: never empty (that would reach the collection above it),
        # never a separator or a dot segment (servers that decode %2F or %2E before resolving
        # paths would leave the prefix).
        if not text.strip() or text.strip(".") == "" or any(c in text for c in "/\\"):
            raise BadArguments(f"{match.group(1)}: {text[:40]!r} cannot stand in the URL's path")
    if len(json.dumps(arguments)) > MAX_ARGUMENTS:
        raise BadArguments(f"the arguments take more than {MAX_ARGUMENTS} characters")
    url = PLACEHOLDER.sub(lambda m: _escape(arguments[m.group(1)]), tool.url)
    if _origin(url) != _origin(PLACEHOLDER.sub("x", tool.url)):  # cannot happen with the escaping: checked anyway
        raise BadArguments("the arguments would change the URL's host")
    rest = {k: v for k, v in arguments.items() if k not in used and v is not None}
    body = None
    if rest and tool.method in ("GET", "DELETE"):
        query = urlencode({k: v if isinstance(v, str) else json.dumps(v) for k, v in rest.items()})
        url = f"{url}{'&' if '?' in url else '?'}{query}"
    elif rest:
        body = rest
    # identity: a compressed answer would be inflated before the size limit could stop it
    headers = {"Accept": "application/json", "Accept-Encoding": "identity", "User-Agent": "Ndoto-Tool/1", **tool.headers}
    secret_headers: set[str] = set()
    if tool.auth == "bearer" and tool.secret:
        headers["Authorization"] = f"Bearer {tool.secret}"
        secret_headers.add("Authorization")
    elif tool.auth == "basic" and tool.secret:
        headers["Authorization"] = "Basic " + base64.b64encode(tool.secret.encode()).decode()
        secret_headers.add("Authorization")
    elif tool.auth == "api_key" and tool.secret:
        name = tool.auth_header or DEFAULT_API_KEY_HEADER
        headers[name] = tool.secret
        secret_headers.add(name)
    return Request(tool.method, url, headers, body, frozenset(secret_headers))


def pick(data: Any, path: str) -> Any:
    """The part of a JSON answer at ``path`` (``order.status``, ``items.0``), or None."""
    for part in [p for p in path.split(".") if p]:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and re.fullmatch(r"-?[0-9]+", part) and -len(data) <= int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def secrets_of(tool: BotTool) -> list[str]:
    """The secret as it may appear on the wire: as given, and base64 for basic auth."""
    if not tool.secret:
        return []
    out = [tool.secret]
    if tool.auth == "basic":
        out.append(base64.b64encode(tool.secret.encode()).decode())
        password = tool.secret.partition(":")[2]
        if len(password) >= 6:
            out.append(password)
    for value in list(out):  # as a JSON string would carry it back ("\/", "\u00e9", ...)
        escaped = json.dumps(value)[1:-1]
        out.extend(x for x in (escaped, escaped.replace("/", "\\/"), value.replace("/", "\\/")) if x != value)
    return list(dict.fromkeys(out))


async def record_call(session: AsyncSession, **values: Any) -> None:
    session.add(ToolCall(created_at=time.time(), **values))
    await session.flush()


async def call_counts(
    session: AsyncSession, *, bot_id: int, since: float | None = None, until: float | None = None
) -> dict[str, dict[str, int]]:
    """Per tool: calls and failures."""
    query = select(ToolCall.tool, ToolCall.ok, func.count()).where(ToolCall.agent_bot_id == bot_id)
    if since is not None:
        query = query.where(ToolCall.created_at >= since)
    if until is not None:
        query = query.where(ToolCall.created_at < until)
    out: dict[str, dict[str, int]] = {}
    for name, ok, count in (await session.execute(query.group_by(ToolCall.tool, ToolCall.ok))).all():
        entry = out.setdefault(name, {"calls": 0, "failures": 0})
        entry["calls"] += count
        if not ok:
            entry["failures"] += count
    return out
