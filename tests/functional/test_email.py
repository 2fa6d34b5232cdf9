"""The email channel against a real Dovecot (IMAP) and a real aiosmtpd (SMTP) on
127.0.0.1 (tests/mail_servers.py).

The customer's mail arrives as a delivery agent puts it: appended to the folder over
IMAP. The operator's replies go out through the SMTP server, which records them. The
real hub and SQLite files in tmp_path; the crash test runs ``opchat serve`` as a process
and kills it with SIGKILL while mail keeps arriving.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from email.utils import format_datetime, formatdate
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest

from opchat.config import AutoAnswers, ChannelSettings
from opchat.model import Direction, Health, MessageState, OutboundMessage
from opchat.transports import Rejected, Retry
from opchat.transports.email.channel import CheckFailed, EmailTransport
from opchat.transports.email.parse import chat_of_our_id, normalise_subject, parse_message
from tests.channels import (
    RunningHub,
    Serve,
    events_of_new_messages,
    free_port,
    holds,
    hub_running,
    opchat,
    stored_external_ids,
    until,
)
from tests.mail_servers import PASSWORD, USER, Dovecot, SmtpServer, require_dovecot

DATA = Path(__file__).parent.parent / "data" / "email"
CUSTOMER = "anna.k@customer.example"

require_dovecot()


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(EmailTransport, "backoff", (0.1, 0.2, 0.5))
    monkeypatch.setattr(EmailTransport, "timeout", 5.0)


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    server = Dovecot().start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(dovecot: Dovecot) -> Dovecot:
    """The module's Dovecot with an empty INBOX (and no other folder)."""
    with dovecot.imap() as client:
        client.select("INBOX")
        _typ, data = client.uid("SEARCH", "ALL")
        if data and data[0]:
            client.uid("STORE", ",".join(data[0].decode().split()), "+FLAGS", "(\\Deleted)")
            client.expunge()
        _typ, folders = client.list()
        for line in folders or []:
            name = line.decode().rsplit(" ", 1)[-1].strip('"')
            if name != "INBOX":
                client.delete(f'"{name}"')
    return dovecot


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def settings(dovecot: Dovecot, smtp: SmtpServer, name: str = "mail", auto: Any = None,
             **options: Any) -> ChannelSettings:
    return ChannelSettings(name, "email", {
        "imap_host": dovecot.host, "imap_port": dovecot.port, "imap_security": "plain",
        "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_security": "plain",
        "user": USER, "password": PASSWORD, "from_name": "Lucky Shrub", **options},
        auto=auto)


def mail(body: str, subject: str = "Monstera", sender: str = CUSTOMER,
         name: str = "Anna K", message_id: str | None = None, **headers: str
         ) -> EmailMessage:
    """A customer's message, as a mail client writes it."""
    message = EmailMessage()
    message["From"] = f"{name} <{sender}>"
    message["To"] = f"Lucky Shrub <{USER}>"
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = f"<{message_id or f'{time.time_ns()}@customer.example'}>"
    for key, value in headers.items():
        name = key.replace("_", "-")
        if name in message:
            message.replace_header(name, value)
        else:
            message[name] = value
    message.set_content(body)
    return message


class Shop(RunningHub):
    def __init__(self, inbox: Any, hub: Any, dovecot: Dovecot, smtp: SmtpServer,
                 name: str) -> None:
        super().__init__(inbox, hub, name)
        self.dovecot = dovecot
        self.smtp = smtp

    async def wait_for(self, external_id: str, timeout: float = 10.0) -> Any:
        async def stored() -> Any:
            return (await self.messages()).get(external_id)

        return await until(stored, f"message {external_id} stored", timeout)

    async def conversation_of(self, external_id: str) -> int:
        return (await self.wait_for(external_id)).conversation_id

    async def sent(self, count: int) -> list[Any]:
        await until(lambda: holds(len(self.smtp.received) >= count), f"{count} mail(s) sent",
                    timeout=10)
        return self.smtp.received


@contextlib.asynccontextmanager
async def running(tmp_path: Path, dovecot: Dovecot, smtp: SmtpServer, **options: Any
                  ) -> AsyncIterator[Shop]:
    channel = settings(dovecot, smtp, **options)
    async with hub_running(tmp_path, channel) as (inbox, hub):
        shop = Shop(inbox, hub, dovecot, smtp, channel.name)
        await shop.wait_health(Health.OK, "IDLE", timeout=10)
        yield shop


# Receiving ---------------------------------------------------------------------------------


async def test_a_message_appended_appears_at_once_through_idle(
        tmp_path: Path, mailbox: Dovecot, smtp: SmtpServer) -> None:
    # A poll would come only after an hour: what arrives comes through IDLE.
    async with running(tmp_path, mailbox, smtp, poll_interval=3600) as shop:
        started = time.monotonic()
        await mailbox.append(mail("Is the monstera in stock?", message_id="m1@customer.example"))
        message = await shop.wait_for("m1@customer.example", timeout=5)
        assert time.monotonic() - started < 3
        [conversation] = await shop.inbox.conversations()
        card = await shop.inbox.contact_card(conversation.contact_id)
    assert message.body == "Monstera\n\nIs the monstera in stock?"
    assert message.author == "Anna K"
    assert conversation.contact_name == "Anna K"
    # The address fills the contact, so a contact with the same address from another
    # channel is suggested for merging.
    assert card is not None and card.contact.email == CUSTOMER


async def test_a_contact_with_the_same_address_elsewhere_is_suggested_for_merging(
        tmp_path: Path, mailbox: Dovecot, smtp: SmtpServer) -> None:
    from opchat.model import InboundMessage

    async with running(tmp_path, mailbox, smtp) as shop:
        # The web chat's offline form left the same address (any case).
        await shop.inbox.store.channels.ensure("site", "webchat")
        web = await shop.inbox.store.inbound.ingest(InboundMessage(
            channel="site", chat_id="visitor-1", external_id="form-1", sender_id="visitor-1",
            sender_name="Anna", body="Call me", email="Anna.K@Customer.example"))
        await mailbox.append(mail("About my form", message_id="merge@customer.example"))
        message = await shop.wait_for("merge@customer.example")
        conversation = await shop.inbox.conversation(message.conversation_id)
        assert conversation is not None
        card = await shop.inbox.contact_card(conversation.contact_id)
        web_conversation = await shop.inbox.conversation(web.conversation_id)
    assert card is not None and web_conversation is not None
    assert [(s.contact.id, s.reason) for s in card.suggestions] == [
        (web_conversation.contact_id, "email")]


