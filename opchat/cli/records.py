"""Commands that read the record: `export`, `search`, `audit`, `unhide`."""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

from opchat.cli.common import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    _is_terminal,
    _open_output,
    _positive,
    run_reader,
    run_store,
    settings_from,
)
from opchat.i18n import _, ngettext

if TYPE_CHECKING:
    from opchat.cli.common import Commands


def add_export_command(sub: Commands, common: argparse.ArgumentParser) -> None:
    """`export`."""
    p = sub.add_parser("export", parents=[common],
                       help=_("write everything in the store: contacts, conversations, "
                              "messages, notes, events, quick replies"),
                       description=_("Write everything in the store as JSON lines: contacts, "
                                     "conversations with labels, messages with edits and "
                                     "files, notes, events, quick replies. A terminal gets "
                                     "control characters escaped; a file or a pipe, the "
                                     "exact text."))
    p.add_argument("--format", choices=["jsonl"], default="jsonl",
                   help=_("one JSON object a line (the only format)"))
    p.add_argument("-o", "--output", metavar="FILE", help=_("write here instead of stdout"))
    p.set_defaults(handler=cmd_export)


def add_search_command(sub: Commands, common: argparse.ArgumentParser) -> None:
    """`search`."""
    p = sub.add_parser("search", parents=[common],
                       help=_("find messages, contacts and labels; exit 1 when nothing "
                              "matches"),
                       description=_("find messages, contacts and labels; exit 1 when "
                                     "nothing matches"))
    p.add_argument("query", nargs="+", metavar="QUERY",
                   help=_("words, as prefixes, in any order (any text is searched literally)"))
    p.add_argument("--limit", type=_positive, default=50, metavar="N",
                   help=_("print at most N results (default 50)"))
    p.add_argument("--json", action="store_true", help=_("one JSON object a line"))
    p.set_defaults(handler=cmd_search)


def add_audit_commands(sub: Commands, common: argparse.ArgumentParser) -> None:
    """`audit`."""
    p = sub.add_parser("audit", parents=[common],
                       help=_("who did what, when: the history of a conversation, or of all"),
                       description=_("who did what, when: the history of a conversation, "
                                     "or of all"))
    p.add_argument("conversation", nargs="?", type=int, metavar="CONVERSATION",
                   help=_("a conversation's number (default: everything)"))
    p.add_argument("--since", type=_since, metavar="DATE",
                   help=_("only from this moment: YYYY-MM-DD or 'YYYY-MM-DD HH:MM' "
                          "(local time)"))
    p.add_argument("--json", action="store_true", help=_("one JSON object per line"))
    p.add_argument("--hidden", action="store_true",
                   help=_("list the hidden conversations and messages instead"))
    p.set_defaults(handler=cmd_audit)
    p = sub.add_parser("unhide", parents=[common],
                       help=_("show a hidden conversation or message again (recorded)"),
                       description=_("show a hidden conversation or message again "
                                     "(recorded)"))
    p.add_argument("what", choices=["conversation", "message"], metavar="WHAT",
                   help=_("conversation or message"))
    p.add_argument("id", type=int, metavar="ID", help=_("its number"))
    p.set_defaults(handler=cmd_unhide)


def cmd_export(args: argparse.Namespace) -> int:
    """Everything in the store, as JSON lines (the format: opchat/store/export.py).

    A file or a pipe gets the exact text; a terminal gets the same JSON with
    the characters a terminal would act on (C1 controls, bidi overrides)
    written as \\u escapes, as `audit --json` does.
    """
    settings = settings_from(args)
    from opchat.audit import terminal_safe_json
    from opchat.store import DB_FILENAME
    from opchat.store.export import export_records

    db_path = settings.data_dir / DB_FILENAME
    if not settings.database_url and not db_path.exists():
        raise CliError(_("no database at {path}: nothing to export", path=db_path))

    async def ready(inbox) -> None:  # refuses a newer schema, upgrades an older one
        return None

    run_reader(settings, ready)
    out = _open_output(args.output)
    escape = args.output is None and _is_terminal(out)
    count = 0
    try:
        if settings.database_url:
            from opchat.store.export import export_records_pg

            records = export_records_pg(settings.database_url)
        else:
            records = export_records(db_path)
        for record in records:
            out.write((terminal_safe_json(record, sort_keys=False) if escape
                       else json.dumps(record, ensure_ascii=False)) + "\n")
            count += 1
    except sqlite3.Error as exc:
        raise CliError(f"{db_path}: {exc}") from exc
    finally:
        if out is not sys.stdout:
            out.close()
    if args.output:
        print(ngettext("wrote {n} record to {path}", "wrote {n} records to {path}", count,
                       path=args.output), file=sys.stderr)
    return EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    """Print what the search screen would find, one result a line.

    As grep: 0 when something matched, 1 when nothing did, 2 on any error
    (usage, no database, a broken data dir), so a script can tell them apart.
    """
    query = " ".join(args.query)
    if not query.strip():
        raise CliError(_("search: the query is empty"), EXIT_USAGE)
    settings = settings_from(args)
    from opchat.store import DB_FILENAME

    db_path = settings.data_dir / DB_FILENAME
    if not settings.database_url and not db_path.exists():
        raise CliError(_("no database at {path}: nothing to search", path=db_path),
                       EXIT_USAGE)
    try:
        results = run_reader(settings, lambda inbox: inbox.search_all(query, args.limit))
    except CliError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    except (OSError, sqlite3.Error) as exc:
        raise CliError(f"{db_path}: {exc}", EXIT_USAGE) from exc
    emphasis = _search_emphasis(sys.stdout)
    count = 0
    for record in _search_records(results, emphasis)[:args.limit]:
        shown = record.pop("shown")
        if args.json:
            print(json.dumps(record, ensure_ascii=False))
        else:
            print("\t".join((str(record["date"])[:16].replace("T", " "),
                             str(record["conversation_id"]), str(record["contact"]),
                             str(record["channel"]), str(shown))))
        count += 1
    return EXIT_OK if count else EXIT_FAIL


