"""Tokens are stored only hashed; a reset invalidates the old token at once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ndoto_cli.core.errors import Unauthorized
from ndoto_cli.core.services import bots
from ndoto_cli.core.services.tokens import authenticate
from tests.conftest import World


async def test_tokens_are_stored_only_as_hashes(world: World, ndoto_home: Path) -> None:
    assert world.bot_token.startswith("ndb_") and world.admin_token.startswith("ndu_")
    raw = (ndoto_home / "ndoto.db").read_bytes()
    for path in (ndoto_home / "ndoto.db-wal",):
        if path.exists():
            raw += path.read_bytes()
    for token in (world.bot_token, world.admin_token, world.agent_token):
        assert token.encode() not in raw
    with sqlite3.connect(ndoto_home / "ndoto.db") as conn:
        hashes = [row[0] for row in conn.execute("select token_hash from access_tokens")]
    assert all(len(h) == 64 for h in hashes)


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
