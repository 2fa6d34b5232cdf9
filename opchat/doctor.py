"""`opchat doctor`: check everything opchat depends on and say plainly what is wrong."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import stat
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from opchat.config import (
    ConfigError,
    Settings,
    missing_menu_replies,
    resolve_paths,
    secrets_in_file,
)
from opchat.i18n import _
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
        findings.append(Finding(FAIL, _("config"), str(exc)))
        settings = None
    if settings is not None:
        where = (_("found") if settings.config_path.exists()
                 else _("not found, using defaults"))
        findings.append(Finding(OK, _("config"), f"{settings.config_path} ({where})"))
        findings += check_config_secrets(settings)
        data_dir = settings.data_dir
    else:  # the rest can be checked all the same
        data_dir = resolve_paths(getattr(args, "config", None),
                                 getattr(args, "data_dir", None), dict(env))[1]
    dir_findings = check_data_dir(data_dir)
    findings += dir_findings
    database_ok = False
    url = settings.database_url if settings is not None else None
    if url:  # the store is in PostgreSQL: the data dir keeps files and logs only
        findings += check_disk(data_dir) if data_dir.is_dir() else []
        database = check_postgres(url)
        database_ok = all(f.level != FAIL for f in database)
        findings += database
        if database_ok and settings is not None:
            findings += check_channel_holders(url, [c.name for c in settings.channels])
        if database_ok:
            findings += check_shared_files(url)
    elif all(f.level != FAIL for f in dir_findings):
        findings += check_disk(data_dir)
        database = check_database(data_dir)
        database_ok = all(f.level != FAIL for f in database)
        findings += database
        findings += check_hub_lock(data_dir)
    if settings is not None:
        findings += asyncio.run(check_channels(settings))
        if database_ok:  # these read the database: a damaged one is said above, once
            findings += check_menus(settings)
            findings += check_channel_reports(url or data_dir,
                                              [c.name for c in settings.channels])
    findings += check_terminal(env)
    width = max(len(f.topic) for f in findings)
    for f in findings:
        # Details may quote a platform's error text: never raw to the terminal.
        print(f"[{f.level:>4}] {one_line(f.topic):<{width}}  {one_line(f.text)}", file=out)
    failed = sum(f.level == FAIL for f in findings)
    warned = sum(f.level == WARN for f in findings)
    print("\n" + _("{failed} problem(s), {warned} warning(s)", failed=failed, warned=warned),
          file=out)
    return 1 if failed else 0


def check_config_secrets(settings: Settings) -> list[Finding]:
    """A token written in a config file that other users can read is everyone's token."""
    try:
        mode = stat.S_IMODE(settings.config_path.stat().st_mode)
    except OSError:
        return []
    held = secrets_in_file(settings)
    if not held or not mode & (stat.S_IRWXG | stat.S_IRWXO):
        return []
    return [Finding(WARN, _("config"), _(
        "{path} holds {secrets} and other users can read it (mode {mode:o}); run: chmod 600 "
        "{path} (or move the secret to an environment variable with token_env)",
        path=settings.config_path, secrets=", ".join(held), mode=mode))]


def check_data_dir(path: Path) -> list[Finding]:
    topic = _("data dir")
    if not path.exists():
        # Only true if the first start really can create it: the nearest existing parent
        # must be a directory we may write in.
        parent = next((p for p in path.parents if p.exists()), None)
        if parent is None or not parent.is_dir():
            return [Finding(FAIL, topic, _("{path} cannot be created: {parent} is not a "
                                           "directory", path=path, parent=parent))]
        if not os.access(parent, os.W_OK | os.X_OK):
            return [Finding(FAIL, topic, _("{path} cannot be created: {parent} is not "
                                           "writable by you", path=path, parent=parent))]
        return [Finding(OK, topic, _("{path} does not exist yet; it will be created on the "
                                     "first start (mode 700)", path=path))]
    if not path.is_dir():
        return [Finding(FAIL, topic, _("{path} is not a directory", path=path))]
    if not os.access(path, os.W_OK | os.X_OK):
        return [Finding(FAIL, topic, _("{path} is not writable by you", path=path))]
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & stat.S_IRWXO:
        return [Finding(WARN, topic, _("{path} is open to every user (mode {mode:o}); run: "
                                       "chmod o-rwx {path}", path=path, mode=mode))]
    if mode & stat.S_IRWXG:
        return [Finding(OK, topic, _("{path}, mode {mode:o} (shared with its group)",
                                     path=path, mode=mode))]
    return [Finding(OK, topic, _("{path}, mode {mode:o}", path=path, mode=mode))]


