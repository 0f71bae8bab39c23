"""The website chat in a real browser: Debian's Chromium (headless, driven by Playwright) on the
demo page of a real ``ndoto serve`` on 127.0.0.1, with the product document's Flask bot answering
and the real ``ndoto`` CLI acting as the humans.

The tests run in order and share one site (one server, one bot, one visitor's browser profile), as
one visitor's story: open, write, get answers, reload, lose the server, come back. Set
``NDOTO_SCREENSHOTS=docs/widget`` to refresh the README's screenshots from this run.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import launch
from tests.serve_process import Served, start_serve

pytestmark = pytest.mark.once("the chat in a browser; its API on each database is tests/widget/test_widget_api.py")

HERE = Path(__file__).resolve().parent
FLASK_BOT = HERE.parent / "server" / "flask_bot.py"
ROOT = "#ndoto-chat"  # the widget's host element; Playwright's CSS selectors pierce its shadow root
LOG = f"{ROOT} .log"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ndoto(env: dict[str, str], *args: str) -> Any:
    """The real ``ndoto`` command, its --json answer."""
    done = subprocess.run([sys.executable, "-m", "ndoto_cli", *args, "--json"], env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)
    assert done.returncode == 0, f"ndoto {' '.join(args)}: {done.stderr}"
    return json.loads(done.stdout)


def wait_until(check: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Site:
    home: Path
    port: int
    env: dict[str, str]
    served: Served
    website_token: str
    bot_token: str
    bot_process: subprocess.Popen[bytes]
    browser: Any
    context: Any = None
    page: Any = None
    shots: Path | None = None
    conversation: int | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def demo(self) -> str:
        return f"{self.base}/widget/demo?inbox={self.website_token}"

    def ndoto(self, *args: str) -> Any:
        return ndoto(self.env, *args)

    def start(self) -> None:
        self.served = start_serve(self.home, extra_env=self.env, args=["--port", str(self.port)])

    def shot(self, page: Any, name: str) -> None:
        if self.shots is not None:
            page.screenshot(path=str(self.shots / f"{name}.png"))

    def texts(self, page: Any | None = None) -> list[str]:
        return (page or self.page).locator(f"{LOG} .msg").all_inner_texts()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from playwright.sync_api import sync_playwright

    home = tmp_path_factory.mktemp("widget-site")
    port = _free_port()
    env = {**os.environ, "NDOTO_HOME": str(home), "NDOTO_ALLOW_PRIVATE_ADDRESSES": "true", "NDOTO_DELIVERY_RETRY_SCHEDULE": "1",
           "NDOTO_PUBLIC_URL": f"http://127.0.0.1:{port}"}  # what `inboxes embed` prints
    env.pop("NDOTO_DATABASE_URL", None)
    env.pop("NDOTO_ACCOUNT", None)

    ndoto(env, "init", "--account-name", "Acme Shop")
    inbox = ndoto(env, "inboxes", "create", "--name", "Website Chat", "--channel", "web_widget")
    ndoto(env, "inboxes", "update", "Website Chat", "--title", "Acme Shop", "--greeting", "Hi! Ask us anything about your order.")
    bot_port = _free_port()
    bot = ndoto(env, "bots", "create", "--name", "Flask bot", "--url", f"http://127.0.0.1:{bot_port}/webhook")
    ndoto(env, "inbox", "assign", "Flask bot", "Website Chat")
    served = start_serve(home, extra_env=env, args=["--port", str(port)])
    bot_env = {**env, "NDOTO_BASE_URL": f"http://127.0.0.1:{port}", "BOT_ACCESS_TOKEN": bot["access_token"], "BOT_PORT": str(bot_port)}
    bot_process = subprocess.Popen([sys.executable, str(FLASK_BOT)], env=bot_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: _listening(bot_port), "the Flask bot to listen")
    shots = Path(os.environ["NDOTO_SCREENSHOTS"]) if os.environ.get("NDOTO_SCREENSHOTS") else None
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        site = Site(home, port, env, served, inbox["website_token"], bot["access_token"], bot_process, browser, shots=shots)
        site.context = browser.new_context(viewport={"width": 1100, "height": 720}, locale="en-GB")
        site.page = site.context.new_page()
        errors: list[str] = []
        site.page.on("pageerror", lambda e: errors.append(str(e)))
        site.notes["errors"] = errors
        try:
            yield site
        finally:
            browser.close()
            bot_process.terminate()
            bot_process.wait(timeout=10)
            site.served.stop()


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def _open(site: Site, page: Any) -> None:
    page.locator(f"{ROOT} .bubble").click()
    page.locator(f"{ROOT} .panel").wait_for(state="visible")


def test_opening_the_widget_fires_webwidget_triggered_to_the_bot(site: Site) -> None:
    page = site.page
    page.goto(site.demo)
    bubble = page.locator(f"{ROOT} .bubble")
    bubble.wait_for(state="visible")
    assert bubble.get_attribute("aria-label") == "Open chat" and bubble.get_attribute("aria-expanded") == "false"
    site.shot(page, "closed")
    _open(site, page)
    assert bubble.get_attribute("aria-expanded") == "true"
    assert page.locator(f"{LOG} .greeting").inner_text().endswith("Hi! Ask us anything about your order.")
    # Focus moved into the panel, on the composer.
    assert page.evaluate("document.querySelector('#ndoto-chat').shadowRoot.activeElement.tagName") == "TEXTAREA"

    def delivered() -> Any:
        rows = site.ndoto("deliveries", "list")
        return next((d for d in rows if d["event"] == "webwidget_triggered" and d["status"] == "delivered"), None)

    delivery = wait_until(delivered, "webwidget_triggered to reach the Flask bot")
    payload = site.ndoto("deliveries", "show", str(delivery["id"]))["payload"]
    info = payload["event_info"]
    assert info["referer"] == site.demo and info["widget_language"] == "en" and info["browser_language"] == "en-GB"
    assert "timestamp" in info["initiated_at"]
    assert "Chrome" in info["browser"]["browser_name"] and info["browser"]["platform_name"] == "Linux"
    assert payload["inbox"]["name"] == "Website Chat" and payload["current_conversation"] is None


def test_the_visitor_writes_and_the_bots_reply_appears_live(site: Site) -> None:
    page = site.page
    box = page.locator(f"{ROOT} textarea")
    box.fill("Where is my order?")
    box.press("Shift+Enter")  # a new line, not a send
    box.type("Order 1234")
    box.press("Enter")
    mine = page.locator(f"{LOG} .msg.me")
    mine.first.wait_for()
    assert mine.first.inner_text() == "Where is my order?\nOrder 1234"
    reply = page.locator(f"{LOG} .msg.them", has_text="Thanks for reaching out!")
    reply.wait_for(timeout=20_000)
    assert reply.inner_text() == 'Flask bot\nThanks for reaching out! You said: "Where is my order?\nOrder 1234". Our team will get back to you shortly.'
    site.conversation = site.ndoto("conversations", "list")["payload"][0]["id"]
    site.shot(page, "conversation")


def test_a_human_reply_appears_and_a_private_note_never_does(site: Site) -> None:
    page = site.page
    site.ndoto("conversations", "reply", str(site.conversation), "internal: refund approved", "--private")
    # The bot's typing, as its toggle_typing_status says.
    api = httpx.Client(base_url=site.base, headers={"api_access_token": site.bot_token}, timeout=10)
    assert api.post(f"/api/v1/accounts/1/conversations/{site.conversation}/toggle_typing_status", json={"typing_status": "on"}).status_code == 200
    typing = page.locator(f"{ROOT} .typing")
    wait_until(lambda: typing.inner_text() == "Flask bot is typing…", "the bot's typing to show")
    api.post(f"/api/v1/accounts/1/conversations/{site.conversation}/toggle_typing_status", json={"typing_status": "off"})
    wait_until(lambda: typing.inner_text() == "", "the bot's typing to stop")
    site.ndoto("conversations", "reply", str(site.conversation), "Hi, Admin here: your parcel ships today.")
    page.locator(f"{LOG} .msg.them", has_text="your parcel ships today").wait_for()
    texts = site.texts()
    assert texts[-1] == "Admin\nHi, Admin here: your parcel ships today."
    assert not any("refund approved" in t for t in texts)


def test_an_answers_web_sources_show_as_links_and_its_files_never(site: Site) -> None:
    """An AI answer's sources (content_attributes.sources): the visitor sees the ones with a web
    address as links under the answer; a knowledge-base file's name stays with the agents."""
    # As a human agent: a human took this conversation over in the test before (a bot would get 403 now).
    agent = site.ndoto("agents", "create", "--name", "Sam Sources", "--email", "sam@acme.test")
    api = httpx.Client(base_url=site.base, headers={"api_access_token": agent["access_token"]}, timeout=10)
    sources = [{"title": "Refund timing", "location": "returns.md", "url": None},
               {"title": "Delivery times", "location": "https://127.0.0.1/help/delivery", "url": "https://127.0.0.1/help/delivery"}]
    answer = api.post(f"/api/v1/accounts/1/conversations/{site.conversation}/messages",
                      json={"content": "Parcels leave within two days.", "content_attributes": {"sources": sources}})
    assert answer.status_code == 200, answer.text
    message = site.page.locator(f"{LOG} .msg.them", has_text="Parcels leave within two days.")
    message.wait_for()
    links = message.locator(".sources a")
    assert links.count() == 1 and links.inner_text() == "Delivery times"
    assert links.get_attribute("href") == "https://127.0.0.1/help/delivery"
    assert "returns.md" not in message.inner_text()


