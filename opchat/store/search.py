"""Search over everything an operator may remember of a dialog.

Three indexes, read in one snapshot:

- messages: ``messages_fts`` (unicode61, diacritics folded): every word of the
  query, as a prefix, in any order — "зак номе" finds "ЗАКАЗ номер 5";
- contacts: ``contacts_fts`` (trigram, migration 3): name, phone and e-mail as
  substrings in any case, so "mail.ru" or the last digits of a phone number
  find the person; the phone is indexed as digits only, and a query that looks
  like a phone number is compared as digits ("+7 (916) 123" and "8 916 123"
  both find 79161234567);
- labels: the few label names, matched in Python word by word, as prefixes;
  a matching label brings the conversations it is on.

Nothing a user types is FTS syntax: message words are quoted (`fts_query`),
contact pieces are quoted phrases, so ``"``, ``*``, ``NEAR(`` or ``AND`` are
searched for as text and never make a query fail.

On SQLite the messages' and the contacts' indexes are not written in each message's
transaction (a quarter of an ingest's time went to the messages', a twentieth to
the contacts' where one message in ten is a new customer's) but caught up in groups
(store/later.py): in a write transaction soon after messages were stored (a contact
is only ever stored with its first message), when the store opens and closes, and
before every search, so a search never misses a stored message or contact
(`catch_up`). A store opened read-only (a backup copy, `opchat search`) cannot
write: what its writer left unindexed (the last seconds', or more after a crash)
it searches apart, in a table made as the index is, in memory (`db.matched_apart`).

Hits carry the matched text with MATCH_START/MATCH_END around each match;
text that itself contains those characters (a customer can send anything)
gets its markers dropped rather than trusted, so a highlight cannot be forged.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from opchat.model import (
    MATCH_END,
    MATCH_START,
    ContactHit,
    LabelHit,
    Message,
    SearchHit,
    SearchResults,
)
from opchat.store.db import Database, matched_apart
from opchat.store.later import CatchUp
from opchat.store.part import Part
from opchat.store.rows import with_attachments
from opchat.store.sql import Conn, Row, dialect

CONTACT_HITS = 20  # contacts shown for one query
LABEL_HITS = 20  # labelled conversations shown for one query
MIN_PIECE = 3  # the trigram index cannot find anything shorter
PHONE_DIGITS = 10  # a phone is compared by its last 10 digits (no country code needed)
RECENT = 50_000  # PostgreSQL: the newest messages looked at in order before the whole index

# The indexes as the schema makes them (migrations 1 and 3; a test holds them equal): a
# search builds what the store has not indexed yet into tables made the same way.
MESSAGES_INDEX = "fts5(body, tokenize='unicode61 remove_diacritics 2')"
CONTACTS_INDEX = "fts5(name, phone, email, tokenize='trigram')"

_WORD = re.compile(r"\w+", re.UNICODE)
_PHONE_LIKE = re.compile(r"[\d\s()+\-./]+")
_NOT_DIGIT = re.compile(r"\D")
_MARKERS = re.compile(f"[{MATCH_START}{MATCH_END}]")


def fts_query(text: str) -> str:
    """A user's words as an FTS5 query: every word, as a prefix, in any order.

    The words are quoted, so FTS5 syntax typed by a user (or a customer's
    text pasted in) is searched for, never interpreted.
    """
    return " ".join(f'"{word}"*' for word in _WORD.findall(text))


def contact_query(text: str) -> str:
    """The query for the trigram index of contacts ("" when nothing can match).

    Every whitespace-separated piece must appear somewhere in the contact, as a
    quoted phrase (so it is text, whatever it contains). A query made of digits
    and phone punctuation is one number instead, compared as digits.
    """
    pieces, any_of = contact_pieces(text)
    return (" OR " if any_of else " ").join(_phrase(piece) for piece in pieces)


def contact_pieces(text: str) -> tuple[list[str], bool]:
    """What a contact must contain to match ``text``: (the pieces, whether any one of
    them is enough). A phone-like query is its number (and without a trunk prefix)."""
    text = text.strip()
    digits = _NOT_DIGIT.sub("", text)
    if _PHONE_LIKE.fullmatch(text) and len(digits) >= MIN_PIECE:
        numbers = [digits[-PHONE_DIGITS:]]
        if digits.startswith("8") and len(digits) - 1 >= MIN_PIECE:
            numbers.append(digits[1:])  # a Russian trunk prefix: 8 916… is +7 916…
        return list(dict.fromkeys(numbers)), True
    return [piece for piece in text.split() if len(piece) >= MIN_PIECE], False


def _phrase(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


class SearchStore(Part):
    """`Store.search`."""

    def __init__(self, db: Database, clock: Callable[[], float]) -> None:
        super().__init__(db, clock)
        # The messages' and contacts' indexes are this store's to catch up on SQLite (and
        # not read-only); a contact is stored only with a message, which is the signal.
        self.later = (CatchUp(db, "messages", catch_up_index, "the search index")
                      if db.dialect.name == "sqlite" else None)

    async def catch_up(self) -> int:
        """Index the messages and contacts stored and not yet indexed, in a transaction of
        its own; how many (SQLite, writable; elsewhere nothing to do). Every search does
        it first; after commits it mostly rides along in a later write (store/later.py)."""
        return 0 if self.later is None else await self.later.now()

    async def catch_up_or_log(self) -> None:
        """`catch_up`; a failure is logged, not raised (a later search or write tries
        again)."""
        if self.later is not None:
            await self.later.now_or_log()

    async def close(self) -> None:
        """Catch up whatever is left (the next open would, but a closed store is whole)."""
        if self.later is not None:
            await self.later.close()

    async def find(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Messages matching every word of ``query`` (as prefixes), newest first."""
        query = query.replace("\x00", "")  # SQLite ends a string at NUL
        if self.db.dialect.name == "postgresql":
            return await self.db.read(_message_hits_pg, _WORD.findall(query), limit)
        await self.catch_up_or_log()
        return await self.db.read(_message_hits, fts_query(query), limit)

    async def find_all(self, query: str, limit: int = 50) -> SearchResults:
        """Contacts, labelled conversations and messages matching ``query``, in one snapshot.

        Up to ``limit`` messages, newest first; contacts and labelled
        conversations (up to 20 each) by their most recent activity.
        """
        query = query.replace("\x00", "")  # SQLite ends a string at NUL
        await self.catch_up_or_log()

        def run(conn: Conn) -> SearchResults:
            if dialect(conn).name == "postgresql":
                contacts = _contact_hits_pg(conn, *contact_pieces(query), CONTACT_HITS)
                messages = _message_hits_pg(conn, _WORD.findall(query), limit)
            else:
                contacts = _contact_hits(conn, contact_query(query), CONTACT_HITS)
                messages = _message_hits(conn, fts_query(query), limit)
            return SearchResults(
                contacts=tuple(contacts),
                labels=tuple(_label_hits(conn, _WORD.findall(query.casefold()), LABEL_HITS)),
                messages=tuple(messages),
            )

        return await self.db.read(run)

    async def messages_newer(
        self, conversation_id: int, after_id: int, limit: int = 100
    ) -> list[Message]:
        """Up to ``limit`` messages just after ``after_id``, oldest first.

        A thread opened at a found message shows the page around it and fetches
        the newer ones page by page as the operator scrolls down.
        """

        def run(conn: Conn) -> list[Message]:
            rows = conn.execute(
                "SELECT * FROM messages WHERE conversation_id = ? AND id > ? AND hidden = 0 "
                "ORDER BY id LIMIT ?", (conversation_id, after_id, limit)).fetchall()
            return with_attachments(conn, rows)

        return await self.db.read(run)


