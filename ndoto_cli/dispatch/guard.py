"""The private-address guard: webhooks may not reach loopback, private, link-local, reserved or
cloud-metadata addresses unless the server allows it (development with local example bots).

The check runs inside the HTTP client's resolver, on the addresses the connection will actually
use, so a hostname that resolves to 127.0.0.1 (or changes between check and connect) is caught.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from typing import Any

from aiohttp.abc import AbstractResolver
from aiohttp.resolver import ThreadedResolver


class AddressRefused(Exception):
    """A delivery's address is private and not allowed: recorded, never retried."""


def _allowed(address: str, host: str, *, allow_private: bool, allowlist: list[str]) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.is_global and not (ip.version == 4 and ip in ipaddress.ip_network("100.64.0.0/10")):
        return True
    if allow_private:
        return True
    for entry in allowlist:
        entry = entry.strip()
        if not entry:
            continue
        if entry.lower() == host.lower():
            return True
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def check_literal(host: str, *, allow_private: bool, allowlist: list[str]) -> None:
    """IP-literal URLs skip the resolver: check them before connecting."""
    if not _literal_refused(host, allow_private, tuple(allowlist)):
        return
    raise AddressRefused(f"{host} is a private address (set NDOTO_ALLOW_PRIVATE_ADDRESSES or NDOTO_PRIVATE_ALLOWLIST)")


@functools.lru_cache(maxsize=4096)
def _literal_refused(host: str, allow_private: bool, allowlist: tuple[str, ...]) -> bool:
    """Cached: the same bot URLs are checked on every delivery."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not _allowed(host.strip("[]"), host, allow_private=allow_private, allowlist=list(allowlist))


class GuardedResolver(AbstractResolver):
    def __init__(self, *, allow_private: bool, allowlist: list[str]) -> None:
        self._inner = ThreadedResolver()
        self._allow_private = allow_private
        self._allowlist = allowlist

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[Any]:
        infos = await self._inner.resolve(host, port, family)
        kept = [
            info for info in infos
            if _allowed(info["host"], host, allow_private=self._allow_private, allowlist=self._allowlist)
        ]
        if not kept:
            addresses = ", ".join(sorted({info["host"] for info in infos}))
            raise AddressRefused(
                f"{host} resolves to a private address ({addresses}); set NDOTO_ALLOW_PRIVATE_ADDRESSES=true "
                "or add it to NDOTO_PRIVATE_ALLOWLIST"
            )
        return kept

    async def close(self) -> None:
        await self._inner.close()