def test_html_and_script_in_messages_render_as_text(site: Site) -> None:
    page = site.page
    hostile = '<img src=x onerror="window.__owned=1"><script>window.__owned=2</script><b>bold</b>'
    site.ndoto("conversations", "reply", str(site.conversation), f'{hostile} <a href="javascript:window.__owned=3">x</a> see https://help.acme.test/returns.')
    page.locator(f"{LOG} .msg.them", has_text="help.acme.test").wait_for()
    box = page.locator(f"{ROOT} textarea")
    box.fill(hostile)
    box.press("Enter")
    page.locator(f"{LOG} .msg.me", has_text="onerror").wait_for()
    log = page.locator(LOG)
    assert log.locator("img, script, b").count() == 0
    assert page.evaluate("window.__owned") is None
    links = log.locator(".msg", has_text="help.acme.test").locator("a")
    assert links.count() == 1
    assert links.get_attribute("href") == "https://help.acme.test/returns"
    assert links.get_attribute("rel") == "noopener noreferrer nofollow"
    assert hostile in page.locator(f"{LOG} .msg.me").last.inner_text()


def test_a_reload_or_a_new_tab_shows_the_same_conversation(site: Site) -> None:
    before = site.texts()
    site.page.reload()
    _open(site, site.page)
    wait_until(lambda: site.texts() == before, "the same history after a reload")
    tab = site.context.new_page()
    tab.goto(site.demo)
    _open(site, tab)
    wait_until(lambda: site.texts(tab) == before, "the same history in a new tab")
    tab.close()


