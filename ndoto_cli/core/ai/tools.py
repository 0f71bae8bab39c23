"""An AI agent's HTTP tools: what a tool may be, and how a model's call becomes a request.

The rules live here, once, for the CLI (``ndoto bots tools``), the admin API and the agent:

* A tool's URL is a template. Its scheme, host and port are fixed when the admin writes it;
  ``{name}`` placeholders may stand only in the path and the query, and the model's values are
  percent-escaped into them (``/``, ``?``, ``#``, ``@`` and a whole ``..`` segment included), so
  no argument can move the request to another host or another path prefix. The rendered URL's
  origin is compared with the template's again before anything is sent.
* HTTPS is required, except for a loopback host (local development) or a host the server's
  ``NDOTO_PRIVATE_ALLOWLIST`` names (an internal service); at call time the connection goes
  through the private-address guard as a webhook's does (``dispatch.ai.pinned``).
* The model's arguments are checked against the tool's JSON schema (``jsonschema``) before any
  request: a wrong call goes back to the model as an error, not to the business's API. That
  per-call path is ``core.ai.tool_calls``; this module holds the tools' settings.
* The secret (bearer token, ``user:password`` or API key) is write-only: views show only that
  one is set, and ``redact`` removes it from anything stored or shown to the model.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core import addresses, limits
from ndoto_cli.core.errors import Invalid, NameTaken, NotFound
from ndoto_cli.core.models import AgentBot, BotTool
from ndoto_cli.core.views import ts

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
AUTH_KINDS = ("none", "bearer", "basic", "api_key")
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")  # the function names chat APIs accept
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")  # an HTTP token (RFC 9110)
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
RESERVED_NAMES = {"handoff_to_human"}
RESERVED_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "authorization"}
PARAM_TYPES = ("string", "integer", "number", "boolean")
MAX_TOOLS = 32
MAX_TIMEOUT = 60.0
MAX_CHARS = 20_000
DEFAULT_API_KEY_HEADER = "X-API-Key"
# A tool's description, its parameters and what the model sees of the answer all sit in the
# prompt: bounded, so a tool cannot crowd the knowledge base out of it.
MAX_SCHEMA_BYTES = 8_000
MAX_ARGUMENTS = 8_000  # characters of a call's arguments, as JSON


def _check_url(url: str, parameters: dict[str, Any], session: AsyncSession) -> str:
    url = (limits.text(url, field="url", max_length=limits.URL) or "").strip()
    scheme_end = url.find("://")
    if scheme_end < 0:
        raise Invalid(f"malformed tool URL {url!r}: expected https://host/path", field="url")
    rest = url[scheme_end + 3:]
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "{" in authority or "}" in authority or "{" in url[:scheme_end]:
        raise Invalid("a tool URL's scheme, host and port are fixed: placeholders may stand only in the path and query", field="url")
    if "#" in url:
        raise Invalid("a tool URL has no #fragment: it is never sent", field="url")
    names = PLACEHOLDER.findall(url)
    declared = set((parameters.get("properties") or {}).keys())
    unknown = [n for n in names if n not in declared]
    if unknown:
        raise Invalid(f"the URL uses {{{unknown[0]}}}, which is not among the tool's parameters", field="url")
    stray = PLACEHOLDER.sub("", url)
    if "{" in stray or "}" in stray:
        raise Invalid("a tool URL's placeholders are {name}: letters, digits and _", field="url")
    sample = PLACEHOLDER.sub("x", url)
    parts = urlsplit(sample)
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise Invalid(f"malformed tool URL {url!r}: {exc}", field="url") from exc
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise Invalid(f"malformed tool URL {url!r}: expected https://host/path", field="url")
    if parts.username or parts.password:
        raise Invalid("a tool URL carries no user or password: use --auth basic and its secret", field="url")
    if any(c.isspace() for c in url):
        raise Invalid(f"malformed tool URL {url!r}: contains spaces", field="url")
    bounds = limits.of(session)
    if parts.scheme == "http" and not _plain_http_allowed(host, bounds.allowlist):
        raise Invalid(
            f"a tool URL must use https (http only for localhost or a host in NDOTO_PRIVATE_ALLOWLIST): {url}", field="url"
        )
    if addresses.literal_refused(host, bounds.allow_private, bounds.allowlist):
        raise Invalid(f"tool URL {url!r} points at a private address ({host}): {addresses.REFUSAL_HINT}", field="url")
    return url


def _plain_http_allowed(host: str, allowlist: tuple[str, ...]) -> bool:
    if host.strip("[]") in ("localhost", "127.0.0.1", "::1"):
        return True
    ip = addresses.parse_ip(host)
    return any(
        addresses.allowed(str(ip), host, allow_private=False, allowlist=(entry,)) if ip is not None
        else entry.strip().lower() == host
        for entry in allowlist
    )


def _check_parameters(parameters: Any) -> dict[str, Any]:
    """A JSON schema of an object whose properties are the tool's arguments."""
    if parameters is None:
        parameters = {}
    if isinstance(parameters, str):
        try:
            parameters = json.loads(parameters)
        except json.JSONDecodeError as exc:
            raise Invalid(f"parameters are not JSON: {exc.msg} at line {exc.lineno}", field="parameters") from exc
    if not isinstance(parameters, dict):
        raise Invalid("parameters must be a JSON schema object ({\"type\": \"object\", \"properties\": {...}})", field="parameters")
    parameters = {"type": "object", "properties": {}, **parameters}
    if parameters.get("type") != "object" or not isinstance(parameters.get("properties"), dict):
        raise Invalid("parameters must be {\"type\": \"object\", \"properties\": {...}}", field="parameters")
    for name, spec in parameters["properties"].items():
        if not PLACEHOLDER.fullmatch("{" + str(name) + "}"):
            raise Invalid(f"parameter name {name!r}: letters, digits and _ only", field="parameters")
        if not isinstance(spec, dict):
            raise Invalid(f"parameter {name!r} must be a JSON schema object", field="parameters")
    required = parameters.get("required", [])
    if not isinstance(required, list) or any(r not in parameters["properties"] for r in required):
        raise Invalid("parameters.required must list declared parameters", field="parameters")
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(parameters)
    except SchemaError as exc:
        raise Invalid(f"parameters are not a valid JSON schema: {exc.message}", field="parameters") from exc
    if len(json.dumps(parameters)) > MAX_SCHEMA_BYTES:
        raise Invalid(f"parameters take at most {MAX_SCHEMA_BYTES} bytes of JSON", field="parameters")
    return parameters


