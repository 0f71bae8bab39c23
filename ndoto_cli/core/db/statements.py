"""Lean statements for the hot path: one hand-written SQL text per statement, run on the
database's own driver connection inside the session's transaction.

Why: through SQLAlchemy's async layer each statement costs ~0.2-0.5 ms of Python here (compile,
cache key, result processing), against a few microseconds for the same statement on the driver
itself, and a message write is several statements (DESIGN.md's performance table). The SQLModel
models remain the schema and the read side; the ORM stays for admin CRUD.

:func:`raw` gives one object per transaction with the same calls on both databases:
:class:`SQLite` (the sqlite3 connection under SQLAlchemy's inline adapter) and
:class:`PostgreSQL` (the asyncpg connection, ``:name`` parameters turned into ``$n``): ``one``,
``all`` and ``run`` for SQL that is the same on both, and the statements whose SQL differs
(``insert_message``, ``append_event``, ``full_text``; locking clauses and index hints as
attributes). So each dialect's SQL is written once, here, side by side; both run in the suite
(``make test-sqlite``, ``make test-postgresql``). Measured on PostgreSQL: the ORM path reached
158 messages/s in the core benchmark, this one 600-940.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from sqlalchemy import JSON, Boolean
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import class_mapper

from ndoto_cli.core.bundle import HELD, Bundle
from ndoto_cli.core.db.database import CHANNEL, WRITING
from ndoto_cli.core.db.sqlite_inline import InlineConnection
from ndoto_cli.core.errors import NdotoError
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

_RAW_KEY = "ndoto_raw"

Params = dict[str, Any]


_MESSAGE_COLUMNS = (
    "account_id, inbox_id, conversation_id, message_type, content, content_type, content_attributes, "
    "additional_attributes, private, status, sender_type, sender_id, source_id, created_at, updated_at"
)
INSERT_MESSAGE = (
    f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES ("
    + ", ".join(f":{c.strip()}" for c in _MESSAGE_COLUMNS.split(",")) + ") RETURNING id"
)
# The conversation's activity time and flood window. SET expressions all read the row's old
# values (SQLite and PostgreSQL alike).
TOUCH_CONVERSATION = (
    "UPDATE conversations SET last_activity_at = :now, updated_at = :now, "
    "window_messages = CASE WHEN window_started_at > :window THEN window_messages + 1 ELSE 1 END, "
    "window_started_at = CASE WHEN window_started_at > :window THEN window_started_at ELSE :now END WHERE id = :conversation_id"
)
INSERT_EVENT = (
    "INSERT INTO events (account_id, conversation_id, name, payload, created_at) "
    "VALUES (:account_id, :conversation_id, :name, :payload, :created_at) RETURNING id"
)
_DELIVERY_COLUMNS = (
    "event_id, agent_bot_id, account_id, conversation_id, webhook_id, status, attempts, next_attempt_at, handed_off, "
    "created_at, updated_at"
)
INSERT_DELIVERY = (
    f"INSERT INTO deliveries ({_DELIVERY_COLUMNS}) VALUES (:event_id, :agent_bot_id, :account_id, :conversation_id, "
    ":webhook_id, 'pending', 0, :created_at, false, :created_at, :created_at)"
)


# The best ``limit`` passages of the bot by BM25 (the bot column weighs nothing, the title twice
# the text), ranked inside FTS5; only those rows are joined to their passages and documents.
FTS5_SEARCH = (
    "SELECT p.id, p.title, p.content, f.score, d.source FROM ("
    "SELECT rowid, bm25(kb_fts, 0.0, 2.0, 1.0) AS score FROM kb_fts WHERE kb_fts MATCH :query ORDER BY score LIMIT :limit"
    ") f JOIN kb_passages p ON p.id = f.rowid JOIN kb_documents d ON d.id = p.document_id ORDER BY f.score"
)


def fts5_bot(bot_id: int) -> str:
    """The term that stands for a bot in kb_fts's ``bot`` column (migration 0012)."""
    return f"bot{int(bot_id)}"


def fts5_query(words: list[str], bot_id: int | None = None) -> str | None:
    """An FTS5 query: the words, quoted and OR-ed in the title and text (BM25 ranks passages
    sharing more), and the bot's term ANDed when given."""
    if not words:
        return None
    text = "{title content}: (" + " OR ".join(f'"{w}"' for w in words) + ")"
    return text if bot_id is None else f'bot: "{fts5_bot(bot_id)}" AND {text}'