# The SQL behind the methods -------------------------------------------------------------


def catch_up_index(conn: Conn) -> int:
    """In the caller's write transaction, index every message not yet in ``messages_fts``
    and every contact not yet in ``contacts_fts`` (SQLite; migrations 15 and 17 in
    schema.py); how many rows of both."""
    return sum(_catch_up(conn, *part) for part in _INDEXED)


def _contact_texts(table: str) -> list[str]:
    """A contact of ``table`` (an alias) as its index holds it: the name, the phone as
    digits and punctuation-free (as migration 3 indexed it), the e-mail."""
    phone = f"coalesce({table}.phone, '')"
    for mark in " -()+./":
        phone = f"replace({phone}, '{mark}', '')"
    return [f"{table}.name", phone, f"coalesce({table}.email, '')"]


# What each index is filled from: (its progress table, the source table, the INSERT of
# the source's rows with ids in a range).
_INDEXED = (
    ("messages_fts_progress", "messages",
     "INSERT INTO messages_fts (rowid, body) SELECT id, body FROM messages "
     "WHERE id > ? AND id <= ?"),
    ("contacts_fts_progress", "contacts",
     "INSERT INTO contacts_fts (rowid, name, phone, email) "
     f"SELECT id, {', '.join(_contact_texts('contacts'))} FROM contacts "
     "WHERE id > ? AND id <= ?"),
)


