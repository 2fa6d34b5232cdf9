"""The `opchat` command: its parser and `main`; each command lives in its own module.

Imports stay light here: textual is imported only to run the app, transports
(and their SDKs) only inside the hub, so `opchat export` or `opchat doctor`
start at once and the app draws its first frame before anything heavy loads.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Mapping, Sequence

from opchat import __version__
from opchat.cli.common import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    open_inbox,
    prepare_data_dir,
    run_reader,
    run_store,
    settings_from,
    with_default_channel,
)
from opchat.cli.run import ask_operator_name, cmd_app
from opchat.config import ConfigError, load_settings, resolve_paths
from opchat.i18n import _, normalize_language, set_language

__all__ = ["EXIT_FAIL", "EXIT_OK", "EXIT_USAGE", "CliError", "ask_operator_name",
           "build_parser", "choose_language", "main", "open_inbox", "prepare_data_dir",
           "run_reader", "run_store", "runs_the_app", "settings_from",
           "with_default_channel"]


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    choose_language(arguments)
    parser = build_parser(arguments, commands=not runs_the_app(arguments))
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
    except Exception as exc:
        if not type(exc).__module__.startswith("psycopg"):
            raise
        # PostgreSQL went away while a command ran (the driver is imported only then).
        print("opchat: " + _("database: {error}", error=str(exc).strip().splitlines()[0]
                             if str(exc).strip() else type(exc).__name__), file=sys.stderr)
        return EXIT_FAIL


# The options that take a value (as the next word) before any command.
_VALUED_OPTIONS = frozenset(("--config", "--data-dir", "--database-url", "--operator",
                             "--lang"))


def runs_the_app(argv: Sequence[str]) -> bool:
    """Whether the command line names no command (nor asks for help): plain `opchat`,
    perhaps with options, which runs the app. Its parser then leaves the commands out:
    building them all costs the app's start ~20 ms. Any other word (a command, a stray
    one, an abbreviated option's value) gets the whole parser, and its usual answer."""
    value_next = False
    for word in argv:
        if value_next:
            value_next = False
        elif word in ("-h", "--help"):
            return False
        elif word in _VALUED_OPTIONS:
            value_next = True
        elif not word.startswith("-"):
            return False
    return True


def build_parser(argv: Sequence[str] = (), *, commands: bool = True
                 ) -> argparse.ArgumentParser:
    """The parser, its help in the language chosen (see choose_language) when it is built;
    ``argv``: the command line it will parse (`channel add KIND` adds KIND's flags).
    ``commands``: False leaves them out (see `runs_the_app`)."""
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: an option given before the subcommand is not reset by the subparser.
    common.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE",
                        help=_("config file (env OPCHAT_CONFIG)"))
    common.add_argument("--data-dir", default=argparse.SUPPRESS, metavar="DIR",
                        help=_("data directory: database, attachments, logs "
                               "(env OPCHAT_DATA_DIR)"))
    common.add_argument("--database-url", default=argparse.SUPPRESS, metavar="URL",
                        help=_("a PostgreSQL database to keep the store in instead of the "
                               "data dir's SQLite file (env OPCHAT_DATABASE_URL, config "
                               "[store] url)"))
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
    if not commands:
        return parser
    from opchat.cli import admin, api, channels, db, records, replies, run, stats, webhooks

    sub = parser.add_subparsers(title=_("commands"), metavar="COMMAND")


    run.add_run_commands(sub, common)
    channels.add_channel_commands(sub, common, channels.kind_being_added(argv))
    records.add_export_command(sub, common)
    records.add_search_command(sub, common)
    admin.add_doctor_command(sub, common)
    replies.add_replies_command(sub, common)
    records.add_audit_commands(sub, common)
    stats.add_stats_command(sub, common)
    webhooks.add_webhooks_command(sub, common)
    db.add_db_commands(sub, common)
    api.add_api_command(sub, common)
    admin.add_bench_command(sub, common)
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

