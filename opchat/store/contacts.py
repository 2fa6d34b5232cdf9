"""One customer across channels: the contact card, merge suggestions, merging, notes.

A person who writes on Telegram and then on the web chat starts as two
contacts. opchat never decides they are the same: it *suggests* a merge when
their phone numbers (digits only) or e-mail addresses (any case) match, and
an operator confirms it. Merging moves identities and conversations, fills
what the kept contact lacks, and marks the other one ``merged_into`` — its row
stays, as everything does, and the ``contact.merged`` event says who moved
what, when.
"""

from __future__ import annotations

import json
import re
from typing import Any

from opchat.model import (
    Contact,
    ContactCard,
    ContactIdentity,
    Conversation,
    EventKind,
    Identity,
    MergePlan,
    MergeSuggestion,
    Operator,
)
from opchat.store.changes import record_event
from opchat.store.part import Part
from opchat.store.ratings import ratings_of_contact
from opchat.store.rows import conversation_of, conversation_select
from opchat.store.sql import Conn, Row

NOTES_CHARS = 20_000
CARD_CONVERSATIONS = 200  # a contact's dialogs the card lists, newest first
MIN_PHONE_DIGITS = 5  # shorter "phones" match too much to suggest anything
SUGGESTIONS = 10

_NOT_DIGIT = re.compile(r"\D")


class UnknownContact(LookupError):
    pass


class MergeRefused(ValueError):
    """The merge cannot be done as asked (the same contact, one already merged...)."""


class MergeChanged(ValueError):
    """What would move is no longer what the operator confirmed: look again."""


def phone_key(phone: str | None) -> str | None:
    """A phone as suggestions compare it: digits only ("+7 (912) 345-67-89" -> "79123456789")."""
    digits = _NOT_DIGIT.sub("", phone or "")
    return digits if len(digits) >= MIN_PHONE_DIGITS else None


def email_key(email: str | None) -> str | None:
    """An e-mail as suggestions compare it: trimmed, any case."""
    text = (email or "").strip().casefold()
    return text if "@" in text else None


