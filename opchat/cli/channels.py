"""`opchat channel …`: add, list, test the channels of the config."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from opchat.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    prepare_data_dir,
    settings_from,
    with_default_channel,
)
from opchat.config import ChannelSettings, ConfigError
from opchat.i18n import _
from opchat.transports import DEFAULT_LISTEN, Option, OptionSet

if TYPE_CHECKING:
    from opchat.cli.common import Commands
    from opchat.config import Settings
    from opchat.model import Template


def add_channel_commands(sub: Commands, common: argparse.ArgumentParser,
                         kind: str | None = None) -> None:
    """`channel add|options|list|snippet|test`; ``kind``: the kind `channel add` was
    given on this command line, whose options become its flags."""
    p = sub.add_parser("channel", parents=[common],
                       help=_("add and list channels; web chat snippet"),
                       description=_("add and list channels; web chat snippet"))
    csub = p.add_subparsers(title=_("actions"), metavar="ACTION", required=True)
    add_channel_add_command(csub, common, kind)
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
    c = csub.add_parser("templates", parents=[common],
                        help=_("list a channel's message templates (WhatsApp) and offer the "
                               "approved ones in the app"),
                        description=_("list a channel's message templates (WhatsApp) and "
                                      "offer the approved ones in the app"))
    c.add_argument("name", metavar="NAME", help=_("the channel's name"))
    c.set_defaults(handler=cmd_channel_templates)


# `channel add KIND`: the kind's declared options are its flags ----------------------------

# A declared option's value on the command line, by its kind.
_METAVARS = {"text": "TEXT", "count": "N", "seconds": "SECONDS", "number": "NUMBER",
             "variable": "VARIABLE", "listen": "HOST:PORT", "url": "URL", "list": "VALUE",
             "any": "VALUE"}
# Flags `channel add` has of its own (those followed by a value, and --help): an option
# spelt like one is given with --set.
_VALUE_FLAGS = {"--config", "--data-dir", "--operator", "--lang", "--name", "--set"}
_OWN_FLAGS = _VALUE_FLAGS | {"--help"}


def kind_being_added(argv: Sequence[str]) -> str | None:
    """The KIND of `opchat … channel add KIND …` in ``argv`` when it is an installed
    kind: the parser then offers that kind's options as flags."""
    from opchat.transports import available_kinds

    words = list(argv)
    for at in range(len(words) - 1):
        if words[at:at + 2] == ["channel", "add"]:
            break
    else:
        return None
    previous = ""
    for word in words[at + 2:]:
        if not word.startswith("-") and previous not in _VALUE_FLAGS:
            return word if word in available_kinds() else None
        previous = word
    return None


def add_channel_add_command(csub: Commands, common: argparse.ArgumentParser,
                            kind: str | None) -> None:
    from opchat.transports import COMMON_OPTIONS, available_kinds, channel_options

    summary = _("add (or replace) a channel in the config")
    c = csub.add_parser("add", parents=[common], help=summary,
                        description=summary + ". " + _(
                            "Each kind's options are flags of their own: opchat channel add "
                            "KIND --help lists them."))
    c.add_argument("kind", metavar="KIND", help=_("channel kind: {kinds}",
                                                  kinds=", ".join(available_kinds())))
    c.add_argument("--name", help=_("the channel's name (default: the kind)"))
    declared = channel_options(kind) if kind else None
    if declared is not None:
        group = c.add_argument_group(_("options of {kind} channels", kind=kind))
        for option in declared.options:
            _add_flag(group, option)
    group = c.add_argument_group(_("automatic answers (any kind)"))
    for option in COMMON_OPTIONS.options:
        _add_flag(group, option)
    c.add_argument("--set", action="append", metavar="KEY=VALUE", dest="settings",
                   help=_("any option of the kind (opchat channel options KIND lists them); "
                          'VALUE as in the config file: true, 5, "text", ["a", "b"]; '
                          "anything else is text"))
    c.set_defaults(handler=cmd_channel_add, creates_config=True)