def _search_emphasis(out: IO[str]) -> tuple[str, str]:
    """How a match is marked: bold on a terminal, «guillemets» in a pipe or a file."""
    if _is_terminal(out) and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb":
        return "\x1b[1m", "\x1b[22m"
    return "«", "»"


def _search_records(results, emphasis: tuple[str, str]) -> list[dict[str, object]]:
    """Contacts, labelled conversations, then messages, as the search screen lists them.

    Every string is cleaned (no control characters, no escape sequences from
    customers) and on one line; only our own emphasis is added.
    """
    import datetime

    from opchat.model import split_marked
    from opchat.sanitize import clean

    spaces = re.compile(r"\s+")

    def line(text: str, marks: tuple[str, str] = ("", "")) -> str:
        shown = ""
        for piece, hit in split_marked(text or ""):
            piece = spaces.sub(" ", clean(piece))
            shown += f"{marks[0]}{piece}{marks[1]}" if hit else piece
        return shown.strip()

    def record(kind: str, at: float, conversation_id: int, contact: str, channel: str,
               marked: str, **extra: object) -> dict[str, object]:
        date = datetime.datetime.fromtimestamp(at).astimezone().isoformat(timespec="seconds")
        return {"kind": kind, "date": date, "conversation_id": conversation_id,
                "message_id": extra.pop("message_id", None), "contact": line(contact),
                "channel": line(channel), "snippet": line(marked, ("«", "»")),
                "text": line(marked), **extra, "shown": line(marked, emphasis)}

    records = []
    for c in results.contacts:
        details = " ".join(x for x in (c.name, c.phone, c.email) if x)
        records.append(record("contact", c.last_message_at, c.conversation_id, line(c.name),
                              c.channel_name, _("contact: {details}", details=details),
                              phone=line(c.phone), email=line(c.email)))
    for lb in results.labels:
        records.append(record("label", lb.last_message_at, lb.conversation_id,
                              lb.contact_name, lb.channel_name,
                              _("label: #{label}", label=lb.label), label=line(lb.label)))
    for m in results.messages:
        records.append(record("message", m.created_at, m.conversation_id, m.contact_name,
                              m.channel_name, m.snippet, message_id=m.message_id))
    return records


def _since(text: str) -> float:
    from opchat.audit import parse_since

    return parse_since(text)



def cmd_audit(args: argparse.Namespace) -> int:
    from opchat.audit import PAGE, hidden_line, json_line, text_line

    settings = settings_from(args)
    _existing_store(settings.data_dir, _("nothing to audit"))

    async def work(inbox) -> None:
        if args.conversation is not None and await inbox.conversation(args.conversation) is None:
            raise CliError(_("no conversation #{n}", n=args.conversation))
        out = sys.stdout
        if args.hidden:
            for item in await inbox.hidden():
                if args.conversation in (None, item.conversation_id) and (
                        args.since is None or (item.at or 0) >= args.since):
                    out.write(hidden_line(item, args.json) + "\n")
            return
        after = 0
        while True:
            page = await inbox.store.history.audit_events(args.conversation, args.since, after,
                                                          PAGE)
            if not page:
                break
            out.write("".join((json_line(e) if args.json else text_line(e)) + "\n"
                              for e in page))
            after = page[-1].id
        out.flush()

    run_reader(settings, work)
    return EXIT_OK


def cmd_unhide(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    _existing_store(settings.data_dir, _("nothing to unhide"))

    async def work(inbox) -> bool:
        from opchat.store.changes import UnknownConversation
        from opchat.store.history import UnknownMessage

        try:
            if args.what == "conversation":
                return await inbox.unhide_conversation(args.id)
            return await inbox.unhide_message(args.id)
        except (UnknownConversation, UnknownMessage):
            raise CliError(_("no conversation #{n}", n=args.id) if args.what == "conversation"
                           else _("no message #{n}", n=args.id)) from None

    shown = run_store(settings, work)
    if args.what == "conversation":
        print(_("conversation #{n} is shown again (recorded in opchat audit)", n=args.id)
              if shown else _("conversation #{n} was not hidden", n=args.id))
    else:
        print(_("message #{n} is shown again (recorded in opchat audit)", n=args.id)
              if shown else _("message #{n} was not hidden", n=args.id))
    return EXIT_OK


def _existing_store(data_dir: Path, nothing_to: str) -> None:
    from opchat.store import DB_FILENAME

    db_path = data_dir / DB_FILENAME
    if not db_path.exists():
        raise CliError(_("no database at {path}: {nothing}", path=db_path, nothing=nothing_to))
