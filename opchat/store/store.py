"""The store: the parts composed over one Database. Every method returns model objects.

Each change to a dialog writes its rows and an `events` row in the same
transaction, so the change feed never misses nor invents anything.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from opchat.store.api_tokens import ApiTokenStore
from opchat.store.channels import ChannelStore
from opchat.store.contacts import ContactStore
from opchat.store.conversations import ConversationStore
from opchat.store.db import Database
from opchat.store.elsewhere import ElsewhereStore
from opchat.store.events import EventLog
from opchat.store.files import AttachmentStore
from opchat.store.history import HistoryStore
from opchat.store.inbound import InboundStore
from opchat.store.messages import MessageStore
from opchat.store.outbox import OutboxStore
from opchat.store.presence import PresenceStore
from opchat.store.ratings import RatingStore
from opchat.store.reactions import ReactionsStore
from opchat.store.replies import QuickReplyStore
from opchat.store.schema import DB_FILENAME
from opchat.store.search import SearchStore
from opchat.store.stats import StatsStore
from opchat.store.templates import TemplatesStore
from opchat.store.transcripts import TranscriptStore
from opchat.store.webhooks import WebhookStore
from opchat.store.workflow import WorkflowStore

URL_VARIABLE = "OPCHAT_DATABASE_URL"


def database_url(url: str | None = None) -> str | None:
    """The PostgreSQL URL to use: ``url`` if given, else the environment's; None (or
    "") means the SQLite file in the data dir."""
    return url if url is not None else os.environ.get(URL_VARIABLE) or None


class Store:
    """The parts over the same Database and clock, one attribute each."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock
        self.channels = ChannelStore(db, clock)
        self.inbound = InboundStore(db, clock)
        self.conversations = ConversationStore(db, clock)
        self.presence = PresenceStore(db, clock)
        self.messages = MessageStore(db, clock, self.presence.changed)
        self.contacts = ContactStore(db, clock)
        self.attachments = AttachmentStore(db, clock)
        self.history = HistoryStore(db, clock)
        self.replies = QuickReplyStore(db, clock)
        self.search = SearchStore(db, clock)
        self.workflow = WorkflowStore(db, clock)
        self.outbox = OutboxStore(db, clock)
        self.reactions = ReactionsStore(db, clock)
        self.elsewhere = ElsewhereStore(db, clock)
        self.templates = TemplatesStore(db, clock)
        self.stats = StatsStore(db, clock)
        self.ratings = RatingStore(db, clock)
        self.transcripts = TranscriptStore(db, clock)
        self.webhooks = WebhookStore(db, clock)
        self.api_tokens = ApiTokenStore(db, clock)
        self.events = EventLog(db, clock)

    @classmethod
    async def open(cls, data_dir: Path, clock: Callable[[], float] = time.time,
                   url: str | None = None) -> Store:
        """The store in ``data_dir`` (its SQLite file), or at ``url`` (a PostgreSQL
        database; None: ``OPCHAT_DATABASE_URL`` if set)."""
        url = database_url(url)
        if url:
            from opchat.store.pg import PgDatabase  # psycopg only when asked for

            db: Database = PgDatabase(url)  # type: ignore[assignment]
        else:
            db = Database(Path(data_dir) / DB_FILENAME)
        await db.open()
        store = cls(db, clock)
        try:
            # Messages a process stored before it could index them (it ended at once);
            # if that fails (another process holds the lock too long), a search will.
            await store.search.catch_up_or_log()
            await store.stats.catch_up_or_log()  # and their facts the roll-up
        except BaseException:
            await db.close()
            raise
        return store

    async def close(self) -> None:
        await self.inbound.drain()  # messages being committed are committed first
        await self.search.close()  # and indexed
        await self.stats.close()  # and their figures rolled up
        await self.db.close()
