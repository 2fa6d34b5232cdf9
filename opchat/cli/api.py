"""`opchat api token add|list|revoke`: the HTTP API's tokens (docs/API.md)."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import TYPE_CHECKING

from opchat.cli.common import EXIT_OK, EXIT_USAGE, CliError, run_reading, run_store, settings_from
from opchat.i18n import _

if TYPE_CHECKING:
    from opchat.cli.common import Commands


def add_api_command(sub: Commands, common: argparse.ArgumentParser) -> None:
    """`api token add|list|revoke`."""
    p = sub.add_parser("api", parents=[common], help=_("the HTTP API's tokens"),
                       description=_("the HTTP API's tokens"))
    asub = p.add_subparsers(title=_("actions"), metavar="ACTION", required=True)
    t = asub.add_parser("token", parents=[common], help=_("make, list and revoke tokens"),
                        description=_("make, list and revoke tokens"))
    tsub = t.add_subparsers(title=_("actions"), metavar="ACTION", required=True)
    a = tsub.add_parser("add", parents=[common],
                        help=_("make a token and show it, once"),
                        description=_("make a token and show it, once"))
    a.add_argument("name", metavar="NAME",
                   help=_("what the token is for (letters, digits, . _ -); its writes are "
                          "recorded as the operator api:NAME"))
    a.add_argument("--read-only", action="store_true",
                   help=_("the token may read but not change anything"))
    a.set_defaults(handler=cmd_token_add)
    a = tsub.add_parser("list", parents=[common], help=_("the tokens, without their secrets"),
                        description=_("the tokens, without their secrets"))
    a.set_defaults(handler=cmd_token_list)
    a = tsub.add_parser("revoke", parents=[common],
                        help=_("stop a token from working, at once"),
                        description=_("stop a token from working, at once"))
    a.add_argument("name", metavar="NAME", help=_("the token's name"))
    a.set_defaults(handler=cmd_token_revoke)


def _when(at: float | None) -> str:
    return "-" if at is None else datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M")


def cmd_token_add(args: argparse.Namespace) -> int:
    from opchat.api.tokens import NAME, new_token, token_hash

    settings = settings_from(args)
    if not NAME.fullmatch(args.name):
        raise CliError(_("a token's name is 1 to 40 letters, digits, dots, dashes or "
                         "underscores, not {name}", name=repr(args.name)), EXIT_USAGE)
    token = new_token()

    async def work(inbox):
        return await inbox.store.api_tokens.add(args.name, token_hash(token), args.read_only)

    if not run_store(settings, work):
        raise CliError(_("there is a token {name} already: revoke it first, or choose "
                         "another name", name=args.name))
    print(token)
    print(_("This is the only time the token is shown: keep it where the program that "
            "uses it can read it."), flush=True)
    if settings.api is None:
        print(_("The HTTP API is off: add [api] listen = \"127.0.0.1:8790\" to {path}",
                path=settings.config_path))
    return EXIT_OK


def cmd_token_list(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    async def work(inbox):
        return await inbox.store.api_tokens.all()

    tokens = run_reading(settings, work)
    if not tokens:
        print(_("no tokens: opchat api token add NAME"))
        return EXIT_OK
    for token in tokens:  # type: ignore[attr-defined]
        access = _("read-only") if token.read_only else _("read-write")
        state = (_("revoked {when}", when=_when(token.revoked_at))
                 if token.revoked_at is not None else _("in force"))
        print(f"{token.name}  {access}  {state}  "
              + _("made {when}, last used {used}", when=_when(token.created_at),
                  used=_when(token.last_used_at)))
    return EXIT_OK


def cmd_token_revoke(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    async def work(inbox):
        return await inbox.store.api_tokens.revoke(args.name)

    if not run_store(settings, work):
        raise CliError(_("no token {name} in force", name=args.name))
    print(_("token {name} revoked", name=args.name))
    return EXIT_OK