def test_losing_the_server_loses_no_message_and_shows_none_twice(site: Site) -> None:
    page = site.page
    before = site.texts()
    assert site.served.stop() == 0
    page.locator(f"{ROOT} .status", has_text="Reconnecting").wait_for()
    # While the server is down, a human answers from the CLI (straight into the database) ...
    site.ndoto("conversations", "reply", str(site.conversation), "Written while the server was down")
    # ... and the visitor writes: the message fails visibly, with a way to send it again.
    box = page.locator(f"{ROOT} textarea")
    box.fill("Are you there?")
    box.press("Enter")
    retry = page.locator(f"{LOG} .msg.me.failed button.retry")
    retry.wait_for()
    site.start()
    page.locator(f"{LOG} .msg.them", has_text="Written while the server was down").wait_for(timeout=20_000)
    retry.click()
    page.locator(f"{LOG} .msg.me:not(.failed):not(.pending)", has_text="Are you there?").wait_for()
    site.ndoto("conversations", "reply", str(site.conversation), "Yes, still here.")
    page.locator(f"{LOG} .msg.them", has_text="Yes, still here.").wait_for()
    after = site.texts()
    assert after[: len(before)] == before
    assert after[len(before):] == ["Admin\nWritten while the server was down", "Are you there?", "Admin\nYes, still here."]
    ids = page.locator(f"{LOG} .msg[data-id]").evaluate_all("els => els.map(e => e.dataset.id)")
    assert len(ids) == len(set(ids))
    # The server's own record agrees: each message once.
    stored = [m["content"] for m in site.ndoto("conversations", "show", str(site.conversation))["messages"]]
    assert stored.count("Are you there?") == 1 and stored.count("Written while the server was down") == 1
    assert site.notes["errors"] == []