class SQLite:
    """The sqlite3 connection of this transaction: statements run inline, in microseconds."""

    dialect = "sqlite"
    # Postings a knowledge-base search's full-text query may read (core.ai.search): FTS5 reads
    # its lists of row ids and nothing else.
    postings_budget = 10_000
    # Claims walk open deliveries in id order and stop at the first heads (without the hint,
    # SQLite sorts every due row on each claim: the whole backlog, many times a second).
    claim_hint = "INDEXED BY ix_deliveries_open_id"
    claim_lock = ""  # one writer at a time holds the file: nothing to lock
    conversation_lock = ""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def one(self, sql: str, params: Params) -> Any | None:
        return self.conn.execute(sql, params).fetchone()

    async def all(self, sql: str, params: Params) -> list[Any]:
        return self.conn.execute(sql, params).fetchall()

    async def run(self, sql: str, params: Params | list[Params]) -> int:
        """Rows changed; -1 when not known (a list of parameter sets on PostgreSQL)."""
        cursor = self.conn.executemany(sql, params) if isinstance(params, list) else self.conn.execute(sql, params)
        return int(cursor.rowcount)

    async def heads(self, head_sql: str, queues: list[tuple[int, int]]) -> list[Any]:
        """The head row (or None) of each (bot, conversation) queue, in the order given: one
        indexed lookup each (microseconds here)."""
        sql = head_sql.format(bot=":bot", conversation=":conversation")
        return [self.conn.execute(sql, {"bot": b, "conversation": c}).fetchone() for b, c in queues]

    async def insert_message(self, values: Params, *, window: float) -> int:
        """The message row and its conversation's activity and flood window; the message id."""
        message_id = int(self.conn.execute(INSERT_MESSAGE, values).fetchone()[0])
        self.conn.execute(TOUCH_CONVERSATION, {"now": values["created_at"], "window": window, "conversation_id": values["conversation_id"]})
        return message_id

    async def append_event(self, event: Params, bots: list[int], webhook_ids: list[str]) -> int:
        """The event row and a pending delivery per bot; the event id."""
        event_id = int(self.conn.execute(INSERT_EVENT, event).fetchone()[0])
        if bots:
            base = {"event_id": event_id, "account_id": event["account_id"], "conversation_id": event["conversation_id"],
                    "created_at": event["created_at"]}
            self.conn.executemany(INSERT_DELIVERY, [{**base, "agent_bot_id": b, "webhook_id": w} for b, w in zip(bots, webhook_ids, strict=True)])
        return event_id

    async def full_text(self, words: list[str], *, bot_id: int, limit: int) -> list[Any]:
        """(passage id, title, content, score: higher is better, source) by FTS5's BM25, the title
        weighted twice the text."""
        rows = await self.all(FTS5_SEARCH, {"query": fts5_query(words, bot_id), "limit": limit})
        return [(r[0], r[1], r[2], -float(r[3]), r[4]) for r in rows]

    async def passages_with(self, words: list[str], *, cap: int) -> list[int]:
        """How many passages (of every bot) hold each word, counted up to ``cap``: what searching
        for it costs. One statement; a common word costs no more than ``cap`` rows."""
        counts = ", ".join(f"(SELECT count(*) FROM (SELECT 1 FROM kb_fts WHERE kb_fts MATCH :q{i} LIMIT :cap))" for i in range(len(words)))
        row = await self.one(f"SELECT {counts}", {**{f"q{i}": fts5_query([w]) for i, w in enumerate(words)}, "cap": cap})
        return [int(n) for n in row]


