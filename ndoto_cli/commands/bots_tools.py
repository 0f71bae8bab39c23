"""``ndoto bots tools``: the HTTP tools an AI agent may call (the rules are in ``core.ai.tools``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ndoto_cli.commands.kb import ai_bot
from ndoto_cli.commands.output import (
    AccountOpt,
    BotArg,
    ExitCode,
    JsonOpt,
    SystemOpt,
    YesOpt,
    confirm,
    console,
    dump_json,
    fail,
    fields,
    run,
    table,
)

app = typer.Typer(
    help="HTTP tools an AI agent may call: your order, booking or account APIs.\n\n"
    "Example: ndoto bots tools add Helper --name order_status --description \"Look up an order\" "
    "--url 'https://shop.example/api/orders/{order_id}' --param order_id:string --auth bearer --secret -",
    no_args_is_help=True, rich_markup_mode=None,
)

ToolArg = Annotated[str, typer.Argument(help="Tool name or id.")]
NameOpt = Annotated[str | None, typer.Option("--name", help="What the model calls it: a letter, then letters, digits, _ or -.")]
DescriptionOpt = Annotated[str | None, typer.Option("--description", help="When to use it: the model reads this.")]
UrlOpt = Annotated[str | None, typer.Option("--url", help="URL template: {param} in the path or query, never the host; https (http for localhost or an allowlisted host).")]
MethodOpt = Annotated[str | None, typer.Option("--method", help="GET, POST, PUT, PATCH or DELETE (arguments not in the URL: query for GET/DELETE, JSON body otherwise).")]
ParamOpt = Annotated[list[str] | None, typer.Option("--param", help="A required argument: NAME[:TYPE][:DESCRIPTION], TYPE string|integer|number|boolean (repeatable).")]
OptionalOpt = Annotated[list[str] | None, typer.Option("--optional-param", help="An optional argument, same form (repeatable).")]
SchemaOpt = Annotated[Path | None, typer.Option("--parameters", help="A JSON-schema file for the arguments (instead of --param).")]
HeaderOpt = Annotated[list[str] | None, typer.Option("--header", help="A fixed header, 'Name: value' (repeatable; credentials go in --auth/--secret).")]
AuthOpt = Annotated[str | None, typer.Option("--auth", help="none, bearer, basic (secret user:password) or api-key.")]
AuthHeaderOpt = Annotated[str | None, typer.Option("--auth-header", help="api-key: the header that carries it (default X-API-Key).")]
SecretOpt = Annotated[str | None, typer.Option("--secret", help="The credential; '-' reads it from standard input. Stored with the bot, never shown.")]
TimeoutOpt = Annotated[float | None, typer.Option("--timeout", help="Seconds to wait for an answer (default 10).")]
PathOpt = Annotated[str | None, typer.Option("--response-path", help="The part of a JSON answer the model sees, e.g. order or data.items.0.")]
CharsOpt = Annotated[int | None, typer.Option("--max-chars", help="At most this many characters of the answer reach the model (default 2000).")]


def _values(
    name: str | None, description: str | None, url: str | None, method: str | None, param: list[str] | None,
    optional: list[str] | None, parameters: Path | None, header: list[str] | None, auth: str | None,
    auth_header: str | None, secret: str | None, timeout: float | None, response_path: str | None, max_chars: int | None,
) -> dict[str, Any]:
    """The given options as tool settings (None: not given); parsing only, the rules are core's."""
    from ndoto_cli.core.ai import tools as core_tools
    from ndoto_cli.core.errors import Invalid

    values: dict[str, Any] = {
        "name": name, "description": description, "url": url, "method": method, "auth": auth, "auth_header": auth_header,
        "timeout": timeout, "response_path": response_path, "max_chars": max_chars,
    }
    if parameters is not None and (param or optional):
        fail("give --parameters or --param/--optional-param, not both", exit_code=ExitCode.USAGE)
    if parameters is not None:
        try:
            values["parameters"] = json.loads(parameters.read_text(encoding="utf-8"))
        except OSError as exc:
            fail(f"cannot read {parameters}: {exc.strerror}")
        except json.JSONDecodeError as exc:
            fail(f"{parameters} is not JSON: {exc.msg} at line {exc.lineno}")
    elif param or optional:
        try:
            values["parameters"] = core_tools.schema_of(
                [core_tools.parse_param(p) for p in param or []] + [core_tools.parse_param(p, required=False) for p in optional or []]
            )
        except Invalid as exc:
            fail(exc.message, code=exc.code, exit_code=ExitCode.USAGE)
    if header:
        headers: dict[str, str] = {}
        for item in header:
            key, sep, value = item.partition(":")
            if not sep or not key.strip():
                fail(f"header {item!r}: expected 'Name: value'", exit_code=ExitCode.USAGE)
            headers[key.strip()] = value.strip()
        values["headers"] = headers
    if secret == "-":
        secret = sys.stdin.readline().strip()  # keeps the secret out of the shell's history and ps
    values["secret"] = secret
    return {k: v for k, v in values.items() if v is not None}


