"""Quick replies as files: the YAML format of `opchat replies import|export`.

```yaml
- shortcut: delivery
  title: Delivery terms
  body: |
    We deliver in 1-2 days across the city.
```
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import yaml

from opchat.model import QuickReply

SHORTCUT = re.compile(r"^[\w.-]{1,40}$", re.UNICODE)


class RepliesFileError(ValueError):
    pass


def check_reply(shortcut: Any, title: Any, body: Any, where: str) -> tuple[str, str, str]:
    if not isinstance(shortcut, str) or not SHORTCUT.match(shortcut):
        raise RepliesFileError(f"{where}: shortcut must be 1-40 letters, digits, '.', '_' or '-'"
                               f" (got {shortcut!r})")
    if not isinstance(title, str) or not title.strip():
        raise RepliesFileError(f"{where}: title must be non-empty text")
    if not isinstance(body, str) or not body.strip():
        raise RepliesFileError(f"{where}: body must be non-empty text")
    return shortcut, title.strip(), body.rstrip("\n")


def parse_replies(text: str, source: str = "<input>") -> list[tuple[str, str, str]]:
    """Validate a replies file; every problem names the file and the entry."""
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
    replies = []
    seen: set[str] = set()
    for n, item in enumerate(data, 1):
        where = f"{source}: reply #{n}"
        if not isinstance(item, dict):
            raise RepliesFileError(f"{where}: expected shortcut, title and body")
        unknown = set(item) - {"shortcut", "title", "body"}
        if unknown:
            names = ", ".join(sorted(map(str, unknown)))
            raise RepliesFileError(f"{where}: unknown field(s) {names}")
        reply = check_reply(item.get("shortcut"), item.get("title"), item.get("body"), where)
        if reply[0] in seen:
            raise RepliesFileError(f"{where}: shortcut {reply[0]!r} appears twice")
        seen.add(reply[0])
        replies.append(reply)
    return replies


def dump_replies(replies: Iterable[QuickReply]) -> str:
    data = [{"shortcut": r.shortcut, "title": r.title, "body": r.body} for r in replies]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


# A starter set, so the palette is useful from the first minute (and in the demo).
STARTER = [
    ("hello", "Приветствие", "Здравствуйте! Чем могу помочь?"),
    ("hi", "Greeting", "Hello! How can I help you?"),
    ("delivery", "Доставка", "Доставляем по городу за 1–2 дня, бесплатно от 3000 ₽. "
                             "В другие города — СДЭК, 3–7 дней."),
    ("shipping", "Delivery terms", "We deliver across the city in 1-2 days, free over $50. "
                                   "Other cities: 3-7 days by courier."),
    ("pay", "Оплата", "Оплатить можно картой на сайте, курьеру или по счёту для юрлиц."),
    ("payment", "Payment", "You can pay by card on the website, to the courier, or by invoice."),
    ("returns", "Returns", "You can return any item within 14 days; we refund in 3 days."),
    ("vozvrat", "Возврат", "Вернуть товар можно в течение 14 дней, деньги вернём за 3 дня."),
    ("hours", "Часы работы / Hours", "Мы работаем ежедневно с 9:00 до 21:00. "
                                     "We are open daily 9:00-21:00."),
    ("thanks", "Спасибо / Thanks", "Спасибо, что написали нам! Хорошего дня 🙂"),
]
