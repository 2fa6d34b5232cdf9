"""`opchat stats`: how fast dialogs were answered in a period, for people and for scripts.

The figures are the store's (opchat/store/stats.py: what counts as a response,
a round, a missed dialog). This module picks the period, and writes them as a
table a person reads, or as CSV and JSON with the seconds as numbers and
stable English column names.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import date, datetime, timedelta
from typing import IO, TYPE_CHECKING, Any

from opchat.cli.common import EXIT_OK, EXIT_USAGE, CliError, run_store, settings_from
from opchat.i18n import _
from opchat.model import STATS_GROUPINGS, STATS_PERIODS
from opchat.when import duration, share, stats_period

if TYPE_CHECKING:
    from opchat.cli.common import Commands



def add_stats_command(sub: Commands, common: argparse.ArgumentParser) -> None:
    """`stats`."""
    p = sub.add_parser("stats", parents=[common],
                       help=_("how fast customers were answered: response times, missed "
                              "dialogs, messages"),
                       description=_("how fast customers were answered: response times, "
                                     "missed dialogs, messages"))
    p.add_argument("--period", choices=STATS_PERIODS, default=None,
                   help=_("today, yesterday, the last 7 or 30 days (default: 7d)"))
    p.add_argument("--from", dest="start", type=_day_start, metavar="DATE",
                   help=_("from this day (or moment): YYYY-MM-DD or 'YYYY-MM-DD HH:MM', "
                          "local time"))
    p.add_argument("--to", dest="end", type=_day_end, metavar="DATE",
                   help=_("to the end of this day (or this moment; default: now)"))
    p.add_argument("--by", choices=STATS_GROUPINGS, default=None,
                   help=_("one row per channel, operator, label, hour of day or day"))
    p.add_argument("--format", choices=("table", "csv", "json"), default="table",
                   help=_("table (default), csv or json"))
    p.add_argument("--working-hours", action="store_true",
                   help=_("durations in each channel's working hours (its 'hours'), not "
                          "calendar time; CSV and JSON always hold both"))
    p.add_argument("--rebuild", action="store_true",
                   help=_("recompute the figures, and their per-day roll-up, from the "
                          "events log first"))
    p.epilog = _("A period of 8 whole days or more, with over 5,000 durations, reads its "
                 "whole days from a per-day roll-up: counts and means are exact; medians "
                 "and P90s come from log-spaced buckets, within 9% of the exact value.")
    p.set_defaults(handler=cmd_stats)


def _moment(text: str, day_end: bool) -> float:
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=int(day_end)),
                                    datetime.min.time()).timestamp()
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("{text} is not a date: use YYYY-MM-DD or 'YYYY-MM-DD HH:MM'",
              text=repr(text))) from None


def _day_start(text: str) -> float:
    return _moment(text, False)


def _day_end(text: str) -> float:
    return _moment(text, True)


def cmd_stats(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if args.period is not None and (args.start is not None or args.end is not None):
        raise CliError(_("give either --period or --from/--to, not both"), EXIT_USAGE)
    now = datetime.now().timestamp()
    start, end = stats_period(args.period, args.start, args.end, now)
    if end <= start:
        raise CliError(_("the period ends before it begins"), EXIT_USAGE)

    from opchat.hours import WorkClock

    clock = WorkClock.of(settings.channels)

    async def work(inbox: Any) -> list[Any]:
        if args.rebuild:
            await inbox.store.stats.rebuild()
        return await inbox.store.stats.figures(start, end, args.by, clock, settings.sla)

    rows = run_store(settings, work)
    out = sys.stdout
    goals = settings.sla is not None
    if args.format == "json":
        for row in rows:
            out.write(json.dumps(record(row, args.by, start, end, goals), ensure_ascii=False)
                      + "\n")
    elif args.format == "csv":
        write_csv(out, [record(row, args.by, start, end, goals) for row in rows])
    else:
        out.write(table(rows, args.by, start, end, args.working_hours, goals))
    return EXIT_OK


def record(f: Any, by: str | None, start: float, end: float,
           goals: bool = False) -> dict[str, Any]:
    """One row of figures for a script: stable English keys, seconds as numbers; the
    breaches of each target are null when no targets are set (`[sla]`)."""
    from opchat.store.stats import DURATIONS, FIRST_RESPONSE, MISSED, REOPENED, RESOLUTION, STARTED

    out: dict[str, Any] = {
        "from": _iso(start), "to": _iso(end), "by": by or "", "group": f.key,
        "started": f.count(STARTED), "reopened": f.count(REOPENED),
        "resolved": f.spread(RESOLUTION).count, "missed": f.count(MISSED),
        "messages_in": f.count("in"), "messages_out": f.count("out"),
    }
    for working, suffix in ((False, ""), (True, "_work")):
        for kind in DURATIONS:
            s = f.spread(kind, working)
            out.update({f"{kind}{suffix}_count": s.count,
                        f"{kind}{suffix}_median_s": _num(s.median),
                        f"{kind}{suffix}_p90_s": _num(s.p90),
                        f"{kind}{suffix}_mean_s": _num(s.mean)})
        for limit in (30.0, 60.0):
            part = f.share_within(limit, working)
            out[f"{FIRST_RESPONSE}{suffix}_within_{int(limit)}s"] = (
                None if part is None else round(part, 4))
    for goal in GOALS:
        out[f"breached_{goal}"] = f.count(f"breached_{goal}") if goals else None
    rated, average, good = f.ratings()
    out.update({"ratings": rated, "rating_average": _num(average),
                "rating_4_5_share": None if good is None else round(good, 4)})
    out.update({f"rating_{n}": f.count(f"rating_{n}") for n in range(1, 6)})
    return out


def write_csv(out: IO[str], records: list[dict[str, Any]]) -> None:
    if not records:
        return
    writer = csv.DictWriter(out, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)


def table(rows: list[Any], by: str | None, start: float, end: float,
          working: bool = False, goals: bool = False) -> str:
    """The figures for a person: one block for the whole period, or a table of groups;
    ``working``: the durations in working hours."""
    from opchat.store.stats import FIRST_RESPONSE, MISSED, REOPENED, REPLY, RESOLUTION, STARTED

    lines = [_("From {start} to {end}", start=_shown(start), end=_shown(end))
             + (_(", in working hours") if working else "")]
    if not rows:
        lines.append(_("Nothing happened in this period."))
        return "\n".join(lines) + "\n"
    if by is None:
        [f] = rows
        pairs = [
            (_("Dialogs started"), str(f.count(STARTED))),
            (_("Reopened"), str(f.count(REOPENED))),
            (_("Resolved"), str(f.spread(RESOLUTION).count)),
            (_("Missed (no human answer)"), str(f.count(MISSED))),
            (_("Messages in / out"), f"{f.count('in')} / {f.count('out')}"),
        ]
        for kind, label in ((FIRST_RESPONSE, _("First response")), (REPLY, _("Reply time")),
                            (RESOLUTION, _("Resolution"))):
            s = f.spread(kind, working)
            pairs.append((label, _("median {median} · P90 {p90} · mean {mean} · {n} in all",
                                   median=duration(s.median), p90=duration(s.p90),
                                   mean=duration(s.mean), n=s.count) if s.count else "–"))
        pairs.append((_("Answered within 30s / 60s"),
                      f"{share(f.share_within(30.0, working))} / "
                      f"{share(f.share_within(60.0, working))}"))
        if goals:
            pairs.append((_("Targets missed (SLA)"), breaches(f)))
        rated, average, good = f.ratings()
        if rated:
            given = " ".join(f"{n}★ {f.count(f'rating_{n}')}" for n in range(5, 0, -1))
            pairs.append((_("Customers' ratings"), _(
                "{average:.1f} of 5 · {good} gave 4 or 5 · {n} in all ({given})",
                average=average, good=share(good), n=rated, given=given)))
        width = max(len(label) for label, _value in pairs) + 2
        lines += [label.ljust(width) + value for label, value in pairs]
        return "\n".join(lines) + "\n"
    heads = [_("group"), _("dialogs"), _("missed"), _("in"), _("out"),
             _("1st resp."), _("P90"), _("≤60s"), _("reply"), _("resolution")]
    body = [[f.key or "–", str(f.count(STARTED) + f.count(REOPENED)), str(f.count(MISSED)),
             str(f.count("in")), str(f.count("out")),
             duration(f.spread(FIRST_RESPONSE, working).median),
             duration(f.spread(FIRST_RESPONSE, working).p90),
             share(f.share_within(60.0, working)), duration(f.spread(REPLY, working).median),
             duration(f.spread(RESOLUTION, working).median)] for f in rows]
    widths = [max(len(r[i]) for r in [heads, *body]) for i in range(len(heads))]
    widths[0] = min(widths[0], 20)
    for r in [heads, *body]:
        cells = [r[0][:20].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:],
                                                                               strict=True)]
        lines.append("  ".join(cells).rstrip())
    lines.append(_("1st resp.: median first response; ≤60s: share of first responses within "
                   "a minute; reply, resolution: medians"))
    return "\n".join(lines) + "\n"


GOALS = ("first_response", "next_response", "resolution")


def breaches(f: Any) -> str:
    """ "first response 2 · answer 1 · resolution 0": the targets each missed."""
    words = {"first_response": _("first response"), "next_response": _("answer"),
             "resolution": _("resolution")}
    return " · ".join(f"{words[goal]} {f.count(f'breached_{goal}')}" for goal in GOALS)


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at).astimezone().isoformat(timespec="seconds")


def _shown(at: float) -> str:
    return datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M")


def _num(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
