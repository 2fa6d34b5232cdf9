"""The Messenger and Instagram channels against a stand-in Graph API on 127.0.0.1
(tests/meta_api.py).

Real HTTP both ways, as for WhatsApp: the stand-in POSTs ``messaging`` webhooks
signed as Meta signs them to the hub's own web server and answers the
transport's Graph calls (profiles, the Send API, uploads, sender actions); the
real hub and SQLite files in tmp_path; the command line as a subprocess; the
crash test runs ``opchat serve`` and kills it with SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from opchat.config import ChannelSettings
from opchat.hub import Hub
from opchat.inbox import Inbox
from opchat.model import Attachment, Direction, Health, Message, MessageState, OutboundMessage
from opchat.transports import Rejected, Retry
from opchat.transports.meta.messenger import (
    MESSENGER_PLATFORM,
    InstagramTransport,
    MessengerTransport,
    convert_payload,
)
from opchat.transports.meta.webhook import NotOurs
from opchat.widgets.thread_view import remarks
from tests.channels import (
    RunningHub,
    Serve,
    deliver_through_kills,
    events_of_new_messages,
    free_port,
    holds,
    hub_running,
    stored_external_ids,
    until,
)
from tests.meta_api import (
    APP_ID,
    APP_SECRET,
    HANG,
    IG_ID,
    IGSID,
    MESSENGER_RATE_LIMIT,
    NO_MATCHING_USER,
    NOT_AVAILABLE,
    PAGE_ID,
    PAGE_INBOX_APP_ID,
    PSID,
    SENT_THEN_HANG,
    TEMPORARILY_BLOCKED,
    TOKEN,
    Error,
    GraphAPI,
    deliver,
    ig_attachment,
    ig_deleted,
    ig_echo,
    ig_reaction,
    ig_seen,
    ig_story_mention,
    ig_story_reply,
    ig_text,
    ig_webhook,
    ms_attachment,
    ms_deleted,
    ms_delivery,
    ms_echo,
    ms_media,
    ms_postback,
    ms_reaction,
    ms_read,
    ms_referral,
    ms_text,
    page_webhook,
    verify,
    webhook_body,
)

VERIFY = "page-verify-5d1e9a"
KINDS = {"messenger": MessengerTransport, "instagram": InstagramTransport}
NAMES = {"messenger": "fb", "instagram": "ig"}
CUSTOMERS = {"messenger": PSID, "instagram": IGSID}


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    for factory in KINDS.values():
        monkeypatch.setattr(factory, "retry_after", 0.1)
        monkeypatch.setattr(factory, "slow_retry", 0.2)
        monkeypatch.setattr(factory, "check_timeout", 1.0)
        monkeypatch.setattr(factory, "send_timeout", 1.0)
        monkeypatch.setattr(factory, "profile_timeout", 0.5)


@pytest.fixture
async def api() -> AsyncIterator[GraphAPI]:
    server = await GraphAPI().start()
    yield server
    await server.close()


def settings(api: GraphAPI, kind: str = "messenger", **options: Any) -> ChannelSettings:
    account = {"page_id": PAGE_ID} if kind == "messenger" else {"instagram_account_id": IG_ID}
    return ChannelSettings(NAMES[kind], kind, {
        "access_token": TOKEN, "app_secret": APP_SECRET, "verify_token": VERIFY, **account,
        "api_base": api.base, "api_version": api.version, **options})


@contextlib.asynccontextmanager
async def alone(api: GraphAPI, tmp_path: Path, kind: str = "messenger",
                **options: Any) -> AsyncIterator[MessengerTransport]:
    """The transport alone, for what needs no hub (sending, checks)."""
    transport = KINDS[kind](settings(api, kind, **options), tmp_path)
    try:
        yield transport
    finally:
        await transport.graph.close()


class Running(RunningHub):
    """A hub with one channel of ``kind``, its webhook on a port of its own."""

    def __init__(self, inbox: Inbox, hub: Hub, api: GraphAPI, url: str, kind: str) -> None:
        super().__init__(inbox, hub, NAMES[kind])
        self.api = api
        self.url = url
        self.kind = kind

    async def deliver(self, *events: dict[str, Any], **how: Any) -> tuple[int, str]:
        payload = page_webhook(*events) if self.kind == "messenger" else ig_webhook(*events)
        return await self.api.deliver(self.url, payload, **how)

    async def reply(self, text: str) -> Message:
        """An operator's reply in the (one) dialog, once it is sent."""
        [conversation] = await self.inbox.conversations()
        queued = await self.inbox.send(conversation.id, text)

        async def sent() -> Message | None:
            message = await self.message(queued.id)
            return message if message.state is MessageState.SENT else None

        return await until(sent, f"{text!r} sent")


@contextlib.asynccontextmanager
async def running(tmp_path: Path, api: GraphAPI, kind: str = "messenger",
                  **options: Any) -> AsyncIterator[Running]:
    port = free_port()
    async with hub_running(tmp_path, settings(api, kind, listen=f"127.0.0.1:{port}",
                                              **options)) as (inbox, hub):
        shop = Running(inbox, hub, api, f"http://127.0.0.1:{port}/{kind}/{NAMES[kind]}", kind)
        await shop.wait_health(Health.OK, "luckyshrub" if kind == "instagram" else "Lucky Shrub")
        yield shop


