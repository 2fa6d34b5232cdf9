"""Real mail servers on 127.0.0.1 for the email channel's tests.

- :class:`Dovecot`: Debian's Dovecot (``apt-get install dovecot-imapd``; `.ci/run` does
  it), started unprivileged (as ``nobody`` when the tests run as root) on a free high
  port, with a passwd-file user and a maildir under a private temporary folder.
  ``append`` is the customer's mail arriving: the message put into a folder over IMAP,
  as a delivery agent would.
- :class:`SmtpServer`: aiosmtpd taking mail with a login (AUTH PLAIN/LOGIN, no TLS) and
  recording every message it receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from tests.channels import free_port
from tests.tools import missing

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER = "support@example.test"
PASSWORD = "s3cret-Pa55"


def require_dovecot() -> None:
    if not Path(DOVECOT).exists():
        missing("dovecot is not installed (apt-get install dovecot-imapd)")


CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = {uid}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  mailbox Sent {{
    special_use = \\Sent
  }}
}}
imap_idle_notify_interval = 1 secs
shutdown_clients = yes
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"""


class Dovecot:
    """One Dovecot with one user, until :meth:`stop`."""

    def __init__(self, tls: bool = False) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        # With tls: STARTTLS on ``port`` and implicit TLS on ``tls_port``, with a
        # self-signed certificate for 127.0.0.1 (``cert``: trust it to connect).
        self.tls = tls
        self.tls_port = free_port() if tls else 0
        self.user = USER
        self.password = PASSWORD
        self.root = Path(tempfile.mkdtemp(prefix="opchat-dovecot-", dir="/tmp"))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Dovecot:
        if os.getuid() == 0:  # never as root: as nobody, in a folder of its own
            account = pwd.getpwnam("nobody")
        else:
            account = pwd.getpwuid(os.getuid())
        self.root.chmod(0o755)
        (self.root / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        if self.tls:
            self.make_certificate()
        (self.root / "dovecot.conf").write_text(CONFIG.format(
            root=self.root, user=account.pw_name,
            group=_group_name(account.pw_gid), uid=account.pw_uid, gid=account.pw_gid,
            port=self.port, ssl=(f"ssl = yes\nssl_cert = <{self.cert}\n"
                                 f"ssl_key = <{self.root / 'key.pem'}" if self.tls
                                 else "ssl = no"),
            tls_port=self.tls_port))
        if os.getuid() == 0:
            for path in [self.root, *self.root.rglob("*")]:
                os.chown(path, account.pw_uid, account.pw_gid)
        self._account = account
        self.launch()
        # Log in once, so that the user's maildir exists from the start.
        with self.imap() as client:
            client.select("INBOX")
        return self

    def launch(self) -> None:
        """Start the server process (again, after :meth:`halt`: same port, same mail)."""
        account = self._account
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
            stdout=subprocess.DEVNULL, stderr=(self.root / "stderr.log").open("wb"),
            user=account.pw_uid if os.getuid() == 0 else None,
            group=account.pw_gid if os.getuid() == 0 else None,
            extra_groups=[] if os.getuid() == 0 else None, start_new_session=True)
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as probe:
                    if probe.recv(100).startswith(b"* OK"):
                        break
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dovecot did not start: {self.log()}")
            time.sleep(0.05)

    @property
    def cert(self) -> Path:
        return self.root / "cert.pem"

    def make_certificate(self) -> None:
        openssl = shutil.which("openssl")
        if openssl is None:
            missing("openssl is not installed (apt-get install openssl)")
        subprocess.run(
            [str(openssl), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-keyout", str(self.root / "key.pem"), "-out", str(self.cert),
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True, capture_output=True)

    def log(self) -> str:
        texts = []
        for name in ("stderr.log", "dovecot.log"):
            with contextlib.suppress(OSError):
                texts.append((self.root / name).read_text(errors="replace"))
        return "\n".join(texts)

    def stop(self) -> None:
        self.halt()
        shutil.rmtree(self.root, ignore_errors=True)

    def halt(self) -> None:
        """Stop the server and every process of it (the connections it serves drop);
        its mail stays for :meth:`launch`."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)  # what outlived the master

    @contextlib.contextmanager
    def imap(self) -> Any:
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            client.login(self.user, self.password)
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def append_now(self, raw: bytes, folder: str = "INBOX") -> int:
        """Put ``raw`` into ``folder`` (the customer's mail arrives); its UID."""
        with self.imap() as client:
            status, data = client.append(_quoted(folder), "", None, raw)
            assert status == "OK", data
            text = data[0].decode() if data and data[0] else ""
            return int(text.split("APPENDUID", 1)[1].split()[1].rstrip("]")) \
                if "APPENDUID" in text else 0

    async def append(self, raw: bytes | EmailMessage, folder: str = "INBOX") -> int:
        data = raw.as_bytes() if isinstance(raw, EmailMessage) else raw
        return await asyncio.to_thread(self.append_now, data, folder)

    def create(self, folder: str) -> None:
        with self.imap() as client:
            status, data = client.create(_quoted(folder))
            assert status == "OK", data

    def delete(self, folder: str) -> None:
        with self.imap() as client:
            status, data = client.delete(_quoted(folder))
            assert status == "OK", data

    def messages(self, folder: str) -> list[tuple[bytes, bytes]]:
        """(flags, whole message) of every message in ``folder``."""
        with self.imap() as client:
            status, data = client.select(_quoted(folder), readonly=True)
            assert status == "OK", data
            status, data = client.fetch("1:*", "(FLAGS BODY.PEEK[])") if int(
                data[0] or 0) else ("OK", [])
            assert status == "OK", data
            return [(item[0], item[1]) for item in data if isinstance(item, tuple)]

    def uidvalidity(self, folder: str = "INBOX") -> int:
        with self.imap() as client:
            status, data = client.status(_quoted(folder), "(UIDVALIDITY)")
            assert status == "OK", data
            return int(data[0].decode().split("UIDVALIDITY")[1].strip(" )"))


def _quoted(folder: str) -> str:
    return f'"{folder}"'


def _group_name(gid: int) -> str:
    import grp

    return grp.getgrgid(gid).gr_name


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data.replace(b"\r\n", b"\n"), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SmtpServer:
    """aiosmtpd on 127.0.0.1 that takes mail from USER/PASSWORD and records it."""

    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    # A status line to answer DATA with instead of taking the message, or "drop" to close
    # the connection once the data has arrived without answering.
    data_answer: str | None = None
    # A status line to answer RCPT TO with instead of taking the recipient.
    rcpt_answer: str | None = None
    # Mail for the support address is put into this Dovecot's INBOX (the customer writing
    # from their own mail client); everything is recorded in ``received`` too.
    deliver_to: Dovecot | None = None
    # (certificate, key): offer STARTTLS with them.
    tls: tuple[Path, Path] | None = None
    controller: Any = None

    def start(self) -> SmtpServer:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        server = self

        class Handler:
            async def handle_RCPT(self, smtp: Any, session: Any, envelope: Any,
                                  address: str, options: list[str]) -> str:
                if server.rcpt_answer:
                    return server.rcpt_answer
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:
                if server.data_answer == "drop":
                    session.peer = None
                    smtp.transport.close()
                    return "421 closing"
                if server.data_answer:
                    return server.data_answer
                data = bytes(envelope.original_content or envelope.content)
                server.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                                data))
                if server.deliver_to is not None and USER in envelope.rcpt_tos:
                    await asyncio.to_thread(server.deliver_to.append_now, data)
                return "250 OK queued"

        def authenticator(smtp: Any, session: Any, envelope: Any, mechanism: str,
                          auth_data: Any) -> AuthResult:
            good = isinstance(auth_data, LoginPassword) and (
                auth_data.login.decode(), auth_data.password.decode()) == (USER, PASSWORD)
            return AuthResult(success=good, handled=False)

        context = None
        if self.tls is not None:
            import ssl

            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self.tls)
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                     authenticator=authenticator, auth_require_tls=False,
                                     data_size_limit=64 * 1024 * 1024, tls_context=context)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def main() -> None:
    """``python -m tests.mail_servers``: both servers until Ctrl+C, to try the channel by
    hand (mail to the support address lands in the box; replies are printed)."""
    dovecot = Dovecot().start()
    smtp = SmtpServer(deliver_to=dovecot).start()
    print(f"IMAP 127.0.0.1:{dovecot.port}, SMTP 127.0.0.1:{smtp.port}, "
          f"user {USER}, password {PASSWORD}\n"
          f"  export MAIL_PASSWORD={PASSWORD}\n"
          f"  opchat channel add email --name mail --imap-host 127.0.0.1 --imap-port "
          f"{dovecot.port} --imap-security plain --smtp-host 127.0.0.1 --smtp-port "
          f"{smtp.port} --smtp-security plain --user {USER} --password-env MAIL_PASSWORD\n"
          f"  write as a customer: swaks/any client to {USER} via 127.0.0.1:{smtp.port}",
          flush=True)
    def interrupted(*_args: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    seen = 0
    try:
        while True:
            time.sleep(0.5)
            for received in smtp.received[seen:]:
                print(f"--- sent to {', '.join(received.rcpt_tos)}:\n"
                      f"{received.data.decode('utf-8', 'replace')}", flush=True)
            seen = len(smtp.received)
    except KeyboardInterrupt:
        pass
    finally:
        smtp.stop()
        dovecot.stop()


if __name__ == "__main__":
    main()
