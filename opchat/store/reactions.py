"""Reactions: an emoji a customer put on a message, kept on the message it is about.

A reaction is not a message of its own: it goes into the message's meta as
``reactions`` ({who: emoji}; an empty emoji takes it away), with a
``message.reaction`` event so the thread redraws that message.
"""

from __future__ import annotations

from opchat.model import EventKind
from opchat.store.changes import record_event
from opchat.store.part import Part
from opchat.store.rows import meta_of, platform_message, set_meta
from opchat.store.sql import Conn


class ReactionsStore(Part):
    """`Store.reactions`."""

    async def react(self, channel: str, external_id: str, by: str, emoji: str) -> bool:
        """``by`` (the platform's id of who reacted) put ``emoji`` on the channel's message
        ``external_id`` ("": took their reaction away). False if no such message is
        stored (a reaction to something older than opchat's history)."""

        def run(conn: Conn) -> bool:
            row = platform_message(conn, channel, external_id)
            if row is None:
                return False
            meta = meta_of(row["meta"])
            was = meta.get("reactions")
            reactions = dict(was) if isinstance(was, dict) else {}
            if emoji:
                reactions[by] = emoji
            else:
                reactions.pop(by, None)
            if reactions == (was or {}):
                return True
            if reactions:
                meta["reactions"] = reactions
            else:
                meta.pop("reactions", None)
            set_meta(conn, row["id"], meta)
            record_event(conn, self.clock(), EventKind.MESSAGE_REACTION, row["conversation_id"],
                         row["id"], data={"emoji": emoji, "by": by})
            return True

        return await self.db.write(run)
