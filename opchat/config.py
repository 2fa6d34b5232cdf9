"""Where opchat keeps things, and the settings in its TOML config file.

The config file (default: platformdirs' user config dir, `config.toml`) is
read once at start into a typed `Settings`. Anything wrong in it, including
a misspelt key, is a `ConfigError` that names the file and, when it can be
found, the line: a typo must never be silently ignored.

The file can hold channel secrets, so opchat writes it only atomically and
with mode 0600; `save_channel()` / `remove_channel()` edit one channel's
table and leave the rest of the text, comments included, as it was.

    language = "ru"          # "en" | "ru"; absent -> from the locale
    operator = "anna"        # shown as the author of what you send
    operator_name = "Anna"   # what customers see ({operator.name} in replies)
    [ui]
    mouse = true
    wait_amber = 30          # seconds a customer waits before the row turns amber
    wait_red = 60
    wait_alert = 300
    display_cap = 4000       # characters of one message shown before "open in pager"
    [log]
    level = "INFO"
    [channels.shop]          # the table name is the channel's name
    kind = "telegram"
    token_env = "SHOP_BOT_TOKEN"
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from opchat.i18n import SUPPORTED_LANGUAGES, _, normalize_language
from opchat.model import redacted_url
from opchat.transports import (  # the contract only: no SDK
    BUILT_IN_OPTIONS,
    COMMON_OPTIONS,
    Option,
    OptionProblem,
    available_kinds,
    channel_options,
    parse_listen,
)

__all__ = [
    "WEBHOOK_EVENTS",
    "ApiSettings",
    "AutoAnswers",
    "ChannelSettings",
    "ConfigError",
    "Menu",
    "MenuOption",
    "Settings",
    "WebhookSettings",
    "default_config_path",
    "default_data_dir",
    "ensure_data_dir",
    "load_settings",
    "missing_menu_replies",
    "remove_channel",
    "resolve_paths",
    "save_channel",
    "secrets_in_file",
    "toml_value",
]

CHANNEL_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


# --- Paths ------------------------------------------------------------------


def default_config_path() -> Path:
    import platformdirs  # imports (tomllib, difflib too) wait for their use: see
    # docs/PERFORMANCE.md, "The first frame (2026-12-04, session 10)"

    return platformdirs.user_config_path("opchat") / "config.toml"


def default_data_dir() -> Path:
    import platformdirs

    return platformdirs.user_data_path("opchat")


def resolve_paths(
    config: str | None,
    data_dir: str | None,
    environ: Mapping[str, str] | None = None,
) -> tuple[Path, Path]:
    """The config file and data dir to use: argument, else environment, else default.

    The environment variables are OPCHAT_CONFIG and OPCHAT_DATA_DIR; an empty
    one counts as unset.
    """
    environ = os.environ if environ is None else environ
    config_path = config or environ.get("OPCHAT_CONFIG") or default_config_path()
    data_path = data_dir or environ.get("OPCHAT_DATA_DIR") or default_data_dir()
    return Path(config_path).expanduser(), Path(data_path).expanduser()


def ensure_data_dir(path: Path) -> Path:
    """Create the data dir if needed, private (0700) when we are the ones creating it.

    An existing dir keeps its permissions: a team may share it through a
    group on purpose.
    """
    path = path.expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise NotADirectoryError(f"{path} exists and is not a directory")
    # Every directory we create on the way is private too (the demo's data dir
    # lives inside the real one, which must not end up 0755 because of it).
    missing = [path, *(p for p in path.parents if not p.exists())]
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            continue  # created meanwhile by another process
        # mkdir's mode is filtered through the umask; set it exactly.
        directory.chmod(0o700)
    return path


def private_modes(path: Path) -> tuple[int, int]:
    """(file mode, directory mode) for what opchat creates under the data dir ``path``.

    As private as the data dir: 0600/0700, or 0660/2770 when the admin shared it
    with a group (mode 2770), so that whichever operator's process runs the hub
    next can read the secrets and files the previous one wrote.
    """
    try:
        shared = (Path(path).stat().st_mode & 0o070) == 0o070
    except OSError:
        shared = False
    return (0o660, 0o2770) if shared else (0o600, 0o700)


# --- Settings -----------------------------------------------------------------


@dataclass
class MenuOption:
    """One numbered choice of a self-service menu: a saved reply, or a person."""

    label: str
    reply: str | None = None  # the shortcut of the quick reply it answers with
    operator: bool = False  # hands the dialog to an operator


@dataclass
class Menu:
    """A `[menus.NAME]` table: what a bot offers before an operator is there."""

    name: str
    text: str  # above the numbered options
    options: list[MenuOption] = field(default_factory=list)
    handoff: str | None = None  # said when the customer asks for a person; None: default
    # Where its options are written, to point at them when one names a missing reply.
    path: Path | None = field(default=None, compare=False)
    line: int | None = field(default=None, compare=False)


@dataclass
class TranscriptSettings:
    channel: str  # an email channel
    on_resolve: bool = False


WEBHOOK_EVENTS = (
    "conversation.created", "conversation.status", "conversation.assigned",
    "conversation.labelled", "message.created", "contact.created", "contact.updated",
    "contact.merged", "rating.given",
)


@dataclass
class ApiSettings:
    """`[api]`: the HTTP API (opchat/api/), served by the hub on its own address."""

    listen: str  # "127.0.0.1:8790"
    cors: tuple[str, ...] = ()  # origins a browser page may call it from; none: CORS off
    rate: int = 120  # requests a token may make per minute
    max_body: int = 65536  # bytes a request's body may hold


@dataclass
class WebhookSettings:
    """One `[webhooks.NAME]` table: where events are POSTed, signed with `secret`."""

    name: str
    url: str
    secret: str = ""
    secret_env: str = ""  # the environment variable holding it, read when used
    events: tuple[str, ...] = WEBHOOK_EVENTS

    def secrets(self) -> tuple[str, ...]:
        """What error texts must never show: the secret, a password in the url."""
        from urllib.parse import urlsplit

        found = {self.key() or "", urlsplit(self.url).password or ""}
        return tuple(sorted((s for s in found if len(s) >= 4), key=len, reverse=True))

    def key(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The secret deliveries are signed with; None if its variable is not set."""
        if self.secret:
            return self.secret
        environ = os.environ if environ is None else environ
        return environ.get(self.secret_env) or None


@dataclass
class AutoAnswers:
    """What a channel answers by itself (its `hours`, `away_message`, `greeting_message`, `menu`).

    A text left None is opchat's default, in `language`; "" turns the answer off.
    """

    hours: Any = None  # opchat.hours.WorkingHours, or None: always open
    away_message: str | None = None  # outside `hours`
    greeting_message: str = ""  # to a new dialog; "": none
    menu: Menu | None = None
    language: str = "en"
    rating: bool = False  # ask the customer to rate a dialog an operator resolves
    rating_question: str | None = None  # None: opchat's, in `language`


# Words in an option's name that make it a secret, for a kind that declares no options.
_SECRET_WORDS = ("token", "secret", "password", "key")