_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@functools.cache
def positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """``:name`` parameters as asyncpg's ``$1, $2``: the SQL text and the names in order (a name
    used twice is one parameter). ``::type`` casts are left alone."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _NAMED.sub(number, sql), tuple(names)


def _count(status: str) -> int:
    """Rows changed, from asyncpg's command tag ("UPDATE 3", "INSERT 0 1")."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PostgreSQL:
    """The asyncpg connection of this transaction (SQLAlchemy's JSON codecs are set on it)."""
    # As SQLite's, for a cost alike: PostgreSQL fetches and rechecks each matching row in the
    # heap, so a posting costs it about three times as much (at 100,000 passages: p95 72 ms at
    # 10,000 postings, 23 ms at 3,000).
    postings_budget = 3_000

    dialect = "postgresql"
    claim_hint = ""
    # Several processes: a claim locks the rows it reads and passes over rows another process is
    # claiming right now; a row another claim has just leased is read again under the lock and no
    # longer due. So no delivery is claimed twice, and a queue's next delivery waits (NOT EXISTS)
    # while its head is out.
    claim_lock = " FOR UPDATE OF d SKIP LOCKED"
    # A queue's head is waited for, never skipped: skipping it would lease the delivery behind it.
    head_lock = " FOR UPDATE OF d"
    # A write holds its conversation from the first read to the commit, so a conversation's
    # messages, events and deliveries take their ids in the order they commit (concurrent
    # writers, several processes): the dispatcher's per-conversation order rests on it.
    # NO KEY UPDATE: other transactions may still insert rows that refer to the conversation.
    conversation_lock = " FOR NO KEY UPDATE OF c"

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def one(self, sql: str, params: Params) -> Any | None:
        query, names = positional(sql)
        return await self.conn.fetchrow(query, *[params[n] for n in names])

    async def all(self, sql: str, params: Params) -> list[Any]:
        query, names = positional(sql)
        return list(await self.conn.fetch(query, *[params[n] for n in names]))

    async def run(self, sql: str, params: Params | list[Params]) -> int:
        query, names = positional(sql)
        if isinstance(params, list):
            # Pipelined in one round trip; asyncpg reports no row count for it.
            await self.conn.executemany(query, [[p[n] for n in names] for p in params])
            return -1
        return _count(await self.conn.execute(query, *[params[n] for n in names]))

    async def heads(self, head_sql: str, queues: list[tuple[int, int]]) -> list[Any]:
        """As :meth:`SQLite.heads`, in one round trip: a LATERAL lookup per queue, each head
        locked (``head_lock``) in the order given, so two processes finishing deliveries of the
        same queues never wait for each other in a circle. Empty queues have no row."""
        sql = (
            "SELECT h.* FROM unnest(CAST(:bots AS integer[]), CAST(:conversations AS integer[])) WITH ORDINALITY "
            f"AS q(bot, conversation, n) CROSS JOIN LATERAL ({head_sql.format(bot='q.bot', conversation='q.conversation')}"
            f"{self.head_lock}) AS h ORDER BY q.n"
        )
        return await self.all(sql, {"bots": [b for b, _ in queues], "conversations": [c for _, c in queues]})

    async def insert_message(self, values: Params, *, window: float) -> int:
        """As :meth:`SQLite.insert_message`, in one round trip (a data-modifying WITH)."""
        return int((await self.one(_PG_INSERT_MESSAGE, {**values, "window": window, "now": values["created_at"]}))[0])

    async def append_event(self, event: Params, bots: list[int], webhook_ids: list[str]) -> int:
        """As :meth:`SQLite.append_event`, in one round trip; other processes' dispatchers and
        live views are told at commit (NOTIFY is transactional: a rolled-back change says nothing,
        and the same notice twice in a transaction is sent once)."""
        params = {**event, "bots": bots, "webhook_ids": webhook_ids, "channel": CHANNEL,
                  "kind": "deliveries" if bots else "events"}
        return int((await self.one(_PG_APPEND_EVENT, params))[0])

    async def full_text(self, words: list[str], *, bot_id: int, limit: int) -> list[Any]:
        """As :meth:`SQLite.full_text`, by PostgreSQL's own full-text search: each word through
        plainto_tsquery (stemmed, stop words dropped, any character safe), OR-ed with ||;
        ts_rank's weights {D, C, B, A} put the title (A) at twice the text (B), as SQLite's
        bm25(kb_fts, 2.0, 1.0) does."""
        params: dict[str, Any] = {f"w{i}": w for i, w in enumerate(words)}
        query = " || ".join(f"plainto_tsquery('english', :w{i})" for i in range(len(words)))
        # Ranked on ids and scores alone; only the best ``limit`` rows are joined to their text
        # and document (as on SQLite).
        rows = await self.all(
            f"WITH q AS (SELECT {query} AS query), best AS ("
            "SELECT p.id, ts_rank('{0.1, 0.2, 0.5, 1.0}', p.search, q.query) AS score FROM kb_passages p, q "
            "WHERE p.agent_bot_id = :bot_id AND p.search @@ q.query ORDER BY score DESC, p.id LIMIT :limit) "
            "SELECT p.id, p.title, p.content, best.score, d.source FROM best JOIN kb_passages p ON p.id = best.id "
            "JOIN kb_documents d ON d.id = p.document_id ORDER BY best.score DESC, p.id",
            {**params, "bot_id": bot_id, "limit": limit},
        )
        return [(r[0], r[1], r[2], float(r[3]), r[4]) for r in rows]

    async def passages_with(self, words: list[str], *, cap: int) -> list[int]:
        """As :meth:`SQLite.passages_with`, on the GIN index (a stop word counts 0)."""
        counts = ", ".join(
            f"(SELECT count(*) FROM (SELECT 1 FROM kb_passages WHERE search @@ plainto_tsquery('english', :w{i}) LIMIT :cap) x)"
            for i in range(len(words))
        )
        row = await self.one(f"SELECT {counts}", {**{f"w{i}": w for i, w in enumerate(words)}, "cap": cap})
        return [int(n) for n in row]


