"""Lean statements for the hot path (message create, event + delivery append).

Why: through SQLAlchemy's async layer each statement costs ~0.2-0.5 ms of Python here, against
a few microseconds for the same statement on the sqlite3 connection itself, and a message write
is several statements (DESIGN.md's performance table). On SQLite these functions run the SQL on
the session's own driver connection, inside the session's transaction (so atomicity with the
ORM writes around them is unchanged); on other databases the same SQL goes through
``session.execute(text(...))``. The SQLModel models remain the schema and the read side.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import JSON, Boolean, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import class_mapper

from ndoto_cli.core.bundle import Bundle
from ndoto_cli.core.db.sqlite_inline import InlineConnection
from ndoto_cli.core.limits import loads_stored
from ndoto_cli.core.models import (
    Account,
    AgentBot,
    AgentBotInbox,
    Contact,
    ContactInbox,
    Conversation,
    Inbox,
    StrEnumColumn,
    User,
)

_RAW_KEY = "ndoto_raw_sqlite"


async def raw_sqlite(session: AsyncSession) -> Any | None:
    """The sqlite3 connection under this session's transaction, or None on other databases."""
    transaction = session.sync_session.get_transaction()
    cached = session.info.get(_RAW_KEY)
    if cached is not None and transaction is not None and cached[0] is transaction:
        return cached[1]  # same transaction, same connection: skip the session machinery
    conn = await session.connection()
    raw = None
    if conn.dialect.name == "sqlite":
        driver = (await conn.get_raw_connection()).driver_connection
        if isinstance(driver, InlineConnection):
            raw = driver._conn
    session.info[_RAW_KEY] = (session.sync_session.get_transaction(), raw)
    return raw


async def insert_returning_id(session: AsyncSession, sql: str, params: dict[str, Any]) -> int:
    """Run an ``INSERT ... RETURNING id`` and return the id."""
    raw = await raw_sqlite(session)
    if raw is not None:
        return int(raw.execute(sql, params).fetchone()[0])
    return int((await session.execute(text(sql), params)).scalar_one())


async def execute(session: AsyncSession, sql: str, params: dict[str, Any] | list[dict[str, Any]]) -> int:
    """Run a statement (for each parameter set of a list); returns the rows it changed."""
    raw = await raw_sqlite(session)
    if raw is not None:
        cursor = raw.executemany(sql, params) if isinstance(params, list) else raw.execute(sql, params)
        return int(cursor.rowcount)
    result = await session.execute(text(sql), params)
    return int(getattr(result, "rowcount", 0) or 0)


@functools.cache
def _columns(model: type) -> tuple[tuple[str, Any], ...]:
    """(name, kind) per column; kind says how SQLite's raw value maps back: "json", "bool", an
    enum class (the member), or "" (as it is)."""
    out = []
    for column in model.__table__.columns:  # type: ignore[attr-defined]
        kind: Any = "json" if isinstance(column.type, JSON) else "bool" if isinstance(column.type, Boolean) else ""
        if isinstance(column.type, StrEnumColumn):
            kind = column.type.enum
        out.append((column.name, kind))
    return tuple(out)


def build(model: type, values: dict[str, Any]) -> Any:
    """A transient model instance from raw values, without the cost of SQLModel's ``__init__``
    (~100 us each here, against ~6 us for this). Used for rows read on the hot path only."""
    obj = class_mapper(model).class_manager.new_instance()
    obj.__dict__.update(values)
    return obj


def _decode(model: type, row: tuple[Any, ...], offset: int) -> dict[str, Any] | None:
    cols = _columns(model)
    if row[offset] is None:  # outer join found nothing (id column is first)
        return None
    values: dict[str, Any] = {}
    for i, (name, kind) in enumerate(cols):
        value = row[offset + i]
        if kind == "json" and isinstance(value, str):
            value = loads_stored(value)
        elif kind == "bool" and value is not None:
            value = bool(value)
        elif kind and value is not None and not isinstance(kind, str):
            value = kind(value)
        values[name] = value
    return values


async def fetch_one(session: AsyncSession, model: type, where: str, params: dict[str, Any]) -> Any | None:
    """One row of ``model`` as a transient instance, by a raw WHERE clause (SQLite only; callers
    fall back to the ORM when ``raw_sqlite`` is None)."""
    raw = await raw_sqlite(session)
    assert raw is not None
    return fetch_one_raw(raw, model, where, params)


@functools.cache
def _select_sql(model: type, where: str) -> str:
    return f"SELECT {', '.join(name for name, _ in _columns(model))} FROM {model.__tablename__} WHERE {where}"  # type: ignore[attr-defined]


def fetch_one_raw(raw: Any, model: type, where: str, params: dict[str, Any]) -> Any | None:
    row = raw.execute(_select_sql(model, where), params).fetchone()
    if row is None:
        return None
    values = _decode(model, row, 0)
    return build(model, values) if values is not None else None


_BUNDLE_MODELS: tuple[tuple[type, str], ...] = (
    (Conversation, "c"),
    (Inbox, "i"),
    (Contact, "ct"),
    (ContactInbox, "ci"),
    (Account, "a"),
    (AgentBotInbox, "l"),
    (User, "u"),
    (AgentBot, "cb"),
    (AgentBot, "ib"),
)


@functools.cache
def _bundle_sql() -> str:
    select_list = ", ".join(
        f"{alias}.{name}" for model, alias in _BUNDLE_MODELS for name, _kind in _columns(model)
    )
    return (
        f"SELECT {select_list} FROM conversations c "
        "JOIN inboxes i ON i.id = c.inbox_id "
        "JOIN contacts ct ON ct.id = c.contact_id "
        "JOIN contact_inboxes ci ON ci.id = c.contact_inbox_id "
        "JOIN accounts a ON a.id = c.account_id "
        "LEFT JOIN agent_bot_inboxes l ON l.inbox_id = c.inbox_id "
        "LEFT JOIN users u ON u.id = c.assignee_id "
        "LEFT JOIN agent_bots cb ON cb.id = c.assignee_agent_bot_id "
        "LEFT JOIN agent_bots ib ON ib.id = l.agent_bot_id "
        "WHERE c.account_id = :account_id AND c.display_id = :display_id"
    )


async def fetch_bundle(session: AsyncSession, *, account_id: int, display_id: int) -> Bundle | None:
    """A read-only Bundle in one raw statement (SQLite), or None where that is not available.

    The objects are transient: callers that change the conversation through the ORM load it
    with ``conversations.load`` instead.
    """
    raw = await raw_sqlite(session)
    if raw is None:
        return None
    row = raw.execute(_bundle_sql(), {"account_id": account_id, "display_id": display_id}).fetchone()
    if row is None:
        return None
    objects = []
    offset = 0
    for model, _alias in _BUNDLE_MODELS:
        values = _decode(model, row, offset)
        objects.append(build(model, values) if values is not None else None)
        offset += len(_columns(model))
    conv, inbox, contact, contact_inbox, account, link, assignee, conv_bot, inbox_bot = objects
    return Bundle(conv, inbox, contact, contact_inbox, account, link, assignee, conv_bot, inbox_bot=inbox_bot, attached=False)
