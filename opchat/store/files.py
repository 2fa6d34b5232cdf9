"""Files that came with messages: fetched from the platform only when wanted.

An attachment is stored as metadata when its message arrives (`attachments`
row: kind, name, size, the platform's handle). When an operator asks for the
file, the UI records the request as an event; the hub, which alone talks to
the platform, follows the feed, fetches the file into the data dir and
records where it put it (or why it could not). Any operator's app can then
open it.

On PostgreSQL the hubs and the apps may be on several machines, each with its own
data dir, so a path is only good on the machine that wrote it. Whenever a file is
fetched, saved on arrival or attached to a reply, its bytes also go into the store
(`file_contents`, keyed by SHA-256, in parts of `PART` bytes) and the attachment
records the hash; a machine that cannot read the path writes the bytes back into
its own data dir (`restore`), checked against the hash. Neither side ever holds
more than one part in memory. Files over `SHARED_MAX` stay on their machine (a log
line says so). The bytes are written on a connection of their own, outside the one
write lock every machine's changes take (`PgDatabase.apart`), so a large file holds
up nobody's messages. On SQLite, one machine with one data dir, nothing is copied.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from opchat.model import Attachment, EventKind, Operator
from opchat.privatefile import private_file
from opchat.store.changes import record_event
from opchat.store.part import Part
from opchat.store.sql import POSTGRESQL, Conn

log = logging.getLogger("opchat.store.files")

PART = 1 << 20  # bytes in one row of file_contents
# The largest file kept in the store for every machine: the largest an operator may
# attach (screens/thread_pane.MAX_FILE), and above what the platforms let a bot fetch
# (Telegram 20 MB, e-mail servers 25 MB), so every file that comes or goes fits; a
# larger one would make the database (and its backups) grow by video files.
SHARED_MAX = 50 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class StoredAttachment:
    attachment: Attachment
    message_id: int
    conversation_id: int
    channel: str  # the channel's name: whose transport can fetch it


class AttachmentStore(Part):
    """`Store.attachments`."""

    @property
    def shared(self) -> bool:
        """Whether this store keeps files' bytes for every machine (PostgreSQL)."""
        return shares_files(self.db)

    async def keep(self, path: str | Path) -> str | None:
        """Put the file at ``path`` into the store for every machine; its SHA-256, or
        None (SQLite, too large, unreadable: it stays where it is)."""
        return await keep_file(self.db, path)

    async def kept(self, attachments: Sequence[Attachment]) -> list[Attachment]:
        """``attachments`` with the files that have a path kept for every machine and
        their hashes noted (unchanged on SQLite)."""
        return await attachments_kept(self.db, attachments)

    async def restore(self, sha256: str, target: Path,
                      modes: tuple[int, int] = (0o600, 0o700)) -> bool:
        """Write the file with ``sha256`` from the store to ``target`` (file, folder
        ``modes``), unless a file with those bytes is there already; False if the store
        does not have it. The bytes are checked against the hash before ``target``
        appears."""
        if not self.shared:
            return False
        if target.is_file():
            try:
                if file_digest(target)[0] == sha256:
                    return True
            except OSError:
                pass
        return await self.db.apart(get_file, sha256, target, modes)  # type: ignore[attr-defined]

    async def get(self, attachment_id: int) -> StoredAttachment | None:
        def run(conn: Conn) -> StoredAttachment | None:
            row = conn.execute(
                "SELECT a.*, m.conversation_id, ch.name AS channel FROM attachments a "
                "JOIN messages m ON m.id = a.message_id JOIN channels ch ON ch.id = m.channel_id "
                "WHERE a.id = ?", (attachment_id,)).fetchone()
            if row is None:
                return None
            return StoredAttachment(
                Attachment(row["kind"], row["filename"], row["mime"], row["size"], row["ref"],
                           row["local_path"], row["id"], row["sha256"]),
                row["message_id"], row["conversation_id"], row["channel"])

        return await self.db.read(run)

    async def request(self, attachment_id: int, by: Operator | None) -> None:
        """Ask the hub to fetch a file (it answers with attachment.ready or .failed)."""
        found = await self.get(attachment_id)
        if found is None:
            raise LookupError(f"no attachment {attachment_id}")

        def run(conn: Conn) -> None:
            record_event(conn, self.clock(), EventKind.ATTACHMENT_REQUESTED, found.conversation_id,
                         found.message_id, by.login if by else None,
                         {"attachment": attachment_id})

        await self.db.write(run)

    async def fetched(
        self, attachment_id: int, local_path: str | None, error: str = ""
    ) -> None:
        """The hub fetched the file to ``local_path``, or could not (``error``)."""
        found = await self.get(attachment_id)
        if found is None:
            return
        sha256 = await keep_file(self.db, local_path) if local_path is not None else None

        def run(conn: Conn) -> None:
            if local_path is not None:
                conn.execute("UPDATE attachments SET local_path = ?, "
                             "sha256 = coalesce(?, sha256) WHERE id = ?",
                             (local_path, sha256, attachment_id))
            record_event(conn, self.clock(),
                         EventKind.ATTACHMENT_READY if local_path is not None
                         else EventKind.ATTACHMENT_FAILED,
                         found.conversation_id, found.message_id,
                         data={"attachment": attachment_id, "error": error} if error
                         else {"attachment": attachment_id})

        await self.db.write(run)

    async def saved(self, channel: str, ref: str, local_path: str) -> int:
        """A transport saved a file by itself (fetched eagerly): note where, for every
        attachment of that channel with that handle; returns how many."""
        sha256 = await keep_file(self.db, local_path)

        def run(conn: Conn) -> int:
            return conn.execute(
                "UPDATE attachments SET local_path = ?, sha256 = ? WHERE ref = ? AND ref != '' "
                "AND local_path IS NULL "
                "AND message_id IN (SELECT m.id FROM messages m JOIN channels ch "
                "ON ch.id = m.channel_id WHERE ch.name = ?)",
                (local_path, sha256, ref, channel)).rowcount

        return await self.db.write(run)


