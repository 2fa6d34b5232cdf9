"""`opchat replies …`: the quick replies from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from opchat.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    _open_output,
    operator_login,
    run_reading,
    run_store,
    settings_from,
)
from opchat.i18n import _, ngettext

if TYPE_CHECKING:
    from opchat.cli.common import Commands


def add_replies_command(sub: Commands, common: argparse.ArgumentParser) -> None:
    """`replies list|add|delete|import|export|starter`."""
    p = sub.add_parser("replies", parents=[common], help=_("manage quick replies"),
                       description=_("manage quick replies"))
    rsub = p.add_subparsers(title=_("actions"), metavar="ACTION", required=True)
    r = rsub.add_parser("list", parents=[common], help=_("list quick replies"),
                        description=_("list quick replies"))
    r.set_defaults(handler=cmd_replies_list)
    r = rsub.add_parser("add", parents=[common], help=_("add or update one quick reply"),
                        description=_("add or update one quick reply"))
    r.add_argument("shortcut", metavar="SHORTCUT",
                   help=_("what the operator types after /, e.g. delivery"))
    r.add_argument("--title", required=True, help=_("the reply's title in the list"))
    r.add_argument("--body", required=True, help=_("the text; '-' reads it from stdin"))
    r.add_argument("--folder", default="", help=_("a folder (tag) to file it under"))
    r.add_argument("--private", action="store_true",
                   help=_("only you (the --operator) see it; shared otherwise"))
    r.add_argument("--attachment", metavar="PATH", help=_("a file sent with the reply"))
    r.set_defaults(handler=cmd_replies_add)
    r = rsub.add_parser("delete", parents=[common], help=_("delete one quick reply"),
                        description=_("delete one quick reply"))
    r.add_argument("shortcut", metavar="SHORTCUT", help=_("the reply's shortcut"))
    r.set_defaults(handler=cmd_replies_delete)
    r = rsub.add_parser("import", parents=[common],
                        help=_("add or update replies from YAML or CSV (all or nothing)"),
                        description=_("add or update replies from YAML or CSV "
                                      "(all or nothing)"))
    r.add_argument("file", metavar="FILE", help=_("YAML or CSV file; '-' reads stdin"))
    r.add_argument("--format", choices=["yaml", "csv"],
                   help=_("default: from the file's extension (.csv), else YAML"))
    r.set_defaults(handler=cmd_replies_import)
    r = rsub.add_parser("export", parents=[common],
                        help=_("write every reply (YAML by default)"),
                        description=_("write every reply (YAML by default)"))
    r.add_argument("-o", "--output", metavar="FILE", help=_("write here instead of stdout"))
    r.add_argument("--format", choices=["yaml", "csv"], default=None,
                   help=_("default: YAML (CSV when --output ends in .csv)"))
    r.set_defaults(handler=cmd_replies_export)
    starter = _("add the starter set (greeting, delivery, payment, returns, hours, thanks; "
                "Russian and English); existing ones are kept")
    r = rsub.add_parser("starter", parents=[common], help=starter, description=starter)
    r.set_defaults(handler=cmd_replies_starter)


def cmd_replies_list(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    async def work(inbox):
        return await inbox.store.replies.all()

    replies = run_reading(settings, work)
    from opchat.sanitize import one_line

    for r in replies:  # type: ignore[attr-defined]
        private = r.owner and _("private: {login}", login=r.owner)
        extra = "".join(f"  [{one_line(v, 20)}]" for v in (r.folder, private) if v)
        print(f"/{r.shortcut:<14} {one_line(r.title, 30):<30} {one_line(r.body, 60)}{extra}")
    if not replies:
        print(_("no quick replies yet: opchat replies add SHORTCUT --title T --body B "
                "(or opchat replies starter)"), file=sys.stderr)
    return EXIT_OK


def cmd_replies_add(args: argparse.Namespace) -> int:
    from opchat.replies import RepliesFileError, check_reply

    body = sys.stdin.read() if args.body == "-" else args.body
    settings = settings_from(args)
    owner = operator_login(settings) if args.private else None
    try:
        reply = check_reply(args.shortcut, args.title, body, "reply", args.folder, owner,
                            args.attachment)
    except RepliesFileError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    run_store(settings, lambda inbox: inbox.store.replies.save_all([reply]))
    print(_("saved /{shortcut} (private to {login})", shortcut=reply.shortcut, login=owner)
          if owner else _("saved /{shortcut}", shortcut=reply.shortcut))
    return EXIT_OK


def cmd_replies_delete(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    async def work(inbox) -> bool:
        for reply in await inbox.store.replies.all():
            if reply.shortcut == args.shortcut:
                return await inbox.store.replies.delete(reply.id, inbox.operator.login)
        return False

    if not run_store(settings, work):
        raise CliError(_("no quick reply /{shortcut}", shortcut=args.shortcut), EXIT_USAGE)
    print(_("deleted /{shortcut}", shortcut=args.shortcut))
    return EXIT_OK


def cmd_replies_import(args: argparse.Namespace) -> int:
    from opchat.replies import RepliesFileError, parse_replies, parse_replies_csv

    if args.file == "-":
        text, source = sys.stdin.read(), "<stdin>"
    else:
        try:
            text = Path(args.file).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(_("cannot read {path}: {error}", path=args.file, error=exc),
                           EXIT_USAGE) from exc
        source = args.file
    kind = args.format or ("csv" if source.lower().endswith(".csv") else "yaml")
    try:
        replies = (parse_replies_csv if kind == "csv" else parse_replies)(text, source)
    except RepliesFileError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    settings = settings_from(args)
    # One transaction: a file that fails half-way changes nothing.
    count = run_store(settings, lambda inbox: inbox.store.replies.save_all(replies))
    print(ngettext("imported {n} quick reply", "imported {n} quick replies", count))
    return EXIT_OK


def cmd_replies_export(args: argparse.Namespace) -> int:
    from opchat.replies import dump_replies, dump_replies_csv

    settings = settings_from(args)

    async def work(inbox):
        return await inbox.store.replies.all()

    kind = args.format or ("csv" if (args.output or "").lower().endswith(".csv") else "yaml")
    replies = run_reading(settings, work)
    text = (dump_replies_csv if kind == "csv" else dump_replies)(replies)  # type: ignore[arg-type]
    out = _open_output(args.output)
    try:
        out.write(text)
    finally:
        if out is not sys.stdout:
            out.close()
    return EXIT_OK


def cmd_replies_starter(args: argparse.Namespace) -> int:
    from opchat.replies import STARTER

    settings = settings_from(args)

    async def work(inbox) -> int:
        have = {reply.shortcut for reply in await inbox.store.replies.all()}
        new = [reply for reply in STARTER if reply.shortcut not in have]
        return await inbox.store.replies.save_all(new)

    count = run_store(settings, work)
    print(ngettext("added {n} starter reply", "added {n} starter replies", count) if count
          else _("added no starter replies (all were there already)"))
    return EXIT_OK

