"""`opchat channel …`: add, list, test the channels of the config."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from opchat.cli.common import EXIT_OK, EXIT_USAGE, CliError, settings_from, with_default_channel
from opchat.config import ChannelSettings, ConfigError
from opchat.i18n import _
from opchat.transports import DEFAULT_LISTEN

if TYPE_CHECKING:
    from opchat.cli.common import Commands


def add_channel_commands(sub: Commands, common: argparse.ArgumentParser) -> None:
    """`channel add|options|list|snippet|test`."""
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
    c.set_defaults(handler=cmd_channel_add, creates_config=True)
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
    from opchat.config import check_channel

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

