"""Talking IMAP through aioimaplib: connecting (TLS, STARTTLS or plain), logging in,
selecting a folder, listing and fetching by UID, waiting in IDLE.

Every failure becomes :class:`MailTrouble` with the words an operator needs: which server,
and whether the name did not resolve, TLS failed, the login was refused or the folder is
missing.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

import aioimaplib
from aioimaplib.aioimaplib import Command

from opchat.i18n import _


class MailTrouble(Exception):
    """A mail server could not be used; ``str()`` says why, for the operator.
    ``permanent``: trying again will not help until the settings change (login, folder)."""

    def __init__(self, reason: str, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


def connect_trouble(exc: BaseException, server: str, timeout: float) -> MailTrouble | None:
    """Why a connection to ``server`` (host:port, "IMAP"/"SMTP" in front) failed, or None
    if ``exc`` is not a network error."""
    if isinstance(exc, socket.gaierror):
        return MailTrouble(_("{server}: the name does not resolve (DNS)", server=server))
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = f"certificate verify failed: {exc.verify_message}"
        return MailTrouble(_("{server}: TLS failed: {reason}", server=server, reason=reason))
    if isinstance(exc, ssl.SSLError):
        reason = getattr(exc, "reason", "") or str(exc)
        return MailTrouble(_("{server}: TLS failed: {reason}", server=server, reason=reason))
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return MailTrouble(_("{server}: no answer in {seconds} s", server=server,
                             seconds=f"{timeout:.0f}"))
    if isinstance(exc, ConnectionRefusedError):
        return MailTrouble(_("{server}: connection refused", server=server))
    if isinstance(exc, OSError):
        return MailTrouble(f"{server}: {exc.strerror or exc}")
    if isinstance(exc, aioimaplib.AioImapException):
        return MailTrouble(f"{server}: {exc}")
    return None


def _words(response: aioimaplib.Response) -> str:
    """The server's own words in a tagged answer (its last line)."""
    for line in reversed(response.lines):
        if isinstance(line, bytes) and line.strip():
            return line.decode("utf-8", "replace").strip()
    return response.result


@dataclass
class Selected:
    folder: str
    uidvalidity: int
    uidnext: int | None
    exists: int


