"""Permissions in the signature: each route says whom it serves by the type of its caller.

The token was checked by the route class before the body was read (``server.route``); these
dependencies only hand the result to the endpoint and apply the role a route requires.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from ndoto_cli.core.db import Database
from ndoto_cli.core.services.tokens import Principal
from ndoto_cli.server.auth import Caller

JSON = dict[str, Any]


def _db(request: Request) -> Database:
    return request.app.state.db


def _caller(request: Request) -> Caller:
    return request.state.caller


def _user(request: Request) -> Caller:
    caller: Caller = request.state.caller
    caller.require_user()
    return caller


def _admin(request: Request) -> Caller:
    caller: Caller = request.state.caller
    caller.require_admin()
    return caller


def _platform(request: Request) -> Principal:
    return request.state.platform


Db = Annotated[Database, Depends(_db)]
AnyCaller = Annotated[Caller, Depends(_caller)]  # a user or a bot of the account
UserCaller = Annotated[Caller, Depends(_user)]  # administrators and agents
AdminCaller = Annotated[Caller, Depends(_admin)]  # administrators
PlatformApp = Annotated[Principal, Depends(_platform)]