def _catch_up(conn: Conn, progress: str, source: str, insert: str) -> int:
    upto = conn.execute(f"SELECT upto FROM {progress}").fetchone()[0]
    top = conn.execute(f"SELECT coalesce(max(id), 0) FROM {source}").fetchone()[0]
    if top <= upto:
        return 0
    indexed = conn.execute(insert, (upto, top)).rowcount
    conn.execute(f"UPDATE {progress} SET upto = ?", (top,))
    return indexed


# From a message or a contact to the dialog a hit opens, and its names.
_DIALOG_JOINS = ("JOIN contacts co ON co.id = c.contact_id "
                 "JOIN channels ch ON ch.id = c.channel_id ")
_LATEST_DIALOG = ("JOIN conversations c ON c.id = (SELECT id FROM conversations "
                  "  WHERE contact_id = co.id AND hidden = 0 "
                  "  ORDER BY last_message_at DESC, id DESC LIMIT 1) "
                  "JOIN channels ch ON ch.id = c.channel_id ")
_CONTACT_MARKS = ", ".join(f"highlight({{t}}, {k}, char(2), char(3)) AS {name}_hl"
                           for k, name in enumerate(("name", "phone", "email")))


def _message_hits(conn: Conn, match: str, limit: int) -> list[SearchHit]:
    if not match:
        return []
    # The messages not indexed yet are the newest (the index holds every id up to one).
    hits = _unindexed_message_hits(conn, match)[:limit]
    rows = conn.execute(
        "SELECT m.id, m.conversation_id, m.created_at, co.name AS contact_name, "
        "ch.name AS channel_name, "
        "snippet(messages_fts, 0, char(2), char(3), '…', 12) AS snippet, "
        "instr(m.body, char(2)) OR instr(m.body, char(3)) AS forged "
        "FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid "
        "JOIN conversations c ON c.id = m.conversation_id " + _DIALOG_JOINS +
        "WHERE messages_fts MATCH ? AND m.hidden = 0 AND c.hidden = 0 "
        "ORDER BY messages_fts.rowid DESC LIMIT ?", (match, limit - len(hits)))
    return hits + [SearchHit(r["id"], r["conversation_id"], r["contact_name"],
                             r["channel_name"], r["created_at"],
                             _trusted(r["snippet"], r["forged"])) for r in rows]