def is_secret_option(kind: str, key: str) -> bool:
    """Whether option ``key`` of a ``kind`` channel holds a secret when written in the
    file: the kind declares it so (`Option.secret`), or its name says so (when in doubt,
    hidden: what this decides is kept out of logs, listings and error texts)."""
    declared = channel_options(kind)
    option = declared.get(key) if declared is not None else None
    if option is not None and option.secret:
        return True
    return not key.endswith("_env") and any(word in key.lower() for word in _SECRET_WORDS)


@dataclass
class ChannelSettings:
    """One `[channels.NAME]` table: the transport `kind` and its own options."""

    name: str
    kind: str
    options: dict[str, Any] = field(default_factory=dict)
    auto: AutoAnswers | None = None  # automatic answers, when the table asks for any

    def secret(self, key: str, environ: Mapping[str, str] | None = None) -> str | None:
        """The secret `key` from the file, else from the variable named by `key_env`."""
        value = self.options.get(key)
        if value not in (None, ""):
            return str(value)
        variable = self.options.get(f"{key}_env")
        if not variable:
            return None
        environ = os.environ if environ is None else environ
        return environ.get(variable) or None

    def secrets(self) -> tuple[str, ...]:
        """Every secret among the options (or the variables they name), longest first:
        what error texts must never show (`sanitize.redact`)."""
        found = set()
        for key in self.options:
            key = key.removesuffix("_env")
            if is_secret_option(self.kind, key):
                value = self.secret(key)
                if value and len(value) >= 4:  # shorter would blank out ordinary words
                    found.add(value)
        return tuple(sorted(found, key=len, reverse=True))


@dataclass
class Settings:
    config_path: Path
    data_dir: Path
    language: str | None = None
    operator: str | None = None
    # What customers see as {operator.name}: chosen by the operator, asked once on the
    # first start; "" means they chose none (replies then ask for it), None: not asked yet.
    operator_name: str | None = None
    mouse: bool = True
    wait_amber: int = 30
    wait_red: int = 60
    wait_alert: int = 300
    display_cap: int = 4000
    log_level: str = "INFO"
    # Binding id -> keys, e.g. {"opchat.next_conversation": "f6,ctrl+down"}; see the help screen.
    keymap: dict[str, str] = field(default_factory=dict)
    channels: list[ChannelSettings] = field(default_factory=list)
    # A team on one server: open dialogs one operator may hold, and whether new
    # dialogs go by themselves to the online operator with the fewest.
    max_open: int = 5
    auto_assign: bool = True
    # How each event gets the operator's attention: "off", "bell", "desktop" or "both".
    alert_new_dialog: str = "both"
    alert_new_message: str = "bell"
    alert_red_wait: str = "both"
    # Quick replies on keys: shortcut -> keys, e.g. {"delivery": "f5"} (`[reply_keys]`).
    reply_keys: dict[str, str] = field(default_factory=dict)
    menus: dict[str, Menu] = field(default_factory=dict)  # `[menus.NAME]`
    sla: Any = None  # opchat.sla.Sla (`[sla]`), or None: no targets
    # `[transcripts]`: the e-mail channel dialogs' transcripts go out through, and
    # whether resolving a dialog sends one; None: transcripts are not set up.
    transcripts: TranscriptSettings | None = None
    webhooks: list[WebhookSettings] = field(default_factory=list)  # `[webhooks.NAME]`
    # `[store] url`: a PostgreSQL database ("postgresql://…") the store is in; None: the
    # SQLite file in the data dir. OPCHAT_DATABASE_URL and --database-url come first.
    database_url: str | None = None
    api: ApiSettings | None = None  # `[api]`; None: the HTTP API is off


class ConfigError(Exception):
    """A problem with the config file, worded for the operator who must fix it."""

    def __init__(self, path: Path | str, line: int | None, problem: str) -> None:
        super().__init__(path, line, problem)
        self.path = Path(path)
        self.line = line
        self.problem = problem

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else str(self.path)
        return f"{where}: {self.problem}"


# --- Reading ------------------------------------------------------------------

# Settings of each table, with the Python type TOML must give them.
_TOP_LEVEL: dict[str, type] = {
    "language": str,
    "operator": str,
    "operator_name": str,
    "ui": dict,
    "log": dict,
    "keymap": dict,
    "channels": dict,
    "team": dict,
    "alerts": dict,
    "reply_keys": dict,
    "menus": dict,
    "sla": dict,
    "transcripts": dict,
    "webhooks": dict,
    "store": dict,
    "api": dict,
}
_UI: dict[str, type] = {
    "mouse": bool,
    "wait_amber": int,
    "wait_red": int,
    "wait_alert": int,
    "display_cap": int,
}
_LOG: dict[str, type] = {"level": str}
_TEAM: dict[str, type] = {"max_open": int, "auto_assign": bool}
_ALERTS: dict[str, type] = {"new_dialog": str, "new_message": str, "red_wait": str}
_MENU: dict[str, type] = {"text": str, "options": list, "handoff": str}
_TRANSCRIPTS: dict[str, type] = {"channel": str, "on_resolve": bool}
_STORE: dict[str, type] = {"url": str}
DATABASE_SCHEMES = ("postgresql://", "postgres://")
_API: dict[str, type] = {"listen": str, "cors": list, "rate": int, "max_body": int}
_WEBHOOK: dict[str, type] = {"url": str, "secret": str, "secret_env": str, "events": list}
_SLA_TARGETS = ("first_response", "next_response", "resolution")
_SLA: dict[str, type] = {**dict.fromkeys((*_SLA_TARGETS, "warn_before"), object),
                         "working_hours": bool, "channels": dict, "labels": dict}
_MENU_OPTION: dict[str, type] = {"label": str, "reply": str, "operator": bool}
AUTO_OPTIONS = tuple(COMMON_OPTIONS.names)  # the automatic answers, in any kind's table

