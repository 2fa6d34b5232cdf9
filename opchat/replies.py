"""Quick replies: how they are found, and their file formats.

Ranking is what `/del` in the reply box and the number keys of the palette
stand on, so it is a pure function over the replies in memory
(`ReplyIndex.search`): a shortcut that starts with what was typed first, then
a shortcut that contains it, then replies whose title and body have every
word typed (as word beginnings); within each group the most used first.

Files are for `opchat replies import|export`, YAML or CSV::

    - shortcut: delivery
      title: Delivery terms
      folder: orders          # optional
      owner: anna             # optional: a private reply of that operator
      attachment: /srv/price.pdf   # optional: a file sent with the reply
      body: |
        We deliver in 1-2 days across the city, {contact.first_name}.

The CSV has the same columns, with a header row. A file is checked whole
before anything is stored, so a broken one changes nothing.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from opchat.model import QuickReply

SHORTCUT = re.compile(r"^[\w.-]{1,40}$", re.UNICODE)
KIND = re.compile(r"[a-z][a-z0-9_-]{0,39}")  # a channel kind, as in the config
FIELDS = ("shortcut", "title", "body", "folder", "owner", "attachment", "variants")
FOLDER_CHARS = 40
_WORD = re.compile(r"\w+", re.UNICODE)


class RepliesFileError(ValueError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field  # which field of one reply is wrong, when it is one


@dataclass(frozen=True, slots=True)
class ReplyDraft:
    """A reply as written by someone, before the store gives it an id."""

    shortcut: str
    title: str
    body: str
    folder: str = ""
    owner: str | None = None  # operator login for a private reply; None: shared
    attachment: str | None = None  # a file path sent with the reply
    # The wording for one kind of channel (e.g. "webchat": "…") where it must differ.
    variants: dict[str, str] = field(default_factory=dict, hash=False)


def reply_text(reply: QuickReply, channel_kind: str) -> str:
    """The reply's wording for a channel of this kind: its variant, else its body."""
    variants = getattr(reply, "variants", None) or {}
    return variants.get(channel_kind) or reply.body


# Ranking ---------------------------------------------------------------------------------


class ReplyIndex:
    """Replies prepared for ranking as the operator types (thousands, per keystroke).

    `replies` should come in the store's order (most used first): it is the
    order within each group and the order with nothing typed.
    """

    def __init__(self, replies: Sequence[QuickReply]) -> None:
        self.replies = list(replies)
        self._keys = [r.shortcut.casefold() for r in self.replies]
        # Title and body, folded once: a substring test on this rules most replies
        # out before the slower word-by-word test.
        self._texts = [f"{r.title}\n{r.body}".casefold() for r in self.replies]
        self._words: dict[int, list[str]] = {}

    def __len__(self) -> int:
        return len(self.replies)

    def search(self, query: str, limit: int | None = None) -> list[QuickReply]:
        query = query.strip().removeprefix("/").casefold()
        if not query:
            return self.replies[:limit]
        words = _WORD.findall(query)
        tiers: tuple[list[int], list[int], list[int]] = ([], [], [])
        for n, key in enumerate(self._keys):
            if key.startswith(query):
                tiers[0].append(n)
            elif query in key:
                tiers[1].append(n)
            elif words and self._has_words(n, words):
                tiers[2].append(n)
        exact = [n for n in tiers[0] if self._keys[n] == query]
        order = exact + [n for n in tiers[0] if self._keys[n] != query] + tiers[1] + tiers[2]
        return [self.replies[n] for n in order[:limit]]

    def _has_words(self, n: int, words: list[str]) -> bool:
        text = self._texts[n]
        if not all(word in text for word in words):
            return False
        own = self._words.get(n)
        if own is None:
            own = self._words[n] = _WORD.findall(text)
        return all(any(w.startswith(word) for w in own) for word in words)


def rank_replies(
    replies: Sequence[QuickReply], query: str, limit: int | None = None
) -> list[QuickReply]:
    """`replies` that match `query`, best first (see the module's docstring)."""
    return ReplyIndex(replies).search(query, limit)


# Files -----------------------------------------------------------------------------------


def check_reply(shortcut: Any, title: Any, body: Any, where: str, folder: Any = "",
                owner: Any = None, attachment: Any = None, variants: Any = None) -> ReplyDraft:
    if not isinstance(shortcut, str) or not SHORTCUT.match(shortcut):
        raise RepliesFileError(f"{where}: shortcut must be 1-40 letters, digits, '.', '_' or '-'"
                               f" (got {shortcut!r})", "shortcut")
    if not isinstance(title, str) or not title.strip():
        raise RepliesFileError(f"{where}: title must be non-empty text", "title")
    if not isinstance(body, str) or not body.strip():
        raise RepliesFileError(f"{where}: body must be non-empty text", "body")
    if folder is None:
        folder = ""
    if not isinstance(folder, str) or len(folder) > FOLDER_CHARS or "\n" in folder:
        raise RepliesFileError(f"{where}: folder must be one line of at most "
                               f"{FOLDER_CHARS} characters", "folder")
    if owner in ("", None):
        owner = None
    elif not isinstance(owner, str) or not owner.strip() or len(owner) > 64:
        raise RepliesFileError(f"{where}: owner must be an operator's login", "owner")
    if attachment in ("", None):
        attachment = None
    elif not isinstance(attachment, str) or "\n" in attachment:
        raise RepliesFileError(f"{where}: attachment must be a file path", "attachment")
    return ReplyDraft(shortcut, title.strip(), body.rstrip("\n"), folder.strip(),
                      owner.strip() if owner else None, attachment,
                      _checked_variants(variants, where))


