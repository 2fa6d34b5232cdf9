"""The SQLite store: the only package that speaks SQL.

Its names load when first used (PEP 562), so that a module of the package can
be imported without all the others: the list's first page
(`opchat.store.first_page`), read before the app's first frame, needs only the
list's queries.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opchat.model import ConversationFilter
    from opchat.store.changes import UnknownConversation
    from opchat.store.db import Database, StoreError
    from opchat.store.outbox import OutboxItem
    from opchat.store.schema import DB_FILENAME, SCHEMA_VERSION, SchemaTooNew
    from opchat.store.search import fts_query
    from opchat.store.store import Store

_HOMES = {
    "ConversationFilter": "opchat.model",
    "UnknownConversation": "opchat.store.changes",
    "Database": "opchat.store.db",
    "StoreError": "opchat.store.db",
    "OutboxItem": "opchat.store.outbox",
    "SCHEMA_VERSION": "opchat.store.schema",
    "SchemaTooNew": "opchat.store.schema",
    "fts_query": "opchat.store.search",
    "DB_FILENAME": "opchat.store.schema",
    "Store": "opchat.store.store",
}

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


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
