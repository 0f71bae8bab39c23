"""The knowledge base's HTTP side: one guarded client per run (bounded size, time and
redirects), robots.txt read as RFC 9309 says, and the small rules of where a crawl may go.

Every request goes through the private-address guard (``dispatch.ai.pinned``), redirects
included: an account cannot use its knowledge base to read the installation's private network
or a metadata service. What is done with the pages is ``dispatch.ai.sources``'.
"""

from __future__ import annotations

import gzip
import urllib.robotparser
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Self
from urllib.parse import urlsplit

import httpx

from ndoto_cli import __version__
from ndoto_cli.core.addresses import check_url_host
from ndoto_cli.core.ai import ingest
from ndoto_cli.dispatch.ai.pinned import GuardedBackend, GuardedTransport, refusal_in

USER_AGENT = f"Ndoto/{__version__} (knowledge base crawler)"
ROBOTS_AGENT = "Ndoto"  # the name robots.txt rules address ("User-agent: Ndoto")
ACCEPT = (
    "text/html,application/xhtml+xml,text/markdown;q=0.9,text/plain;q=0.9,application/pdf;q=0.8,"
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document;q=0.8,application/xml;q=0.5,*/*;q=0.1"
)
MAX_BYTES = 20 * 1024 * 1024  # a page or file larger than this is refused, not truncated
TIMEOUT = 20.0
MAX_REDIRECTS = 5
MAX_DELAY = 30.0  # the longest Crawl-delay obeyed
# Links to these are never pages: not fetched at all.
NOT_PAGES = frozenset({
    ".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".ico", ".bmp", ".tif", ".tiff", ".avif", ".css", ".js", ".mjs",
    ".json", ".woff", ".woff2", ".ttf", ".otf", ".eot", ".zip", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".tar",
    ".mp3", ".mp4", ".m4a", ".ogg", ".wav", ".webm", ".mov", ".avi", ".exe", ".dmg", ".msi", ".apk", ".iso",
})


@dataclass
class Fetched:
    url: str  # as asked (normalised)
    final_url: str  # after redirects
    status: int | None  # None: no answer (refused, network error, too large)
    data: bytes = b""
    content_type: str | None = None
    charset: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None


class Fetcher:
    """One guarded HTTP client for a run: bounded size, time and redirects."""

    def __init__(self, *, allow_private: bool, allowlist: list[str] | tuple[str, ...], timeout: float = TIMEOUT,
                 max_bytes: int = MAX_BYTES, max_connections: int = 8) -> None:
        self.allow_private = allow_private
        self.allowlist = tuple(allowlist)
        self.backend = GuardedBackend(allow_private=allow_private, allowlist=self.allowlist)
        self.client = httpx.AsyncClient(
            transport=GuardedTransport(self.backend, max_connections=max_connections), follow_redirects=True,
            max_redirects=MAX_REDIRECTS, timeout=timeout, trust_env=False, headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
        )
        self.max_bytes = max_bytes
        self.requests = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        self.requests += 1
        try:
            async with self.client.stream("GET", url, headers=headers) as response:
                got = Fetched(
                    url, ingest.normal_url(str(response.url)), response.status_code,
                    content_type=response.headers.get("content-type"), charset=response.charset_encoding,
                    etag=response.headers.get("etag"), last_modified=response.headers.get("last-modified"),
                )
                if response.status_code != 200:
                    return got
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    got.error = f"larger than {self.max_bytes // (1024 * 1024)} MB"
                    return got
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():  # decoded: a compressed bomb stops here too
                    size += len(chunk)
                    if size > self.max_bytes:
                        got.error = f"larger than {self.max_bytes // (1024 * 1024)} MB"
                        return got
                    chunks.append(chunk)
                got.data = b"".join(chunks)
                return got
        except httpx.TooManyRedirects:
            return Fetched(url, url, None, error=f"more than {MAX_REDIRECTS} redirects")
        except httpx.HTTPError as exc:
            refusal = refusal_in(exc)
            reason = str(refusal) if refusal is not None else (str(exc) or type(exc).__name__)
            return Fetched(url, url, None, error=reason)


def ungzip(data: bytes, limit: int) -> bytes:
    """A gzipped sitemap's XML, at most ``limit`` bytes (a bomb is cut, then fails to parse)."""
    if not data.startswith(b"\x1f\x8b"):
        return data
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, limit)
    except (zlib.error, gzip.BadGzipFile):
        return b""


def sitemap_of(got: Fetched, limit: int) -> tuple[list[str], list[str]] | None:
    """A fetched document's sitemap URLs when it is a sitemap (by content: XML with urlset or
    sitemapindex), else None."""
    media = (got.content_type or "").split(";", 1)[0].strip().lower()
    if media in ingest.MEDIA_TYPES and media != "text/plain":
        return None
    data = ungzip(got.data, limit).lstrip()
    if not data.startswith(b"<"):
        return None
    return ingest.read_sitemap(data)


def in_scope(url: str, start: str) -> bool:
    """Is ``url`` in the crawl of ``start``: the same scheme and host, under its folder?"""
    a, b = urlsplit(url), urlsplit(start)
    if (a.scheme, a.netloc) != (b.scheme, b.netloc):
        return False
    folder = b.path if b.path.endswith("/") else b.path.rsplit("/", 1)[0] + "/"
    return a.path.startswith(folder)


def is_page(url: str) -> bool:
    return PurePosixPath(urlsplit(url).path).suffix.lower() not in NOT_PAGES


class Robots:
    """robots.txt of each origin, fetched once per run (RFC 9309's reading of failures)."""

    def __init__(self, fetcher: Fetcher) -> None:
        self._fetcher = fetcher
        self._rules: dict[str, tuple[urllib.robotparser.RobotFileParser, str | None]] = {}

    async def rules(self, url: str) -> tuple[urllib.robotparser.RobotFileParser, str | None]:
        """(rules, why everything is refused or None) for the origin of ``url``."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._rules:
            got = await self._fetcher.get(origin + "/robots.txt")
            parser = urllib.robotparser.RobotFileParser(origin + "/robots.txt")
            why = None
            if got.ok and got.final_url.startswith(origin):
                parser.parse(got.data.decode("utf-8", errors="replace").splitlines())
            elif got.status is not None and 400 <= got.status < 500:
                parser.allow_all = True  # no robots.txt: the site sets no rules
            else:
                parser.disallow_all = True
                why = f"robots.txt of {parts.netloc} could not be read ({got.error or f'HTTP {got.status}'}), so the site is not crawled now"
            self._rules[origin] = (parser, why)
        return self._rules[origin]

    async def allows(self, url: str) -> bool:
        parser, _ = await self.rules(url)
        return parser.can_fetch(ROBOTS_AGENT, url)

    async def delay(self, url: str) -> float:
        parser, _ = await self.rules(url)
        delay = parser.crawl_delay(ROBOTS_AGENT)
        rate = parser.request_rate(ROBOTS_AGENT)
        seconds = float(delay) if delay else (rate.seconds / rate.requests if rate and rate.requests else 0.0)
        return min(max(seconds, 0.0), MAX_DELAY)


def check_start(url: str, settings: Any) -> str:
    """A URL the knowledge base may fetch (normalised), or Invalid before any connection."""
    url = ingest.check_web_url(url)
    check_url_host(url, allow_private=settings.allow_private_addresses, allowlist=tuple(settings.private_allowlist), field="url")
    return url
