"""How fast customers are answered (Alt+S, or "Statistics" in the command palette).

    ┌ Statistics · last 7 days ─────────────────────────────────────────┐
    │ 27.11 14:00 – 04.12 14:05                                         │
    │ Dialogs 42 (9 reopened) · resolved 28 · missed 5 · in 60 · out 48 │
    │ First response  median 57s · P90 2m 57s · mean 1m 20s · 42        │
    │ …                                                                 │
    │ First responses            Answers by hour of day                 │
    │ ≤30s   ██████████ 15       ▁▂▅█▇▅▃▂▁                              │
    │ …                                                                 │
    └───────────────────────────────────────────────────────────────────┘

The period is today, yesterday, the last 7 or 30 days, or a range typed as
dates; the figures are the store's (opchat/store/stats.py), read again when a
message or a status change arrives (`changed`, called by the app) and every
`REFRESH` seconds, so they move as the day goes.
Everything is drawn as text: bars of block characters in the theme's colours,
which read the same in 16 colours and over SSH.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static

from opchat.i18n import _
from opchat.sanitize import one_line
from opchat.when import duration, share, stats_period
from opchat.widgets import ReportsWorkerErrors, translate_bindings
from opchat.widgets.frame_hold import FrameHold, frame_hold

if TYPE_CHECKING:
    from collections.abc import Callable

    from opchat.hours import WorkClock
    from opchat.inbox import Inbox
    from opchat.model import Figures, StatsReport
    from opchat.sla import Sla

REFRESH = 30.0  # seconds between reads as time goes by (changes are read at once)
HOLD_FIRST = 0.15  # seconds the screen's first frame may wait for its figures
BAR = 24  # the longest bar, in cells
BLOCKS = " ▁▂▃▄▅▆▇█"

FIRST_RESPONSE, REPLY, RESOLUTION = "first_response", "reply", "resolution"


class StatsScreen(ReportsWorkerErrors, ModalScreen[None]):
    CSS_PATH = "stats.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", _("Close"), id="opchat.stats.close",
                tooltip=_("Close the statistics")),
        Binding("t", "period('today')", _("Today"), id="opchat.stats.today",
                tooltip=_("Statistics of today")),
        Binding("y", "period('yesterday')", _("Yesterday"), id="opchat.stats.yesterday",
                tooltip=_("Statistics of yesterday")),
        Binding("w", "period('7d')", _("7 days"), id="opchat.stats.week",
                tooltip=_("Statistics of the last 7 days")),
        Binding("m", "period('30d')", _("30 days"), id="opchat.stats.month",
                tooltip=_("Statistics of the last 30 days")),
        Binding("r", "range", _("Dates"), id="opchat.stats.range",
                tooltip=_("Type the dates: from, and optionally to")),
        Binding("h", "working_hours", _("Work hours"), id="opchat.stats.working_hours",
                tooltip=_("Count durations in working hours, or by the calendar")),
    ]

    def __init__(self, inbox: Inbox, clock: Callable[[], float],
                 work: WorkClock | None = None, goals: Sla | None = None) -> None:
        super().__init__(id="stats")
        translate_bindings(self)
        self.inbox = inbox
        self.clock = clock
        self.work = work
        self.goals = goals
        self.working = False  # durations in working hours rather than calendar time
        self.period: str | None = "7d"
        self.range: tuple[float, float] | None = None
        self.report: StatsReport | None = None
        self._holding: FrameHold | None = None  # the app's frames, until the first figures

    def compose(self) -> ComposeResult:
        with Vertical(id="stats-box"):
            yield Static(Content(""), id="stats-title")
            yield Input(placeholder=_("From YYYY-MM-DD, and optionally to YYYY-MM-DD"),
                        id="stats-range", compact=True)
            with VerticalScroll(id="stats-body"):
                yield Static(Content(_("Reading…")), id="stats-summary")
                yield Static(Content(""), id="stats-pictures")
                yield Static(Content(""), id="stats-groups")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#stats-range").display = False
        self.query_one("#stats-body").focus()
        # The screen comes with its figures, in one frame (or "Reading…" after
        # HOLD_FIRST): drawing it empty meanwhile took the figures' read twice as long.
        self._holding = frame_hold(self.app)
        self._holding.hold(HOLD_FIRST)
        self.load()
        self.set_interval(REFRESH, self.load)

    def on_unmount(self) -> None:
        self._release_frame()

    def _release_frame(self) -> None:
        holding, self._holding = self._holding, None
        if holding is not None:
            holding.release()

    def bounds(self) -> tuple[float, float]:
        if self.range is not None:
            return self.range
        return stats_period(self.period, None, None, self.clock())

    @work(group="stats", exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        start, end = self.bounds()
        try:
            self.report = await self.inbox.stats_report(start, end, self.work, self.goals)
            self.draw()
        finally:
            self._release_frame()

    def changed(self, kinds: set[str]) -> None:
        """The app saw these kinds of events: read the figures again if they move them."""
        if kinds & {"message.new", "conversation.status"}:
            self.load()

    def action_close(self) -> None:
        if self.query_one("#stats-range").display:
            self._hide_range()
            return
        self.dismiss(None)

    def action_period(self, name: str) -> None:
        self.period, self.range = name, None
        self.load()

    def action_working_hours(self) -> None:
        self.working = not self.working
        self.draw()

    def action_range(self) -> None:
        field = self.query_one("#stats-range", Input)
        field.display = True
        field.focus()

    def _hide_range(self) -> None:
        field = self.query_one("#stats-range", Input)
        field.display = False
        self.query_one("#stats-body").focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # While the dates are typed, letters are letters.
        if action in ("period", "range", "working_hours") and self.query_one(
                "#stats-range").has_focus:
            return False
        return True

    @on(Input.Submitted, "#stats-range")
    def typed_range(self, event: Input.Submitted) -> None:
        words = event.value.split()
        try:
            days = [date.fromisoformat(word) for word in words]
        except ValueError:
            days = []
        if not 1 <= len(days) <= 2 or (len(days) == 2 and days[1] < days[0]):
            self.notify(_("Type a date as YYYY-MM-DD, or two: from and to"), severity="warning")
            return
        start = datetime.combine(days[0], datetime.min.time()).timestamp()
        last = days[-1] if len(days) == 2 else date.fromtimestamp(self.clock())
        end = datetime.combine(last + timedelta(days=1), datetime.min.time()).timestamp()
        self.period, self.range = None, (start, min(end, max(self.clock(), start + 1)))
        self._hide_range()
        self.load()

    # Drawing ---------------------------------------------------------------------------

    def draw(self) -> None:
        report = self.report
        if report is None:
            return
        names = {"today": _("today"), "yesterday": _("yesterday"),
                 "7d": _("last 7 days"), "30d": _("last 30 days")}
        title = _("Statistics · {period}",
                  period=names.get(self.period or "", _("chosen dates")))
        if self.working:
            title += _(" · working hours")
        when = (f"{datetime.fromtimestamp(report.start):%d.%m %H:%M} – "
                f"{datetime.fromtimestamp(report.end):%d.%m %H:%M}")
        self.query_one("#stats-title", Static).update(Content.assemble(
            (title, "bold"), "  ", (when, "dim")))
        whole = report.whole
        if whole is None:
            self.query_one("#stats-summary", Static).update(
                Content(_("Nothing happened in this period.")))
            self.query_one("#stats-pictures", Static).update(Content(""))
            self.query_one("#stats-groups", Static).update(Content(""))
            return
        working = self.working
        self.query_one("#stats-summary", Static).update(summary(whole, working,
                                                                self.goals is not None))
        self.query_one("#stats-pictures", Static).update(pictures(report, working))
        self.query_one("#stats-groups", Static).update(groups(report, working))


def summary(f: Figures, working: bool = False, goals: bool = False) -> Content:
    dialogs = f.count("started") + f.count("reopened")
    lines = [Content(_("Dialogs {n} ({reopened} reopened) · resolved {resolved} · missed "
                       "{missed} · messages in {inbound}, out {outbound}",
                       n=dialogs, reopened=f.count("reopened"),
                       resolved=f.spread(RESOLUTION).count, missed=f.count("missed"),
                       inbound=f.count("in"), outbound=f.count("out")))]
    labels = [(FIRST_RESPONSE, _("First response")), (REPLY, _("Reply time")),
              (RESOLUTION, _("Resolution"))]
    width = max(len(label) for _kind, label in labels) + 2
    for kind, label in labels:
        s = f.spread(kind, working)
        text = (_("median {median} · P90 {p90} · mean {mean} · {n}",
                  median=duration(s.median), p90=duration(s.p90), mean=duration(s.mean),
                  n=s.count) if s.count else "–")
        lines.append(Content.assemble((label.ljust(width), "bold"), text))
    lines.append(Content.assemble(
        (_("Within").ljust(width), "bold"),
        _("30s: {a} · 60s: {b} of first responses",
          a=share(f.share_within(30.0, working)), b=share(f.share_within(60.0, working)))))
    rated, average, good = f.ratings()
    if rated:
        lines.append(Content.assemble(
            (_("Ratings").ljust(width), "bold"),
            _("{average:.1f} of 5 · {good} gave 4 or 5 · {n}", average=average,
              good=share(good), n=rated)))
    if goals:
        missed = [f.count(f"breached_{goal}") for goal in
                  ("first_response", "next_response", "resolution")]
        lines.append(Content.assemble(
            (_("SLA").ljust(width), "bold"),
            (_("missed: first response {a} · answer {b} · resolution {c}",
               a=missed[0], b=missed[1], c=missed[2]), "$error" if any(missed) else "")))
    return Content("\n").join(lines)


def bar(value: int, top: int) -> str:
    if top <= 0 or value <= 0:
        return ""
    return "█" * max(1, round(BAR * value / top))


def spark(values: list[int]) -> str:
    top = max(values, default=0)
    if top <= 0:
        return BLOCKS[0] * len(values)
    return "".join(BLOCKS[0] if v <= 0 else BLOCKS[max(1, round(8 * v / top))]
                   for v in values)


def pictures(report: StatsReport, working: bool = False) -> Content:
    lines: list[Content] = [Content.styled(_("First responses"), "bold underline")]
    names = [_("≤{limit}", limit=duration(limit)) for limit in report.limits[:-1]]
    names.append(_(">{limit}", limit=duration(report.limits[-2])))
    bars = (report.first_responses_work if working and report.first_responses_work
            else report.first_responses)
    top = max(bars, default=0)
    width = max(len(name) for name in names) + 1
    for name, n in zip(names, bars, strict=True):
        lines.append(Content.assemble(name.ljust(width), (bar(n, top), "$accent"),
                                      f" {n}" if n else ""))
    hours = {f.key: f.count("out") for f in report.by_hour}
    lines += [Content(""), Content.styled(_("Answers by hour of day"), "bold underline"),
              Content.styled(spark([hours.get(f"{h:02d}", 0) for h in range(24)]), "$accent"),
              Content.styled("0     6     12    18   23", "dim")]
    if len(report.by_day) > 1:
        days = [f.count("started") + f.count("reopened") for f in report.by_day]
        lines += [Content(""), Content.styled(_("Dialogs per day"), "bold underline"),
                  Content.assemble((spark(days), "$accent"),
                                   (f"  {report.by_day[0].key[5:]} – "
                                    f"{report.by_day[-1].key[5:]}", "dim"))]
    return Content("\n").join(lines)


def groups(report: StatsReport, working: bool = False) -> Content:
    lines: list[Content] = []
    for title, rows, who in ((_("By operator"), report.by_operator, True),
                             (_("By channel"), report.by_channel, False)):
        rows = [f for f in rows if f.key or not who]
        if not rows:
            continue
        heads = [_("answers"), _("1st resp."), _("P90"), _("≤60s"), _("missed"), _("rating")]
        body = [[one_line(f.key or "–", 18), str(f.count("out")),
                 duration(f.spread(FIRST_RESPONSE, working).median),
                 duration(f.spread(FIRST_RESPONSE, working).p90),
                 share(f.share_within(60.0, working)),
                 str(f.count("missed")),
                 "–" if f.ratings()[1] is None else f"{f.ratings()[1]:.1f}"] for f in rows]
        widths = [max(len(r[i]) for r in [[title, *heads], *body]) for i in range(7)]
        lines.append(Content.styled("  ".join(
            [title.ljust(widths[0])] + [h.rjust(w) for h, w in zip(heads, widths[1:],
                                                                   strict=True)]),
            "bold underline"))
        for r in body:
            lines.append(Content("  ".join(
                [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:],
                                                                      strict=True)])))
        lines.append(Content(""))
    return Content("\n").join(lines)