ENVIRONMENT_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# Every binding the operator may remap in [keymap] (the `id` of each Binding in the app,
# its screens and widgets). A test keeps this list equal to the app's bindings, so the
# config is checked without importing the UI.
BINDING_IDS = (
    "opchat.assign", "opchat.assign_me", "opchat.attach_file", "opchat.commands",
    "opchat.composer.complete", "opchat.composer.leave", "opchat.composer.newline",
    "opchat.composer.previous_variable", "opchat.composer.send", "opchat.composer.word_left",
    "opchat.confirm.no", "opchat.confirm.yes", "opchat.contact.close", "opchat.contact.merge",
    "opchat.contact.notes", "opchat.contact_panel", "opchat.cycle_view",
    "opchat.dismiss_failure", "opchat.escape_to_list", "opchat.filter_label",
    "opchat.focus_composer", "opchat.focus_list", "opchat.focus_thread", "opchat.help",
    "opchat.help.close", "opchat.help_question", "opchat.hide_conversation", "opchat.labels",
    "opchat.list.down", "opchat.list.first", "opchat.list.last", "opchat.list.open",
    "opchat.list.page_down", "opchat.list.page_up", "opchat.list.up",
    "opchat.longest_waiting", "opchat.manage_replies", "opchat.next_conversation",
    "opchat.next_unread", "opchat.note_mode", "opchat.notes.cancel", "opchat.notes.save",
    "opchat.pending", "opchat.pick.cancel", "opchat.pick.down", "opchat.pick.up",
    "opchat.previous_conversation", "opchat.quick_replies", "opchat.quit", "opchat.reopen",
    "opchat.replies.add", "opchat.replies.cancel", "opchat.replies.close",
    "opchat.replies.delete", "opchat.replies.edit", "opchat.replies.save", "opchat.resolve",
    "opchat.search", "opchat.search.close", "opchat.search.next", "opchat.search.open",
    "opchat.search.page_down", "opchat.search.page_up", "opchat.search.previous",
    "opchat.snooze", "opchat.stats", "opchat.stats.close", "opchat.stats.month",
    "opchat.stats.range", "opchat.stats.today", "opchat.stats.week",
    "opchat.stats.working_hours", "opchat.stats.yesterday",
    "opchat.template", "opchat.transcript", "opchat.thread.copy", "opchat.thread.file",
    "opchat.thread.first",
    "opchat.thread.hide", "opchat.thread.last", "opchat.thread.next", "opchat.thread.open",
    "opchat.thread.page_down", "opchat.thread.page_up", "opchat.thread.previous",
    "opchat.thread.retry", "opchat.thread.unfold",
)
KEY_MODIFIERS = ("shift", "ctrl", "alt", "meta", "super", "hyper")
ALERT_WAYS = ("off", "bell", "desktop", "both")
_KNOWN_KEYS = [*_TOP_LEVEL, *(f"ui.{key}" for key in _UI), *(f"log.{key}" for key in _LOG),
               *(f"api.{key}" for key in _API),
               *(f"team.{key}" for key in _TEAM), *(f"alerts.{key}" for key in _ALERTS)]

def _type_words(kind: type) -> str:
    if kind is bool:
        return _("true or false")
    if kind is int:
        return _("a whole number")
    if kind is str:
        return _("a string in quotes")
    if kind is list:
        return _("a list in brackets")
    return _("a table")

# The patterns used only on a mistake (and when a file is written) are compiled then, not
# at every start: `re` keeps what it compiled.
_TOML_POSITION = r"\s*\((?:at line (\d+), column \d+|(at end of document))\)$"


def load_settings(config_path: Path, data_dir: Path, must_exist: bool = False) -> Settings:
    """Read the config file into `Settings`; a missing file means all defaults.

    `must_exist`: the file was named by the operator (--config, OPCHAT_CONFIG), so a
    missing one is a typo to report, not a fresh install.
    """
    text = _read_text(config_path)
    if text is None:
        if must_exist:
            raise ConfigError(config_path, None,
                              _("no such file (check --config or OPCHAT_CONFIG)"))
        return Settings(config_path=config_path, data_dir=data_dir)
    document = _parse(config_path, text)
    return _Reader(config_path, text).settings(document, data_dir)


def check_channel(channel: ChannelSettings, settings: Settings) -> None:
    """ConfigError (with no line: the table is not written yet) if ``channel`` would
    not pass when the config is loaded: its kind's declared options and its automatic
    answers, as `load_settings` checks them (against the menus of ``settings``). For
    `opchat channel add`, before it writes the table."""
    reader = _Reader(settings.config_path, "")
    checked = reader.channel(channel.name, {"kind": channel.kind, **channel.options})
    reader.auto_answers(checked, settings)
    others = [c for c in settings.channels if c.name != channel.name]
    reader.mail_relays(replace(settings, channels=[*others, checked]))


