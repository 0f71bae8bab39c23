"""The website chat widget's rules: who a visitor is, what a visitor may read and write, identity
verification, and the visitor's typing (the widget's settings are the inbox's: ``inboxes``).

A visitor is one contact in one web-widget inbox. It holds a token signed with the inbox's
``widget_key`` (never shown, never the inbox's HMAC secret) that names its contact link; the
token opens that contact's conversations of that inbox and nothing else. Identity verification
is Chatwoot's ``identifier_hash``: the site computes HMAC-SHA256 of the user's identifier with the
inbox's ``hmac_token`` on its server; a verified visitor is the contact with that identifier, on
any device. What a visitor reads is ``customers.contact_thread``: never a private note or an
activity line.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core import limits
from ndoto_cli.core.actors import Actor
from ndoto_cli.core.bundle import load_bundle
from ndoto_cli.core.errors import Invalid, NotFound, Unauthorized
from ndoto_cli.core.models import Channel, Contact, ContactInbox, Conversation, Inbox, Message
from ndoto_cli.core.services import contacts as contact_svc
from ndoto_cli.core.services import conversations as convs
from ndoto_cli.core.services import customers, messages
from ndoto_cli.core.services.inboxes import check_identity, get_inbox_by_identifier, settings_of

VISITOR_NAME = "Visitor"  # a visitor's contact until the pre-chat form or setUser names it


def snippet(base_url: str, website_token: str) -> str:
    """The one script tag a site owner puts on its pages (``ndoto inboxes embed`` prints it)."""
    from html import escape

    base = base_url.rstrip("/")
    return (
        f'<script async src="{escape(base)}/widget/ndoto.js" data-website-token="{escape(website_token)}" '
        f'data-base-url="{escape(base)}"></script>'
    )


def origin_allowed(inbox: Inbox, origin: str | None, *, own_origin: str | None) -> bool:
    """May a page of ``origin`` use this inbox's widget? Any origin when the inbox lists none; the
    server's own pages (the demo) always; a request with no Origin is not a browser's: allowed."""
    if not origin:
        return True
    origin = origin.lower()
    allowed = settings_of(inbox)["allowed_origins"]
    return not allowed or origin in allowed or (own_origin is not None and origin == own_origin.lower())


# -- Visitors -----------------------------------------------------------------------------------

@dataclass
class Visitor:
    inbox: Inbox
    link: ContactInbox
    contact: Contact

    @property
    def actor(self) -> Actor:
        return Actor.of_contact(self.contact)

    @property
    def token(self) -> str:
        return sign(self.inbox, self.link)


TOKEN = re.compile(r"v1\.([0-9]{1,18})\.([0-9]{1,18})\.([A-Za-z0-9_-]{43})")


def sign(inbox: Inbox, link: ContactInbox) -> str:
    """``v1.<inbox>.<link>.<signature>``; the signature also covers the link's contact and
    source id, so a token can never open a link that was deleted and its id used again."""
    body = f"{inbox.id}.{link.id}"
    signed = f"{body}.{link.contact_id}.{link.source_id}"
    digest = hmac.new((inbox.widget_key or "").encode(), signed.encode(), hashlib.sha256).digest()
    return f"v1.{body}.{base64.urlsafe_b64encode(digest).decode().rstrip('=')}"


async def widget_inbox(session: AsyncSession, *, website_token: str) -> Inbox:
    inbox = await get_inbox_by_identifier(session, identifier=website_token)
    if inbox.channel_type != Channel.web_widget or not inbox.widget_key:
        raise NotFound("no web widget for this website token")
    return inbox


async def visitor(session: AsyncSession, *, website_token: str, token: str | None) -> Visitor:
    """The visitor a token names, in the inbox of that website token (401 for any other token)."""
    inbox = await widget_inbox(session, website_token=website_token)
    match = TOKEN.fullmatch(token or "")
    if match is None or int(match[1]) != inbox.id or int(match[2]) > limits.MAX_ID:
        raise Unauthorized("this visitor token is not valid for this website")
    link = await session.get(ContactInbox, int(match[2]))
    if link is None or link.inbox_id != inbox.id or not hmac.compare_digest(sign(inbox, link), token or ""):
        raise Unauthorized("this visitor token is not valid for this website")
    contact = await session.get(Contact, link.contact_id)
    assert contact is not None
    return Visitor(inbox, link, contact)


async def start(session: AsyncSession, *, inbox: Inbox) -> Visitor:
    """A new visitor: an anonymous contact linked to this inbox."""
    contact = await contact_svc.create_contact(session, account_id=inbox.account_id, name=VISITOR_NAME)
    link = await contact_svc.link_contact(session, contact=contact, inbox=inbox)
    return Visitor(inbox, link, contact)


async def set_user(
    session: AsyncSession, *, inbox: Inbox, who: Visitor | None, identifier: str, name: str | None = None,
    email: str | None = None, identifier_hash: str | None = None,
) -> Visitor:
    """``setUser``: who the site says its user is (``who``: the visitor so far, if any).

    Verified (a right ``identifier_hash``), the visitor becomes the contact with that identifier,
    with its conversations, on any device (the visitor's anonymous contact becomes it when no
    contact has the identifier yet, as in Chatwoot). Unverified, the identifier is only a claim: it
    never becomes a contact's identifier (otherwise whoever claims "alice" first would later read
    the real Alice's conversations), so only name and email are taken; where the inbox requires
    identity it is refused (401). A visitor already known as someone else starts a new contact."""
    identifier = (limits.text(identifier, field="identifier", max_length=limits.IDENTIFIER) or "").strip()
    if not identifier:
        raise Invalid("identifier must not be empty", field="identifier")
    verified = check_identity(inbox, identifier, identifier_hash)
    if inbox.hmac_mandatory and not verified:
        raise Unauthorized("this website requires identity verification: setUser needs an identifier_hash")
    if verified:
        owner = await contact_svc.find_by_identifier(session, account_id=inbox.account_id, identifier=identifier)
        if owner is None and who is not None and who.contact.identifier in (None, identifier):
            owner = who.contact
        if owner is None:
            owner = await contact_svc.create_contact(session, account_id=inbox.account_id, name=VISITOR_NAME)
        link = who.link if who is not None and who.contact.id == owner.id else await contact_svc.link_contact(session, contact=owner, inbox=inbox)
        contact = owner
        contact.identifier = identifier
        link.hmac_verified = True
    else:
        contact, link = (who.contact, who.link) if who is not None else (None, None)
        claimed = (contact.additional_attributes or {}).get("claimed_identifier") if contact is not None else None
        known_as_other = contact is not None and (link.hmac_verified or contact.identifier) and contact.identifier != identifier  # type: ignore[union-attr]
        if contact is None or known_as_other or claimed not in (None, identifier):
            contact = await contact_svc.create_contact(session, account_id=inbox.account_id, name=VISITOR_NAME)
            link = await contact_svc.link_contact(session, contact=contact, inbox=inbox)
        contact.additional_attributes = {**(contact.additional_attributes or {}), "claimed_identifier": identifier}
    await update_contact(session, who=Visitor(inbox, link, contact), name=name, email=email)  # type: ignore[arg-type]
    return Visitor(inbox, link, contact)  # type: ignore[arg-type]


async def update_contact(session: AsyncSession, *, who: Visitor, name: str | None = None, email: str | None = None) -> Contact:
    """The pre-chat form (and ``setUser``): the visitor's name and email."""
    contact = who.contact
    name = limits.text(name, field="name", max_length=limits.NAME)
    email = limits.text(email, field="email", max_length=limits.EMAIL)
    if name is not None and name.strip():
        contact.name = name.strip()
    if email is not None and email.strip():
        from ndoto_cli.core.services.accounts import EMAIL_RE

        if not EMAIL_RE.match(email.strip()):
            raise Invalid(f"{email[:80]!r} is not an email address", field="email")
        contact.email = email.strip().lower()
    await session.flush()
    return contact