def _show(tool: dict[str, Any]) -> None:
    props = tool["parameters"].get("properties", {})
    required = set(tool["parameters"].get("required", []))
    flat = {
        "id": tool["id"], "name": tool["name"], "description": tool["description"], "request": f"{tool['method']} {tool['url']}",
        "parameters": [f"{n}: {p.get('type', 'any')}{'' if n in required else ' (optional)'}" for n, p in props.items()] or "none",
        "headers": [f"{k}: {v}" for k, v in tool["headers"].items()] or "none",
        "auth": tool["auth"] + (f" in {tool['auth_header'] or 'X-API-Key'}" if tool["auth"] == "api_key" else ""),
        "secret": "set (never shown)" if tool["secret_set"] else "none", "timeout": f"{tool['timeout']:g} s",
        "model sees": f"{tool['response_path'] or 'the whole answer'}, at most {tool['max_chars']} characters",
    }
    fields(flat)


@app.command("add")
def add(
    bot: BotArg, name: NameOpt = None, description: DescriptionOpt = None, url: UrlOpt = None, method: MethodOpt = None,
    param: ParamOpt = None, optional_param: OptionalOpt = None, parameters: SchemaOpt = None, header: HeaderOpt = None,
    auth: AuthOpt = None, auth_header: AuthHeaderOpt = None, secret: SecretOpt = None, timeout: TimeoutOpt = None,
    response_path: PathOpt = None, max_chars: CharsOpt = None,
    system: SystemOpt = False, account: AccountOpt = None, as_json: JsonOpt = False,
) -> None:
    """Give an AI agent an HTTP tool. The model fills the parameters; Ndoto builds the request
    (arguments escaped into the path and query, never the host), adds the auth and sends it
    through the private-address guard.

    Example: ndoto bots tools add Helper --name order_status --description "Look up an order's status" --url 'https://shop.example/api/orders/{order_id}' --param "order_id:string:The order number" --auth bearer --secret - --response-path order
    """
    if not name or not url or not description:
        fail("a tool needs --name, --description and --url", exit_code=ExitCode.USAGE, as_json=as_json)
    values = _values(name, description, url, method, param, optional_param, parameters, header, auth, auth_header, secret,
                     timeout, response_path, max_chars)

    async def go(db: Any) -> Any:
        from ndoto_cli.core.ai import tools as core_tools

        found = await ai_bot(db, bot, account, system, "tools")
        tool = await db.write(lambda s: core_tools.add_tool(s, bot=found, **values))
        return found, core_tools.tool_json(tool)

    found, data = run(go, as_json=as_json)
    if as_json:
        dump_json(data)
        return
    console().print(
        f"Added tool {data['name']} to {found.name}: {data['method']} {data['url']}. "
        f"Try it: ndoto bots tools test {found.name} {data['name']} --arg NAME=VALUE", markup=False, highlight=False,
    )


@app.command("update")
def update(
    bot: BotArg, tool: ToolArg, name: NameOpt = None, description: DescriptionOpt = None, url: UrlOpt = None,
    method: MethodOpt = None, param: ParamOpt = None, optional_param: OptionalOpt = None, parameters: SchemaOpt = None,
    header: HeaderOpt = None, auth: AuthOpt = None, auth_header: AuthHeaderOpt = None, secret: SecretOpt = None,
    timeout: TimeoutOpt = None, response_path: PathOpt = None, max_chars: CharsOpt = None,
    system: SystemOpt = False, account: AccountOpt = None, as_json: JsonOpt = False,
) -> None:
    """Change a tool's settings (--param replaces all parameters; --header all headers).

    Example: ndoto bots tools update Helper order_status --timeout 5
    """
    values = _values(name, description, url, method, param, optional_param, parameters, header, auth, auth_header, secret,
                     timeout, response_path, max_chars)
    if not values:
        fail("nothing to change: give at least one option (see --help)", exit_code=ExitCode.USAGE, as_json=as_json)

    async def go(db: Any) -> Any:
        from ndoto_cli.core.ai import tools as core_tools

        found = await ai_bot(db, bot, account, system, "tools")
        return core_tools.tool_json(await db.write(lambda s: core_tools.update_tool(s, bot=found, ref=tool, **values)))

    data = run(go, as_json=as_json)
    if as_json:
        dump_json(data)
        return
    changed = ", ".join(k.replace("_", " ") for k in values)
    console().print(f"Updated tool {data['name']}: {changed}.", markup=False, highlight=False)