@dataclass(frozen=True)
class Events:
    """The stand-in's builders of one platform's events, for tests of both."""

    customer: str
    text: Callable[..., dict[str, Any]]
    react: Callable[..., dict[str, Any]]
    delete: Callable[..., dict[str, Any]]
    echo: Callable[..., dict[str, Any]]


EVENTS = {"messenger": Events(PSID, ms_text, ms_reaction, ms_deleted, ms_echo),
          "instagram": Events(IGSID, ig_text, ig_reaction, ig_deleted, ig_echo)}


def now_ms(offset: float = 0.0) -> int:
    return int((time.time() + offset) * 1000)


# Receiving --------------------------------------------------------------------------------


def messenger_events() -> list[dict[str, Any]]:
    """One event of each kind a Messenger customer can send, shaped as Meta documents them."""
    return [
        ms_text(PSID, "m_text", "Здравствуйте! Is the monstera in stock?"),
        ms_attachment(PSID, "m_image", "image", "https://scontent.xx.fbcdn.net/v/t1/photo.jpg",
                      text="this one"),
        ms_attachment(PSID, "m_video", "video"),
        ms_attachment(PSID, "m_audio", "audio"),
        ms_attachment(PSID, "m_file", "file", "https://cdn.fbsbx.com/v/t59/invoice.pdf"),
        ms_attachment(PSID, "m_sticker", "image", sticker_id=369239263222822),
        ms_attachment(PSID, "m_place", "location", title="Lucky Shrub"),
        ms_attachment(PSID, "m_link", "fallback", "https://shop.example/monstera",
                      title="Monstera deliciosa"),
        ms_attachment(PSID, "m_two", "image", also=[ms_media("image")]),
        ms_text(PSID, "m_reply", "yes, that one", reply_to="m_text"),
        ms_text(PSID, "m_quick", "Morning", quick_reply_payload="slot:am"),
        ms_postback(PSID, "Get Started", "GET_STARTED", mid="m_postback",
                    referral={"ref": "spring-promo", "source": "SHORTLINK",
                              "type": "OPEN_THREAD"}),
        ms_referral(PSID, source="ADS", timestamp=1741953600999),
    ]


async def test_every_kind_of_messenger_event_is_stored_as_the_operator_should_see_it(
        tmp_path: Path, api: GraphAPI) -> None:
    async with running(tmp_path, api) as shop:
        status, _ = await shop.deliver(*messenger_events())
        assert status == 200
        found = await shop.messages()
        [conversation] = await shop.inbox.conversations()

    assert conversation.contact_name == "Ирина Соколова"  # from the profile
    assert conversation.channel_kind == "messenger"
    assert len(found) == len(messenger_events())
    text = found["m_text"]
    assert (text.body, text.author) == ("Здравствуйте! Is the monstera in stock?",
                                        "Ирина Соколова")
    image = found["m_image"]
    assert image.body == "this one"
    assert [(a.kind, a.ref, a.filename) for a in image.attachments] == [
        ("photo", "https://scontent.xx.fbcdn.net/v/t1/photo.jpg", "photo.jpg")]
    assert found["m_video"].attachments[0].kind == "video"
    assert found["m_audio"].attachments[0].kind == "audio"
    assert found["m_file"].attachments[0].kind == "document"
    assert found["m_file"].attachments[0].filename == "invoice.pdf"
    assert found["m_sticker"].meta["kind"] == "sticker"
    place = found["m_place"]
    assert place.body == "Lucky Shrub (55.751244, 37.618423)"
    assert place.meta["location"] == [55.751244, 37.618423]
    assert found["m_link"].body == "Monstera deliciosa https://shop.example/monstera"
    assert len(found["m_two"].attachments) == 2
    assert found["m_reply"].reply_to_id == text.id
    quick = found["m_quick"]
    assert (quick.body, quick.meta["callback"]) == ("Morning", "slot:am")
    postback = found["m_postback"]
    assert (postback.body, postback.meta["callback"]) == ("Get Started", "GET_STARTED")
    assert postback.meta["referral"] == {"source_type": "shortlink", "ref": "spring-promo"}
    [ad] = [m for key, m in found.items() if key.startswith("referral:")]
    assert ad.meta["referral"]["headline"] == "Succulents, delivered"
    assert ad.meta["referral"]["source_type"] == "ads"
    assert remarks(ad) == ["⌖ came from an ad: Succulents, delivered"]