_PG_INSERT_MESSAGE = (
    f"WITH m AS ({INSERT_MESSAGE}), t AS ({TOUCH_CONVERSATION}) SELECT id FROM m"
)
_PG_APPEND_EVENT = (
    f"WITH e AS ({INSERT_EVENT}), d AS (INSERT INTO deliveries ({_DELIVERY_COLUMNS}) "
    "SELECT e.id, r.bot, :account_id, :conversation_id, r.webhook_id, 'pending', 0, :created_at, false, :created_at, "
    ":created_at FROM e, unnest(CAST(:bots AS integer[]), CAST(:webhook_ids AS text[])) AS r(bot, webhook_id)) "
    "SELECT e.id, pg_notify(:channel, :kind) FROM e"
)


Raw = SQLite | PostgreSQL


async def raw(session: AsyncSession) -> Raw:
    """This session's driver connection, inside its transaction (begun here if need be)."""
    transaction = session.sync_session.get_transaction()
    cached = session.info.get(_RAW_KEY)
    if cached is not None and transaction is not None and cached[0] is transaction:
        return cached[1]  # same transaction, same connection: skip the session machinery
    conn = await session.connection()
    fairy = await conn.get_raw_connection()
    driver = fairy.driver_connection
    found: Raw
    if isinstance(driver, InlineConnection):
        found = SQLite(driver._conn)
    elif conn.dialect.name == "postgresql" and await _asyncpg_transaction(fairy.dbapi_connection, begin=bool(session.info.get(WRITING))):
        found = PostgreSQL(driver)
    else:
        # Ndoto runs on SQLite files (its inline driver) and PostgreSQL through asyncpg, both
        # tested; anything else would run statements no test has run.
        raise NdotoError(f"unsupported database driver: {conn.dialect.name}+{conn.dialect.driver} (use a SQLite file or postgresql+asyncpg://)")
    session.info[_RAW_KEY] = (session.sync_session.get_transaction(), found)
    return found


async def _asyncpg_transaction(adapted: Any, *, begin: bool) -> bool:
    """SQLAlchemy's asyncpg adapter sends BEGIN with the first statement it runs; statements sent
    on the asyncpg connection itself would run outside the transaction. So a write's transaction
    is begun here, the way the adapter does; a read's statements run alone (each its own
    snapshot, as the hot reads need: no BEGIN and ROLLBACK round trips around one SELECT). False
    if the adapter is not the one this was written against (then ``raw`` refuses the driver)."""
    if not hasattr(adapted, "_transaction") or not hasattr(adapted, "_start_transaction"):
        return False
    if begin and adapted._transaction is None and getattr(adapted, "isolation_level", None) != "autocommit":
        await adapted._start_transaction()
    return True


async def execute(session: AsyncSession, sql: str, params: Params | list[Params]) -> int:
    """Run a statement (for each parameter set of a list); returns the rows it changed (-1 when
    the driver does not say: a list on PostgreSQL)."""
    return await (await raw(session)).run(sql, params)


@functools.cache
def _columns(model: type) -> tuple[tuple[str, Any], ...]:
    """(name, kind) per column; kind says how a raw value maps back: "json" (SQLite gives the
    text; asyncpg gives it decoded already), "bool" (SQLite gives 0/1), an enum class (the member),
    or "" (as it is)."""
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