def _read_text(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise ConfigError(path, None, _("is a directory, not a config file")) from None
    except PermissionError:
        raise ConfigError(path, None, _("cannot read the file: permission denied")) from None
    except OSError as error:
        raise ConfigError(path, None, _("cannot read the file: {error}",
                                         error=error.strerror)) from None
    try:
        # utf-8-sig: editors on Windows like to start the file with a BOM.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        # Offsets are into the bytes the decoder saw (after any BOM).
        raw = error.object
        line = raw.count(b"\n", 0, error.start) + 1
        problem = _("not UTF-8 text (byte 0x{byte:02x}); save the file as UTF-8",
                    byte=raw[error.start])
        raise ConfigError(path, line, problem) from None


def _parse(path: Path, text: str) -> dict[str, Any]:
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # Python 3.11's error carries its position only inside the message.
        message = str(error)
        position = re.search(_TOML_POSITION, message)
        line: int | None = None
        if position:
            message = message[: position.start()]
            if position.group(1):
                line = int(position.group(1))
            else:
                line = text.count("\n") + (0 if text.endswith("\n") else 1)
        raise ConfigError(path, line, _toml_problem(message)) from None


# What Python 3.11's TOML parser says, in the operator's language. A message not
# listed here (a newer Python's) is shown as the parser wrote it.
_TOML_MESSAGES: tuple[tuple[str, str], ...] = (
    (r"Cannot declare (.+) twice", "cannot declare {what} twice"),
    (r"Cannot mutate immutable namespace (.+)",
     "cannot add to {what}: it was given whole already"),
    (r"Cannot overwrite a value", "cannot overwrite a value"),
    (r"Cannot redefine namespace (.+)", "cannot redefine the table {what}"),
    (r"Duplicate inline table key (.+)", "the key {what} appears twice in an inline table"),
    (r"Escaped character is not a Unicode scalar value",
     "an escaped character is not a Unicode character"),
    (r"Expected '=' after a key in a key/value pair",
     "expected '=' after a key (key = value)"),
    (r"Expected '\]' at the end of a table declaration",
     "expected ']' at the end of a table's name"),
    (r"Expected '\]\]' at the end of an array declaration",
     "expected ']]' at the end of an array of tables' name"),
    (r"Expected newline or end of document after a statement",
     "expected a new line after a statement"),
    (r"Found invalid character (.+)", "invalid character {what}"),
    (r"Illegal character (.+)", "illegal character {what}"),
    (r"Invalid date or datetime", "invalid date or time"),
    (r"Invalid hex value", "invalid hexadecimal value"),
    (r"Invalid initial character for a key part", "invalid first character of a key"),
    (r"Invalid statement", "invalid statement"),
    (r"Invalid value", "invalid value (is it text without quotes?)"),
    (r"Unclosed array", "unclosed array (a ']' is missing)"),
    (r"Unclosed inline table", "unclosed inline table (a closing brace is missing)"),
    (r"Unescaped '\\' in a string", "unescaped '\\' in a string (write '\\\\')"),
    (r"Unterminated string", "unterminated string (a closing quote is missing)"),
)


def _toml_problem(message: str) -> str:
    for pattern, text in _TOML_MESSAGES:
        found = re.fullmatch(pattern, message.strip())
        if found:
            return _(text, what=found.group(1)) if found.groups() else _(text)
    return message[:1].lower() + message[1:]


class _Reader:
    """Turns a parsed document into Settings, blaming the right line for each problem."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text

    def settings(self, document: dict[str, Any], data_dir: Path) -> Settings:
        self.check_keys(document, (), _TOP_LEVEL)
        settings = Settings(config_path=self.path, data_dir=data_dir)
        if "language" in document:
            settings.language = self.language(document["language"])
        if "operator" in document:
            settings.operator = self.typed(("operator",), document["operator"], str)
        if "operator_name" in document:
            settings.operator_name = self.typed(("operator_name",), document["operator_name"],
                                                str).strip()
        ui = self.table(document, "ui", _UI)
        if "mouse" in ui:
            settings.mouse = ui["mouse"]
        for key in ("wait_amber", "wait_red", "wait_alert", "display_cap"):
            if key in ui:
                setattr(settings, key, self.positive(("ui", key), ui[key]))
        if settings.wait_red < settings.wait_amber:
            blamed = "wait_red" if "wait_red" in ui else "wait_amber"
            raise self.error(("ui", blamed), _(
                "ui.wait_red ({red}) is below ui.wait_amber ({amber}): a waiting customer's "
                "row would turn red before amber", red=settings.wait_red,
                amber=settings.wait_amber))
        team = self.table(document, "team", _TEAM)
        if "max_open" in team:
            settings.max_open = self.positive(("team", "max_open"), team["max_open"])
        if "auto_assign" in team:
            settings.auto_assign = team["auto_assign"]
        alerts = self.table(document, "alerts", _ALERTS)
        for key, value in alerts.items():
            if value not in ALERT_WAYS:
                ways = ", ".join(f'"{way}"' for way in ALERT_WAYS)
                raise self.error(("alerts", key), _(
                    "{setting} must be one of {ways}, not {value}", setting=f"alerts.{key}",
                    ways=ways, value=_describe(value)))
            setattr(settings, f"alert_{key}", value)
        log = self.table(document, "log", _LOG)
        if "level" in log:
            settings.log_level = self.log_level(log["level"])
        keymap = self.typed(("keymap",), document.get("keymap", {}), dict)
        settings.keymap = self.keymap((), keymap)
        reply_keys = self.typed(("reply_keys",), document.get("reply_keys", {}), dict)
        settings.reply_keys = self.reply_keys(reply_keys)
        menus = self.typed(("menus",), document.get("menus", {}), dict)
        settings.menus = {name: self.menu(name, table) for name, table in menus.items()}
        channels = self.typed(("channels",), document.get("channels", {}), dict)
        settings.channels = [self.channel(name, table) for name, table in channels.items()]
        for channel in settings.channels:
            channel.auto = self.auto_answers(channel, settings)
        self.mail_relays(settings)
        if "sla" in document:
            settings.sla = self.sla(self.typed(("sla",), document["sla"], dict), settings)
        if "transcripts" in document:
            settings.transcripts = self.transcripts(self.table(document, "transcripts",
                                                               _TRANSCRIPTS), settings)
        webhooks = self.typed(("webhooks",), document.get("webhooks", {}), dict)
        settings.webhooks = [self.webhook(name, table) for name, table in webhooks.items()]
        store = self.table(document, "store", _STORE)
        if "url" in store:
            url = store["url"].strip()
            if not url.startswith(DATABASE_SCHEMES):
                raise self.error(("store", "url"), _(
                    "store.url must be a PostgreSQL address (postgresql://user@host/database), "
                    "not {value}; leave it out to keep the SQLite file in the data dir",
                    value=_describe(redacted_url(url))))
            settings.database_url = url
        if "api" in document:
            settings.api = self.api(self.table(document, "api", _API))
        return settings

    def api(self, table: dict[str, Any]) -> ApiSettings | None:
        """`[api]`: where the HTTP API listens, which origins may call it, its limits.
        A table without ``listen`` leaves the API off."""
        if "listen" not in table:
            return None
        listen = table["listen"]
        try:
            parse_listen(listen)
        except ValueError:
            raise self.error(("api", "listen"), _(
                "api.listen must be host:port, e.g. \"127.0.0.1:8790\", not {value}",
                value=_describe(listen))) from None
        cors = tuple(table.get("cors", ()))
        for origin in cors:
            if not isinstance(origin, str) or not (origin == "*" or _is_url(origin)):
                raise self.error(("api", "cors"), _(
                    "api.cors must list origins such as \"https://crm.example.com\" (or "
                    "\"*\"), not {value}", value=_describe(origin)))
        settings = ApiSettings(listen, tuple(o.rstrip("/") for o in cors))
        for key in ("rate", "max_body"):
            if key in table:
                setattr(settings, key, self.positive(("api", key), table[key]))
        return settings

    def webhook(self, name: str, table: Any) -> WebhookSettings:
        """`[webhooks.NAME]`: an address, its secret and the events it wants."""
        where = ("webhooks", name)
        if not CHANNEL_NAME.fullmatch(name):
            raise self.error(where, _channel_name_problem(name))
        table = self.typed(where, table, dict)
        self.check_keys(table, where, _WEBHOOK)
        url = table.get("url")
        if url is None:
            raise self.error(where, _("[webhooks.{name}] needs url = \"https://...\", the "
                                      "address events are sent to", name=name))
        if not _is_url(url):
            raise self.error((*where, "url"), _(
                "webhooks.{name}.url must be an http:// or https:// address, not {value}",
                name=name, value=_describe(url)))
        secret, variable = table.get("secret") or "", table.get("secret_env") or ""
        if variable and not ENVIRONMENT_VARIABLE.fullmatch(variable):
            raise self.error((*where, "secret_env"), _(
                "webhooks.{name}.secret_env must name an environment variable, not "
                "{value}", name=name, value=_describe(variable)))
        if not secret and not variable:
            raise self.error(where, _(
                "[webhooks.{name}] needs secret = \"...\" (or secret_env = \"VARIABLE\"): "
                "deliveries are signed with it", name=name))
        events = WEBHOOK_EVENTS
        if "events" in table:
            events = tuple(table["events"])
            for event in events:
                if event not in WEBHOOK_EVENTS:
                    raise self.error((*where, "events"), _(
                        "webhooks.{name}.events: unknown event {value} (events: {known})",
                        name=name, value=_describe(event), known=", ".join(WEBHOOK_EVENTS)))
            if not events:
                raise self.error((*where, "events"), _(
                    "webhooks.{name}.events is empty: leave it out to get every event",
                    name=name))
        return WebhookSettings(name, url, secret, variable, events)

    def mail_relays(self, settings: Settings) -> None:
        """A channel's `email_channel` (the web chat's answers by e-mail) names an email
        channel."""
        emails = [c.name for c in settings.channels if c.kind == "email"]
        for channel in settings.channels:
            name = channel.options.get("email_channel")
            if name is not None and name not in emails:
                raise self.error(("channels", channel.name, "email_channel"), _(
                    "channels.{channel}.email_channel: {name} is not an email channel "
                    "(email channels: {known})", channel=channel.name,
                    name=_describe(name), known=", ".join(emails) or _("none")))

    def transcripts(self, table: dict[str, Any], settings: Settings) -> TranscriptSettings:
        """`[transcripts]`: which email channel sends them, and whether on resolve."""
        emails = [c.name for c in settings.channels if c.kind == "email"]
        name = table.get("channel")
        if name is None:
            raise self.error(("transcripts",), _(
                "[transcripts] needs channel = \"NAME\", an email channel to send them "
                "through (email channels: {known})", known=", ".join(emails) or _("none")))
        if name not in emails:
            raise self.error(("transcripts", "channel"), _(
                "transcripts.channel: {name} is not an email channel (email channels: "
                "{known})", name=_describe(name), known=", ".join(emails) or _("none")))
        return TranscriptSettings(name, table.get("on_resolve", False))

    def sla(self, table: dict[str, Any], settings: Settings) -> Any:
        """`[sla]`: targets by default, per channel and per label (see opchat/sla.py)."""
        from opchat.sla import Sla, Targets

        self.check_keys(table, ("sla",), _SLA)
        names = [c.name for c in settings.channels]
        channels: dict[str, Targets] = {}
        for name, targets in self.typed(("sla", "channels"), table.get("channels", {}),
                                        dict).items():
            where = ("sla", "channels", name)
            if name not in names:
                raise self.error(where, _(
                    "sla.channels.{name}: there is no channel {name} (channels: {known})",
                    name=name, known=", ".join(names) or _("none")))
            channels[name] = self.sla_targets(where, self.typed(where, targets, dict))
        labels = {name: self.sla_targets(("sla", "labels", name),
                                         self.typed(("sla", "labels", name), targets, dict))
                  for name, targets in self.typed(("sla", "labels"), table.get("labels", {}),
                                                  dict).items()}
        default = self.sla_targets(("sla",), {k: v for k, v in table.items()
                                              if k in _SLA_TARGETS})
        warn = (self.sla_duration(("sla", "warn_before"), table["warn_before"])
                if "warn_before" in table else None)
        return Sla(default, channels, labels, warn, table.get("working_hours", False))

    def sla_targets(self, where: tuple[str, ...], table: dict[str, Any]) -> Any:
        from opchat.sla import Targets

        for key in table:
            if key not in _SLA_TARGETS:
                raise self.error((*where, key), _unknown_key_problem((*where, key)))
        return Targets(**{key: self.sla_duration((*where, key), value)
                          for key, value in table.items()})

    def sla_duration(self, where: tuple[str, ...], value: Any) -> float:
        from opchat.sla import parse_duration

        try:
            return parse_duration(value)
        except ValueError:
            raise self.error(where, _(
                "{setting} must be a duration like \"90s\", \"5m\", \"1h30m\" or \"2d\", "
                "not {value}", setting=".".join(where), value=_describe(value))) from None

    def keymap(self, prefix: tuple[str, ...], table: dict[str, Any]) -> dict[str, str]:
        """Binding ids to keys; an unquoted id (opchat.quit = "f10") arrives as nested tables."""
        flat: dict[str, str] = {}
        for key, value in table.items():
            where = (*prefix, key)
            if isinstance(value, dict):
                flat.update(self.keymap(where, value))
            else:
                flat[".".join(where)] = self.keys(("keymap", *where), value)
        return flat

    def keys(self, where: tuple[str, ...], value: Any) -> str:
        """One [keymap] entry: a binding the app has, on keys a terminal can send."""
        binding = ".".join(where[1:])
        if binding not in BINDING_IDS:
            problem = _('keymap: no binding "{binding}"', binding=binding)
            guess = _close_matches(binding, BINDING_IDS, n=1)
            if not guess and not binding.startswith("opchat."):
                guess = _close_matches(f"opchat.{binding}", BINDING_IDS, n=1)
            if guess:
                problem += " " + _('(did you mean "{guess}"?)', guess=guess[0])
            else:
                problem += " " + _("(the binding ids are in the help screen, F1)")
            raise self.error(where, problem)
        value = self.typed(where, value, str)
        keys = [key.strip() for key in value.split(",")]
        for key in keys:
            if not _is_key(key):
                raise self.error(where, _(
                    '{setting}: {key} is not a key (like "f10", "ctrl+q", "alt+shift+down", '
                    '"question_mark")', setting=".".join(where), key=_describe(key)))
        return ",".join(keys)

    def reply_keys(self, table: dict[str, Any]) -> dict[str, str]:
        keys = {}
        for shortcut, value in table.items():
            where = ("reply_keys", shortcut)
            if not re.fullmatch(r"[\w.-]{1,40}", shortcut):
                raise self.error(where, _(
                    "reply_keys: {value} is not a quick reply's shortcut "
                    "(letters, digits, '.', '_', '-')", value=_describe(shortcut)))
            value = self.typed(where, value, str)
            if not value.strip() or any(not key.strip() for key in value.split(",")):
                raise self.error(where, _('reply_keys.{shortcut} must name keys, '
                                          'like "f5" or "alt+d,f5"', shortcut=shortcut))
            keys[shortcut] = value.replace(" ", "")
        return keys

    def menu(self, name: str, table: Any) -> Menu:
        where = ("menus", name)
        table = self.typed(where, table, dict)
        self.check_keys(table, where, _MENU)
        if not table.get("text", "").strip():
            raise self.error(where, _('menu "{name}" needs a text above its options '
                                      '(text = "Choose a topic:")', name=name))
        options = []
        for n, item in enumerate(table.get("options", []), 1):
            at = (*where, "options")
            if not isinstance(item, dict):
                raise self.error(at, _("menus.{name}.options #{n} must be a table "
                                       '(like {{ label = "Delivery", reply = "delivery" }})',
                                       name=name, n=n))
            for key, value in item.items():
                if key not in _MENU_OPTION:
                    raise self.error(at, _('menus.{name}.options #{n}: unknown setting '
                                           '"{key}" (label, reply, operator)',
                                           name=name, n=n, key=key))
                self.typed((*at, key), value, _MENU_OPTION[key])
            label = item.get("label", "").strip()
            if not label:
                raise self.error(at, _("menus.{name}.options #{n} needs a label",
                                       name=name, n=n))
            reply, operator = item.get("reply"), item.get("operator", False)
            if (reply is None) == (not operator):
                raise self.error(at, _('menus.{name}.options #{n} needs either reply = '
                                       '"SHORTCUT" or operator = true', name=name, n=n))
            if reply is not None and not re.fullmatch(r"[\w.-]{1,40}", reply):
                raise self.error(at, _("menus.{name}.options #{n}: {value} is not a "
                                       "quick reply's shortcut",
                                       name=name, n=n, value=_describe(reply)))
            options.append(MenuOption(label, reply, bool(operator)))
        if not options or len(options) > 9:
            raise self.error(where, _('menu "{name}" needs 1 to 9 options (numbered 1-9)',
                                      name=name))
        return Menu(name, table["text"].strip(), options, table.get("handoff"), self.path,
                    _line_of(self.text, (*where, "options")))

    def auto_answers(self, channel: ChannelSettings, settings: Settings) -> AutoAnswers | None:
        """A channel's automatic answers, checked now: a typo must not wait for the night."""
        options = channel.options
        where = ("channels", channel.name)
        if not any(key in options for key in AUTO_OPTIONS if key not in ("timezone",
                                                                         "language")):
            if "timezone" in options:  # alone (the web chat's offline form reads it): a typo
                from opchat.hours import timezone  # should not wait for the hours

                where_zone = (*where, "timezone")
                try:
                    timezone(self.typed(where_zone, options["timezone"], str))
                except ValueError as exc:
                    raise self.error(where_zone, f"{'.'.join(where_zone)}: {exc}") from None
            return None
        for key in ("hours", "timezone", "away_message", "greeting_message", "menu",
                    "language", "rating_question"):
            if key in options:
                self.typed((*where, key), options[key], str)
        if "rating" in options:
            self.typed((*where, "rating"), options["rating"], bool)
        auto = AutoAnswers(language=options.get("language") or settings.language or "en")
        if normalize_language(auto.language) is None:
            raise self.error((*where, "language"), _(
                "unknown language {value} (opchat speaks {known})",
                value=_describe(auto.language), known='"en", "ru"'))
        auto.language = normalize_language(auto.language) or "en"
        if options.get("hours"):
            from opchat.hours import WorkingHours, timezone

            if not options.get("timezone"):
                raise self.error((*where, "hours"), _(
                    'channels.{name}.hours needs timezone too, e.g. timezone = '
                    '"Europe/Moscow"', name=channel.name))
            where_zone, where_hours = (*where, "timezone"), (*where, "hours")
            try:  # the zone first: the hours are read in it
                timezone(options["timezone"])
            except ValueError as exc:
                raise self.error(where_zone, f"{'.'.join(where_zone)}: {exc}") from None
            try:
                auto.hours = WorkingHours.parse(options["hours"], options["timezone"])
            except ValueError as exc:
                raise self.error(where_hours, f"{'.'.join(where_hours)}: {exc}") from None
        if "away_message" in options:
            auto.away_message = options["away_message"]
        auto.greeting_message = options.get("greeting_message", "")
        auto.rating = bool(options.get("rating", False))
        auto.rating_question = options.get("rating_question") or None
        if options.get("menu"):
            menu = settings.menus.get(options["menu"])
            if menu is None:
                known = ", ".join(settings.menus) or _("none")
                raise self.error((*where, "menu"), _(
                    "channels.{name}.menu: no [menus.{menu}] table (menus: {known})",
                    name=channel.name, menu=options["menu"], known=known))
            auto.menu = menu
        return auto

    def error(self, where: tuple[str, ...], problem: str) -> ConfigError:
        return ConfigError(self.path, _line_of(self.text, where), problem)

    def typed(self, where: tuple[str, ...], value: Any, kind: type) -> Any:
        # bool is an int in Python, but `wait_red = true` is still a mistake.
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return value
        name = ".".join(where)
        raise self.error(where, _("{setting} must be {kind}, not {value}", setting=name,
                                  kind=_type_words(kind), value=_describe(value)))

    def check_keys(
        self, table: dict[str, Any], where: tuple[str, ...], schema: dict[str, type]
    ) -> None:
        for key, value in table.items():
            if key not in schema:
                raise self.error((*where, key), _unknown_key_problem((*where, key)))
            self.typed((*where, key), value, schema[key])

    def table(self, document: dict[str, Any], name: str, schema: dict[str, type]) -> dict[str, Any]:
        table = document.get(name, {})
        self.check_keys(table, (name,), schema)
        return table

    def positive(self, where: tuple[str, ...], value: int) -> int:
        if value <= 0:
            raise self.error(where, _("{setting} must be more than 0, not {value}",
                                      setting=".".join(where), value=value))
        return value

    def language(self, value: Any) -> str:
        value = self.typed(("language",), value, str)
        code = normalize_language(value)
        if code is None:
            known = ", ".join(f'"{code}"' for code in SUPPORTED_LANGUAGES)
            raise self.error(("language",), _(
                "unknown language {value} (opchat speaks {known})", value=_describe(value),
                known=known))
        return code

    def log_level(self, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            levels = ", ".join(LOG_LEVELS)
            raise self.error(("log", "level"), _(
                "{setting} must be one of {ways}, not {value}", setting="log.level",
                ways=levels, value=_describe(value)))
        return value.upper()

    def channel(self, name: str, table: Any) -> ChannelSettings:
        where = ("channels", name)
        if not CHANNEL_NAME.fullmatch(name):
            raise self.error(where, _channel_name_problem(name))
        table = self.typed(where, table, dict)
        if "kind" not in table:
            raise self.error(where, _('channel "{name}" has no kind (for example kind = '
                                      '"telegram")', name=name))
        kind = self.typed((*where, "kind"), table["kind"], str)
        # opchat's own kinds are known without scanning the installed packages (slow).
        installed = [] if kind in BUILT_IN_OPTIONS else available_kinds()
        if kind not in BUILT_IN_OPTIONS and kind not in installed:
            problem = _("channels.{name}.kind: unknown kind '{kind}' (installed: {kinds})",
                        name=name, kind=kind, kinds=", ".join(installed))
            guess = _close_matches(kind, installed, n=1)
            if guess:
                problem += " " + _('(did you mean "{guess}"?)', guess=guess[0])
            raise self.error((*where, "kind"), problem)
        options = {key: value for key, value in table.items() if key != "kind"}
        declared = channel_options(kind)
        for key, value in options.items():
            at = (*where, key)
            if declared is None:  # a plugin's kind without declarations: what all share
                if key.endswith("_env"):  # names the variable that holds the secret
                    self.variable(at, value)
                continue
            if key in AUTO_OPTIONS:
                continue  # checked with the automatic answers
            option = declared.get(key)
            if option is None:
                allowed = [*declared.names, *AUTO_OPTIONS]
                problem = _('unknown setting "{setting}" for a {kind} channel',
                            setting=".".join(at), kind=kind)
                guess = _close_matches(key, allowed, n=1)
                if guess:
                    problem += " " + _('(did you mean "{guess}"?)', guess=guess[0])
                else:
                    problem += " " + _("(it takes: {keys})", keys=", ".join(allowed))
                raise self.error(at, problem)
            self.option(at, option, value)
        for option in declared.options if declared is not None else ():
            setting, variable = f"{'.'.join(where)}.{option.name}", f"{option.name}_env"
            if option.secret and option.name in options and variable in options:
                raise self.error((*where, variable), _(
                    "{setting}: give the secret or the variable that holds it, not both",
                    setting=setting))
            if option.required and not options.get(option.name) and not (
                    option.secret and options.get(variable)):
                if option.secret:
                    setting = _("{secret} (or {variable})", secret=setting,
                                variable=f"{'.'.join(where)}.{variable}")
                raise self.error(where, _("{setting} is missing: {what}", setting=setting,
                                          what=_(option.help)))
        if declared is not None and declared.check is not None:
            try:
                declared.check(options, ".".join(where))
            except OptionProblem as problem:
                raise self.error((*where, *problem.at), problem.problem) from None
        return ChannelSettings(name=name, kind=kind, options=options)

    def option(self, where: tuple[str, ...], option: Option, value: Any) -> None:
        """One channel option's value, as strictly as `opchat channel add` checks it: its
        kind here, then what the channel's own declaration checks."""
        setting = ".".join(where)
        kind = option.kind
        if kind == "text":
            self.typed(where, value, str)
        elif kind == "flag":
            self.typed(where, value, bool)
        elif kind in ("count", "seconds"):
            least = 1 if kind == "seconds" else 0
            if self.typed(where, value, int) < least:
                raise self.error(where, _("{setting} must be at least {least}, not {value}",
                                          setting=setting, least=least, value=value))
        elif kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise self.error(where, _("{setting} must be a number above 0, not {value}",
                                          setting=setting, value=_describe(value)))
        elif kind == "variable":
            self.variable(where, value)
        elif kind == "listen":
            try:
                parse_listen(self.typed(where, value, str))
            except ValueError:
                raise self.error(where, _(
                    '{setting}: {value} is not host:port (like "127.0.0.1:8765")',
                    setting=setting, value=_describe(value))) from None
        elif kind == "url":
            if not _is_url(self.typed(where, value, str)):
                raise self.error(where, _("{setting}: {value} is not like https://host/path",
                                          setting=setting, value=_describe(value)))
        elif kind == "list":
            self.typed(where, value, list)
        elif kind == "table":
            self.typed(where, value, dict)
        if option.check is not None:
            try:
                option.check(value, setting)
            except OptionProblem as problem:
                raise self.error((*where, *problem.at), problem.problem) from None

    def variable(self, where: tuple[str, ...], value: Any) -> None:
        if not ENVIRONMENT_VARIABLE.fullmatch(self.typed(where, value, str)):
            raise self.error(where, _("{setting}: {value} is not an environment variable name",
                                      setting=".".join(where), value=_describe(value)))


def expect(value: Any, kind: type, setting: str, at: tuple[str, ...] = ()) -> Any:
    """``value`` if it has the TOML type ``kind``; else OptionProblem saying what it must
    be (for a channel option's own checks: see `opchat.transports.Option`)."""
    from opchat.transports import OptionProblem

    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise OptionProblem(_("{setting} must be {kind}, not {value}", setting=setting,
                          kind=_type_words(kind), value=_describe(value)), at)


def describe_value(value: Any) -> str:
    """A value as the config file would write it, for error messages."""
    return _describe(value)


def is_url(text: str) -> bool:
    """An http(s) address with a host, as `opchat channel add` takes it."""
    return _is_url(text)


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    try:
        return toml_value(value)
    except TypeError:
        return str(value)


def _unknown_key_problem(where: tuple[str, ...]) -> str:
    name = ".".join(where)
    problem = _('unknown setting "{setting}"', setting=name)
    # A known key in the wrong table ("mouse" at the top) or a small typo.
    guesses = [known for known in _KNOWN_KEYS if known.split(".")[-1] == where[-1]]
    guesses = guesses or _close_matches(name, _KNOWN_KEYS, n=1)
    if guesses:
        problem += " " + _('(did you mean "{guess}"?)', guess=guesses[0])
    return problem


def _is_key(key: str) -> bool:
    """Whether Textual can bind `key` ("ctrl+q", "f10", "question_mark", "a")."""
    *modifiers, base = key.split("+")
    if not base or len(set(modifiers)) < len(modifiers) or \
            any(modifier not in KEY_MODIFIERS for modifier in modifiers):
        return False
    if len(base) == 1:
        return base.isprintable() and not base.isspace()
    # Only a config with a [keymap] pays for this import (textual's package, ~0.1 s).
    from textual.keys import KEY_NAME_REPLACEMENTS, Keys, key_to_character

    names = {k.value.rpartition("+")[2] for k in Keys if not k.value.startswith("<")}
    return (base in names or base in KEY_NAME_REPLACEMENTS.values()
            or key_to_character(base) is not None)


def _is_url(text: str) -> bool:
    """An http(s) address with a host, as `opchat channel add` takes it."""
    from urllib.parse import urlsplit

    if any(ch.isspace() or not ch.isprintable() for ch in text):
        return False
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 -- raises on a port that is not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def missing_menu_replies(channels: Sequence[ChannelSettings],
                         shortcuts: set[str]) -> list[ConfigError]:
    """Options of the channels' menus whose reply is not among `shortcuts` (the store's
    shared quick replies).

    Replies live in the store, not the config, so this is checked where the store is at
    hand: when the hub starts (a warning in the log, and on stderr for `opchat serve`)
    and by `opchat doctor`. Until the reply exists, choosing the option hands the dialog
    to an operator.
    """
    menus = {channel.auto.menu.name: channel.auto.menu for channel in channels
             if channel.auto is not None and channel.auto.menu is not None}
    problems = []
    for name, menu in menus.items():
        for n, option in enumerate(menu.options, 1):
            if option.reply is not None and option.reply not in shortcuts:
                problems.append(ConfigError(
                    menu.path or "config", menu.line,
                    _('menus.{menu}.options #{n} answers with the quick reply "{reply}", which '
                      'does not exist (add it: opchat replies add {reply} --title … --body …)',
                      menu=name, n=n, reply=option.reply)))
    return problems


def secrets_in_file(settings: Settings) -> list[str]:
    """The settings ("channels.shop.token") that hold a secret in the file itself."""
    found = []
    for channel in settings.channels:
        for key, value in channel.options.items():
            if is_secret_option(channel.kind, key) and value not in (None, ""):
                found.append(f"channels.{channel.name}.{key}")
    return found


def _channel_name_problem(name: str) -> str:
    return _('channel name {name} may only use letters, digits, "_" and "-", at most 32 '
             "of them", name=_describe(name))


# --- Finding a key's line -------------------------------------------------------
# tomllib does not say where a key was, so scan the text for it: good enough
# for the files people write, and when it fails the error just has no line.

_KEY_PART_PATTERN = r'[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\''
_KEY_PATH_PATTERN = rf"(?:{_KEY_PART_PATTERN})(?:\s*\.\s*(?:{_KEY_PART_PATTERN}))*"
_HEADER_LINE = rf"\s*\[\[?\s*({_KEY_PATH_PATTERN})\s*\]\]?\s*(?:#.*)?$"
_KEY_LINE = rf"\s*({_KEY_PATH_PATTERN})\s*="


def _key_parts(key_path: str) -> tuple[str, ...]:
    return tuple(part.strip("\"'") for part in re.findall(_KEY_PART_PATTERN, key_path))


def _header_of(line: str) -> tuple[str, ...] | None:
    header = re.match(_HEADER_LINE, line)
    return _key_parts(header.group(1)) if header else None


def _line_of(text: str, where: tuple[str, ...]) -> int | None:
    """The 1-based line that first defines `where` (a key or a table), if found."""
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), 1):
        header = _header_of(line)
        if header is not None:
            table = header
            if table[: len(where)] == where:
                return number
            continue
        key = re.match(_KEY_LINE, line)
        if key and (table + _key_parts(key.group(1)))[: len(where)] == where:
            return number
    return None