def _unindexed_message_hits(conn: Conn, match: str) -> list[SearchHit]:
    """The messages matching ``match`` among those stored since the index's last catch-up,
    newest first. A writable store catches up before it searches, so only what came in
    meanwhile; a read-only one (`opchat search`, a backup copy) cannot, and its writer
    may have gone before catching up (killed, a power cut)."""
    upto = conn.execute("SELECT upto FROM messages_fts_progress").fetchone()[0]
    rows = {r["id"]: r for r in conn.execute(
        "SELECT m.id, m.conversation_id, m.created_at, m.body, co.name AS contact_name, "
        "ch.name AS channel_name FROM messages m "
        "JOIN conversations c ON c.id = m.conversation_id " + _DIALOG_JOINS +
        "WHERE m.id > ? AND m.hidden = 0 AND c.hidden = 0", (upto,))}
    found = matched_apart(MESSAGES_INDEX, [(i, r["body"]) for i, r in rows.items()], match,
                          "snippet(t, 0, char(2), char(3), '…', 12) AS snippet")
    return [SearchHit(r["id"], r["conversation_id"], r["contact_name"], r["channel_name"],
                      r["created_at"], _trusted(f["snippet"], _has_markers(r["body"])))
            for f in found for r in (rows[f["rowid"]],)]


def _contact_hits(conn: Conn, match: str, limit: int) -> list[ContactHit]:
    if not match:
        return []
    rows = conn.execute(
        "SELECT co.id, co.name, co.phone, co.email, "
        f"{_CONTACT_MARKS.format(t='contacts_fts')}, "
        "c.id AS conversation_id, ch.name AS channel_name, c.last_message_at "
        "FROM contacts_fts JOIN contacts co ON co.id = contacts_fts.rowid " + _LATEST_DIALOG +
        "WHERE contacts_fts MATCH ? AND co.merged_into IS NULL "
        "ORDER BY c.last_message_at DESC, c.id DESC LIMIT ?", (match, limit))
    hits = [_contact_hit(r, r) for r in rows] + _unindexed_contact_hits(conn, match)
    hits.sort(key=lambda h: (h.last_message_at, h.conversation_id), reverse=True)
    return hits[:limit]


def _unindexed_contact_hits(conn: Conn, match: str) -> list[ContactHit]:
    """`_unindexed_message_hits` for the contacts (a new customer's, stored with their
    first message)."""
    upto = conn.execute("SELECT upto FROM contacts_fts_progress").fetchone()[0]
    texts = ", ".join(f"{text} AS indexed_{k}" for k, text in enumerate(_contact_texts("co")))
    rows = {r["id"]: r for r in conn.execute(
        f"SELECT co.id, co.name, co.phone, co.email, {texts}, "
        "c.id AS conversation_id, ch.name AS channel_name, c.last_message_at "
        "FROM contacts co " + _LATEST_DIALOG +
        "WHERE co.id > ? AND co.merged_into IS NULL", (upto,))}
    found = matched_apart(
        CONTACTS_INDEX, [(i, r["indexed_0"], r["indexed_1"], r["indexed_2"])
                         for i, r in rows.items()], match, _CONTACT_MARKS.format(t="t"))
    return [_contact_hit(rows[f["rowid"]], f) for f in found]


def _contact_hit(row: Row, marked: Row) -> ContactHit:
    """A contact's ``row`` as a hit, marked as the index's ``highlight()`` in ``marked``."""
    name, email, phone = row["name"] or "", row["email"] or "", row["phone"] or ""
    return ContactHit(
        contact_id=row["id"],
        name=_trusted(marked["name_hl"], _has_markers(name)),
        phone=_phone_marked(phone, marked["phone_hl"]),
        email=_trusted(marked["email_hl"], _has_markers(email)),
        conversation_id=row["conversation_id"], channel_name=row["channel_name"],
        last_message_at=row["last_message_at"])


