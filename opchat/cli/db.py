"""`opchat db status` and `opchat db migrate-to URL`: which store is in use, and moving
a SQLite store into PostgreSQL (store/copy.py)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from opchat.cli.common import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    run_reading,
    settings_from,
)
from opchat.i18n import _

if TYPE_CHECKING:
    from opchat.cli.common import Commands


def add_db_commands(sub: Commands, common: argparse.ArgumentParser) -> None:
    """`db status`, `db migrate-to`."""
    p = sub.add_parser("db", parents=[common], help=_("the store: where it is, moving it"),
                       description=_("the store: where it is, moving it"))
    dsub = p.add_subparsers(title=_("actions"), metavar="ACTION", required=True)
    d = dsub.add_parser("status", parents=[common],
                        help=_("which store is in use, its schema version and size"),
                        description=_("which store is in use, its schema version and size"))
    d.set_defaults(handler=cmd_db_status)
    d = dsub.add_parser(
        "migrate-to", parents=[common],
        help=_("copy the data dir's SQLite store into an empty PostgreSQL database"),
        description=_("copy the data dir's SQLite store into an empty PostgreSQL database; "
                      "the SQLite file is left as it is. Then set [store] url to use it."))
    d.add_argument("url", metavar="URL", help=_("the PostgreSQL database, "
                                                "postgresql://user@host/database"))
    d.set_defaults(handler=cmd_db_migrate_to)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def cmd_db_status(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    async def work(inbox) -> dict:
        return await inbox.store.db.about()

    about = run_reading(settings, work)
    assert isinstance(about, dict)
    from opchat.store import SCHEMA_VERSION

    print(_("store: {backend}", backend=about["backend"]))
    print(_("where: {where}", where=about["where"]))
    print(_("server: {server}", server=about["server"]))
    print(_("schema version: {version} (this opchat: {ours})", version=about["schema"],
            ours=SCHEMA_VERSION))
    print(_("size: {size}", size=_size(about["size"])))
    return EXIT_OK


def cmd_db_migrate_to(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    from opchat.config import DATABASE_SCHEMES
    from opchat.model import redacted_url
    from opchat.store import DB_FILENAME, StoreError

    if not args.url.startswith(DATABASE_SCHEMES):
        raise CliError(_("{url} is not a PostgreSQL address (postgresql://user@host/database)",
                         url=redacted_url(args.url)), EXIT_USAGE)
    try:
        from opchat.store.copy import FILES, NotEmpty, copy_to_postgres
    except ImportError as exc:
        raise CliError(_("PostgreSQL needs the psycopg package: pip install "
                         "'opchat[postgresql]'"), EXIT_FAIL) from exc
    path = settings.data_dir / DB_FILENAME
    tty = sys.stderr.isatty()
    shown: dict[str, int] = {}

    def progress(table: str, done: int, total: int) -> None:
        share = 100 if not total else done * 100 // total
        if table == FILES:
            line = _("files: {done} of {total} ({share}%)", done=f"{done:,}",
                     total=f"{total:,}", share=share)
        else:
            line = _("{table}: {done} of {total} rows ({share}%)", table=table,
                     done=f"{done:,}", total=f"{total:,}", share=share)
        if tty:
            print("\r\033[K" + line, end="" if done < total else "\n", file=sys.stderr,
                  flush=True)
        elif done == total and shown.get(table) != done:
            print(line, file=sys.stderr)
        shown[table] = done

    print(_("copying {path} into {url}", path=path, url=redacted_url(args.url)),
          file=sys.stderr)
    try:
        copied = asyncio.run(asyncio.to_thread(copy_to_postgres, path, args.url, progress))
    except NotEmpty as exc:
        raise CliError(_("not copied: the database already holds a store ({table} has rows); "
                         "copy into an empty database", table=exc.table), EXIT_FAIL) from exc
    except StoreError as exc:
        raise CliError(_("not copied: {error}", error=exc), EXIT_FAIL) from exc
    from opchat.store.files import SHARED_MAX
    print(_("copied and checked: {tables} tables, {rows} rows, the same counts on both sides, "
            "last event {event}", tables=len(copied.counts),
            rows=f"{sum(copied.counts.values()):,}", event=copied.last_event))
    if copied.files or copied.files_missing or copied.files_large:
        print(_("files in the database for every machine: {files}", files=copied.files))
    if copied.files_missing:
        print(_("files not found on this machine (they stay where they are): {count}",
                count=copied.files_missing))
    if copied.files_large:
        print(_("files larger than {limit} MB, left on this machine only: {count}",
                limit=SHARED_MAX // (1024 * 1024), count=copied.files_large))
    print(_("{path} is left as it was. To use the copy, set in the config:", path=path))
    print(f'[store]\nurl = "{redacted_url(args.url)}"')
    return EXIT_OK
