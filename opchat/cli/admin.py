"""`opchat doctor` and `opchat bench`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from opchat.cli.common import settings_from
from opchat.i18n import _

if TYPE_CHECKING:
    from opchat.cli.common import Commands


def add_doctor_command(sub: Commands, common: argparse.ArgumentParser) -> None:
    """`doctor`."""
    p = sub.add_parser("doctor", parents=[common],
                       help=_("check config, data dir, database, channels, terminal"),
                       description=_("check config, data dir, database, channels, terminal"))
    p.set_defaults(handler=cmd_doctor)


def add_bench_command(sub: Commands, common: argparse.ArgumentParser) -> None:
    """`bench`."""
    p = sub.add_parser("bench", parents=[common],
                       help=_("measure speed on a synthetic store"),
                       description=_("measure speed on a synthetic store"))
    p.add_argument("--scale", type=float, default=1.0,
                   help=_("fraction of the full size (100,000 dialogs, 1,000,000 messages)"))
    p.add_argument("--keep", metavar="DIR", help=_("build the store here and keep it"))
    p.set_defaults(handler=cmd_bench)


def cmd_doctor(args: argparse.Namespace) -> int:
    from opchat.doctor import run_doctor

    return run_doctor(args, settings_from)


def cmd_bench(args: argparse.Namespace) -> int:
    from opchat.bench import run_bench

    settings = settings_from(args)
    return run_bench(scale=args.scale, keep=args.keep,
                     database_url=settings.database_url or None)

