"""Account API: agent bots, inboxes and their bot, contacts (administrators manage; agents read)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from ndoto_cli.core.errors import Invalid
from ndoto_cli.core.services import bots, contacts, inboxes
from ndoto_cli.core.views import bot_json, contact_json, inbox_json
from ndoto_cli.server.auth import Caller, account_caller
from ndoto_cli.server.responses import BotOut, ContactCreated, Deleted, InboxBotOut, InboxList, InboxOut, doc
from ndoto_cli.server.schemas import BotCreate, BotUpdate, ContactCreate, Id, InboxCreate, SetAgentBot, bot_settings

router = APIRouter(prefix="/api/v1/accounts/{account_id}")
JSON = dict[str, Any]


def render_bot(bot: Any, caller: Caller, token: str | None = None) -> JSON:
    """Secrets only to administrators, and never a system bot's (it is not the account's)."""
    own = bot.account_id == caller.account_id
    return bot_json(bot, access_token=token, include_secret=caller.is_admin and own)


async def _user(request: Request, account_id: Id) -> Caller:
    caller = await account_caller(request, account_id)
    caller.require_user()
    return caller


async def _admin(request: Request, account_id: Id) -> Caller:
    caller = await account_caller(request, account_id)
    caller.require_admin()
    return caller


@router.get("/agent_bots", responses=doc(list[BotOut]), tags=["agent bots"], summary="List the account's bots and the system bots")
async def list_bots(request: Request, account_id: Id) -> list[JSON]:
    caller = await _user(request, account_id)
    async with request.app.state.db.read() as s:
        rows = await bots.list_bots(s, account_id=account_id)
    return [render_bot(b, caller) for b in rows]


@router.post("/agent_bots", responses=doc(BotOut), tags=["agent bots"], summary="Create a bot (its access token is in this answer only)")
async def create_bot(request: Request, account_id: Id, body: BotCreate) -> JSON:
    caller = await _admin(request, account_id)
    bot, token = await request.app.state.db.write(
        lambda s: bots.create_bot(
            s, account_id=account_id, name=body.name, bot_type=str(body.bot_type), outgoing_url=body.outgoing_url,
            description=body.description, timeout=body.timeout, keep_pending_on_failure=body.keep_pending_on_failure,
            **bot_settings(body.bot_config),
        )
    )
    return render_bot(bot, caller, token)


@router.get("/agent_bots/{bot_id}", responses=doc(BotOut), tags=["agent bots"], summary="Show a bot (system bots included)")
async def show_bot(request: Request, account_id: Id, bot_id: Id) -> JSON:
    caller = await _user(request, account_id)
    async with request.app.state.db.read() as s:
        bot = await bots.get_bot(s, account_id=account_id, bot_id=bot_id)
    return render_bot(bot, caller)


async def _update_bot(request: Request, account_id: Id, bot_id: Id, body: BotUpdate) -> JSON:
    caller = await _admin(request, account_id)
    changes = {
        "name": body.name, "description": body.description, "outgoing_url": body.outgoing_url,
        "timeout": body.timeout, "keep_pending_on_failure": body.keep_pending_on_failure,
        "bot_type": str(body.bot_type) if body.bot_type is not None else None,
        **bot_settings(body.bot_config),
    }
    bot = await request.app.state.db.write(lambda s: bots.update_bot(s, account_id=account_id, bot_id=bot_id, **changes))
    return render_bot(bot, caller)


@router.patch("/agent_bots/{bot_id}", responses=doc(BotOut), tags=["agent bots"], summary="Update a bot (the account's own bots only)")
async def patch_bot(request: Request, account_id: Id, bot_id: Id, body: BotUpdate) -> JSON:
    return await _update_bot(request, account_id, bot_id, body)


@router.put("/agent_bots/{bot_id}", responses=doc(BotOut), tags=["agent bots"], summary="Update a bot (same as PATCH)")
async def put_bot(request: Request, account_id: Id, bot_id: Id, body: BotUpdate) -> JSON:
    return await _update_bot(request, account_id, bot_id, body)


@router.delete("/agent_bots/{bot_id}", responses=doc(Deleted), tags=["agent bots"], summary="Delete a bot")
async def delete_bot(request: Request, account_id: Id, bot_id: Id) -> JSON:
    await _admin(request, account_id)
    bot = await request.app.state.db.write(lambda s: bots.delete_bot(s, account_id=account_id, bot_id=bot_id))
    return {"id": bot.id, "deleted": True}


@router.post("/agent_bots/{bot_id}/reset_access_token", responses=doc(BotOut), tags=["agent bots"], summary="New access token (old one stops working)")
async def reset_token(request: Request, account_id: Id, bot_id: Id) -> JSON:
    caller = await _admin(request, account_id)
    bot, token = await request.app.state.db.write(lambda s: bots.reset_bot_token(s, account_id=account_id, bot_id=bot_id))
    return render_bot(bot, caller, token)


@router.post("/agent_bots/{bot_id}/reset_secret", responses=doc(BotOut), tags=["agent bots"], summary="New webhook signing secret")
async def reset_secret(request: Request, account_id: Id, bot_id: Id) -> JSON:
    caller = await _admin(request, account_id)
    bot = await request.app.state.db.write(lambda s: bots.reset_bot_secret(s, account_id=account_id, bot_id=bot_id))
    return render_bot(bot, caller)


async def _inbox_json(s: Any, inbox: Any) -> JSON:
    link = await inboxes.inbox_link(s, inbox_id=inbox.id)
    bot = await inboxes.inbox_bot(s, inbox_id=inbox.id)
    return inbox_json(inbox, link, bot)


@router.get("/inboxes", responses=doc(InboxList), tags=["inboxes"], summary="List inboxes")
async def list_inboxes(request: Request, account_id: Id) -> JSON:
    await _user(request, account_id)
    async with request.app.state.db.read() as s:
        rows = await inboxes.list_inboxes(s, account_id=account_id)
        return {"payload": [await _inbox_json(s, i) for i in rows]}


@router.post("/inboxes", responses=doc(InboxOut), tags=["inboxes"], summary="Create an inbox ({name, channel: {type: api|web_widget}})")
async def create_inbox(request: Request, account_id: Id, body: InboxCreate) -> JSON:
    await _admin(request, account_id)
    channel = body.channel
    if isinstance(channel, dict):
        channel = channel.get("type", "api")
    channel = channel or "api"
    async def go(s: Any) -> JSON:
        inbox = await inboxes.create_inbox(s, account_id=account_id, name=body.name, channel=str(channel))
        return await _inbox_json(s, inbox)

    return await request.app.state.db.write(go)


@router.get("/inboxes/{inbox_id}", responses=doc(InboxOut), tags=["inboxes"], summary="Show an inbox")
async def show_inbox(request: Request, account_id: Id, inbox_id: Id) -> JSON:
    await account_caller(request, account_id)  # bots may see inboxes (Chatwoot allows it)
    async with request.app.state.db.read() as s:
        return await _inbox_json(s, await inboxes.get_inbox(s, account_id=account_id, inbox_id=inbox_id))


@router.get("/inboxes/{inbox_id}/agent_bot", responses=doc(InboxBotOut), tags=["inboxes"], summary="The inbox's bot ({} when none)")
async def inbox_agent_bot(request: Request, account_id: Id, inbox_id: Id) -> JSON:
    caller = await _user(request, account_id)
    async with request.app.state.db.read() as s:
        await inboxes.get_inbox(s, account_id=account_id, inbox_id=inbox_id)
        bot = await inboxes.inbox_bot(s, inbox_id=inbox_id)
    return {"agent_bot": render_bot(bot, caller) if bot is not None else {}}


@router.post("/inboxes/{inbox_id}/set_agent_bot", responses=doc(dict), tags=["inboxes"], summary="Connect a bot ({agent_bot: id}) or disconnect ({agent_bot: null})")
async def set_agent_bot(request: Request, account_id: Id, inbox_id: Id, body: SetAgentBot) -> Response:
    await _admin(request, account_id)
    await request.app.state.db.write(
        lambda s: inboxes.set_inbox_bot(s, account_id=account_id, inbox_id=inbox_id, bot_id=body.agent_bot)
    )
    return Response(status_code=200, content="{}", media_type="application/json")


@router.post("/contacts", responses=doc(ContactCreated), tags=["contacts"], summary="Create a contact (optionally linked to an inbox)")
async def create_contact(request: Request, account_id: Id, body: ContactCreate) -> JSON:
    await _user(request, account_id)

    async def go(s: Any) -> JSON:
        contact = await contacts.create_contact(
            s, account_id=account_id, name=body.name, email=body.email, phone_number=body.phone_number,
            identifier=body.identifier, custom_attributes=body.custom_attributes,
            additional_attributes=body.additional_attributes,
        )
        contact_inbox = None
        if body.inbox_id is not None:
            inbox = await inboxes.get_inbox(s, account_id=account_id, inbox_id=body.inbox_id)
            link = await contacts.link_contact(s, contact=contact, inbox=inbox, source_id=body.source_id)
            contact_inbox = {"inbox": await _inbox_json(s, inbox), "source_id": link.source_id}
        elif body.source_id:
            raise Invalid("source_id needs an inbox_id", field="inbox_id")
        return {"payload": {"contact": contact_json(contact), "contact_inbox": contact_inbox or {}}}

    return await request.app.state.db.write(go)


@router.get("/contacts/{contact_id}", responses=doc(ContactCreated), tags=["contacts"], summary="Show a contact")
async def show_contact(request: Request, account_id: Id, contact_id: Id) -> JSON:
    await _user(request, account_id)
    async with request.app.state.db.read() as s:
        contact = await contacts.get_contact(s, account_id=account_id, contact_id=contact_id)
    return {"payload": contact_json(contact)}
