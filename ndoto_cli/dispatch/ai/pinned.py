"""An HTTP client for a bot's own model endpoint: guarded, pinned, and carrying only its own key
(and the guarded transport the knowledge base's web fetches use, ``dispatch.ai.sources``).

An account administrator chooses a bot's ``api_base``, so a call there must not become a way to
reach the installation's private network or to carry the server's provider keys away:

* Connections go through :class:`GuardedBackend`: the host is resolved once, every address is
  checked by the private-address rule (``core.addresses``), and the socket connects to a checked
  address (TLS still verifies the host name). A name that resolves to 127.0.0.1, or changes
  between check and connect, is refused before any byte is sent.
* :class:`OwnKeyTransport` rebuilds each request's headers from an allowlist and adds the bot's
  own key (or nothing): whatever litellm or the OpenAI SDK picked up from the environment
  (``OPENAI_API_KEY``, organization and project ids, ``OPENAI_CUSTOM_HEADERS``) never leaves.

httpx offers no public hook for the network backend of its transport, so the transport replaces
its connection pool with one built on the guarded backend (httpcore's public API);
``tests/ai/test_ai_security.py`` fails if a future httpx stops honouring it.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any

import httpcore
import httpx

from ndoto_cli.core.addresses import REFUSAL_HINT, allowed, parse_ip


class Refused(httpcore.ConnectError):
    """The endpoint's address is private and not allowed: no connection was made."""


class EndpointRefused(Exception):
    """The model call would reach an address the guard refuses: never sent."""


def refusal_in(exc: BaseException | None) -> Exception | None:
    """The guard's refusal somewhere in an exception's chain (litellm wraps it twice)."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, (Refused, EndpointRefused)):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


SAFE_HEADERS = frozenset({"host", "content-type", "content-length", "accept", "accept-encoding", "user-agent", "connection"})


class GuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, *, allow_private: bool, allowlist: tuple[str, ...]) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private
        self._allowlist = allowlist
        self.connections: list[tuple[str, int, str]] = []  # (host, port, address): what was dialled

    async def _resolve(self, host: str, port: int) -> list[str]:
        if parse_ip(host) is not None:
            return [host.strip("[]")]
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return list(dict.fromkeys(str(info[4][0]) for info in infos))

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._resolve(host, port)
        refused = [a for a in addresses if not allowed(a, host, allow_private=self._allow_private, allowlist=self._allowlist)]
        if not addresses or refused:
            shown = ", ".join(refused or addresses) or "no address"
            raise Refused(f"{host} resolves to a private address ({shown}); {REFUSAL_HINT}")
        last: Exception | None = None
        for address in addresses:
            try:
                stream = await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
                continue
            self.connections.append((host, port, address))
            return stream
        assert last is not None
        raise last

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise Refused("unix sockets are not allowed for bot endpoints")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport whose every connection goes through the guarded backend (redirects
    too: each hop dials through it)."""

    def __init__(self, backend: GuardedBackend, *, verify: ssl.SSLContext | bool = True, max_connections: int = 100) -> None:
        super().__init__(verify=verify, trust_env=False)
        context = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify=verify)
        self._pool = httpcore.AsyncConnectionPool(ssl_context=context, max_connections=max_connections, network_backend=backend)


class OwnKeyTransport(GuardedTransport):
    def __init__(self, backend: GuardedBackend, *, api_key: str | None, verify: ssl.SSLContext | bool = True) -> None:
        super().__init__(backend, verify=verify)
        self._api_key = api_key

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for name in list(request.headers):
            if name.lower() not in SAFE_HEADERS and not name.lower().startswith("x-stainless-"):
                del request.headers[name]
        if self._api_key:
            request.headers["Authorization"] = f"Bearer {self._api_key}"
        return await super().handle_async_request(request)


def own_endpoint_client(*, api_base: str, api_key: str | None, allow_private: bool, allowlist: tuple[str, ...],
                        timeout: float) -> tuple[Any, GuardedBackend]:
    """An OpenAI SDK client for a bot's own endpoint (handed to litellm as ``client=``)."""
    import openai

    backend = GuardedBackend(allow_private=allow_private, allowlist=allowlist)
    http = httpx.AsyncClient(
        transport=OwnKeyTransport(backend, api_key=api_key), trust_env=False, follow_redirects=False, timeout=timeout
    )
    # The SDK insists on a key; the transport replaces whatever it sends with the bot's own.
    client = openai.AsyncOpenAI(base_url=api_base, api_key="ndoto-own-endpoint", max_retries=0, http_client=http)
    return client, backend
