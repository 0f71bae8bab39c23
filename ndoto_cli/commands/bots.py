"""``ndoto bots``: webhook bots and AI agents, their tokens, secrets and a signed test ping."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

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
    resolve_account,
    run,
    table,
    token_notice,
)

app = typer.Typer(help="Agent bots: webhook bots (your server) and AI agents (built in).\n\nExample: ndoto bots create --type webhook --name OrderBot --url https://bots.example.com/webhook", no_args_is_help=True, rich_markup_mode=None)
token_app = typer.Typer(help="A bot's access token (how it calls the API).\n\nExample: ndoto bots token reset OrderBot", no_args_is_help=True, rich_markup_mode=None)
secret_app = typer.Typer(help="A bot's webhook signing secret (how it verifies our calls).\n\nExample: ndoto bots secret reset OrderBot", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(token_app, name="token")
app.add_typer(secret_app, name="secret")


class BotKind(str, Enum):
    webhook = "webhook"
    ai = "ai"




async def _scope(db: Any, account: str | None, system: bool) -> int | None:
    return None if system else await resolve_account(db, account)


async def _find(db: Any, ref: str, account: str | None, system: bool) -> tuple[int | None, Any]:
    from ndoto_cli.core.services import bots

    scope = await _scope(db, account, system)
    async with db.read() as s:
        return scope, await bots.find_bot(s, account_id=scope, ref=ref)


def _prompt(system_prompt: str | None, system_prompt_file: Path | None) -> str | None:
    if system_prompt is not None and system_prompt_file is not None:
        fail("give --system-prompt or --system-prompt-file, not both", exit_code=ExitCode.USAGE)
    if system_prompt_file is not None:
        try:
            return system_prompt_file.read_text(encoding="utf-8")
        except OSError as exc:
            fail(f"cannot read {system_prompt_file}: {exc.strerror}")
    return system_prompt


def _settings(
    system_prompt: str | None, temperature: float | None, max_exchanges: int | None, keywords: list[str] | None,
    model: str | None, api_base: str | None, handoff_message: list[str] | None, timeout: float | None,
    keep_pending: bool | None, api_key: str | None = None, batch_wait: float | None = None,
    decline_topics: list[str] | None = None, max_answer_chars: int | None = None, resolve_after: str | None = None,
    languages: list[str] | None = None,
) -> dict[str, Any]:
    """The options given, as the service's settings. ``--handoff-message fr:...`` goes into
    ``handoff_messages`` (merged with the bot's own on update)."""
    from ndoto_cli.core.ai.language import NAMES

    plain, by_language = None, {}
    for given in handoff_message or []:
        code, _, text = given.strip().partition(":")
        if code in NAMES:
            by_language[code] = text.strip()  # "" removes it
        else:
            plain = given
    from ndoto_cli.commands.deliveries import parse_duration

    if api_key == "-":
        import sys

        api_key = sys.stdin.readline().strip()  # keeps the key out of the shell's history
    values = {
        "system_prompt": system_prompt, "temperature": temperature, "max_exchanges": max_exchanges,
        "handoff_keywords": keywords or None, "model": model, "api_base": api_base, "api_key": api_key,
        "handoff_message": plain, "handoff_messages": by_language or None, "languages": languages or None, "timeout": timeout, "keep_pending_on_failure": keep_pending,
        "batch_wait": batch_wait, "decline_topics": decline_topics or None, "max_answer_chars": max_answer_chars,
        "resolve_after": parse_duration(resolve_after, "--resolve-after") if resolve_after is not None else None,
    }
    return {k: v for k, v in values.items() if v is not None}


def _render(bot: Any, token: str | None = None, *, inboxes: list[Any] | None = None, health: dict[str, int] | None = None) -> dict[str, Any]:
    from ndoto_cli.core.views import bot_json

    data = bot_json(bot, access_token=token)
    if inboxes is not None:
        data["inboxes"] = [{"id": i.id, "name": i.name, "account_id": i.account_id} for i in inboxes]
    if health is not None:
        data["recent_deliveries"] = health
    return data


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="Bot name (unique in the account).")],
    kind: Annotated[BotKind, typer.Option("--type", help="webhook or ai.")] = BotKind.webhook,
    url: Annotated[str | None, typer.Option("--url", help="Webhook URL (https; http only for localhost).")] = None,
    description: Annotated[str, typer.Option("--description", help="What the bot does.")] = "",
    system_prompt: Annotated[str | None, typer.Option("--system-prompt", help="AI: instructions for tone and scope.")] = None,
    system_prompt_file: Annotated[Path | None, typer.Option("--system-prompt-file", help="AI: read the system prompt from a file.")] = None,
    temperature: Annotated[float | None, typer.Option("--temperature", help="AI: 0 (precise) to 1 (varied).")] = None,
    max_exchanges: Annotated[int | None, typer.Option("--max-exchanges", help="AI: answers before handing off to a human.")] = None,
    handoff_keyword: Annotated[list[str] | None, typer.Option("--handoff-keyword", help="AI: phrase that hands off at once (repeatable).")] = None,
    model: Annotated[str | None, typer.Option("--model", help="AI: litellm model, e.g. gpt-4o-mini or openai/<name>.")] = None,
    api_base: Annotated[str | None, typer.Option("--api-base", help="AI: base URL of an OpenAI-compatible server.")] = None,
    api_key: Annotated[str | None, typer.Option("--api-key", help="AI: the key for --api-base, '-' reads it from standard input (stored as the bot's secret, never shown; the server's own keys never go there).")] = None,
    handoff_message: Annotated[list[str] | None, typer.Option("--handoff-message", help="AI: what the customer reads at handoff; 'fr:...' gives it in one language (repeatable; 'fr:' removes it).")] = None,
    language: Annotated[list[str] | None, typer.Option("--language", help="AI: a language its customers write (en, fr, sw...; repeatable, replaces them): detection is among these.")] = None,
    batch_wait: Annotated[float | None, typer.Option("--batch-wait", help="AI: seconds to wait for the customer's next message, to answer a burst once (default 2, 0 answers at once).")] = None,
    decline_topic: Annotated[list[str] | None, typer.Option("--decline-topic", help="AI: a subject it politely declines, e.g. 'legal advice' (repeatable; update replaces them).")] = None,
    max_answer_chars: Annotated[int | None, typer.Option("--max-answer-chars", help="AI: the longest answer it sends, cut at a sentence (default 1200, 0 no limit).")] = None,
    resolve_after: Annotated[str | None, typer.Option("--resolve-after", help="AI: resolve a conversation when the customer has not written for this long after its answer, like 1h or 30m (default 1h, 0 never).")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Webhook: seconds per attempt (default: server setting).")] = None,
    keep_pending: Annotated[bool | None, typer.Option("--keep-pending-on-failure/--handoff-on-failure", help="When unreachable: keep conversations pending, or hand them to humans.")] = None,
    system: SystemOpt = False,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a bot and print its access token once.

    Example: ndoto bots create --type webhook --name OrderBot --url https://bots.example.com/webhook

    Example: ndoto bots create --type ai --name Helper --system-prompt "You help Acme customers." --handoff-keyword "speak to agent"
    """
    prompt = _prompt(system_prompt, system_prompt_file)
    values = _settings(prompt, temperature, max_exchanges, handoff_keyword, model, api_base, handoff_message, timeout, keep_pending, api_key, batch_wait,
                       decline_topic, max_answer_chars, resolve_after, language)

    async def go(db: Any) -> Any:
        from ndoto_cli.core.models import Account
        from ndoto_cli.core.services import bots

        scope = await _scope(db, account, system)
        bot, token = await db.write(
            lambda s: bots.create_bot(s, account_id=scope, name=name, bot_type=kind.value, outgoing_url=url, description=description, **values)
        )
        async with db.read() as s:
            owner = await s.get(Account, scope) if scope is not None else None
        return bot, token, owner.name if owner is not None else None, bots.warnings(bot, db.settings)

    bot, token, account_name, warned = run(go, as_json=as_json)
    if as_json:
        dump_json({**_render(bot, token), "secret": bot.secret, "warnings": warned})
        return
    out = console()
    kind = "AI agent" if bot.bot_type == "ai_agent" else "webhook bot"
    where = "a system bot: every account can use it" if bot.account_id is None else f"in account {account_name}"
    out.print(f"Created {kind} {bot.name} (id {bot.id}), {where}.", markup=False, highlight=False)
    token_notice(token, "Bot")
    if bot.bot_type == "webhook":
        out.print(f"Signing secret: {bot.secret}", markup=False, highlight=False, soft_wrap=True)
        out.print(f"  how the bot checks that a webhook is ours; `ndoto bots secret show {_ref(bot)}` prints it again", style="dim",
                  markup=False, highlight=False)
    _warn(warned)
    out.print(f"Next: ndoto inbox assign {_ref(bot)} <inbox>", markup=False, highlight=False)


def _ref(bot: Any) -> str:
    """How to name the bot on a command line: its name, quoted when it has spaces, else its id."""
    import shlex

    return shlex.quote(bot.name) if bot.name else str(bot.id)


def _warn(lines: list[str]) -> None:
    import sys

    for line in lines:
        sys.stderr.write(f"Warning: {line}\n")


@app.command("list")
def list_(system: SystemOpt = False, account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    """List the account's bots and the system bots, with their inboxes and recent delivery health.

    Example: ndoto bots list
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import bots, deliveries, inboxes

        scope = await _scope(db, account, system)
        async with db.read() as s:
            rows = await bots.list_bots(s, account_id=scope)
            return [
                _render(b, inboxes=await inboxes.inboxes_of_bot(s, bot_id=b.id, account_id=scope), health=await deliveries.health(s, bot_id=b.id))
                for b in rows
            ]

    items = run(go, as_json=as_json)
    if as_json:
        dump_json(items)
        return

    def health(h: dict[str, int]) -> str:
        return ", ".join(f"{n} {status}" for status, n in sorted(h.items())) or "-"

    table(
        ["id", "name", "type", "system", "target", "state", "inboxes", "last 20 deliveries"],
        [
            [b["id"], b["name"], b["bot_type"], "yes" if b["system_bot"] else "", b["outgoing_url"] or (b["bot_config"].get("model") or "(default model)"),
             f"disabled: {b['disabled_reason']}" if b["disabled_reason"] else "enabled",
             ", ".join(i["name"] for i in b["inboxes"]) or "-", health(b["recent_deliveries"])]
            for b in items
        ],
        empty="No bots yet: `ndoto bots create --type webhook --name MyBot --url https://...`.",
    )


@app.command("show")
def show(bot: BotArg, system: SystemOpt = False, account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    """Show a bot's settings (never its token).

    Example: ndoto bots show OrderBot --json
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import deliveries, inboxes

        scope, found = await _find(db, bot, account, system)
        async with db.read() as s:
            return _render(found, inboxes=await inboxes.inboxes_of_bot(s, bot_id=found.id, account_id=scope), health=await deliveries.health(s, bot_id=found.id))

    data = run(go, as_json=as_json)
    if as_json:
        dump_json(data)
        return
    flat = {k: v for k, v in data.items() if k not in ("bot_config", "inboxes", "thumbnail")}
    flat["disabled_reason"] = data["disabled_reason"] or "no: enabled"
    flat.update({f"ai {k}": v for k, v in data["bot_config"].items()})
    flat["inboxes"] = [i["name"] for i in data["inboxes"]]
    fields(flat)


@app.command("update")
def update(
    bot: BotArg,
    name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    url: Annotated[str | None, typer.Option("--url", help="New webhook URL (re-enables a bot disabled by 410).")] = None,
    description: Annotated[str | None, typer.Option("--description", help="What the bot does.")] = None,
    system_prompt: Annotated[str | None, typer.Option("--system-prompt", help="AI: instructions for tone and scope.")] = None,
    system_prompt_file: Annotated[Path | None, typer.Option("--system-prompt-file", help="AI: read the system prompt from a file.")] = None,
    temperature: Annotated[float | None, typer.Option("--temperature", help="AI: 0 (precise) to 1 (varied).")] = None,
    max_exchanges: Annotated[int | None, typer.Option("--max-exchanges", help="AI: answers before handing off to a human.")] = None,
    handoff_keyword: Annotated[list[str] | None, typer.Option("--handoff-keyword", help="Replaces the keywords (repeatable).")] = None,
    model: Annotated[str | None, typer.Option("--model", help="AI: litellm model, e.g. gpt-4o-mini or openai/<name>.")] = None,
    api_base: Annotated[str | None, typer.Option("--api-base", help="AI: base URL of an OpenAI-compatible server ('' clears it).")] = None,
    api_key: Annotated[str | None, typer.Option("--api-key", help="AI: the key for --api-base, '-' reads it from standard input ('' clears it).")] = None,
    handoff_message: Annotated[list[str] | None, typer.Option("--handoff-message", help="AI: what the customer reads at handoff; 'fr:...' gives it in one language (repeatable; 'fr:' removes it).")] = None,
    language: Annotated[list[str] | None, typer.Option("--language", help="AI: a language its customers write (en, fr, sw...; repeatable, replaces them): detection is among these.")] = None,
    batch_wait: Annotated[float | None, typer.Option("--batch-wait", help="AI: seconds to wait for the customer's next message, to answer a burst once (default 2, 0 answers at once).")] = None,
    decline_topic: Annotated[list[str] | None, typer.Option("--decline-topic", help="AI: a subject it politely declines, e.g. 'legal advice' (repeatable; update replaces them).")] = None,
    max_answer_chars: Annotated[int | None, typer.Option("--max-answer-chars", help="AI: the longest answer it sends, cut at a sentence (default 1200, 0 no limit).")] = None,
    resolve_after: Annotated[str | None, typer.Option("--resolve-after", help="AI: resolve a conversation when the customer has not written for this long after its answer, like 1h or 30m (default 1h, 0 never).")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Webhook: seconds per attempt.")] = None,
    keep_pending: Annotated[bool | None, typer.Option("--keep-pending-on-failure/--handoff-on-failure", help="When unreachable: keep conversations pending, or hand them to humans.")] = None,
    system: SystemOpt = False,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a bot's settings (a system bot only with --system).

    Example: ndoto bots update OrderBot --url https://bots.example.com/v2/webhook
    """
    prompt = _prompt(system_prompt, system_prompt_file)
    values = _settings(prompt, temperature, max_exchanges, handoff_keyword, model, api_base, handoff_message, timeout, keep_pending, api_key, batch_wait,
                       decline_topic, max_answer_chars, resolve_after, language)
    values.update({k: v for k, v in {"name": name, "outgoing_url": url, "description": description}.items() if v is not None})
    if not values:
        fail("nothing to change: give at least one option (see --help)", exit_code=ExitCode.USAGE, as_json=as_json)

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import bots

        scope, found = await _find(db, bot, account, system)
        if "handoff_messages" in values:  # one language's message changes; the others stay
            values["handoff_messages"] = {k: v for k, v in {**(found.handoff_messages or {}), **values["handoff_messages"]}.items() if v}
        updated = await db.write(lambda s: bots.update_bot(s, account_id=scope, bot_id=found.id, **values))
        return updated, bots.warnings(updated, db.settings)

    updated, warned = run(go, as_json=as_json)
    if as_json:
        dump_json({**_render(updated), "warnings": warned})
        return
    changed = ", ".join(k.replace("outgoing_url", "url").replace("_", " ") for k in values if k != "api_key") or "its key"
    console().print(f"Updated bot {updated.name} (id {updated.id}): {changed}.", markup=False, highlight=False)
    _warn(warned)


@app.command("delete")
def delete(bot: BotArg, yes: YesOpt = False, system: SystemOpt = False, account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    """Delete a bot (asks first): its inboxes lose their bot, its token stops working.

    Example: ndoto bots delete OrderBot --yes
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import bots

        scope, found = await _find(db, bot, account, system)
        confirm(f"Delete bot {found.name} (id {found.id})? Its inboxes lose their bot and its token stops working.",
                yes=yes, as_json=as_json)
        return await db.write(lambda s: bots.delete_bot(s, account_id=scope, bot_id=found.id))

    deleted = run(go, as_json=as_json)
    if as_json:
        dump_json({"id": deleted.id, "deleted": True})
    else:
        console().print(f"Deleted bot {deleted.name} (id {deleted.id}).")


@token_app.command("reset")
def token_reset(bot: BotArg, yes: YesOpt = False, system: SystemOpt = False, account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    """Issue a new access token (asks first); the old one stops working at once.

    Example: ndoto bots token reset OrderBot --yes
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import bots

        scope, found = await _find(db, bot, account, system)
        confirm(f"Reset the access token of bot {found.name}? The running bot's token stops working at once.",
                yes=yes, as_json=as_json)
        return await db.write(lambda s: bots.reset_bot_token(s, account_id=scope, bot_id=found.id))

    found, token = run(go, as_json=as_json)
    if as_json:
        dump_json(_render(found, token))
        return
    console().print(f"New access token for bot {found.name}; the old one no longer works.")
    token_notice(token, "Bot")


@secret_app.command("show")
def secret_show(bot: BotArg, system: SystemOpt = False, account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    """Print the bot's webhook signing secret (what its verifier checks our signatures with).

    Example: ndoto bots secret show OrderBot
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import bots

        scope, found = await _find(db, bot, account, system)
        return found, bots.signing_secret(found, account_id=scope)

    found, secret = run(go, as_json=as_json)
    if as_json:
        dump_json({"id": found.id, "name": found.name, "secret": secret})
        return
    out = console()
    out.print(secret, markup=False, highlight=False)
    out.print("X-Chatwoot-Signature = sha256=hex(HMAC-SHA256(this secret, \"<X-Chatwoot-Timestamp>.<raw body>\"))", style="dim",
              markup=False, highlight=False)


@secret_app.command("reset")
def secret_reset(bot: BotArg, yes: YesOpt = False, system: SystemOpt = False, account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    """Issue a new webhook signing secret (asks first) and print it (give it to your bot's verifier).

    Example: ndoto bots secret reset OrderBot --yes
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import bots

        scope, found = await _find(db, bot, account, system)
        confirm(f"Reset the signing secret of bot {found.name}? Its verifier rejects our webhooks until it has the new one.",
                yes=yes, as_json=as_json)
        return await db.write(lambda s: bots.reset_bot_secret(s, account_id=scope, bot_id=found.id))

    found = run(go, as_json=as_json)
    if as_json:
        dump_json({**_render(found), "secret": found.secret})
        return
    out = console()
    out.print(f"New signing secret for bot {found.name}: {found.secret}", highlight=False, soft_wrap=True)
    out.print("[yellow]Update your bot's verifier now: webhooks are signed with this secret from now on.[/yellow]")


@app.command("ping")
def ping(bot: BotArg, system: SystemOpt = False, account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    """Send a signed test event (ping) to a webhook bot now and print what happened.

    Example: ndoto bots ping OrderBot
    """

    async def go(db: Any) -> Any:
        import json
        import time

        from ndoto_cli.core.outbox.events import new_webhook_id
        from ndoto_cli.dispatch.webhook import WebhookTransport

        _scope_id, found = await _find(db, bot, account, system)
        if found.bot_type != "webhook" or not found.outgoing_url:
            from ndoto_cli.core.errors import Invalid

            raise Invalid(f"bot {found.name} is not a webhook bot: try `ndoto bots try {found.name} \"hello\"` for AI agents")
        payload = {"event": "ping", "id": 0, "bot": {"id": found.id, "name": found.name}, "created_at": int(time.time())}
        transport = WebhookTransport(db.settings)
        try:
            outcome = await transport.post(
                found.outgoing_url, secret=found.secret, timeout=found.timeout, webhook_id=new_webhook_id(), event="ping",
                body=json.dumps(payload).encode("utf-8"),
            )
        finally:
            await transport.close()
        return found, outcome

    found, outcome = run(go, as_json=as_json)
    result = {
        "bot_id": found.id, "url": found.outgoing_url, "ok": outcome.ok, "status_code": outcome.status_code,
        "duration_ms": round(outcome.duration_ms, 1), "error": outcome.error, "response_excerpt": outcome.response_excerpt,
    }
    if as_json:
        dump_json(result)
    else:
        out = console()
        verdict = "[green]OK[/green]" if outcome.ok else "[red]FAILED[/red]"
        out.print(f"{verdict} {found.outgoing_url} -> {outcome.status_code or '-'} in {outcome.duration_ms:.0f} ms", highlight=False)
        if outcome.error:
            out.print(f"error: {outcome.error}", highlight=False)
        if outcome.response_excerpt:
            out.print(f"response: {outcome.response_excerpt[:300]}", highlight=False)
    if not outcome.ok:
        raise typer.Exit(1)


def _ai_commands() -> None:
    """The AI agent's own commands live in ``bots_ai`` (beside the knowledge base's)."""
    from ndoto_cli.commands import bots_ai

    app.command("try")(bots_ai.try_)
    app.command("eval")(bots_ai.eval_)
    app.command("stats")(bots_ai.stats)
    from ndoto_cli.commands import bots_tools

    app.add_typer(bots_tools.app, name="tools")


_ai_commands()