def test_identity_verification_refuses_a_wrong_hash_and_follows_a_verified_user(site: Site) -> None:
    secret = site.ndoto("inboxes", "secret", "show", "Website Chat")["hmac_token"]
    right = hmac.new(secret.encode(), b"user-42", hashlib.sha256).hexdigest()
    laptop = site.browser.new_context()
    page = laptop.new_page()
    page.goto(site.demo)
    page.locator(f"{ROOT} .bubble").wait_for()
    refused = page.evaluate("""() => window.$ndoto.setUser("user-42", {name: "Nia", identifier_hash: "00ff"})
                               .then(() => "accepted", e => e.status)""")
    assert refused == 401
    accepted = page.evaluate(f"""() => window.$ndoto.setUser("user-42", {{name: "Nia", email: "nia@shop.test", identifier_hash: "{right}"}})""")
    assert accepted["verified"] is True and accepted["name"] == "Nia"
    _open(site, page)
    page.locator(f"{ROOT} textarea").fill("Nia from her laptop")
    page.locator(f"{ROOT} textarea").press("Enter")
    page.locator(f"{LOG} .msg.me:not(.pending)", has_text="Nia from her laptop").wait_for()
    laptop.close()

    phone = site.browser.new_context(viewport={"width": 390, "height": 780}, is_mobile=True, has_touch=True)
    page = phone.new_page()
    page.goto(site.demo)
    page.locator(f"{ROOT} .bubble").wait_for()
    page.evaluate(f"""() => window.$ndoto.setUser("user-42", {{identifier_hash: "{right}"}})""")
    _open(site, page)
    page.locator(f"{LOG} .msg.me", has_text="Nia from her laptop").wait_for()
    site.shot(page, "phone")
    # A phone-sized viewport: the panel takes the screen.
    panel = page.locator(f"{ROOT} .panel").bounding_box()
    assert panel is not None and panel["width"] == 390
    assert page.locator(f"{ROOT} .bubble").is_hidden()  # it would cover the composer
    page.locator(f"{ROOT} header .close").click()
    page.locator(f"{ROOT} .bubble").wait_for(state="visible")
    phone.close()


def test_pre_chat_form_keyboard_and_locale(site: Site) -> None:
    site.ndoto("inboxes", "update", "Website Chat", "--prechat-name", "--prechat-email")
    visitor = site.browser.new_context(viewport={"width": 1100, "height": 720})
    page = visitor.new_page()
    page.goto(site.demo)
    _open(site, page)
    form = page.locator(f"{ROOT} form.prechat")
    form.wait_for()
    assert page.locator(f"{ROOT} form.composer").is_hidden()
    assert page.evaluate("document.querySelector('#ndoto-chat').shadowRoot.activeElement.name") == "name"
    site.shot(page, "prechat")
    page.locator(f"{ROOT} input[name=name]").fill("Zoe")
    page.locator(f"{ROOT} input[name=email]").fill("zoe@shop.test")
    page.locator(f"{ROOT} form.prechat button").click()
    page.locator(f"{ROOT} form.composer").wait_for()
    page.keyboard.press("Escape")  # closes, and gives the focus back to the bubble
    page.locator(f"{ROOT} .panel").wait_for(state="hidden")
    assert page.evaluate("document.querySelector('#ndoto-chat').shadowRoot.activeElement.className") == "bubble"
    visitor.close()

    site.ndoto("inboxes", "update", "Website Chat", "--locale", "fr", "--no-prechat-name", "--no-prechat-email")
    french = site.browser.new_context()
    page = french.new_page()
    page.goto(site.demo)
    bubble = page.locator(f"{ROOT} .bubble")
    bubble.wait_for()
    assert bubble.get_attribute("aria-label") == "Ouvrir la discussion"
    _open(site, page)
    assert page.locator(f"{ROOT} textarea").get_attribute("placeholder") == "Écrivez un message…"
    french.close()
    site.ndoto("inboxes", "update", "Website Chat", "--locale", "en")


