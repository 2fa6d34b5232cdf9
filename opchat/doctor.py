"""`opchat doctor`: check everything opchat depends on and say plainly what is wrong."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import stat
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from opchat.config import ConfigError, Settings
from opchat.sanitize import one_line

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass
class Finding:
    level: str
    topic: str
    text: str


def run_doctor(
    args: argparse.Namespace,
    settings_from: Callable[[argparse.Namespace], Settings],
    out=sys.stdout,
    environ: Mapping[str, str] | None = None,
) -> int:
    env = os.environ if environ is None else environ
    findings: list[Finding] = []
    try:
        settings = settings_from(args)
    except ConfigError as exc:
        findings.append(Finding(FAIL, "config", str(exc)))
        settings = None
    if settings is not None:
        where = "found" if settings.config_path.exists() else "not found, using defaults"
        findings.append(Finding(OK, "config", f"{settings.config_path} ({where})"))
        findings += check_data_dir(settings.data_dir)
        findings += check_database(settings.data_dir)
        findings += check_hub_lock(settings.data_dir)
        findings += asyncio.run(check_channels(settings))
        findings += check_channel_reports(settings.data_dir)
    findings += check_terminal(env)
    width = max(len(f.topic) for f in findings)
    for f in findings:
        # Details may quote a platform's error text: never raw to the terminal.
        print(f"[{f.level:>4}] {one_line(f.topic):<{width}}  {one_line(f.text)}", file=out)
    failed = sum(f.level == FAIL for f in findings)
    warned = sum(f.level == WARN for f in findings)
    print(f"\n{failed} problem(s), {warned} warning(s)", file=out)
    return 1 if failed else 0


def check_data_dir(path: Path) -> list[Finding]:
    if not path.exists():
        return [Finding(WARN, "data dir", f"{path} does not exist yet (created on first run)")]
    if not path.is_dir():
        return [Finding(FAIL, "data dir", f"{path} is not a directory")]
    if not os.access(path, os.W_OK | os.X_OK):
        return [Finding(FAIL, "data dir", f"{path} is not writable by you")]
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & stat.S_IRWXO:
        return [Finding(WARN, "data dir",
                        f"{path} is open to every user (mode {mode:o}); "
                        f"run: chmod o-rwx {path}")]
    shared = " (shared with its group)" if mode & stat.S_IRWXG else ""
    return [Finding(OK, "data dir", f"{path}, mode {mode:o}{shared}")]


def check_database(data_dir: Path) -> list[Finding]:
    from opchat.store import DB_FILENAME, SCHEMA_VERSION

    path = data_dir / DB_FILENAME
    if not path.exists():
        return [Finding(WARN, "database", f"{path} does not exist yet (created on first run)")]
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            counts = conn.execute(
                "SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages), "
                "(SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending'))"
            ).fetchone() if version else (0, 0, 0)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return [Finding(FAIL, "database", f"{path}: {exc}")]
    findings = []
    if check != "ok":
        findings.append(Finding(FAIL, "database", f"{path} is damaged: {check}"))
    if version > SCHEMA_VERSION:
        findings.append(Finding(FAIL, "database", f"schema {version} is newer than this opchat "
                                                  f"knows ({SCHEMA_VERSION}): upgrade opchat"))
    if not findings:
        findings.append(Finding(OK, "database",
                                f"{path}: schema {version}, {mode}, {counts[0]} dialogs, "
                                f"{counts[1]} messages, {counts[2]} waiting to be sent"))
    return findings


def check_hub_lock(data_dir: Path) -> list[Finding]:
    from opchat.hub import HubLock

    if not data_dir.is_dir():
        return []
    lock = HubLock(data_dir)
    try:
        free = lock.try_acquire()
    except OSError as exc:
        return [Finding(FAIL, "hub", f"cannot open {lock.path}: {exc.strerror}")]
    if free:
        lock.release()
        return [Finding(OK, "hub", "no process runs the hub now (the next opchat will)")]
    return [Finding(OK, "hub", f"the hub runs in process {lock.holder_pid()}")]


async def check_channels(settings: Settings) -> list[Finding]:
    from opchat.transports import UnknownChannelKind, available_kinds, load_transport

    if not settings.channels:
        return [Finding(WARN, "channels",
                        "none configured in the config file: opchat runs the web chat "
                        "on 127.0.0.1:8765 (see opchat channel add)")]
    findings = []
    for channel in settings.channels:
        topic = f"channel {channel.name}"
        try:
            factory = load_transport(channel.kind)
            transport = factory(channel, settings.data_dir)
        except UnknownChannelKind as exc:
            findings.append(Finding(FAIL, topic, f"unknown kind {exc.kind!r}; installed: "
                                                 f"{', '.join(available_kinds())}"))
            continue
        except Exception as exc:
            findings.append(Finding(FAIL, topic, f"{channel.kind}: {exc}"))
            continue
        check = getattr(transport, "check", None)
        if check is None:
            findings.append(Finding(OK, topic, f"{channel.kind}: configured"))
            continue
        try:
            detail = await asyncio.wait_for(check(), 15)
        except Exception as exc:
            findings.append(Finding(FAIL, topic, f"{channel.kind}: {exc or type(exc).__name__}"))
        else:
            findings.append(Finding(OK, topic, f"{channel.kind}: {detail}"))
    return findings


REPORTS_LOOKED_AT = 20_000  # latest events searched for the hub's word on each channel


def check_channel_reports(data_dir: Path) -> list[Finding]:
    """What the hub last said of a channel that is not well (a refused web chat
    origin, a store failing, an address in use): now, or when it last ran. The hub
    writes each channel's health to the store (``channels`` and ``channel.health``
    events), so this reads it there, whichever process runs the hub."""
    from opchat.i18n import _
    from opchat.store import DB_FILENAME

    path = data_dir / DB_FILENAME
    if not path.exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            now = conn.execute("SELECT name, health, health_detail FROM channels").fetchall()
            recent = conn.execute(
                "SELECT data FROM (SELECT kind, data FROM events ORDER BY id DESC LIMIT ?) "
                "WHERE kind = 'channel.health'", (REPORTS_LOOKED_AT,)).fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return []  # check_database has said what is wrong
    last: dict[str, tuple[str, str]] = {}  # channel -> its latest report while running
    for (data,) in recent:  # newest first
        try:
            report = json.loads(data)
        except ValueError:
            continue
        name, health = report.get("channel"), report.get("health")
        if isinstance(name, str) and name not in last and health not in ("stopped",
                                                                           "starting"):
            last[name] = (str(health), str(report.get("detail", "")))
    findings = []
    for name, health, detail in now:
        if health in ("degraded", "down"):
            text = _("the hub says: {health}, {detail}").format(health=health, detail=detail)
        elif health == "stopped" and last.get(name, ("ok",))[0] in ("degraded", "down"):
            text = _("when the hub last ran: {health}, {detail}").format(
                health=last[name][0], detail=last[name][1])
        else:
            continue
        findings.append(Finding(WARN, f"channel {name}", text))
    return findings


def check_terminal(env: Mapping[str, str]) -> list[Finding]:
    term = env.get("TERM", "")
    colorterm = env.get("COLORTERM", "")
    over_ssh = bool(env.get("SSH_CONNECTION") or env.get("SSH_TTY"))
    findings = []
    if not term or term == "dumb":
        findings.append(Finding(WARN, "terminal", f"TERM is {term or 'unset'}: the app needs a "
                                                  "real terminal (xterm-256color, tmux-256color)"))
    if colorterm in ("truecolor", "24bit"):
        findings.append(Finding(OK, "colours", "true colour"))
    elif "256color" in term:
        text = "256 colours (COLORTERM is not set)"
        if over_ssh:
            text += ("; OpenSSH drops COLORTERM: add 'SendEnv COLORTERM' to your ~/.ssh/config"
                     " and 'AcceptEnv COLORTERM' to the server's sshd_config")
        findings.append(Finding(WARN if over_ssh else OK, "colours", text))
    else:
        findings.append(Finding(WARN, "colours", f"16 colours only (TERM={term or 'unset'})"))
    return findings
