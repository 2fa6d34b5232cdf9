"""The `opchat` command.

Imports stay light here: textual is imported only to run the app, transports
(and their SDKs) only inside the hub, so `opchat export` or `opchat doctor`
start at once and the app draws its first frame before anything heavy loads.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import os
import re
import signal
import sqlite3
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from opchat import __version__
from opchat.config import (
    ChannelSettings,
    ConfigError,
    Settings,
    ensure_data_dir,
    load_settings,
    resolve_paths,
)
from opchat.i18n import _, ngettext, normalize_language, set_language
from opchat.transports import DEFAULT_LISTEN  # the contract only: no transport is imported

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A problem to tell the user in one line, with an exit code."""

    def __init__(self, message: str, code: int = EXIT_FAIL) -> None:
        super().__init__(message)
        self.code = code


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    choose_language(arguments)
    parser = build_parser()
    args = parser.parse_args(arguments)
    try:
        return args.handler(args)
    except CliError as exc:
        print(f"opchat: {exc}", file=sys.stderr)
        return exc.code
    except ConfigError as exc:
        print("opchat: " + _("config error: {error}", error=exc), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `opchat export | head`: the reader has had enough. Quietly, as `cat` does;
        # stdout is pointed at /dev/null so the interpreter's final flush is silent too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except UnicodeError as exc:
        print("opchat: " + _("text that is not valid UTF-8: {reason}", reason=exc.reason),
              file=sys.stderr)
        return EXIT_USAGE
    except (OSError, sqlite3.Error) as exc:  # disk full, unwritable file, database trouble
        print(f"opchat: {exc}", file=sys.stderr)
        return EXIT_FAIL


def build_parser() -> argparse.ArgumentParser:
    """The parser, its help in the language chosen (see choose_language) when it is built."""
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: an option given before the subcommand is not reset by the subparser.
    common.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE",
                        help=_("config file (env OPCHAT_CONFIG)"))
    common.add_argument("--data-dir", default=argparse.SUPPRESS, metavar="DIR",
                        help=_("data directory: database, attachments, logs "
                               "(env OPCHAT_DATA_DIR)"))
    common.add_argument("--operator", default=argparse.SUPPRESS, metavar="LOGIN",
                        help=_("who you are (default: config, then your login name)"))
    common.add_argument("--lang", default=argparse.SUPPRESS, choices=["en", "ru"],
                        help=_("interface language (default: config, then the locale)"))

    parser = argparse.ArgumentParser(
        prog="opchat", parents=[common],
        description=_("A terminal inbox for every customer dialog, from every channel."))
    parser.add_argument("--version", action="version", version=f"opchat {__version__}",
                        help=_("show the version and exit"))
    parser.add_argument("--demo", action="store_true",
                        help=_("run with simulated customers in a separate demo data dir"))
    parser.set_defaults(handler=cmd_app)
    sub = parser.add_subparsers(title=_("commands"), metavar="COMMAND")

    p = sub.add_parser("demo", parents=[common], help=_("the app with simulated customers"),
                       description=_("the app with simulated customers"))
    p.set_defaults(handler=cmd_app, demo=True)

    p = sub.add_parser("serve", parents=[common],
                       help=_("run the hub alone, headless (for systemd)"),
                       description=_("run the hub alone, headless (for systemd)"))
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("channel", parents=[common],
                       help=_("add and list channels; web chat snippet"),
                       description=_("add and list channels; web chat snippet"))
    csub = p.add_subparsers(title=_("actions"), metavar="ACTION", required=True)
    c = csub.add_parser("add", parents=[common],
                        help=_("add (or replace) a channel in the config"),
                        description=_("add (or replace) a channel in the config"))
    c.add_argument("kind", metavar="KIND", help=_("channel kind, e.g. webchat"))
    c.add_argument("--name", help=_("the channel's name (default: the kind)"))
    c.add_argument("--listen", metavar="HOST:PORT",
                   help=_("web chat: address to listen on (default {listen})",
                          listen=DEFAULT_LISTEN))
    c.add_argument("--origin", action="append", metavar="URL",
                   help=_("web chat: a site allowed to embed the widget (repeat for more)"))
    c.add_argument("--public-url", metavar="URL",
                   help=_("web chat: the hub's address as visitors' browsers reach it"))
    c.add_argument("--hours", metavar="SPEC",
                   help=_('web chat: working hours, e.g. "Mon-Fri 09:00-18:00, '
                          'Sat 10:00-14:00"'))
    c.add_argument("--timezone", metavar="ZONE",
                   help=_("web chat: of the hours, e.g. Europe/Berlin"))
    c.add_argument("--operator-name", metavar="NAME", help=_("web chat: shown in the header"))
    c.add_argument("--operator-photo", metavar="URL", help=_("web chat: shown in the header"))
    c.add_argument("--no-sneak-peek", action="store_true",
                   help=_("web chat: operators see that a visitor types, not what"))
    c.add_argument("--trust-proxy", action="append", metavar="ADDRESS",
                   help=_("web chat: a reverse proxy whose X-Forwarded-For counts (repeat)"))
    c.add_argument("--allow-no-origin", action="store_true",
                   help=_("web chat: let clients that send no Origin (apps) connect"))
    c.add_argument("--token", metavar="TOKEN",
                   help=_("telegram: the bot's token from @BotFather (kept in the config, "
                          "0600)"))
    c.add_argument("--token-env", metavar="VARIABLE",
                   help=_("telegram: read the token from this environment variable instead"))
    c.add_argument("--api-base", metavar="URL",
                   help=_("telegram: a self-hosted Bot API server (default api.telegram.org)"))
    c.add_argument("--webhook-url", metavar="URL",
                   help=_("telegram: receive by webhook at this public https address "
                          "(default: long polling)"))
    c.add_argument("--set", action="append", metavar="KEY=VALUE", dest="settings",
                   help=_("any option of the kind (opchat channel options KIND lists them); "
                          'VALUE as in the config file: true, 5, "text", ["a", "b"]; '
                          "anything else is text"))
    c.set_defaults(handler=cmd_channel_add)
    c = csub.add_parser("options", parents=[common],
                        help=_("the options a channel kind takes, as it declares them"),
                        description=_("the options a channel kind takes, as it declares "
                                      "them"))
    c.add_argument("kind", metavar="KIND", help=_("channel kind, e.g. webchat"))
    c.set_defaults(handler=cmd_channel_options)
    c = csub.add_parser("list", parents=[common], help=_("list configured channels"),
                        description=_("list configured channels"))
    c.set_defaults(handler=cmd_channel_list)
    c = csub.add_parser("snippet", parents=[common],
                        help=_("print the <script> tag that puts a web chat on a page"),
                        description=_("print the <script> tag that puts a web chat on a page"))
    c.add_argument("name", metavar="NAME", help=_("the channel's name"))
    c.set_defaults(handler=cmd_channel_snippet)
    c = csub.add_parser("test", parents=[common],
                        help=_("connect to a channel's platform and say what answered"),
                        description=_("connect to a channel's platform and say what answered"))
    c.add_argument("name", metavar="NAME", help=_("the channel's name"))
    c.set_defaults(handler=cmd_channel_test)

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

    p = sub.add_parser("doctor", parents=[common],
                       help=_("check config, data dir, database, channels, terminal"),
                       description=_("check config, data dir, database, channels, terminal"))
    p.set_defaults(handler=cmd_doctor)

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

    p = sub.add_parser("bench", parents=[common],
                       help=_("measure speed on a synthetic store"),
                       description=_("measure speed on a synthetic store"))
    p.add_argument("--scale", type=float, default=1.0,
                   help=_("fraction of the full size (100,000 dialogs, 1,000,000 messages)"))
    p.add_argument("--keep", metavar="DIR", help=_("build the store here and keep it"))
    p.set_defaults(handler=cmd_bench)
    return parser