class ContactStore(Part):
    """`Store.contacts`."""

    async def card(self, contact_id: int) -> ContactCard | None:
        """The contact with their identities, dialogs, labels, notes and merge suggestions."""

        def run(conn: Conn) -> ContactCard | None:
            row = conn.execute("SELECT * FROM contacts WHERE id = ?", (contact_id,)).fetchone()
            if row is None:
                return None
            conversations = _conversations_of(conn, contact_id, CARD_CONVERSATIONS)
            labels = sorted({label for c in conversations for label in c.labels},
                            key=str.casefold)
            return ContactCard(
                contact=_contact(row), notes=row["notes"],
                identities=tuple(_identities_of(conn, contact_id)),
                conversations=tuple(conversations), labels=tuple(labels),
                suggestions=tuple(_suggestions(conn, row)),
                ratings=tuple(ratings_of_contact(conn, contact_id)))

        return await self.db.read(run)

    async def page(self, after_id: int = 0, limit: int = 50) -> list[Contact]:
        """Contacts by id after ``after_id`` (merged ones left out: they live on in
        the contact they were merged into)."""

        def run(conn: Conn) -> list[Contact]:
            return [_contact(r) for r in conn.execute(
                "SELECT * FROM contacts WHERE id > ? AND merged_into IS NULL ORDER BY id "
                "LIMIT ?", (after_id, limit))]

        return await self.db.read(run)

    async def merge_suggestions(self, contact_id: int) -> list[MergeSuggestion]:
        def run(conn: Conn) -> list[MergeSuggestion]:
            row = conn.execute("SELECT * FROM contacts WHERE id = ?", (contact_id,)).fetchone()
            return [] if row is None else _suggestions(conn, row)

        return await self.db.read(run)

    async def merge_plan(self, kept_id: int, other_id: int) -> MergePlan:
        """What merging ``other_id`` into ``kept_id`` would do; nothing is changed."""
        return await self.db.read(_plan, kept_id, other_id)

    async def merge(
        self, kept_id: int, other_id: int, operator: Operator | None,
        expected: MergePlan | None = None,
    ) -> MergePlan:
        """Merge ``other_id`` into ``kept_id`` in one transaction, with a ``contact.merged`` event.

        With ``expected`` (the plan the operator confirmed), the merge is refused
        with :class:`MergeChanged` if it would now move anything else.
        """

        def run(conn: Conn) -> MergePlan:
            plan = _plan(conn, kept_id, other_id)
            if expected is not None and _moves(plan) != _moves(expected):
                raise MergeChanged("the contacts changed since you looked; look again")
            now = self.clock()
            kept, other, result = plan.kept, plan.other, plan.result
            notes = _merged_notes(_notes(conn, kept.id), _notes(conn, other.id))
            conn.execute("UPDATE identities SET contact_id = ? WHERE contact_id = ?",
                         (kept.id, other.id))
            conn.execute("UPDATE conversations SET contact_id = ? WHERE contact_id = ?",
                         (kept.id, other.id))
            conn.execute("UPDATE contacts SET name = ?, phone = ?, email = ?, notes = ? "
                         "WHERE id = ?", (result.name, result.phone, result.email, notes, kept.id))
            conn.execute("UPDATE contacts SET merged_into = ? WHERE id = ?", (kept.id, other.id))
            filled = [name for name in ("name", "phone", "email")
                      if getattr(result, name) != getattr(kept, name)]
            if plan.notes_added:
                filled.append("notes")
            record_event(conn, now, EventKind.CONTACT_MERGED,
                         operator=operator.login if operator else None, data={
                             "contact": kept.id, "merged": other.id,
                             "kept_name": result.name, "merged_name": other.name,
                             "identities": [_identity_data(i) for i in plan.identities],
                             "conversations": [c.id for c in plan.conversations],
                             "filled": filled})
            return plan

        return await self.db.write(run)

    async def identity_profile(self, channel: str, external_id: str) -> dict[str, Any] | None:
        """The profile kept for the customer ``external_id`` of ``channel`` (what its
        transport said of them), or None if they have never written there."""

        def run(conn: Conn) -> dict[str, Any] | None:
            row = conn.execute(
                "SELECT i.profile FROM identities i JOIN channels ch ON ch.id = i.channel_id "
                "WHERE ch.name = ? AND i.external_id = ?", (channel, external_id)).fetchone()
            return None if row is None else _profile(row["profile"])

        return await self.db.read(run)

    async def set_notes(self, contact_id: int, notes: str,
                                operator: Operator | None) -> bool:
        """Replace what operators noted about a person; False if it was the same."""
        notes = notes[:NOTES_CHARS]

        def run(conn: Conn) -> bool:
            row = conn.execute("SELECT notes FROM contacts WHERE id = ?", (contact_id,)).fetchone()
            if row is None:
                raise UnknownContact(contact_id)
            if row["notes"] == notes:
                return False
            conn.execute("UPDATE contacts SET notes = ? WHERE id = ?", (notes, contact_id))
            record_event(conn, self.clock(), EventKind.CONTACT_NOTES,
                         operator=operator.login if operator else None,
                         data={"contact": contact_id, "chars": len(notes)})
            return True

        return await self.db.write(run)


# The SQL behind the methods -------------------------------------------------------------


def _contact(row: Row) -> Contact:
    return Contact(row["id"], row["name"], row["phone"], row["email"])


def _notes(conn: Conn, contact_id: int) -> str:
    row = conn.execute("SELECT notes FROM contacts WHERE id = ?", (contact_id,)).fetchone()
    return row["notes"] if row is not None else ""


def _merged_notes(kept: str, other: str) -> str:
    if not other.strip() or other.strip() == kept.strip():
        return kept
    if not kept.strip():
        return other
    return f"{kept.rstrip()}\n\n{other.strip()}"[:NOTES_CHARS]