async def test_instagram_messages_stories_and_the_username(tmp_path: Path,
                                                          api: GraphAPI) -> None:
    async with running(tmp_path, api, "instagram") as shop:
        status, _ = await shop.deliver(
            ig_text(IGSID, "ig_text", "Ciao! Do you ship to Milan?"),
            ig_attachment(IGSID, "ig_photo", "image"),
            ig_attachment(IGSID, "ig_reel", "ig_reel",
                          "https://www.instagram.com/reel/C4x9Qm2Lk7a/"),
            ig_story_mention(IGSID, "ig_mention"),
            ig_story_reply(IGSID, "ig_story", "Love this pot!"),
            ig_text(IGSID, "ig_quick", "Large", quick_reply_payload="size:l"))
        assert status == 200
        found = await shop.messages()
        [conversation] = await shop.inbox.conversations()
        card = await shop.inbox.store.contacts.card(conversation.contact_id)

    assert conversation.contact_name == "Marco Rossi"
    assert card is not None
    [identity] = card.identities
    assert identity.identity.username == "marco.rossi.design"
    assert identity.profile == {"instagram_name": "Marco Rossi",
                                "instagram_username": "marco.rossi.design"}
    assert found["ig_photo"].attachments[0].kind == "photo"
    assert found["ig_reel"].body == "https://www.instagram.com/reel/C4x9Qm2Lk7a/"
    mention = found["ig_mention"]
    assert mention.meta["story"]["mention"] is True
    assert remarks(mention)[0].startswith("◎ mentioned you in their story: https://")
    story = found["ig_story"]
    assert story.body == "Love this pot!"
    assert story.meta["story"]["id"] == "17887498072083520"
    assert remarks(story)[0].startswith("◎ replied to your story: https://lookaside")
    assert found["ig_quick"].meta["callback"] == "size:l"


@pytest.mark.parametrize("kind", ["messenger", "instagram"])
async def test_the_profile_is_fetched_once_and_kept(tmp_path: Path, api: GraphAPI,
                                                    kind: str) -> None:
    on = EVENTS[kind]
    customer = on.customer
    async with running(tmp_path, api, kind) as shop:
        for n in range(3):
            assert (await shop.deliver(on.text(customer, f"m_{n}", f"message {n}")))[0] == 200
    # Another start of the hub: what was kept is known, nothing is asked again.
    async with running(tmp_path, api, kind) as shop:
        assert (await shop.deliver(on.text(customer, "m_3", "again")))[0] == 200
        messages = await shop.messages()
    assert len(api.calls_to(f"/{customer}")) == 1
    assert {m.author for m in messages.values()} == {
        "Ирина Соколова" if kind == "messenger" else "Marco Rossi"}
    db = sqlite3.connect(tmp_path / "opchat.db")
    [(profile,)] = db.execute("SELECT profile FROM identities").fetchall()
    assert (f"{kind}_name") in profile