# Free space below which the store soon cannot commit: a message with its search index
# is a few KB, and the write-ahead log grows until SQLite copies it into the file.
DISK_LOW = 100 * 2**20
DISK_FULL = 2 * 2**20


def check_disk(path: Path) -> list[Finding]:
    """Say so when the data dir's disk is (nearly) full: then nothing can be stored, and
    the hub cannot even record the channels' health for `doctor` to show."""
    try:
        free = shutil.disk_usage(path).free
    except OSError:
        return []
    mib = f"{free / 2**20:.1f}"
    if free < DISK_FULL:
        return [Finding(FAIL, _("disk"), _(
            "{path}: {mib} MiB free: opchat cannot store messages until some space is freed",
            path=path, mib=mib))]
    if free < DISK_LOW:
        return [Finding(WARN, _("disk"), _(
            "{path}: only {mib} MiB free; when it is full, opchat cannot store messages",
            path=path, mib=mib))]
    return []


def check_menus(settings: Settings) -> list[Finding]:
    """Menu options naming a quick reply the store does not have (shared ones only)."""
    from opchat.store import DB_FILENAME

    if not any(c.auto is not None and c.auto.menu is not None for c in settings.channels):
        return []
    from opchat.store.readonly import Unreadable, shared_shortcuts

    path = settings.data_dir / DB_FILENAME
    shortcuts: set[str] = set()
    if settings.database_url or path.exists():
        try:
            shortcuts = shared_shortcuts(settings.database_url or path)
        except Unreadable:
            return []  # check_database has said what is wrong
    return [Finding(FAIL, _("menus"), str(problem))
            for problem in missing_menu_replies(settings.channels, shortcuts)]


def check_database(data_dir: Path) -> list[Finding]:
    from opchat.store import DB_FILENAME, SCHEMA_VERSION

    path = data_dir / DB_FILENAME
    if not path.exists():
        return [Finding(OK, _("database"), _("{path} does not exist yet; it will be created "
                                              "on the first start", path=path))]
    from opchat.store.readonly import Unreadable, inspect

    try:
        seen = inspect(path)
    except Unreadable as exc:
        if exc.detail:
            return [Finding(FAIL, _("database"), f"{path}: {exc.detail}")]
        return [Finding(FAIL, _("database"), _("{path} is damaged: {check}", path=path,
                                               check=_("its pages hold garbage")))]
    version, check = seen.schema, seen.check
    findings = []
    if check != "ok":
        findings.append(Finding(FAIL, _("database"),
                                _("{path} is damaged: {check}", path=path, check=check)))
    if version > SCHEMA_VERSION:
        findings.append(Finding(FAIL, _("database"), _(
            "schema {version} is newer than this opchat knows ({known}): upgrade opchat",
            version=version, known=SCHEMA_VERSION)))
    if not findings:
        findings.append(Finding(OK, _("database"), _(
            "{path}: schema {version}, {mode}, {dialogs} dialogs, {messages} messages, "
            "{queued} waiting to be sent", path=path, version=version, mode=seen.journal_mode,
            dialogs=seen.conversations, messages=seen.messages, queued=seen.queued)))
    return findings