def _add_flag(group: argparse._ArgumentGroup, option: Option) -> None:
    if not option.flag or option.flag in _OWN_FLAGS:
        return  # a table, or a name taken: --set KEY=VALUE gives it
    words = _(option.help) if option.help else ""
    if option.secret:
        words += " " + _("(secret: keep it in {name}_env)", name=option.name)
    dest = f"option_{option.name}"
    metavar = option.metavar or _METAVARS.get(option.kind, "VALUE")
    if option.kind == "flag":
        group.add_argument(option.flag, action=argparse.BooleanOptionalAction, default=None,
                           dest=dest, help=words)
    elif option.kind in ("list", "any"):
        group.add_argument(option.flag, action="append", metavar=metavar,
                           dest=dest, help=words + " " + _("(repeat for more)"))
    else:
        group.add_argument(option.flag, metavar=metavar,
                           dest=dest, help=words)


def _flag_value(option: Option, text: str) -> object:
    """A flag's text as the config would hold it; what is not a number stays text, for
    the config's check to name."""
    if option.kind in ("count", "seconds", "number"):
        for kind in (int, float) if option.kind == "number" else (int,):
            try:
                return kind(text)
            except ValueError:
                pass
    return text


def _installed(kind: str) -> OptionSet | None:
    """What ``kind`` declares (None: nothing); CliError when no such kind is installed."""
    from opchat.transports import available_kinds, channel_options

    known = available_kinds()
    if kind not in known:
        raise CliError(_("unknown channel kind {kind} (installed: {kinds})",
                         kind=repr(kind), kinds=", ".join(known)), EXIT_USAGE)
    return channel_options(kind)


def cmd_channel_add(args: argparse.Namespace) -> int:
    from opchat.config import check_channel, save_channel
    from opchat.transports import COMMON_OPTIONS

    declared = _installed(args.kind)
    every = [*(declared.options if declared else ()), *COMMON_OPTIONS.options]
    set_options = _set_options(args.settings or ())
    options: dict[str, object] = {}
    for option in every:
        given = getattr(args, f"option_{option.name}", None)
        if isinstance(given, list):
            options[option.name] = [_flag_value(option, text) for text in given]
        elif isinstance(given, str):
            options[option.name] = _flag_value(option, given)
        elif given is not None:
            options[option.name] = given
    flagged = [option for option in every if option.name not in set_options]
    options.update(set_options)
    settings = settings_from(args)
    channel = ChannelSettings(args.name or args.kind, args.kind, options)
    try:  # as the config will check it on the next start, so it does start
        check_channel(channel, settings)
    except ConfigError as exc:
        raise CliError(_in_flags(exc.problem, channel.name, flagged), EXIT_USAGE) from exc
    replaced = any(c.name == channel.name for c in settings.channels)
    save_channel(settings.config_path, channel)
    done = (_("replaced channel {name} ({kind}) in {path}; restart opchat to start it")
            if replaced else
            _("added channel {name} ({kind}) in {path}; restart opchat to start it"))
    print(done.format(name=channel.name, kind=channel.kind, path=settings.config_path))
    if declared is not None and declared.added is not None:
        for line in declared.added(channel):
            print(line)
    return EXIT_OK


def _in_flags(problem: str, name: str, options: Sequence[Option]) -> str:
    """The config's words for a mistake, with `channels.NAME.KEY` said as the flag that
    gives KEY, for the options given by flags or not at all (not those of --set)."""
    for option in sorted(options, key=lambda option: -len(option.name)):
        if option.flag and option.flag not in _OWN_FLAGS:
            problem = re.sub(rf"\bchannels\.{re.escape(name)}\.{option.name}\b", option.flag,
                             problem)
    return problem


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
    declared = _installed(args.kind)
    if declared is None:
        print(_("{kind} declares no options: see its own documentation", kind=args.kind))
        return EXIT_OK
    width = max(len(option.name) for option in declared.options)
    for option in declared.options:
        secret = " " + _("(secret: keep it in {name}_env)", name=option.name) \
            if option.secret else ""
        print(f"{option.name:<{width}}  {option.kind:<8}  {_(option.help)}{secret}")
    return EXIT_OK


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
    from opchat.transports.webchat.options import snippet

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