def _profile(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _identities_of(conn: Conn, contact_id: int) -> list[ContactIdentity]:
    rows = conn.execute(
        "SELECT i.*, ch.name AS channel_name, ch.kind AS channel_kind FROM identities i "
        "JOIN channels ch ON ch.id = i.channel_id WHERE i.contact_id = ? ORDER BY i.id",
        (contact_id,))
    return [ContactIdentity(
        Identity(r["id"], r["contact_id"], r["channel_id"], r["external_id"], r["display_name"],
                 r["username"]),
        r["channel_name"], r["channel_kind"], _profile(r["profile"])) for r in rows]


def _conversations_of(conn: Conn, contact_id: int,
                      limit: int) -> list[Conversation]:
    rows = conn.execute(
        f"{conversation_select(conn)} WHERE c.contact_id = ? AND c.hidden = 0 "
        "ORDER BY c.last_message_at DESC, c.id DESC LIMIT ?", (contact_id, limit))
    return [conversation_of(r) for r in rows]


def _register_keys(conn: Conn) -> None:
    # SQLite has no function to normalise either: ours, per connection (cheap to repeat).
    # A database with functions of its own would define these in its schema instead.
    register = getattr(conn, "create_function", None)
    if register is not None:
        register("opchat_phone_key", 1, phone_key, deterministic=True)
        register("opchat_email_key", 1, email_key, deterministic=True)


def _suggestions(conn: Conn, row: Row) -> list[MergeSuggestion]:
    phone, email = phone_key(row["phone"]), email_key(row["email"])
    if phone is None and email is None:
        return []
    _register_keys(conn)
    found = conn.execute(
        "SELECT co.*, opchat_phone_key(co.phone) = :phone AS by_phone, "
        "(SELECT count(*) FROM conversations c WHERE c.contact_id = co.id AND c.hidden = 0) "
        "AS dialogs FROM contacts co "
        "WHERE co.id != :id AND co.merged_into IS NULL "
        "AND ((co.phone IS NOT NULL AND co.phone != '' AND opchat_phone_key(co.phone) = :phone) "
        "OR (co.email IS NOT NULL AND co.email != '' AND opchat_email_key(co.email) = :email)) "
        "ORDER BY co.id LIMIT :limit",
        {"phone": phone, "email": email, "id": row["id"], "limit": SUGGESTIONS})
    return [MergeSuggestion(_contact(r), "phone" if r["by_phone"] else "email", r["dialogs"])
            for r in found]


def _plan(conn: Conn, kept_id: int, other_id: int) -> MergePlan:
    if kept_id == other_id:
        raise MergeRefused("a contact cannot be merged into itself")
    rows = {r["id"]: r for r in conn.execute(
        "SELECT * FROM contacts WHERE id IN (?, ?)", (kept_id, other_id))}
    for contact_id in (kept_id, other_id):
        if contact_id not in rows:
            raise UnknownContact(contact_id)
        if rows[contact_id]["merged_into"] is not None:
            raise MergeRefused(f"contact {contact_id} was already merged into "
                               f"contact {rows[contact_id]['merged_into']}")
    kept, other = _contact(rows[kept_id]), _contact(rows[other_id])
    result = Contact(kept.id, kept.name or other.name, kept.phone or other.phone,
                     kept.email or other.email)
    # Every dialog moves, hidden ones too: nothing is left behind on a merged contact.

    conversations = [conversation_of(r) for r in conn.execute(
        f"{conversation_select(conn)} WHERE c.contact_id = ? "
        "ORDER BY c.last_message_at DESC, c.id DESC", (other_id,))]
    kept_notes, other_notes = rows[kept_id]["notes"], rows[other_id]["notes"]
    return MergePlan(kept=kept, other=other, result=result,
                     identities=tuple(_identities_of(conn, other_id)),
                     conversations=tuple(conversations),
                     notes_added=_merged_notes(kept_notes, other_notes) != kept_notes)


def _moves(plan: MergePlan) -> tuple[object, ...]:
    return (plan.kept.id, plan.other.id, plan.result,
            tuple(i.identity.id for i in plan.identities),
            tuple(c.id for c in plan.conversations), plan.notes_added)


def _identity_data(identity: ContactIdentity) -> dict[str, object]:
    return {"id": identity.identity.id, "channel": identity.channel_name,
            "external_id": identity.identity.external_id,
            "name": identity.identity.display_name}
