"""The customer side: what a contact does (public API, ``ndoto say``, ``ndoto chat``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core import limits
from ndoto_cli.core.actors import Actor
from ndoto_cli.core.bundle import load_bundle
from ndoto_cli.core.errors import Invalid
from ndoto_cli.core.models import Account, Contact, Inbox, Message, MessageType
from ndoto_cli.core.outbox.events import emit
from ndoto_cli.core.outbox.payloads import conversation_data, webwidget_payload
from ndoto_cli.core.services import contacts as contact_svc
from ndoto_cli.core.services import conversations as convs
from ndoto_cli.core.services.conversations import deliverable, last_message_json
from ndoto_cli.core.services.inboxes import check_identity, inbox_bot
from ndoto_cli.core.services.messages import MessageResult, create_message


def contact_actor(contact: Contact) -> Actor:
    return Actor.of_contact(contact)


async def create_public_contact(
    session: AsyncSession, *, inbox: Inbox, name: str | None = None, email: str | None = None, phone_number: str | None = None,
    identifier: str | None = None, identifier_hash: str | None = None, custom_attributes: dict[str, Any] | None = None,
    source_id: str | None = None,
) -> tuple[Contact, Any]:
    """A contact created by a customer's client (the public API: no token). Naming an
    ``identifier`` needs its ``identifier_hash``: an identifier is who a contact is, and whoever
    could set one freely could register a user's identifier first and read that user's
    conversations once the user signs in (Chatwoot accepts it unverified). A verified identifier
    links to the contact that already has it."""
    identifier = (limits.text(identifier, field="identifier", max_length=limits.IDENTIFIER) or "").strip() or None
    verified = False
    if identifier is not None:
        if not identifier_hash:
            raise Invalid("identifier needs identifier_hash (hex HMAC-SHA256 of the identifier with the inbox's secret)", field="identifier")
        verified = check_identity(inbox, identifier, identifier_hash)
    elif inbox.hmac_mandatory and identifier_hash:
        raise Invalid("identifier_hash without identifier", field="identifier")
    existing = await contact_svc.find_by_identifier(session, account_id=inbox.account_id, identifier=identifier) if identifier else None
    contact = existing or await contact_svc.create_contact(
        session, account_id=inbox.account_id, name=name, email=email, phone_number=phone_number, identifier=identifier,
        custom_attributes=custom_attributes,
    )
    link = await contact_svc.link_contact(session, contact=contact, inbox=inbox, source_id=source_id, fresh=existing is not None)
    if verified:
        link.hmac_verified = True
    return contact, link


async def say(
    session: AsyncSession,
    *,
    inbox: Inbox,
    contact_name: str,
    content: str,
    new_conversation: bool = False,
) -> MessageResult:
    """Post an incoming message as a contact, creating the contact and conversation when needed."""
    contact_name = (limits.text(contact_name, field="contact", max_length=limits.NAME) or "").strip()
    if not contact_name:
        raise Invalid("the contact's name must not be empty: who is writing?", field="contact")
    contact = await contact_svc.find_contact_by_name(session, account_id=inbox.account_id, name=contact_name)
    if contact is None:
        contact = await contact_svc.create_contact(session, account_id=inbox.account_id, name=contact_name)
    actor = contact_actor(contact)
    conv = None if new_conversation else await convs.find_open_conversation(session, inbox_id=inbox.id, contact_id=contact.id)  # type: ignore[arg-type]
    if conv is None:
        bundle = await convs.create_conversation(
            session, account_id=inbox.account_id, inbox_id=inbox.id, contact_id=contact.id, actor=actor  # type: ignore[arg-type]
        )
    else:
        bundle = await load_bundle(session, conv)
    return await create_message(
        session, account_id=inbox.account_id, display_id=bundle.conversation.display_id, actor=actor,
        content=content, message_type="incoming", bundle=bundle,
    )


async def trigger_widget(
    session: AsyncSession, *, inbox: Inbox, source_id: str, event_info: dict[str, Any] | None = None
) -> int:
    """``webwidget_triggered``: a widget session started; goes to the inbox's bot only."""
    if event_info is not None:
        limits.json_object(limits.of(session), event_info, field="event_info")
    link = await contact_svc.get_contact_inbox(session, inbox_id=inbox.id, source_id=source_id)  # type: ignore[arg-type]
    contact = await session.get(Contact, link.contact_id)
    account = await session.get(Account, inbox.account_id)
    assert contact is not None and account is not None
    conv = await convs.find_open_conversation(session, inbox_id=inbox.id, contact_id=contact.id)  # type: ignore[arg-type]
    current = None
    if conv is not None:
        bundle = await load_bundle(session, conv)
        current = conversation_data(bundle, last_message=await last_message_json(session, bundle))
    bot = await inbox_bot(session, inbox_id=inbox.id)  # type: ignore[arg-type]
    payload = webwidget_payload(
        bundle_contact=contact,
        contact_inbox_id=link.id,  # type: ignore[arg-type]
        source_id=link.source_id,
        inbox={"id": inbox.id, "name": inbox.name},
        account={"id": account.id, "name": account.name},
        current_conversation=current,
        event_info=event_info or {},
    )
    payload["performed_by"] = contact_actor(contact).performed_by()
    recipients = await deliverable(session, [bot.id]) if bot is not None else []  # type: ignore[list-item]
    return await emit(
        session, name="webwidget_triggered", account_id=inbox.account_id,
        conversation_id=conv.id if conv is not None else None, payload=payload, recipients=recipients,
    )


async def contact_thread(session: AsyncSession, *, conversation_id: int, limit: int = 100) -> list[Any]:
    """A conversation as its contact sees it: the latest ``limit`` visible messages, oldest first."""
    from sqlalchemy import select

    rows = (
        await session.execute(
            select(Message).where(
                Message.conversation_id == conversation_id, Message.private.is_(False),  # type: ignore[attr-defined]
                Message.message_type != MessageType.activity,
            ).order_by(Message.id.desc()).limit(limit)  # type: ignore[union-attr]
        )
    ).scalars().all()
    return list(reversed(rows))


async def latest_conversation_of(session: AsyncSession, *, inbox_id: int, contact_name: str) -> Any | None:
    """The newest conversation of the contact of that name in the inbox (``ndoto chat``)."""
    contact = await contact_svc.find_contact_by_name(session, account_id=(await session.get(Inbox, inbox_id)).account_id, name=contact_name)  # type: ignore[union-attr]
    if contact is None:
        return None
    return await convs.find_open_conversation(session, inbox_id=inbox_id, contact_id=contact.id)  # type: ignore[arg-type]
