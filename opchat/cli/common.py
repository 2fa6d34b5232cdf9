"""What the commands share: settings, the data dir, opening the store, errors."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeAlias

from opchat.config import ChannelSettings, Settings, ensure_data_dir, load_settings, resolve_paths
from opchat.i18n import _

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

if TYPE_CHECKING:
    # What `add_subparsers()` returns; each command module adds its parsers to it.
    Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class CliError(Exception):
    """A problem to tell the user in one line, with an exit code."""

    def __init__(self, message: str, code: int = EXIT_FAIL) -> None:
        super().__init__(message)
        self.code = code


def settings_from(args: argparse.Namespace, environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    config_path, data_dir = resolve_paths(getattr(args, "config", None),
                                          getattr(args, "data_dir", None), env)
    # A file named with --config must be there (a typo is not a fresh install), except
    # for `channel add`, which creates it.
    named = bool(getattr(args, "config", None)) and not getattr(args, "creates_config", False)
    settings = load_settings(config_path, data_dir, must_exist=named)
    settings.database_url = (getattr(args, "database_url", None)
                             or env.get("OPCHAT_DATABASE_URL") or settings.database_url)
    if getattr(args, "demo", False):
        # The demo never mixes simulated customers into the real inbox.
        settings.data_dir = data_dir / "demo"
        settings.channels = [ChannelSettings("demo", "demo", {})]
        settings.database_url = ""  # its own SQLite file, whatever store is configured
    if getattr(args, "operator", None):
        settings.operator = args.operator
    if getattr(args, "lang", None):
        settings.language = args.lang
    return settings


def with_default_channel(settings: Settings) -> Settings:
    """With no channel configured, opchat runs the web chat on 127.0.0.1:8765.

    A newcomer then has something real at once: the demo page at
    http://127.0.0.1:8765/ embeds the widget, so they can play both sides.
    """
    if not settings.channels:
        settings.channels = [ChannelSettings("web", "webchat", {})]
    return settings


def operator_login(settings: Settings) -> str:
    if settings.operator:
        return settings.operator
    try:
        return getpass.getuser()
    except Exception:  # no login name in a container: still usable
        return "operator"


def prepare_data_dir(settings: Settings) -> None:
    try:
        ensure_data_dir(settings.data_dir)
    except OSError as exc:
        raise CliError(_("cannot use data dir {path}: {error}", path=settings.data_dir,
                         error=exc.strerror or exc)) from exc
    if not os.access(settings.data_dir, os.W_OK):
        raise CliError(_("data dir {path} is not writable by you", path=settings.data_dir))
    private_files_for(settings.data_dir)


def private_files_for(data_dir: Path) -> None:
    """Files we create (database, WAL, log, lock) are as private as the data dir.

    A dir the admin shared with a group (mode 2770) gets group-writable files,
    so every operator in the group can open them; otherwise files are 0600.
    """
    shared = (data_dir.stat().st_mode & 0o070) == 0o070
    os.umask(0o007 if shared else 0o077)


async def open_inbox(settings: Settings):  # -> Inbox (import kept lazy)
    from opchat.inbox import Inbox
    from opchat.store import StoreError

    try:
        inbox = await Inbox.open(settings.data_dir, operator_login(settings),
                                 database_url=settings.database_url)
    except StoreError as exc:
        raise CliError(_("database: {error}", error=exc)) from exc
    inbox.operator = _as_customers_see(inbox.operator, settings)
    return inbox


def _as_customers_see(operator, settings: Settings):  # -> Operator
    """The operator with the name they chose, never their login name (see ask_operator_name)."""
    import dataclasses

    return dataclasses.replace(operator, name=settings.operator_name or "")


def run_store(settings: Settings, work: Callable) -> object:
    """Open the inbox, await ``work(inbox)``, close it; for short commands."""

    async def go() -> object:
        inbox = await open_inbox(settings)
        try:
            return await work(inbox)
        finally:
            await inbox.close()

    prepare_data_dir(settings)
    return asyncio.run(go())


async def open_reader(settings: Settings):  # -> Inbox (import kept lazy)
    """The inbox for a command that only reads (search, export, audit).

    The database is opened read-only and nothing is created in the data dir, so
    a backup copy in a read-only dir can be searched and exported, and a reader
    never takes the writer's lock from the hub. An older database is upgraded
    first, as any opchat would, when the data dir lets us write.
    """
    from opchat.inbox import Inbox
    from opchat.model import Operator
    from opchat.store import DB_FILENAME, Database, Store, StoreError
    from opchat.store.db import SchemaMismatch

    if settings.database_url:
        from opchat.store.pg import PgDatabase

        db: Database = PgDatabase(settings.database_url, read_only=True)  # type: ignore[assignment]
    else:
        db = Database(settings.data_dir / DB_FILENAME, read_only=True)
    try:
        await db.open()
    except SchemaMismatch as exc:
        if exc.newer or (not settings.database_url
                         and not os.access(settings.data_dir, os.W_OK)):
            raise CliError(_("database: {error}", error=exc)) from exc
        prepare_data_dir(settings)
        return await open_inbox(settings)
    except StoreError as exc:
        raise CliError(_("database: {error}", error=exc)) from exc
    if db.wal_unread:
        print("opchat: " + _("note: {path}-wal holds changes that cannot be read in a "
                             "read-only dir without its -shm file; copy the data dir "
                             "somewhere writable to see them", path=db.path), file=sys.stderr)
    login = operator_login(settings)
    return Inbox(Store(db), _as_customers_see(Operator(0, login, login), settings))


def run_reader(settings: Settings, work: Callable) -> object:
    """As run_store, read-only (see open_reader)."""

    async def go() -> object:
        inbox = await open_reader(settings)
        try:
            return await work(inbox)
        finally:
            await inbox.close()

    return asyncio.run(go())


def run_reading(settings: Settings, work: Callable) -> object:
    """For commands that only read but also serve a first use (``replies list``):
    read-only when the database exists, else created as usual."""
    from opchat.store import DB_FILENAME

    if settings.database_url or (settings.data_dir / DB_FILENAME).exists():
        return run_reader(settings, work)
    return run_store(settings, work)


def _open_output(path: str | None) -> IO[str]:
    if path is None:
        return sys.stdout
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise CliError(_("cannot write {path}: {error}", path=path,
                         error=exc.strerror or exc)) from exc


def _is_terminal(out: IO[str]) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(_("{text} is not a whole number above 0",
                                           text=repr(text)))
    return value


def _wrap(line: str, width: int = 79) -> str:
    import textwrap

    # Paths and addresses stay whole, to be copied.
    return textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False)


def _copy(settings: Settings) -> Settings:
    import dataclasses

    return dataclasses.replace(settings, channels=list(settings.channels))


def next_steps(settings: Settings) -> list[str]:
    """What a newcomer does next (see opchat.first_start), for these settings."""
    from opchat.first_start import next_steps as steps

    return steps(with_default_channel(_copy(settings)).channels)


def team_cap(settings: Settings) -> int | None:
    """The hub's auto-assignment cap, or None when auto-assignment is off."""
    return settings.max_open if settings.auto_assign else None

