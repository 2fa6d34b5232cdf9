"""Contacts across channels, merging and hiding, against real SQLite files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from opchat.inbox import Inbox
from opchat.model import InboundMessage
from opchat.store.contacts import MergeChanged, MergeRefused, email_key, phone_key
from tests.backends import integrity_error, raw, raw_rows, refuse_event

BACKENDS = True  # every test on SQLite and on PostgreSQL (tests/conftest.py)


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def msg(channel: str, chat: str, n: int, name: str = "Ivan", body: str = "hello",
        **kw) -> InboundMessage:
    return InboundMessage(channel=channel, chat_id=chat, external_id=f"{chat}-{n}",
                          sender_id=f"u-{chat}", sender_name=name, body=body,
                          sent_at=1_699_999_000.0 + n, **kw)


@pytest.fixture
async def inbox(tmp_path: Path):
    clock = Clock()
    box = await Inbox.open(tmp_path, "anna", clock=clock)
    for name, kind in (("tg", "telegram"), ("site", "webchat"), ("wa", "whatsapp")):
        await box.store.channels.ensure(name, kind)
    box.test_clock = clock  # type: ignore[attr-defined]
    yield box
    await box.close()


def events(tmp_path: Path, kind: str) -> list[dict[str, Any]]:
    return raw_rows(tmp_path, "SELECT * FROM events WHERE kind = ? ORDER BY id", (kind,))


async def contact_of(inbox: Inbox, conversation_id: int) -> int:
    conversation = await inbox.conversation(conversation_id)
    assert conversation is not None
    return conversation.contact_id


@pytest.mark.parametrize(("a", "b"), [
    ("+7 (912) 345-67-89", "79123456789"),
    ("+7 912 345 67 89", "7-912-345-67-89"),
    ("+44 20 7946 0018", "442079460018"),
])
def test_phone_keys_ignore_the_plus_and_formatting(a: str, b: str) -> None:
    assert phone_key(a) == phone_key(b) is not None


def test_phone_and_email_keys_refuse_what_cannot_match() -> None:
    assert phone_key("12") is None and phone_key(None) is None and phone_key("n/a") is None
    assert email_key("Ivan@Example.COM ") == email_key("ivan@example.com")
    assert email_key("no at sign") is None and email_key("") is None


async def test_card_shows_identities_profile_conversations_labels_newest_first(
    inbox: Inbox
) -> None:
    first = await inbox.store.inbound.ingest(msg(
        "site", "v1", 1, name="Visitor", profile={
            "page": "https://shop.example/cart", "user_agent": "Firefox/128",
            "language": "ru", "referrer": "https://search.example/?q=boots"},
        labels=("vip",)))
    card = await inbox.contact_card(await contact_of(inbox, first.conversation_id))
    assert card is not None
    assert card.contact.name == "Visitor"
    [identity] = card.identities
    assert identity.channel_name == "site" and identity.channel_kind == "webchat"
    assert identity.profile["page"] == "https://shop.example/cart"
    assert identity.profile["user_agent"] == "Firefox/128"
    assert card.labels == ("vip",)
    assert [c.id for c in card.conversations] == [first.conversation_id]
    assert card.notes == "" and card.suggestions == ()


async def test_suggestions_match_phone_formats_and_email_case_but_never_merge(
    tmp_path: Path, inbox: Inbox
) -> None:
    tg = await inbox.store.inbound.ingest(msg("tg", "t1", 1, name="Ivan",
                                              phone="+7 (912) 345-67-89"))
    wa = await inbox.store.inbound.ingest(msg("wa", "w1", 1, name="Ivan P", phone="79123456789"))
    site = await inbox.store.inbound.ingest(msg("site", "s1", 1, name="Ivan web",
                                                email="IVAN@Example.com"))
    other = await inbox.store.inbound.ingest(msg("tg", "t2", 1, name="Petr",
                                                 phone="+7 999 000 11 22",
                                                 email="ivan@example.com"))
    tg_contact = await contact_of(inbox, tg.conversation_id)
    card = await inbox.contact_card(tg_contact)
    assert card is not None
    assert [(s.contact.name, s.reason, s.conversations) for s in card.suggestions] == [
        ("Ivan P", "phone", 1)]
    site_card = await inbox.contact_card(await contact_of(inbox, site.conversation_id))
    assert site_card is not None
    assert [(s.contact.name, s.reason) for s in site_card.suggestions] == [("Petr", "email")]
    # Suggesting is all it does: four contacts, four dialogs, nothing merged.
    assert len({await contact_of(inbox, c.conversation_id) for c in (tg, wa, site, other)}) == 4
    assert events(tmp_path, "contact.merged") == []


async def test_merge_moves_everything_in_one_transaction_with_its_event(
    tmp_path: Path, inbox: Inbox
) -> None:
    tg = await inbox.store.inbound.ingest(msg("tg", "t1", 1, name="Ivan", phone="+7 912 345 67 89"))
    await inbox.store.inbound.ingest(msg("tg", "t1", 2, name="Ivan"))
    wa = await inbox.store.inbound.ingest(msg("wa", "w1", 1, name="Иван П.", phone="79123456789",
                                              email="ivan@example.com"))
    kept, other = (await contact_of(inbox, tg.conversation_id),
                   await contact_of(inbox, wa.conversation_id))
    await inbox.set_contact_notes(other, "prefers WhatsApp")
    inbox.test_clock.now += 60  # type: ignore[attr-defined]

    plan = await inbox.merge_plan(kept, other)
    assert [i.channel_name for i in plan.identities] == ["wa"]
    assert [c.id for c in plan.conversations] == [wa.conversation_id]
    assert plan.result.name == "Ivan" and plan.result.phone == "+7 912 345 67 89"
    assert plan.result.email == "ivan@example.com" and plan.notes_added

    done = await inbox.merge_contacts(plan)
    assert done == plan
    card = await inbox.contact_card(kept)
    assert card is not None
    assert {i.channel_name for i in card.identities} == {"tg", "wa"}
    assert {c.id for c in card.conversations} == {tg.conversation_id, wa.conversation_id}
    assert card.contact.email == "ivan@example.com" and card.notes == "prefers WhatsApp"
    assert card.suggestions == ()
    [event] = events(tmp_path, "contact.merged")
    assert event["operator"] == "anna" and event["at"] == 1_700_000_060.0
    import json
    data = json.loads(event["data"])
    assert data["contact"] == kept and data["merged"] == other
    assert data["conversations"] == [wa.conversation_id]
    assert [i["channel"] for i in data["identities"]] == ["wa"]
    assert data["filled"] == ["email", "notes"]

    # The merged contact is kept (nothing is deleted) but never suggested again...
    assert raw(tmp_path, "SELECT merged_into FROM contacts WHERE id = ?", (other,)) == [(kept,)]
    third = await inbox.store.inbound.ingest(msg("site", "s1", 1, name="web", phone="+79123456789"))
    third_card = await inbox.contact_card(await contact_of(inbox, third.conversation_id))
    assert third_card is not None
    assert [s.contact.id for s in third_card.suggestions] == [kept]
    # ...nor merged twice.
    with pytest.raises(MergeRefused):
        await inbox.merge_plan(kept, other)
    with pytest.raises(MergeRefused):
        await inbox.merge_plan(kept, kept)
    # The customer writing again on WhatsApp lands in the kept contact.
    again = await inbox.store.inbound.ingest(msg("wa", "w1", 2, name="Иван П."))
    assert await contact_of(inbox, again.conversation_id) == kept


async def test_merge_is_refused_when_what_moves_changed_since_the_confirmation(
    tmp_path: Path, inbox: Inbox
) -> None:
    a = await inbox.store.inbound.ingest(msg("tg", "t1", 1, phone="+1 555 0100 200"))
    b = await inbox.store.inbound.ingest(msg("wa", "w1", 1, phone="15550100200"))
    kept, other = await contact_of(inbox, a.conversation_id), await contact_of(inbox,
                                                                                 b.conversation_id)
    plan = await inbox.merge_plan(kept, other)
    # Meanwhile another dialog of the other contact appears (same sender, new chat).
    await inbox.store.inbound.ingest(InboundMessage("wa", "w1-group", "g-1", "u-w1", "Ivan", "hi"))
    with pytest.raises(MergeChanged):
        await inbox.merge_contacts(plan)
    assert events(tmp_path, "contact.merged") == []
    assert await contact_of(inbox, b.conversation_id) == other  # rolled back, untouched


async def test_a_failing_merge_changes_nothing(tmp_path: Path, inbox: Inbox) -> None:
    a = await inbox.store.inbound.ingest(msg("tg", "t1", 1, phone="+1 555 0100 200"))
    b = await inbox.store.inbound.ingest(msg("wa", "w1", 1, phone="15550100200"))
    kept, other = await contact_of(inbox, a.conversation_id), await contact_of(inbox,
                                                                                 b.conversation_id)
    # Make the last statement of the transaction (the event) fail.
    refuse_event(tmp_path, "contact.merged", "boom")
    with pytest.raises(integrity_error(), match="boom"):
        await inbox.store.contacts.merge(kept, other, inbox.operator)
    assert await contact_of(inbox, b.conversation_id) == other
    assert raw(tmp_path, "SELECT merged_into FROM contacts WHERE id = ?", (other,)) == [(None,)]
    assert raw(tmp_path, "SELECT contact_id FROM identities WHERE contact_id = ?",
               (other,)) == [(other,)]


async def test_notes_are_saved_with_an_event(tmp_path: Path, inbox: Inbox) -> None:
    got = await inbox.store.inbound.ingest(msg("tg", "t1", 1))
    contact = await contact_of(inbox, got.conversation_id)
    assert await inbox.set_contact_notes(contact, "allergic to [bold]wool[/]")
    assert not await inbox.set_contact_notes(contact, "allergic to [bold]wool[/]")
    card = await inbox.contact_card(contact)
    assert card is not None and card.notes == "allergic to [bold]wool[/]"
    [event] = events(tmp_path, "contact.notes")
    assert event["operator"] == "anna"


async def test_a_hidden_conversation_leaves_lists_and_counts_with_an_event(
    tmp_path: Path, inbox: Inbox
) -> None:
    a = await inbox.store.inbound.ingest(msg("tg", "t1", 1))
    b = await inbox.store.inbound.ingest(msg("wa", "w1", 1, name="Maria"))
    assert await inbox.count() == 2 and await inbox.waiting_count() == 2
    assert await inbox.hide_conversation(a.conversation_id)
    assert not await inbox.hide_conversation(a.conversation_id)
    assert [c.id for c in await inbox.conversations()] == [b.conversation_id]
    assert await inbox.count() == 1 and await inbox.waiting_count() == 1
    assert await inbox.position(b.conversation_id) == 0
    card = await inbox.contact_card(await contact_of(inbox, a.conversation_id))
    assert card is not None and card.conversations == ()
    [event] = events(tmp_path, "conversation.hidden")
    assert (event["conversation_id"], event["operator"]) == (a.conversation_id, "anna")
    # Still there, and listed as hidden, with who and when.
    assert await inbox.conversation(a.conversation_id) is not None
    [item] = await inbox.hidden()
    assert (item.kind, item.id, item.operator) == ("conversation", a.conversation_id, "anna")
    # Unhiding brings it back, with its own event.
    assert await inbox.unhide_conversation(a.conversation_id)
    assert await inbox.count() == 2
    assert len(events(tmp_path, "conversation.unhidden")) == 1


async def test_a_customer_writing_to_a_hidden_conversation_brings_it_back(
    tmp_path: Path, inbox: Inbox
) -> None:
    a = await inbox.store.inbound.ingest(msg("tg", "t1", 1))
    await inbox.hide_conversation(a.conversation_id)
    assert await inbox.count() == 0
    await inbox.store.inbound.ingest(msg("tg", "t1", 2, body="are you there?"))
    assert await inbox.count() == 1
    [event] = events(tmp_path, "conversation.unhidden")
    assert event["operator"] is None and "customer wrote" in event["data"]


async def test_a_hidden_message_leaves_the_thread_and_the_preview(
    tmp_path: Path, inbox: Inbox
) -> None:
    await inbox.store.inbound.ingest(msg("tg", "t1", 1, body="my order"))
    spam = await inbox.store.inbound.ingest(msg("tg", "t1", 2, body="BUY CHEAP PILLS"))
    assert (await inbox.conversations())[0].preview == "BUY CHEAP PILLS"
    assert await inbox.hide_message(spam.message_id)
    assert not await inbox.hide_message(spam.message_id)
    assert [m.body for m in await inbox.messages(spam.conversation_id)] == ["my order"]
    assert (await inbox.conversations())[0].preview == "my order"
    [event] = events(tmp_path, "message.hidden")
    assert (event["message_id"], event["conversation_id"], event["operator"]) == (
        spam.message_id, spam.conversation_id, "anna")
    # The message is stored still: it can be brought back.
    assert await inbox.unhide_message(spam.message_id)
    assert [m.body for m in await inbox.messages(spam.conversation_id)] == [
        "my order", "BUY CHEAP PILLS"]
    assert (await inbox.conversations())[0].preview == "BUY CHEAP PILLS"


async def test_a_hidden_message_stays_hidden_in_its_edits(tmp_path: Path, inbox: Inbox) -> None:
    await inbox.store.inbound.ingest(msg("tg", "t1", 1, body="my order"))
    spam = await inbox.store.inbound.ingest(msg("tg", "t1", 2, body="RUDE WORDS"))
    edit = await inbox.store.inbound.ingest(msg("tg", "t1", 3, body="RUDER WORDS",
                                                edit_of_external_id="t1-2"))
    conversation_id = spam.conversation_id
    # Hiding the original hides the edits that carry its text.
    assert await inbox.hide_message(spam.message_id)
    assert [m.body for m in await inbox.messages(conversation_id)] == ["my order"]
    assert (await inbox.conversations())[0].preview == "my order"
    unread = (await inbox.conversations())[0].unread
    # An edit arriving later is stored, hidden with it, and is not news.
    later = await inbox.store.inbound.ingest(msg("tg", "t1", 4, body="RUDEST WORDS",
                                                 edit_of_external_id="t1-2"))
    assert [m.body for m in await inbox.messages(conversation_id)] == ["my order"]
    [conversation] = await inbox.conversations()
    assert (conversation.preview, conversation.unread) == ("my order", unread)
    hidden = events(tmp_path, "message.hidden")
    assert [e["message_id"] for e in hidden] == [spam.message_id, later.message_id]
    assert "edit of a hidden message" in hidden[1]["data"]
    assert not [e for e in events(tmp_path, "message.new") if e["message_id"] == later.message_id]
    # Shown again, every version comes back.
    assert await inbox.unhide_message(edit.message_id)
    assert [m.body for m in await inbox.messages(conversation_id)] == [
        "my order", "RUDE WORDS", "RUDER WORDS", "RUDEST WORDS"]


async def test_audit_of_one_conversation_includes_its_contact_history(inbox: Inbox) -> None:
    a = await inbox.store.inbound.ingest(msg("tg", "t1", 1, phone="+7 912 345 67 89"))
    b = await inbox.store.inbound.ingest(msg("wa", "w1", 1, phone="79123456789"))
    c = await inbox.store.inbound.ingest(msg("site", "s1", 1, name="Someone else"))
    kept, other = await contact_of(inbox, a.conversation_id), await contact_of(inbox,
                                                                                 b.conversation_id)
    await inbox.set_contact_notes(other, "note before the merge")
    await inbox.set_contact_notes(await contact_of(inbox, c.conversation_id), "unrelated")
    await inbox.merge_contacts(await inbox.merge_plan(kept, other))
    await inbox.hide_message(a.message_id)
    kinds = [e.kind for e in await inbox.store.history.audit_events(a.conversation_id)]
    assert kinds == ["conversation.new", "message.new", "contact.notes", "contact.merged",
                     "message.hidden"]
    everything = await inbox.store.history.audit_events()
    assert len([e for e in everything if e.kind == "contact.notes"]) == 2
    page = await inbox.store.history.audit_events(after_id=everything[2].id, limit=2)
    assert [e.id for e in page] == [everything[3].id, everything[4].id]
    inbox.test_clock.now += 100  # type: ignore[attr-defined]
    await inbox.unhide_message(a.message_id)
    late = await inbox.store.history.audit_events(since=1_700_000_050.0)
    assert [e.kind for e in late] == ["message.unhidden"]


async def test_a_message_that_does_not_say_the_username_keeps_the_one_known(
        inbox: Inbox) -> None:
    """An edit, or a channel that looked the profile up only once, gives no username:
    the one known stays. A new one replaces it, and so does a new name."""
    first = await inbox.store.inbound.ingest(msg("tg", "c1", 1, name="Anna K",
                                                 username="anna_k"))
    contact = await contact_of(inbox, first.conversation_id)

    async def identity() -> tuple[str, str | None]:
        card = await inbox.store.contacts.card(contact)
        assert card is not None
        [one] = card.identities
        return one.identity.display_name, one.identity.username

    await inbox.store.inbound.ingest(msg("tg", "c1", 2, name="Anna K", username=None))
    assert await identity() == ("Anna K", "anna_k")
    await inbox.store.inbound.ingest(msg("tg", "c1", 3, name="", username=None))
    assert await identity() == ("Anna K", "anna_k")
    await inbox.store.inbound.ingest(msg("tg", "c1", 4, name="Anna Karenina",
                                         username="anna_karenina"))
    assert await identity() == ("Anna Karenina", "anna_karenina")
