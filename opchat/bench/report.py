"""The benchmark's report: one row per measurement, judged against its aim, as a table."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from opchat.bench.fixture import QUERY_FEW, QUERY_MANY, QUERY_NAME, StoreInfo


@dataclass
class Row:
    what: str
    value: float | None  # None: not measured (the reason is in `note`)
    unit: str
    baseline: float | None = None
    aim: str = ""
    meets: bool | None = None
    note: str = ""


ROW_NAMES = (
    "build the store",
    "first frame",
    "first frame with the list",
    "open 10k-message conversation (store)",
    "open 10k-message conversation (app)",
    "list page (store)",
    "list page, deep offset (store)",
    "count conversations (store)",
    "list one page down (app)",
    "list jump to the end (app)",
    "search, many matches (store)",
    "search, few matches (store)",
    "search all, many matches (store)",
    "search all, few matches (store)",
    "search all, a common first name (store)",
    "stats screen's figures, 30 days (store)",
    "stats screen's figures, a year (store)",
    "ingest, sequential awaits",
    "ingest, sequential, its SQL alone",
    "ingest, 50 concurrent producers",
    "ingest to screen, same process",
    "ingest to screen, second process",
    "quick reply, Tab to inserted (app)",
    "stats screen, Alt+S to figures (app)",
    "SQL reads per message in the open dialog (app)",
    "write transactions per message in the open dialog (app)",
    "write transactions per reply (app)",
    "idle: looks for other processes' commits",
    "peak RSS",
)


def build_rows(info: StoreInfo, store: dict[str, Any], minimal: dict[str, Any],
               starts: dict[str, Any], app: dict[str, Any], server: bool = False) -> list[Row]:
    """The table's rows; ``server``: measured on PostgreSQL, where one awaiting producer
    has no aim (each of its statements is a round trip to the server; the aim there is
    for concurrent producers)."""
    reused = "re-used; " if info.reused else ""
    rows: list[Row] = [Row("build the store", info.build_s, "s",
                           note=f"{reused}{info.conversations:,} conversations, "
                                f"{info.messages:,} messages, one of {info.big_messages:,}")]
    def unavailable(*parts: dict[str, Any]) -> str:
        error = next((part["error"] for part in parts if "error" in part), "")
        return f"UI not available: {error}" if error else ""

    ui_note = unavailable(app)

    def ms(key: str, src: dict[str, Any]) -> float | None:
        value = src.get(key)
        return None if value is None else float(value)

    def spread(key: str, src: dict[str, Any]) -> str:
        low, high = src.get(key + "_range", (None, None))
        return "" if low is None else f"{low:.0f}–{high:.0f} ms"

    frame_note = unavailable(starts, minimal) or (
        f"process start to the first frame, median of the starts: "
        f"opchat {spread('first_frame_ms', starts)}, minimal {spread('first_frame_ms', minimal)}")
    list_note = unavailable(starts, minimal) or (
        f"to the first frame with the conversations' rows "
        f"({spread('first_list_frame_ms', starts)}); the minimal app as baseline")
    rows.append(Row("first frame", ms("first_frame_ms", starts), "ms",
                    ms("first_frame_ms", minimal), "≤ 1.5× minimal app", note=frame_note))
    rows.append(Row("first frame with the list", ms("first_list_frame_ms", starts), "ms",
                    ms("first_frame_ms", minimal), "≤ 1.5× minimal app", note=list_note))
    med = statistics.median
    rows.append(Row("open 10k-message conversation (store)", med(store["open"]), "ms",
                    aim="< 50 ms", note=f"min {min(store['open']):.1f} ms, first 100 messages"))
    rows.append(Row("open 10k-message conversation (app)", ms("open_ms", app), "ms",
                    aim="< 50 ms", note=app.get("open_note", ui_note)))
    rows.append(Row("list page (store)", med(store["list0"]), "ms", aim="< 50 ms",
                    note=f"min {min(store['list0']):.1f} ms, 50 rows at offset 50"))
    rows.append(Row("list page, deep offset (store)", med(store["list_deep"]), "ms",
                    aim="< 50 ms", note=f"50 rows at offset {store['list_deep_offset']:,}"))
    rows.append(Row("count conversations (store)", med(store["count"]), "ms", aim="< 50 ms"))
    rows.append(Row("list one page down (app)", ms("page_ms", app), "ms", aim="< 50 ms",
                    note=app.get("page_note", ui_note)))
    rows.append(Row("list jump to the end (app)", ms("end_ms", app), "ms", aim="< 50 ms",
                    note=app.get("end_note", ui_note)))
    for key, label, query in (("search_many", "search, many matches (store)", QUERY_MANY),
                              ("search_few", "search, few matches (store)", QUERY_FEW)):
        rows.append(Row(label, med(store[key]), "ms", aim="< 100 ms",
                        note=f"“{query}”: {store[key + '_total']:,} matches, "
                             f"min {min(store[key]):.1f} ms"))
    for key, label, query in (
            ("all_many", "search all, many matches (store)", QUERY_MANY),
            ("all_few", "search all, few matches (store)", QUERY_FEW),
            ("all_name", "search all, a common first name (store)", QUERY_NAME)):
        contacts, labels, messages = store[key + "_found"]
        rows.append(Row(label, med(store[key]), "ms", aim="< 100 ms",
                        note=f"“{query}”: messages, contacts and labels as the search screen "
                             f"asks; shown {contacts} contacts, {labels} labelled dialogs, "
                             f"{messages} messages; min {min(store[key]):.1f} ms"))
    for key, label, days in (("stats_30d", "stats screen's figures, 30 days (store)", 30),
                             ("stats_year", "stats screen's figures, a year (store)", 365)):
        rows.append(Row(label, med(store[key]), "ms", aim="< 200 ms",
                        note=f"the last {days} days of the store as the stats screen reads "
                             f"them (whole, channels, operators, hours, days, histogram): "
                             f"{store[key + '_facts']:,} replies; median of "
                             f"{len(store[key])}, min {min(store[key]):.0f} ms"))
    rows.append(Row("ingest, sequential awaits", store["seq_rate"], "msg/s",
                    store["raw_rate"], "" if server else "≥ 5,000 msg/s",
                    note=f"{store['ingest_seq_n']:,} messages, one commit each "
                         "(80% to the 2,000 most recent dialogs, 10% to older, 10% new), "
                         "up to their search index caught up"
                         + ("; no aim on a server: each statement is a round trip to it"
                            if server else "")))
    rows.append(Row("ingest, sequential, its SQL alone", store["sql_rate"], "msg/s",
                    store["raw_rate"],
                    note="the same transaction run in a loop on a connection of its own: no "
                         "hop to the writer's thread, no event loop, no search index (on "
                         "SQLite it follows the commits); the gap to the row above is what "
                         "awaiting each commit costs"))
    rows.append(Row("ingest, 50 concurrent producers", store["conc_rate"], "msg/s",
                    store["raw_rate"], "≥ 5,000 msg/s",
                    note=f"{store['ingest_conc_n']:,} messages, committed in groups, up to "
                         "their search index caught up; baseline: the same rows into a plain "
                         "table, one executemany"))
    rows.append(Row("ingest to screen, same process", ms("local_delay_ms", app), "ms",
                    aim="< 100 ms", note=app.get("local_note", ui_note)))
    rows.append(Row("ingest to screen, second process", ms("remote_delay_ms", app), "ms",
                    aim="< 300 ms", note=app.get("remote_note", ui_note)))
    rows.append(Row("quick reply, Tab to inserted (app)", ms("reply_ms", app), "ms",
                    aim="< 50 ms", note=app.get("reply_note", ui_note)))
    rows.append(Row("stats screen, Alt+S to figures (app)", ms("stats_ms", app), "ms",
                    aim="< 200 ms", note=app.get("stats_note", ui_note)))
    rows.append(Row("SQL reads per message in the open dialog (app)", ms("sql_reads", app),
                    "reads", aim="≤ 11 reads", note=app.get("sql_note", ui_note)))
    rows.append(Row("write transactions per message in the open dialog (app)",
                    ms("sql_transactions", app), "txns",
                    note=app.get("sql_note", ui_note)))
    rows.append(Row("write transactions per reply (app)", ms("reply_transactions", app),
                    "txns", note=app.get("reply_sql_note", ui_note)))
    rows.append(Row("idle: looks for other processes' commits", ms("idle_checks", app), "/s",
                    aim="≤ 20 /s", note=app.get("idle_note", ui_note)))
    rows.append(Row("peak RSS", ms("rss_mib", app), "MiB", ms("rss_mib", minimal),
                    "< 150 MB", note=app.get("rss_note", ui_note) + (
                        "; baseline: the minimal app's at its first frame" if "rss_mib" in minimal
                        else "")))
    for row in rows:
        row.meets = judge(row)
    return rows


def judge(row: Row) -> bool | None:
    if row.value is None or not row.aim:
        return None
    aim = row.aim
    if aim.startswith("≤ 1.5×"):
        return None if row.baseline is None else row.value <= 1.5 * row.baseline
    number = float(aim.split()[1].replace(",", ""))
    if row.unit == "MiB":
        return row.value * 2**20 < number * 1e6
    if aim.startswith("<"):
        return row.value < number
    if aim.startswith("≤"):
        return row.value <= number
    return row.value >= number


def format_table(rows: Sequence[Row]) -> str:
    def num(value: float | None, unit: str) -> str:
        if value is None:
            return "—"
        if unit == "msg/s":
            return f"{value:,.0f} {unit}"
        if unit == "s":
            return f"{value:.1f} {unit}"
        return f"{value:,.1f} {unit}"

    table = [("what", "value", "baseline", "ratio", "aim", "verdict")]
    for row in rows:
        ratio = ""
        if row.value is not None and row.baseline:
            r = row.value / row.baseline
            ratio = f"{r:.2f}×" if r >= 0.1 else f"{r:.3f}×"
        verdict = {True: "meets aim", False: "misses aim", None: ""}[row.meets]
        table.append((row.what, num(row.value, row.unit),
                      num(row.baseline, row.unit) if row.baseline else "", ratio, row.aim,
                      verdict))
    widths = [max(len(line[i]) for line in table) for i in range(6)]
    lines = []
    for n, line in enumerate(table):
        lines.append("  ".join(cell.ljust(w) if i in (0, 4, 5) else cell.rjust(w)
                               for i, (cell, w) in enumerate(zip(line, widths, strict=True)))
                     .rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = [f"  {row.what}: {row.note}" for row in rows if row.note]
    return "\n".join([*lines, "", "notes:", *notes])
