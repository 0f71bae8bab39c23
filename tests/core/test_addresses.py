"""The private-address rule, on every special-purpose form; the webhook guard refuses before connecting."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from ndoto_cli.core.addresses import allowed, embedded_v4, is_public, literal_refused
from ndoto_cli.dispatch.guard import AddressRefused, GuardedResolver

REFUSED = [
    "127.0.0.1", "127.1.2.3", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "192.0.0.8", "192.0.2.1", "198.18.0.1", "198.51.100.7", "203.0.113.9", "224.0.0.1", "240.0.0.1", "255.255.255.255",
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "2001:db8::1", "100::1", "2001::1", "2001:10::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::127.0.0.1", "::169.254.169.254", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::1", "2002:7f00:1::1", "2002:a9fe:a9fe::1", "fec0::1", "3fff::1", "5f00::1",
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700::1111", "2a00:1450:4001::200e", "::ffff:8.8.8.8",
          "64:ff9b::808:808", "2002:808:808::1"]


@pytest.mark.parametrize("address", REFUSED)
def test_special_purpose_addresses_are_refused(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))
    assert not allowed(address, "host.test", allow_private=False, allowlist=[])
    assert allowed(address, "host.test", allow_private=True, allowlist=[])


@pytest.mark.parametrize("address", PUBLIC)
def test_global_unicast_is_allowed(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


def test_embedded_ipv4_is_judged_by_what_it_carries() -> None:
    assert str(embedded_v4(ipaddress.IPv6Address("::127.0.0.1"))) == "127.0.0.1"
    assert str(embedded_v4(ipaddress.IPv6Address("64:ff9b::7f00:1"))) == "127.0.0.1"
    assert embedded_v4(ipaddress.IPv6Address("2606:4700::1111")) is None


def test_the_allowlist_names_hosts_or_networks() -> None:
    assert allowed("10.0.0.5", "bots.internal", allow_private=False, allowlist=["bots.internal"])
    assert allowed("10.0.0.5", "x.test", allow_private=False, allowlist=["10.0.0.0/24"])
    assert not allowed("10.0.1.5", "x.test", allow_private=False, allowlist=["10.0.0.0/24", "not a network"])


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "localhost", "[::ffff:7f00:1]", "[64:ff9b::7f00:1]", "169.254.169.254"])
def test_literal_hosts_are_refused_without_dns(host: str) -> None:
    assert literal_refused(host, False, ())
    assert not literal_refused(host, True, ())


def test_names_are_left_to_the_resolver() -> None:
    assert not literal_refused("bots.example.test", False, ())


class StubResolver:
    """Answers from a table, never from DNS: the guard's tests never look up a real name."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table

    async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[dict[str, Any]]:
        return [{"hostname": host, "host": a, "port": port, "family": 0, "proto": 0, "flags": 0} for a in self.table[host]]

    async def close(self) -> None:
        return None


@pytest.mark.parametrize(
    ("name", "addresses"),
    [("metadata.test", ["169.254.169.254"]), ("mapped.test", ["::ffff:127.0.0.1"]), ("nat64.test", ["64:ff9b::a9fe:a9fe"]),
     ("compat.test", ["::127.0.0.1"]), ("mixed.test", ["10.0.0.1", "fd00::1"])],
)
async def test_the_webhook_resolver_refuses_names_that_resolve_privately(name: str, addresses: list[str]) -> None:
    resolver = GuardedResolver(allow_private=False, allowlist=[])
    resolver._inner = StubResolver({name: addresses})  # type: ignore[assignment]
    with pytest.raises(AddressRefused, match="private address"):
        await resolver.resolve(name, 443)


async def test_the_webhook_resolver_keeps_only_public_addresses() -> None:
    resolver = GuardedResolver(allow_private=False, allowlist=[])
    resolver._inner = StubResolver({"both.test": ["10.0.0.1", "93.184.216.34"]})  # type: ignore[assignment]
    assert [i["host"] for i in await resolver.resolve("both.test", 443)] == ["93.184.216.34"]


async def test_an_ipv6_form_of_loopback_is_refused_before_connecting() -> None:
    from ndoto_cli.core.settings import Settings
    from ndoto_cli.dispatch.webhook import WebhookTransport
    from tests.dispatch.receiver import Receiver

    receiver = await Receiver().start()
    port = receiver.url.split(":")[2].split("/")[0]
    transport = WebhookTransport(Settings(allow_private_addresses=False))
    try:
        for host in ("[::ffff:127.0.0.1]", "[::127.0.0.1]", "[64:ff9b::7f00:1]", "127.0.0.1", "localhost"):
            outcome = await transport.post(f"http://{host}:{port}/hook", secret="whsec_" + "A" * 32, timeout=2,
                                           webhook_id="msg_1", event="ping", body=b"{}")
            assert not outcome.ok and not outcome.retryable and "private address" in (outcome.error or ""), host
        assert receiver.received == []
    finally:
        await transport.close()
        await receiver.stop()
