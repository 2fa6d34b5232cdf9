"""Assigning, snoozing, labelling and drafts, against a real SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from opchat.inbox import Inbox
from opchat.model import InboundMessage, Status
from opchat.store import ConversationFilter
from opchat.store.workflow import UnknownOperator


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def inbox(tmp_path: Path) -> AsyncIterator[Inbox]:
    box = await Inbox.open(tmp_path, "anna", clock=Clock())
    await box.store.ensure_operator("boris")
    yield box
    await box.close()


async def dialog(inbox: Inbox, chat: str, n: int = 1) -> int:
    got = await inbox.store.ingest(InboundMessage(
        channel="web", chat_id=chat, external_id=f"{chat}-{n}", sender_id=chat,
        sender_name=chat.title(), body="hello"))
    return got.conversation_id


async def test_assign_views_and_events(inbox: Inbox) -> None:
    first, second, third = [await dialog(inbox, c) for c in ("ivan", "olga", "petr")]
    assert await inbox.assign(first, "anna")
    assert not await inbox.assign(first, "anna")  # nothing changed, no event
    assert await inbox.assign(second, "boris")
    mine = ConversationFilter(assignee="anna")
    unassigned = ConversationFilter(unassigned=True)
    assert [c.id for c in await inbox.conversations(mine)] == [first]
    assert [c.id for c in await inbox.conversations(unassigned)] == [third]
    assert await inbox.count(ConversationFilter(assignee="boris")) == 1
    assert await inbox.assign(second, None)
    assert await inbox.count(unassigned) == 2
    with pytest.raises(UnknownOperator):
        await inbox.assign(third, "nobody")
    moves = [(e.operator, e.data) for e in await inbox.store.events_after(0)
             if e.kind == "conversation.assign"]
    assert moves == [("anna", {"from": None, "to": "anna"}),
                     ("anna", {"from": None, "to": "boris"}),
                     ("anna", {"from": "boris", "to": None})]


async def test_auto_assign_picks_the_least_loaded_under_the_cap(inbox: Inbox) -> None:
    dialogs = [await dialog(inbox, f"c{n}") for n in range(5)]
    await inbox.assign(dialogs[0], "anna")
    store = inbox.store
    assert await store.auto_assign(dialogs[1], ["anna", "boris"], cap=2) == "boris"
    assert await store.auto_assign(dialogs[1], ["anna", "boris"], cap=2) is None  # taken
    assert await store.auto_assign(dialogs[2], ["anna", "boris"], cap=2) == "anna"  # a tie
    assert await store.auto_assign(dialogs[3], ["anna", "boris"], cap=2) == "boris"
    assert await store.auto_assign(dialogs[4], ["anna", "boris"], cap=2) is None  # all full
    assert await store.auto_assign(dialogs[4], [], cap=2) is None  # nobody online
    assert await store.open_load() == {"anna": 2, "boris": 2}
    # A resolved dialog no longer counts against the cap.
    await inbox.set_status(dialogs[0], Status.RESOLVED)
    assert await store.auto_assign(dialogs[4], ["anna", "boris"], cap=2) == "anna"


async def test_snooze_wakes_when_due_or_when_the_customer_writes(inbox: Inbox) -> None:
    clock = inbox.clock
    assert isinstance(clock, Clock)
    quiet, chatty = await dialog(inbox, "quiet"), await dialog(inbox, "chatty")
    await inbox.snooze(quiet, clock.now + 3600)
    await inbox.snooze(chatty, clock.now + 3600)
    snoozed = await inbox.conversation(quiet)
    assert snoozed is not None and snoozed.status == Status.SNOOZED
    assert snoozed.waiting_since is None
    assert await inbox.store.next_snooze_end() == clock.now + 3600
    await dialog(inbox, "chatty", 2)  # the customer writes: awake at once, waiting again
    chatty_now = await inbox.conversation(chatty)
    assert chatty_now is not None and chatty_now.status == Status.OPEN
    assert chatty_now.waiting_since == clock.now
    assert await inbox.store.wake_snoozed() == []
    clock.now += 3600
    assert await inbox.store.wake_snoozed() == [quiet]
    woke = await inbox.conversation(quiet)
    assert woke is not None and woke.status == Status.OPEN
    assert await inbox.store.next_snooze_end() is None


async def test_labels_filter_and_removal(inbox: Inbox) -> None:
    vip, other = await dialog(inbox, "vip"), await dialog(inbox, "other")
    assert await inbox.label(vip, "VIP")
    assert not await inbox.label(vip, "vip")  # the same label in another case
    assert await inbox.label(other, "wholesale")
    assert await inbox.label(vip, "wholesale")
    assert [lb.name for lb in await inbox.labels()] == ["wholesale", "VIP"]  # most used first
    assert [c.id for c in await inbox.conversations(ConversationFilter(label="vip"))] == [vip]
    assert await inbox.unlabel(vip, "VIP")
    assert not await inbox.unlabel(vip, "VIP")
    conversation = await inbox.conversation(vip)
    assert conversation is not None and conversation.labels == ("wholesale",)


async def test_drafts_are_per_operator_and_survive_reopening(tmp_path: Path,
                                                             inbox: Inbox) -> None:
    conv = await dialog(inbox, "ivan")
    await inbox.save_draft(conv, "Dear Ivan, about your order")
    boris = await Inbox.open(tmp_path, "boris")
    try:
        assert await boris.draft(conv) == ""  # a draft is its operator's own
    finally:
        await boris.close()
    again = await Inbox.open(tmp_path, "anna")
    try:
        assert await again.draft(conv) == "Dear Ivan, about your order"
        await again.save_draft(conv, "   ")
        assert await again.draft(conv) == ""
    finally:
        await again.close()


async def test_a_dialog_taken_off_someone_is_not_auto_assigned_again(inbox: Inbox) -> None:
    conv = await dialog(inbox, "ivan")
    await inbox.assign(conv, "boris")
    await inbox.assign(conv, None)  # the operator wants it unassigned
    assert await inbox.store.auto_assign(conv, ["anna", "boris"], cap=5) is None


async def test_files_sent_with_a_reply_reach_the_outbox(tmp_path: Path, inbox: Inbox) -> None:
    from opchat.model import Attachment

    conv = await dialog(inbox, "ivan")
    price_list = tmp_path / "price.pdf"
    price_list.write_bytes(b"%PDF")
    sent = await inbox.send(conv, "Here it is", attachments=[Attachment(
        "document", "price.pdf", "application/pdf", 4, local_path=str(price_list))])
    [item] = await inbox.store.claim_due(["web"])
    assert item.message.body == "Here it is"
    assert [(a.kind, a.filename, a.local_path) for a in item.message.attachments] == [
        ("document", "price.pdf", str(price_list))]
    stored = await inbox.message(sent.id)
    assert stored is not None and [a.filename for a in stored.attachments] == ["price.pdf"]


async def test_each_operator_gets_their_own_most_used_replies_first(
        tmp_path: Path, inbox: Inbox) -> None:
    await inbox.store.save_quick_replies([("hi", "Greeting", "Hello!"),
                                          ("ship", "Shipping", "Two days."),
                                          ("bye", "Goodbye", "Bye!")])
    boris = await Inbox.open(tmp_path, "boris")
    try:
        by_shortcut = {r.shortcut: r.id for r in await inbox.quick_replies()}
        for _ in range(3):
            await boris.quick_reply_used(by_shortcut["ship"])
        await inbox.quick_reply_used(by_shortcut["bye"])
        assert [r.shortcut for r in await inbox.quick_replies()][:2] == ["bye", "ship"]
        assert [r.shortcut for r in await boris.quick_replies()][:2] == ["ship", "bye"]
        # A used reply can still be deleted; its counts go with it.
        assert await inbox.store.delete_quick_reply(by_shortcut["ship"])
        assert "ship" not in [r.shortcut for r in await boris.quick_replies()]
    finally:
        await boris.close()
