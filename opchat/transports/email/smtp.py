"""Writing a reply as mail and handing it to the SMTP server through aiosmtplib.

The reply is text/plain with a simple HTML alternative, the files attached, our own
Message-ID (which tells which dialog a reply to it belongs to), In-Reply-To and
References to the customer's last message, and the dialog's subject, so the
customer's mail client threads it under their message.

A send is never repeated when the server may have taken it: once the message's data
has gone out, a broken connection or a timeout is :class:`Rejected` (saying it may have
been sent), not :class:`Retry`. Before that, a 4xx answer or a network failure is a
Retry, a 5xx answer a Rejected with the server's words; a recipient refused with 5.1.x
(no such mailbox or domain) marks the customer unreachable.
"""

from __future__ import annotations

import html
import mimetypes
import re
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

import aiosmtplib

from opchat.i18n import _
from opchat.model import Attachment
from opchat.transports import Rejected, Retry
from opchat.transports.email.imap import MailTrouble, connect_trouble

BAD_ADDRESS = re.compile(r"(?<![\d.])5\.1\.\d{1,3}(?![\d])")


def compose(*, sender: str, sender_name: str, recipient: str, subject: str, body: str,
            message_id: str, in_reply_to: str | None, references: Sequence[str],
            attachments: Sequence[Attachment] = (), automatic: bool = False) -> EmailMessage:
    """The reply as mail (``message_id`` and the references without <>)."""
    mail = EmailMessage()
    mail["From"] = formataddr((sender_name, sender)) if sender_name else sender
    mail["To"] = recipient
    mail["Subject"] = subject
    mail["Date"] = format_datetime(datetime.now(UTC))
    mail["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        mail["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        mail["References"] = " ".join(f"<{ref}>" for ref in references)
    if automatic:
        # RFC 3834: other robots (out-of-office replies) do not answer this one.
        mail["Auto-Submitted"] = "auto-replied"
        mail["X-Auto-Response-Suppress"] = "All"
    mail.set_content(body or "")
    mail.add_alternative(as_html(body or ""), subtype="html")
    for attachment in attachments:
        path = Path(attachment.local_path or "")
        if not attachment.local_path or not path.is_file():
            raise Rejected(_("cannot send {name}: the file is not there any more",
                             name=attachment.filename or path.name))
        mime = attachment.mime or mimetypes.guess_type(path.name)[0] \
            or "application/octet-stream"
        maintype, _slash, subtype = mime.partition("/")
        mail.add_attachment(path.read_bytes(), maintype=maintype or "application",
                            subtype=subtype or "octet-stream",
                            filename=attachment.filename or path.name)
    return mail


def as_html(text: str) -> str:
    """The reply as simple HTML: paragraphs and line breaks, links clickable."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    parts = []
    for paragraph in paragraphs:
        escaped = html.escape(paragraph)
        escaped = re.sub(r"(https?://[^\s<>&]+)", r'<a href="\1">\1</a>', escaped)
        parts.append("<p>" + escaped.replace("\n", "<br>\n") + "</p>")
    return ('<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n<body>\n'
            + "\n".join(parts) + "\n</body></html>\n")


class Smtp:
    """How to reach the SMTP server."""

    def __init__(self, host: str, port: int, security: str, user: str, password: str,
                 timeout: float) -> None:
        self.host = host
        self.port = port
        self.security = security
        self.user = user
        self.password = password
        self.timeout = timeout
        self.server = f"SMTP {host}:{port}"

    async def open(self) -> tuple[aiosmtplib.SMTP, bool]:
        """A connection, logged in where the server offers AUTH; (client, logged in).
        Raises :class:`MailTrouble`."""
        client = aiosmtplib.SMTP(
            hostname=self.host, port=self.port, timeout=self.timeout,
            use_tls=self.security == "tls", start_tls=self.security == "starttls",
            tls_context=ssl.create_default_context() if self.security != "plain" else None)
        try:
            await client.connect()
        except aiosmtplib.SMTPException as exc:
            cause = exc.__cause__ or exc.__context__
            trouble = connect_trouble(cause, self.server, self.timeout) if cause else None
            raise trouble or MailTrouble(f"{self.server}: {exc}") from exc
        except Exception as exc:
            trouble = connect_trouble(exc, self.server, self.timeout)
            if trouble is None:
                raise
            raise trouble from exc
        logged_in = False
        try:
            if not client.esmtp_extensions:  # after STARTTLS the server is asked again
                await client.ehlo()
        except aiosmtplib.SMTPException as exc:
            await _quit(client)
            raise MailTrouble(f"{self.server}: {exc}") from exc
        if self.password and client.supports_extension("auth"):
            try:
                await client.login(self.user, self.password)
            except aiosmtplib.SMTPAuthenticationError as exc:
                await _quit(client)
                raise MailTrouble(_("{server} refused the login for {user}: {words}",
                                    server=self.server, user=self.user,
                                    words=f"{exc.code} {exc.message}"),
                                  permanent=True) from exc
            except aiosmtplib.SMTPException as exc:
                await _quit(client)
                raise MailTrouble(f"{self.server}: {exc}") from exc
            logged_in = True
        return client, logged_in

    async def send(self, mail: EmailMessage, sender: str, recipient: str) -> None:
        """Hand ``mail`` over; :class:`Retry` or :class:`Rejected` saying why not."""
        try:
            client, _logged_in = await self.open()
        except MailTrouble as exc:
            raise Retry(exc.reason, after=60.0 if exc.permanent else None) from exc
        try:
            try:
                await client.mail(sender)
                await client.rcpt(recipient)
            except aiosmtplib.SMTPResponseException as exc:
                # Nothing was taken yet: a 4xx may work later, a 5xx never will.
                words = f"{exc.code} {exc.message}"
                if 400 <= exc.code < 500:
                    raise Retry(_("{server} says: {words}", server=self.server,
                                  words=words)) from exc
                # 5.1.x: no such mailbox or domain (RFC 3463); other refusals (relaying
                # denied, policy) say nothing of the customer.
                raise Rejected(_("{server} refused {address}: {words}", server=self.server,
                                 address=recipient, words=words),
                               unreachable=bool(BAD_ADDRESS.search(exc.message))) from exc
            except (aiosmtplib.SMTPException, OSError) as exc:
                raise Retry(f"{self.server}: {exc}") from exc
            data = mail.as_bytes()
            try:
                # A big message takes its time on a slow line: 100 KB/s at least.
                await client.data(data, timeout=max(self.timeout, len(data) / 100_000))
            except aiosmtplib.SMTPResponseException as exc:
                # The server answered the message itself with an error: it did not take it.
                words = f"{exc.code} {exc.message}"
                if 400 <= exc.code < 500:
                    raise Retry(_("{server} says: {words}", server=self.server,
                                  words=words)) from exc
                raise Rejected(_("{server} refused the message: {words}",
                                 server=self.server, words=words)) from exc
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                raise Rejected(_(
                    "{server}: the connection broke while the server was taking the message "
                    "({reason}); it may have been sent, so it is not sent again",
                    server=self.server, reason=str(exc) or type(exc).__name__)) from exc
        finally:
            await _quit(client)


async def _quit(client: aiosmtplib.SMTP) -> None:
    try:
        if client.is_connected:
            await client.quit(timeout=2)
    except Exception:
        client.close()

