"""Account API: agent bots, inboxes and their bot, contacts (administrators manage; agents read)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from ndoto_cli.core import limits
from ndoto_cli.core.errors import Invalid, Unauthorized
from ndoto_cli.core.services import bots, contacts, inboxes, outcomes
from ndoto_cli.core.views import bot_json, contact_json
from ndoto_cli.server.auth import Caller
from ndoto_cli.server.deps import JSON, AdminCaller, AnyCaller, Db, UserCaller
from ndoto_cli.server.responses import BotOut, ContactCreated, Deleted, InboxBotOut, InboxList, InboxOut, doc
from ndoto_cli.server.route import AccountRoute
from ndoto_cli.server.schemas import BotCreate, BotUpdate, ContactCreate, Id, InboxCreate, InboxUpdate, SetAgentBot, bot_changes

router = APIRouter(prefix="/api/v1/accounts/{account_id}", route_class=AccountRoute)
Since = Annotated[float | None, Query(ge=0, le=limits.MAX_TIMESTAMP, description="Unix seconds")]


def render_bot(bot: Any, caller: Caller, token: str | None = None) -> JSON:
    """Secrets only to administrators, and never a system bot's (it is not the account's)."""
    own = bot.account_id == caller.account_id
    return bot_json(bot, access_token=token, include_secret=caller.is_admin and own)


@router.get("/agent_bots", responses=doc(list[BotOut]), tags=["agent bots"], summary="List the account's bots and the system bots")
async def list_bots(db: Db, caller: UserCaller, account_id: Id) -> list[JSON]:
    async with db.read() as s:
        rows = await bots.list_bots(s, account_id=account_id)
    return [render_bot(b, caller) for b in rows]


@router.post("/agent_bots", responses=doc(BotOut), tags=["agent bots"], summary="Create a bot (its access token is in this answer only)")
async def create_bot(db: Db, caller: AdminCaller, account_id: Id, body: BotCreate) -> JSON:
    changes = bot_changes(body)
    bot, token = await db.write(lambda s: bots.create_bot(s, account_id=account_id, **{"bot_type": "webhook", **changes}))
    return render_bot(bot, caller, token)


@router.get("/agent_bots/{bot_id}", responses=doc(BotOut), tags=["agent bots"], summary="Show a bot (system bots included)")
async def show_bot(db: Db, caller: UserCaller, account_id: Id, bot_id: Id) -> JSON:
    async with db.read() as s:
        bot = await bots.get_bot(s, account_id=account_id, bot_id=bot_id)
    return render_bot(bot, caller)


@router.get("/agent_bots/{bot_id}/stats", responses=doc(dict), tags=["agent bots"],
            summary="A bot's outcomes (handled, resolved without a human, handed off by reason, reopened, first answer, ratings) and an AI agent's activity")
async def bot_stats(db: Db, caller: AdminCaller, account_id: Id, bot_id: Id, since: Since = None, until: Since = None,
                    by_day: bool = False) -> JSON:
    async with db.read() as s:
        bot = await bots.get_bot(s, account_id=account_id, bot_id=bot_id)
        return await outcomes.bot_stats(s, bot, since=since, until=until, by_day=by_day, account_id=account_id)


async def _update_bot(db: Any, caller: Caller, bot_id: int, body: BotUpdate) -> JSON:
    changes = bot_changes(body)
    bot = await db.write(lambda s: bots.update_bot(s, account_id=caller.account_id, bot_id=bot_id, **changes))
    return render_bot(bot, caller)


@router.patch("/agent_bots/{bot_id}", responses=doc(BotOut), tags=["agent bots"], summary="Update a bot (the account's own bots only)")
async def patch_bot(db: Db, caller: AdminCaller, account_id: Id, bot_id: Id, body: BotUpdate) -> JSON:
    return await _update_bot(db, caller, bot_id, body)


@router.put("/agent_bots/{bot_id}", responses=doc(BotOut), tags=["agent bots"], summary="Update a bot (same as PATCH)")
async def put_bot(db: Db, caller: AdminCaller, account_id: Id, bot_id: Id, body: BotUpdate) -> JSON:
    return await _update_bot(db, caller, bot_id, body)


@router.delete("/agent_bots/{bot_id}", responses=doc(Deleted), tags=["agent bots"], summary="Delete a bot")
async def delete_bot(db: Db, caller: AdminCaller, account_id: Id, bot_id: Id) -> JSON:
    bot = await db.write(lambda s: bots.delete_bot(s, account_id=account_id, bot_id=bot_id))
    return {"id": bot.id, "deleted": True}


@router.post("/agent_bots/{bot_id}/reset_access_token", responses=doc(BotOut), tags=["agent bots"], summary="New access token (old one stops working)")
async def reset_token(db: Db, caller: AdminCaller, account_id: Id, bot_id: Id) -> JSON:
    bot, token = await db.write(lambda s: bots.reset_bot_token(s, account_id=account_id, bot_id=bot_id))
    return render_bot(bot, caller, token)


@router.post("/agent_bots/{bot_id}/reset_secret", responses=doc(BotOut), tags=["agent bots"], summary="New webhook signing secret")
async def reset_secret(db: Db, caller: AdminCaller, account_id: Id, bot_id: Id) -> JSON:
    bot = await db.write(lambda s: bots.reset_bot_secret(s, account_id=account_id, bot_id=bot_id))
    return render_bot(bot, caller)


@router.get("/inboxes", responses=doc(InboxList), tags=["inboxes"], summary="List inboxes")
async def list_inboxes(db: Db, caller: UserCaller, account_id: Id) -> JSON:
    async with db.read() as s:
        rows = await inboxes.list_inboxes(s, account_id=account_id)
        return {"payload": [await inboxes.describe(s, i) for i in rows]}


@router.post("/inboxes", responses=doc(InboxOut), tags=["inboxes"], summary="Create an inbox ({name, channel: {type: api|web_widget}})")
async def create_inbox(db: Db, caller: AdminCaller, account_id: Id, body: InboxCreate) -> JSON:
    channel = body.channel
    if isinstance(channel, dict):
        channel = channel.get("type", "api")
    if not isinstance(channel, str | None):
        raise Invalid("channel.type must be api or web_widget", field="channel")
    channel = channel or "api"

    async def go(s: Any) -> JSON:
        inbox = await inboxes.create_inbox(s, account_id=account_id, name=body.name, channel=channel)
        return await inboxes.describe(s, inbox)

    return await db.write(go)


@router.get("/inboxes/{inbox_id}", responses=doc(InboxOut), tags=["inboxes"], summary="Show an inbox (a bot: only the inboxes it serves)")
async def show_inbox(db: Db, caller: AnyCaller, account_id: Id, inbox_id: Id) -> JSON:
    async with db.read() as s:
        inbox = await inboxes.get_inbox(s, account_id=account_id, inbox_id=inbox_id)
        if caller.is_bot and not await inboxes.bot_serves_inbox(s, bot_id=caller.bot_id, inbox_id=inbox_id):  # type: ignore[arg-type]
            raise Unauthorized("bots may read only the inboxes they serve")
        return await inboxes.describe(s, inbox)


@router.patch("/inboxes/{inbox_id}", responses=doc(InboxOut), tags=["inboxes"], summary="Rename an inbox or turn its rating at resolution on or off ({name?, csat_survey_enabled?})")
async def update_inbox(db: Db, caller: AdminCaller, account_id: Id, inbox_id: Id, body: InboxUpdate) -> JSON:
    async def go(s: Any) -> JSON:
        inbox = await inboxes.update_inbox(s, account_id=account_id, inbox_id=inbox_id, name=body.name,
                                           csat_survey=body.csat_survey_enabled)
        return await inboxes.describe(s, inbox)

    return await db.write(go)


@router.get("/inboxes/{inbox_id}/agent_bot", responses=doc(InboxBotOut), tags=["inboxes"], summary="The inbox's bot ({} when none)")
async def inbox_agent_bot(db: Db, caller: UserCaller, account_id: Id, inbox_id: Id) -> JSON:
    async with db.read() as s:
        await inboxes.get_inbox(s, account_id=account_id, inbox_id=inbox_id)
        bot = await inboxes.inbox_bot(s, inbox_id=inbox_id)
    return {"agent_bot": render_bot(bot, caller) if bot is not None else {}}


@router.post("/inboxes/{inbox_id}/set_agent_bot", responses=doc(dict), tags=["inboxes"], summary="Connect a bot ({agent_bot: id}) or disconnect ({agent_bot: null})")
async def set_agent_bot(db: Db, caller: AdminCaller, account_id: Id, inbox_id: Id, body: SetAgentBot) -> Response:
    await db.write(lambda s: inboxes.set_inbox_bot(s, account_id=account_id, inbox_id=inbox_id, bot_id=body.agent_bot))
    return Response(status_code=200, content="{}", media_type="application/json")


@router.post("/contacts", responses=doc(ContactCreated), tags=["contacts"], summary="Create a contact (optionally linked to an inbox)")
async def create_contact(db: Db, caller: UserCaller, account_id: Id, body: ContactCreate) -> JSON:
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
            contact_inbox = {"inbox": await inboxes.describe(s, inbox), "source_id": link.source_id}
        elif body.source_id:
            raise Invalid("source_id needs an inbox_id", field="inbox_id")
        return {"payload": {"contact": contact_json(contact), "contact_inbox": contact_inbox or {}}}

    return await db.write(go)


@router.get("/contacts/{contact_id}", responses=doc(ContactCreated), tags=["contacts"], summary="Show a contact")
async def show_contact(db: Db, caller: UserCaller, account_id: Id, contact_id: Id) -> JSON:
    async with db.read() as s:
        contact = await contacts.get_contact(s, account_id=account_id, contact_id=contact_id)
    return {"payload": contact_json(contact)}
