"""Assigning, snoozing, labelling and drafts, against a real SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from opchat.inbox import Inbox
from opchat.model import InboundMessage, Status
from opchat.store import ConversationFilter
from opchat.store.workflow import UnknownOperator

BACKENDS = True  # every test on SQLite and on PostgreSQL (tests/conftest.py)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def inbox(tmp_path: Path) -> AsyncIterator[Inbox]:
    box = await Inbox.open(tmp_path, "anna", clock=Clock())
    await box.store.workflow.ensure_operator("boris")
    yield box
    await box.close()


async def dialog(inbox: Inbox, chat: str, n: int = 1) -> int:
    got = await inbox.store.inbound.ingest(InboundMessage(
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
    moves = [(e.operator, e.data) for e in await inbox.store.events.events_after(0)
             if e.kind == "conversation.assign"]
    assert moves == [("anna", {"from": None, "to": "anna"}),
                     ("anna", {"from": None, "to": "boris"}),
                     ("anna", {"from": "boris", "to": None})]


async def test_auto_assign_picks_the_least_loaded_under_the_cap(inbox: Inbox) -> None:
    dialogs = [await dialog(inbox, f"c{n}") for n in range(5)]
    await inbox.assign(dialogs[0], "anna")
    store = inbox.store
    assert await store.workflow.auto_assign(dialogs[1], ["anna", "boris"], cap=2) == "boris"
    assert await store.workflow.auto_assign(dialogs[1], ["anna", "boris"], cap=2) is None  # taken
    assert await store.workflow.auto_assign(dialogs[2], ["anna", "boris"], cap=2) == "anna"  # a tie
    assert await store.workflow.auto_assign(dialogs[3], ["anna", "boris"], cap=2) == "boris"
    # All full:
    assert await store.workflow.auto_assign(dialogs[4], ["anna", "boris"], cap=2) is None
    assert await store.workflow.auto_assign(dialogs[4], [], cap=2) is None  # nobody online
    assert await store.workflow.open_load() == {"anna": 2, "boris": 2}
    # A resolved dialog no longer counts against the cap.
    await inbox.set_status(dialogs[0], Status.RESOLVED)
    assert await store.workflow.auto_assign(dialogs[4], ["anna", "boris"], cap=2) == "anna"


async def test_snooze_wakes_when_due_or_when_the_customer_writes(inbox: Inbox) -> None:
    clock = inbox.clock
    assert isinstance(clock, Clock)
    quiet, chatty = await dialog(inbox, "quiet"), await dialog(inbox, "chatty")
    await inbox.snooze(quiet, clock.now + 3600)
    await inbox.snooze(chatty, clock.now + 3600)
    snoozed = await inbox.conversation(quiet)
    assert snoozed is not None and snoozed.status == Status.SNOOZED
    assert snoozed.waiting_since is None
    assert await inbox.store.workflow.next_snooze_end() == clock.now + 3600
    await dialog(inbox, "chatty", 2)  # the customer writes: awake at once, waiting again
    chatty_now = await inbox.conversation(chatty)
    assert chatty_now is not None and chatty_now.status == Status.OPEN
    assert chatty_now.waiting_since == clock.now
    assert await inbox.store.workflow.wake_snoozed() == []
    clock.now += 3600
    assert await inbox.store.workflow.wake_snoozed() == [quiet]
    woke = await inbox.conversation(quiet)
    assert woke is not None and woke.status == Status.OPEN
    assert await inbox.store.workflow.next_snooze_end() is None


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


async def test_a_sent_reply_or_note_takes_its_draft_with_it(tmp_path: Path,
                                                           inbox: Inbox) -> None:
    """In the message's own transaction: no second write to forget the draft."""
    conv = await dialog(inbox, "ivan")
    boris = await Inbox.open(tmp_path, "boris")
    try:
        await inbox.save_draft(conv, "Dear Ivan, it ships today")
        await boris.save_draft(conv, "Boris's own words")
        writes: list[str] = []
        inbox.store.db.trace(lambda connection, sql: writes.append(sql)
                             if connection == "writer" and sql.startswith("BEGIN") else None)
        await inbox.send(conv, "Dear Ivan, it ships today")
        inbox.store.db.trace(None)
        assert len(writes) == 1
        assert await inbox.draft(conv) == ""
        assert await boris.draft(conv) == "Boris's own words"  # only the author's
        await inbox.save_draft(conv, "a note to self")
        await inbox.note(conv, "a note to self")
        assert await inbox.draft(conv) == ""
    finally:
        await boris.close()


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
    assert await inbox.store.workflow.auto_assign(conv, ["anna", "boris"], cap=5) is None