def _label_hits(conn: Conn, words: list[str], limit: int) -> list[LabelHit]:
    if not words:
        return []
    # Labels are few (a team's vocabulary), and SQLite's LIKE folds only ASCII case.
    marked: dict[int, str] = {}
    for label_id, name in conn.execute("SELECT id, name FROM labels"):
        text = _marked_prefixes(name, words)
        if text is not None:
            marked[label_id] = text
    if not marked:
        return []
    rows = conn.execute(
        "SELECT c.id, min(cl.label_id) AS label_id, co.name AS contact_name, "
        "ch.name AS channel_name, c.last_message_at "
        "FROM conversation_labels cl JOIN conversations c ON c.id = cl.conversation_id "
        "JOIN contacts co ON co.id = c.contact_id JOIN channels ch ON ch.id = c.channel_id "
        f"WHERE cl.label_id IN ({','.join('?' * len(marked))}) AND c.hidden = 0 "
        "GROUP BY c.id, co.name, ch.name ORDER BY c.last_message_at DESC, c.id DESC LIMIT ?",
        (*marked, limit))
    return [LabelHit(marked[r["label_id"]], r["id"], r["contact_name"], r["channel_name"],
                     r["last_message_at"]) for r in rows]


# PostgreSQL: the same results from its own indexes (store/schema_pg.py). Words are
# prefixes of the 'simple' configuration's lexemes, folded as the index folds them;
# contacts' pieces are substrings of the name, the phone's digits or the e-mail, found
# through trigram indexes and marked here.


def ts_query(text: str) -> str:
    """A user's words as PostgreSQL's tsquery: every word, as a prefix (fts_query's twin;
    the words are \\w+, so nothing in them needs quoting)."""
    return " & ".join(f"'{word}':*" for word in _WORD.findall(text))


def _message_hits_pg(conn: Conn, words: list[str], limit: int) -> list[SearchHit]:
    """Newest first, as FTS5 gives them by rowid. A GIN index has no order, so: first the
    newest RECENT messages, newest first, each checked against its stored tsvector (a
    common word fills the page there at once); only when they hold fewer than a page,
    every match from the index, sorted (a rarer word has few)."""
    if not words:
        return []
    query = ts_query(" ".join(words))
    options = f"StartSel={MATCH_START}, StopSel={MATCH_END}, MaxWords=12, MinWords=4, " \
              "MaxFragments=1, FragmentDelimiter=…"
    select = (
        "SELECT m.id, m.conversation_id, m.created_at, co.name AS contact_name, "
        "ch.name AS channel_name, ts_headline('simple', m.body, q, ?) AS snippet, "
        "(strpos(m.body, chr(2)) > 0 OR strpos(m.body, chr(3)) > 0) AS forged "
        "FROM {source}, to_tsquery('simple', opchat_fold(?)) AS q, "
        "conversations c, contacts co, channels ch "
        "WHERE m.body_tsv @@ q {where} "
        "AND c.id = m.conversation_id AND co.id = c.contact_id AND ch.id = c.channel_id "
        "AND m.hidden = 0 AND c.hidden = 0 ORDER BY m.id DESC LIMIT ?")
    rows = conn.execute(select.format(
        source="messages m",
        where="AND m.id > (SELECT coalesce(max(id), 0) FROM messages) - ?"),
        (options, query, RECENT, limit)).fetchall()
    if len(rows) < limit:
        rows = conn.execute(
            "WITH found AS MATERIALIZED (SELECT id FROM messages "
            "WHERE body_tsv @@ to_tsquery('simple', opchat_fold(?))) "
            + select.format(source="found JOIN messages m ON m.id = found.id", where=""),
            (query, options, query, limit)).fetchall()
    return [SearchHit(r["id"], r["conversation_id"], r["contact_name"], r["channel_name"],
                      r["created_at"], _trusted(r["snippet"], r["forged"])) for r in rows]