def _check_headers(headers: Any) -> dict[str, str]:
    if headers is None:
        return {}
    if not isinstance(headers, dict):
        raise Invalid("headers must be an object of names to values", field="headers")
    out: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not HEADER_NAME.match(name):
            raise Invalid(f"header name {str(name)[:40]!r} is not a valid HTTP header name", field="headers")
        if name.lower() in RESERVED_HEADERS:
            raise Invalid(f"header {name} is set by Ndoto (use --auth for credentials)", field="headers")
        if not isinstance(value, str) or any(c in value for c in "\r\n\0") or len(value) > 4096 or not value.isascii():
            raise Invalid(f"header {name}: a single line of ASCII text, at most 4096 characters", field="headers")
        out[name] = value
    if len(out) > 30:
        raise Invalid("at most 30 headers", field="headers")
    return out


def parse_param(text: str, *, required: bool = True) -> tuple[str, dict[str, Any], bool]:
    """``NAME[:TYPE][:DESCRIPTION]`` (the CLI's ``--param``) as a JSON-schema property."""
    name, _, rest = text.partition(":")
    kind, _, description = rest.partition(":")
    name, kind = name.strip(), (kind.strip() or "string")
    if not PLACEHOLDER.fullmatch("{" + name + "}"):
        raise Invalid(f"parameter {text!r}: NAME[:TYPE][:DESCRIPTION], NAME of letters, digits and _", field="parameters")
    if kind not in PARAM_TYPES:
        raise Invalid(f"parameter {name}: type must be one of {', '.join(PARAM_TYPES)}, not {kind!r}", field="parameters")
    spec: dict[str, Any] = {"type": kind}
    if description.strip():
        spec["description"] = description.strip()
    return name, spec, required


