"""Tokens are stored only hashed; a reset invalidates the old token at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from ndoto_cli.core.errors import Unauthorized
from ndoto_cli.core.services import bots
from ndoto_cli.core.services.tokens import authenticate
from tests.conftest import World
from tests.sql import run_sql


async def test_tokens_are_stored_only_as_hashes(world: World, ndoto_home: Path) -> None:
    assert world.bot_token.startswith("ndb_") and world.admin_token.startswith("ndu_")
    sqlite_file = ndoto_home / "ndoto.db"
    if sqlite_file.exists():  # every byte the database wrote, not only the token table
        raw = sqlite_file.read_bytes()
        for path in (ndoto_home / "ndoto.db-wal",):
            if path.exists():
                raw += path.read_bytes()
        for token in (world.bot_token, world.admin_token, world.agent_token):
            assert token.encode() not in raw
    rows = run_sql(ndoto_home, "select token_hash, prefix from access_tokens")
    stored = " ".join(" ".join(map(str, r)) for r in rows)
    for token in (world.bot_token, world.admin_token, world.agent_token):
        assert token not in stored
    assert rows and all(len(h) == 64 for h, _prefix in rows)


async def test_authenticate_and_reset(world: World) -> None:
    async with world.db.read() as s:
        principal = await authenticate(s, world.bot_token)
    assert principal.bot is not None and principal.bot.id == world.bot_id
    _bot, new = await world.db.write(lambda s: bots.reset_bot_token(s, account_id=world.account_id, bot_id=world.bot_id))
    async with world.db.read() as s:
        with pytest.raises(Unauthorized):
            await authenticate(s, world.bot_token)
        assert (await authenticate(s, new)).bot.id == world.bot_id  # type: ignore[union-attr]
        with pytest.raises(Unauthorized):
            await authenticate(s, "")


async def test_secret_reset_changes_only_the_secret(world: World) -> None:
    async with world.db.read() as s:
        before = await bots.get_bot(s, account_id=world.account_id, bot_id=world.bot_id)
    after = await world.db.write(lambda s: bots.reset_bot_secret(s, account_id=world.account_id, bot_id=world.bot_id))
    assert after.secret != before.secret and after.secret.startswith("whsec_")
    async with world.db.read() as s:
        assert (await authenticate(s, world.bot_token)).bot is not None