def _contact_hits_pg(conn: Conn, pieces: list[str], any_of: bool,
                     limit: int) -> list[ContactHit]:
    if not pieces:
        return []
    # One index-read per column, joined (an OR of the three would read every contact).
    columns = ("lower(name)", "opchat_phone_digits(phone)", "lower(coalesce(email, ''))")
    one = ("co.id IN (" + " UNION ALL ".join(f"SELECT id FROM contacts WHERE {column} LIKE ?"
                                             for column in columns) + ")")
    where = (" OR " if any_of else " AND ").join([one] * len(pieces))
    patterns = [f"%{_like(piece.lower())}%" for piece in pieces for _ in columns]
    rows = conn.execute(
        "SELECT co.id, co.name, co.phone, co.email, opchat_phone_digits(co.phone) AS digits, "
        "c.id AS conversation_id, ch.name AS channel_name, c.last_message_at "
        "FROM contacts co CROSS JOIN LATERAL (SELECT id, channel_id, last_message_at "
        "  FROM conversations WHERE contact_id = co.id AND hidden = 0 "
        "  ORDER BY last_message_at DESC, id DESC LIMIT 1) AS c "
        "JOIN channels ch ON ch.id = c.channel_id "
        f"WHERE ({where}) AND co.merged_into IS NULL "
        "ORDER BY c.last_message_at DESC, c.id DESC LIMIT ?", (*patterns, limit))
    hits = []
    for r in rows:
        name, email, phone = r["name"] or "", r["email"] or "", r["phone"] or ""
        hits.append(ContactHit(
            contact_id=r["id"],
            name=_trusted(_marked_pieces(name, pieces), _has_markers(name)),
            phone=_phone_marked(phone, _marked_pieces(r["digits"] or "", pieces)),
            email=_trusted(_marked_pieces(email, pieces), _has_markers(email)),
            conversation_id=r["conversation_id"], channel_name=r["channel_name"],
            last_message_at=r["last_message_at"]))
    return hits


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _marked_pieces(text: str, pieces: list[str]) -> str:
    """``text`` with every place a piece appears (any case) marked, as FTS5's highlight."""
    folded = text.lower()
    spans: list[tuple[int, int]] = []
    for piece in pieces:
        needle = piece.lower()
        start = folded.find(needle)
        while needle and start >= 0:
            spans.append((start, start + len(needle)))
            start = folded.find(needle, start + 1)
    out, last = [], 0
    for start, end in sorted(spans):
        if end <= last:
            continue
        start = max(start, last)
        out += [text[last:start], MATCH_START, text[start:end], MATCH_END]
        last = end
    return "".join(out) + text[last:]


def _marked_prefixes(name: str, words: list[str]) -> str | None:
    """``name`` with its words that start with a query word marked; None unless all match."""
    name = _MARKERS.sub("", name)
    spans = [(m.start(), m.end(), m.group().casefold()) for m in _WORD.finditer(name)]
    marks: list[tuple[int, int]] = []
    for word in words:
        found = [(start, end) for start, end, text in spans if text.startswith(word)]
        if not found:
            return None
        marks += found
    out, last = [], 0
    for start, end in sorted(set(marks)):
        if start < last:
            continue
        out += [name[last:start], MATCH_START, name[start:end], MATCH_END]
        last = end
    return "".join(out) + name[last:]


def _phone_marked(phone: str, indexed: str | None) -> str:
    """The phone as it was written, with the match found in its indexed digits marked.

    The index holds the phone without its punctuation; walking both strings
    side by side maps each marker back onto the original.
    """
    phone = _MARKERS.sub("", phone)
    out: list[str] = []
    position, opening = 0, False
    for char in indexed or "":
        if char == MATCH_START:
            opening = True
        elif char == MATCH_END:
            out.append(MATCH_END)
        else:
            found = phone.find(char, position)
            if found < 0:  # the index and the row disagree: show it plain
                return phone
            out.append(phone[position:found])
            if opening:
                out.append(MATCH_START)
                opening = False
            out.append(char)
            position = found + 1
    out.append(phone[position:])
    return "".join(out)


def _has_markers(text: str) -> bool:
    return MATCH_START in text or MATCH_END in text


def _trusted(marked: str | None, forged: object) -> str:
    """Drop every marker when the text itself contained marker characters."""
    marked = marked or ""
    return _MARKERS.sub("", marked) if forged else marked
