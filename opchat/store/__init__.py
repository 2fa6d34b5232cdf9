"""The SQLite store: the only package that speaks SQL."""

from opchat.model import ConversationFilter
from opchat.store.changes import UnknownConversation
from opchat.store.db import Database, StoreError
from opchat.store.outbox import OutboxItem
from opchat.store.schema import SCHEMA_VERSION, SchemaTooNew
from opchat.store.search import fts_query
from opchat.store.store import DB_FILENAME, Store

__all__ = [
    "DB_FILENAME",
    "SCHEMA_VERSION",
    "ConversationFilter",
    "Database",
    "OutboxItem",
    "SchemaTooNew",
    "Store",
    "StoreError",
    "UnknownConversation",
    "fts_query",
]
