"""The options of an email channel: what `[channels.NAME]` may hold.

Imported by the config in every process, so nothing here imports aioimaplib or
aiosmtplib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opchat.i18n import _
from opchat.transports import Option, OptionProblem, OptionSet

if TYPE_CHECKING:
    from opchat.config import ChannelSettings

SECURITY = ("tls", "starttls", "plain")
DEFAULT_PORTS = {("imap", "tls"): 993, ("imap", "starttls"): 143, ("imap", "plain"): 143,
                 ("smtp", "tls"): 465, ("smtp", "starttls"): 587, ("smtp", "plain"): 25}


def _security(value: Any, setting: str) -> None:
    if isinstance(value, str) and value.strip().lower() not in SECURITY:
        raise OptionProblem(_("{setting} must be tls, starttls or plain", setting=setting))


def _host(value: Any, setting: str) -> None:
    if isinstance(value, str) and (not value.strip() or "/" in value or " " in value.strip()):
        raise OptionProblem(_("{setting} must be a host name, like imap.example.com",
                              setting=setting))


def _port(value: Any, setting: str) -> None:
    if isinstance(value, int) and not 0 < value < 65536:
        raise OptionProblem(_("{setting} must be a port between 1 and 65535", setting=setting))


def _folders(value: Any, setting: str) -> None:
    if isinstance(value, list) and (not value or not all(
            isinstance(v, str) and v.strip() for v in value)):
        raise OptionProblem(_("{setting} must name at least one folder, e.g. INBOX",
                              setting=setting))


def _address(value: Any, setting: str) -> None:
    if isinstance(value, str) and value.strip() and "@" not in value:
        raise OptionProblem(_("{setting} must be an e-mail address", setting=setting))


def _added(channel: ChannelSettings) -> list[str]:
    return [_("check both servers with: opchat channel test {name}", name=channel.name)]


OPTIONS = OptionSet((
    Option("imap_host", "text", "the IMAP server that receives the mail", check=_host,
           required=True, metavar="HOST"),
    Option("imap_port", "count", "its port (default 993 for tls, 143 otherwise)",
           check=_port, metavar="PORT"),
    Option("imap_security", "text", "tls (default), starttls or plain (local test servers)",
           check=_security, metavar="MODE"),
    Option("smtp_host", "text", "the SMTP server that sends the replies", check=_host,
           required=True, metavar="HOST"),
    Option("smtp_port", "count", "its port (default 465 for tls, 587 for starttls)",
           check=_port, metavar="PORT"),
    Option("smtp_security", "text", "tls (default), starttls or plain (local test servers)",
           check=_security, metavar="MODE"),
    Option("user", "text", "the login on both servers (often the address)", required=True,
           metavar="LOGIN"),
    Option("password", "text", "the password (an app password where the provider asks)",
           secret=True, required=True),
    Option("password_env", "variable", "an environment variable that holds the password"),
    Option("address", "text", "the address replies come from (default: the login)",
           check=_address, metavar="ADDRESS"),
    Option("from_name", "text", "the name replies come from, e.g. the shop's", metavar="NAME"),
    Option("folders", "list", "the folders to watch (default: INBOX)", check=_folders,
           metavar="FOLDER"),
    Option("sent_folder", "text", "where copies of the replies are kept (default: the "
           "folder the server marks Sent; \"\" keeps none)", metavar="FOLDER"),
    Option("poll_interval", "seconds", "how often to look for mail where the server has "
           "no IDLE (default 60)"),
    Option("history_days", "count", "on the first start, take mail of this many days "
           "(default 7)", metavar="DAYS"),
    Option("max_size", "count", "bytes: a bigger message is kept without its files "
           "(default 50000000)", metavar="BYTES"),
), added=_added)