def check_postgres(url: str) -> list[Finding]:
    """The PostgreSQL store: reachable, its server, its schema, its sizes."""
    from opchat.model import redacted_url
    from opchat.store import SCHEMA_VERSION
    from opchat.store.readonly import Unreadable, inspect

    where = redacted_url(url)
    try:
        seen = inspect(url)
    except Unreadable as exc:
        return [Finding(FAIL, _("database"), str(exc))]
    except ImportError:
        return [Finding(FAIL, _("database"), _("PostgreSQL needs the psycopg package: pip "
                                               "install 'opchat[postgresql]'"))]
    if seen.schema > SCHEMA_VERSION:
        return [Finding(FAIL, _("database"), _(
            "schema {version} is newer than this opchat knows ({known}): upgrade opchat",
            version=seen.schema, known=SCHEMA_VERSION))]
    if seen.schema == 0:
        return [Finding(OK, _("database"), _("{path}: {server}, empty; opchat sets it up on the "
                                              "first start", path=where, server=seen.journal_mode))]
    return [Finding(OK, _("database"), _(
        "{path}: schema {version}, {mode}, {dialogs} dialogs, {messages} messages, "
        "{queued} waiting to be sent", path=where, version=seen.schema, mode=seen.journal_mode,
        dialogs=seen.conversations, messages=seen.messages, queued=seen.queued))]