def test_a_shop_on_another_origin_chats_when_allowed_and_is_refused_when_not(site: Site, tmp_path: Path) -> None:
    """The real case: the chat embedded in a page of another origin (CORS preflights, the visitor
    header, the stream), then the same page once the inbox no longer allows that origin."""
    import functools
    import http.server
    import threading

    tag = site.ndoto("inboxes", "embed", "Website Chat")["snippet"]
    (tmp_path / "shop.html").write_text(f"<!doctype html><html><head><title>Shop</title></head><body><h1>Shop</h1>{tag}</body></html>")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    shop = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=shop.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{shop.server_address[1]}"
    try:
        site.ndoto("inboxes", "update", "Website Chat", "--allow-origin", origin)
        visitor = site.browser.new_context()
        page = visitor.new_page()
        page.goto(f"{origin}/shop.html")
        _open(site, page)
        page.locator(f"{ROOT} textarea").fill("Hello from the shop")
        page.locator(f"{ROOT} textarea").press("Enter")
        page.locator(f"{LOG} .msg.them", has_text='You said: "Hello from the shop"').wait_for(timeout=20_000)
        visitor.close()

        site.ndoto("inboxes", "update", "Website Chat", "--allow-origin", "https://elsewhere.test")
        time.sleep(5.5)  # the server remembers an origin's answer for 5 s
        refused = site.browser.new_context()
        page = refused.new_page()
        with page.expect_console_message(lambda m: m.type == "warning" and "not available here" in m.text, timeout=20_000):
            page.goto(f"{origin}/shop.html")
        assert page.locator(ROOT).count() == 0  # no bubble on a site the inbox does not allow
        refused.close()
    finally:
        shop.shutdown()
        site.ndoto("inboxes", "update", "Website Chat", "--any-origin")


def test_the_visitor_rates_the_conversation_when_it_is_resolved(site: Site) -> None:
    """An inbox that asks for ratings: at resolution the visitor sees five buttons, picks one, and
    the rating is the conversation's (the humans resolved this one: the bot's figures show it as
    human-resolved)."""
    page = site.page
    page.goto(site.demo)
    _open(site, page)
    site.ndoto("inboxes", "update", "Website Chat", "--csat")
    site.ndoto("conversations", "resolve", str(site.conversation))
    buttons = page.locator(f"{LOG} .msg.them .rating button")
    buttons.first.wait_for(timeout=20_000)
    page.locator(f"{LOG} .msg.them", has_text="How would you rate this conversation?").wait_for()  # in the visitor's language
    assert buttons.all_inner_texts() == ["1", "2", "3", "4", "5"]
    assert buttons.nth(3).get_attribute("aria-label") == "4 out of 5"
    buttons.nth(3).click()
    page.locator(f"{LOG} .rated", has_text="You rated this conversation 4/5").wait_for()
    assert "chosen" in (buttons.nth(3).get_attribute("class") or "")
    site.shot(page, "rating")
    ratings = site.ndoto("bots", "stats", "Flask bot")["outcomes"]["csat"]
    assert ratings["human_resolved"]["rated"] == 1 and ratings["human_resolved"]["average"] == 4.0
    assert ratings["bot_resolved"]["asked"] == 0
    shown = site.ndoto("conversations", "show", str(site.conversation))
    assert shown["csat"]["rating"] == 4 and shown["csat"]["resolved_by"] == "human"
    # After a reload the answer is still there.
    page.reload()
    _open(site, page)
    page.locator(f"{LOG} .rated", has_text="4/5").wait_for()
    site.ndoto("inboxes", "update", "Website Chat", "--no-csat")
    assert site.notes["errors"] == []
