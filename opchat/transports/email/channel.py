"""The email channel: a mailbox read over IMAP, replies sent over SMTP.

Receiving (:mod:`.imap`): one connection per watched folder, waiting in IDLE where the
server offers it and looking every ``poll_interval`` seconds where not; a lost
connection is tried again with growing waits, shown in the status bar.

Exactly once: the channel's cursor is, per folder, the UIDVALIDITY and the last UID
stored, committed by ``sink.ingest_batch`` in the transaction that stores the messages
it covers. Killed at any instant, the hub asks again from the last committed UID. A
changed UIDVALIDITY (the folder was rebuilt) reads the folder again from
``history_days`` back; what was stored already is recognised by its Message-ID (the
message's external id) and stored once.

Reading (:mod:`.parse`): text/plain preferred, HTML as text; quoted history and the
signature folded away (the whole text kept in ``meta["email"]["full"]``); every file
saved in the data dir at once (the message is here anyway) and listed as the message's
attachments. Mail from the channel's own address to a customer (a colleague answered
from a mail client, and the Sent folder is watched) shows in that customer's dialog as
sent elsewhere. Bounces (delivery status notifications) fail the reply they bounce with the
server's reason and are not stored as messages; auto-replies are stored, marked
``meta["automated"]``, which the automatic answers never answer (no mail loops).

A hard bounce (5.x.x) also tells the hub the customer cannot be written to
(``sink.reachable``: the dialog's "blocked" label), until they write in that dialog again.

Sending (:mod:`.smtp`): see there. The dialog's ``chat_id`` is "ADDRESS SUBJECT"; see
:mod:`.parse` for how replies find their dialog. A copy of every mail sent goes into the
mailbox's Sent folder (``sent_folder``, else the one the server marks \\Sent), in the
background: the mail has gone whatever happens to the copy, so a failure is logged and
shown in the channel's health, and never sends the mail again. ``mail`` sends the hub's
own mail: transcripts, and web chat answers to a visitor who left (the hub files a reply
to one of those into the web chat dialog).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from opchat.config import ChannelSettings, private_modes
from opchat.model import (
    Attachment,
    Direction,
    Health,
    InboundMessage,
    MessageState,
    OutboundMessage,
)
from opchat.transports import Capabilities, Delivery, OptionSet, Rejected, Sink, error_summary
from opchat.transports.email.imap import Imap, MailTrouble, Selected
from opchat.transports.email.options import DEFAULT_PORTS, OPTIONS, SECURITY
from opchat.transports.email.parse import (
    Parsed,
    address_of,
    chat_key,
    chat_of_our_id,
    is_our_id,
    make_message_id,
    normalise_subject,
    parse_message,
    subject_of,
)
from opchat.transports.email.smtp import Smtp, compose
from opchat.transports.files import safe_name, write_private

__all__ = ["CheckFailed", "EmailTransport", "MailTrouble"]

log = logging.getLogger("opchat.email")


class CheckFailed(Exception):
    """``check()`` could not use a server; the message says exactly why."""


class EmailTransport:
    kind: ClassVar[str] = "email"
    options: ClassVar[OptionSet] = OPTIONS
    capabilities: ClassVar[Capabilities] = Capabilities(media=True, max_len=1_000_000)

    # Waits between tries after a failure (the last repeats), how long one IDLE lasts
    # before it is renewed (servers drop one after 30 minutes), the time one server
    # command may take, and how many bytes of mail one transaction stores at most.
    # Class attributes so that tests can make them short.
    backoff: ClassVar[tuple[float, ...]] = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
    idle_renew: ClassVar[float] = 600.0
    timeout: ClassVar[float] = 30.0
    check_timeout: ClassVar[float] = 7.0  # each server, in `channel test` and `doctor`
    batch_bytes: ClassVar[int] = 8_000_000
    batch_count: ClassVar[int] = 50

    def __init__(self, channel: ChannelSettings, data_dir: Path) -> None:
        options = channel.options
        self.name = channel.name
        self.user = str(options.get("user") or "")
        if not self.user:
            raise ValueError("no user: set user, the login on both servers")
        password = channel.secret("password")
        if not password:
            variable = options.get("password_env")
            raise ValueError(f"environment variable {variable} is empty or unset" if variable
                             else "no password: set password, or password_env naming the "
                                  "variable that holds it")
        self.password = password
        self.imap_host = str(options.get("imap_host") or "")
        self.smtp_host = str(options.get("smtp_host") or "")
        if not self.imap_host or not self.smtp_host:
            raise ValueError("set both imap_host and smtp_host")
        self.imap_security = _security(options, "imap_security")
        self.smtp_security = _security(options, "smtp_security")
        self.imap_port = int(options.get("imap_port")
                             or DEFAULT_PORTS[("imap", self.imap_security)])
        self.smtp_port = int(options.get("smtp_port")
                             or DEFAULT_PORTS[("smtp", self.smtp_security)])
        self.address = str(options.get("address") or "").strip().lower() or (
            self.user.lower() if "@" in self.user else "")
        if not self.address:
            raise ValueError("set address: the login is not an e-mail address")
        self.from_name = str(options.get("from_name") or "")
        folders = options.get("folders") or ["INBOX"]
        self.folders = [str(f) for f in (folders if isinstance(folders, list) else [folders])]
        self.poll_interval = float(options.get("poll_interval") or 60)
        self.history_days = int(options.get("history_days", 7))
        self.max_size = int(options.get("max_size") or 50_000_000)
        # Copies of our replies go there: a name, None (the server's \Sent folder) or "".
        sent = options.get("sent_folder")
        self.sent_folder: str | None = None if sent is None else str(sent).strip()
        self._sent_found: str | None = None  # the \Sent folder, once found
        self._keeping: set[asyncio.Task[None]] = set()
        self.data_dir = Path(data_dir)
        self.attachments_dir = self.data_dir / "attachments" / channel.name
        self._sink: Sink | None = None
        self._cursor: dict[str, list[int]] = {}  # folder -> [uidvalidity, last uid]
        self._commit_lock = asyncio.Lock()
        self._health: dict[str, tuple[Health, str]] = {}  # by folder
        self._ok: dict[str, str] = {}  # by folder: what it said when last OK
        self._shown: tuple[Health, str] | None = None

    # Receiving ----------------------------------------------------------------------------

    async def run(self, sink: Sink) -> None:
        self._sink = sink
        self._health, self._ok, self._shown = {}, {}, None
        self._cursor = _read_cursor(await sink.cursor())
        async with asyncio.TaskGroup() as group:
            for folder in self.folders:
                group.create_task(self._watch(sink, folder))

    def _imap(self, timeout: float | None = None) -> Imap:
        return Imap(self.imap_host, self.imap_port, self.imap_security,
                    timeout or self.timeout)

    async def _watch(self, sink: Sink, folder: str) -> None:
        """Keep ``folder`` read: connect, catch up, wait for news; again after a failure."""
        failures = 0
        while True:
            imap = self._imap()
            try:
                await imap.open(self.user, self.password)
                selected = await imap.select(folder)
                await self._catch_up(sink, imap, selected)
                failures = 0
                how = "IDLE" if imap.idle else f"every {self.poll_interval:.0f} s"
                self._report(sink, folder, Health.OK, f"{self.address}: {folder} ({how})")
                while True:
                    if imap.idle:
                        await imap.wait(self.idle_renew)
                    else:
                        await asyncio.sleep(self.poll_interval)
                        await imap.noop()
                    # Another SELECT sees a new UIDVALIDITY and news the server kept back.
                    selected = await imap.select(folder)
                    await self._catch_up(sink, imap, selected)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                reason = exc.reason if isinstance(exc, MailTrouble) else error_summary(exc)
                if failures == 1:
                    log.warning("channel %s, folder %s: %s", self.name, folder, reason)
                state = Health.DOWN if (isinstance(exc, MailTrouble) and exc.permanent) \
                    or failures > 2 else Health.DEGRADED
                self._report(sink, folder, state, reason)
                await asyncio.sleep(self.backoff[min(failures, len(self.backoff)) - 1])
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.shield(imap.close())

    async def _catch_up(self, sink: Sink, imap: Imap, selected: Selected) -> None:
        """Store every message of the folder past the cursor, in batches, each with its
        cursor."""
        folder = selected.folder
        kept = self._cursor.get(folder)
        if kept is not None and kept[0] == selected.uidvalidity:
            waiting = await imap.uids_after(kept[1])
        else:
            if kept is not None:
                log.warning("channel %s: folder %s has a new UIDVALIDITY (%s, was %s): "
                            "reading its last %d days again; what is stored is kept once",
                            self.name, folder, selected.uidvalidity, kept[0],
                            self.history_days)
            waiting = []
            if self.history_days > 0:
                since = datetime.date.today() - datetime.timedelta(days=self.history_days)
                waiting = await imap.uids_since(imap_date(since))
            top = max([uid for uid, _size in waiting], default=0)
            if selected.uidnext:
                top = max(top, selected.uidnext - 1)
            elif not waiting:  # a server that does not say UIDNEXT: ask for the last UID
                top = await imap.last_uid()
            if not waiting:  # nothing to take: start from here
                await self._commit(sink, [], folder, selected.uidvalidity, top)
                return
        batch: list[tuple[int, int]] = []
        size = 0
        for uid, length in waiting:
            batch.append((uid, length))
            size += min(length, self.max_size)
            if size >= self.batch_bytes or len(batch) >= self.batch_count:
                await self._store(sink, imap, selected, batch)
                batch, size = [], 0
        if batch:
            await self._store(sink, imap, selected, batch)

    async def _store(self, sink: Sink, imap: Imap, selected: Selected,
                     batch: list[tuple[int, int]]) -> None:
        whole = [uid for uid, length in batch if length <= self.max_size]
        big = [uid for uid, length in batch if length > self.max_size]
        raws = await imap.bodies(whole)
        raws.update({uid: raw for uid, raw in (await imap.bodies(big, True)).items()})
        messages: list[InboundMessage] = []
        for uid, length in batch:
            raw = raws.get(uid)
            if raw is None:
                continue  # expunged meanwhile
            message = await self._convert(sink, raw, too_big=length if uid in big else 0)
            if message is not None:
                messages.append(message)
        await self._commit(sink, messages, selected.folder, selected.uidvalidity,
                           batch[-1][0])
        for message in messages:
            if not message.meta.get("automated"):
                # They wrote in this dialog: it takes mail again (a hard bounce said not).
                try:
                    await sink.reachable(message.chat_id, True)
                except Exception as exc:  # the label stays; the mail is stored
                    log.warning("channel %s: %s", self.name, error_summary(exc))

    async def _commit(self, sink: Sink, messages: Sequence[InboundMessage], folder: str,
                      uidvalidity: int, uid: int) -> None:
        """The messages and the folder's new place, in one transaction; again while the
        store fails."""
        failures = 0
        while True:
            async with self._commit_lock:
                before = self._cursor.get(folder)
                self._cursor[folder] = [uidvalidity, uid]
                try:
                    await sink.ingest_batch(messages, cursor=json.dumps(
                        {"folders": self._cursor}, sort_keys=True))
                except Exception as exc:
                    if before is None:
                        self._cursor.pop(folder, None)
                    else:
                        self._cursor[folder] = before
                    failures += 1
                    if failures == 1:
                        log.error("channel %s: could not store %d message(s): %s; trying "
                                  "again", self.name, len(messages), error_summary(exc))
                    self._report(sink, folder, Health.DEGRADED, error_summary(exc))
                else:
                    if failures and folder in self._ok:
                        self._report(sink, folder, Health.OK, self._ok[folder])
                    return
            await asyncio.sleep(self.backoff[min(failures, len(self.backoff)) - 1])

    async def _convert(self, sink: Sink, raw: bytes, too_big: int = 0
                       ) -> InboundMessage | None:
        """``raw`` as a message to store; None for a bounce of our reply (reported)."""
        parsed = parse_message(raw)
        if parsed.automated == "bounce":
            ours = [mid for mid in parsed.bounced if is_our_id(mid)]
            if ours:
                if parsed.bounce_final:
                    from opchat.i18n import _

                    reason = _("the mail came back: {reason}",
                               reason=parsed.bounce_reason or _("no reason given"))
                    for mid in ours:
                        await sink.report(mid, MessageState.FAILED, reason)
                        chat = chat_of_our_id(mid)
                        if parsed.bounce_hard and chat:
                            # The address takes no mail at all: the dialog says so (the
                            # "blocked" label) until the customer writes from it again.
                            await sink.reachable(chat, False)
                return None  # a bounce of ours, or a "still trying": nothing to answer
        attachments = await self._save_files(parsed)
        if self._ours(parsed.from_address) and self._ours(parsed.reply_address):
            # The business's own mail (a colleague answered from a mail client, and the
            # Sent folder is watched): shown in the customer's dialog as sent elsewhere,
            # never as a customer's message. Nothing if that customer has no dialog.
            customer = next((a for a in parsed.to_addresses if not self._ours(a)), "")
            if customer:
                await sink.sent_elsewhere(InboundMessage(
                    channel=self.name, chat_id=parsed.chat_id(customer),
                    external_id=parsed.message_id, sender_id=customer,
                    sender_name=parsed.from_name or parsed.from_address, body=parsed.text,
                    sent_at=parsed.date, attachments=tuple(attachments),
                    meta={"email": parsed.meta(), "elsewhere": "mail"}))
                return None
        body = parsed.text
        if too_big:
            body = (body + "\n\n" if body else "") + (
                f"[a message of {too_big / 1e6:.1f} MB, over max_size: "
                "read it in the mailbox]")
        if not parsed.thread_ids and parsed.subject:
            # A new subject: the operator sees what the mail is about.
            body = f"{parsed.subject}\n\n{body}" if body else parsed.subject
        meta: dict[str, Any] = {"email": parsed.meta()}
        if parsed.automated:
            meta["automated"] = parsed.automated
        sender = parsed.reply_address or parsed.from_address or "unknown@invalid"
        return InboundMessage(
            channel=self.name, chat_id=parsed.chat_id(), external_id=parsed.message_id,
            sender_id=sender, sender_name=parsed.reply_name or sender, body=body,
            sent_at=parsed.date, email=sender if "@" in sender else None,
            reply_to_external_id=parsed.in_reply_to[0] if parsed.in_reply_to else None,
            attachments=tuple(attachments), meta=meta,
            profile={"email": sender, "name": parsed.reply_name} if parsed.reply_name
            else {"email": sender})

    async def _save_files(self, parsed: Parsed) -> list[Attachment]:
        saved: list[Attachment] = []
        for n, part in enumerate(parsed.files):
            kind = "photo" if part.mime.startswith("image/") else "document"
            attachment = Attachment(kind=kind, filename=part.filename, mime=part.mime,
                                    size=len(part.data), ref=f"{parsed.message_id}#{n}")
            target = self.attachments_dir / safe_name(attachment)

            async def chunks(data: bytes = part.data) -> Any:
                yield data

            try:
                await write_private(target, chunks(), private_modes(self.data_dir))
            except OSError as exc:
                log.error("channel %s: cannot keep %s of %s: %s", self.name,
                          part.filename or kind, parsed.message_id, exc)
                saved.append(attachment)
                continue
            saved.append(Attachment(kind=kind, filename=part.filename, mime=part.mime,
                                    size=len(part.data), ref=attachment.ref,
                                    local_path=str(target)))
        return saved

    def _ours(self, address: str) -> bool:
        return bool(address) and address in (self.address, self.user.lower())

    def _report(self, sink: Sink, folder: str, state: Health | None, detail: str) -> None:
        """One folder's state (None: forget it); the status bar shows the channel's
        worst folder."""
        if state is None:
            self._health.pop(folder, None)
            if not self._health:
                return
        else:
            if state is Health.OK:
                self._ok[folder] = detail
            self._health[folder] = (state, detail)
        worst = max(self._health.values(), key=lambda found: _RANK[found[0]])
        if worst[0] is Health.OK and len(self._health) > 1:
            worst = (Health.OK, f"{self.address}: " + ", ".join(
                text.split(": ", 1)[-1] for _state, text in self._health.values()))
        if worst != self._shown:
            self._shown = worst
            sink.health(*worst)

    # Sending ------------------------------------------------------------------------------

    def _smtp(self, timeout: float | None = None) -> Smtp:
        return Smtp(self.smtp_host, self.smtp_port, self.smtp_security, self.user,
                    self.password, timeout or self.timeout)

    async def send(self, out: OutboundMessage) -> Delivery:
        recipient = address_of(out.chat_id)
        if "@" not in recipient:
            raise Rejected(f"{recipient!r} is not an e-mail address")
        subject, in_reply_to, references, automatic = await self._thread(out)
        message_id = make_message_id(out.chat_id, self.address.rpartition("@")[2])
        mail = compose(sender=self.address, sender_name=self.from_name, recipient=recipient,
                       subject=subject, body=out.body, message_id=message_id,
                       in_reply_to=in_reply_to, references=references,
                       attachments=out.attachments, automatic=automatic)
        await self._smtp().send(mail, self.address, recipient)
        await self._keep_sent(mail)
        return Delivery(external_id=message_id)

    async def mail(self, to: str, subject: str, text: str, *, in_reply_to: str | None = None,
                   references: Sequence[str] = (), attachments: Sequence[Attachment] = (),
                   automatic: bool = True) -> str:
        """A mail of the business's own from this mailbox: a dialog's transcript, or an
        answer in another channel's dialog (the web chat's offline form) to a customer
        who left."""
        if "@" not in to:
            raise Rejected(f"{to!r} is not an e-mail address")
        # A reply to it comes back as a dialog of this mailbox about that subject, unless
        # the hub knows its Message-ID as an answer in another channel's dialog.
        message_id = make_message_id(chat_key(to, subject), self.address.rpartition("@")[2])
        mail = compose(sender=self.address, sender_name=self.from_name, recipient=to,
                       subject=subject, body=text, message_id=message_id,
                       in_reply_to=in_reply_to, references=list(references)[-20:],
                       attachments=attachments, automatic=automatic)
        await self._smtp().send(mail, self.address, to)
        await self._keep_sent(mail)
        return message_id

    async def _keep_sent(self, mail: Any) -> None:
        """A copy of what went out into the mailbox's Sent folder, in the background: the
        mail has gone whatever happens here, so a failure is logged and shown, and the
        mail is never sent again for it."""
        if self.sent_folder == "":
            return
        task = asyncio.create_task(self._append_sent(mail.as_bytes()))
        self._keeping.add(task)
        task.add_done_callback(self._keeping.discard)

    async def _append_sent(self, raw: bytes) -> None:
        from opchat.i18n import _

        imap = self._imap()
        folder = self.sent_folder or self._sent_found
        try:
            await imap.open(self.user, self.password)
            if not folder:
                folder = self._sent_found = await imap.sent_folder()
            if not folder:
                log.warning("channel %s: the mailbox has no folder marked Sent; replies are "
                         "not copied (set sent_folder to name one)", self.name)
                self.sent_folder = ""  # asked once
                return
            await imap.append(folder, raw)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = exc.reason if isinstance(exc, MailTrouble) else error_summary(exc)
            log.warning("channel %s: a reply went out but its copy is not in %s: %s",
                        self.name, folder or "Sent", reason)
            if self._sink is not None:
                self._report(self._sink, SENT_COPY, Health.DEGRADED, _(
                    "a reply went out, but its copy is not in {folder}: {reason}",
                    folder=folder or "Sent", reason=reason))
            return
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(imap.close())
        if self._sink is not None and SENT_COPY in self._health:
            self._report(self._sink, SENT_COPY, None, "")

    async def _thread(self, out: OutboundMessage
                      ) -> tuple[str, str | None, list[str], bool]:
        """(subject, In-Reply-To, References, automatic) for a reply in ``out``'s dialog,
        from what the dialog holds."""
        history = []
        if self._sink is not None:
            try:
                history = await self._sink.history(out.chat_id, limit=50)
            except Exception as exc:
                log.warning("channel %s: cannot read the dialog for threading: %s",
                            self.name, error_summary(exc))
        subject = ""
        parent = None
        automatic = False
        for message in history:
            if message.id == out.message_id:
                automatic = message.direction == Direction.AUTO
            email_meta = message.meta.get("email") if isinstance(message.meta, dict) else None
            if message.direction == Direction.IN and isinstance(email_meta, dict):
                parent = message
                if email_meta.get("subject"):
                    subject = str(email_meta["subject"])
        references: list[str] = []
        in_reply_to = None
        if parent is not None:
            meta = parent.meta["email"]
            in_reply_to = str(meta.get("message_id") or parent.external_id or "") or None
            references = [str(r) for r in meta.get("references") or []]
            if in_reply_to:
                references.append(in_reply_to)
        if out.reply_to_external_id and out.reply_to_external_id != in_reply_to:
            in_reply_to = out.reply_to_external_id
            references.append(in_reply_to)
        base = normalise_subject(subject) or subject_of(out.chat_id)
        return (f"Re: {base}" if base else "", in_reply_to,
                list(dict.fromkeys(references))[-20:], automatic)

    # Checks -------------------------------------------------------------------------------

    async def check(self) -> str:
        """Log in to both servers and look at every folder; :class:`CheckFailed` saying
        exactly what failed (DNS, TLS, login, a missing folder)."""
        from opchat.i18n import _

        imap = self._imap(self.check_timeout)
        try:
            await imap.open(self.user, self.password)
            found = []
            for folder in self.folders:
                selected = await imap.select(folder)
                found.append(f"{folder} ({selected.exists})")
            idle = imap.idle
            if self.sent_folder == "":
                copies = _("copies of replies: off (sent_folder is empty)")
            else:
                sent = self.sent_folder or await imap.sent_folder()
                if sent and self.sent_folder:
                    await imap.select(sent)  # a named folder that is missing fails here
                copies = (_("copies of replies go to {folder}", folder=sent) if sent else _(
                    "the mailbox has no folder marked Sent: replies are not copied "
                    "(set sent_folder to name one)"))
        except MailTrouble as exc:
            raise CheckFailed(exc.reason) from exc
        finally:
            await imap.close()
        smtp = self._smtp(self.check_timeout)
        try:
            client, logged_in = await smtp.open()
        except MailTrouble as exc:
            raise CheckFailed(exc.reason) from exc
        with contextlib.suppress(Exception):
            await client.quit(timeout=2)
        how = _("IDLE") if idle else _("checked every {seconds} s",
                                       seconds=f"{self.poll_interval:.0f}")
        login = _("logged in as {user}", user=self.user) if logged_in else \
            _("takes mail without a login")
        return _("IMAP {imap}: logged in as {user}, folders {folders}, {how}; "
                 "SMTP {smtp}: {login}; replies from {address}",
                 imap=f"{self.imap_host}:{self.imap_port}", user=self.user,
                 folders=", ".join(found), how=how,
                 smtp=f"{self.smtp_host}:{self.smtp_port}", login=login,
                 address=self.address) + "; " + copies

    async def download(self, attachment: Attachment, dest_dir: Path) -> Path:
        """Files are saved when their message arrives; one that is gone cannot come back."""
        if attachment.local_path and Path(attachment.local_path).is_file():
            return Path(attachment.local_path)
        raise FileNotFoundError("this file was not kept when its mail arrived")


SENT_COPY = "\0sent"  # the health entry of copying replies into Sent (not a folder)

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
           "Dec")


def imap_date(day: datetime.date) -> str:
    """A date as IMAP's SEARCH takes it (01-Dec-2026), whatever the locale."""
    return f"{day.day:02d}-{_MONTHS[day.month - 1]}-{day.year}"


_RANK = {Health.OK: 0, Health.STARTING: 1, Health.STOPPED: 1, Health.DEGRADED: 2,
         Health.DOWN: 3}


def _security(options: dict[str, Any], key: str) -> str:
    value = str(options.get(key) or "tls").strip().lower()
    if value not in SECURITY:
        raise ValueError(f"{key} must be tls, starttls or plain, not {value!r}")
    return value


def _read_cursor(cursor: str | None) -> dict[str, list[int]]:
    """The committed cursor: per folder [UIDVALIDITY, last UID]."""
    try:
        data = json.loads(cursor) if cursor else {}
        folders = data.get("folders", {}) if isinstance(data, dict) else {}
        return {str(name): [int(place[0]), int(place[1])] for name, place in folders.items()
                if isinstance(place, list) and len(place) == 2}
    except (ValueError, TypeError, AttributeError):
        log.warning("the stored email cursor %r cannot be read; starting again", cursor)
        return {}