def _channel_transport(args: argparse.Namespace) -> tuple[Settings, ChannelSettings, Any]:
    """The configured channel ``args.name`` and its transport, made as the hub makes it;
    CliError saying why not."""
    settings = settings_from(args)
    channel = next((c for c in settings.channels if c.name == args.name), None)
    if channel is None:
        names = ", ".join(c.name for c in settings.channels) or _("none configured")
        raise CliError(_("no channel named {name} (channels: {names})", name=repr(args.name),
                         names=names), EXIT_USAGE)
    from opchat.transports import UnknownChannelKind, load_transport

    try:
        return settings, channel, load_transport(channel.kind)(channel, settings.data_dir)
    except UnknownChannelKind as exc:
        raise CliError(_("channel {name}: unknown kind {kind}", name=channel.name,
                         kind=repr(exc.kind)), EXIT_USAGE) from exc
    except Exception as exc:  # a bad option: say which, no traceback
        raise CliError(_channel_error(channel, exc)) from exc


def _channel_error(channel: ChannelSettings, exc: BaseException) -> str:
    """An error of a channel's platform in one line, its secrets hidden."""
    from opchat.sanitize import one_line, redact

    return _("channel {name}: {error}", name=channel.name,
             error=one_line(redact(str(exc) or type(exc).__name__, channel.secrets())))


def cmd_channel_templates(args: argparse.Namespace) -> int:
    """List the message templates of a channel's account; the approved ones are then
    offered by the app's template picker (the hub refreshes them too)."""
    settings, channel, transport = _channel_transport(args)
    from opchat.sanitize import one_line
    from opchat.store import Store
    from opchat.templates import text_of
    from opchat.transports import HasTemplates

    if not isinstance(transport, HasTemplates):
        raise CliError(_("channel {name} ({kind}) has no message templates", name=channel.name,
                         kind=channel.kind), EXIT_USAGE)
    lister: HasTemplates = transport

    async def fetch_and_keep() -> list[Template]:
        found = await asyncio.wait_for(lister.templates(), 60)
        prepare_data_dir(settings)
        store = await Store.open(settings.data_dir, url=settings.database_url)
        try:
            await store.channels.ensure(channel.name, channel.kind)
            await store.templates.replace(channel.name, found)
        finally:
            await store.close()
        return found

    try:
        found = asyncio.run(fetch_and_keep())
    except TimeoutError as exc:
        raise CliError(_("channel {name}: no answer in 60 s", name=channel.name)) from exc
    except Exception as exc:
        raise CliError(_channel_error(channel, exc)) from exc
    if not found:
        print(_("channel {name} has no message templates yet: make them in WhatsApp Manager",
                name=channel.name))
        return EXIT_OK
    width = max(len(t.name) for t in found)
    for t in sorted(found, key=lambda t: (t.status != "APPROVED", t.name, t.language)):
        print(f"{t.name:<{width}}  {t.language:<6}  {t.status:<9}  {t.category:<14}  "
              f"{one_line(text_of(t), 60)}")
    approved = sum(t.status == "APPROVED" for t in found)
    print(_("{approved} of {count} approved; in opchat, Alt+T in a dialog of {name} offers "
            "them", approved=approved, count=len(found), name=channel.name))
    return EXIT_OK


def cmd_channel_test(args: argparse.Namespace) -> int:
    """Connect to one channel's platform (the transport's ``check()``) and say what answered."""
    _settings, channel, transport = _channel_transport(args)
    from opchat.sanitize import one_line
    from opchat.transports import Checks

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
        raise CliError(_channel_error(channel, exc)) from exc
    print(_("channel {name} ({kind}): {detail}", name=channel.name, kind=channel.kind,
            detail=one_line(str(detail))))
    return EXIT_OK

