"""The private-address guard at call time (the rule itself is ``core.addresses``).

The check runs inside the HTTP client's resolver, on the addresses the connection will actually
use, so a hostname that resolves to 127.0.0.1 (or changes between check and connect) is caught.
IP-literal hosts skip resolvers, so they are checked before connecting (:func:`check_literal`).
"""

from __future__ import annotations

import socket
from typing import Any

from aiohttp.abc import AbstractResolver
from aiohttp.resolver import ThreadedResolver

from ndoto_cli.core.addresses import REFUSAL_HINT, allowed, literal_refused


class AddressRefused(Exception):
    """A call's address is private and not allowed: recorded, never retried."""


def check_literal(host: str, *, allow_private: bool, allowlist: list[str] | tuple[str, ...]) -> None:
    """IP-literal URLs skip the resolver: check them before connecting."""
    if literal_refused(host, allow_private, tuple(allowlist)):
        raise AddressRefused(f"{host} is a private address ({REFUSAL_HINT})")


def keep_allowed(host: str, addresses: list[str], *, allow_private: bool, allowlist: list[str] | tuple[str, ...]) -> list[str]:
    """The resolved addresses Ndoto may use, or AddressRefused naming them all."""
    kept = [a for a in addresses if allowed(a, host, allow_private=allow_private, allowlist=allowlist)]
    if not kept:
        shown = ", ".join(sorted(set(addresses))) or "no address"
        raise AddressRefused(f"{host} resolves to a private address ({shown}); {REFUSAL_HINT}")
    return kept


class GuardedResolver(AbstractResolver):
    def __init__(self, *, allow_private: bool, allowlist: list[str]) -> None:
        self._inner = ThreadedResolver()
        self._allow_private = allow_private
        self._allowlist = allowlist

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[Any]:
        infos = await self._inner.resolve(host, port, family)
        kept = set(keep_allowed(host, [i["host"] for i in infos], allow_private=self._allow_private, allowlist=self._allowlist))
        return [info for info in infos if info["host"] in kept]

    async def close(self) -> None:
        await self._inner.close()
