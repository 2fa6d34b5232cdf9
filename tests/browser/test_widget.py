"""The widget in a real browser: Debian's chromium, headless, driven by Playwright.

Skipped, with the reason, when chromium or Playwright is not installed; under
CI=true that fails the run instead (`.ci/run` installs both).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from opchat.model import Health, MessageState, PresenceKind
from opchat.transports.webchat import channel as webchat
from tests.functional.test_webchat import Site, channel_health, running_site, until
from tests.tools import missing, require_chromium

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]

require_chromium()
try:
    from playwright.async_api import Page, async_playwright, expect
except ImportError:
    missing("playwright is not installed (pip install -e '.[test]')")


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async with running_site(tmp_path) as running:
        await running.inbox.heartbeat(None)  # an operator has opchat open: the plain chat
        yield running


@pytest.fixture
async def nobody(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Site]:
    """A site with no operator online (the offline form), told quickly when one comes."""
    monkeypatch.setattr(webchat, "STATUS_INTERVAL", 0.2)
    async with running_site(tmp_path) as running:
        yield running


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS,
                                                   headless=True)
        try:
            context = await browser.new_context(viewport={"width": 1000, "height": 760})
            yield await context.new_page()
        finally:
            await browser.close()


async def write(page: Page, text: str) -> None:
    await page.locator(".opchat-input").fill(text)
    await page.locator(".opchat-input").press("Enter")


async def test_chat_from_the_demo_page_with_history_after_reload(site: Site, page: Page) -> None:
    await page.goto(site.base + "/")
    await page.locator(".opchat-launcher").click()
    await expect(page.locator(".opchat-title")).to_have_text("Chat with us")
    await write(page, "Hello from the browser")
    mine = page.locator(".opchat-visitor").last
    await expect(mine).to_have_attribute("data-state", "sent")

    conversation_id = await site.conversation_of("Hello from the browser")
    reply = await site.inbox.send(conversation_id, "Hi! An operator here.")
    await expect(page.locator(".opchat-operator .opchat-bubble").last).to_have_text(
        "Hi! An operator here.")

    async def read() -> bool:
        message = await site.inbox.message(reply.id)
        return message is not None and message.state is MessageState.READ

    await until(read, "the reply marked read by the open panel")
    await page.reload()
    await expect(page.locator(".opchat-title")).to_have_text("Chat with us")
    await expect(page.locator(".opchat-badge")).to_be_hidden()  # nothing new since
    await page.locator(".opchat-launcher").click()
    bubbles = page.locator(".opchat-row:not(.opchat-greeting) .opchat-bubble")
    await expect(bubbles).to_have_text(["Hello from the browser", "Hi! An operator here."])
    # Still one dialog: the token in localStorage brought the visitor back.
    assert len(await site.inbox.conversations()) == 1


async def test_the_demo_page_loads_without_a_failed_request_or_a_console_error(
        site: Site, page: Page) -> None:
    """What a browser asks of the hub for the demo page (the page, the widget, its
    style, the socket, the tab's icon) is all there: nothing a developer's console
    reports as failed."""
    failed: list[str] = []
    errors: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400
            else None)
    page.on("requestfailed", lambda r: failed.append(f"failed {r.url}"))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await page.goto(site.base + "/")
    await page.locator(".opchat-launcher").click()
    await expect(page.locator(".opchat-title")).to_have_text("Chat with us")
    await write(page, "Is anything missing?")
    await expect(page.locator(".opchat-visitor").last).to_have_attribute("data-state", "sent")
    assert failed == [] and errors == []


async def test_markup_from_either_side_shows_as_text(site: Site, page: Page) -> None:
    await page.goto(site.base + "/")
    await page.locator(".opchat-launcher").click()
    payload = '<img src=x onerror="window.__xss=1">'
    await write(page, payload)
    await expect(page.locator(".opchat-visitor .opchat-bubble").last).to_have_text(payload)
    conversation_id = await site.conversation_of(payload)
    answer = "<b>bold</b><script>window.__xss=2</script><img src=x onerror=window.__xss=3>"
    await site.inbox.send(conversation_id, answer)
    await expect(page.locator(".opchat-operator .opchat-bubble").last).to_have_text(answer)
    assert await page.locator(".opchat-messages img, .opchat-messages b, "
                              ".opchat-messages script").count() == 0
    assert await page.evaluate("window.__xss") is None


async def test_the_panel_fills_a_phone_screen(nobody: Site, page: Page) -> None:
    await page.set_viewport_size({"width": 375, "height": 667})
    await page.goto(nobody.base + "/")
    await page.locator(".opchat-launcher").click()
    box = await page.locator(".opchat-panel").bounding_box()
    assert box is not None and box["width"] >= 370 and box["height"] >= 600
    # The offline form fits: its button is on the screen.
    button = await page.locator(".opchat-offline .opchat-submit").bounding_box()
    assert button is not None and button["y"] + button["height"] <= 667
    assert button["x"] + button["width"] <= 375
    await nobody.inbox.heartbeat(None)
    await expect(page.locator(".opchat-input")).to_be_visible()
    await write(page, "from a phone")
    await expect(page.locator(".opchat-visitor").last).to_have_attribute("data-state", "sent")


async def test_the_operator_typing_shows_and_the_draft_reaches_the_operator(
    site: Site, page: Page
) -> None:
    await page.goto(site.base + "/")
    await page.locator(".opchat-launcher").click()
    await write(page, "Hello")
    conversation_id = await site.conversation_of("Hello")
    await site.inbox.set_typing(conversation_id)
    typing = page.locator(".opchat-typing")
    await expect(typing).to_have_text("Operator is typing\u2026")
    await site.inbox.send(conversation_id, "Hi there")
    await expect(page.locator(".opchat-operator .opchat-bubble").last).to_have_text("Hi there")
    await expect(typing).to_be_hidden()  # a reply ends it

    # The other way: what the visitor types reaches the operator as they type it.
    await page.locator(".opchat-input").press_sequentially("Is the cake fresh", delay=20)

    async def draft() -> list[str]:
        return [row.text for row in await site.inbox.presence()
                if row.kind is PresenceKind.CUSTOMER_TYPING]

    await until(lambda: _is(draft, ["Is the cake fresh"]), "the whole draft")
    await page.locator(".opchat-input").fill("")
    await until(lambda: _is(draft, []), "typing to stop when the field is emptied")


async def _is(check, wanted) -> bool:
    return await check() == wanted


async def test_the_offline_form_submits_and_gives_way_to_the_chat(
    nobody: Site, page: Page
) -> None:
    await page.goto(nobody.base + "/")
    await page.locator(".opchat-launcher").click()
    offline = page.locator(".opchat-offline")
    await expect(offline).to_contain_text("Operators are offline")
    await expect(page.locator(".opchat-form")).to_be_hidden()
    await offline.get_by_label("Your name").fill("Maria")
    await offline.get_by_label("Phone").fill("+7 900 123-45-67")
    await offline.get_by_label("Message").fill("Do you deliver on Sundays?")
    await offline.locator(".opchat-submit").click()
    await expect(page.locator(".opchat-done")).to_have_text("Thank you! We will answer you soon.")
    await expect(page.locator(".opchat-visitor .opchat-bubble").last).to_have_text(
        "Do you deliver on Sundays?")
    conversation_id = await nobody.conversation_of("Do you deliver on Sundays?")
    [message] = await nobody.inbox.messages(conversation_id)
    assert message.meta["contact_form"] is True and message.author == "Maria"
    # An operator comes: the chat is back, no reload.
    await nobody.inbox.heartbeat(None)
    await expect(page.locator(".opchat-form")).to_be_visible()
    await expect(offline).to_be_hidden()


async def test_call_me_back_from_the_keyboard(site: Site, page: Page) -> None:
    await page.goto(site.base + "/")
    await page.locator(".opchat-launcher").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator(".opchat-input")).to_be_focused()
    await page.locator(".opchat-callback-open").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator(".opchat-callback")).to_be_visible()
    await expect(page.locator(".opchat-callback").get_by_label("Phone")).to_be_focused()
    await page.keyboard.type("+7 900 123-45-67")
    await page.keyboard.press("Tab")
    await page.keyboard.type("after 18:00")
    await page.keyboard.press("Enter")
    await expect(page.locator(".opchat-system")).to_have_text("Thank you! We will call you back.")
    await expect(page.locator(".opchat-callback")).to_be_hidden()
    await expect(page.locator(".opchat-visitor .opchat-bubble").last).to_have_text(
        "Call me back: +7 900 123-45-67, after 18:00")
    conversation_id = await site.conversation_of("Call me back: +7 900 123-45-67, after 18:00")
    conversation = await site.inbox.conversation(conversation_id)
    assert conversation is not None and conversation.labels == ("callback",)
    await page.keyboard.press("Escape")
    await expect(page.locator(".opchat-panel")).to_be_hidden()


async def test_markup_in_the_operator_name_shows_as_text(tmp_path: Path, page: Page) -> None:
    payload = '<img src=x onerror="window.__xss=1"><b>Anna</b>'
    async with running_site(tmp_path, operator_name=payload,
                            operator_photo="/photo.png") as site:
        await site.inbox.heartbeat(None)
        await page.goto(site.base + "/")
        await page.locator(".opchat-launcher").click()
        await expect(page.locator(".opchat-agent")).to_have_text(payload)
        assert await page.locator(".opchat-photo").get_attribute("alt") == payload
        assert await page.locator(".opchat-photo").evaluate("img => img.src") == \
            site.base + "/photo.png"
        await write(page, "hi")
        conversation_id = await site.conversation_of("hi")
        await site.inbox.set_typing(conversation_id)
        await expect(page.locator(".opchat-typing")).to_have_text(payload + " is typing\u2026")
        assert await page.locator(".opchat img:not(.opchat-photo), .opchat b").count() == 0
        assert await page.evaluate("window.__xss") is None


async def test_without_sneak_peek_the_draft_never_leaves_the_browser(
    tmp_path: Path, page: Page
) -> None:
    sent: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent.append(frame)))
    async with running_site(tmp_path, sneak_peek=False) as site:
        await site.inbox.heartbeat(None)
        await page.goto(site.base + "/")
        await page.locator(".opchat-launcher").click()
        await write(page, "Hello")
        conversation_id = await site.conversation_of("Hello")
        await page.locator(".opchat-input").press_sequentially("my secret draft", delay=20)

        async def typing() -> list[str]:
            return [row.text for row in await site.inbox.presence()
                    if row.kind is PresenceKind.CUSTOMER_TYPING
                    and row.conversation_id == conversation_id]

        assert await until(typing, "typing") == [""]
        frames = [json.loads(frame) for frame in sent]
        assert any(f["type"] == "typing" and f["active"] for f in frames)
        assert not any("secret" in frame for frame in sent)


# Issue 10: the widget never loses a visitor's words -------------------------------------

ELSEWHERE = "https://elsewhere.example"  # a site the channel's origin setting does not name


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with async_playwright() as playwright:
        # A page on a public site may load the widget from a loopback hub only here: in
        # real use the hub is public too.
        args = [*ARGS, "--disable-features=LocalNetworkAccessChecks,"
                "BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessRespectPreflightResults"]
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=args,
                                                    headless=True)
        try:
            yield launched
        finally:
            await launched.close()


async def new_page(browser: Any, width: int = 1000, height: int = 760,
                   languages: list[str] | None = None) -> Page:
    """A page whose browser prefers ``languages`` (navigator.languages), first one as
    the locale."""
    locale = languages[0] if languages else "en-US"
    context = await browser.new_context(viewport={"width": width, "height": height},
                                        locale=locale)
    if languages:
        getter = "{get: () => " + json.dumps(languages) + "}"
        await context.add_init_script(
            f"Object.defineProperty(navigator, 'languages', {getter});")
    return await context.new_page()


async def open_on(page: Page, site_origin: str, hub: str) -> None:
    """A page on another site embedding the hub's widget (no network: Playwright
    answers for the site; the widget talks to the real hub)."""
    html = (f'<!doctype html><html><head><title>Shop</title></head><body><h1>Shop</h1>'
            f'<script src="{hub}/widget.js" async></script></body></html>')

    async def fulfil(route: Any) -> None:
        await route.fulfill(status=200, content_type="text/html", body=html)

    await page.route(site_origin + "/**", fulfil)
    await page.goto(site_origin + "/cakes")


@pytest.mark.parametrize(("languages", "words"), [
    (None, "Cannot connect to the chat"),
    (["ru-RU", "ru"], "Не удаётся подключиться к чату"),
])
async def test_a_site_not_allowed_says_it_cannot_connect_and_keeps_the_text(
    site: Site, browser: Any, languages: list[str] | None, words: str
) -> None:
    page = await new_page(browser, languages=languages)
    refused = []
    page.on("websocket", lambda ws: refused.append(ws))
    await open_on(page, ELSEWHERE, site.base)
    await page.locator(".opchat-launcher").click()
    await expect(page.locator(".opchat-subtitle")).to_contain_text(words)
    await write(page, "Do you have cakes?")
    # Nothing pretends to be sent: no bubble, the words stay where the visitor typed them.
    await expect(page.locator(".opchat-alert")).to_contain_text(words)
    await expect(page.locator(".opchat-input")).to_have_value("Do you have cakes?")
    assert await page.locator(".opchat-visitor").count() == 0
    assert refused, "the widget tried the hub"
    assert await site.inbox.conversations() == []


async def test_a_long_message_arrives_whole(site: Site, page: Page) -> None:
    await page.goto(site.base + "/")
    await page.locator(".opchat-launcher").click()
    # Over twice the hub's limit, with emoji (two UTF-16 units each) all along.
    text = "".join(f"Слово {i} 😀 " for i in range(900)) + "end"
    assert len(text) > 2 * webchat.MAX_TEXT
    await write(page, text)
    await expect(page.locator(".opchat-input")).to_have_value("")

    async def stored() -> list[str] | None:
        conversations = await site.inbox.conversations()
        if not conversations:
            return None
        bodies = [m.body for m in await site.inbox.messages(conversations[0].id)]
        return bodies if "".join(bodies) == text else None

    bodies = await until(stored, "the whole text stored")
    assert len(bodies) == 3 and all(len(body) <= webchat.MAX_TEXT for body in bodies)
    await expect(page.locator(".opchat-visitor[data-state=sent]")).to_have_count(3)
    await expect(page.locator(".opchat-system")).to_contain_text("3 parts")


async def test_a_long_offline_message_is_refused_before_sending(
    nobody: Site, page: Page
) -> None:
    await page.goto(nobody.base + "/")
    await page.locator(".opchat-launcher").click()
    offline = page.locator(".opchat-offline")
    await offline.get_by_label("Phone").fill("+7 900 123-45-67")
    text = "x" * (webchat.MAX_TEXT + 10)
    await offline.get_by_label("Message").fill(text)
    assert len(await offline.get_by_label("Message").input_value()) == len(text)  # not cut
    await offline.locator(".opchat-submit").click()
    await expect(offline.locator(".opchat-error")).to_contain_text("4000")
    assert await nobody.inbox.conversations() == []


async def test_a_russian_browser_gets_the_widget_in_russian(tmp_path: Path, browser: Any
                                                            ) -> None:
    texts = {"ru": {"title": "Пишите, мы рядом"}, "en": {"placeholder": "Ask us anything"}}
    async with running_site(tmp_path, texts=texts) as site:
        page = await new_page(browser, languages=["de-DE", "ru-RU", "en"])
        await page.goto(site.base + "/")
        await page.locator(".opchat-launcher").click()
        await expect(page.locator(".opchat-title")).to_have_text("Пишите, мы рядом")
        await expect(page.locator(".opchat-greeting")).to_have_text(
            "Здравствуйте! Чем можем помочь?")
        assert await page.locator(".opchat-input").get_attribute("placeholder") == \
            "Напишите сообщение…"
        # Nobody online: the offline form, and the hub's refusal, in Russian too.
        offline = page.locator(".opchat-offline")
        await expect(offline).to_contain_text("Операторы не в сети")
        await expect(page.locator(".opchat-subtitle")).to_have_text("Сейчас мы не в сети")
        await offline.get_by_label("Эл. почта").fill("maria@localhost")  # the hub wants a dot
        await offline.get_by_label("Сообщение").fill("Привет")
        await offline.locator(".opchat-submit").click()
        await expect(offline.locator(".opchat-error")).to_have_text(
            "Это не похоже на адрес эл. почты")
        assert "email" not in (await page.locator(".opchat").inner_text()).lower()

        english = await new_page(browser)
        await english.goto(site.base + "/")
        await english.locator(".opchat-launcher").click()
        await expect(english.locator(".opchat-title")).to_have_text("Chat with us")
        assert await english.locator(".opchat-input").get_attribute("placeholder") == \
            "Ask us anything"


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (375, 667)])
async def test_the_offline_form_fits_and_says_offline(
    nobody: Site, browser: Any, width: int, height: int
) -> None:
    page = await new_page(browser, width, height)
    await page.goto(nobody.base + "/")
    await page.locator(".opchat-launcher").click()
    offline = page.locator(".opchat-offline")
    await expect(offline).to_be_visible()
    await expect(page.locator(".opchat-subtitle")).to_have_text("We are offline now")
    send = offline.locator(".opchat-submit")
    await expect_on_screen(page, send, width, height)
    await offline.get_by_label("Phone").fill("+7 900 123-45-67")
    await offline.get_by_label("Message").fill("Do you deliver on Sundays?")
    await send.click()
    done = offline.locator(".opchat-done")
    await expect(done).to_have_text("Thank you! We will answer you soon.")
    await expect_on_screen(page, done, width, height)


async def expect_on_screen(page: Page, element: Any, width: int, height: int) -> None:
    """Inside the window and not hidden under a scrolled part of the panel: the topmost
    element at its centre is itself."""
    box = await element.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["y"] >= 0
    assert box["x"] + box["width"] <= width and box["y"] + box["height"] <= height, box
    on_top = await element.evaluate(
        "e => { const r = e.getBoundingClientRect();"
        " const t = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);"
        " return t === e || e.contains(t); }")
    assert on_top, "covered or scrolled away"


async def test_the_launcher_and_panel_speak_to_a_screen_reader(site: Site, page: Page) -> None:
    await page.goto(site.base + "/")
    launcher = page.locator(".opchat-launcher")
    await expect(launcher).to_have_attribute("aria-expanded", "false")
    await expect(launcher).to_have_attribute("aria-label", "Open chat")
    await launcher.click()
    await expect(launcher).to_have_attribute("aria-expanded", "true")
    await expect(page.get_by_role("dialog", name="Chat with us")).to_be_visible()
    await expect(page.locator(".opchat-input")).to_be_focused()
    await write(page, "Hello")
    conversation_id = await site.conversation_of("Hello")
    await page.keyboard.press("Escape")
    await expect(launcher).to_be_focused()
    await expect(launcher).to_have_attribute("aria-expanded", "false")
    await site.inbox.send(conversation_id, "One")
    await site.inbox.send(conversation_id, "Two")
    await expect(launcher).to_have_attribute("aria-label", "Open chat, 2 unread")
    # Tab order: the launcher first, then the panel it opens.
    await page.keyboard.press("Enter")
    await expect(page.locator(".opchat-input")).to_be_focused()
    await launcher.focus()
    await page.keyboard.press("Tab")
    assert await page.evaluate(
        "document.activeElement.closest('.opchat-panel') !== null"), "Tab left the widget"


async def test_the_draft_is_cut_between_characters(site: Site, page: Page) -> None:
    sent: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent.append(frame)))
    await page.goto(site.base + "/")
    await page.locator(".opchat-launcher").click()
    await write(page, "Hello")
    conversation_id = await site.conversation_of("Hello")
    # The emoji straddles the 1,000th UTF-16 unit: cut by units it would be half a one.
    draft = "a" * (webchat.MAX_DRAFT - 1) + "😀" + "b" * 10
    await page.locator(".opchat-input").fill(draft)

    async def typed() -> list[str]:
        return [row.text for row in await site.inbox.presence()
                if row.kind is PresenceKind.CUSTOMER_TYPING
                and row.conversation_id == conversation_id and row.text]

    assert await until(typed, "the draft") == ["a" * (webchat.MAX_DRAFT - 1) + "😀"]
    assert not any('"too_long"' in frame for frame in sent)


async def first_message_then_a_full_disk(site: Site, page: Page) -> None:
    """The visitor's first message goes through; then the hub's store refuses every
    message as a full disk does (until the trigger is dropped)."""
    await page.goto(site.base + "/")
    await page.locator(".opchat-launcher").click()
    await write(page, "first")
    await expect(page.locator(".opchat-visitor").last).to_have_attribute("data-state", "sent")
    await site.inbox.store.db.write(lambda conn: conn.execute(
        "CREATE TEMP TRIGGER refuse BEFORE INSERT ON main.messages "
        "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"))


async def test_a_message_the_store_could_not_take_is_sent_again_until_it_is(
        site: Site, page: Page) -> None:
    """A full disk or a broken store answers server_error: the widget keeps the words
    and sends them again (same cid, so never twice) until the hub takes them."""
    await first_message_then_a_full_disk(site, page)
    await write(page, "while the disk is full")

    async def refused() -> bool:
        return (await channel_health(site))[0] is Health.DEGRADED

    await until(refused, "the store to refuse the message")
    await expect(page.locator(".opchat-visitor").last).not_to_have_attribute(
        "data-state", "failed")
    await site.inbox.store.db.write(lambda conn: conn.execute("DROP TRIGGER temp.refuse"))
    await expect(page.locator(".opchat-visitor").last).to_have_attribute(
        "data-state", "sent", timeout=20_000)
    [conversation] = await site.inbox.conversations()
    bodies = [m.body for m in await site.inbox.messages(conversation.id)]
    assert bodies == ["first", "while the disk is full"]


async def test_many_messages_the_store_refused_all_arrive_and_none_is_refused_as_too_fast(
        site: Site, page: Page) -> None:
    """After a full disk, a visitor with many unsent messages gets every one through: the
    widget sends them again at the pace the hub takes them, so it is never refused as too
    fast (which, repeated, would close its socket again and again)."""
    codes: list[str] = []

    def watch(ws: Any) -> None:
        def received(payload: Any) -> None:
            frame = json.loads(payload)
            if frame.get("type") == "error" and frame.get("cid"):  # about a message
                codes.append(frame["code"])
        ws.on("framereceived", received)

    page.on("websocket", watch)
    await first_message_then_a_full_disk(site, page)
    texts = [f"while full {n}" for n in range(1, 13)]  # more than the hub takes at once
    for text in texts:
        await write(page, text)
    await until(lambda: _async(codes.count("server_error") >= len(texts)),
                "every message refused", timeout=60)
    await site.inbox.store.db.write(lambda conn: conn.execute("DROP TRIGGER temp.refuse"))
    rows = page.locator(".opchat-visitor[data-state='sent']")
    await expect(rows).to_have_count(len(texts) + 1, timeout=90_000)
    [conversation] = await site.inbox.conversations()
    bodies = [m.body for m in await site.inbox.messages(conversation.id)]
    assert sorted(bodies) == sorted(["first", *texts])  # each once
    assert "rate_limited" not in codes, codes


async def _async(value: bool) -> bool:
    return value


async def test_the_subtitle_says_how_soon_people_are_answered(tmp_path: Path,
                                                             browser: Any) -> None:
    """Five visitors answered in 40 s this week: "within a minute", in the visitor's
    language; with nothing measured yet, the plain subtitle claims no time."""
    from tests.functional.test_webchat import answered_dialogs

    async with running_site(tmp_path) as site:
        await site.inbox.heartbeat(None)
        page = await new_page(browser)
        await page.goto(site.base + "/")
        await page.locator(".opchat-launcher").click()
        await expect(page.locator(".opchat-subtitle")).to_have_text("We answer here")
    measured = tmp_path / "measured"
    measured.mkdir()
    await answered_dialogs(measured, 5, 40)
    async with running_site(measured) as site:
        await site.inbox.heartbeat(None)
        for languages, words in ((None, "We usually answer within a minute"),
                                 (["ru-RU"], "Обычно отвечаем в течение минуты")):
            page = await new_page(browser, languages=languages)
            await page.goto(site.base + "/")
            await page.locator(".opchat-launcher").click()
            await expect(page.locator(".opchat-subtitle")).to_have_text(words)


async def test_a_visitor_rates_the_resolved_chat_with_a_digit(tmp_path: Path,
                                                             browser: Any) -> None:
    from opchat.config import AutoAnswers
    from opchat.model import Status

    async with running_site(tmp_path, auto=AutoAnswers(rating=True)) as site:
        await site.inbox.heartbeat(None)
        page = await new_page(browser)
        await page.goto(site.base + "/")
        await page.locator(".opchat-launcher").click()
        await write(page, "Is the chocolate cake fresh?")
        conversation_id = await site.conversation_of("Is the chocolate cake fresh?")
        await site.inbox.send(conversation_id, "Baked this morning!")
        await site.inbox.set_status(conversation_id, Status.RESOLVED)
        operator = page.locator(".opchat-operator .opchat-bubble")
        await expect(operator.last).to_contain_text("How did we do?")
        await write(page, "5 lovely, thank you")
        await expect(operator.last).to_have_text("Thank you for your rating!")
        conversation = await site.inbox.conversation(conversation_id)
        assert conversation is not None and conversation.status is Status.RESOLVED
        card = await site.inbox.contact_card(conversation.contact_id)
        assert card is not None
        assert [(r.rating, r.comment) for r in card.ratings] == [(5, "lovely, thank you")]


async def test_a_visitor_rates_with_a_button_and_the_buttons_go(tmp_path: Path,
                                                               browser: Any) -> None:
    """The rating question comes with five buttons; a press sends its words with its
    payload; the buttons go once answered, and after a reload they are not offered again."""
    from opchat.config import AutoAnswers
    from opchat.model import Status

    async with running_site(tmp_path, auto=AutoAnswers(rating=True)) as site:
        await site.inbox.heartbeat(None)
        page = await new_page(browser)
        await page.goto(site.base + "/")
        await page.locator(".opchat-launcher").click()
        await write(page, "Do you deliver on Sundays?")
        conversation_id = await site.conversation_of("Do you deliver on Sundays?")
        await site.inbox.send(conversation_id, "Yes, 10 to 16.")
        await site.inbox.set_status(conversation_id, Status.RESOLVED)
        buttons = page.locator(".opchat-choice")
        await expect(buttons).to_have_text(["5 ★★★★★", "4 ★★★★", "3 ★★★", "2 ★★", "1 ★"])
        await buttons.nth(1).click()
        await expect(page.locator(".opchat-visitor .opchat-bubble").last).to_have_text("4 ★★★★")
        await expect(page.locator(".opchat-choice")).to_have_count(0)
        await expect(page.locator(".opchat-operator .opchat-bubble").last).to_have_text(
            "Thank you for your rating!")
        conversation = await site.inbox.conversation(conversation_id)
        assert conversation is not None and conversation.status is Status.RESOLVED
        card = await site.inbox.contact_card(conversation.contact_id)
        assert card is not None and [(r.rating, r.comment) for r in card.ratings] == [(4, "")]
        await page.reload()
        await page.locator(".opchat-launcher").click()
        await expect(page.locator(".opchat-operator .opchat-bubble").last).to_have_text(
            "Thank you for your rating!")
        assert await page.locator(".opchat-choice").count() == 0