def schema_of(params: list[tuple[str, dict[str, Any], bool]]) -> dict[str, Any]:
    return {
        "type": "object", "properties": {name: spec for name, spec, _ in params},
        "required": [name for name, _, required in params if required],
    }


FIELDS = ("name", "description", "parameters", "method", "url", "headers", "auth", "auth_header", "secret", "timeout",
          "response_path", "max_chars")


def _clean(session: AsyncSession, tool: BotTool, values: dict[str, Any]) -> None:
    """Check the given settings and apply them to ``tool`` (one function for add and update)."""
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise Invalid(f"unknown tool setting {min(unknown)!r}", field=min(unknown))
    if "name" in values:
        name = str(values["name"] or "").strip()
        if not NAME.match(name) or name in RESERVED_NAMES:
            raise Invalid(
                f"tool name {name[:70]!r}: a letter, then letters, digits, _ or - (at most 64), and not handoff_to_human",
                field="name",
            )
        tool.name = name
    if "description" in values:
        tool.description = (limits.text(values["description"], field="description", max_length=limits.SHORT_TEXT) or "").strip()
    if "parameters" in values:
        tool.parameters = _check_parameters(values["parameters"])
    if "method" in values:
        method = str(values["method"] or "").strip().upper()
        if method not in METHODS:
            raise Invalid(f"method must be one of {', '.join(METHODS)}, not {method[:20]!r}", field="method")
        tool.method = method
    if "headers" in values:
        tool.headers = _check_headers(values["headers"])
    if "auth" in values:
        auth = str(values["auth"] or "none").strip().lower().replace("-", "_")
        if auth not in AUTH_KINDS:
            raise Invalid(f"auth must be one of {', '.join(AUTH_KINDS)}, not {auth[:20]!r}", field="auth")
        tool.auth = auth
    if "auth_header" in values:
        header = (values["auth_header"] or "").strip() or None
        if header is not None and (not HEADER_NAME.match(header) or header.lower() in RESERVED_HEADERS - {"authorization"}):
            raise Invalid(f"auth header {header[:40]!r} is not a header Ndoto may set", field="auth_header")
        tool.auth_header = header
    if "secret" in values:
        secret = limits.text(values["secret"], field="secret", max_length=4096)
        if secret is not None and any(c in secret for c in "\r\n\0"):
            raise Invalid("a tool secret is a single line", field="secret")
        if secret and len(secret) < 8:
            raise Invalid("a tool secret has at least 8 characters (shorter ones could not be kept out of answers)", field="secret")
        tool.secret = secret or None
    if "timeout" in values:
        timeout = values["timeout"]
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not 0.1 <= float(timeout) <= MAX_TIMEOUT:
            raise Invalid(f"timeout must be between 0.1 and {MAX_TIMEOUT:.0f} seconds", field="timeout")
        tool.timeout = float(timeout)
    if "response_path" in values:
        path = (limits.text(values["response_path"], field="response_path", max_length=limits.NAME) or "").strip().strip(".")
        if path and not all(part for part in path.split(".")):
            raise Invalid("response path: names or indexes between dots, e.g. order.status or items.0", field="response_path")
        tool.response_path = path
    if "max_chars" in values:
        chars = values["max_chars"]
        if not isinstance(chars, int) or isinstance(chars, bool) or not 100 <= chars <= MAX_CHARS:
            raise Invalid(f"max chars must be between 100 and {MAX_CHARS}", field="max_chars")
        tool.max_chars = chars
    if "url" in values or "parameters" in values:
        tool.url = _check_url(values.get("url", tool.url), tool.parameters, session)
    if tool.auth != "none" and not tool.secret:
        raise Invalid(f"auth {tool.auth} needs a secret (--secret, '-' reads it from standard input)", field="secret")
    if tool.auth == "basic" and ":" not in (tool.secret or ""):
        raise Invalid("basic auth's secret is user:password", field="secret")
    if tool.auth in ("bearer", "api_key") and not (tool.secret or "").isascii():
        raise Invalid("a bearer token or API key is ASCII text (it travels in a header)", field="secret")
    if tool.auth != "api_key":
        tool.auth_header = None
    if not tool.description:
        raise Invalid("a tool needs a description: it is how the model knows when to call it", field="description")


