"""Permissions in the signature: each route says whom it serves by the type of its caller.

The token was checked by the route class before the body was read (``server.route``); these
dependencies only hand the result to the endpoint and apply the role a route requires. They are
``async def`` on purpose: FastAPI runs a plain ``def`` dependency in a worker thread, and two
thread hops per request cost the write path ~40% of its rate (measured with benchmarks/api.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from ndoto_cli.core.db import Database
from ndoto_cli.core.services.tokens import Principal
from ndoto_cli.server.auth import Caller

JSON = dict[str, Any]


async def _db(request: Request) -> Database:
    return request.app.state.db


async def _caller(request: Request) -> Caller:
    return request.state.caller


async def _user(request: Request) -> Caller:
    caller: Caller = request.state.caller
    caller.require_user()
    return caller


async def _admin(request: Request) -> Caller:
    caller: Caller = request.state.caller
    caller.require_admin()
    return caller


async def _platform(request: Request) -> Principal:
    return request.state.platform


Db = Annotated[Database, Depends(_db)]
AnyCaller = Annotated[Caller, Depends(_caller)]  # a user or a bot of the account
UserCaller = Annotated[Caller, Depends(_user)]  # administrators and agents
AdminCaller = Annotated[Caller, Depends(_admin)]  # administrators
PlatformApp = Annotated[Principal, Depends(_platform)]
