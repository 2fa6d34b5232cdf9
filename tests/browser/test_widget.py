"""The widget in a real browser: Debian's chromium, headless, driven by Playwright.

Skipped, with the reason, when chromium or Playwright is not installed; under
CI=true that fails the run instead (`.ci/run` installs both).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from opchat.model import MessageState, PresenceKind
from opchat.transports import webchat
from tests.functional.test_webchat import Site, running_site, until
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