async def test_without_idle_the_folder_is_looked_at_every_poll_interval(
        tmp_path: Path, mailbox: Dovecot, smtp: SmtpServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from opchat.transports.email.imap import Imap

    monkeypatch.setattr(Imap, "idle", property(lambda self: False))
    channel = settings(mailbox, smtp, poll_interval=1)
    async with hub_running(tmp_path, channel) as (inbox, hub):
        shop = Shop(inbox, hub, mailbox, smtp, channel.name)
        assert "INBOX (every 1 s)" in await shop.wait_health(Health.OK, "every 1 s")
        await mailbox.append(mail("polled", message_id="p1@customer.example"))
        await shop.wait_for("p1@customer.example", timeout=5)


async def test_a_lost_server_is_tried_again_and_the_status_bar_says_why(
        tmp_path: Path, smtp: SmtpServer) -> None:
    own = Dovecot().start()
    try:
        async with running(tmp_path, own, smtp) as shop:
            own.halt()

            async def trouble() -> str | None:
                health, detail = await shop.health()
                return detail if health in (Health.DEGRADED, Health.DOWN) and \
                    "connection refused" in detail else None

            detail = await until(trouble, "the channel to say the server is away", 10)
            assert f"IMAP {own.host}:{own.port}: connection refused" == detail
            own.launch()
            await shop.wait_health(Health.OK, "IDLE", timeout=10)
            await own.append(mail("back again", message_id="back@customer.example"))
            await shop.wait_for("back@customer.example")
    finally:
        own.stop()


async def test_uid_fetch_past_the_end_is_filtered_on_our_side(mailbox: Dovecot) -> None:
    from opchat.transports.email.imap import Imap

    uid = await mailbox.append(mail("only one"))
    imap = await Imap(mailbox.host, mailbox.port, "plain", 5).open(USER, PASSWORD)
    try:
        await imap.select("INBOX")
        # The server answers "UID FETCH n:*" past the end with its last message...
        assert client_uids(await imap.client.uid("fetch", f"{uid + 1}:*", "(UID)")) == [uid]
        # ...which is not news.
        assert await imap.uids_after(uid) == []
        assert [found for found, _size in await imap.uids_after(uid - 1)] == [uid]
        assert await imap.last_uid() == uid  # for servers that do not say UIDNEXT
    finally:
        await imap.close()


def client_uids(response: Any) -> list[int]:
    import re

    return [int(n) for line in response.lines if isinstance(line, bytes)
            for n in re.findall(rb"UID (\d+)", line)]


async def test_a_restart_takes_up_after_the_last_stored_message_without_storing_any_twice(
        tmp_path: Path, mailbox: Dovecot, smtp: SmtpServer) -> None:
    for n in range(3):
        await mailbox.append(mail(f"message {n}", message_id=f"r{n}@customer.example"))
    async with running(tmp_path, mailbox, smtp) as shop:
        for n in range(3):
            await shop.wait_for(f"r{n}@customer.example")
    await mailbox.append(mail("one more", message_id="r3@customer.example"))
    async with running(tmp_path, mailbox, smtp) as shop:
        await shop.wait_for("r3@customer.example")
        assert len(await shop.messages()) == 4
    assert events_of_new_messages(tmp_path / "opchat.db") == 4


async def test_a_new_uidvalidity_reads_the_folder_again_and_stores_each_message_once(
        tmp_path: Path, mailbox: Dovecot, smtp: SmtpServer) -> None:
    mailbox.create("Support")
    old = [mail(f"old {n}", message_id=f"v{n}@customer.example") for n in range(2)]
    for message in old:
        await mailbox.append(message, "Support")
    async with running(tmp_path, mailbox, smtp, folders=["Support"]) as shop:
        await shop.wait_for("v1@customer.example")
        before = mailbox.uidvalidity("Support")
        # The folder is rebuilt (restored from a backup, moved to another server): the same
        # mail under new UIDs, and a new message.
        mailbox.delete("Support")
        await asyncio.sleep(1.1)  # Dovecot's UIDVALIDITY counts seconds
        mailbox.create("Support")
        for message in [*old, mail("new", message_id="v2@customer.example")]:
            await mailbox.append(message, "Support")
        assert mailbox.uidvalidity("Support") != before
        await shop.wait_for("v2@customer.example", timeout=15)
        messages = await shop.messages()
    assert sorted(messages) == ["v0@customer.example", "v1@customer.example",
                                "v2@customer.example"]
    assert events_of_new_messages(tmp_path / "opchat.db") == 3


@pytest.mark.parametrize(("name", "sender", "shown", "folded", "files"), [
    ("outlook_windows1251.eml", "irina@romashka.example",
     "Добрый день!\n\nЗаказ 1042 так и не пришёл. Подскажите, пожалуйста, где он сейчас?\n\n"
     "С уважением,\nИрина Петрова\nООО «Ромашка»", "Заказ 1042 отправлен сегодня", []),
    ("gmail_reply.eml", "tom.baker@gmail.example",
     "Hi! Yes, it's the one in the photo, the 40 cm pot.\n\nCould you also add a saucer?\n\n"
     "Thanks,\nTom", "Which monstera do you mean", [("monstera.png", "image/png")]),
    ("apple_mail.eml", "anais.dupont@icloud.example",
     "Thanks, got it! The leaves look like this now, is that normal?", "Sent from my iPhone",
     [("IMG_0042.jpeg", "image/jpeg")]),
    ("thunderbird_koi8r.eml", "sergey@mail.example.ru",
     "Здравствуйте!\n\nСпасибо, фикус пришёл целым. Можно ещё один такой же, но побольше?",
     "Ваш фикус уже в пути", []),
])
def test_mail_as_common_clients_write_it_reads_without_the_quoted_history(
        name: str, sender: str, shown: str, folded: str, files: list[tuple[str, str]]) -> None:
    parsed = parse_message((DATA / name).read_bytes())
    assert parsed.from_address == sender
    assert parsed.text == shown
    assert folded in parsed.full_text and folded not in parsed.text
    assert [(f.filename, f.mime) for f in parsed.files] == files
    assert not parsed.automated and not parsed.problems


def test_subjects_are_normalised_for_threading() -> None:
    for subject in ("Re: Order 7", "RE: AW: Order 7", "Fwd: Order 7", "Ответ: Order 7",
                    "Re[2]: Order 7", "  Re:  Order   7 ", "FW: Re: Order 7"):
        assert normalise_subject(subject) == "Order 7", subject


async def test_every_kind_of_mail_is_stored_as_the_operator_should_see_it(
        tmp_path: Path, mailbox: Dovecot, smtp: SmtpServer) -> None:
    names = ["outlook_windows1251.eml", "gmail_reply.eml", "apple_mail.eml",
             "thunderbird_koi8r.eml", "html_only.eml", "malformed_headers.eml"]
    async with running(tmp_path, mailbox, smtp) as shop:
        for name in names:
            await mailbox.append((DATA / name).read_bytes())
        # A message after the broken one: the hub carries on.
        await mailbox.append(mail("still here", message_id="after@customer.example"))
        await shop.wait_for("after@customer.example")
        messages = await shop.messages()
        assert len(messages) == len(names) + 1
        html = messages["20261201130000.4F2A1@poczta.example.pl"]
        broken = next(m for key, m in messages.items() if key.startswith("sha256."))
        gmail = messages["CAH7vKp0=sK3xY+FqZ9mLw2bTn8U1oQd5Rj4AaBcDeFgHiJkL@mail.gmail.example"]
        koi8 = messages["5f0c2a7e-3b1d-4e8a-9c6f-1d2e3f4a5b6c@mail.example.ru"]
        apple = messages["9B3E7C2A-5D1F-4A8B-B6C4-2E9F0A1D3C57@icloud.example"]
    # HTML only: read as text, no markup, no script, the tracking image never fetched.
    assert "Hello, do you deliver to Kraków on weekends?" in html.body
    assert "<" not in html.body and "alert" not in html.body
    assert "tracker.example" not in html.body
    # Broken headers and a made-up charset: what can be read, with replacement characters.
    assert "Please call me back — urgent." in broken.body and "\ufffd" in broken.body
    assert broken.author.endswith("no-closing-bracket@example.org") or broken.author
    assert koi8.body.startswith("Здравствуйте!") and koi8.author == "Сергей Иванов"
    assert "Ваш фикус уже в пути" in koi8.meta["email"]["full"]
    [picture] = gmail.attachments
    assert picture.filename == "monstera.png" and Path(picture.local_path).read_bytes()[:4] \
        == b"\x89PNG"
    # A picture in the text (Apple Mail's inline image) is listed as a file too.
    [inline] = apple.attachments
    assert (inline.filename, inline.kind) == ("IMG_0042.jpeg", "photo")
    assert Path(inline.local_path).read_bytes()[:2] == b"\xff\xd8"


async def test_a_10_mb_attachment_is_stored_as_a_file(
        tmp_path: Path, mailbox: Dovecot, smtp: SmtpServer) -> None:
    payload = os.urandom(10 * 1024 * 1024)
    message = mail("the price list", message_id="big@customer.example")
    message.add_attachment(payload, maintype="application", subtype="pdf",
                           filename="Прайс 2026.pdf")
    async with running(tmp_path, mailbox, smtp) as shop:
        await mailbox.append(message)
        stored = await shop.wait_for("big@customer.example", timeout=30)
    [attachment] = stored.attachments
    assert attachment.filename == "Прайс 2026.pdf" and attachment.size == len(payload)
    path = Path(attachment.local_path)
    assert path.read_bytes() == payload
    assert path.is_relative_to(tmp_path) and (path.stat().st_mode & 0o077) == 0


# Threading and sending ----------------------------------------------------------------------


async def test_a_three_message_exchange_is_threaded_both_ways(
        tmp_path: Path, mailbox: Dovecot, smtp: SmtpServer) -> None:
    async with running(tmp_path, mailbox, smtp) as shop:
        first = mail("Do you have a 60 cm monstera?", subject="Monstera 60 cm",
                     message_id="t1@customer.example")
        await mailbox.append(first)
        conversation = await shop.conversation_of("t1@customer.example")
        await shop.inbox.send(conversation, "Yes, we do: 45 €.\nShall we deliver?")
        [reply] = await shop.sent(1)
        ours = reply.message
        assert reply.rcpt_tos == [CUSTOMER] and reply.mail_from == USER
        assert ours["Subject"] == "Re: Monstera 60 cm"
        assert ours["In-Reply-To"] == "<t1@customer.example>"
        assert ours["References"] == "<t1@customer.example>"
        assert ours["From"] == f"Lucky Shrub <{USER}>"
        assert ours.get_body(("plain",)).get_content().strip() == \
            "Yes, we do: 45 €.\nShall we deliver?"
        assert "<br>" in ours.get_body(("html",)).get_content()
        our_id = ours["Message-ID"].strip("<>")
        sent = await until(lambda: _state(shop, our_id, MessageState.SENT), "our reply sent")
        assert sent.conversation_id == conversation
        # The customer answers from their client, under another subject even: the
        # In-Reply-To names our message, so it joins the dialog.
        second = mail("Yes please, to Main St 5.", subject="AW: Re: Monstera 60 cm (address)",
                      message_id="t2@customer.example", In_Reply_To=f"<{our_id}>",
                      References=f"<t1@customer.example> <{our_id}>")
        # This one the customer's client sends through SMTP, which delivers it to the box.
        smtp.deliver_to = mailbox
        await aiosmtplib.send(second, hostname="127.0.0.1", port=smtp.port)
        assert await shop.conversation_of("t2@customer.example") == conversation
        assert (await shop.wait_for("t2@customer.example")).body == "Yes please, to Main St 5."
        await shop.inbox.send(conversation, "Done, it comes tomorrow.")
        await shop.sent(3)
        again = smtp.received[2].message
        assert again["In-Reply-To"] == "<t2@customer.example>"
        assert again["References"].split() == ["<t1@customer.example>", f"<{our_id}>",
                                               "<t2@customer.example>"]
        assert again["Subject"] == "Re: Monstera 60 cm (address)"
        # Without any In-Reply-To, the same sender and subject is the same dialog; another
        # subject is another dialog.
        await mailbox.append(mail("And a pot?", subject="RE: Monstera 60 cm",
                                  message_id="t3@customer.example"))
        await mailbox.append(mail("Hello", subject="Invoice", message_id="t4@customer.example"))
        assert await shop.conversation_of("t3@customer.example") == conversation
        assert await shop.conversation_of("t4@customer.example") != conversation
    assert chat_of_our_id(our_id) == f"{CUSTOMER} monstera 60 cm"


async def _state(shop: Shop, external_id: str, state: MessageState) -> Any:
    message = (await shop.messages()).get(external_id)
    return message if message is not None and message.state == state else None


async def test_a_colleagues_answer_from_a_mail_client_shows_as_sent_elsewhere(
        tmp_path: Path, mailbox: Dovecot, smtp: SmtpServer) -> None:
    mailbox.create("Sent")
    async with running(tmp_path, mailbox, smtp, folders=["INBOX", "Sent"]) as shop:
        await mailbox.append(mail("Is it in stock?", subject="Ficus",
                                  message_id="e1@customer.example"))
        conversation = await shop.conversation_of("e1@customer.example")
        # A colleague answers from Thunderbird; their client keeps the copy in Sent.
        answer = mail("Yes, 3 left.", subject="Re: Ficus", sender=USER, name="Lucky Shrub",
                      message_id="colleague-1@example.test",
                      In_Reply_To="<e1@customer.example>")
        answer.replace_header("To", f"Anna K <{CUSTOMER}>")
        await mailbox.append(answer, "Sent")
        echoed = await shop.wait_for("colleague-1@example.test")
        # The business's own mail to someone with no dialog starts none.
        await mailbox.append(mail("Our newsletter", subject="News", sender=USER,
                                  message_id="colleague-2@example.test",
                                  To="someone@else.example"), "Sent")
        await mailbox.append(mail("later", subject="Ficus", message_id="e2@customer.example"))
        await shop.wait_for("e2@customer.example")
        assert "colleague-2@example.test" not in await shop.messages()
        assert len(await shop.inbox.conversations()) == 1
    assert echoed.conversation_id == conversation
    assert echoed.direction == Direction.OUT and echoed.state == MessageState.SENT
    assert echoed.meta["elsewhere"] == "mail" and echoed.body == "Yes, 3 left."


async def test_a_reply_carries_its_files(tmp_path: Path, mailbox: Dovecot,
                                         smtp: SmtpServer) -> None:
    from opchat.model import Attachment

    leaflet = tmp_path / "care.pdf"
    leaflet.write_bytes(b"%PDF-1.4 care instructions")
    transport = EmailTransport(settings(mailbox, smtp), tmp_path)
    delivery = await transport.send(OutboundMessage(
        1, "mail", f"{CUSTOMER} monstera", "See the leaflet.", attachments=(Attachment(
            "document", "care.pdf", "application/pdf", local_path=str(leaflet)),)))
    [received] = smtp.received
    message = received.message
    [part] = list(message.iter_attachments())
    assert part.get_filename() == "care.pdf" and part.get_content() == leaflet.read_bytes()
    assert message["Subject"] == "Re: monstera"
    assert message["Message-ID"] == f"<{delivery.external_id}>"


async def test_a_send_the_server_may_have_taken_is_never_repeated(
        tmp_path: Path, mailbox: Dovecot, smtp: SmtpServer) -> None:
    transport = EmailTransport(settings(mailbox, smtp), tmp_path)
    out = OutboundMessage(1, "mail", f"{CUSTOMER} order", "Hello")
    smtp.data_answer = "451 4.3.0 try again later"
    with pytest.raises(Retry, match="451"):
        await transport.send(out)
    smtp.data_answer = "554 5.7.1 message refused as spam"
    with pytest.raises(Rejected, match=r"554 5\.7\.1 message refused as spam"):
        await transport.send(out)
    smtp.data_answer = "drop"  # the connection breaks after the data went out
    with pytest.raises(Rejected, match="it may have been sent"):
        await transport.send(out)
    smtp.data_answer = None
    # Refused at RCPT: no such mailbox (5.1.1) is the customer unreachable; a refusal
    # of ours (relaying denied, 5.7.1) is not.
    smtp.rcpt_answer = "550 5.1.1 <anna.k@customer.example>: user unknown"
    with pytest.raises(Rejected, match="user unknown") as refused:
        await transport.send(out)
    assert refused.value.unreachable
    smtp.rcpt_answer = "554 5.7.1 relay access denied"
    with pytest.raises(Rejected, match="relay access denied") as refused:
        await transport.send(out)
    assert not refused.value.unreachable
    smtp.rcpt_answer = None
    bad = OutboundMessage(1, "mail", "not-an-address order", "Hello")
    with pytest.raises(Rejected):
        await transport.send(bad)
    smtp.stop()  # nobody listens: nothing left, so it is tried again
    with pytest.raises(Retry, match=r"connection refused|Connect call failed"):
        await transport.send(out)
    assert smtp.received == []


# Machines: bounces, auto-replies, mail loops -----------------------------------------------


def bounce(our_id: str, recipient: str = CUSTOMER) -> bytes:
    """A delivery status notification as Postfix writes it (RFC 3464)."""
    return f"""Return-Path: <>
Date: {format_datetime(time.gmtime() and __import__('datetime').datetime.now().astimezone())}
From: MAILER-DAEMON@mx.example.test (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: {USER}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="4F2A1C0D3E.1733316000/mx.example.test"
Message-Id: <20261204121500.4F2A1C0D3E@mx.example.test>

--4F2A1C0D3E.1733316000/mx.example.test
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.test.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<{recipient}>: host mx.customer.example[192.0.2.7] said: 550 5.1.1
    <{recipient}>: Recipient address rejected: User unknown

--4F2A1C0D3E.1733316000/mx.example.test
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.test
X-Postfix-Queue-ID: 4F2A1C0D3E
Arrival-Date: Fri,  4 Dec 2026 12:14:59 +0000 (UTC)

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.customer.example
Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected:
    User unknown

--4F2A1C0D3E.1733316000/mx.example.test
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Lucky Shrub <{USER}>
To: {recipient}
Subject: Re: Monstera
Message-ID: <{our_id}>

--4F2A1C0D3E.1733316000/mx.example.test--
""".encode()


async def test_a_bounce_fails_the_reply_it_bounces_with_the_reason(
        tmp_path: Path, mailbox: Dovecot, smtp: SmtpServer) -> None:
    async with running(tmp_path, mailbox, smtp) as shop:
        await mailbox.append(mail("Hello?", message_id="b1@customer.example"))
        conversation = await shop.conversation_of("b1@customer.example")
        await shop.inbox.send(conversation, "Hello Anna!")
        [reply] = await shop.sent(1)
        our_id = reply.message["Message-ID"].strip("<>")
        await until(lambda: _state(shop, our_id, MessageState.SENT), "our reply sent")
        await mailbox.append(bounce(our_id))
        failed = await until(lambda: _state(shop, our_id, MessageState.FAILED),
                             "the reply failed", timeout=10)
        # The bounce is no dialog of its own.
        assert len(await shop.inbox.conversations()) == 1
        # A hard bounce (5.1.1): the address takes no mail, and the dialog says so the
        # way other channels' unreachable customers do...
        await until(lambda: _labels(shop, conversation, "blocked"), "the dialog labelled")
        # ...until the customer writes from it again.
        await mailbox.append(mail("Sorry, my mailbox was full", subject="Re: Monstera",
                                  message_id="b2@customer.example"))
        await shop.wait_for("b2@customer.example")
        await until(lambda: _labels(shop, conversation, None), "the label gone")
    assert "550 5.1.1" in failed.error and "User unknown" in failed.error


async def _labels(shop: Shop, conversation: int, label: str | None) -> bool:
    found = await shop.inbox.conversation(conversation)
    assert found is not None
    return label in found.labels if label else not found.labels


async def test_a_mail_that_is_only_delayed_or_soft_fails_leaves_the_customer_reachable(
        ) -> None:
    soft = bounce("opchat.ab12.mfqxg@example.test").replace(b"Status: 5.1.1",
                                                            b"Status: 4.2.2")
    soft = soft.replace(b"550 5.1.1", b"452 4.2.2")
    parsed = parse_message(soft)
    assert parsed.bounce_final and not parsed.bounce_hard
    assert parse_message(bounce("opchat.ab12.mfqxg@example.test")).bounce_hard


async def test_an_auto_reply_is_stored_marked_and_never_answered_automatically(
        tmp_path: Path, mailbox: Dovecot, smtp: SmtpServer) -> None:
    channel = settings(mailbox, smtp, auto=AutoAnswers(greeting_message="Thank you for "
                                                       "writing! We answer within a day."))
    async with hub_running(tmp_path, channel) as (inbox, hub):
        shop = Shop(inbox, hub, mailbox, smtp, "mail")
        await shop.wait_health(Health.OK, "IDLE", timeout=10)
        await mailbox.append(mail("Hi", subject="Pots", message_id="a1@customer.example"))
        [greeting] = await shop.sent(1)
        # Our greeting tells other robots not to answer it...
        assert greeting.message["Auto-Submitted"] == "auto-replied"
        # ...and the customer's out-of-office answers it anyway: stored, marked, and not
        # answered (a loop of two robots otherwise).
        away = mail("I am on holiday until Monday.", subject="Auto: Re: Pots",
                    message_id="a2@customer.example",
                    In_Reply_To=greeting.message["Message-ID"], Auto_Submitted="auto-replied",
                    X_Autoreply="yes")
        await mailbox.append(away)
        stored = await shop.wait_for("a2@customer.example")
        # A robot's first mail in a new dialog is not greeted either; a person's is.
        await mailbox.append(mail("Out of office", subject="Other thing",
                                  message_id="a3@customer.example",
                                  Auto_Submitted="auto-replied"))
        await mailbox.append(mail("Hi again", subject="Third thing",
                                  message_id="a4@customer.example"))
        sent = await shop.sent(2)
        await shop.wait_for("a3@customer.example")
        autos = [m for c in await inbox.conversations()
                 for m in await inbox.messages(c.id) if m.direction == Direction.AUTO]
    assert stored.meta["automated"] == "auto-reply"
    assert [r.rcpt_tos for r in sent] == [[CUSTOMER], [CUSTOMER]]
    assert sent[1].message["Subject"] == "Re: Third thing"
    assert len(autos) == 2


# Crashes ---------------------------------------------------------------------------------


async def test_killed_at_any_moment_every_message_is_stored_exactly_once(
        tmp_path: Path, mailbox: Dovecot, smtp: SmtpServer) -> None:
    count = 60
    serve = Serve(tmp_path, f"""
[channels.mail]
kind = "email"
imap_host = "{mailbox.host}"
imap_port = {mailbox.port}
imap_security = "plain"
smtp_host = "127.0.0.1"
smtp_port = {smtp.port}
smtp_security = "plain"
user = "{USER}"
password = "{PASSWORD}"
""")
    db = tmp_path / "data" / "opchat.db"
    ids = [f"k{n}@customer.example" for n in range(count)]

    kills_done = asyncio.Event()

    async def customers() -> None:
        for n, mid in enumerate(ids):
            if n == count // 2:
                await kills_done.wait()  # half of the mail still comes after the last kill
            await mailbox.append(mail(f"message {n}", subject=f"Thread {n % 5}",
                                      message_id=mid))
            await asyncio.sleep(0.05)

    await serve.start()
    writing = asyncio.create_task(customers())
    try:
        for target in (5, 15, 25):
            await until(lambda target=target: holds(len(stored_external_ids(db)) >= target),
                        f"{target} messages stored", timeout=30)
            serve.kill()
            await serve.killed()
            await serve.start()
        # The kills came while the customers were still writing.
        assert not writing.done()
        kills_done.set()
        await writing
        await until(lambda: holds(stored_external_ids(db) == set(ids)), "every message",
                    timeout=30)
    finally:
        writing.cancel()
        await serve.stop()
    assert events_of_new_messages(db) == count


# The command line ------------------------------------------------------------------------


async def test_channel_add_and_test_from_the_command_line(
        tmp_path: Path, mailbox: Dovecot, smtp: SmtpServer) -> None:
    env = {"SHOP_MAIL_PASSWORD": PASSWORD}
    code, out, err = await opchat(
        tmp_path, "channel", "add", "email", "--name", "support",
        "--imap-host", mailbox.host, "--imap-port", str(mailbox.port),
        "--imap-security", "plain", "--smtp-host", "127.0.0.1", "--smtp-port", str(smtp.port),
        "--smtp-security", "plain", "--user", USER, "--password-env", "SHOP_MAIL_PASSWORD",
        "--from-name", "Lucky Shrub", env=env)
    assert code == 0, err
    assert "opchat channel test support" in out
    assert PASSWORD not in (tmp_path / "config.toml").read_text()
    code, out, err = await opchat(tmp_path, "channel", "test", "support", env=env)
    assert code == 0, err
    assert f"IMAP {mailbox.host}:{mailbox.port}: logged in as {USER}, folders INBOX" in out
    assert "IDLE" in out and "logged in as" in out
    # A wrong password: the server's words.
    code, out, err = await opchat(tmp_path, "channel", "test", "support",
                                  env={"SHOP_MAIL_PASSWORD": "wrong"})
    assert code != 0
    assert f"refused the login for {USER}" in err and "AUTHENTICATIONFAILED" in err
    assert "wrong" not in err.replace("wrong password", "")
    # A folder that is not there.
    config = tmp_path / "config.toml"
    config.write_text(config.read_text().replace(
        'from_name = "Lucky Shrub"', 'from_name = "Lucky Shrub"\nfolders = ["INBOX", "Orders"]'))
    code, out, err = await opchat(tmp_path, "channel", "test", "support", env=env)
    assert code != 0
    assert f"IMAP {mailbox.host}:{mailbox.port} has no folder Orders" in err


async def test_channel_add_email_mistakes_exit_2_with_the_reason(tmp_path: Path) -> None:
    code, _out, err = await opchat(
        tmp_path, "channel", "add", "email", "--name", "support", "--imap-host", "imap.x",
        "--smtp-host", "smtp.x", "--user", USER, "--password-env", "P",
        "--imap-security", "ssl")
    assert code == 2 and "--imap-security must be tls, starttls or plain" in err
    code, _out, err = await opchat(
        tmp_path, "channel", "add", "email", "--name", "support", "--imap-host", "imap.x",
        "--user", USER, "--password-env", "P")
    assert code == 2 and "smtp" in err
    assert not (tmp_path / "config.toml").exists() or "support" not in (
        tmp_path / "config.toml").read_text()


async def test_check_names_dns_and_refused_connections(tmp_path: Path, mailbox: Dovecot,
                                                       smtp: SmtpServer) -> None:
    nowhere = EmailTransport(settings(mailbox, smtp, imap_host="imap.invalid"), tmp_path)
    with pytest.raises(CheckFailed, match=r"IMAP imap.invalid:\d+: the name does not resolve"):
        await nowhere.check()
    smtp_down = EmailTransport(settings(mailbox, smtp, smtp_port=1), tmp_path)
    with pytest.raises(CheckFailed, match=r"SMTP 127\.0\.0\.1:1: connection refused"):
        await smtp_down.check()
    # A server that takes the connection and never says a word.
    silent = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    try:
        mute = EmailTransport(settings(mailbox, smtp, imap_port=port), tmp_path)
        mute.check_timeout = 1.0
        with pytest.raises(CheckFailed, match=rf"IMAP 127\.0\.0\.1:{port}: no answer in 1 s"):
            await mute.check()
    finally:
        silent.close()


async def test_tls_and_starttls_and_an_untrusted_certificate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    own = Dovecot(tls=True).start()
    smtp = SmtpServer(tls=(own.cert, own.root / "key.pem")).start()
    try:
        untrusted = EmailTransport(settings(own, smtp, imap_security="tls",
                                            imap_port=own.tls_port), tmp_path)
        with pytest.raises(CheckFailed, match=rf"IMAP 127\.0\.0\.1:{own.tls_port}: TLS "
                                              r"failed: certificate verify failed"):
            await untrusted.check()
        monkeypatch.setenv("SSL_CERT_FILE", str(own.cert))  # trust the test's certificate
        for security, port in (("tls", own.tls_port), ("starttls", own.port)):
            transport = EmailTransport(settings(own, smtp, imap_security=security,
                                                imap_port=port, smtp_security="starttls"),
                                       tmp_path)
            said = await transport.check()
            assert f"IMAP 127.0.0.1:{port}: logged in as {USER}" in said
            assert f"SMTP 127.0.0.1:{smtp.port}: logged in as {USER}" in said
        channel = settings(own, smtp, imap_security="starttls", smtp_security="starttls")
        async with hub_running(tmp_path, channel) as (inbox, hub):
            shop = Shop(inbox, hub, own, smtp, channel.name)
            await shop.wait_health(Health.OK, "IDLE", timeout=10)
            await own.append(mail("over TLS", message_id="tls@customer.example"))
            conversation = await shop.conversation_of("tls@customer.example")
            await inbox.send(conversation, "answered over TLS")
            [sent] = await shop.sent(1)
        assert sent.message.get_body(("plain",)).get_content().strip() == "answered over TLS"
    finally:
        smtp.stop()
        own.stop()


def test_a_message_id_carries_its_dialog() -> None:
    from opchat.transports.email.parse import make_message_id

    chat = "anna@example.org заказ 1042"
    made = make_message_id(chat, "example.test")
    assert made.endswith("@example.test") and chat_of_our_id(made) == chat
    assert chat_of_our_id("CAH7vKp0@mail.gmail.example") is None
    assert parse_message(b"Subject: x\r\n\r\nhi").message_id.startswith("sha256.")


# Transcripts ------------------------------------------------------------------------------


async def test_a_dialog_from_another_channel_is_mailed_to_the_customer(
        tmp_path: Path, mailbox: Dovecot, smtp: SmtpServer) -> None:
    """[transcripts] channel = the mailbox: a Telegram dialog goes to the customer by
    e-mail when asked, and when resolved (on_resolve); notes stay out; the thread says
    where it went; a request replayed after a restart is not sent again."""
    from opchat.config import TranscriptSettings
    from opchat.model import EventKind, InboundMessage, Status

    async with running(tmp_path, mailbox, smtp) as shop:
        shop.hub.transcripts = TranscriptSettings("mail", on_resolve=True)
        inbox = shop.inbox
        await inbox.store.channels.ensure("tg", "telegram")
        got = await inbox.store.inbound.ingest(InboundMessage(
            channel="tg", chat_id="42", external_id="42:1", sender_id="42",
            sender_name="Ivan Petrov", body="Where is my order #4411?",
            email="ivan@customer.example"))
        conv = got.conversation_id
        await inbox.note(conv, "Regular customer, be kind")
        await inbox.send(conv, "It left the warehouse today.")
        await inbox.request_transcript(conv, "ivan@customer.example")
        [sent] = await shop.sent(1)
        message = sent.message
        assert sent.rcpt_tos == ["ivan@customer.example"]
        assert str(message["Subject"]).startswith("Your conversation with us")
        assert message["Auto-Submitted"] == "auto-replied"
        text = message.get_body(("plain",)).get_content()
        assert "Ivan Petrov:\n  Where is my order #4411?" in text
        assert "It left the warehouse today." in text
        assert "Regular customer" not in text

        async def noted() -> list[str]:
            return [m.body for m in await inbox.messages(conv)
                    if m.direction is Direction.NOTE and "Transcript" in m.body]

        assert await until(noted, "the note in the thread") == [
            "Transcript sent to ivan@customer.example by e-mail (mail)"]

        await inbox.set_status(conv, Status.RESOLVED)  # on_resolve: once more
        await shop.sent(2)
        await until(lambda: holds(len(smtp.received) == 2), "the second transcript")
        # A hub that starts again replays the last minutes: nothing goes twice.
        [first] = [e for e in await inbox.store.events.events_after(0)
                   if e.kind == EventKind.TRANSCRIPT_REQUESTED][:1]
        await shop.hub._send_transcript(first)
        assert len(smtp.received) == 2


async def test_a_transcript_that_cannot_go_says_why_in_the_thread(
        tmp_path: Path, mailbox: Dovecot, smtp: SmtpServer) -> None:
    from opchat.config import TranscriptSettings
    from opchat.model import InboundMessage

    smtp.data_answer = "550 5.1.1 mailbox unavailable"
    async with running(tmp_path, mailbox, smtp) as shop:
        shop.hub.transcripts = TranscriptSettings("mail")
        got = await shop.inbox.store.inbound.ingest(InboundMessage(
            channel="mail", chat_id="x y", external_id="x1", sender_id="x",
            sender_name="X", body="hello"))
        await shop.inbox.request_transcript(got.conversation_id, "nobody@customer.example")

        async def noted() -> list[str]:
            return [m.body for m in await shop.inbox.messages(got.conversation_id)
                    if m.direction is Direction.NOTE]

        [note] = await until(noted, "the note")
        assert note.startswith("Transcript to nobody@customer.example not sent:")
        assert "mailbox unavailable" in note


# The web chat's offline form answered by e-mail --------------------------------------------


@contextlib.asynccontextmanager
async def shop_with_site(tmp_path: Path, dovecot: Dovecot, smtp: SmtpServer
                         ) -> AsyncIterator[tuple[Shop, Any]]:
    """The mailbox "mail" and a web chat "site" whose answers to a visitor who left go
    by e-mail through it (``email_channel``); (shop, an aiohttp session)."""
    import aiohttp

    from opchat.hub import Hub
    from opchat.inbox import Inbox

    port = free_port()
    site = ChannelSettings("site", "webchat", {"listen": f"127.0.0.1:{port}",
                                               "origin": [SITE], "email_channel": "mail"})
    inbox = await Inbox.open(tmp_path, "anna")
    hub = Hub(inbox, [settings(dovecot, smtp), site], tmp_path)
    hub.backoff_base = 0.05
    task = asyncio.create_task(hub.run())
    session = aiohttp.ClientSession()
    try:
        await until(lambda: holds("mail" in hub.transports), "the transport")
        shop = Shop(inbox, hub, dovecot, smtp, "mail")
        await shop.wait_health(Health.OK, "IDLE", timeout=10)
        shop.site_url = f"ws://127.0.0.1:{port}/ws"  # type: ignore[attr-defined]
        yield shop, session
    finally:
        await session.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await inbox.close()


SITE = "https://shop.example"


async def visit(shop: Shop, session: Any, token: str | None = None) -> tuple[Any, dict, dict]:
    ws = await session.ws_connect(shop.site_url, headers={"Origin": SITE})  # type: ignore[attr-defined]
    await ws.send_json({"type": "hello", "token": token, "last_id": 0,
                        "page": {"url": f"{SITE}/pots"}, "language": "en"})
    welcome = await ws.receive_json(timeout=5)
    history = await ws.receive_json(timeout=5)
    assert (welcome["type"], history["type"]) == ("welcome", "history")
    return ws, welcome, history


async def test_an_offline_visitor_gets_the_answer_by_mail_and_their_reply_joins_the_dialog(
        tmp_path: Path, mailbox: Dovecot, smtp: SmtpServer) -> None:
    async with shop_with_site(tmp_path, mailbox, smtp) as (shop, session):
        inbox, hub = shop.inbox, shop.hub
        ws, welcome, _history = await visit(shop, session)
        await ws.send_json({"type": "contact", "cid": "f1", "name": "Maria",
                            "email": "maria@customer.example",
                            "text": "Do you have terracotta pots, 30 cm?"})
        ack = await ws.receive_json(timeout=5)
        form = await shop.message(ack["id"])
        conv = form.conversation_id
        # While she is on the page, the answer is only on the page.
        here = await inbox.send(conv, "Let me look in the stock.")
        await until(lambda: _sent_state(shop, here.id), "the first answer on the page")
        await ws.close()
        await until(lambda: holds(not hub.transports["site"].present(ws_visitor(welcome))),
                    "the visitor gone")
        gone = await inbox.send(conv, "Yes, 30 cm in stock, 12 euros.")
        [mailed] = await shop.sent(1)
        message = mailed.message
        assert mailed.rcpt_tos == ["maria@customer.example"]
        assert message["Subject"] == "Re: Do you have terracotta pots, 30 cm?"
        assert message["Auto-Submitted"] is None  # an operator's answer, not a robot's
        assert message.get_body(("plain",)).get_content().strip() == \
            "Yes, 30 cm in stock, 12 euros."
        mail_id = message["Message-ID"].strip("<>")

        async def notes() -> list[str]:
            return [m.body for m in await inbox.messages(conv)
                    if m.direction is Direction.NOTE]

        assert await until(notes, "the note") == [
            "The visitor has left: the answer went to maria@customer.example by e-mail "
            "(mail)"]
        # Her reply by e-mail joins the same web chat dialog, as her message.
        await mailbox.append(mail("Great, I will take two.\n\nOn Friday Lucky Shrub wrote:\n"
                                  "> Yes, 30 cm in stock, 12 euros.",
                                  subject="Re: Do you have terracotta pots, 30 cm?",
                                  sender="maria@customer.example", name="Maria",
                                  message_id="maria-1@customer.example",
                                  In_Reply_To=f"<{mail_id}>", References=f"<{mail_id}>"))
        reply = await shop.wait_for("maria-1@customer.example")
        assert reply.conversation_id == conv and reply.direction is Direction.IN
        assert reply.body == "Great, I will take two."
        assert reply.meta["by_email"] == "mail"
        from opchat.widgets.thread_view import remarks

        assert remarks(reply) == ["✉ came by e-mail from maria@customer.example (mail)"]
        conversations = await inbox.conversations()
        assert [c.id for c in conversations] == [conv]  # no email dialog of its own
        assert conversations[0].channel_name == "site"
        # Back on the page, she sees it in the history.
        ws, _welcome, history = await visit(shop, session, welcome["token"])
        assert [m["text"] for m in history["messages"]][-1] == "Great, I will take two."
        await ws.close()
        await until(lambda: holds(not hub.transports["site"].present(ws_visitor(welcome))),
                    "the visitor gone again")
        # The next answer is threaded under her mail.
        await inbox.send(conv, "Done: two pots for Friday.")
        second = (await shop.sent(2))[1].message
        assert second["In-Reply-To"] == "<maria-1@customer.example>"
        assert second["Subject"] == "Re: Do you have terracotta pots, 30 cm?"
    assert gone != here


def ws_visitor(welcome: dict) -> str:
    return welcome["token"].split(".")[1]


async def _sent_state(shop: Shop, message_id: int) -> bool:
    return (await shop.message(message_id)).state is MessageState.SENT


async def test_a_mailed_answer_that_comes_back_says_so_in_the_web_chat_dialog(
        tmp_path: Path, mailbox: Dovecot, smtp: SmtpServer) -> None:
    async with shop_with_site(tmp_path, mailbox, smtp) as (shop, session):
        ws, _welcome, _history = await visit(shop, session)
        await ws.send_json({"type": "contact", "cid": "f1", "email": "nobody@customer.example",
                            "text": "Pots?"})
        conv = (await shop.message((await ws.receive_json(timeout=5))["id"])).conversation_id
        await ws.close()
        await until(lambda: holds(not shop.hub.transports["site"].visits), "the visitor gone")
        await shop.inbox.send(conv, "Yes.")
        [mailed] = await shop.sent(1)
        mail_id = mailed.message["Message-ID"].strip("<>")
        for _twice in range(2):  # read again (a restart before the cursor moved): one note
            await mailbox.append(bounce(mail_id, "nobody@customer.example"))
        # Mail after them in the folder: once it is stored, both bounces have been read.
        await mailbox.append(mail("later", message_id="after-bounces@customer.example"))
        await shop.wait_for("after-bounces@customer.example")
        notes = [m.body for m in await shop.inbox.messages(conv)
                 if m.direction is Direction.NOTE]
        [sent_note, came_back] = notes
    assert sent_note.startswith("The visitor has left: the answer went to")
    assert came_back.startswith("The answer sent by e-mail did not arrive: the mail came "
                                "back: 550 5.1.1")


async def test_a_forged_reference_does_not_reach_a_web_chat_dialog(
        tmp_path: Path, mailbox: Dovecot, smtp: SmtpServer) -> None:
    """Only a Message-ID the hub mailed from a web chat dialog leads into it."""
    from opchat.transports.email.parse import make_message_id

    async with shop_with_site(tmp_path, mailbox, smtp) as (shop, _session):
        forged = make_message_id("maria@customer.example pots", "example.test")
        await mailbox.append(mail("let me in", sender="mallory@customer.example",
                                  message_id="forged@customer.example",
                                  In_Reply_To=f"<{forged}>"))
        stored = await shop.wait_for("forged@customer.example")
        conversation = await shop.inbox.conversation(stored.conversation_id)
    assert conversation is not None and conversation.channel_name == "mail"


# Copies of our replies in Sent ------------------------------------------------------------


async def test_replies_are_kept_in_the_folder_the_server_marks_sent(
        tmp_path: Path, mailbox: Dovecot, smtp: SmtpServer) -> None:
    mailbox.create("Sent")  # the server marks it \Sent (tests/mail_servers.py)
    async with running(tmp_path, mailbox, smtp) as shop:
        await mailbox.append(mail("Do you ship to Kazan?", message_id="s1@customer.example"))
        conversation = await shop.conversation_of("s1@customer.example")
        await shop.inbox.send(conversation, "We do, in three days.")
        [sent] = await shop.sent(1)
        kept = await until(lambda: asyncio.to_thread(mailbox.messages, "Sent"),
                           "the copy in Sent")
    [(flags, raw)] = kept
    copy = parse_message(raw)
    assert b"\\Seen" in flags
    assert copy.message_id == sent.message["Message-ID"].strip("<>")
    assert copy.text == "We do, in three days." and copy.to_addresses == [CUSTOMER]


async def test_a_copy_that_cannot_be_kept_is_shown_and_the_reply_is_not_sent_again(
        tmp_path: Path, mailbox: Dovecot, smtp: SmtpServer) -> None:
    async with running(tmp_path, mailbox, smtp, sent_folder="Gone") as shop:
        await mailbox.append(mail("Hello", message_id="s2@customer.example"))
        conversation = await shop.conversation_of("s2@customer.example")
        reply = await shop.inbox.send(conversation, "Hello!")
        detail = await shop.wait_health(Health.DEGRADED, "copy")
        assert "Gone" in detail
        assert (await shop.message(reply.id)).state is MessageState.SENT
        # The next copy that goes in clears the trouble.
        mailbox.create("Gone")
        await shop.inbox.send(conversation, "Still here.")
        await shop.wait_health(Health.OK, "INBOX")
    assert len(smtp.received) == 2


async def test_the_check_says_where_copies_of_replies_go(
        tmp_path: Path, mailbox: Dovecot, smtp: SmtpServer) -> None:
    said = await EmailTransport(settings(mailbox, smtp), tmp_path).check()
    assert said.endswith("; the mailbox has no folder marked Sent: replies are not copied "
                         "(set sent_folder to name one)"), said
    off = await EmailTransport(settings(mailbox, smtp, sent_folder=""), tmp_path).check()
    assert off.endswith("; copies of replies: off (sent_folder is empty)"), off
    with pytest.raises(CheckFailed, match="has no folder Gone"):
        await EmailTransport(settings(mailbox, smtp, sent_folder="Gone"), tmp_path).check()
    mailbox.create("Sent")  # marked \Sent by the server (tests/mail_servers.py)
    said = await EmailTransport(settings(mailbox, smtp), tmp_path).check()
    assert said.endswith("; copies of replies go to Sent"), said
