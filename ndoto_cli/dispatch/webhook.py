"""The webhook transport: a signed JSON POST per delivery attempt.

aiohttp, not httpx: measured here, aiohttp sends ~4,500-6,000 keep-alive POSTs/s to a local
receiver, httpx ~350-750/s with 1 s tail latencies at concurrency (a known upstream issue).
"""

from __future__ import annotations

import email.utils
import time

import aiohttp
from yarl import URL

from ndoto_cli import __version__
from ndoto_cli.core.outbox.queue import Claimed, Outcome
from ndoto_cli.core.settings import Settings
from ndoto_cli.dispatch.guard import AddressRefused, GuardedResolver, check_literal
from ndoto_cli.dispatch.signing import sign

USER_AGENT = f"Ndoto-Webhooks/{__version__} (+https://github.com/ndoto)"
READ_CAP = 2048
RETRYABLE = {408, 425, 429}


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _refused(exc: BaseException | None) -> AddressRefused | None:
    while exc is not None:
        if isinstance(exc, AddressRefused):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


class WebhookTransport:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._targets: dict[str, URL] = {}
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            resolver = GuardedResolver(
                allow_private=self.settings.allow_private_addresses, allowlist=self.settings.private_allowlist
            )
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, resolver=resolver, ttl_dns_cache=60)
            # No cookie jar: a bot's Set-Cookie must never ride along to another bot on the same
            # host (and the jar's per-request filtering cost ~10% of the client's CPU here).
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": USER_AGENT}, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    def _target(self, url: str) -> URL:
        """The parsed URL, checked against the address guard if its host is an IP literal.
        Cached per URL: every delivery to a bot goes to the same few URLs."""
        target = self._targets.get(url)
        if target is None:
            if len(self._targets) > 4096:
                self._targets.clear()
            try:
                target = URL(url)
            except ValueError as exc:
                raise aiohttp.InvalidURL(url, str(exc)) from exc
            check_literal(target.raw_host or "", allow_private=self.settings.allow_private_addresses,
                          allowlist=self.settings.private_allowlist)
            self._targets[url] = target
        return target

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        limit = self._timeouts.get(seconds)
        if limit is None:
            limit = self._timeouts[seconds] = aiohttp.ClientTimeout(total=seconds)
        return limit

    async def deliver(self, claimed: Claimed) -> Outcome:
        if not claimed.outgoing_url:
            return Outcome(ok=False, error="the bot has no outgoing_url")
        return await self.post(
            claimed.outgoing_url, secret=claimed.secret, timeout=claimed.timeout, webhook_id=claimed.webhook_id,
            event=claimed.event_name, body=claimed.payload.encode("utf-8"),
        )

    async def post(
        self, url: str, *, secret: str, timeout: float | None, webhook_id: str, event: str, body: bytes
    ) -> Outcome:
        """One signed POST (a delivery's attempt, or ``ndoto bots ping``); every failure is an Outcome."""
        started = time.perf_counter()
        stamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": sign(secret, webhook_id, stamp, body),
            "X-Ndoto-Event": event,
            "X-Ndoto-Delivery": webhook_id,
        }

        def took() -> float:
            return (time.perf_counter() - started) * 1000

        try:
            target = self._target(url)
            limit = self._timeout(timeout or self.settings.delivery_timeout)
            async with self._client().post(target, data=body, headers=headers, timeout=limit, allow_redirects=False) as resp:
                excerpt = (await resp.content.read(READ_CAP)).decode("utf-8", "replace")
                code = resp.status
                if 200 <= code < 300:
                    return Outcome(ok=True, status_code=code, response_excerpt=excerpt, duration_ms=took())
                if code == 410:
                    return Outcome(
                        ok=False, status_code=code, response_excerpt=excerpt, duration_ms=took(),
                        error="410 Gone: the bot's endpoint is gone; deliveries to this bot are disabled",
                        disable_reason="endpoint answered 410 Gone",
                    )
                if 300 <= code < 400:
                    where = resp.headers.get("Location", "?")
                    return Outcome(ok=False, status_code=code, response_excerpt=excerpt, duration_ms=took(),
                                   error=f"redirect to {where} not followed: update the bot's URL")
                retryable = code in RETRYABLE or code >= 500
                return Outcome(
                    ok=False, retryable=retryable, status_code=code, response_excerpt=excerpt, duration_ms=took(),
                    error=f"HTTP {code}", retry_after=retry_after(resp.headers.get("Retry-After")) if retryable else None,
                )
        except aiohttp.InvalidURL as exc:  # a retry cannot fix the URL; fixing it and retrying can
            return Outcome(ok=False, retryable=False, error=f"invalid outgoing_url {url!r}: {exc}", duration_ms=took())
        except TimeoutError:
            return Outcome(ok=False, retryable=True, error=f"timed out after {timeout or self.settings.delivery_timeout:g} s", duration_ms=took())
        except Exception as exc:  # network failures become outcomes; anything else is a bug the worker records
            refused = _refused(exc)
            if refused is not None:
                return Outcome(ok=False, retryable=False, error=str(refused), duration_ms=took())
            if isinstance(exc, (aiohttp.ClientError, OSError)):
                return Outcome(ok=False, retryable=True, error=f"{type(exc).__name__}: {exc}", duration_ms=took())
            raise

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


