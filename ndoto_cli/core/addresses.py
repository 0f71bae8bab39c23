"""Which network addresses Ndoto may call on a bot's behalf: the private-address guard's rule.

Every outward call that an account can aim (a webhook bot's URL, an AI bot's ``api_base``, its
tools) goes through this rule, so an account cannot reach loopback, the private network or a
cloud metadata service of the installation, unless the server allows it (local development,
``NDOTO_ALLOW_PRIVATE_ADDRESSES``) or names the host or network (``NDOTO_PRIVATE_ALLOWLIST``).

The blocks are the IANA special-purpose registries' not-globally-reachable entries (IPv4 and
IPv6, read 2026-12), plus multicast. IPv6 forms that carry an IPv4 address (mapped ``::ffff:``,
IPv4-compatible ``::/96``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``) are judged by the IPv4
address inside, so ``[::127.0.0.1]`` is loopback, as it is to the kernel or a NAT64 gateway.
Python's ``ipaddress.is_global`` is not used alone: its lists change between versions.
"""

from __future__ import annotations

import functools
import ipaddress
from urllib.parse import urlsplit

from ndoto_cli.core.errors import Invalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_V4 = [ipaddress.IPv4Network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
)]
_V6 = [ipaddress.IPv6Network(n) for n in (
    "::/128", "::1/128", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "3fff::/20", "5f00::/16",
    "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
)]
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_COMPATIBLE = ipaddress.IPv6Network("::/96")

REFUSAL_HINT = "set NDOTO_ALLOW_PRIVATE_ADDRESSES=true (local development) or add it to NDOTO_PRIVATE_ALLOWLIST"
LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if it is one of the forms that carry one."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    """Globally reachable unicast: the only addresses an account may aim Ndoto at by default."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return False
        inner = embedded_v4(ip)
        if inner is not None:
            return is_public(inner)
        return not any(ip in net for net in _V6)
    return not any(ip in net for net in _V4)


def parse_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def allowed(address: str, host: str, *, allow_private: bool, allowlist: list[str] | tuple[str, ...]) -> bool:
    """May Ndoto connect to ``address`` (what ``host`` resolved to) under these settings?"""
    ip = parse_ip(address)
    if ip is None:
        return False
    if is_public(ip) or allow_private:
        return True
    for entry in allowlist:
        entry = entry.strip()
        if not entry:
            continue
        if entry.lower() == host.lower().strip("[]"):
            return True
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


@functools.lru_cache(maxsize=4096)
def literal_refused(host: str, allow_private: bool, allowlist: tuple[str, ...]) -> bool:
    """Is ``host`` an IP literal (or a loopback name) that the rule refuses? Names that need DNS
    are judged when they are resolved, at call time. Cached: the same hosts come back often."""
    ip = parse_ip(host)
    if ip is None:
        if host.lower().rstrip(".") in LOCAL_NAMES:
            ip = ipaddress.ip_address("127.0.0.1")
        else:
            return False
    return not allowed(str(ip), host, allow_private=allow_private, allowlist=allowlist)


def check_url_host(url: str, *, allow_private: bool, allowlist: tuple[str, ...], field: str) -> None:
    """Refuse a URL whose host is a refused literal (422 naming the field): checked when a bot is
    created or changed, so the mistake shows at once instead of at the first call."""
    host = urlsplit(url).hostname or ""
    if literal_refused(host, allow_private, allowlist):
        raise Invalid(f"{field} {url!r} points at a private address ({host}): {REFUSAL_HINT}", field=field)
