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
import signal
import sqlite3
import sys
from collections.abc import Callable, Sequence
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
from opchat.transports import DEFAULT_LISTEN  # the contract only: no transport is imported

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A problem to tell the user in one line, with an exit code."""

    def __init__(self, message: str, code: int = EXIT_FAIL) -> None:
        super().__init__(message)
        self.code = code


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except CliError as exc:
        print(f"opchat: {exc}", file=sys.stderr)
        return exc.code
    except ConfigError as exc:
        print(f"opchat: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `opchat export | head`: the reader has had enough. Quietly, as `cat` does;
        # stdout is pointed at /dev/null so the interpreter's final flush is silent too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except UnicodeError as exc:
        print(f"opchat: text that is not valid UTF-8: {exc.reason}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, sqlite3.Error) as exc:  # disk full, unwritable file, database trouble
        print(f"opchat: {exc}", file=sys.stderr)
        return EXIT_FAIL


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: an option given before the subcommand is not reset by the subparser.
    common.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE",
                        help="config file (env OPCHAT_CONFIG)")
    common.add_argument("--data-dir", default=argparse.SUPPRESS, metavar="DIR",
                        help="data directory: database, attachments, logs (env OPCHAT_DATA_DIR)")
    common.add_argument("--operator", default=argparse.SUPPRESS, metavar="LOGIN",
                        help="who you are (default: config, then your login name)")
    common.add_argument("--lang", default=argparse.SUPPRESS, choices=["en", "ru"],
                        help="interface language (default: config, then the locale)")

    parser = argparse.ArgumentParser(
        prog="opchat", parents=[common],
        description="A terminal inbox for every customer dialog, from every channel.")
    parser.add_argument("--version", action="version", version=f"opchat {__version__}")
    parser.add_argument("--demo", action="store_true",
                        help="run with simulated customers in a separate demo data dir")
    parser.set_defaults(handler=cmd_app)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("demo", parents=[common], help="the app with simulated customers")
    p.set_defaults(handler=cmd_app, demo=True)

    p = sub.add_parser("serve", parents=[common],
                       help="run the hub alone, headless (for systemd)")
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("channel", parents=[common], help="add and list channels; web chat snippet")
    csub = p.add_subparsers(title="actions", metavar="ACTION", required=True)
    c = csub.add_parser("add", parents=[common], help="add (or replace) a channel in the config")
    c.add_argument("kind", help="channel kind, e.g. webchat")
    c.add_argument("--name", help="the channel's name (default: the kind)")
    c.add_argument("--listen", metavar="HOST:PORT",
                   help=f"web chat: address to listen on (default {DEFAULT_LISTEN})")
    c.add_argument("--origin", action="append", metavar="URL",
                   help="web chat: a site allowed to embed the widget (repeat for more)")
    c.add_argument("--public-url", metavar="URL",
                   help="web chat: the hub's address as visitors' browsers reach it")
    c.set_defaults(handler=cmd_channel_add)
    c = csub.add_parser("list", parents=[common], help="list configured channels")
    c.set_defaults(handler=cmd_channel_list)
    c = csub.add_parser("snippet", parents=[common],
                        help="print the <script> tag that puts a web chat on a page")
    c.add_argument("name")
    c.set_defaults(handler=cmd_channel_snippet)

    p = sub.add_parser("export", parents=[common], help="write every conversation and message")
    p.add_argument("--format", choices=["jsonl"], default="jsonl")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("doctor", parents=[common],
                       help="check config, data dir, database, channels, terminal")
    p.set_defaults(handler=cmd_doctor)

    p = sub.add_parser("replies", parents=[common], help="manage quick replies")
    rsub = p.add_subparsers(title="actions", metavar="ACTION", required=True)
    r = rsub.add_parser("list", parents=[common], help="list quick replies")
    r.set_defaults(handler=cmd_replies_list)
    r = rsub.add_parser("add", parents=[common], help="add or update one quick reply")
    r.add_argument("shortcut")
    r.add_argument("--title", required=True)
    r.add_argument("--body", required=True, help="the text; '-' reads it from stdin")
    r.set_defaults(handler=cmd_replies_add)
    r = rsub.add_parser("import", parents=[common], help="add or update replies from YAML")
    r.add_argument("file", help="YAML file; '-' reads stdin")
    r.set_defaults(handler=cmd_replies_import)
    r = rsub.add_parser("export", parents=[common], help="write every reply as YAML")
    r.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    r.set_defaults(handler=cmd_replies_export)

    p = sub.add_parser("bench", parents=[common], help="measure speed on a synthetic store")
    p.add_argument("--scale", type=float, default=1.0,
                   help="fraction of the full size (100,000 dialogs, 1,000,000 messages)")
    p.add_argument("--keep", metavar="DIR", help="build the store here and keep it")
    p.set_defaults(handler=cmd_bench)
    return parser


# Shared steps ---------------------------------------------------------------------------


def settings_from(args: argparse.Namespace, environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    config_path, data_dir = resolve_paths(getattr(args, "config", None),
                                          getattr(args, "data_dir", None), env)
    settings = load_settings(config_path, data_dir)
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
        raise CliError(f"cannot use data dir {settings.data_dir}: {exc.strerror or exc}") from exc
    if not os.access(settings.data_dir, os.W_OK):
        raise CliError(f"data dir {settings.data_dir} is not writable by you")
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
        return await Inbox.open(settings.data_dir, operator_login(settings))
    except StoreError as exc:
        raise CliError(f"database: {exc}") from exc


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


def _open_output(path: str | None) -> IO[str]:
    if path is None:
        return sys.stdout
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from exc


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
    if not settings.channels:
        log.info("no channels configured in %s; running the web chat on %s",
                 settings.config_path, DEFAULT_LISTEN)
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


def cmd_channel_add(args: argparse.Namespace) -> int:
    from opchat.config import save_channel
    from opchat.transports import available_kinds, parse_listen

    known = available_kinds()
    if args.kind not in known:
        raise CliError(f"unknown channel kind {args.kind!r} (installed: {', '.join(known)})",
                       EXIT_USAGE)
    options: dict[str, object] = {}
    if args.listen:
        try:
            parse_listen(args.listen)
        except ValueError as exc:
            raise CliError(str(exc), EXIT_USAGE) from exc
        options["listen"] = args.listen
    for origin in args.origin or ():
        if not origin.startswith(("http://", "https://")) or origin.count("/") > 3:
            raise CliError(f"origin {origin!r} is not like https://shop.example", EXIT_USAGE)
    if args.origin:
        options["origin"] = [origin.rstrip("/") for origin in args.origin]
    if args.public_url:
        options["public_url"] = args.public_url.rstrip("/")
    settings = settings_from(args)
    channel = ChannelSettings(args.name or args.kind, args.kind, options)
    replaced = any(c.name == channel.name for c in settings.channels)
    save_channel(settings.config_path, channel)
    print(f"{'replaced' if replaced else 'added'} channel {channel.name} ({channel.kind}) "
          f"in {settings.config_path}; restart opchat to start it")
    if channel.kind == "webchat":
        from opchat.transports.webchat import snippet

        print("paste this into your pages (opchat channel snippet "
              f"{channel.name} prints it again):\n{snippet(channel)}")
    return EXIT_OK


def cmd_channel_list(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    configured = bool(settings.channels)
    for channel in with_default_channel(settings).channels:
        shown = {key: "***" if any(word in key for word in ("token", "secret", "password"))
                 and not key.endswith("_env") else value
                 for key, value in channel.options.items()}
        extra = " ".join(f"{key}={value}" for key, value in shown.items())
        print(f"{channel.name:<16} {channel.kind:<10} {extra}".rstrip())
    if not configured:
        print("(no channels in the config file: opchat runs this web chat by default)",
              file=sys.stderr)
    return EXIT_OK


def cmd_channel_snippet(args: argparse.Namespace) -> int:
    settings = with_default_channel(settings_from(args))
    channel = next((c for c in settings.channels if c.name == args.name), None)
    if channel is None:
        names = ", ".join(c.name for c in settings.channels)
        raise CliError(f"no channel named {args.name!r} (channels: {names})", EXIT_USAGE)
    if channel.kind != "webchat":
        raise CliError(f"channel {channel.name} is {channel.kind}, not webchat", EXIT_USAGE)
    from opchat.transports.webchat import snippet

    try:
        print(snippet(channel))
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    host = str(channel.options.get("listen") or DEFAULT_LISTEN).rpartition(":")[0]
    if not channel.options.get("public_url") and host in ("0.0.0.0", "::", "[::]"):
        print("note: set public_url (opchat channel add webchat --public-url "
              "https://chat.your.site) so visitors' browsers can reach the hub", file=sys.stderr)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    from opchat.store import DB_FILENAME, Store, StoreError

    db_path = settings.data_dir / DB_FILENAME
    if not db_path.exists():
        raise CliError(f"no database at {db_path}: nothing to export")

    async def ready(inbox) -> Store:
        return inbox.store

    store = run_store(settings, ready)
    assert isinstance(store, Store)
    out = _open_output(args.output)
    count = 0
    try:
        for record in store.iter_export():
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    except StoreError as exc:
        raise CliError(str(exc)) from exc
    finally:
        if out is not sys.stdout:
            out.close()
    if args.output:
        print(f"wrote {count} records to {args.output}", file=sys.stderr)
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from opchat.doctor import run_doctor

    return run_doctor(args, settings_from)


def cmd_replies_list(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    async def work(inbox):
        return await inbox.quick_replies()

    replies = run_store(settings, work)
    from opchat.sanitize import one_line

    for r in replies:  # type: ignore[attr-defined]
        print(f"/{r.shortcut:<14} {one_line(r.title, 30):<30} {one_line(r.body, 60)}")
    if not replies:
        print("no quick replies yet: opchat replies add SHORTCUT --title T --body B",
              file=sys.stderr)
    return EXIT_OK


def cmd_replies_add(args: argparse.Namespace) -> int:
    from opchat.replies import RepliesFileError, check_reply

    body = sys.stdin.read() if args.body == "-" else args.body
    try:
        reply = check_reply(args.shortcut, args.title, body, "reply")
    except RepliesFileError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    settings = settings_from(args)
    run_store(settings, lambda inbox: inbox.store.save_quick_replies([reply]))
    print(f"saved /{reply[0]}")
    return EXIT_OK


def cmd_replies_import(args: argparse.Namespace) -> int:
    from opchat.replies import RepliesFileError, parse_replies

    if args.file == "-":
        text, source = sys.stdin.read(), "<stdin>"
    else:
        try:
            text = Path(args.file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"cannot read {args.file}: {exc}", EXIT_USAGE) from exc
        source = args.file
    try:
        replies = parse_replies(text, source)
    except RepliesFileError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    settings = settings_from(args)
    count = run_store(settings, lambda inbox: inbox.store.save_quick_replies(replies))
    print(f"imported {count} quick replies")
    return EXIT_OK


def cmd_replies_export(args: argparse.Namespace) -> int:
    from opchat.replies import dump_replies

    settings = settings_from(args)

    async def work(inbox):
        return await inbox.quick_replies()

    text = dump_replies(run_store(settings, work))  # type: ignore[arg-type]
    out = _open_output(args.output)
    try:
        out.write(text)
    finally:
        if out is not sys.stdout:
            out.close()
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    from opchat.bench import run_bench

    return run_bench(scale=args.scale, keep=args.keep)


if __name__ == "__main__":
    raise SystemExit(main())