async def test_files_sent_with_a_reply_reach_the_outbox(tmp_path: Path, inbox: Inbox) -> None:
    from opchat.model import Attachment

    conv = await dialog(inbox, "ivan")
    price_list = tmp_path / "price.pdf"
    price_list.write_bytes(b"%PDF")
    sent = await inbox.send(conv, "Here it is", attachments=[Attachment(
        "document", "price.pdf", "application/pdf", 4, local_path=str(price_list))])
    [item] = await inbox.store.outbox.claim_due(["web"])
    assert item.message.body == "Here it is"
    assert [(a.kind, a.filename, a.local_path) for a in item.message.attachments] == [
        ("document", "price.pdf", str(price_list))]
    stored = await inbox.message(sent.id)
    assert stored is not None and [a.filename for a in stored.attachments] == ["price.pdf"]


async def test_each_operator_gets_their_own_most_used_replies_first(
        tmp_path: Path, inbox: Inbox) -> None:
    await inbox.store.replies.save_all([("hi", "Greeting", "Hello!"),
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
        assert await inbox.store.replies.delete(by_shortcut["ship"])
        assert "ship" not in [r.shortcut for r in await boris.quick_replies()]
    finally:
        await boris.close()


# A reply that failed keeps its dialog waiting ------------------------------------------------

WAITING = ConversationFilter(waiting_only=True, order="waiting")


async def waiting_ids(inbox: Inbox) -> list[int]:
    return [c.id for c in await inbox.conversations(WAITING)]


async def test_a_failed_reply_keeps_the_dialog_waiting_until_one_is_delivered(
        inbox: Inbox) -> None:
    clock = inbox.clock
    assert isinstance(clock, Clock)
    started = clock.now
    bob, ivan = await dialog(inbox, "bob"), await dialog(inbox, "ivan")
    clock.now += 60
    reply = await inbox.send(bob, "Here is your invoice")
    assert await waiting_ids(inbox) == [ivan]  # queued: he is answered, for now
    [item] = await inbox.store.outbox.claim_due(["web"])
    await inbox.store.outbox.mark_failed(item.message.message_id, "the customer blocked the bot")
    # Not answered after all: waiting again since his own message, and counted as failed.
    conv = await inbox.conversation(bob)
    assert conv is not None and conv.failed_message_id == reply.id
    assert conv.waiting_since == started
    assert await waiting_ids(inbox) == [bob, ivan]
    assert (await inbox.waiting_count(), await inbox.failed_count()) == (2, 1)
    assert await inbox.count(WAITING) == 2
    assert conv.first_response_s is None  # a reply that never arrived is no response
    # Another reply queued does not hide the failure: only one delivered does.
    second = await inbox.send(bob, "Trying again")
    assert bob in await waiting_ids(inbox)
    [item] = await inbox.store.outbox.claim_due(["web"])
    await inbox.store.outbox.mark_sent(item.message.message_id, "x-2")
    conv = await inbox.conversation(bob)
    assert conv is not None and conv.failed_message_id is None and conv.waiting_since is None
    assert conv.first_response_s == 60  # the second reply, queued 60 s after he wrote
    assert (await inbox.waiting_count(), await inbox.failed_count()) == (1, 0)
    kinds = [(e.kind, e.message_id, e.data.get("reason"))
             for e in await inbox.store.events.events_after(0)
             if e.kind.startswith("conversation.fail")]
    assert kinds == [("conversation.failed", reply.id, None),
                     ("conversation.failure_cleared", reply.id, "delivered")]
    assert second.id > reply.id


async def test_a_send_interrupted_by_a_crash_keeps_the_dialog_waiting(
        tmp_path: Path, inbox: Inbox) -> None:
    bob = await dialog(inbox, "bob")
    await inbox.send(bob, "On its way")
    await inbox.store.outbox.claim_due(["web"])  # the hub took it, then died
    assert await waiting_ids(inbox) == []
    # Another process (the next hub) finds it half-sent; this one sees the store.
    other = await Inbox.open(tmp_path, "boris")
    try:
        assert await other.store.outbox.recover_interrupted_sends() == 1
    finally:
        await other.close()
    assert await waiting_ids(inbox) == [bob]
    assert await inbox.failed_count() == 1


async def test_a_failure_reopens_a_dialog_resolved_meanwhile(inbox: Inbox) -> None:
    bob = await dialog(inbox, "bob")
    reply = await inbox.send(bob, "Done, bye")
    await inbox.set_status(bob, Status.RESOLVED)  # Alt+E right after sending
    await inbox.store.outbox.mark_failed(reply.id, "blocked")
    conv = await inbox.conversation(bob)
    assert conv is not None and conv.status == Status.OPEN and conv.waiting_since is not None
    assert await inbox.count(ConversationFilter(statuses=frozenset({Status.OPEN}))) == 1


async def test_dismissing_a_failure_is_recorded_with_who(tmp_path: Path, inbox: Inbox) -> None:
    clock = inbox.clock
    assert isinstance(clock, Clock)
    bob = await dialog(inbox, "bob")
    reply = await inbox.send(bob, "Hello?")
    await inbox.store.outbox.mark_failed(reply.id, "blocked")
    older = await inbox.send(bob, "again")
    await inbox.store.outbox.mark_failed(older.id, "blocked")  # the later failure now stands
    assert not await inbox.dismiss_failure(bob, reply.id)  # not the one that stands
    boris = await Inbox.open(tmp_path, "boris")
    try:
        assert await boris.dismiss_failure(bob, older.id)
        assert not await boris.dismiss_failure(bob)  # nothing left to dismiss
    finally:
        await boris.close()
    assert await waiting_ids(inbox) == []
    assert await inbox.failed_count() == 0
    [dismissed] = [e for e in await inbox.store.events.events_after(0)
                   if e.kind == "conversation.failure_cleared"]
    assert (dismissed.operator, dismissed.message_id, dismissed.data) == (
        "boris", older.id, {"reason": "dismissed"})
    # What the customer wrote after the failed reply still waits for an answer.
    second = await inbox.send(bob, "and again")
    await inbox.store.outbox.mark_failed(second.id, "blocked")
    clock.now += 30
    await dialog(inbox, "bob", 2)
    assert await inbox.dismiss_failure(bob)
    conv = await inbox.conversation(bob)
    assert conv is not None and conv.waiting_since == clock.now


async def test_resolving_dismisses_the_failure_and_an_auto_answer_failing_does_not_count(
        inbox: Inbox) -> None:
    from opchat.model import Direction

    bob, ann = await dialog(inbox, "bob"), await dialog(inbox, "ann")
    reply = await inbox.send(bob, "x")
    await inbox.store.outbox.mark_failed(reply.id, "blocked")
    await inbox.set_status(bob, Status.RESOLVED)
    assert await inbox.failed_count() == 0 and await waiting_ids(inbox) == [ann]
    [cleared] = [e for e in await inbox.store.events.events_after(0)
                 if e.kind == "conversation.failure_cleared"]
    assert (cleared.operator, cleared.data) == ("anna", {"reason": "resolved"})
    auto = await inbox.store.messages.add(ann, "We are closed", None, Direction.AUTO)
    await inbox.store.outbox.mark_failed(auto.id, "blocked")
    assert await inbox.failed_count() == 0 and await waiting_ids(inbox) == [ann]


async def test_opchat_audit_tells_of_a_failure_and_who_dismissed_it(inbox: Inbox) -> None:
    from opchat.audit import text_line

    bob = await dialog(inbox, "bob")
    reply = await inbox.send(bob, "x")
    await inbox.store.outbox.mark_failed(reply.id, "blocked")
    await inbox.dismiss_failure(bob)
    lines = [text_line(e) for e in await inbox.store.events.events_after(0)
             if e.kind.startswith("conversation.fail")]
    assert f"reply message #{reply.id} failed: the conversation waits again" in lines[0]
    assert "anna" in lines[1] and (f"the failure of message #{reply.id} no longer keeps the "
                                   "conversation waiting: dismissed") in lines[1]