class Imap:
    """One logged-in IMAP connection."""

    def __init__(self, host: str, port: int, security: str, timeout: float) -> None:
        self.host = host
        self.port = port
        self.security = security
        self.timeout = timeout
        self.server = f"IMAP {host}:{port}"
        self.client: aioimaplib.IMAP4 | None = None
        self.lost = asyncio.Event()

    async def open(self, user: str, password: str) -> Imap:
        try:
            if self.security == "tls":
                self.client = aioimaplib.IMAP4_SSL(
                    host=self.host, port=self.port, timeout=self.timeout,
                    ssl_context=ssl.create_default_context())
            else:
                self.client = aioimaplib.IMAP4(host=self.host, port=self.port,
                                               timeout=self.timeout)
            self.client.protocol.conn_lost_cb = self._lost
            await self.client.wait_hello_from_server()
            if self.security == "starttls":
                await self._starttls()
            response = await self.client.login(user, password)
        except MailTrouble:
            await self.close()
            raise
        except Exception as exc:
            await self.close()
            trouble = connect_trouble(exc, self.server, self.timeout)
            if trouble is None:
                raise
            raise trouble from exc
        if response.result != "OK":
            await self.close()
            raise MailTrouble(_("{server} refused the login for {user}: {words}",
                                server=self.server, user=user, words=_words(response)),
                              permanent=True)
        return self

    def _lost(self, exc: Exception | None) -> None:
        self.lost.set()
        if self.client is not None:  # wake a wait in IDLE
            self.client.protocol.idle_queue.put_nowait(["connection lost"])

    async def _starttls(self) -> None:
        assert self.client is not None
        protocol = self.client.protocol
        if "STARTTLS" not in protocol.capabilities:
            raise MailTrouble(_("{server} does not offer STARTTLS (use tls or plain)",
                                server=self.server), permanent=True)
        response = await asyncio.wait_for(protocol.execute(
            Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)), self.timeout)
        if response.result != "OK":
            raise MailTrouble(_("{server}: TLS failed: {reason}", server=self.server,
                                reason=_words(response)))
        loop = asyncio.get_running_loop()
        protocol.transport = await loop.start_tls(
            protocol.transport, protocol, ssl.create_default_context(),
            server_hostname=self.host)
        await asyncio.wait_for(protocol.capability(), self.timeout)

    @property
    def idle(self) -> bool:
        return self.client is not None and self.client.has_capability("IDLE")

    async def select(self, folder: str) -> Selected:
        assert self.client is not None
        response = await self.client.select(_quote(folder))
        if response.result != "OK":
            raise MailTrouble(_("{server} has no folder {folder} ({words})", server=self.server,
                                folder=folder, words=_words(response)), permanent=True)
        text = b"\n".join(line for line in response.lines if isinstance(line, bytes))
        validity = re.search(rb"UIDVALIDITY (\d+)", text)
        uidnext = re.search(rb"UIDNEXT (\d+)", text)
        exists = re.search(rb"(\d+) EXISTS", text)
        return Selected(folder, int(validity.group(1)) if validity else 0,
                        int(uidnext.group(1)) if uidnext else None,
                        int(exists.group(1)) if exists else 0)

    async def uids_after(self, last: int) -> list[tuple[int, int]]:
        """(uid, size) of the messages past ``last``. Some servers answer ``UID FETCH n:*``
        past the end with the last message: whatever is not past ``last`` is dropped."""
        found = await self._fetch(f"{last + 1}:*", "(UID RFC822.SIZE)")
        return sorted((uid, size or 0) for uid, size, _ in found if uid > last)

    async def last_uid(self) -> int:
        """The UID of the folder's last message (0 when it is empty)."""
        if not self.client or not await self._exists():
            return 0
        return max((uid for uid, _size, _body in await self._fetch("*", "(UID)")), default=0)

    async def _exists(self) -> bool:
        assert self.client is not None
        response = await self.client.uid_search("ALL", charset=None)
        return any(isinstance(line, bytes) and any(w.isdigit() for w in line.split())
                   for line in response.lines[:-1])

    async def uids_since(self, date: str) -> list[tuple[int, int]]:
        """(uid, size) of the messages that arrived on ``date`` (01-Jan-2026) or later."""
        assert self.client is not None
        response = await self.client.uid_search("SINCE", date, charset=None)
        if response.result != "OK":
            raise MailTrouble(f"{self.server}: SEARCH: {_words(response)}")
        uids: list[int] = []
        for line in response.lines[:-1]:  # the last one is the tagged answer's text
            if isinstance(line, bytes):
                words = line.split()
                if words and words[0].upper() == b"SEARCH":
                    words = words[1:]
                if all(word.isdigit() for word in words):
                    uids += [int(word) for word in words]
        if not uids:
            return []
        sizes: list[tuple[int, int]] = []
        for start in range(0, len(uids), 500):
            chunk = ",".join(str(u) for u in uids[start:start + 500])
            sizes += [(uid, size or 0) for uid, size, _ in
                      await self._fetch(chunk, "(UID RFC822.SIZE)")]
        return sorted(set(sizes))

    async def bodies(self, uids: Sequence[int], headers_only: bool = False
                     ) -> dict[int, bytes]:
        """The messages (or only their headers), by uid; BODY.PEEK leaves them unread."""
        if not uids:
            return {}
        what = "(UID BODY.PEEK[HEADER])" if headers_only else "(UID BODY.PEEK[])"
        return {uid: body or b"" for uid, _, body in
                await self._fetch(",".join(str(u) for u in uids), what)}

    async def _fetch(self, uids: str, what: str) -> list[tuple[int, int | None, bytes | None]]:
        assert self.client is not None
        response = await self.client.uid("fetch", uids, what)
        if response.result != "OK":
            raise MailTrouble(f"{self.server}: FETCH: {_words(response)}")
        found: list[tuple[int, int | None, bytes | None]] = []
        uid: int | None = None
        size: int | None = None
        body: bytes | None = None

        def close() -> None:
            if uid is not None:
                found.append((uid, size, body))

        for line in response.lines:
            if isinstance(line, bytearray | memoryview):
                body = bytes(line)
                continue
            if re.match(rb"\d+ FETCH \(", line):
                close()
                uid, size, body = None, None, None
            number = re.search(rb"\bUID (\d+)", line)
            if number and uid is None:
                uid = int(number.group(1))
            length = re.search(rb"RFC822\.SIZE (\d+)", line)
            if length:
                size = int(length.group(1))
        close()
        return found

    async def wait(self, seconds: float) -> bool:
        """Wait in IDLE until the folder changes (True) or ``seconds`` pass (False).
        What a server says meanwhile to keep the line open ("OK Still here") is let by."""
        assert self.client is not None
        idle = await self.client.idle_start(timeout=seconds)
        news = False
        try:
            while True:
                push = await self.client.wait_server_push(timeout=seconds + self.timeout)
                lines = push if isinstance(push, list) else []
                if self.lost.is_set() or any(isinstance(line, bytes)
                                             and line.startswith(b"BYE") for line in lines):
                    raise MailTrouble(_("{server}: the server closed the connection",
                                        server=self.server))
                if push == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    break
                if any(isinstance(line, bytes) and (b"EXISTS" in line or b"EXPUNGE" in line)
                       for line in lines):
                    news = True
                    break
        finally:
            if not self.lost.is_set():
                self.client.idle_done()
                await asyncio.wait_for(idle, self.timeout)
        return news

    async def sent_folder(self) -> str | None:
        """The folder the server marks \\Sent (RFC 6154 special use), None if none."""
        assert self.client is not None
        response = await self.client.list('""', '"*"')
        if response.result != "OK":
            raise MailTrouble(f"{self.server}: LIST: {_words(response)}")
        for line in response.lines:
            if not isinstance(line, bytes):
                continue
            found = re.match(rb'(?:LIST )?\(([^)]*)\) (?:"[^"]*"|NIL) (.+)$', line.strip())
            if found and b"\\sent" in found.group(1).lower().split():
                name = found.group(2).decode("utf-8", "replace").strip()
                if name.startswith('"') and name.endswith('"'):
                    name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
                return name
        return None

    async def append(self, folder: str, raw: bytes) -> None:
        """Put ``raw`` into ``folder``, marked read (our own reply, kept in Sent)."""
        assert self.client is not None
        response = await self.client.append(raw, mailbox=_quote(folder), flags="(\\Seen)")
        if response.result != "OK":
            raise MailTrouble(_("{server} did not take the copy into {folder}: {words}",
                                server=self.server, folder=folder, words=_words(response)))

    async def noop(self) -> None:
        assert self.client is not None
        await self.client.noop()
        if self.lost.is_set():
            raise MailTrouble(_("{server}: the server closed the connection",
                                server=self.server))

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            if not self.lost.is_set() and client.get_state() in ("AUTH", "SELECTED"):
                await asyncio.wait_for(client.logout(), 2)
        except Exception:
            pass
        transport = getattr(client.protocol, "transport", None)
        if transport is not None:
            transport.close()


def _quote(folder: str) -> str:
    """A folder name as IMAP takes it (quoted when it has spaces or specials)."""
    if re.fullmatch(r"[A-Za-z0-9_./-]+", folder):
        return folder
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
