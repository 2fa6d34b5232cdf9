"""`opchat webhooks list|retry|test`: the outgoing webhooks' queue, seen and resent."""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime
from typing import TYPE_CHECKING

from opchat.cli.common import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    run_reading,
    run_store,
    settings_from,
)
from opchat.i18n import _

if TYPE_CHECKING:
    from opchat.cli.common import Commands
    from opchat.config import Settings, WebhookSettings

SHOWN = 5  # the latest deliveries `list` shows per endpoint
FAILED_SHOWN = 20  # the failed ones it shows, with why


def add_webhooks_command(sub: Commands, common: argparse.ArgumentParser) -> None:
    """`webhooks list|retry|test`."""
    p = sub.add_parser("webhooks", parents=[common],
                       help=_("see and resend the outgoing webhooks"),
                       description=_("see and resend the outgoing webhooks"))
    wsub = p.add_subparsers(title=_("actions"), metavar="ACTION", required=True)
    w = wsub.add_parser("list", parents=[common],
                        help=_("the webhooks, their last deliveries and the failed ones"),
                        description=_("the webhooks, their last deliveries and the failed "
                                      "ones"))
    w.set_defaults(handler=cmd_webhooks_list)
    w = wsub.add_parser("retry", parents=[common], help=_("send deliveries again"),
                        description=_("send deliveries again"))
    w.add_argument("ids", metavar="ID", nargs="*", type=int,
                   help=_("a delivery's number, as `webhooks list` shows it"))
    w.add_argument("--failed", action="store_true", help=_("every failed delivery"))
    w.set_defaults(handler=cmd_webhooks_retry)
    w = wsub.add_parser("test", parents=[common],
                        help=_("send a signed test event and say what the receiver answered"),
                        description=_("send a signed test event and say what the receiver "
                                      "answered"))
    w.add_argument("name", metavar="NAME", help=_("the webhook's name in the config"))
    w.set_defaults(handler=cmd_webhooks_test)


def _when(at: float) -> str:
    return datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")


def cmd_webhooks_list(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if not settings.webhooks:
        print(_("no webhooks: add a [webhooks.NAME] table with url and secret to {path}",
                path=settings.config_path))
        return EXIT_OK

    async def work(inbox):
        counts = await inbox.store.webhooks.counts()
        shown = {w.name: (await inbox.store.webhooks.recent(w.name, SHOWN),
                          await inbox.store.webhooks.recent(w.name, FAILED_SHOWN, "failed"))
                 for w in settings.webhooks}
        return counts, shown

    counts, shown = run_reading(settings, work)  # type: ignore[misc]
    from opchat.sanitize import one_line

    for endpoint in settings.webhooks:
        events = (_("all events") if len(endpoint.events) == 9
                  else ", ".join(endpoint.events))
        print(f"{endpoint.name}  {endpoint.url}  ({events})")
        print("  " + _("queued {queued}, delivered {delivered}, failed {failed}",
                       queued=counts.get((endpoint.name, "queued"), 0),
                       delivered=counts.get((endpoint.name, "delivered"), 0),
                       failed=counts.get((endpoint.name, "failed"), 0)))
        latest, failed = shown[endpoint.name]
        for d in latest:
            states = {"queued": _("queued"), "delivered": _("delivered"), "failed": _("failed")}
            print(f"  #{d.id}  {_when(d.created_at)}  {d.kind}  {states.get(d.state, d.state)}  "
                  + _("attempts: {n}", n=d.attempts)
                  + (f"  {one_line(d.last_error, 200)}" if d.last_error else ""))
        if failed:
            print("  " + _("failed (opchat webhooks retry ID, or --failed for all):"))
            for d in failed:
                print(f"  #{d.id}  {_when(d.created_at)}  {d.kind}  "
                      f"{one_line(d.last_error, 200)}")
    return EXIT_OK


def cmd_webhooks_retry(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if not args.ids and not args.failed:
        raise CliError(_("say which deliveries: their numbers, or --failed"), EXIT_USAGE)

    async def work(inbox):
        missing = [i for i in args.ids if await inbox.store.webhooks.get(i) is None]
        if missing:
            return missing, 0
        return [], await inbox.store.webhooks.retry(args.ids, failed=args.failed)

    missing, count = run_store(settings, work)  # type: ignore[misc]
    if missing:
        raise CliError(_("no delivery {ids}", ids=", ".join(f"#{i}" for i in missing)))
    print(_("queued again: {n}; the hub sends them", n=count))
    return EXIT_OK


def _endpoint(settings: Settings, name: str) -> WebhookSettings:
    for endpoint in settings.webhooks:
        if endpoint.name == name:
            return endpoint
    raise CliError(_("no webhook {name} in {path} (webhooks: {known})", name=name,
                     path=settings.config_path,
                     known=", ".join(w.name for w in settings.webhooks) or _("none")),
                   EXIT_USAGE)


def cmd_webhooks_test(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    endpoint = _endpoint(settings, args.name)
    secret = endpoint.key()
    if secret is None:
        raise CliError(_("the environment variable {variable} (secret_env) is not set",
                         variable=endpoint.secret_env))

    async def send():
        import time

        import aiohttp

        from opchat.store.webhooks import QUEUED, Delivery, iso
        from opchat.webhooks import post

        now = time.time()
        delivery = Delivery(0, endpoint.name, 0, "webhook.test", None,
                            {"event": "webhook.test", "at": iso(now)}, QUEUED, 0, now, "",
                            now, None)
        async with aiohttp.ClientSession() as session:
            return await post(session, endpoint, secret, delivery, now)

    answer = asyncio.run(send())
    if answer.ok:
        print(_("{name} answered HTTP {status}: {body}", name=endpoint.name,
                status=answer.status, body=answer.reason or "-"))
        return EXIT_OK
    print(_("{name} did not take the test event: {reason}", name=endpoint.name,
            reason=answer.reason))
    return EXIT_FAIL