async def test_a_failing_profile_fetch_never_holds_a_message_back(
        tmp_path: Path, api: GraphAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    api.fail(f"/{PSID}", HANG)
    async with running(tmp_path, api) as shop:
        status, _ = await shop.deliver(ms_text(PSID, "m_slow", "hello?"))
        assert status == 200
        [message] = (await shop.messages()).values()
        assert message.author == "Messenger …7654"
        # Asked again only after a pause, not with every message.
        await shop.deliver(ms_text(PSID, "m_again", "anyone?"))
        assert len(api.calls_to(f"/{PSID}")) == 1
        monkeypatch.setattr(MessengerTransport, "profile_pause", 0.0)
        api.fail(f"/{PSID}", Error(500, 2, "An unexpected error has occurred."))
        await shop.deliver(ms_text(PSID, "m_third", "hello??"))
        [conversation] = await shop.inbox.conversations()
        assert conversation.contact_name == "Messenger …7654"
        # The profile answers at last: the contact takes the name.
        await shop.deliver(ms_text(PSID, "m_fourth", "ah, there you are"))
        [conversation] = await shop.inbox.conversations()
        assert len(await shop.messages()) == 4
    assert conversation.contact_name == "Ирина Соколова"
    assert stored_external_ids(tmp_path / "opchat.db") == {"m_slow", "m_again", "m_third",
                                                           "m_fourth"}


async def test_the_webhook_subscription_check_echoes_the_challenge_only_to_meta(
        tmp_path: Path, api: GraphAPI) -> None:
    async with running(tmp_path, api) as shop:
        assert await verify(shop.url, VERIFY, challenge="42") == (200, "42")
        assert (await verify(shop.url, "guess"))[0] == 403


@pytest.mark.parametrize("kind", ["messenger", "instagram"])
async def test_unsigned_or_forged_deliveries_are_refused_and_nothing_is_stored(
        tmp_path: Path, api: GraphAPI, kind: str) -> None:
    event = EVENTS[kind].text(CUSTOMERS[kind], "m_forged", "forged")
    async with running(tmp_path, api, kind) as shop:
        assert (await shop.deliver(event, signature=None))[0] == 401
        assert (await shop.deliver(event, signature="sha256=" + "0" * 64))[0] == 403
        assert (await shop.deliver(event, secret="not-the-app-secret"))[0] == 403
        payload = page_webhook(event) if kind == "messenger" else ig_webhook(event)
        body = webhook_body(payload)
        tampered = body.replace(b"forged", b"FORGED")
        assert (await deliver(shop.url, raw=tampered, signature=api.sign(body)))[0] == 403
        assert await shop.messages() == {}
        assert (await shop.deliver(event))[0] == 200
        assert list(await shop.messages()) == ["m_forged"]


async def test_200_only_once_stored_and_a_redelivery_is_stored_once(
        tmp_path: Path, api: GraphAPI) -> None:
    events = [ms_text(PSID, "m_one", "first"), ms_postback(PSID, "Menu", "MENU", mid="m_two"),
              ms_referral(PSID)]
    async with running(tmp_path, api) as shop:
        assert (await shop.deliver(*events))[0] == 200
        assert len(stored_external_ids(tmp_path / "opchat.db")) == 3
        assert (await shop.deliver(*events))[0] == 200
        assert len(await shop.messages()) == 3
        assert events_of_new_messages(tmp_path / "opchat.db") == 3


async def test_foreign_payloads_get_400_and_another_pages_entries_are_left_alone(
        tmp_path: Path, api: GraphAPI) -> None:
    async with running(tmp_path, api) as shop:
        assert (await deliver(shop.url, raw=b'{"object": "pa'))[0] == 400
        assert (await shop.api.deliver(shop.url, ig_webhook(ig_text(IGSID, "x", "x"))))[0] == 400
        other = page_webhook(ms_text(PSID, "m_elsewhere", "hi"), entry_id="999999999999")
        assert (await shop.api.deliver(shop.url, other))[0] == 200
        assert await shop.messages() == {}


def test_convert_refuses_another_object_and_skips_what_is_broken() -> None:
    with pytest.raises(NotOurs):
        convert_payload("fb", MESSENGER_PLATFORM, PAGE_ID, {"object": "instagram"})
    broken = page_webhook({"sender": {}, "message": {"mid": "m_x", "text": "no sender"}},
                          {"sender": {"id": PSID}, "message": {"text": "no mid"}},
                          ms_text(PSID, "m_fine", "fine"))
    converted = convert_payload("fb", MESSENGER_PLATFORM, PAGE_ID, broken)
    assert [m.external_id for m in converted.messages] == ["m_fine"]


@pytest.mark.parametrize("kind", ["messenger", "instagram"])
async def test_a_reaction_is_shown_on_its_message_and_taken_away(
        tmp_path: Path, api: GraphAPI, kind: str) -> None:
    on = EVENTS[kind]
    customer = on.customer
    async with running(tmp_path, api, kind) as shop:
        await shop.deliver(on.text(customer, "m_hi", "hi"))
        await shop.deliver(on.react(customer, "m_hi", "love"))
        assert (await shop.messages())["m_hi"].meta["reactions"] == {customer: "\u2764\ufe0f"}
        await shop.deliver(on.react(customer, "m_hi", action="unreact"))
        assert "reactions" not in (await shop.messages())["m_hi"].meta
        assert (await shop.deliver(on.react(customer, "m_unknown")))[0] == 200
        assert len(await shop.messages()) == 1


async def test_a_read_watermark_marks_what_was_sent_until_then_read_once(
        tmp_path: Path, api: GraphAPI) -> None:
    async with running(tmp_path, api) as shop:
        await shop.deliver(ms_text(PSID, "m_ask", "Do you deliver?"))
        first = await shop.reply("Yes")
        second = await shop.reply("Today even")
        after = await shop.inbox.store.events.last_event_id()
        assert (await shop.deliver(ms_read(PSID, now_ms(-3600))))[0] == 200  # before them
        assert (await shop.message(first.id)).state is MessageState.SENT
        await shop.deliver(ms_read(PSID, now_ms(1)))
        await shop.deliver(ms_read(PSID, now_ms(2)))  # again: nothing moves back or twice
        states = [(await shop.message(m.id)).state for m in (first, second)]
        events = await shop.inbox.store.events.events_after(after)
        third = await shop.reply("Anything else?")
    assert states == [MessageState.READ, MessageState.READ]
    assert [(e.message_id, e.data) for e in events if e.kind == "message.state"] == [
        (first.id, {"state": "read"}), (second.id, {"state": "read"})]
    assert third.state is MessageState.SENT


async def test_deliveries_by_mid_and_instagrams_seen(tmp_path: Path, api: GraphAPI) -> None:
    async with running(tmp_path, api) as shop:
        await shop.deliver(ms_text(PSID, "m_ask", "Do you deliver?"))
        sent = await shop.reply("Yes")
        await shop.deliver(ms_delivery(PSID, [sent.external_id or ""], now_ms()))
        assert (await shop.message(sent.id)).state is MessageState.DELIVERED
        assert (await shop.deliver(ms_delivery(PSID, None, now_ms())))[0] == 200
    (tmp_path / "ig").mkdir()
    async with running(tmp_path / "ig", api, "instagram") as shop:
        await shop.deliver(ig_text(IGSID, "ig_ask", "Ciao"))
        sent = await shop.reply("Ciao!")
        await shop.deliver(ig_seen(IGSID, sent.external_id or "", timestamp=now_ms(1)))
        assert (await shop.message(sent.id)).state is MessageState.READ


@pytest.mark.parametrize("kind", ["messenger", "instagram"])
async def test_a_message_the_customer_deletes_is_kept_and_shown_deleted(
        tmp_path: Path, api: GraphAPI, kind: str) -> None:
    on = EVENTS[kind]
    customer, delete = on.customer, on.delete
    async with running(tmp_path, api, kind) as shop:
        await shop.deliver(on.text(customer, "m_oops", "my card number is 4242…"))
        after = await shop.inbox.store.events.last_event_id()
        assert (await shop.deliver(delete(customer, "m_oops")))[0] == 200
        assert (await shop.deliver(delete(customer, "m_oops")))[0] == 200  # redelivered
        assert (await shop.deliver(delete(customer, "m_never_stored")))[0] == 200
        message = (await shop.messages())["m_oops"]
        events = await shop.inbox.store.events.events_after(after)
    assert message.body == "my card number is 4242…"  # kept: nothing is ever deleted
    assert message.meta["deleted"] is True
    assert remarks(message) == ["✗ deleted by the customer"]
    assert [(e.kind, e.message_id) for e in events] == [("message.deleted", message.id)]


async def test_an_echo_from_elsewhere_is_stored_as_sent_and_never_sent(
        tmp_path: Path, api: GraphAPI) -> None:
    async with running(tmp_path, api) as shop:
        await shop.deliver(ms_text(PSID, "m_ask", "Do you deliver?"))
        echo = ms_echo(PSID, "m_inbox", "Yes, tomorrow", PAGE_INBOX_APP_ID,
                       timestamp=now_ms())
        assert (await shop.deliver(echo))[0] == 200
        assert (await shop.deliver(echo))[0] == 200  # redelivered: stored once
        # To a customer opchat has never heard from: let go.
        assert (await shop.deliver(ms_echo("1111222233334444", "m_cold", "Hi", 555)))[0] == 200
        found = await shop.messages()
        [conversation] = await shop.inbox.conversations()
        await asyncio.sleep(0.2)  # an outbox worker that wrongly woke would have sent it
    sent = found["m_inbox"]
    assert (sent.direction, sent.state, sent.body) == (Direction.OUT, MessageState.SENT,
                                                       "Yes, tomorrow")
    assert remarks(sent) == ["⇢ sent from elsewhere (Meta Business Suite)"]
    assert sent.author == "Meta Business Suite"
    assert "m_cold" not in found and len(found) == 2
    assert conversation.waiting_since is None  # answered elsewhere is answered
    assert conversation.preview == "Yes, tomorrow"
    assert api.sent == {}
    db = sqlite3.connect(tmp_path / "opchat.db")
    assert db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0


@pytest.mark.parametrize("kind", ["messenger", "instagram"])
async def test_echoes_of_opchats_own_sends_never_show_twice(tmp_path: Path, api: GraphAPI,
                                                            kind: str) -> None:
    on = EVENTS[kind]
    customer, echo = on.customer, on.echo
    async with running(tmp_path, api, kind) as shop:
        await shop.deliver(on.text(customer, "m_ask", "Do you deliver?"))
        reply = await shop.reply("Yes")
        # Its echo, after the send was recorded (the same mid) and before it (our app).
        await shop.deliver(echo(customer, reply.external_id or "", "Yes", APP_ID))
        await shop.deliver(echo(customer, "m_not_recorded_yet", "Yes", APP_ID))
        # Another app on the same Page: shown.
        await shop.deliver(echo(customer, "m_other_app", "From our CRM", 1234567890))
        found = await shop.messages()
    assert sorted(found) == sorted(["m_ask", reply.external_id or "", "m_other_app"])
    assert found["m_other_app"].meta["app"] == "1234567890"
    assert remarks(found["m_other_app"]) == ["⇢ sent from elsewhere"]
    assert found["m_other_app"].author == ("Messenger" if kind == "messenger" else "Instagram")
    if kind == "messenger":  # Messenger echoes carry the metadata opchat sent back
        [body] = api.sent_to(customer)
        assert body["message"]["metadata"] == "opchat"
        marked = ms_echo(customer, "m_marked", "Yes", 42, metadata="opchat")
        converted = convert_payload("fb", MESSENGER_PLATFORM, PAGE_ID, page_webhook(marked))
        assert converted.echoes == []


async def test_files_are_fetched_at_once_and_the_cdn_never_gets_the_token(
        tmp_path: Path, api: GraphAPI) -> None:
    api.add_media("PHOTO1", b"\x89PNG a photo", "image/png")
    api.add_media("PHOTO2", b"\x89PNG a bigger photo" * 100, "image/png")
    async with running(tmp_path, api, download_limit=1000) as shop:
        await shop.deliver(ms_attachment(PSID, "m_photo", "image", api.cdn_url("PHOTO1")),
                           ms_attachment(PSID, "m_big", "image", api.cdn_url("PHOTO2")))

        async def saved() -> Attachment | None:
            [attachment] = (await shop.messages())["m_photo"].attachments
            return attachment if attachment.local_path else None

        attachment = await until(saved, "the file fetched at once")
        # Over the limit: fetched when an operator asks.
        [big] = (await shop.messages())["m_big"].attachments
        assert big.local_path is None
        path = await shop.hub.transports["fb"].download(big)  # type: ignore[attr-defined]
    assert Path(attachment.local_path or "").read_bytes() == b"\x89PNG a photo"
    assert path.read_bytes() == b"\x89PNG a bigger photo" * 100
    assert path.is_relative_to(tmp_path / "attachments" / "fb")
    fetches = [call for call in api.calls if call.path.startswith("/cdn/")]
    assert fetches and all("Authorization" not in call.headers for call in fetches)


# Sending ----------------------------------------------------------------------------------


def outbound(body: str, kind: str = "messenger", **more: Any) -> OutboundMessage:
    return OutboundMessage(message_id=more.pop("message_id", 1), channel=NAMES[kind],
                           chat_id=CUSTOMERS[kind], body=body, **more)


async def test_a_reply_goes_out_as_a_response_replying_to_the_customer(
        tmp_path: Path, api: GraphAPI) -> None:
    async with running(tmp_path, api) as shop:
        await shop.deliver(ms_text(PSID, "m_ask", "Do you deliver?"))
        [conversation] = await shop.inbox.conversations()
        [asked] = await shop.inbox.messages(conversation.id)
        reply = await shop.inbox.send(conversation.id, "Yes!", reply_to_id=asked.id)

        async def sent() -> Message | None:
            message = await shop.message(reply.id)
            return message if message.state is MessageState.SENT else None

        message = await until(sent, "the reply sent")
    [body] = api.sent_to(PSID)
    assert body["recipient"] == {"id": PSID}
    assert body["messaging_type"] == "RESPONSE" and "tag" not in body
    assert body["message"] == {"text": "Yes!", "reply_to": {"mid": "m_ask"},
                               "metadata": "opchat"}
    assert message.external_id in api.sent


@pytest.mark.parametrize(("kind", "limit"), [("messenger", 2000), ("instagram", 1000)])
async def test_a_long_reply_goes_out_in_parts_within_the_platforms_limit(
        tmp_path: Path, api: GraphAPI, kind: str, limit: int) -> None:
    text = " ".join(f"word{n}" for n in range(500))  # 3,889 characters
    async with alone(api, tmp_path, kind) as transport:
        delivery = await transport.send(outbound(text, kind))
    parts = [body["message"]["text"] for body in api.sent_to(CUSTOMERS[kind])]
    assert len(parts) > 1 and all(len(part) <= limit for part in parts)
    assert " ".join(parts) == text
    assert delivery.external_id == next(iter(api.sent))
    if kind == "instagram":
        assert all("metadata" not in body["message"] for body in api.sent.values())


async def test_files_are_uploaded_then_sent_by_attachment_id(tmp_path: Path,
                                                             api: GraphAPI) -> None:
    photo = tmp_path / "box.jpg"
    photo.write_bytes(b"\xff\xd8 a jpeg")
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    async with alone(api, tmp_path) as transport:
        await transport.send(outbound("your order", attachments=(
            Attachment(kind="photo", mime="image/jpeg", local_path=str(photo)),
            Attachment(kind="document", filename="invoice.pdf", local_path=str(pdf)))))
    image, document, text = api.sent_to(PSID)
    assert image["message"]["attachment"]["type"] == "image"
    assert api.attachments[image["message"]["attachment"]["payload"]["attachment_id"]][1] == \
        b"\xff\xd8 a jpeg"
    assert document["message"]["attachment"]["type"] == "file"
    assert api.attachments[document["message"]["attachment"]["payload"]["attachment_id"]][0] \
        == "invoice.pdf"
    assert text["message"]["text"] == "your order"
    uploads = api.calls_to("/message_attachments")
    assert len(uploads) == 2 and all(call.files["filedata"] for call in uploads)


async def test_menu_choices_go_out_as_quick_replies(tmp_path: Path, api: GraphAPI) -> None:
    choices = tuple((f"Option number {n} is long", f"opt:{n}") for n in range(15))
    async with alone(api, tmp_path, "instagram") as transport:
        await transport.send(outbound("Which one?", "instagram", buttons=choices))
    [body] = api.sent_to(IGSID)
    quick = body["message"]["quick_replies"]
    assert body["message"]["text"] == "Which one?"
    assert len(quick) == 13
    assert quick[0] == {"content_type": "text", "title": "Option number 0 is l",
                        "payload": "opt:0"}


async def test_past_24_hours_the_human_agent_tag_answers_for_7_days(
        tmp_path: Path, api: GraphAPI) -> None:
    api.closed_windows.add(PSID)
    async with alone(api, tmp_path) as transport:
        assert transport.capabilities.reply_window == 24 * 3600
        with pytest.raises(Rejected) as refused:
            await transport.send(outbound("are you still there?"))
    assert "24 hours" in refused.value.reason and "human_agent" in refused.value.reason
    assert "2018278" in refused.value.reason or "(10)" in refused.value.reason
    assert api.sent_to(PSID) == []
    async with alone(api, tmp_path, human_agent=True) as transport:
        assert transport.capabilities.reply_window == 7 * 24 * 3600
        assert MessengerTransport.capabilities.reply_window == 24 * 3600
        await transport.send(outbound("we found your order"))
    [body] = api.sent_to(PSID)
    assert (body["messaging_type"], body["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")


async def test_the_app_shows_7_days_to_answer_with_human_agent(tmp_path: Path,
                                                               api: GraphAPI) -> None:
    async with running(tmp_path, api, human_agent=True) as shop:
        [channel] = await shop.inbox.channels()
    assert channel.reply_window == 7 * 24 * 3600


@pytest.mark.parametrize(("error", "unreachable"), [
    (NOT_AVAILABLE, True),
    (NO_MATCHING_USER, True),
    (TEMPORARILY_BLOCKED, False),
])
async def test_refusals_say_why_and_a_customer_gone_is_labelled(
        tmp_path: Path, api: GraphAPI, error: Error, unreachable: bool) -> None:
    api.fail("/messages", error)
    async with alone(api, tmp_path) as transport:
        with pytest.raises(Rejected) as refused:
            await transport.send(outbound("hello"))
    assert refused.value.unreachable is unreachable
    assert f"({error.code})" in refused.value.reason


async def test_a_rate_limit_waits_and_resumes_where_it_stopped(tmp_path: Path,
                                                               api: GraphAPI) -> None:
    text = " ".join(f"word{n}" for n in range(500))  # two parts on Messenger
    api.fail("/messages", None, MESSENGER_RATE_LIMIT)
    async with alone(api, tmp_path) as transport:
        with pytest.raises(Retry) as waited:
            await transport.send(outbound(text, message_id=7))
        assert "613" in waited.value.reason and waited.value.after and waited.value.progress
        await transport.send(outbound(text, message_id=7, attempt=2,
                                      progress=waited.value.progress))
    assert len(api.sent_to(PSID)) == 2


async def test_a_send_that_may_have_arrived_is_refused_not_repeated(
        tmp_path: Path, api: GraphAPI) -> None:
    api.fail("/messages", SENT_THEN_HANG)
    async with alone(api, tmp_path) as transport:
        with pytest.raises(Rejected) as unsure:
            await transport.send(outbound("one only"))
    assert "may or may not have arrived" in unsure.value.reason
    assert len(api.sent_to(PSID)) == 1


async def test_an_expired_token_retries_and_puts_the_channel_down(
        tmp_path: Path, api: GraphAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MessengerTransport, "check_every", 0.1)
    async with running(tmp_path, api) as shop:
        api.expire_token()
        await shop.wait_health(Health.DOWN, "refused the access token")
        api.expire_token(False)
        await shop.wait_health(Health.OK, "Lucky Shrub")
    async with alone(api, tmp_path) as transport:
        api.expire_token()
        with pytest.raises(Retry, match="refused the access token"):
            await transport.send(outbound("hello"))


@pytest.mark.parametrize("kind", ["messenger", "instagram"])
async def test_opening_a_dialog_marks_seen_and_typing_shows_typing(
        tmp_path: Path, api: GraphAPI, kind: str) -> None:
    customer = CUSTOMERS[kind]
    async with running(tmp_path, api, kind) as shop:
        await shop.deliver(EVENTS[kind].text(customer, "m_1", "one"))
        [conversation] = await shop.inbox.conversations()
        await shop.inbox.mark_read(conversation.id)
        await until(lambda: holds(api.calls_to("/messages")), "the read mark")
        await shop.inbox.set_typing(conversation.id)
        await until(lambda: holds(len(api.calls_to("/messages")) >= 2), "typing shown")
    actions = [call.json for call in api.calls_to("/messages")]
    assert actions[:2] == [{"recipient": {"id": customer}, "sender_action": "mark_seen"},
                           {"recipient": {"id": customer}, "sender_action": "typing_on"}]


async def test_the_automatic_menu_goes_out_as_quick_replies_and_a_tap_answers(
        tmp_path: Path, api: GraphAPI) -> None:
    from opchat.config import load_settings
    from opchat.replies import STARTER

    port = free_port()
    (tmp_path / "config.toml").write_text(f"""
language = "ru"
[menus.main]
text = "Выберите тему:"
options = [
  {{ label = "Доставка", reply = "delivery" }},
  {{ label = "Позовите человека", operator = true }},
]
[channels.fb]
kind = "messenger"
access_token = "{TOKEN}"
app_secret = "{APP_SECRET}"
page_id = "{PAGE_ID}"
api_base = "{api.base}"
listen = "127.0.0.1:{port}"
menu = "main"
""", encoding="utf-8")
    configured = load_settings(tmp_path / "config.toml", tmp_path)
    inbox = await Inbox.open(tmp_path, "anna")
    await inbox.store.replies.save_all(STARTER)
    await inbox.close()
    async with hub_running(tmp_path, configured.channels[0]) as (inbox, hub):
        shop = Running(inbox, hub, api, f"http://127.0.0.1:{port}/messenger/fb", "messenger")
        await shop.wait_health(Health.OK, "Lucky Shrub")
        # Now: a customer's message from long ago gets no automatic answer.
        await shop.deliver(ms_text(PSID, "m_hello", "Добрый день!", timestamp=now_ms()))
        [menu] = await until(lambda: holds(api.sent_to(PSID)), "the menu sent")
        [delivery, _person] = menu["message"]["quick_replies"]
        await shop.deliver(ms_text(PSID, "m_tap", delivery["title"],
                                   quick_reply_payload=delivery["payload"],
                                   timestamp=now_ms()))
        await until(lambda: holds(len(api.sent_to(PSID)) == 2), "the answer to the tap")
        [conversation] = await inbox.conversations()
        messages = await inbox.messages(conversation.id)
    assert "Выберите тему:" in menu["message"]["text"]
    assert [(m.direction, m.external_id) for m in messages][:3] == [
        (Direction.IN, "m_hello"), (Direction.AUTO, next(iter(api.sent))),
        (Direction.IN, "m_tap")]
    assert messages[2].meta["callback"] == delivery["payload"]
    assert "Доставляем" in api.sent_to(PSID)[1]["message"]["text"]


# Checking and setting up --------------------------------------------------------------------


async def test_check_says_whom_it_reached_and_what_to_paste_into_meta(
        tmp_path: Path, api: GraphAPI) -> None:
    async with alone(api, tmp_path) as transport:
        said = await transport.check()
    assert said.startswith(f"reached Lucky Shrub (page {PAGE_ID}); Meta's webhook:")
    assert f"verify token {VERIFY}" in said and "/messenger/fb" in said
    async with alone(api, tmp_path, "instagram") as transport:
        said = await transport.check()
    assert said.startswith("reached @luckyshrub (Lucky Shrub);") and "/instagram/ig" in said


async def test_channel_add_and_test_from_the_command_line(tmp_path: Path,
                                                         api: GraphAPI) -> None:
    from tests.channels import opchat

    env = {"PAGE_TOKEN": TOKEN, "META_APP_SECRET": APP_SECRET}
    code, out, err = await opchat(
        tmp_path, "channel", "add", "messenger", "--name", "fb", "--page-id", PAGE_ID,
        "--access-token-env", "PAGE_TOKEN", "--app-secret-env", "META_APP_SECRET",
        "--api-base", api.base, "--human-agent",
        "--webhook-url", "https://chat.shop.example/messenger/fb", env=env)
    assert code == 0, err
    assert "added channel fb (messenger)" in out
    assert "have your reverse proxy pass it to http://127.0.0.1:8765/messenger/fb" in out
    code, out, err = await opchat(
        tmp_path, "channel", "add", "instagram", "--name", "ig", "--instagram-account-id",
        IG_ID, "--access-token-env", "PAGE_TOKEN", "--app-secret-env", "META_APP_SECRET",
        "--api-base", api.base, "--listen", "127.0.0.1:8766", env=env)
    assert code == 0, err
    config = (tmp_path / "config.toml").read_text()
    assert TOKEN not in config and APP_SECRET not in config
    assert f'page_id = "{PAGE_ID}"' in config and "human_agent = true" in config

    code, out, err = await opchat(tmp_path, "channel", "test", "fb", env=env)
    assert (code, err) == (0, "")
    assert out.startswith(f"channel fb (messenger): reached Lucky Shrub (page {PAGE_ID}); "
                          "Meta's webhook: https://chat.shop.example/messenger/fb")
    assert "verify token " in out
    code, out, err = await opchat(tmp_path, "channel", "test", "ig", env=env)
    assert (code, err) == (0, "")
    assert "reached @luckyshrub" in out and "http://127.0.0.1:8766/instagram/ig" in out
    code, out, err = await opchat(tmp_path, "--lang", "ru", "channel", "test", "fb",
                                  env={**env, "PAGE_TOKEN": "expired"})
    assert code == 1 and out == ""
    assert "Messenger не принимает токен доступа" in err and "expired" not in err


@pytest.mark.parametrize(("kind", "flags", "said"), [
    ("messenger", ["--page-id", "lucky.shrub"], "--page-id must be the number Meta shows"),
    ("messenger", ["--page-id", "1"], "--access-token (or --access-token-env) is missing"),
    ("instagram", ["--access-token", "x", "--app-secret", "y"],
     "--instagram-account-id"),
    ("instagram", ["--instagram-account-id", "1", "--access-token", "x", "--app-secret", "y",
                   "--webhook-url", "http://chat.example/ig"],
     "Meta sends webhooks only to https://"),
])
async def test_channel_add_mistakes_exit_2_with_the_reason(
        tmp_path: Path, kind: str, flags: list[str], said: str) -> None:
    from tests.channels import opchat

    code, _, err = await opchat(tmp_path, "channel", "add", kind, "--name", "x", *flags)
    assert code == 2 and said in err and "Traceback" not in err
    assert not (tmp_path / "config.toml").exists()


# Crashes ----------------------------------------------------------------------------------


async def test_killed_at_any_moment_every_delivery_is_stored_exactly_once(
        tmp_path: Path, api: GraphAPI) -> None:
    """Meta delivers until it gets a 200, and sometimes after; the hub dies meanwhile."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/messenger/fb"
    serve = Serve(tmp_path, (
        f'[channels.fb]\nkind = "messenger"\naccess_token = "{TOKEN}"\n'
        f'app_secret = "{APP_SECRET}"\nverify_token = "{VERIFY}"\npage_id = "{PAGE_ID}"\n'
        f'api_base = "{api.base}"\nlisten = "127.0.0.1:{port}"\n'))
    db_path = serve.data / "opchat.db"
    payloads = [page_webhook(*[ms_text(f"67834592109{n % 5:05d}", f"m_{n}_{k}",
                                       f"message {n}.{k}") for k in range(3)])
                for n in range(60)]
    expected = {f"m_{n}_{k}" for n in range(60) for k in range(3)}

    async def meta(n: int) -> int:
        return (await deliver(url, payloads[n], timeout=2))[0]

    unanswered = await deliver_through_kills(serve, meta, len(payloads))
    assert stored_external_ids(db_path) == expected
    assert events_of_new_messages(db_path) == len(expected)
    assert unanswered