def _decode(model: type, row: Any, offset: int) -> dict[str, Any] | None:
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


def _objects(row: Any, models: list[type]) -> list[Any]:
    """One joined row as transient instances of ``models``, their columns side by side in the
    row (None for a model an outer join did not find)."""
    out = []
    offset = 0
    for model in models:
        values = _decode(model, row, offset)
        out.append(build(model, values) if values is not None else None)
        offset += len(_columns(model))
    return out


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
def _bundle_sql(lock: str) -> str:
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
        f"WHERE c.account_id = :account_id AND c.display_id = :display_id{lock}"
    )


async def fetch_bundle(session: AsyncSession, *, account_id: int, display_id: int) -> Bundle | None:
    """A read-only Bundle in one raw statement, or None when there is no such conversation. In a
    write transaction the conversation row is locked (PostgreSQL; see ``conversation_lock``).

    The objects are transient: callers that change the conversation through the ORM load it
    with ``conversations.load`` instead.
    """
    found = await raw(session)
    lock = found.conversation_lock if session.info.get(WRITING) else ""
    row = await found.one(_bundle_sql(lock), {"account_id": account_id, "display_id": display_id})
    if row is None:
        return None
    conv, inbox, contact, contact_inbox, account, link, assignee, conv_bot, inbox_bot = _objects(row, [m for m, _ in _BUNDLE_MODELS])
    if lock:
        session.info.setdefault(HELD, set()).add(conv.id)
    return Bundle(conv, inbox, contact, contact_inbox, account, link, assignee, conv_bot, inbox_bot=inbox_bot, attached=False)


async def hold_conversation(session: AsyncSession, conversation_id: int) -> None:
    """Lock the conversation to the commit, unless this transaction holds it already (PostgreSQL;
    see ``conversation_lock``): called before an event of it takes its id."""
    if not session.info.get(WRITING) or conversation_id in session.info.get(HELD, ()):
        return
    found = await raw(session)
    if found.conversation_lock:
        await found.one(f"SELECT c.id FROM conversations c WHERE c.id = :id{found.conversation_lock}", {"id": conversation_id})
        session.info.setdefault(HELD, set()).add(conversation_id)


def _token_models() -> tuple[tuple[type, str, str | None], ...]:
    from ndoto_cli.core.models import AccessToken, PlatformApp, TokenOwner

    return ((AccessToken, "t", None), (User, "u", TokenOwner.user), (AgentBot, "b", TokenOwner.agent_bot),
            (PlatformApp, "p", TokenOwner.platform_app))


@functools.cache
def _token_sql() -> str:
    models = _token_models()
    select_list = ", ".join(f"{alias}.{name}" for model, alias, _ in models for name, _kind in _columns(model))
    joins = " ".join(
        f"LEFT JOIN {model.__tablename__} {alias} ON t.owner_type = '{owner}' AND {alias}.id = t.owner_id"  # type: ignore[attr-defined]
        for model, alias, owner in models[1:]
    )
    return f"SELECT {select_list} FROM access_tokens t {joins} WHERE t.token_hash = :h"


def _token_owner(row: Any) -> tuple[Any, Any] | None:
    if row is None:
        return None
    token, *owners = _objects(row, [m for m, _, _ in _token_models()])
    return token, next((o for o in owners if o is not None), None)


async def fetch_token(session: AsyncSession, token_hash: str) -> tuple[Any, Any] | None:
    """The access token with this hash and its owner (None if the owner is gone), in one
    statement: every API request starts here. On PostgreSQL a read outside a write runs alone,
    without BEGIN and ROLLBACK around it."""
    return _token_owner(await (await raw(session)).one(_token_sql(), {"h": token_hash}))


def fetch_token_raw(conn: Any, token_hash: str) -> tuple[Any, Any] | None:
    """:func:`fetch_token` on a plain sqlite3 connection (``Database.quick``)."""
    return _token_owner(conn.execute(_token_sql(), {"h": token_hash}).fetchone())


async def fetch_token_quick(db: Any, token_hash: str) -> tuple[Any, Any] | None:
    """:func:`fetch_token` on PostgreSQL's quick connection (``Database.quick_row``)."""
    return _token_owner(await db.quick_row(_token_sql(), {"h": token_hash}))
