"""The footer shows the keys of what has focus, and is rebuilt once per change of focus
(Textual asks twice), not at all when nothing it shows changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from opchat.config import Settings
from opchat.widgets.conversation_list import ConversationList
from opchat.widgets.footer import InboxFooter
from opchat.widgets.thread_view import ThreadView
from tests.functional.conftest import Clock, make_app, seed_inbox, wait_until

pytestmark = pytest.mark.usefixtures("utc", "english")


async def test_the_footer_follows_the_focus_and_is_rebuilt_once_per_change(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(120, 30)) as pilot:
        conversations = app.query_one(ConversationList)
        await wait_until(pilot, lambda: conversations.row(0) is not None, what="the list")
        footer = app.query_one(InboxFooter)
        rebuilt = []
        recompose = footer.recompose

        async def counted() -> None:
            rebuilt.append(app.focused)
            await recompose()

        footer.recompose = counted  # type: ignore[method-assign]

        def shows() -> list[str]:
            return [key.description for key in footer.query("FooterKey")]

        def wanted() -> list[str]:
            seen: dict[str, str] = {}
            for _, binding, _enabled, _tooltip in app.screen.active_bindings.values():
                if binding.show:
                    seen.setdefault(binding.action, binding.description)
            return list(seen.values())

        await wait_until(pilot, lambda: shows() == wanted(), what="the list's keys")
        await pilot.press("enter")  # opens the dialog, the reply box takes the focus
        thread = app.query_one(ThreadView)
        await wait_until(pilot, lambda: thread.messages, what="the thread")
        for key in ("alt+2", "alt+1", "alt+3"):
            rebuilt.clear()
            before = shows()
            await pilot.press(key)
            await wait_until(pilot, lambda was=before: shows() == wanted() and shows() != was,
                             what=f"the keys after {key}")
            await pilot.pause(0.1)
            assert len(rebuilt) == 1, (key, rebuilt)
        rebuilt.clear()
        await pilot.press("alt+3")  # already there: the same keys
        await pilot.pause(0.1)
        assert rebuilt == []
        assert shows() == wanted()