def check_shared_files(url: str) -> list[Finding]:
    """Files the PostgreSQL store keeps for every machine, and those only one machine has
    (larger than the limit, or saved before the store kept files and not carried by
    db migrate-to)."""
    from opchat.store.files import SHARED_MAX
    from opchat.store.readonly import Unreadable, shared_files

    try:
        kept, local, large = shared_files(url, SHARED_MAX)
    except Unreadable as exc:
        return [Finding(WARN, _("files"), str(exc))]
    if not local:
        return [Finding(OK, _("files"), _("{count} kept in the database: every machine can "
                                          "open them", count=kept))]
    return [Finding(WARN, _("files"), _(
        "{kept} kept in the database; {local} saved on one machine only ({large} of them "
        "larger than {limit} MB): operators and hubs on other machines cannot open or send "
        "those", kept=kept, local=local, large=large, limit=SHARED_MAX // (1024 * 1024)))]


def check_channel_holders(url: str, channels: list[str]) -> list[Finding]:
    """Which hub runs which channel (a store several machines share)."""
    from opchat.store.readonly import Unreadable, lock_holders

    try:
        holders = lock_holders(url, [f"channel:{name}" for name in channels] + ["duties"])
    except Unreadable as exc:
        return [Finding(FAIL, _("hub"), str(exc))]
    findings = [Finding(OK, _("hub"), _("the shared duties are run by the hub at {where}",
                                        where=holders["duties"])
                        if "duties" in holders else
                        _("no process runs the hub now (the next opchat will)"))]
    for name in channels:
        holder = holders.get(f"channel:{name}")
        findings.append(Finding(OK, _("channel {name}", name=name),
                                _("run by the hub at {where}", where=holder) if holder
                                else _("no hub runs it now")))
    return findings


def check_hub_lock(data_dir: Path) -> list[Finding]:
    from opchat.hub import HubLock

    if not data_dir.is_dir():
        return []
    lock = HubLock(data_dir)
    try:
        free = lock.try_acquire()
    except OSError as exc:
        return [Finding(FAIL, _("hub"), _("cannot open {path}: {error}", path=lock.path,
                                          error=exc.strerror))]
    if free:
        lock.release()
        return [Finding(OK, _("hub"), _("no process runs the hub now (the next opchat will)"))]
    return [Finding(OK, _("hub"), _("the hub runs in process {pid}", pid=lock.holder_pid()))]


async def check_channels(settings: Settings) -> list[Finding]:
    import tempfile

    from opchat.transports import (
        Checks,
        UnknownChannelKind,
        available_kinds,
        load_transport,
    )

    if not settings.channels:
        return [Finding(WARN, _("channels"),
                        _("none configured in the config file: opchat runs the web chat "
                          "on 127.0.0.1:8765 (see opchat channel add)"))]
    findings = []
    for channel in settings.channels:
        topic = _("channel {name}", name=channel.name)
        try:
            factory = load_transport(channel.kind)
            # A scratch data dir: doctor only looks, and what a channel makes there on its
            # first start (the web chat's secret) is no problem to report.
            with tempfile.TemporaryDirectory(prefix="opchat-doctor-") as scratch:
                transport = factory(channel, Path(scratch))
        except UnknownChannelKind as exc:
            findings.append(Finding(FAIL, topic, _(
                "unknown kind '{kind}'; installed: {kinds}", kind=exc.kind,
                kinds=", ".join(available_kinds()))))
            continue
        except Exception as exc:
            findings.append(Finding(FAIL, topic, f"{channel.kind}: {exc or type(exc).__name__}"))
            continue
        if not isinstance(transport, Checks):
            findings.append(Finding(OK, topic, _("{kind}: configured", kind=channel.kind)))
            continue
        try:
            detail = await asyncio.wait_for(transport.check(), 15)
        except Exception as exc:
            findings.append(Finding(FAIL, topic, f"{channel.kind}: {exc or type(exc).__name__}"))
        else:
            findings.append(Finding(OK, topic, f"{channel.kind}: {detail}"))
    return findings


REPORTS_LOOKED_AT = 20_000  # latest events searched for the hub's word on each channel


def check_channel_reports(location: Path | str,
                          configured: Sequence[str] = ()) -> list[Finding]:
    """What the hub last said of a channel that is not well (a refused web chat
    origin, a store failing, an address in use): now, or when it last ran; and a
    channel of this config (``configured``) that the hub does not run because its
    own config does not name it. The hub writes each channel's health to the store
    (``channels`` and ``channel.health`` events), so this reads it there, whichever
    process runs the hub. ``location``: the data dir (its SQLite file), or a
    PostgreSQL store's URL."""
    from opchat.i18n import _
    from opchat.store import DB_FILENAME

    path: Path | str = location
    if isinstance(location, Path):
        path = location / DB_FILENAME
        if not path.exists():
            return []
    from opchat.store.readonly import Unreadable, channel_reports

    try:
        now, recent = channel_reports(path, REPORTS_LOOKED_AT)
    except Unreadable:
        return []  # check_database has said what is wrong
    last: dict[str, tuple[str, str]] = {}  # channel -> its latest report while running
    for report in recent:  # newest first
        name, health = report.get("channel"), report.get("health")
        if isinstance(name, str) and name not in last and health not in ("stopped",
                                                                           "starting"):
            last[name] = (str(health), str(report.get("detail", "")))
    findings = []
    for name, health, detail in now:
        if health in ("degraded", "down"):
            text = _("the hub says: {health}, {detail}").format(health=_(health), detail=detail)
        elif health == "stopped" and detail and name in configured:
            text = _("the hub says: {detail}; this config names it: give the team one "
                     "config file", detail=detail)
        elif health == "stopped" and last.get(name, ("ok",))[0] in ("degraded", "down"):
            text = _("when the hub last ran: {health}, {detail}").format(
                health=_(last[name][0]), detail=last[name][1])
        else:
            continue
        findings.append(Finding(WARN, _("channel {name}", name=name), text))
    return findings


def check_terminal(env: Mapping[str, str]) -> list[Finding]:
    term = env.get("TERM", "")
    colorterm = env.get("COLORTERM", "")
    over_ssh = bool(env.get("SSH_CONNECTION") or env.get("SSH_TTY"))
    findings = []
    if not term or term == "dumb":
        findings.append(Finding(WARN, _("terminal"), _(
            "TERM is {term}: the app needs a real terminal (xterm-256color, tmux-256color)",
            term=term or _("unset"))))
    if colorterm in ("truecolor", "24bit"):
        findings.append(Finding(OK, _("colours"), _("true colour")))
    elif "256color" in term:
        text = _("256 colours (COLORTERM is not set)")
        if over_ssh:
            text += _("; OpenSSH drops COLORTERM: add 'SendEnv COLORTERM' to your ~/.ssh/config"
                      " and 'AcceptEnv COLORTERM' to the server's sshd_config")
        findings.append(Finding(WARN if over_ssh else OK, _("colours"), text))
    else:
        findings.append(Finding(WARN, _("colours"),
                                _("16 colours only (TERM={term})", term=term or _("unset"))))
    return findings