async def current_conversation(session: AsyncSession, *, who: Visitor) -> Conversation | None:
    return (
        await session.execute(
            select(Conversation).where(Conversation.contact_inbox_id == who.link.id).order_by(Conversation.id.desc()).limit(1)
        )
    ).scalar_one_or_none()


async def says(
    session: AsyncSession, *, who: Visitor, content: str, browser: dict[str, Any] | None = None
) -> messages.MessageResult:
    """A visitor's message: in its latest conversation (a resolved one reopens by the ownership
    rules), or a new one that carries the browser facts in its ``additional_attributes``."""
    conv = await current_conversation(session, who=who)
    if conv is None:
        bundle = await convs.create_conversation(
            session, account_id=who.inbox.account_id, inbox_id=who.inbox.id, contact_id=who.contact.id, actor=who.actor,  # type: ignore[arg-type]
            source_id=who.link.source_id, additional_attributes=browser or {},
        )
    else:
        bundle = await load_bundle(session, conv)
    return await messages.create_message(
        session, account_id=who.inbox.account_id, display_id=bundle.conversation.display_id, actor=who.actor, content=content,
        message_type="incoming", bundle=bundle,
    )


async def answers(session: AsyncSession, *, who: Visitor, message_id: int, submitted_values: Any) -> messages.MessageResult:
    """A visitor answers a message of one of its conversations: the rating asked at resolution,
    or a choice. Another visitor's message is not found."""
    message = await session.get(Message, limits.row_id(message_id, what="message"))
    conv = await session.get(Conversation, message.conversation_id) if message is not None else None
    if conv is None or conv.contact_inbox_id != who.link.id:
        raise NotFound(f"message {message_id} not found")
    bundle = await load_bundle(session, conv)
    return await messages.submit_values(session, bundle=bundle, message_id=message_id, submitted_values=submitted_values, actor=who.actor)


async def thread(session: AsyncSession, *, who: Visitor) -> tuple[Conversation | None, list[Any]]:
    conv = await current_conversation(session, who=who)
    if conv is None:
        return None, []
    return conv, await customers.contact_thread(session, conversation_id=conv.id, limit=100)  # type: ignore[arg-type]


async def typing(session: AsyncSession, *, who: Visitor, on: bool) -> bool:
    """The visitor types: an event for the live views (the console shows it); never a delivery.
    False when there is no conversation yet to type in."""
    conv = await current_conversation(session, who=who)
    if conv is None:
        return False
    await convs.emit_typing(session, conversation=conv, actor=who.actor, on=on)
    return True