@app.command("list")
def list_(bot: BotArg, system: SystemOpt = False, account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    """An AI agent's tools, with their calls and failures so far.

    Example: ndoto bots tools list Helper
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.ai import tool_calls
        from ndoto_cli.core.ai import tools as core_tools

        found = await ai_bot(db, bot, account, system, "tools")
        async with db.read() as s:
            rows = await core_tools.list_tools(s, bot_id=found.id)
            counts = await tool_calls.call_counts(s, bot_id=found.id)
        empty = {"calls": 0, "failures": 0}
        return found, [{**core_tools.tool_json(t), **counts.get(t.name, empty)} for t in rows]

    found, rows = run(go, as_json=as_json)
    if as_json:
        dump_json(rows)
        return
    table(
        ["id", "name", "request", "auth", "calls", "failures"],
        [[t["id"], t["name"], f"{t['method']} {t['url']}", t["auth"], t["calls"], t["failures"]] for t in rows],
        empty=f"{found.name} has no tools yet: `ndoto bots tools add {found.name} --name ... --url ...`.",
    )


@app.command("show")
def show(bot: BotArg, tool: ToolArg, system: SystemOpt = False, account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    """A tool's settings (its secret only as set or not).

    Example: ndoto bots tools show Helper order_status
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.ai import tools as core_tools

        found = await ai_bot(db, bot, account, system, "tools")
        async with db.read() as s:
            return core_tools.tool_json(await core_tools.find_tool(s, bot=found, ref=tool))

    data = run(go, as_json=as_json)
    if as_json:
        dump_json(data)
    else:
        _show(data)


@app.command("remove")
def remove(bot: BotArg, tool: ToolArg, yes: YesOpt = False, system: SystemOpt = False, account: AccountOpt = None,
           as_json: JsonOpt = False) -> None:
    """Take a tool away from an AI agent (asks first); its call record stays in the stats.

    Example: ndoto bots tools remove Helper order_status --yes
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.ai import tools as core_tools

        found = await ai_bot(db, bot, account, system, "tools")
        async with db.read() as s:
            existing = await core_tools.find_tool(s, bot=found, ref=tool)
        confirm(f"Remove tool {existing.name} from {found.name}? The agent can no longer call it.", yes=yes, as_json=as_json)
        return await db.write(lambda s: core_tools.remove_tool(s, bot=found, ref=existing.id))

    removed = run(go, as_json=as_json)
    if as_json:
        dump_json({"id": removed.id, "name": removed.name, "removed": True})
    else:
        console().print(f"Removed tool {removed.name}.", markup=False, highlight=False)


@app.command("test")
def test(
    bot: BotArg, tool: ToolArg,
    arg: Annotated[list[str] | None, typer.Option("--arg", help="An argument, NAME=VALUE (repeatable; numbers and true/false as the schema says).")] = None,
    args: Annotated[str | None, typer.Option("--args", help="All arguments as one JSON object.")] = None,
    system: SystemOpt = False, account: AccountOpt = None, as_json: JsonOpt = False,
) -> None:
    """Call a tool once, as the agent would: prints the request (secret masked), the status and
    what the model would read. Records nothing in the stats.

    Example: ndoto bots tools test Helper order_status --arg order_id=4521
    """
    if arg and args is not None:
        fail("give --arg or --args, not both", exit_code=ExitCode.USAGE, as_json=as_json)
    given: dict[str, str] = {}
    for item in arg or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--arg {item!r}: expected NAME=VALUE", exit_code=ExitCode.USAGE, as_json=as_json)
        given[key] = value

    async def go(db: Any) -> Any:
        from ndoto_cli.core.ai import tool_calls
        from ndoto_cli.core.ai import tools as core_tools
        from ndoto_cli.dispatch.ai.agent import runner_for

        found = await ai_bot(db, bot, account, system, "tools")
        async with db.read() as s:
            chosen = await core_tools.find_tool(s, bot=found, ref=tool)
        arguments: Any = args if args is not None else tool_calls.typed_arguments(chosen, given)
        runner = runner_for(db.settings)
        try:
            return await runner.call(chosen, arguments)
        finally:
            await runner.close()

    result = run(go, as_json=as_json)
    data = {
        "tool": result.tool, "arguments": result.arguments, "ok": result.ok, "request": result.request,
        "status": result.status_code, "duration_ms": round(result.duration_ms, 1), "model_sees": result.for_model(), "error": result.error,
    }
    if as_json:
        dump_json(data)
    else:
        out = console()
        if result.request:
            out.print(f"{result.request['method']} {result.request['url']}", markup=False, highlight=False)
            for key, value in result.request["headers"].items():
                out.print(f"  {key}: {value}", markup=False, highlight=False)
            if result.request["json"] is not None:
                out.print(f"  body: {json.dumps(result.request['json'], ensure_ascii=False)}", markup=False, highlight=False)
        verdict = "OK" if result.ok else "FAILED"
        out.print(f"{verdict} {result.status_code or '-'} in {result.duration_ms:.0f} ms", markup=False, highlight=False)
        if result.error:
            out.print(f"error: {result.error}", markup=False, highlight=False)
        out.print(f"the model reads: {data['model_sees']}", markup=False, highlight=False)
    if not result.ok:
        raise typer.Exit(1)
