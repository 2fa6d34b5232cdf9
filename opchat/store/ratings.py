"""Customers' ratings of a resolved dialog: asked once per resolution, answered 1 to 5.

The hub asks when an operator resolves a dialog on a channel that wants it
(`ask`, an automatic message with buttons 1-5, marking the dialog as asked).
The customer's answer — a button, or a message starting with a digit from 1 to
5, the rest of it a comment — is recognised by `answer_of` while the message is
stored (`store/inbound.py`), in that transaction: the dialog stays resolved,
nobody is made to wait, the rating goes into `ratings` with the operator who
resolved it, and a `conversation.rated` event tells everyone. It is never a new
dialog in the figures (`store/stats.py` passes it over).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from opchat.model import EventKind, InboundMessage, Message, Rating
from opchat.store.changes import UnknownConversation, record_event
from opchat.store.part import Part
from opchat.store.replies import queue_auto
from opchat.store.sql import Conn

ANSWER_WINDOW = 3 * 86400.0  # seconds after asking when a digit still means a rating
PAYLOAD = "rate:"  # a rating button's payload: "rate:1" to "rate:5"
# A digit 1-5 first ("4", "4/5", "4 из 5", "4!"), the rest of the message a comment;
# not "45 minutes" nor "4.5".
_DIGIT = re.compile(r"^\s*([1-5])(?!\d|[.,]\d)(?:\s*(?:/\s*5|из\s*5|of\s*5))?"
                    r"(?:\s*[.,:;!)\-–—]*\s*|\s+)(.*)$", re.DOTALL | re.IGNORECASE)


def answer_of(m: InboundMessage) -> tuple[int, str] | None:
    """(rating, comment) if the message reads as an answer to "rate us 1-5", else None."""
    callback = m.meta.get("callback") if isinstance(m.meta, dict) else None
    if isinstance(callback, str) and callback.startswith(PAYLOAD):
        digit = callback[len(PAYLOAD):]
        return (int(digit), "") if digit in ("1", "2", "3", "4", "5") else None
    found = _DIGIT.match(m.body or "")
    if found is None:
        return None
    return int(found[1]), found[2].strip()


def rate(conn: Conn, now: float, conversation_id: int, channel_id: int, message_id: int,
         rating: int, comment: str) -> None:
    """Keep the customer's rating (in the transaction storing their message)."""
    operator = conn.execute(
        "SELECT operator FROM events WHERE conversation_id = ? AND kind = ? "
        "ORDER BY id DESC LIMIT 1", (conversation_id, str(EventKind.CONVERSATION_STATUS))
    ).fetchone()
    conn.execute("INSERT INTO ratings (at, conversation_id, channel_id, operator, rating, "
                 "comment, message_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                 (now, conversation_id, channel_id, (operator[0] if operator else "") or "",
                  rating, comment, message_id))
    conn.execute("UPDATE conversations SET rating_asked_at = NULL WHERE id = ?",
                 (conversation_id,))
    record_event(conn, now, EventKind.CONVERSATION_RATED, conversation_id, message_id,
                 data={"rating": rating, "comment": comment})


class RatingStore(Part):
    """`Store.ratings`: asking a customer to rate a dialog, and the ratings given."""

    async def ask(self, conversation_id: int, text: str,
                  buttons: Sequence[tuple[str, str]], resolved_at: float) -> Message | None:
        """Queue the question as an automatic message (``buttons``: label, payload) and
        mark the dialog as asked; None if it was asked already since ``resolved_at``,
        or is no longer resolved (a hub replaying the feed asks nobody twice)."""

        def run(conn: Conn) -> Message | None:
            conv = conn.execute(
                "SELECT c.channel_id, c.status, c.rating_asked_at, ch.name AS channel "
                "FROM conversations c JOIN channels ch ON ch.id = c.channel_id "
                "WHERE c.id = ?", (conversation_id,)).fetchone()
            if conv is None:
                raise UnknownConversation(conversation_id)
            asked = conv["rating_asked_at"]
            if conv["status"] != "resolved" or (asked is not None and asked >= resolved_at):
                return None
            now = self.clock()
            conn.execute("UPDATE conversations SET rating_asked_at = ? WHERE id = ?",
                         (now, conversation_id))
            return queue_auto(conn, now, conversation_id, conv["channel_id"], conv["channel"],
                              text, {"auto": ["rating"], "rating_asked": True,
                                     "buttons": [list(b) for b in buttons]})

        return await self.db.write(run)



def ratings_of_contact(conn: Conn, contact_id: int, limit: int = 20) -> list[Rating]:
    """The ratings a contact gave, newest first (for the contact panel)."""
    return [Rating(r["conversation_id"], r["rating"], r["comment"], r["at"], r["operator"],
                   r["channel"])
            for r in conn.execute(
                "SELECT r.*, ch.name AS channel FROM ratings r "
                "JOIN conversations c ON c.id = r.conversation_id "
                "JOIN channels ch ON ch.id = r.channel_id "
                "WHERE c.contact_id = ? ORDER BY r.at DESC LIMIT ?", (contact_id, limit))]