def _checked_variants(variants: Any, where: str) -> dict[str, str]:
    """{channel kind: text}; in a CSV cell, the same as JSON."""
    if variants in ("", None):
        return {}
    if isinstance(variants, str):
        try:
            variants = json.loads(variants)
        except ValueError:
            variants = None
    if not isinstance(variants, dict) or not all(
            isinstance(kind, str) and KIND.match(kind) and isinstance(text, str) and text.strip()
            for kind, text in variants.items()):
        raise RepliesFileError(f"{where}: variants must map channel kinds (telegram, "
                               "webchat, ...) to non-empty text", "variants")
    return {kind: text.rstrip("\n") for kind, text in variants.items()}


def parse_replies(text: str, source: str = "<input>") -> list[ReplyDraft]:
    """Validate a YAML replies file; every problem names the file and the entry."""
    import yaml  # only the commands that read files pay for it

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RepliesFileError(f"{source}{line}: not valid YAML: {problem}") from None
    if data is None:
        return []
    if not isinstance(data, list):
        raise RepliesFileError(f"{source}: expected a list of replies "
                               "(- shortcut: … title: … body: …)")
    items = []
    for n, item in enumerate(data, 1):
        where = f"{source}: reply #{n}"
        if not isinstance(item, dict):
            raise RepliesFileError(f"{where}: expected shortcut, title and body")
        items.append((where, item))
    return _checked(items)


def parse_replies_csv(text: str, source: str = "<input>") -> list[ReplyDraft]:
    """Validate a CSV replies file (a header row naming the columns, then one reply a row)."""
    rows = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = rows.fieldnames
        if not header:
            return []
        items = []
        for row in rows:
            where = f"{source}:{rows.line_num}"
            if None in row:
                raise RepliesFileError(f"{where}: more cells than columns in the header")
            items.append((where, {key: value for key, value in row.items()
                                  if value not in (None, "")}))
    except csv.Error as exc:
        raise RepliesFileError(f"{source}:{rows.line_num}: not valid CSV: {exc}") from None
    missing = [name for name in ("shortcut", "title", "body") if name not in header]
    if missing:
        raise RepliesFileError(f"{source}:1: the header has no column {', '.join(missing)} "
                               f"(columns: {', '.join(FIELDS)})")
    unknown = [name for name in header if name not in FIELDS]
    if unknown:
        raise RepliesFileError(f"{source}:1: unknown column(s) {', '.join(map(str, unknown))}")
    return _checked(items)


def _checked(items: list[tuple[str, dict[Any, Any]]]) -> list[ReplyDraft]:
    replies = []
    seen: set[str] = set()
    for where, item in items:
        unknown = set(item) - set(FIELDS)
        if unknown:
            names = ", ".join(sorted(map(str, unknown)))
            raise RepliesFileError(f"{where}: unknown field(s) {names}")
        reply = check_reply(item.get("shortcut"), item.get("title"), item.get("body"), where,
                            item.get("folder", ""), item.get("owner"), item.get("attachment"),
                            item.get("variants"))
        if reply.shortcut.casefold() in seen:
            raise RepliesFileError(f"{where}: shortcut {reply.shortcut!r} appears twice")
        seen.add(reply.shortcut.casefold())
        replies.append(reply)
    return replies


def _record(reply: QuickReply, flat: bool = False) -> dict[str, Any]:
    record: dict[str, Any] = {"shortcut": reply.shortcut, "title": reply.title,
                              "body": reply.body}
    for name in ("folder", "owner", "attachment", "variants"):
        value = getattr(reply, name, None)
        if value:
            record[name] = json.dumps(value, ensure_ascii=False) if flat and isinstance(
                value, dict) else value
    return record


def dump_replies(replies: Iterable[QuickReply]) -> str:
    import yaml

    data = [_record(r) for r in replies]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


def dump_replies_csv(replies: Iterable[QuickReply]) -> str:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, FIELDS, lineterminator="\n")
    writer.writeheader()
    for reply in replies:
        writer.writerow(_record(reply, flat=True))
    return out.getvalue()


# A starter set in Russian and English, so the palette is useful from the first minute
# (and in the demo): `opchat replies starter`.
STARTER = [
    ReplyDraft("hello", "Приветствие", "Здравствуйте, {contact.first_name}! Меня зовут "
               "{operator.name}. Чем могу помочь?", "start"),
    ReplyDraft("hi", "Greeting", "Hello {contact.first_name}! I'm {operator.name}. "
               "How can I help you?", "start"),
    ReplyDraft("delivery", "Доставка", "Доставляем по городу за 1–2 дня, бесплатно от 3000 ₽. "
               "В другие города — СДЭК, 3–7 дней.", "orders"),
    ReplyDraft("shipping", "Delivery terms", "We deliver across the city in 1-2 days, free "
               "over $50. Other cities: 3-7 days by courier.", "orders"),
    ReplyDraft("pay", "Оплата", "Оплатить можно картой на сайте, курьеру или по счёту "
               "для юрлиц.", "orders"),
    ReplyDraft("payment", "Payment", "You can pay by card on the website, to the courier, "
               "or by invoice.", "orders"),
    ReplyDraft("vozvrat", "Возврат", "Вернуть товар можно в течение 14 дней, деньги вернём "
               "за 3 дня.", "orders"),
    ReplyDraft("returns", "Returns", "You can return any item within 14 days; we refund "
               "in 3 days.", "orders"),
    ReplyDraft("chasy", "Часы работы", "Мы работаем ежедневно с 9:00 до 21:00.", "start"),
    ReplyDraft("hours", "Opening hours", "We are open daily 9:00-21:00.", "start"),
    ReplyDraft("spasibo", "Спасибо", "Спасибо, что написали нам! Хорошего дня 🙂", "end"),
    ReplyDraft("thanks", "Thanks", "Thank you for writing to us! Have a nice day 🙂", "end"),
]
