"""Contacts (customers) and their link to an inbox (``source_id``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core import limits
from ndoto_cli.core.credentials import new_identifier
from ndoto_cli.core.errors import Conflict, Invalid, NotFound
from ndoto_cli.core.models import Contact, ContactInbox, Inbox


async def create_contact(
    session: AsyncSession,
    *,
    account_id: int,
    name: str | None = None,
    email: str | None = None,
    phone_number: str | None = None,
    identifier: str | None = None,
    custom_attributes: dict[str, Any] | None = None,
    additional_attributes: dict[str, Any] | None = None,
) -> Contact:
    bounds = limits.of(session)
    name = limits.text(name, field="name", max_length=limits.NAME)
    email = limits.text(email, field="email", max_length=limits.EMAIL)
    phone_number = limits.text(phone_number, field="phone_number", max_length=limits.IDENTIFIER)
    identifier = limits.text(identifier, field="identifier", max_length=limits.IDENTIFIER)
    for field, value in (("custom_attributes", custom_attributes), ("additional_attributes", additional_attributes)):
        if value is not None:
            limits.json_object(bounds, value, field=field)
    contact = Contact(
        account_id=account_id,
        name=(name or "").strip() or (email or phone_number or identifier or "Anonymous"),
        email=email,
        phone_number=phone_number,
        identifier=identifier,
        custom_attributes=custom_attributes or {},
        additional_attributes=additional_attributes or {},
    )
    session.add(contact)
    await session.flush()
    return contact


async def get_contact(session: AsyncSession, *, account_id: int, contact_id: int) -> Contact:
    contact = await session.get(Contact, limits.row_id(contact_id, what="contact"))
    if contact is None or contact.account_id != account_id:
        raise NotFound(f"contact {contact_id} not found in account {account_id}")
    return contact


PAGE_SIZE = 25
UNCHANGED: Any = object()  # update_contact: a field not given stays as it is (None clears it)


async def list_contacts(
    session: AsyncSession, *, account_id: int, search: str | None = None, page: int = 1, page_size: int = PAGE_SIZE,
) -> tuple[list[Contact], int]:
    """One page of the account's contacts, newest first, and how many match in all. ``search``
    finds text anywhere in a name, email, phone number or identifier (its % and _ literal)."""
    from ndoto_cli.core.queries import like_pattern

    page = limits.integer(page, field="page", minimum=1, maximum=limits.MAX_ID // page_size)
    query = select(Contact).where(Contact.account_id == account_id)
    search = limits.text(search, field="search", max_length=limits.NAME)
    if search:
        pattern = like_pattern(search)
        query = query.where(or_(*(column.ilike(pattern, escape="\\") for column in (  # type: ignore[attr-defined]
            Contact.name, Contact.email, Contact.phone_number, Contact.identifier))))
    total = int((await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one())
    rows = (await session.execute(
        query.order_by(Contact.id.desc()).limit(page_size).offset((page - 1) * page_size)  # type: ignore[union-attr]
    )).scalars().all()
    return list(rows), total


async def update_contact(
    session: AsyncSession, *, account_id: int, contact_id: int, name: Any = UNCHANGED, email: Any = UNCHANGED,
    phone_number: Any = UNCHANGED, identifier: Any = UNCHANGED, custom_attributes: Any = UNCHANGED,
    additional_attributes: Any = UNCHANGED,
) -> Contact:
    """Change what is given, with the limits of :func:`create_contact`; attributes are merged
    (a key set to None is removed), as Chatwoot merges them. A name cannot be emptied."""
    contact = await get_contact(session, account_id=account_id, contact_id=contact_id)
    bounds = limits.of(session)
    if name is not UNCHANGED:
        name = (limits.text(name, field="name", max_length=limits.NAME) or "").strip()
        if not name:
            raise Invalid("a contact's name cannot be empty", field="name")
        contact.name = name
    for field, value, size in (("email", email, limits.EMAIL), ("phone_number", phone_number, limits.IDENTIFIER),
                               ("identifier", identifier, limits.IDENTIFIER)):
        if value is not UNCHANGED:
            setattr(contact, field, (limits.text(value, field=field, max_length=size) or "").strip() or None)
    for field, value in (("custom_attributes", custom_attributes), ("additional_attributes", additional_attributes)):
        if value is UNCHANGED:
            continue
        merged = {**getattr(contact, field), **limits.json_object(bounds, value, field=field)}
        setattr(contact, field, limits.json_object(bounds, {k: v for k, v in merged.items() if v is not None}, field=field))
    await session.flush()
    return contact


async def find_contact(session: AsyncSession, *, account_id: int, ref: str) -> Contact:
    """A contact by id, or by exact email, identifier or name (refused when the name is shared)."""
    ref = (ref or "").strip()
    if ref.isdigit():
        return await get_contact(session, account_id=account_id, contact_id=int(ref))
    for column in (Contact.email, Contact.identifier, Contact.name):
        found = (await session.execute(
            select(Contact).where(Contact.account_id == account_id, column == ref).order_by(Contact.id).limit(6)
        )).scalars().all()
        if len(found) == 1:
            return found[0]
        if found:
            ids = ", ".join(str(c.id) for c in found[:5]) + (", ..." if len(found) > 5 else "")
            raise Conflict(f"contact {ref!r} is ambiguous: ids {ids}; use an id")
    raise NotFound(f"no contact {ref!r} in account {account_id}")


async def find_contact_by_name(session: AsyncSession, *, account_id: int, name: str) -> Contact | None:
    return (
        await session.execute(
            select(Contact).where(Contact.account_id == account_id, Contact.name == name).order_by(Contact.id).limit(1)
        )
    ).scalar_one_or_none()


async def find_by_identifier(session: AsyncSession, *, account_id: int, identifier: str) -> Contact | None:
    """The account's contact with this identifier (the oldest, should there be several)."""
    return (
        await session.execute(
            select(Contact).where(Contact.account_id == account_id, Contact.identifier == identifier).order_by(Contact.id).limit(1)
        )
    ).scalar_one_or_none()


