"""The widget in a real browser: Debian's chromium, headless, driven by Playwright.

Skipped, with the reason, when chromium or Playwright is not installed (`.ci/run`
installs both); never passed without running.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from opchat.model import MessageState
from tests.functional.test_webchat import Site, running_site, until

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)",
                allow_module_level=True)
try:
    from playwright.async_api import Page, async_playwright, expect
except ImportError:
    pytest.skip("playwright is not installed (pip install -e '.[test]')", allow_module_level=True)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
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


async def test_the_panel_fills_a_phone_screen(site: Site, page: Page) -> None:
    await page.set_viewport_size({"width": 375, "height": 667})
    await page.goto(site.base + "/")
    await page.locator(".opchat-launcher").click()
    box = await page.locator(".opchat-panel").bounding_box()
    assert box is not None and box["width"] >= 370 and box["height"] >= 600
    await write(page, "from a phone")
    await expect(page.locator(".opchat-visitor").last).to_have_attribute("data-state", "sent")
