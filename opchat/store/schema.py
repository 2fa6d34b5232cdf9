"""The database schema, as numbered migrations tracked in ``PRAGMA user_version``.

Append a new script to MIGRATIONS to change the schema; never edit one that
has shipped. Each runs in its own transaction together with the version bump.
"""

from __future__ import annotations

import sqlite3

DB_FILENAME = "opchat.db"  # the SQLite database, in the data dir

MIGRATIONS: list[str] = [
    # 1: the foundation
    """
    CREATE TABLE channels (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        health TEXT NOT NULL DEFAULT 'stopped',
        health_detail TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL
    );
    CREATE TABLE channel_state (
        channel_id INTEGER NOT NULL REFERENCES channels(id),
        key TEXT NOT NULL,
        value TEXT,
        PRIMARY KEY (channel_id, key)
    );
    CREATE TABLE contacts (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL DEFAULT '',
        phone TEXT,
        email TEXT,
        created_at REAL NOT NULL
    );
    CREATE TABLE identities (
        id INTEGER PRIMARY KEY,
        contact_id INTEGER NOT NULL REFERENCES contacts(id),
        channel_id INTEGER NOT NULL REFERENCES channels(id),
        external_id TEXT NOT NULL,
        display_name TEXT NOT NULL DEFAULT '',
        username TEXT,
        profile TEXT NOT NULL DEFAULT '{}',
        UNIQUE (channel_id, external_id)
    );
    CREATE INDEX identities_by_contact ON identities(contact_id);
    CREATE TABLE operators (
        id INTEGER PRIMARY KEY,
        login TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        created_at REAL NOT NULL,
        last_seen REAL
    );
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        channel_id INTEGER NOT NULL REFERENCES channels(id),
        chat_id TEXT NOT NULL,
        contact_id INTEGER NOT NULL REFERENCES contacts(id),
        identity_id INTEGER REFERENCES identities(id),
        status TEXT NOT NULL DEFAULT 'open',
        assignee_id INTEGER REFERENCES operators(id),
        unread INTEGER NOT NULL DEFAULT 0,
        waiting_since REAL,
        first_response_s REAL,
        snoozed_until REAL,
        last_message_at REAL NOT NULL,
        last_preview TEXT NOT NULL DEFAULT '',
        last_direction TEXT NOT NULL DEFAULT 'in',
        last_author TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        UNIQUE (channel_id, chat_id)
    );
    CREATE INDEX conversations_recent ON conversations(last_message_at DESC, id DESC);
    CREATE INDEX conversations_waiting ON conversations(waiting_since)
        WHERE waiting_since IS NOT NULL;
    CREATE INDEX conversations_by_contact ON conversations(contact_id);
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id),
        channel_id INTEGER NOT NULL REFERENCES channels(id),
        external_id TEXT,
        direction TEXT NOT NULL,
        author TEXT NOT NULL DEFAULT '',
        operator_id INTEGER REFERENCES operators(id),
        body TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        state TEXT NOT NULL,
        error TEXT,
        reply_to_id INTEGER REFERENCES messages(id),
        hidden INTEGER NOT NULL DEFAULT 0,
        UNIQUE (channel_id, external_id)
    );
    CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
    CREATE TABLE attachments (
        id INTEGER PRIMARY KEY,
        message_id INTEGER NOT NULL REFERENCES messages(id),
        kind TEXT NOT NULL,
        filename TEXT NOT NULL DEFAULT '',
        mime TEXT NOT NULL DEFAULT '',
        size INTEGER,
        ref TEXT NOT NULL DEFAULT '',
        local_path TEXT
    );
    CREATE INDEX attachments_by_message ON attachments(message_id);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        message_id INTEGER NOT NULL UNIQUE REFERENCES messages(id),
        channel_id INTEGER NOT NULL REFERENCES channels(id),
        state TEXT NOT NULL DEFAULT 'pending',  -- pending, sending, done, failed
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        last_error TEXT,
        updated_at REAL NOT NULL
    );
    CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
    CREATE TABLE quick_replies (
        id INTEGER PRIMARY KEY,
        shortcut TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        uses INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    -- Append-only: the audit log and the change feed every process follows.
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        conversation_id INTEGER,
        message_id INTEGER,
        operator TEXT,
        data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_by_conversation ON events(conversation_id, id);
    CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TRIGGER messages_never_deleted BEFORE DELETE ON messages
        BEGIN SELECT RAISE(ABORT, 'messages are never deleted; hide them'); END;

    CREATE VIRTUAL TABLE messages_fts USING fts5(
        body, content='messages', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, body) VALUES (new.id, new.body);
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
        INSERT INTO messages_fts(rowid, body) VALUES (new.id, new.body);
    END;
    """,
    # 2: the operator's workflow, rich inbound messages, and presence
    """
    ALTER TABLE messages ADD COLUMN meta TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE messages ADD COLUMN edit_of_id INTEGER REFERENCES messages(id);
    ALTER TABLE conversations ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE contacts ADD COLUMN notes TEXT NOT NULL DEFAULT '';
    ALTER TABLE contacts ADD COLUMN merged_into INTEGER REFERENCES contacts(id);
    ALTER TABLE quick_replies ADD COLUMN owner_id INTEGER REFERENCES operators(id);
    ALTER TABLE quick_replies ADD COLUMN folder TEXT NOT NULL DEFAULT '';
    ALTER TABLE quick_replies ADD COLUMN attachment TEXT;
    CREATE TABLE labels (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        color TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL
    );
    CREATE TABLE conversation_labels (
        conversation_id INTEGER NOT NULL REFERENCES conversations(id),
        label_id INTEGER NOT NULL REFERENCES labels(id),
        PRIMARY KEY (conversation_id, label_id)
    ) WITHOUT ROWID;
    CREATE INDEX conversation_labels_by_label ON conversation_labels(label_id, conversation_id);
    CREATE TABLE drafts (
        operator_id INTEGER NOT NULL REFERENCES operators(id),
        conversation_id INTEGER NOT NULL REFERENCES conversations(id),
        body TEXT NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (operator_id, conversation_id)
    ) WITHOUT ROWID;
    -- Ephemeral state: who has opchat open, which dialog they view, who is typing,
    -- what a web chat visitor is typing. Rows are overwritten and swept, so this is
    -- not an audit record; followers read the rows whose seq moved past theirs.
    CREATE TABLE presence (
        kind TEXT NOT NULL,
        who TEXT NOT NULL,
        conversation_id INTEGER NOT NULL DEFAULT 0,
        text TEXT NOT NULL DEFAULT '',
        at REAL NOT NULL,
        expires_at REAL NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (kind, who, conversation_id)
    );
    CREATE INDEX presence_by_seq ON presence(seq);
    """,
    # 3: search over contacts: name, phone and e-mail as substrings in any case (trigram);
    # the phone without its punctuation, so "+7 (916) 123-45-67" is found by 9161234567
    """
    CREATE VIRTUAL TABLE contacts_fts USING fts5(name, phone, email, tokenize='trigram');
    INSERT INTO contacts_fts (rowid, name, phone, email)
        SELECT id, name, replace(replace(replace(replace(replace(replace(replace(
            coalesce(phone, ''), ' ', ''), '-', ''), '(', ''), ')', ''), '+', ''), '.', ''),
            '/', ''), coalesce(email, '') FROM contacts;
    CREATE TRIGGER contacts_fts_insert AFTER INSERT ON contacts BEGIN
        INSERT INTO contacts_fts (rowid, name, phone, email)
        VALUES (new.id, new.name, replace(replace(replace(replace(replace(replace(replace(
            coalesce(new.phone, ''), ' ', ''), '-', ''), '(', ''), ')', ''), '+', ''), '.', ''),
            '/', ''), coalesce(new.email, ''));
    END;
    CREATE TRIGGER contacts_fts_update AFTER UPDATE OF name, phone, email ON contacts BEGIN
        DELETE FROM contacts_fts WHERE rowid = old.id;
        INSERT INTO contacts_fts (rowid, name, phone, email)
        VALUES (new.id, new.name, replace(replace(replace(replace(replace(replace(replace(
            coalesce(new.phone, ''), ' ', ''), '-', ''), '(', ''), ')', ''), '+', ''), '.', ''),
            '/', ''), coalesce(new.email, ''));
    END;
    CREATE TRIGGER contacts_fts_delete AFTER DELETE ON contacts BEGIN
        DELETE FROM contacts_fts WHERE rowid = old.id;
    END;
    """,
    # 4: indexes for the views (Mine, Unassigned), for lists that leave hidden dialogs
    # out, for files saved by a transport, and for snoozes that end
    """
    CREATE INDEX conversations_by_assignee ON conversations(assignee_id, last_message_at);
    CREATE INDEX conversations_recent_visible ON conversations(last_message_at DESC, id DESC)
        WHERE hidden = 0;
    CREATE INDEX attachments_by_ref ON attachments(ref) WHERE ref != '';
    CREATE INDEX conversations_snoozed ON conversations(snoozed_until)
        WHERE status = 'snoozed';
    """,
    # 5: each operator's own use of the quick replies (their top replies come first),
    # a reply's wording per channel kind, and how far an interrupted send got
    """
    CREATE TABLE reply_usage (
        operator_id INTEGER NOT NULL REFERENCES operators(id),
        reply_id INTEGER NOT NULL REFERENCES quick_replies(id) ON DELETE CASCADE,
        uses INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (operator_id, reply_id)
    ) WITHOUT ROWID;
    ALTER TABLE quick_replies ADD COLUMN variants TEXT NOT NULL DEFAULT '{}';
    -- How far a send got before it had to wait (the parts of a long message that
    -- went), so a retry after a restart goes on from there instead of repeating.
    ALTER TABLE outbox ADD COLUMN progress TEXT;
    """,
    # 6: a reply that failed keeps its dialog waiting until a reply is delivered or an
    # operator dismisses the failure; what a channel can carry (files...), as the hub
    # found it in the channel's transport, so the UI knows without importing transports
    """
    ALTER TABLE conversations ADD COLUMN failed_message_id INTEGER REFERENCES messages(id);
    ALTER TABLE channels ADD COLUMN capabilities TEXT;
    CREATE INDEX conversations_failed ON conversations(failed_message_id)
        WHERE failed_message_id IS NOT NULL;
    -- Dialogs still open whose last reply failed looked answered until now: they wait
    -- again, since the customer's first message after the last reply that went out.
    UPDATE conversations SET failed_message_id = (
        SELECT m.id FROM messages m WHERE m.conversation_id = conversations.id
        AND m.direction = 'out' ORDER BY m.id DESC LIMIT 1)
    WHERE status IN ('open', 'pending') AND (
        SELECT m.state FROM messages m WHERE m.conversation_id = conversations.id
        AND m.direction = 'out' ORDER BY m.id DESC LIMIT 1) = 'failed';
    UPDATE conversations SET waiting_since = min(
        coalesce(waiting_since, 1e300),
        coalesce((SELECT min(m.created_at) FROM messages m
                  WHERE m.conversation_id = conversations.id AND m.direction = 'in'
                  AND m.id > coalesce((SELECT max(d.id) FROM messages d
                      WHERE d.conversation_id = conversations.id AND d.direction = 'out'
                      AND d.state IN ('sent', 'delivered', 'read')), 0)), 1e300),
        (SELECT f.created_at FROM messages f WHERE f.id = conversations.failed_message_id))
    WHERE failed_message_id IS NOT NULL;
    """,
    # 7: when the customer last wrote (a channel with a reply window, Meta's 24 hours,
    # counts from it); receipts that came before the send they are about was recorded
    # (a webhook can beat the send's own answer), kept until it is; the message
    # templates each channel's platform offers, as its hub last found them
    """
    ALTER TABLE conversations ADD COLUMN last_inbound_at REAL;
    UPDATE conversations SET last_inbound_at = (
        SELECT max(m.created_at) FROM messages m
        WHERE m.conversation_id = conversations.id AND m.direction = 'in');
    CREATE TABLE early_receipts (
        channel_id INTEGER NOT NULL REFERENCES channels(id),
        external_id TEXT NOT NULL,
        state TEXT NOT NULL,
        error TEXT,
        at REAL NOT NULL,
        PRIMARY KEY (channel_id, external_id)
    ) WITHOUT ROWID;
    CREATE TABLE templates (
        channel_id INTEGER NOT NULL REFERENCES channels(id),
        name TEXT NOT NULL,
        language TEXT NOT NULL,
        status TEXT NOT NULL,
        category TEXT NOT NULL DEFAULT '',
        header TEXT NOT NULL DEFAULT '',
        body TEXT NOT NULL DEFAULT '',
        footer TEXT NOT NULL DEFAULT '',
        buttons TEXT NOT NULL DEFAULT '[]',
        found_at REAL NOT NULL,
        PRIMARY KEY (channel_id, name, language)
    ) WITHOUT ROWID;
    """,
    # 8: response-time figures, kept as events happen (store/stats.py): each dialog's
    # round in its own row (no other page to write per message), the facts clustered
    # by time (one B-tree, appended at its end). A store upgraded to this version has
    # them rebuilt from its events log when first read.
    """
    ALTER TABLE conversations ADD COLUMN stats_round_start REAL;
    ALTER TABLE conversations ADD COLUMN stats_waiting_start REAL;
    ALTER TABLE conversations ADD COLUMN stats_responded INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE conversations ADD COLUMN stats_rounds INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE stats_facts (
        at REAL NOT NULL,
        event_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        conversation_id INTEGER NOT NULL,
        channel_id INTEGER NOT NULL,
        operator TEXT NOT NULL DEFAULT '',
        start REAL,
        PRIMARY KEY (at, event_id, kind)
    ) WITHOUT ROWID;
    CREATE TABLE stats_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    INSERT INTO stats_meta (key, value) SELECT 'built', '1' WHERE NOT EXISTS (SELECT 1 FROM events);
    """,
    # 9: customers' ratings of a resolved dialog (store/ratings.py). rating_asked_at:
    # when the customer was last asked; their answer then leaves the dialog resolved.
    """
    ALTER TABLE conversations ADD COLUMN rating_asked_at REAL;
    CREATE TABLE ratings (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id),
        channel_id INTEGER NOT NULL,
        operator TEXT NOT NULL DEFAULT '',
        rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
        comment TEXT NOT NULL DEFAULT '',
        message_id INTEGER REFERENCES messages(id)
    );
    CREATE INDEX ratings_by_time ON ratings(at);
    CREATE INDEX ratings_by_conversation ON ratings(conversation_id);
    """,
    # 10: outgoing webhooks (store/webhooks.py): one delivery per endpoint and event,
    # queued in the transaction that moves the follower's place in the events log.
    """
    CREATE TABLE webhook_deliveries (
        id INTEGER PRIMARY KEY,
        endpoint TEXT NOT NULL,
        event_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        conversation_id INTEGER,
        payload TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'queued',  -- queued, delivered, failed
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        last_error TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        delivered_at REAL,
        UNIQUE (endpoint, event_id)
    );
    CREATE INDEX webhook_deliveries_queued ON webhook_deliveries(endpoint, state, id);
    CREATE INDEX webhook_deliveries_by_conversation
        ON webhook_deliveries(endpoint, conversation_id, state, id);
    CREATE TABLE webhook_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    """,
    # 11: the HTTP API's tokens (opchat/api/): only a SHA-256 of each is kept.
    """
    CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        hash TEXT NOT NULL UNIQUE,
        read_only INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        revoked_at REAL,
        last_used_at REAL
    );
    """,
    # 12: the figures rolled up per UTC day and per UTC hour (store/rollup.py), written
    # with each fact so that a long period reads days. day = floor(at / 86400); buckets:
    # the durations' histogram, 32 bits per bucket, little-endian (NULL for counts).
    # A store with facts gets its roll-up filled from them when first read.
    # conversations_round: the SLA view's candidates owing a resolution.
    """
    CREATE TABLE stats_days (
        day INTEGER NOT NULL,
        channel_id INTEGER NOT NULL,
        operator TEXT NOT NULL DEFAULT '',
        kind TEXT NOT NULL,
        n INTEGER NOT NULL,
        total REAL NOT NULL DEFAULT 0,
        buckets BLOB,
        PRIMARY KEY (day, channel_id, operator, kind)
    ) WITHOUT ROWID;
    CREATE TABLE stats_hours (
        hour INTEGER NOT NULL,
        kind TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (hour, kind)
    ) WITHOUT ROWID;
    INSERT INTO stats_meta (key, value)
        SELECT 'rolled', '1' WHERE NOT EXISTS (SELECT 1 FROM stats_facts);
    CREATE INDEX conversations_round ON conversations(stats_round_start)
        WHERE stats_round_start IS NOT NULL;
    """,
    # 13: files every machine can open (store/files.py): the bytes of each file, by its
    # SHA-256, in parts of at most 1 MiB so that no side holds a whole file; written
    # only on PostgreSQL (on SQLite the file in the data dir is the one copy).
    """
    CREATE TABLE file_contents (
        sha256 TEXT NOT NULL,
        part INTEGER NOT NULL,
        content BLOB NOT NULL,
        PRIMARY KEY (sha256, part)
    ) WITHOUT ROWID;
    ALTER TABLE attachments ADD COLUMN sha256 TEXT;
    """,
    # 14: every list leaves hidden dialogs out and reads `conversations_recent_visible`;
    # the index of every dialog by recency was read by none, yet moved with each message
    """
    DROP INDEX IF EXISTS conversations_recent;
    """,
    # 15: the messages' full-text index is caught up in groups after the commits (and
    # before every search: store/search.py), not by a trigger inside each message's
    # transaction, where it cost a quarter of an ingest. `upto`: every message with an id
    # up to it is indexed (ids come in commit order: SQLite has one writer). An edit of
    # a message not yet indexed leaves the index alone (no 'delete' of what it never
    # had); the catch-up indexes the edited text.
    """
    DROP TRIGGER IF EXISTS messages_fts_insert;
    CREATE TABLE IF NOT EXISTS messages_fts_progress (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        upto INTEGER NOT NULL
    );
    INSERT OR IGNORE INTO messages_fts_progress SELECT 1, coalesce(max(id), 0) FROM messages;
    DROP TRIGGER IF EXISTS messages_fts_update;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages
    WHEN old.id <= (SELECT upto FROM messages_fts_progress) BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
        INSERT INTO messages_fts(rowid, body) VALUES (new.id, new.body);
    END;
    """,
    # 16: the figures' roll-up per day and hour follows the commits in groups
    # (store/rollup.py, store/later.py), not each fact's transaction: `rolled_upto` is
    # the last event whose facts it holds. Until now it held every fact.
    """
    INSERT INTO stats_meta (key, value)
        SELECT 'rolled_upto', CAST(coalesce(max(id), 0) AS TEXT) FROM events WHERE true
        ON CONFLICT (key) DO NOTHING;
    """,
    # 17: the contacts' search index follows the commits as the messages' does (15):
    # a new dialog's transaction no longer indexes its customer's name, phone and e-mail
    # as trigrams (a twentieth of an ingest where one message in ten is a new customer's).
    # `upto`: every contact with an id up to it is indexed (contacts are never deleted,
    # so an id is never given twice). A change to a contact not yet indexed leaves the
    # index alone; the catch-up indexes the contact as it then is.
    """
    DROP TRIGGER IF EXISTS contacts_fts_insert;
    CREATE TABLE IF NOT EXISTS contacts_fts_progress (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        upto INTEGER NOT NULL
    );
    INSERT OR IGNORE INTO contacts_fts_progress SELECT 1, coalesce(max(id), 0) FROM contacts;
    DROP TRIGGER IF EXISTS contacts_fts_update;
    CREATE TRIGGER contacts_fts_update AFTER UPDATE OF name, phone, email ON contacts
    WHEN old.id <= (SELECT upto FROM contacts_fts_progress) BEGIN
        DELETE FROM contacts_fts WHERE rowid = old.id;
        INSERT INTO contacts_fts (rowid, name, phone, email)
        VALUES (new.id, new.name, replace(replace(replace(replace(replace(replace(replace(
            coalesce(new.phone, ''), ' ', ''), '-', ''), '(', ''), ')', ''), '+', ''), '.', ''),
            '/', ''), coalesce(new.email, ''));
    END;
    DROP TRIGGER IF EXISTS contacts_fts_delete;
    CREATE TRIGGER contacts_fts_delete AFTER DELETE ON contacts
    WHEN old.id <= (SELECT upto FROM contacts_fts_progress) BEGIN
        DELETE FROM contacts_fts WHERE rowid = old.id;
    END;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(sqlite3.DatabaseError):
    pass


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database up to SCHEMA_VERSION; returns the version it was at."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"the database has schema version {current}, this opchat knows up to "
            f"{SCHEMA_VERSION}: upgrade opchat"
        )
    for version in range(current + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # executescript would COMMIT first; run statements one by one instead.
            for statement in _statements(MIGRATIONS[version - 1]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back by itself
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return current


def _statements(script: str) -> list[str]:
    """Split a script into statements, keeping trigger bodies whole."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--") and not buffer.strip():
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