# --- Writing ------------------------------------------------------------------


def toml_value(value: Any) -> str:
    """`value` (str, int, float, bool, list or dict of those) as TOML source."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return '"' + value.translate(_STRING_ESCAPES) + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{_toml_key(key)} = {toml_value(item)}" for key, item in value.items())
        return "{ " + ", ".join(pairs) + " }" if value else "{}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML: {value!r}")


def _toml_escapes() -> dict[int, str]:
    escapes = {code: f"\\u{code:04X}" for code in (*range(0x20), 0x7F)}
    escapes.update(
        {
            ord("\b"): "\\b",
            ord("\t"): "\\t",
            ord("\n"): "\\n",
            ord("\f"): "\\f",
            ord("\r"): "\\r",
            ord('"'): '\\"',
            ord("\\"): "\\\\",
        }
    )
    return escapes


_STRING_ESCAPES = _toml_escapes()
_BARE_KEY = r"[A-Za-z0-9_-]+"


def _toml_key(key: str) -> str:
    return key if re.fullmatch(_BARE_KEY, key) else toml_value(key)


def save_channel(config_path: Path, channel: ChannelSettings) -> None:
    """Add `[channels.NAME]` to the config file, or replace the one there.

    The rest of the file keeps its text and comments. The file (and its
    directory) are created if missing.
    """
    if not CHANNEL_NAME.fullmatch(channel.name):
        raise ConfigError(config_path, None, _channel_name_problem(channel.name))
    text = _read_text(config_path) or ""
    before = _parse(config_path, text)
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    blocks = _channel_blocks(lines, channel.name)
    table = _channel_table(channel, newline)
    if blocks:
        first_start, first_end = blocks[0]
        for start, end in reversed(blocks[1:]):
            del lines[start:end]
        lines[first_start:first_end] = [table]
    else:
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += newline
        if lines and lines[-1].strip():
            lines.append(newline)
        lines.append(table)
    new_text = "".join(lines)
    # What the table means once parsed (a tuple option comes back a list).
    import tomllib

    wanted = tomllib.loads(table)["channels"][channel.name]
    _check_edit(config_path, before, new_text, channel.name, wanted)
    _write_private(config_path, new_text)


def save_operator_name(config_path: Path, name: str) -> None:
    """Set the top-level `operator_name`, keeping the rest of the file's text.

    Replaced where it is, or added before the first table (a key after a
    `[table]` header would belong to that table).
    """
    text = _read_text(config_path) or ""
    before = _parse(config_path, text)
    newline = "\r\n" if "\r\n" in text else "\n"
    line = f"operator_name = {toml_value(name)}{newline}"
    lines = text.splitlines(keepends=True)
    first_table = next((n for n, row in enumerate(lines) if _header_of(row) is not None),
                       len(lines))
    existing = next((n for n, row in enumerate(lines[:first_table])
                     if (key := re.match(_KEY_LINE, row)) and _key_parts(key.group(1))
                     == ("operator_name",)), None)
    if existing is not None:
        lines[existing] = line
    else:
        if first_table == len(lines) and lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += newline
        lines.insert(first_table, line)
    new_text = "".join(lines)
    import tomllib

    try:
        after = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError:
        after = None
    if after != {**before, "operator_name": name}:
        raise ConfigError(config_path, _line_of(new_text, ("operator_name",)),
                          "cannot set operator_name here without changing other settings; "
                          "please edit the file by hand")
    _write_private(config_path, new_text)


def remove_channel(config_path: Path, name: str) -> bool:
    """Remove `[channels.NAME]` from the config file; False if it was not there."""
    text = _read_text(config_path)
    if text is None:
        return False
    before = _parse(config_path, text)
    if name not in before.get("channels", {}):
        return False
    lines = text.splitlines(keepends=True)
    for start, end in reversed(_channel_blocks(lines, name)):
        del lines[start:end]
        # Do not leave two blank lines where the table was.
        if (
            start < len(lines)
            and not lines[start].strip()
            and (start == 0 or not lines[start - 1].strip())
        ):
            del lines[start]
    new_text = "".join(lines)
    _check_edit(config_path, before, new_text, name, None)
    _write_private(config_path, new_text)
    return True


def _channel_blocks(lines: list[str], name: str) -> list[tuple[int, int]]:
    """Line ranges of `[channels.NAME]` and its sub-tables.

    Each range runs up to the next table header, less the comments and blank
    lines just above that header: those introduce the next table.
    """
    where = ("channels", name)
    blocks = []
    for start, line in enumerate(lines):
        header = _header_of(line)
        if header is None or header[:2] != where:
            continue
        end = start + 1
        while end < len(lines) and _header_of(lines[end]) is None:
            end += 1
        while end > start + 1 and (
            not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")
        ):
            end -= 1
        blocks.append((start, end))
    return blocks


def _writable_options(channel: ChannelSettings) -> dict[str, Any]:
    # TOML has no null; "kind" has its own field.
    return {
        key: value for key, value in channel.options.items() if value is not None and key != "kind"
    }


def _channel_table(channel: ChannelSettings, newline: str) -> str:
    lines = [f"[channels.{channel.name}]", f"kind = {toml_value(channel.kind)}"]
    lines += [
        f"{_toml_key(key)} = {toml_value(value)}"
        for key, value in _writable_options(channel).items()
    ]
    return newline.join(lines) + newline


def _check_edit(
    path: Path, before: dict[str, Any], new_text: str, name: str, wanted: dict[str, Any] | None
) -> None:
    """Refuse to write an edit that changes anything but the one channel.

    The text surgery above understands the usual layout only; a channel
    written as an inline table or with dotted keys elsewhere would break it.
    """
    import tomllib

    try:
        after = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError:
        after = None
    if (
        after is not None
        and after.get("channels", {}).get(name) == wanted
        and _without_channel(after, name) == _without_channel(before, name)
    ):
        return
    raise ConfigError(
        path,
        _line_of(new_text, ("channels", name)),
        f'cannot update channel "{name}" here without changing other '
        "settings; please edit the file by hand",
    )


def _without_channel(document: dict[str, Any], name: str) -> dict[str, Any]:
    channels = {key: value for key, value in document.get("channels", {}).items() if key != name}
    rest = {key: value for key, value in document.items() if key != "channels"}
    return {**rest, "channels": channels} if channels else rest


def _write_private(path: Path, text: str) -> None:
    """Replace the file's content atomically, leaving it readable by its owner only."""
    # Follow a symlink (dotfile managers use them) rather than replacing it.
    target = Path(os.path.realpath(path))
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.chmod(temporary, 0o600)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
    except OSError as error:
        raise ConfigError(path, None, f"cannot write the file: {error.strerror}") from None


def _close_matches(word: str, candidates: Sequence[str], n: int = 1) -> list[str]:
    import difflib

    return difflib.get_close_matches(word, candidates, n=n)
