"""Knowledge from where it already lives: web pages, crawled sites, sitemaps and DOCX files, and
``kb sync`` bringing them up to date. The site is served on 127.0.0.1 (tests/ai/site.py), which
the private-address guard allows only because these tests put it on the allowlist."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ndoto_cli.core.ai import ingest
from tests.ai.site import Site, docx
from tests.commands.conftest import Cli


@pytest.fixture
def site() -> Iterator[Site]:
    server = Site().start()
    yield server
    server.stop()


@pytest.fixture
def cli(ndoto_home: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("NDOTO_PRIVATE_ALLOWLIST", "127.0.0.1")
    runner = Cli()
    runner("init")
    runner("bots", "create", "--type", "ai", "--name", "Helper")
    return runner


def _html(title: str, body: str, head: str = "") -> str:
    return (f"<html><head><title>{title}</title>{head}<style>p {{color: red}}</style></head><body>"
            f"<nav><a href='/help/'>Help</a> <a href='/about.html'>About us</a></nav>{body}"
            f"<footer>Copyright Acme Shop</footer></body></html>")


def help_centre(site: Site) -> None:
    site.put("/robots.txt", "User-agent: *\nDisallow: /help/private/\n", "text/plain")
    site.page("/help/", _html("Help centre", (
        "<h1>Help centre</h1><p>Find answers about returns and delivery.</p>"
        "<a href='returns.html'>Returns</a> <a href='/help/shipping.html#costs'>Shipping</a> "
        "<a href='private/staff.html'>Staff only</a> <a href='logo.png'>Logo</a> "
        "<a href='warranty.docx'>Warranty</a> <a href='drafts.html' rel='nofollow'>Drafts</a> "
        "<a href='http://127.0.0.2:9/elsewhere.html'>Elsewhere</a> <a href='mailto:help@shop.test'>Mail us</a>"
    )))
    site.page("/help/returns.html", _html("Returns", (
        "<h1>Returns</h1><h2>Refund timing</h2><p>Refunds reach your card within 5 to 7 working days.</p>"
        "<a href='index-me-not.html'>Old page</a>"
    )))
    site.page("/help/shipping.html", _html("Shipping", "<h1>Shipping</h1><h2>Costs</h2><p>Delivery is free above 500 kwacha.</p>"))
    site.page("/help/index-me-not.html", _html("Old", "<h1>Old returns policy</h1><p>Refunds in 30 days.</p>",
                                               head="<meta name='robots' content='noindex'>"))
    site.page("/help/private/staff.html", _html("Staff", "<h1>Staff</h1><p>The safe code is 1234.</p>"))
    site.page("/help/drafts.html", _html("Drafts", "<h1>Drafts</h1><p>Unpublished.</p>"))
    site.page("/about.html", _html("About", "<h1>About</h1><p>We sell kettles.</p>"))
    site.put("/help/warranty.docx", docx([("Heading1", "Warranty"), (None, "Every kettle has a two-year warranty."),
                                          ("Heading2", "Claims"), (None, "Send the receipt to claims@shop.test.")]),
             "application/vnd.openxmlformats-officedocument.wordprocessingml.document")


def sources(cli: Cli) -> dict[str, Any]:
    return {d["source"]: d for d in cli.json("kb", "list", "Helper")}


def test_a_site_is_crawled_on_its_host_under_its_folder_obeying_robots_txt(cli: Cli, site: Site) -> None:
    help_centre(site)
    report = cli.json("kb", "add", "Helper", f"{site.base}/help/", "--crawl")
    outcomes = {r["source"].removeprefix(site.base): r["outcome"] for r in report}
    assert outcomes == {
        "/help/": "added", "/help/returns.html": "added", "/help/shipping.html": "added", "/help/warranty.docx": "added",
        "/help/index-me-not.html": "skipped",  # noindex: its links are followed, its text is not kept
    }
    fetched = site.paths()
    assert fetched.count("/robots.txt") == 1 and fetched.count("/help/") == 1
    for never in ("/help/private/staff.html", "/about.html", "/help/drafts.html", "/help/logo.png"):
        assert never not in fetched  # robots.txt, outside the folder, nofollow, not a page
    assert all(r.user_agent and r.user_agent.startswith("Ndoto/") for r in site.log)

    shown = cli.json("kb", "show", "Helper", f"{site.base}/help/shipping.html")
    assert shown["title"] == "Shipping" and [p["title"] for p in shown["passages"]] == ["Shipping > Costs"]
    assert "Copyright" not in str(shown) and "About us" not in str(shown) and "color" not in str(shown)  # no footer, nav, style
    warranty = cli.json("kb", "show", "Helper", "warranty.docx")  # a DOCX read at its headings
    assert [p["title"] for p in warranty["passages"]] == ["Warranty", "Warranty > Claims"]
    hits = cli.json("kb", "search", "Helper", "how long does my refund take?")
    assert hits[0]["source"] == f"{site.base}/help/returns.html"

    limited = cli.json("kb", "add", "Helper", f"{site.base}/help/", "--crawl", "--max-pages", "2")
    assert len(limited) == 2 and {r["outcome"] for r in limited} == {"unchanged"}
    assert len(sources(cli)) == 4  # a crawl cut short at its limit removes nothing it did not reach
    out = cli("kb", "add", "Helper", f"{site.base}/help/", "--crawl", "--max-pages", "2").stdout
    assert "stopped at its limit of 2 pages" in out


def test_sync_fetches_only_what_changed_adds_new_pages_and_drops_gone_ones(cli: Cli, site: Site, tmp_path: Path) -> None:
    help_centre(site)
    cli("kb", "add", "Helper", f"{site.base}/help/", "--crawl")
    single = f"{site.base}/opening-hours"
    site.put("/opening-hours", "# Opening hours\n\nWe open at 8.\n", "text/markdown", last_modified="Tue, 01 Dec 2026 08:00:00 GMT")
    cli("kb", "add", "Helper", single)
    local = tmp_path / "parking.md"
    local.write_text("# Parking\n\nFree parking behind the shop.\n", encoding="utf-8")
    gone_file = tmp_path / "old.md"
    gone_file.write_text("# Old\n\nSomething.\n", encoding="utf-8")
    cli("kb", "add", "Helper", str(local), str(gone_file))
    cli("kb", "add-faq", "Helper", "--question", "Do you ship abroad?", "--answer", "Only within Zambia.")
    before = sources(cli)

    site.page("/help/returns.html", _html("Returns", "<h1>Returns</h1><h2>Refund timing</h2><p>Refunds take 3 days now.</p>"
                                                 "<a href='index-me-not.html'>Old page</a>"))
    del site.resources["/help/shipping.html"]
    site.page("/help/", site.resources["/help/"].body.decode().replace("</body>", "<a href='pickup.html'>Pickup</a></body>"))
    site.page("/help/pickup.html", _html("Pickup", "<h1>Pickup</h1><p>Collect your order at the Lusaka shop.</p>"))
    local.write_text("# Parking\n\nParking is now at the front.\n", encoding="utf-8")
    gone_file.unlink()

    site.log.clear()
    preview = cli.json("kb", "sync", "Helper", "--dry-run", code=0)
    assert preview["dry_run"] and sources(cli) == before  # a dry run changes nothing
    want = {
        str(local.resolve()): "updated", str(gone_file.resolve()): "removed", single: "unchanged",
        f"{site.base}/help/": "updated", f"{site.base}/help/returns.html": "updated", f"{site.base}/help/shipping.html": "removed",
        f"{site.base}/help/pickup.html": "added", f"{site.base}/help/warranty.docx": "unchanged",
        f"{site.base}/help/index-me-not.html": "skipped",
    }
    assert {d["source"]: d["outcome"] for d in preview["documents"]} == want

    site.log.clear()
    done = cli.json("kb", "sync", "Helper")
    assert {d["source"]: d["outcome"] for d in done["documents"]} == want
    after = sources(cli)
    assert f"{site.base}/help/shipping.html" not in after and f"{site.base}/help/pickup.html" in after
    assert "faq: Do you ship abroad?" in after and str(gone_file.resolve()) not in after  # FAQ entries stay
    # Known pages were asked for conditionally; the unchanged ones answered 304 and cost no body.
    asked = {r.path: r for r in site.log}
    assert asked["/help/warranty.docx"].if_none_match and asked["/help/warranty.docx"].status == 304
    assert asked["/opening-hours"].if_modified_since == "Tue, 01 Dec 2026 08:00:00 GMT" and asked["/opening-hours"].status == 304
    assert asked["/help/pickup.html"].if_none_match is None
    hits = cli.json("kb", "search", "Helper", "how long does my refund take?")
    assert "3 days" in hits[0]["content"]

    site.log.clear()
    again = cli.json("kb", "sync", "Helper")
    assert {d["outcome"] for d in again["documents"]} <= {"unchanged", "skipped"}
    assert [r.path for r in site.log if r.status == 200 and r.path != "/robots.txt"] == ["/help/index-me-not.html"]  # noindex: no validators kept


def test_a_site_failing_midway_keeps_what_it_did_not_reach(cli: Cli, site: Site) -> None:
    help_centre(site)
    cli("kb", "add", "Helper", f"{site.base}/help/", "--crawl")
    site.put("/help/", "down for maintenance", "text/plain", status=503)
    result = cli("kb", "sync", "Helper", code=1)
    assert "HTTP 503" in result.stdout and "were kept" in result.stdout
    assert len(sources(cli)) == 4


def test_a_sitemap_lists_the_pages_of_a_site(cli: Cli, site: Site) -> None:
    help_centre(site)
    base = site.base
    site.put("/sitemap.xml", (
        '<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{base}/sitemap-help.xml</loc></sitemap><sitemap><loc>http://127.0.0.2:9/other.xml</loc></sitemap></sitemapindex>"
    ), "application/xml")
    site.put("/sitemap-help.xml", (
        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{base}/help/returns.html</loc></url><url><loc>{base}/help/shipping.html</loc></url>"
        f"<url><loc>{base}/help/private/staff.html</loc></url><url><loc>http://127.0.0.2:9/x.html</loc></url></urlset>"
    ), "text/xml")
    added = cli.json("kb", "add", "Helper", f"{base}/sitemap.xml")  # a sitemap is a site without --crawl
    assert sorted(r["source"] for r in added) == [f"{base}/help/returns.html", f"{base}/help/shipping.html"]
    assert "/help/" not in site.paths()  # a sitemap's pages are not crawled for links
    site.put("/sitemap-help.xml", site.resources["/sitemap-help.xml"].body.decode().replace(
        f"<url><loc>{base}/help/shipping.html</loc></url>", ""), "text/xml")
    synced = cli.json("kb", "sync", "Helper")
    assert {d["source"]: d["outcome"] for d in synced["documents"]} == {
        f"{base}/help/returns.html": "unchanged", f"{base}/help/shipping.html": "removed"}
    removed = cli.json("kb", "remove", "Helper", f"{base}/sitemap.xml", "--yes")
    assert removed == {"site": f"{base}/sitemap.xml", "removed": True, "pages": 1}
    assert sources(cli) == {} and cli.json("kb", "sync", "Helper")["documents"] == []


def test_a_single_page_and_the_errors_a_user_meets(cli: Cli, site: Site) -> None:
    site.page("/page.html", "<html><head><title>Store hours</title></head><body><p>Open daily from 8 to 17.</p></body></html>")
    site.put("/moved", b"", "text/plain", status=301, location="/page.html")
    site.put("/logo", b"\x89PNG....", "image/png")
    added = cli.json("kb", "add", "Helper", f"{site.base}/moved")
    assert added[0]["outcome"] == "added" and added[0]["title"] == "Store hours"  # followed the redirect; titled by <title>
    assert sources(cli)[f"{site.base}/moved"]["passages"] == 1
    for url, message in [
        (f"{site.base}/missing", "HTTP 404"),
        (f"{site.base}/logo", "not a document (image/png)"),
        ("ftp://127.0.0.1/file.txt", "not an http(s) URL"),
    ]:
        result = cli("kb", "add", "Helper", url, code=1)
        assert message in result.stdout + result.stderr and len((result.stdout + result.stderr).strip().splitlines()) == 1
    result = cli("kb", "remove", "Helper", "no-such-doc", code=1)
    assert "no document" in result.stdout + result.stderr


def test_robots_txt_that_cannot_be_read_means_no_crawl(cli: Cli, site: Site) -> None:
    help_centre(site)
    site.put("/robots.txt", "busy", "text/plain", status=503)
    result = cli("kb", "add", "Helper", f"{site.base}/help/", "--crawl", code=1)
    assert "robots.txt" in result.stdout + result.stderr
    assert site.paths() == ["/robots.txt"] and sources(cli) == {}


@pytest.mark.parametrize("address", ["10.1.2.3", "169.254.169.254", "127.0.0.1"])
def test_a_name_resolving_to_a_private_address_is_refused_before_connecting(
    ndoto_home: Path, monkeypatch: pytest.MonkeyPatch, address: str,
) -> None:
    """help.shop.test is never looked up: the resolver is stubbed to answer a private address,
    and any connection would fail the test."""
    from ndoto_cli.dispatch.ai import pinned

    async def resolve(self: Any, host: str, port: int) -> list[str]:
        return [address]

    async def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(pinned.GuardedBackend, "_resolve", resolve)
    monkeypatch.setattr(pinned.httpcore.AnyIOBackend, "connect_tcp", never)
    cli = Cli()
    cli("init")
    cli("bots", "create", "--type", "ai", "--name", "Helper")
    for extra in ([], ["--crawl"]):
        result = cli("kb", "add", "Helper", "http://help.shop.test/faq.html", *extra, code=1)
        assert "private address" in result.stdout + result.stderr
    result = cli("kb", "add", "Helper", "http://169.254.169.254/latest/meta-data/", code=1)  # a literal: refused at once
    assert "private address" in result.stdout + result.stderr


def test_a_redirect_to_a_private_address_is_refused(cli: Cli, site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    from ndoto_cli.dispatch.ai import pinned

    real = pinned.httpcore.AnyIOBackend.connect_tcp

    async def only_the_site(self: Any, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        assert (host, port) == ("127.0.0.1", site.port), f"connected to {host}:{port}"
        return await real(self, host, port, *args, **kwargs)

    monkeypatch.setattr(pinned.httpcore.AnyIOBackend, "connect_tcp", only_the_site)
    site.put("/go", b"", "text/plain", status=302, location="http://10.9.8.7/admin")
    result = cli("kb", "add", "Helper", f"{site.base}/go", code=1)
    assert "10.9.8.7" in result.stdout + result.stderr and "private address" in result.stdout + result.stderr


def test_pages_are_read_with_their_links_base_and_robots_meta() -> None:
    page = ingest.read_page(
        "https://shop.test/help/a.html",
        b"<html><head><base href='/docs/'><meta name='robots' content='nofollow'><title>A page</title></head>"
        b"<body><h1>Heading</h1><p>Text &amp; <b>more</b>.</p><p><a href='b.html#x'>B</a> <a href='HTTPS://Shop.test:443/c'>C</a>"
        b"\n<a href='javascript:void(0)'>J</a></p></body></html>",
        "html",
    )
    assert page.title == "A page" and page.nofollow and not page.noindex
    assert page.links == ["https://shop.test/docs/b.html", "https://shop.test/c"]
    assert [(s.title, s.content) for s in page.sections] == [("Heading", "Text & more.\n\nB C J")]
    latin = ingest.read_page("https://shop.test/t.txt", "Caf\xe9 opens at 8.".encode("latin-1"), "text", charset="iso-8859-1")
    assert latin.sections[0].content == "Café opens at 8."
    assert ingest.read_sitemap(b"<html><body>no</body></html>") is None
    assert ingest.media_kind("application/octet-stream", "https://x.test/guide.docx") == "docx"
    assert ingest.media_kind("image/png", "https://x.test/a.html") is None


def test_a_docx_file_is_read_at_its_headings(tmp_path: Path) -> None:
    path = tmp_path / "warranty.docx"
    path.write_bytes(docx([("Heading1", "Warranty"), (None, "Two years."), ("Heading2", "Claims"), (None, "Send the receipt.")]))
    _raw, sections = ingest.read_document(path)
    assert [(s.title, s.content) for s in sections] == [("Warranty", "Two years."), ("Warranty > Claims", "Send the receipt.")]
    broken = tmp_path / "broken.docx"
    broken.write_bytes(b"not a zip")
    with pytest.raises(Exception, match="cannot read this DOCX"):
        ingest.read_document(broken)


def test_a_sitemap_is_told_by_its_content_not_its_name(cli: Cli, site: Site) -> None:
    """A sitemap at an address without ".xml" is a sitemap on add and on every sync (read as a
    page, it would be "not a document" and the sync would drop the site's pages)."""
    help_centre(site)
    site.put("/pages", (
        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{site.base}/help/returns.html</loc></url></urlset>"
    ), "application/xml")
    assert [r["outcome"] for r in cli.json("kb", "add", "Helper", f"{site.base}/pages")] == ["added"]
    synced = cli.json("kb", "sync", "Helper")
    assert {d["source"]: d["outcome"] for d in synced["documents"]} == {f"{site.base}/help/returns.html": "unchanged"}
    assert list(sources(cli)) == [f"{site.base}/help/returns.html"]