async def link_contact(
    session: AsyncSession, *, contact: Contact, inbox: Inbox, source_id: str | None = None, fresh: bool = False
) -> ContactInbox:
    """The contact's link to an inbox; reused when it exists, created with a random source_id if not
    (``fresh``: always a new one, for a client that must not get another client's source_id)."""
    if contact.account_id != inbox.account_id:
        raise Invalid("contact and inbox belong to different accounts", field="inbox_id")
    source_id = limits.text(source_id, field="source_id", max_length=limits.IDENTIFIER)
    if source_id:
        existing = (
            await session.execute(
                select(ContactInbox).where(ContactInbox.inbox_id == inbox.id, ContactInbox.source_id == source_id)
            )
        ).scalar_one_or_none()
        if existing is not None:
            if existing.contact_id != contact.id:
                raise Conflict(f"source_id {source_id!r} already belongs to another contact", field="source_id")
            return existing
    elif not fresh:
        existing = (
            await session.execute(
                select(ContactInbox)
                .where(ContactInbox.inbox_id == inbox.id, ContactInbox.contact_id == contact.id)
                .order_by(ContactInbox.id)
                .limit(1)
            )
        ).scalar_one_or_none()
        if existing is not None:
            return existing
    link = ContactInbox(contact_id=contact.id, inbox_id=inbox.id, source_id=source_id or new_identifier())  # type: ignore[arg-type]
    session.add(link)
    await session.flush()
    return link


async def get_contact_inbox(session: AsyncSession, *, inbox_id: int, source_id: str) -> ContactInbox:
    if not isinstance(source_id, str) or len(source_id) > limits.IDENTIFIER or "\x00" in source_id:
        raise NotFound("contact not found in this inbox")
    link = (
        await session.execute(
            select(ContactInbox).where(ContactInbox.inbox_id == inbox_id, ContactInbox.source_id == source_id)
        )
    ).scalar_one_or_none()
    if link is None:
        raise NotFound(f"contact {source_id!r} not found in this inbox")
    return link


async def contact_conversations(session: AsyncSession, *, contact: Contact, limit: int = 50) -> list[dict[str, Any]]:
    """The contact's conversations, newest activity first: what an operator looks at next."""
    from ndoto_cli.core.models import Conversation

    rows = (await session.execute(
        select(Conversation.display_id, Conversation.status, Inbox.name, Conversation.last_activity_at)
        .join(Inbox, Inbox.id == Conversation.inbox_id)
        .where(Conversation.contact_id == contact.id)
        .order_by(Conversation.last_activity_at.desc()).limit(limit)  # type: ignore[attr-defined]
    )).all()
    return [{"id": d, "status": str(st), "inbox": name, "last_activity_at": int(last)} for d, st, name, last in rows]