def choose_language(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> str:
    """The command's language, chosen before its parser is built (the help is in it):
    --lang, else the config file's `language`, else the locale (LC_ALL, LANG...)."""
    env = os.environ if environ is None else environ
    lang = _option_value(argv, "--lang")
    if normalize_language(lang or "") is None:
        try:  # a broken config is reported later, by the command, in the locale's language
            config_path, data_dir = resolve_paths(_option_value(argv, "--config"), None,
                                                  dict(env))
            lang = load_settings(config_path, data_dir).language
        except (ConfigError, OSError, ValueError):
            lang = None
    code = set_language(lang, env)
    _speak_argparse()
    return code


def _option_value(argv: Sequence[str], option: str) -> str | None:
    for n, word in enumerate(argv):
        if word == "--":
            break
        if word == option and n + 1 < len(argv):
            return argv[n + 1]
        if word.startswith(option + "="):
            return word.partition("=")[2]
    return None


def _speak_argparse() -> None:
    """argparse's own words ("usage:", "error:", "positional arguments") in our language.

    argparse asks gettext for them at each use through its module's `_` and
    `ngettext`; gettext's default domain has no Russian (Python ships no
    catalogue), so they are pointed at opchat's catalogue instead.
    """
    from opchat import i18n

    argparse._ = lambda text: i18n._(text)  # type: ignore[attr-defined]
    argparse.ngettext = lambda singular, plural, n: (  # type: ignore[attr-defined]
        i18n._(singular) if n == 1 else i18n._(plural))


# Shared steps ---------------------------------------------------------------------------


def settings_from(args: argparse.Namespace, environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    config_path, data_dir = resolve_paths(getattr(args, "config", None),
                                          getattr(args, "data_dir", None), env)
    # A file named with --config must be there (a typo is not a fresh install), except
    # for `channel add`, which creates it.
    named = (bool(getattr(args, "config", None))
             and getattr(args, "handler", None) is not cmd_channel_add)
    settings = load_settings(config_path, data_dir, must_exist=named)
    if getattr(args, "demo", False):
        # The demo never mixes simulated customers into the real inbox.
        settings.data_dir = data_dir / "demo"
        settings.channels = [ChannelSettings("demo", "demo", {})]
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
        inbox = await Inbox.open(settings.data_dir, operator_login(settings))
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

    db = Database(settings.data_dir / DB_FILENAME, read_only=True)
    try:
        await db.open()
    except SchemaMismatch as exc:
        if exc.newer or not os.access(settings.data_dir, os.W_OK):
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

    if (settings.data_dir / DB_FILENAME).exists():
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


# Commands -------------------------------------------------------------------------------


def cmd_app(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    prepare_data_dir(settings)
    from opchat.i18n import set_language
    from opchat.logs import setup_logging

    set_language(settings.language)
    setup_logging(settings.data_dir, settings.log_level)
    if getattr(args, "demo", False):
        _seed_demo_replies(settings)
    else:
        if settings.operator_name is None and _is_terminal(sys.stdin) and \
                _is_terminal(sys.stdout):
            ask_operator_name(settings, sys.stdin, sys.stdout)
        with_default_channel(settings)

    from opchat.app import OpchatApp

    async def run_hub(inbox, on_role) -> None:
        from opchat.hub import run_hub_when_free  # after the first frame, like all hub work

        await run_hub_when_free(inbox, settings.channels, settings.data_dir, on_role,
                                auto_assign_cap=team_cap(settings))

    app = OpchatApp(settings, lambda: open_inbox(settings), run_hub,
                    demo=getattr(args, "demo", False))
    app.run(mouse=settings.mouse)
    return app.return_code or EXIT_OK


def ask_operator_name(settings: Settings, answers: IO[str], out: IO[str]) -> None:
    """The first start: what to do next, and the name customers will see (asked once).

    Asked on the terminal before the app takes the screen. An empty answer is
    kept too (as no name), so the question is not asked again; replies that use
    {operator.name} then ask for it each time instead of saying the login name.
    """
    from opchat.config import save_operator_name

    lines = [_("Welcome to opchat."), "", *next_steps(settings), "",
             _("Your name, as customers will see it (\"I'm {operator.name}\" in replies)."),
              _("Enter alone: no name; replies then ask for it. Change it later in {path} "
                "(operator_name).", path=settings.config_path)]
    out.write("\n".join(_wrap(line) for line in lines) + "\n" + _("Your name: "))
    out.flush()
    answer = answers.readline()
    from opchat.sanitize import one_line

    name = one_line(answer.strip(), 100)
    settings.operator_name = name
    try:
        save_operator_name(settings.config_path, name)
    except ConfigError as exc:  # a read-only config: the name holds for this session
        out.write(_wrap(_("Not saved ({error}); opchat will ask again next time.",
                          error=exc)) + "\n")
        out.flush()


def next_steps(settings: Settings) -> list[str]:
    """What a newcomer does next (see opchat.first_start), for these settings."""
    from opchat.first_start import next_steps as steps

    return steps(with_default_channel(_copy(settings)).channels)


def _copy(settings: Settings) -> Settings:
    import dataclasses

    return dataclasses.replace(settings, channels=list(settings.channels))


def _wrap(line: str, width: int = 79) -> str:
    import textwrap

    # Paths and addresses stay whole, to be copied.
    return textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False)


def team_cap(settings: Settings) -> int | None:
    """The hub's auto-assignment cap, or None when auto-assignment is off."""
    return settings.max_open if settings.auto_assign else None


def _seed_demo_replies(settings: Settings) -> None:
    from opchat.replies import STARTER

    async def seed(inbox) -> None:
        if not await inbox.quick_replies():
            await inbox.store.save_quick_replies(STARTER)

    run_store(settings, seed)


def cmd_serve(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    prepare_data_dir(settings)
    from opchat.hub import run_hub_when_free
    from opchat.logs import setup_logging

    setup_logging(settings.data_dir, settings.log_level, stderr=True)
    import logging

    log = logging.getLogger("opchat.serve")
    _refuse_a_damaged_store(settings.data_dir)
    if not settings.channels:
        log.info("no channels configured in %s; running the web chat on %s",
                 settings.config_path, DEFAULT_LISTEN)
        print("\n".join(_wrap(line) for line in next_steps(settings)), flush=True)
        with_default_channel(settings)

    async def serve(inbox) -> None:
        hub = asyncio.create_task(run_hub_when_free(
            inbox, settings.channels, settings.data_dir,
            lambda role: log.info("role: %s", role), auto_assign_cap=team_cap(settings)))
        # systemd stops services with SIGTERM: stop the hub cleanly (channels marked
        # stopped, the lock released) as on Ctrl+C.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, hub.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await hub
        log.info("stopped")

    run_store(settings, serve)
    return EXIT_OK


def _refuse_a_damaged_store(data_dir: Path) -> None:
    """Stop ``serve`` with one line when the database is damaged (else it starts and says ok)."""
    import sqlite3

    from opchat.store import DB_FILENAME

    path = Path(data_dir) / DB_FILENAME
    if not path.exists():
        return
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        # What quick_check says of damaged pages may quote their bytes: never let that
        # text end the check on a decoding error instead of saying what is wrong.
        conn.text_factory = lambda data: data.decode("utf-8", "replace")
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
        problem = "" if rows == [("ok",)] else str(rows[0][0])
    except sqlite3.Error as exc:
        problem = str(exc)
    except UnicodeError:  # SQLite's own report quoted bytes of the damaged pages
        problem = _("its pages hold garbage")
    if problem:
        raise CliError(_("the database {path} is damaged ({problem}); restore it from a "
                         "backup or try: sqlite3 {path} .recover",
                         path=str(path), problem=problem), EXIT_FAIL)


def cmd_channel_add(args: argparse.Namespace) -> int:
    from opchat.config import save_channel
    from opchat.transports import available_kinds, parse_listen

    known = available_kinds()
    if args.kind not in known:
        raise CliError(_("unknown channel kind {kind} (installed: {kinds})",
                         kind=repr(args.kind), kinds=", ".join(known)), EXIT_USAGE)
    options: dict[str, object] = {}
    if args.listen:
        try:
            parse_listen(args.listen)
        except ValueError as exc:
            raise CliError(str(exc), EXIT_USAGE) from exc
        options["listen"] = args.listen
    for origin in args.origin or ():
        if not origin.startswith(("http://", "https://")) or origin.count("/") > 3:
            raise CliError(_("origin {origin} is not like https://shop.example",
                             origin=repr(origin)), EXIT_USAGE)
    if args.origin:
        options["origin"] = [origin.rstrip("/") for origin in args.origin]
    if args.public_url:
        options["public_url"] = args.public_url.rstrip("/")
    web_options = {"hours": args.hours, "timezone": args.timezone,
                   "operator_name": args.operator_name, "operator_photo": args.operator_photo,
                   "sneak_peek": False if args.no_sneak_peek else None,
                   "trust_proxy": args.trust_proxy,
                   "allow_no_origin": True if args.allow_no_origin else None}
    options.update({key: value for key, value in web_options.items() if value is not None})
    if args.kind == "webchat":
        from opchat.transports.webchat import check_options

        try:  # a mistake is said now, not as a channel DOWN after the restart
            check_options(options)
        except ValueError as exc:
            raise CliError(str(exc), EXIT_USAGE) from exc
    options.update(_telegram_options(args))
    options.update(_set_options(args.settings or ()))
    settings = settings_from(args)
    channel = ChannelSettings(args.name or args.kind, args.kind, options)
    from opchat.config import ConfigError, check_channel

    try:  # as the config will check it on the next start, so it does start
        check_channel(channel, settings.config_path)
    except ConfigError as exc:
        raise CliError(exc.problem, EXIT_USAGE) from exc
    replaced = any(c.name == channel.name for c in settings.channels)
    save_channel(settings.config_path, channel)
    done = (_("replaced channel {name} ({kind}) in {path}; restart opchat to start it")
            if replaced else
            _("added channel {name} ({kind}) in {path}; restart opchat to start it"))
    print(done.format(name=channel.name, kind=channel.kind, path=settings.config_path))
    if channel.kind == "webchat":
        from opchat.transports.webchat import snippet

        print(_("paste this into your pages (opchat channel snippet {name} prints it "
                "again):", name=channel.name) + f"\n{snippet(channel)}")
    if channel.kind == "telegram":
        print(_("check the token with: opchat channel test {name}", name=channel.name))
        if args.webhook_url:
            listen = options.get("listen", DEFAULT_LISTEN)
            print(_("Telegram will POST updates to {url}: have your reverse proxy pass them "
                    "to {local}", url=args.webhook_url,
                    local=f"http://{listen}/telegram/{channel.name}"))
    return EXIT_OK


TELEGRAM_TOKEN = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")  # as @BotFather gives it: 123456:ABC-def


def _set_options(given: Sequence[str]) -> dict[str, object]:
    """``--set KEY=VALUE`` options: VALUE read as a TOML value when it is one, else text."""
    import tomllib

    options: dict[str, object] = {}
    for item in given:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z0-9_]+", key):
            raise CliError(_("--set {item}: write KEY=VALUE, e.g. --set poll_timeout=30",
                             item=repr(item)), EXIT_USAGE)
        try:
            options[key] = tomllib.loads(f"value = {text}")["value"]
        except tomllib.TOMLDecodeError:
            options[key] = text
    return options


def cmd_channel_options(args: argparse.Namespace) -> int:
    """What a kind's `[channels.NAME]` table may hold, from its own declaration."""
    from opchat.transports import available_kinds, channel_options

    known = available_kinds()
    if args.kind not in known:
        raise CliError(_("unknown channel kind {kind} (installed: {kinds})",
                         kind=repr(args.kind), kinds=", ".join(known)), EXIT_USAGE)
    declared = channel_options(args.kind)
    if declared is None:
        print(_("{kind} declares no options: see its own documentation", kind=args.kind))
        return EXIT_OK
    width = max(len(option.name) for option in declared.options)
    for option in declared.options:
        secret = " " + _("(secret: keep it in {name}_env)", name=option.name) \
            if option.secret else ""
        print(f"{option.name:<{width}}  {option.kind:<8}  {_(option.help)}{secret}")
    return EXIT_OK


def _telegram_options(args: argparse.Namespace) -> dict[str, object]:
    """`channel add telegram`'s options, checked now rather than as a DOWN channel later."""
    given = {"--token": args.token, "--token-env": args.token_env, "--api-base": args.api_base,
             "--webhook-url": args.webhook_url}
    if args.kind != "telegram":
        for flag, value in given.items():
            if value:
                raise CliError(_("{flag} is for telegram channels, not {kind}", flag=flag,
                                 kind=args.kind), EXIT_USAGE)
        return {}
    if bool(args.token) == bool(args.token_env):
        raise CliError(_("telegram needs its bot token: --token 123456:ABC… (from "
                         "@BotFather) or --token-env VARIABLE"), EXIT_USAGE)
    options: dict[str, object] = {}
    if args.token:
        if not TELEGRAM_TOKEN.fullmatch(args.token.strip()):
            raise CliError(_("that is not a bot token: @BotFather gives one like "
                             "123456789:AAE-x1y2… (digits, a colon, then letters)"),
                           EXIT_USAGE)
        options["token"] = args.token.strip()
    else:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", args.token_env):
            raise CliError(_("{name} is not an environment variable name",
                             name=repr(args.token_env)), EXIT_USAGE)
        options["token_env"] = args.token_env
    for flag, key, value in (("--api-base", "api_base", args.api_base),
                             ("--webhook-url", "webhook_url", args.webhook_url)):
        if value is None:
            continue
        if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
            raise CliError(_("{flag} {value} is not like https://host/path", flag=flag,
                             value=repr(value)), EXIT_USAGE)
        options[key] = value.rstrip("/") if key == "api_base" else value
    if args.webhook_url and args.webhook_url.startswith("http://") and not args.api_base:
        raise CliError(_("Telegram sends webhooks only to https:// addresses"), EXIT_USAGE)
    return options


def cmd_channel_list(args: argparse.Namespace) -> int:
    from opchat.config import is_secret_option

    settings = settings_from(args)
    configured = bool(settings.channels)
    for channel in with_default_channel(settings).channels:
        shown = {key: "***" if is_secret_option(channel.kind, key) else value
                 for key, value in channel.options.items()}
        extra = " ".join(f"{key}={value}" for key, value in shown.items())
        print(f"{channel.name:<16} {channel.kind:<10} {extra}".rstrip())
    if not configured:
        print(_("(no channels in the config file: opchat runs this web chat by default)"),
              file=sys.stderr)
    return EXIT_OK


def cmd_channel_snippet(args: argparse.Namespace) -> int:
    settings = with_default_channel(settings_from(args))
    channel = next((c for c in settings.channels if c.name == args.name), None)
    if channel is None:
        names = ", ".join(c.name for c in settings.channels)
        raise CliError(_("no channel named {name} (channels: {names})", name=repr(args.name),
                         names=names), EXIT_USAGE)
    if channel.kind != "webchat":
        raise CliError(_("channel {name} is {kind}, not webchat", name=channel.name,
                         kind=channel.kind), EXIT_USAGE)
    from opchat.transports.webchat import snippet

    try:
        print(snippet(channel))
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    host = str(channel.options.get("listen") or DEFAULT_LISTEN).rpartition(":")[0]
    if not channel.options.get("public_url") and host in ("0.0.0.0", "::", "[::]"):
        print(_("note: set public_url (opchat channel add webchat --public-url "
                "https://chat.your.site) so visitors' browsers can reach the hub"),
              file=sys.stderr)
    return EXIT_OK


def cmd_channel_test(args: argparse.Namespace) -> int:
    """Connect to one channel's platform (the transport's ``check()``) and say what answered."""
    settings = settings_from(args)
    channel = next((c for c in settings.channels if c.name == args.name), None)
    if channel is None:
        names = ", ".join(c.name for c in settings.channels) or _("none configured")
        raise CliError(_("no channel named {name} (channels: {names})", name=repr(args.name),
                         names=names), EXIT_USAGE)
    from opchat.sanitize import one_line, redact
    from opchat.transports import Checks, UnknownChannelKind, load_transport

    try:
        transport = load_transport(channel.kind)(channel, settings.data_dir)
    except UnknownChannelKind as exc:
        raise CliError(_("channel {name}: unknown kind {kind}", name=channel.name,
                         kind=repr(exc.kind)), EXIT_USAGE) from exc
    except Exception as exc:  # a bad option: say which, no traceback
        raise CliError(_("channel {name}: {error}", name=channel.name,
                         error=one_line(redact(str(exc) or type(exc).__name__,
                                               channel.secrets())))) from exc
    if not isinstance(transport, Checks):
        print(_("channel {name} ({kind}) has nothing to test", name=channel.name,
                kind=channel.kind))
        return EXIT_OK
    checks: Checks = transport

    async def run_check() -> str:
        return await asyncio.wait_for(checks.check(), 30)

    try:
        detail = asyncio.run(run_check())
    except TimeoutError as exc:
        raise CliError(_("channel {name}: no answer in 30 s", name=channel.name)) from exc
    except Exception as exc:  # the reason, as the transport words it (platform text: one line)
        raise CliError(_("channel {name}: {error}", name=channel.name,
                         error=one_line(redact(str(exc) or type(exc).__name__,
                                               channel.secrets())))) from exc
    print(_("channel {name} ({kind}): {detail}", name=channel.name, kind=channel.kind,
            detail=one_line(str(detail))))
    return EXIT_OK


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
    if not db_path.exists():
        raise CliError(_("no database at {path}: nothing to export", path=db_path))

    async def ready(inbox) -> None:  # refuses a newer schema, upgrades an older one
        return None

    run_reader(settings, ready)
    out = _open_output(args.output)
    escape = args.output is None and _is_terminal(out)
    count = 0
    try:
        for record in export_records(db_path):
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
    if not db_path.exists():
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
    import re

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


def cmd_doctor(args: argparse.Namespace) -> int:
    from opchat.doctor import run_doctor

    return run_doctor(args, settings_from)


def cmd_replies_list(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    async def work(inbox):
        return await inbox.store.quick_replies()

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
    run_store(settings, lambda inbox: inbox.store.save_quick_replies([reply]))
    print(_("saved /{shortcut} (private to {login})", shortcut=reply.shortcut, login=owner)
          if owner else _("saved /{shortcut}", shortcut=reply.shortcut))
    return EXIT_OK


def cmd_replies_delete(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    async def work(inbox) -> bool:
        for reply in await inbox.store.quick_replies():
            if reply.shortcut == args.shortcut:
                return await inbox.store.delete_quick_reply(reply.id, inbox.operator.login)
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
    count = run_store(settings, lambda inbox: inbox.store.save_quick_replies(replies))
    print(ngettext("imported {n} quick reply", "imported {n} quick replies", count))
    return EXIT_OK


def cmd_replies_export(args: argparse.Namespace) -> int:
    from opchat.replies import dump_replies, dump_replies_csv

    settings = settings_from(args)

    async def work(inbox):
        return await inbox.store.quick_replies()

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
        have = {reply.shortcut for reply in await inbox.store.quick_replies()}
        new = [reply for reply in STARTER if reply.shortcut not in have]
        return await inbox.store.save_quick_replies(new)

    count = run_store(settings, work)
    print(ngettext("added {n} starter reply", "added {n} starter replies", count) if count
          else _("added no starter replies (all were there already)"))
    return EXIT_OK


# `opchat audit` / `opchat unhide`: the commands live in opchat/audit.py.


def _since(text: str) -> float:
    from opchat.audit import parse_since

    return parse_since(text)


def cmd_audit(args: argparse.Namespace) -> int:
    from opchat.audit import cmd_audit as audit

    return audit(args)


def cmd_unhide(args: argparse.Namespace) -> int:
    from opchat.audit import cmd_unhide as unhide

    return unhide(args)


def cmd_bench(args: argparse.Namespace) -> int:
    from opchat.bench import run_bench

    return run_bench(scale=args.scale, keep=args.keep)


if __name__ == "__main__":
    raise SystemExit(main())