async def _unique(session: AsyncSession, bot_id: int, name: str, exclude: int | None = None) -> None:
    query = select(BotTool.id).where(BotTool.agent_bot_id == bot_id, BotTool.name == name)
    if exclude is not None:
        query = query.where(BotTool.id != exclude)
    if (await session.execute(query)).first() is not None:
        raise NameTaken(f"the bot already has a tool named {name!r}: choose another name or update it", field="name")


async def add_tool(session: AsyncSession, *, bot: AgentBot, **values: Any) -> BotTool:
    if not values.get("name") or not values.get("url"):
        raise Invalid("a tool needs a name and a URL", field="name" if not values.get("name") else "url")
    count = (await session.execute(select(func.count()).select_from(BotTool).where(BotTool.agent_bot_id == bot.id))).scalar_one()
    if count >= MAX_TOOLS:
        raise Invalid(f"a bot has at most {MAX_TOOLS} tools", field="name")
    tool = BotTool(agent_bot_id=bot.id, url="", parameters={"type": "object", "properties": {}})  # type: ignore[arg-type]
    values.setdefault("parameters", None)
    _clean(session, tool, {k: v for k, v in values.items() if v is not None or k == "parameters"})
    await _unique(session, bot.id, tool.name)  # type: ignore[arg-type]
    session.add(tool)
    await session.flush()
    return tool


async def update_tool(session: AsyncSession, *, bot: AgentBot, ref: str | int, **values: Any) -> BotTool:
    tool = await find_tool(session, bot=bot, ref=ref)
    values = {k: v for k, v in values.items() if v is not None}
    if not values:
        raise Invalid("nothing to change: give at least one setting", field="name")
    _clean(session, tool, values)
    if "name" in values:
        await _unique(session, bot.id, tool.name, exclude=tool.id)  # type: ignore[arg-type]
    tool.updated_at = time.time()
    session.add(tool)
    await session.flush()
    return tool


async def list_tools(session: AsyncSession, *, bot_id: int) -> list[BotTool]:
    rows = await session.execute(select(BotTool).where(BotTool.agent_bot_id == bot_id).order_by(BotTool.name))
    return list(rows.scalars().all())


async def find_tool(session: AsyncSession, *, bot: AgentBot, ref: str | int) -> BotTool:
    """By name, or by id (a number)."""
    text = str(ref).strip()
    query = select(BotTool).where(BotTool.agent_bot_id == bot.id)
    if text.isdigit() and int(text) <= limits.MAX_ID:
        query = query.where((BotTool.id == int(text)) | (BotTool.name == text))
    else:
        query = query.where(BotTool.name == text)
    found = (await session.execute(query)).scalars().first()
    if found is None:
        raise NotFound(f"bot {bot.name} has no tool {text[:70]!r}: `ndoto bots tools list {bot.name}` shows its tools", field="tool")
    return found


async def remove_tool(session: AsyncSession, *, bot: AgentBot, ref: str | int) -> BotTool:
    tool = await find_tool(session, bot=bot, ref=ref)
    await session.delete(tool)
    await session.flush()
    return tool


def tool_json(tool: BotTool) -> dict[str, Any]:
    """A tool's public shape: everything but the secret, of which only its presence shows."""
    return {
        "id": tool.id, "bot_id": tool.agent_bot_id, "name": tool.name, "description": tool.description,
        "method": tool.method, "url": tool.url, "parameters": tool.parameters, "headers": tool.headers,
        "auth": tool.auth, "auth_header": tool.auth_header if tool.auth == "api_key" else None,
        "secret_set": bool(tool.secret), "timeout": tool.timeout, "response_path": tool.response_path,
        "max_chars": tool.max_chars, "created_at": ts(tool.created_at), "updated_at": ts(tool.updated_at),
    }


def function_spec(tool: BotTool) -> dict[str, Any]:
    """The tool as the chat API's function declaration (what the model sees: never the URL)."""
    return {"type": "function", "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters}}