def add_attachments(conn: Conn, message_id: int, attachments: Sequence[Attachment]) -> None:
    """The files that came (or go) with a message, in the caller's transaction."""
    for a in attachments:
        conn.execute("INSERT INTO attachments (message_id, kind, filename, mime, size, ref, "
                     "local_path, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (message_id, a.kind, a.filename, a.mime, a.size, a.ref, a.local_path,
                      a.sha256))


# -- the files' bytes -----------------------------------------------------------------------


def shares_files(db: Any) -> bool:
    """Whether ``db`` keeps files' bytes for every machine: a PostgreSQL store."""
    return getattr(db, "dialect", None) is POSTGRESQL and hasattr(db, "apart") \
        and not getattr(db, "read_only", False)


async def keep_file(db: Any, path: str | Path) -> str | None:
    """The file at ``path`` put into ``db`` for every machine (nothing written when the
    store has those bytes already); its SHA-256, or None when it stays local only."""
    if not shares_files(db):
        return None
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        log.warning("file %s not kept for the other machines: %s", path, exc)
        return None
    if size > SHARED_MAX:
        log.warning("file %s (%.1f MB) is larger than %d MB: it stays on this machine only",
                    path, size / 1e6, SHARED_MAX // (1024 * 1024))
        return None
    try:
        return await db.apart(put_file, Path(path))
    except Exception as exc:  # the file is still here; the other machines lack it
        log.warning("file %s not kept for the other machines: %s", path, exc)
        return None


async def attachments_kept(db: Any, attachments: Sequence[Attachment]) -> list[Attachment]:
    """``attachments`` with each file that has a path put into ``db`` for every machine
    and its hash noted (as they are on SQLite)."""
    kept = []
    for a in attachments:
        if a.local_path and a.sha256 is None and shares_files(db):
            a = replace(a, sha256=await keep_file(db, a.local_path))
        kept.append(a)
    return kept


def file_digest(path: Path) -> tuple[str, int]:
    """The file's SHA-256 (hex) and size, read a part at a time."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as file:
        while chunk := file.read(PART):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class HashMismatch(OSError):
    """The bytes are not those the hash names (the file changed while it was stored,
    or the store's copy is damaged)."""


def put_file(conn: Conn, path: Path) -> str:
    """In one transaction: the file's parts under its hash, unless they are there."""
    sha256, _ = file_digest(path)
    if conn.execute("SELECT 1 FROM file_contents WHERE sha256 = ? AND part = 0",
                    (sha256,)).fetchone():
        return sha256
    digest = hashlib.sha256()
    part = 0
    with open(path, "rb") as file:
        chunk = file.read(PART)
        while True:
            digest.update(chunk)
            conn.execute("INSERT INTO file_contents (sha256, part, content) VALUES (?, ?, ?) "
                         "ON CONFLICT DO NOTHING", (sha256, part, chunk))
            part += 1
            chunk = file.read(PART)
            if not chunk:
                break
    if digest.hexdigest() != sha256:
        raise HashMismatch(f"{path} changed while it was being stored")
    return sha256


def get_file(conn: Conn, sha256: str, target: Path, modes: tuple[int, int]) -> bool:
    """The parts of ``sha256`` written to ``target`` (under a temporary name, renamed
    once the hash is checked); False if the store has no such file."""
    if not conn.execute("SELECT 1 FROM file_contents WHERE sha256 = ? AND part = 0",
                        (sha256,)).fetchone():
        return False
    digest = hashlib.sha256()
    with private_file(target, modes) as file:
        part = 0
        while (row := conn.execute(
                "SELECT content FROM file_contents WHERE sha256 = ? AND part = ?",
                (sha256, part)).fetchone()) is not None:
            chunk = bytes(row[0])
            digest.update(chunk)
            file.write(chunk)
            part += 1
        if digest.hexdigest() != sha256:
            raise HashMismatch(f"the store's copy of {target.name} does not match its hash")
    return True
