"""Shared fixtures: every test gets its own NDOTO_HOME (a real SQLite file in a temp dir)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ndoto_cli.core.db import Database
from ndoto_cli.core.settings import Settings

LOCAL_NAMES = {"localhost", "127.0.0.1", "::1", "ip6-localhost", "testserver"}


@pytest.fixture(autouse=True)
def _no_dns_beyond_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests talk only to this machine: resolving any other name fails loudly, before a query leaves."""
    import ipaddress
    import socket

    real = socket.getaddrinfo

    def local_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        try:
            ipaddress.ip_address(name.split("%", 1)[0])
        except ValueError:
            if name.lower().rstrip(".") not in LOCAL_NAMES:
                raise socket.gaierror(socket.EAI_NONAME, f"tests may not resolve {name!r}: use 127.0.0.1 or a stub") from None
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_only)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """A PostgreSQL for this session (tests/postgres.py), started on first use: by every test
    when the suite runs on PostgreSQL, else only by the tests that cross databases."""
    from tests import postgres

    cluster = postgres.Cluster()
    cluster.start()
    try:
        cluster.migrate_template()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_cluster(request: pytest.FixtureRequest) -> Any:
    """The session's PostgreSQL when the suite runs on it (NDOTO_TEST_DATABASE=postgresql), else None."""
    from tests import postgres

    return request.getfixturevalue("postgres_server") if postgres.selected() else None


@pytest.fixture
def ndoto_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_cluster: Any) -> Iterator[Path]:
    """A fresh NDOTO_HOME; on PostgreSQL also a fresh database (``NDOTO_DATABASE_URL``), which
    every front end and every ``ndoto`` process a test starts then uses."""
    home = tmp_path / "ndoto-home"
    monkeypatch.setenv("NDOTO_HOME", str(home))
    monkeypatch.delenv("NDOTO_DATABASE_URL", raising=False)
    monkeypatch.delenv("NDOTO_ACCOUNT", raising=False)
    if postgres_cluster is None:
        yield home
        return
    url = postgres_cluster.database()
    monkeypatch.setenv("NDOTO_DATABASE_URL", url)
    try:
        yield home
    finally:
        postgres_cluster.drop(url)


@pytest.fixture
def settings(ndoto_home: Path) -> Settings:
    return Settings(home=ndoto_home)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = await Database(settings).open()
    try:
        yield database
    finally:
        await database.close()


@dataclass
class World:
    """A small account: an admin, an agent, a web inbox with a webhook bot, an API inbox without."""

    db: Database
    account_id: int
    admin_id: int
    admin_token: str
    agent_id: int
    agent_token: str
    web_inbox_id: int
    api_inbox_id: int
    bot_id: int
    bot_token: str


async def make_world(db: Database, *, bot_url: str = "https://127.0.0.1:9/webhook") -> World:
    from ndoto_cli.core.services import accounts, bots, inboxes

    boot = await db.write(lambda s: accounts.bootstrap(s, account_name="Acme Support", admin_email="admin@acme.test"))
    account_id = boot.account.id
    agent, agent_token = await db.write(
        lambda s: accounts.create_user(s, account_id=account_id, name="Ann Agent", email="ann@acme.test")
    )
    web = await db.write(lambda s: inboxes.create_inbox(s, account_id=account_id, name="Website Chat", channel="web_widget"))
    api = await db.write(lambda s: inboxes.create_inbox(s, account_id=account_id, name="API", channel="api"))
    bot, bot_token = await db.write(
        lambda s: bots.create_bot(s, account_id=account_id, name="OrderBot", bot_type="webhook", outgoing_url=bot_url)
    )
    await db.write(lambda s: inboxes.set_inbox_bot(s, account_id=account_id, inbox_id=web.id, bot_id=bot.id))
    return World(db, account_id, boot.admin.id, boot.token, agent.id, agent_token, web.id, api.id, bot.id, bot_token)


@pytest.fixture
async def world(db: Database) -> World:
    return await make_world(db)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only(reason): about SQLite itself (its file, pragmas, backups); skipped on PostgreSQL")
    config.addinivalue_line("markers", "postgresql_only(reason): about PostgreSQL itself; runs in the suite's PostgreSQL pass")
    config.addinivalue_line("markers", "once(reason): does not depend on the database; runs in the SQLite pass only")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from tests import postgres

    for item in items:
        marker = item.get_closest_marker("postgresql_only")
        if marker is not None and not postgres.selected():
            reason = marker.args[0] if marker.args else "about PostgreSQL itself"
            item.add_marker(pytest.mark.skip(reason=f"PostgreSQL only (NDOTO_TEST_DATABASE=postgresql): {reason}"))
    if not postgres.selected():
        return
    for item in items:
        for name, label in (("sqlite_only", "SQLite only"), ("once", "run once, in the SQLite pass")):
            marker = item.get_closest_marker(name)
            if marker is not None:
                reason = marker.args[0] if marker.args else name
                item.add_marker(pytest.mark.skip(reason=f"{label}: {reason}"))
