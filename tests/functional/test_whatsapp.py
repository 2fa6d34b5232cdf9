"""The WhatsApp channel against a stand-in Graph API on 127.0.0.1 (tests/meta_api.py).

Real HTTP both ways: the stand-in POSTs webhooks signed as Meta signs them to
the hub's own web server, and answers the transport's Graph calls; the real
hub and SQLite files in tmp_path; the crash test runs ``opchat serve`` as a
process and kills it with SIGKILL.
"""

from __future__ import annotations

import contextlib
import sqlite3
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from opchat.config import ChannelSettings
from opchat.hub import Hub
from opchat.inbox import Inbox
from opchat.model import Attachment, Health, Message, MessageState, OutboundMessage
from opchat.transports import Rejected, Retry
from opchat.transports.meta.whatsapp import CheckFailed, WhatsAppTransport, convert_payload
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
    APP_SECRET,
    HANG,
    PAIR_RATE_LIMIT,
    PHONE_NUMBER_ID,
    RATE_LIMIT_HIT,
    SENT_THEN_HANG,
    SOMETHING_WENT_WRONG,
    TOKEN,
    WA_CUSTOMER,
    WA_CUSTOMER_NAME,
    WA_OTHER,
    GraphAPI,
    deliver,
    verify,
    wa_audio,
    wa_button,
    wa_card,
    wa_contacts,
    wa_document,
    wa_error,
    wa_image,
    wa_interactive_button_reply,
    wa_interactive_list_reply,
    wa_location,
    wa_reaction,
    wa_referral,
    wa_status,
    wa_sticker,
    wa_system,
    wa_text,
    wa_unsupported,
    wa_value,
    wa_video,
    wa_webhook,
    webhook_body,
)

VERIFY = "shop-verify-8f3b2c"


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(WhatsAppTransport, "retry_after", 0.1)
    monkeypatch.setattr(WhatsAppTransport, "slow_retry", 0.2)
    monkeypatch.setattr(WhatsAppTransport, "check_timeout", 1.0)
    monkeypatch.setattr(WhatsAppTransport, "send_timeout", 1.0)


@pytest.fixture
async def api() -> AsyncIterator[GraphAPI]:
    server = await GraphAPI().start()
    yield server
    await server.close()


def settings(api: GraphAPI, **options: Any) -> ChannelSettings:
    return ChannelSettings("wa", "whatsapp", {
        "access_token": TOKEN, "app_secret": APP_SECRET, "verify_token": VERIFY,
        "phone_number_id": PHONE_NUMBER_ID, "api_base": api.base, "api_version": api.version,
        **options})


@pytest.fixture
async def transport(api: GraphAPI, tmp_path: Path) -> AsyncIterator[WhatsAppTransport]:
    """The transport alone, for what needs no hub (sending, checks)."""
    alone = WhatsAppTransport(settings(api), tmp_path)
    yield alone
    await alone.graph.close()


class Running(RunningHub):
    """A hub with one WhatsApp channel "wa", its webhook on a port of its own."""

    def __init__(self, inbox: Inbox, hub: Hub, api: GraphAPI, url: str) -> None:
        super().__init__(inbox, hub, "wa")
        self.api = api
        self.url = url

    async def deliver(self, payload: dict[str, Any], **how: Any) -> tuple[int, str]:
        return await self.api.deliver(self.url, payload, **how)


@contextlib.asynccontextmanager
async def running(tmp_path: Path, api: GraphAPI, **options: Any) -> AsyncIterator[Running]:
    port = free_port()
    async with hub_running(tmp_path, settings(api, listen=f"127.0.0.1:{port}",
                                              **options)) as (inbox, hub):
        shop = Running(inbox, hub, api, f"http://127.0.0.1:{port}/whatsapp/wa")
        await shop.wait_health(Health.OK, "Lucky Shrub")
        yield shop


# Receiving --------------------------------------------------------------------------------


def every_kind() -> list[dict[str, Any]]:
    """One message of each kind a customer can send, shaped as Meta documents them."""
    return [
        wa_text("Здравствуйте! Is the monstera in stock?", id="wamid.text"),
        wa_image("IMG1", caption="this one", id="wamid.image"),
        wa_video("VID1", id="wamid.video"),
        wa_audio("VOICE1", voice=True, id="wamid.voice"),
        wa_audio("AUDIO1", id="wamid.audio"),
        wa_document("DOC1", filename="invoice.pdf", caption="my invoice", id="wamid.doc"),
        wa_sticker("STK1", id="wamid.sticker"),
        wa_location(name="Lucky Shrub", address="1 Main St", id="wamid.place"),
        wa_location(id="wamid.here"),
        wa_contacts(wa_card(email="anna@example.com"), id="wamid.card"),
        wa_text("yes, that one", context="wamid.text", id="wamid.reply"),
        wa_text("look", context={"forwarded": True}, id="wamid.fwd"),
        wa_text("look again", context={"frequently_forwarded": True}, id="wamid.fwd2"),
        wa_interactive_button_reply("slot:am", "Morning", id="wamid.button"),
        wa_interactive_list_reply("size:l", "Large", "30 cm pot", id="wamid.list"),
        wa_button("Stop promotions", "STOP", id="wamid.template_button"),
        wa_referral(id="wamid.ad"),
        wa_unsupported(id="wamid.unsupported"),
        wa_system(id="wamid.system"),
        wa_reaction("wamid.text", "❤️", id="wamid.reaction"),
        wa_text("Hi from Maria", from_=WA_OTHER, id="wamid.maria"),
    ]


async def test_every_kind_of_message_is_stored_as_the_operator_should_see_it(
        tmp_path: Path, api: GraphAPI) -> None:
    async with running(tmp_path, api) as shop:
        status, _ = await shop.deliver(wa_webhook(wa_value(every_kind())))
        assert status == 200
        found = await shop.messages()
        conversations = await shop.inbox.conversations()

    assert sorted(c.contact_name for c in conversations) == ["Maria", WA_CUSTOMER_NAME]
    assert {c.channel_kind for c in conversations} == {"whatsapp"}
    assert "wamid.reaction" not in found  # a reaction is not a message of its own...
    assert found["wamid.text"].meta["reactions"] == {WA_CUSTOMER: "❤️"}  # ...but on one
    assert len(found) == len(every_kind()) - 1

    text = found["wamid.text"]
    assert text.body == "Здравствуйте! Is the monstera in stock?"
    assert text.author == WA_CUSTOMER_NAME
    image = found["wamid.image"]
    assert image.body == "this one"
    assert [(a.kind, a.mime, a.ref) for a in image.attachments] == [
        ("photo", "image/jpeg", "IMG1")]
    assert found["wamid.voice"].attachments[0].kind == "voice"
    assert found["wamid.audio"].attachments[0].kind == "audio"
    assert found["wamid.video"].attachments[0].kind == "video"
    doc = found["wamid.doc"]
    assert (doc.body, doc.attachments[0].filename) == ("my invoice", "invoice.pdf")
    assert found["wamid.sticker"].meta["kind"] == "sticker"
    place = found["wamid.place"]
    assert place.body == "Lucky Shrub, 1 Main St (55.751244, 37.618423)"
    assert place.meta["location"] == [55.751244, 37.618423]
    assert found["wamid.here"].body == "55.751244, 37.618423"
    assert found["wamid.card"].body == "Анна Смирнова: +7 916 765-43-21, anna@example.com"
    assert found["wamid.reply"].reply_to_id == text.id
    assert found["wamid.fwd"].meta["forwarded"] == "once"
    assert found["wamid.fwd2"].meta["forwarded"] == "many"
    button = found["wamid.button"]
    assert (button.body, button.meta["callback"]) == ("Morning", "slot:am")
    assert found["wamid.list"].meta["callback"] == "size:l"
    assert found["wamid.template_button"].meta["callback"] == "STOP"
    ad = found["wamid.ad"]
    assert ad.meta["referral"]["headline"] == "Succulents, delivered"
    assert ad.meta["referral"]["source_url"] == "https://fb.me/3cr4Wqqkv"
    unsupported = found["wamid.unsupported"]
    assert unsupported.meta["kind"] == "unsupported"
    assert "131051" in unsupported.meta["unsupported"]
    assert "changed from" in found["wamid.system"].body

    db = sqlite3.connect(tmp_path / "opchat.db")
    phones = {row[0] for row in db.execute("SELECT phone FROM contacts")}
    assert f"+{WA_CUSTOMER}" in phones and f"+{WA_OTHER}" in phones


async def test_a_reaction_is_shown_on_its_message_changed_and_taken_away(
        tmp_path: Path, api: GraphAPI) -> None:
    async with running(tmp_path, api) as shop:
        await shop.deliver(wa_webhook(wa_value([wa_text("hi", id="wamid.hi")])))
        [conversation] = await shop.inbox.conversations()
        after = await shop.inbox.store.events.last_event_id()
        for emoji in ("👍", "😂", ""):
            await shop.deliver(wa_webhook(wa_value([wa_reaction("wamid.hi", emoji)])))
            [message] = await shop.inbox.messages(conversation.id)
            assert message.meta.get("reactions", {}) == ({WA_CUSTOMER: emoji} if emoji else {})
        # To a message opchat never stored: let go, acknowledged.
        assert (await shop.deliver(wa_webhook(wa_value([wa_reaction("wamid.older")]))))[0] == 200
        events = await shop.inbox.store.events.events_after(after)
        assert len(await shop.inbox.messages(conversation.id)) == 1
    assert [e.kind for e in events if e.kind == "message.reaction"] == ["message.reaction"] * 3


async def test_the_webhook_subscription_check_echoes_the_challenge_only_to_meta(
        tmp_path: Path, api: GraphAPI) -> None:
    async with running(tmp_path, api) as shop:
        assert await verify(shop.url, VERIFY, challenge="1158201444") == (200, "1158201444")
        assert (await verify(shop.url, "guess"))[0] == 403
        assert (await verify(shop.url, VERIFY, mode="unsubscribe"))[0] == 403


async def test_without_a_verify_token_one_is_derived_from_the_app_secret(
        tmp_path: Path, api: GraphAPI) -> None:
    options = settings(api).options
    del options["verify_token"]
    made = WhatsAppTransport(ChannelSettings("wa", "whatsapp", options), tmp_path)
    again = WhatsAppTransport(ChannelSettings("wa", "whatsapp", options), tmp_path / "x")
    other = WhatsAppTransport(ChannelSettings("wa2", "whatsapp", options), tmp_path)
    # The same for the hub, channel test and doctor (whatever data dir), nothing kept.
    assert made.verify_token == again.verify_token != other.verify_token
    assert len(made.verify_token) == 32 and APP_SECRET not in made.verify_token
    assert list(tmp_path.iterdir()) == []
    await made.graph.close()


async def test_unsigned_or_forged_deliveries_are_refused_and_nothing_is_stored(
        tmp_path: Path, api: GraphAPI) -> None:
    payload = wa_webhook(wa_value([wa_text("forged", id="wamid.forged")]))
    async with running(tmp_path, api) as shop:
        assert (await shop.deliver(payload, signature=None))[0] == 401
        assert (await shop.deliver(payload, signature="sha256=" + "0" * 64))[0] == 403
        assert (await shop.deliver(payload, secret="not-the-app-secret"))[0] == 403
        # Signed, then changed on the way: the signature no longer matches the bytes.
        body = webhook_body(payload)
        tampered = body.replace(b"forged", b"FORGED")
        status, _ = await deliver(shop.url, raw=tampered, signature=api.sign(body))
        assert status == 403
        assert await shop.messages() == {}
        assert (await shop.deliver(payload))[0] == 200
        assert list(await shop.messages()) == ["wamid.forged"]


async def test_200_only_once_stored_and_a_redelivery_is_stored_once(
        tmp_path: Path, api: GraphAPI) -> None:
    payload = wa_webhook(wa_value([wa_text("first", id="wamid.one"),
                                   wa_text("second", id="wamid.two")]))
    async with running(tmp_path, api) as shop:
        status, _ = await shop.deliver(payload)
        # Answered means committed: the file holds both already.
        assert status == 200
        assert stored_external_ids(tmp_path / "opchat.db") == {"wamid.one", "wamid.two"}
        assert (await shop.deliver(payload))[0] == 200  # Meta delivers again
        assert len(await shop.messages()) == 2
        assert events_of_new_messages(tmp_path / "opchat.db") == 2


async def test_malformed_foreign_and_oversized_bodies_get_4xx_and_the_hub_carries_on(
        tmp_path: Path, api: GraphAPI) -> None:
    async with running(tmp_path, api) as shop:
        assert (await deliver(shop.url, raw=b'{"object": "whatsapp_bus'))[0] == 400
        assert (await deliver(shop.url, raw=b'["a", "list"]'))[0] == 400
        assert (await shop.deliver({"object": "page", "entry": []}))[0] == 400
        big = wa_webhook(wa_value([wa_text("x" * 2_000_000, id="wamid.big")]))
        assert (await shop.deliver(big))[0] == 413
        # Another number's change (one app, two numbers): not ours, acknowledged, not stored.
        other = wa_webhook(wa_value([wa_text("elsewhere", id="wamid.elsewhere")],
                                    phone_number_id="999999999999"))
        assert (await shop.deliver(other))[0] == 200
        assert await shop.messages() == {}
        ok = wa_webhook(wa_value([wa_text("still here", id="wamid.ok")]))
        assert (await shop.deliver(ok))[0] == 200
        assert list(await shop.messages()) == ["wamid.ok"]


async def test_a_failure_to_store_answers_500_so_meta_delivers_again(
        tmp_path: Path, api: GraphAPI) -> None:
    payload = wa_webhook(wa_value([wa_text("poison", id="wamid.poison")]))
    async with running(tmp_path, api) as shop:
        db = sqlite3.connect(tmp_path / "opchat.db")
        db.execute("CREATE TRIGGER poison BEFORE INSERT ON messages WHEN NEW.body = 'poison' "
                   "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END")
        db.commit()
        assert (await shop.deliver(payload))[0] == 500
        assert await shop.messages() == {}
        await shop.wait_health(Health.DEGRADED, "cannot store: IntegrityError: disk trouble")
        db.execute("DROP TRIGGER poison")
        db.commit()
        db.close()
        assert (await shop.deliver(payload))[0] == 200  # Meta, again
        assert list(await shop.messages()) == ["wamid.poison"]
        await shop.wait_health(Health.OK, "Lucky Shrub")


async def test_files_are_fetched_through_the_media_endpoint_when_asked(
        tmp_path: Path, api: GraphAPI) -> None:
    api.add_media("IMG9", b"\x89PNG fake image bytes", "image/png")
    async with running(tmp_path, api) as shop:
        await shop.deliver(wa_webhook(wa_value([wa_image("IMG9", mime_type="image/png",
                                                         id="wamid.img9")])))
        [attachment] = (await shop.messages())["wamid.img9"].attachments
        path = await shop.hub.transports["wa"].download(attachment)  # type: ignore[attr-defined]
    assert path.read_bytes() == b"\x89PNG fake image bytes"
    assert path.is_relative_to(tmp_path / "attachments" / "wa")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    [info, fetch] = [c for c in api.calls if "IMG9" in c.path or c.path.startswith("/media/")]
    assert fetch.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "access_token" not in fetch.query and "access_token" not in info.query


async def test_small_files_are_fetched_at_once_under_the_download_limit(
        tmp_path: Path, api: GraphAPI) -> None:
    api.add_media("DOC5", b"%PDF-1.4 small", "application/pdf")
    async with running(tmp_path, api, download_limit=1000) as shop:
        await shop.deliver(wa_webhook(wa_value([wa_document("DOC5", id="wamid.doc5")])))

        async def saved() -> Attachment | None:
            [attachment] = (await shop.messages())["wamid.doc5"].attachments
            return attachment if attachment.local_path else None

        attachment = await until(saved, "the file fetched at once")
    assert Path(attachment.local_path or "").read_bytes() == b"%PDF-1.4 small"


# Sending ----------------------------------------------------------------------------------


def outbound(body: str, **more: Any) -> OutboundMessage:
    return OutboundMessage(message_id=more.pop("message_id", 1), channel="wa",
                           chat_id=WA_CUSTOMER, body=body, **more)


async def test_a_reply_goes_out_as_text_without_link_previews_replying_to_the_customer(
        tmp_path: Path, api: GraphAPI) -> None:
    async with running(tmp_path, api) as shop:
        await shop.deliver(wa_webhook(wa_value([wa_text("Do you deliver?", id="wamid.ask")])))
        [conversation] = await shop.inbox.conversations()
        [asked] = await shop.inbox.messages(conversation.id)
        reply = await shop.inbox.send(conversation.id, "Yes, see https://shop.example",
                                      reply_to_id=asked.id)

        async def sent() -> Message | None:
            message = await shop.message(reply.id)
            return message if message.state is MessageState.SENT else None

        message = await until(sent, "the reply sent")
    [body] = api.sent_to(WA_CUSTOMER)
    assert body["type"] == "text"
    assert body["text"] == {"body": "Yes, see https://shop.example", "preview_url": False}
    assert body["context"] == {"message_id": "wamid.ask"}
    assert message.external_id in api.sent


async def test_statuses_move_the_mark_forward_never_back_and_a_failure_says_why(
        tmp_path: Path, api: GraphAPI) -> None:
    async with running(tmp_path, api) as shop:
        await shop.deliver(wa_webhook(wa_value([wa_text("hello", id="wamid.hello")])))
        [conversation] = await shop.inbox.conversations()
        first = await shop.inbox.send(conversation.id, "Hi! How can I help?")
        second = await shop.inbox.send(conversation.id, "Are you there?")

        async def both_sent() -> list[Message] | None:
            found = [await shop.message(m.id) for m in (first, second)]
            return found if all(m.state is MessageState.SENT for m in found) else None

        one, two = await until(both_sent, "both replies sent")
        # Read arrives before delivered (Meta does not promise the order).
        await shop.deliver(wa_webhook(wa_value(statuses=[
            wa_status(one.external_id or "", "read"),
            wa_status(one.external_id or "", "delivered"),
            wa_status(two.external_id or "", "failed", errors=[wa_error(
                131026, "Message undeliverable", "Message failed to send because the user "
                "hasn't accepted the latest terms")])])))
        one, two = await shop.message(one.id), await shop.message(two.id)
    assert one.state is MessageState.READ
    assert two.state is MessageState.FAILED
    assert "131026" in (two.error or "") and "latest terms" in (two.error or "")


async def test_a_long_reply_goes_out_in_parts_and_a_rate_limit_resumes_where_it_stopped(
        transport: WhatsAppTransport, api: GraphAPI) -> None:
    text = " ".join(f"word{n}" for n in range(1200))  # 9,689 characters: three parts
    api.fail("/messages", None, RATE_LIMIT_HIT)  # the first part goes, the second waits
    with pytest.raises(Retry) as waited:
        await transport.send(outbound(text, message_id=7))
    assert waited.value.after and waited.value.progress
    assert len(api.sent_to(WA_CUSTOMER)) == 1
    # After a restart the outbox hands the progress back.
    again = WhatsAppTransport(transport_settings(transport), transport.data_dir)
    delivery = await again.send(outbound(text, message_id=7, attempt=2,
                                         progress=waited.value.progress))
    await again.graph.close()
    parts = [body["text"]["body"] for body in api.sent_to(WA_CUSTOMER)]
    assert len(parts) == 3 and all(len(part) <= 4096 for part in parts)
    assert " ".join(parts) == text
    assert delivery.external_id == next(iter(api.sent))


def transport_settings(transport: WhatsAppTransport) -> ChannelSettings:
    return ChannelSettings("wa", "whatsapp", {
        "access_token": TOKEN, "app_secret": APP_SECRET, "verify_token": VERIFY,
        "phone_number_id": PHONE_NUMBER_ID, "api_base": transport.graph.base,
        "api_version": transport.graph.version})


@pytest.mark.parametrize(("error", "words"), [
    (RATE_LIMIT_HIT, "130429"),
    (PAIR_RATE_LIMIT, "131056"),
    (SOMETHING_WENT_WRONG, "131000"),
])
async def test_rate_limits_and_platform_trouble_wait_and_retry(
        transport: WhatsAppTransport, api: GraphAPI, error: Any, words: str) -> None:
    api.fail("/messages", error)
    with pytest.raises(Retry) as waited:
        await transport.send(outbound("hello"))
    assert words in waited.value.reason and waited.value.after
    await transport.send(outbound("hello"))
    assert len(api.sent_to(WA_CUSTOMER)) == 1


async def test_outside_the_window_a_reply_is_refused_saying_why(
        transport: WhatsAppTransport, api: GraphAPI) -> None:
    api.closed_windows.add(WA_CUSTOMER)
    with pytest.raises(Rejected) as refused:
        await transport.send(outbound("are you still there?"))
    assert "24 hours" in refused.value.reason and "131047" in refused.value.reason
    api.unreachable.add(WA_CUSTOMER)
    with pytest.raises(Rejected) as refused:
        await transport.send(outbound("hello?"))
    assert "131026" in refused.value.reason
    assert api.sent_to(WA_CUSTOMER) == []


async def test_a_send_that_may_have_arrived_is_refused_not_repeated(
        transport: WhatsAppTransport, api: GraphAPI) -> None:
    api.fail("/messages", SENT_THEN_HANG)
    with pytest.raises(Rejected) as unsure:
        await transport.send(outbound("one only"))
    assert "may or may not have arrived" in unsure.value.reason
    assert len(api.sent_to(WA_CUSTOMER)) == 1


async def test_an_expired_token_puts_the_channel_down_saying_so(
        tmp_path: Path, api: GraphAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(WhatsAppTransport, "check_every", 0.1)
    async with running(tmp_path, api) as shop:
        api.expire_token()
        await shop.wait_health(Health.DOWN, "refused the access token")
        api.expire_token(False)
        await shop.wait_health(Health.OK, "Lucky Shrub")


async def test_files_are_uploaded_then_sent_with_the_text_as_caption(
        transport: WhatsAppTransport, api: GraphAPI, tmp_path: Path) -> None:
    photo = tmp_path / "box.jpg"
    photo.write_bytes(b"\xff\xd8 a jpeg")
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    await transport.send(outbound("your order", attachments=(
        Attachment(kind="photo", mime="image/jpeg", local_path=str(photo)),
        Attachment(kind="document", filename="invoice.pdf", local_path=str(pdf)))))
    image, document = api.sent_to(WA_CUSTOMER)
    assert image["type"] == "image" and image["image"]["caption"] == "your order"
    assert api.media[image["image"]["id"]].content == b"\xff\xd8 a jpeg"
    assert document["document"]["filename"] == "invoice.pdf"
    assert "caption" not in document["document"]
    [upload, _] = api.calls_to("/media")
    assert upload.form["messaging_product"] == "whatsapp"


async def test_menu_choices_go_out_as_buttons_or_a_list(transport: WhatsAppTransport,
                                                         api: GraphAPI) -> None:
    await transport.send(outbound("When shall we deliver?", buttons=(
        ("Morning", "slot:am"), ("Evening", "slot:pm"))))
    choices = [(f"Option {n}", f"opt:{n}") for n in range(1, 6)]
    await transport.send(outbound("Which one?", buttons=tuple(choices)))
    buttons, listed = api.sent_to(WA_CUSTOMER)
    assert buttons["interactive"]["type"] == "button"
    assert buttons["interactive"]["body"] == {"text": "When shall we deliver?"}
    assert [b["reply"] for b in buttons["interactive"]["action"]["buttons"]] == [
        {"id": "slot:am", "title": "Morning"}, {"id": "slot:pm", "title": "Evening"}]
    assert listed["interactive"]["type"] == "list"
    [section] = listed["interactive"]["action"]["sections"]
    assert [row["id"] for row in section["rows"]] == [p for _, p in choices]


async def test_opening_a_dialog_marks_read_and_typing_shows_typing(
        tmp_path: Path, api: GraphAPI) -> None:
    async with running(tmp_path, api) as shop:
        await shop.deliver(wa_webhook(wa_value([wa_text("one", id="wamid.m1"),
                                                wa_text("two", id="wamid.m2")])))
        [conversation] = await shop.inbox.conversations()
        await shop.inbox.mark_read(conversation.id)  # the operator opened it
        [read] = await until(lambda: holds(api.calls_to("/messages")), "the read mark")
        await shop.inbox.set_typing(conversation.id)  # the operator types
        await until(lambda: holds(len(api.calls_to("/messages")) == 2), "typing shown")
    typing = api.calls_to("/messages")[1].json
    assert read.json == {"messaging_product": "whatsapp", "status": "read",
                         "message_id": "wamid.m2"}
    assert typing["typing_indicator"] == {"type": "text"}
    assert typing["message_id"] == "wamid.m2"


# Checking and setting up --------------------------------------------------------------------


async def test_check_says_whom_it_reached_and_what_to_paste_into_meta(
        transport: WhatsAppTransport) -> None:
    said = await transport.check()
    assert "+1 555-078-3881 (Lucky Shrub)" in said
    assert f"verify token {VERIFY}" in said and "/whatsapp/wa" in said


async def test_check_says_exactly_why_it_failed(transport: WhatsAppTransport,
                                                api: GraphAPI) -> None:
    api.expire_token()
    with pytest.raises(CheckFailed, match=r"refused the access token.*Session has expired.*190"):
        await transport.check()
    api.expire_token(False)
    api.fail(PHONE_NUMBER_ID, HANG)
    with pytest.raises(CheckFailed, match="no answer in time"):
        await transport.check()


def test_a_payload_for_another_object_is_not_ours() -> None:
    from opchat.transports.meta.webhook import NotOurs

    with pytest.raises(NotOurs):
        convert_payload("wa", PHONE_NUMBER_ID, {"object": "instagram", "entry": []})
    assert convert_payload("wa", PHONE_NUMBER_ID, {"object": "whatsapp_business_account",
                                                   "entry": "garbage"}).messages == []
    # A message with no id or sender is skipped, the rest kept.
    broken = wa_webhook(wa_value([{"type": "text", "text": {"body": "no id"}},
                                  wa_text("fine", id="wamid.fine")]))
    assert [m.external_id for m in convert_payload("wa", PHONE_NUMBER_ID, broken).messages
            ] == ["wamid.fine"]


# Crashes ----------------------------------------------------------------------------------


def serve_wa(tmp_path: Path, api: GraphAPI, port: int) -> Serve:
    return Serve(tmp_path, (
        f'[channels.wa]\nkind = "whatsapp"\naccess_token = "{TOKEN}"\n'
        f'app_secret = "{APP_SECRET}"\nverify_token = "{VERIFY}"\n'
        f'phone_number_id = "{PHONE_NUMBER_ID}"\napi_base = "{api.base}"\n'
        f'listen = "127.0.0.1:{port}"\n'))


async def test_killed_at_any_moment_every_delivery_is_stored_exactly_once(
        tmp_path: Path, api: GraphAPI) -> None:
    """Meta delivers until it gets a 200, and sometimes after; the hub dies meanwhile."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/whatsapp/wa"
    serve = serve_wa(tmp_path, api, port)
    db_path = serve.data / "opchat.db"
    payloads = [wa_webhook(wa_value([wa_text(f"message {n}.{k}", id=f"wamid.{n}.{k}",
                                             from_=f"7916000{n % 5:04d}") for k in range(3)]))
                for n in range(60)]
    expected = {f"wamid.{n}.{k}" for n in range(60) for k in range(3)}

    async def meta(n: int) -> int:
        return (await deliver(url, payloads[n], timeout=2))[0]

    unanswered = await deliver_through_kills(serve, meta, len(payloads))
    assert stored_external_ids(db_path) == expected
    assert events_of_new_messages(db_path) == len(expected)
    # The kills did hit deliveries in flight (or while the hub was down).
    assert unanswered


async def test_killed_while_sending_the_message_is_failed_not_sent_again(
        tmp_path: Path, api: GraphAPI) -> None:
    port = free_port()
    serve = serve_wa(tmp_path, api, port)
    await serve.start()
    url = f"http://127.0.0.1:{port}/whatsapp/wa"

    async def delivered() -> bool:
        with contextlib.suppress(Exception):
            payload = wa_webhook(wa_value([wa_text("Is it in stock?", id="wamid.stock")]))
            return (await deliver(url, payload, timeout=2))[0] == 200
        return False

    await until(delivered, "the hub to take the webhook", timeout=30)
    inbox = await Inbox.open(serve.data, "anna")  # an operator's opchat beside the hub
    try:
        [conversation] = await inbox.conversations()
        api.fail("/messages", SENT_THEN_HANG)  # Meta takes it; the hub dies before the answer
        reply = await inbox.send(conversation.id, "Yes, 3 left")
        await until(lambda: holds(api.sent_to(WA_CUSTOMER)), "the send", timeout=20)
        serve.kill()
        await serve.killed()
        await serve.start()

        async def failed() -> Message | None:
            message = await inbox.message(reply.id)
            return message if message and message.state is MessageState.FAILED else None

        message = await until(failed, "the message marked failed", timeout=30)
    finally:
        await serve.stop()
        await inbox.close()
    assert "may or may not have arrived" in (message.error or "")
    assert len(api.sent_to(WA_CUSTOMER)) == 1


# Templates ----------------------------------------------------------------------------------


def test_a_templates_text_is_filled_by_editing_it_in_place() -> None:
    from opchat.templates import Unfilled, filled, from_graph, read, text_of
    from tests.meta_api import default_templates

    template = from_graph(default_templates()[0])
    assert template is not None and template.buttons == ("Where is it?", "Talk to a person")
    assert text_of(template) == ("Order {{1}} is on its way\n\nHi {{1}}, your order {{2}} has "
                                 "shipped and should arrive by {{3}}.\n\nLucky Shrub")
    # Wrapped differently in the composer: still the template's words.
    typed = ("Order #77 is on its way\nHi Ivan, your order #77 has\nshipped and should arrive "
             "by Monday 5 Dec.\n\nLucky Shrub")
    use = read(template, typed)
    assert (use.header, use.body) == (("#77",), ("Ivan", "#77", "Monday 5 Dec"))
    assert filled(template, use) == ("Order #77 is on its way\n\nHi Ivan, your order #77 has "
                                     "shipped and should arrive by Monday 5 Dec.\n\nLucky Shrub")
    with pytest.raises(Unfilled, match="only the"):
        read(template, typed.replace("has\nshipped", "was sent"))
    with pytest.raises(Unfilled, match=r"fill in \{\{2\}\}"):
        read(template, text_of(template).replace("Order {{1}}", "Order #1").replace(
            "Hi {{1}}", "Hi Ivan"))


async def test_a_template_goes_out_as_one_when_the_window_has_closed(
        transport: WhatsAppTransport, api: GraphAPI) -> None:
    from opchat.model import TemplateUse

    api.closed_windows.add(WA_CUSTOMER)
    use = TemplateUse("order_shipped", "en_US", ("#77",), ("Ivan", "#77", "Monday"))
    delivery = await transport.send(outbound("Order #77 is on its way…", template=use))
    [body] = api.sent_to(WA_CUSTOMER)
    assert delivery.external_id in api.sent
    assert body["type"] == "template"
    assert body["template"] == {
        "name": "order_shipped", "language": {"code": "en_US"}, "components": [
            {"type": "header", "parameters": [{"type": "text", "text": "#77"}]},
            {"type": "body", "parameters": [{"type": "text", "text": "Ivan"},
                                            {"type": "text", "text": "#77"},
                                            {"type": "text", "text": "Monday"}]}]}


async def test_the_hub_keeps_the_accounts_templates_for_the_app(
        tmp_path: Path, api: GraphAPI) -> None:
    async with running(tmp_path, api, business_account_id="102290129340398") as shop:
        await shop.deliver(wa_webhook(wa_value([wa_text("hello", id="wamid.t1")])))
        [conversation] = await shop.inbox.conversations()

        async def offered() -> list[Any]:
            return await shop.inbox.templates(conversation)

        templates = await until(offered, "the templates kept")
    assert [(t.name, t.language) for t in templates] == [("order_shipped", "en_US"),
                                                          ("visit_reminder", "ru")]
    assert templates[1].body.startswith("Здравствуйте, {{1}}!")


async def test_a_template_reply_is_queued_with_its_values_and_sent_as_the_template(
        tmp_path: Path, api: GraphAPI) -> None:
    from opchat.model import TemplateUse

    api.closed_windows.add(WA_CUSTOMER)
    async with running(tmp_path, api) as shop:
        await shop.deliver(wa_webhook(wa_value([wa_text("hello", id="wamid.t2")])))
        [conversation] = await shop.inbox.conversations()
        use = TemplateUse("visit_reminder", "ru", (), ("Иван", "5 декабря", "14:30"))
        text = "Здравствуйте, Иван! Напоминаем о визите 5 декабря в 14:30."
        reply = await shop.inbox.send(conversation.id, text, template=use)

        async def sent() -> Message | None:
            message = await shop.message(reply.id)
            return message if message.state is MessageState.SENT else None

        message = await until(sent, "the template sent")
    assert message.body == text and message.meta["template"]["name"] == "visit_reminder"
    [body] = api.sent_to(WA_CUSTOMER)
    assert body["template"]["components"][0]["parameters"][2] == {"type": "text",
                                                                   "text": "14:30"}


async def test_channel_add_test_and_templates_from_the_command_line(
        tmp_path: Path, api: GraphAPI) -> None:
    from tests.channels import opchat

    env = {"WA_TOKEN": TOKEN, "WA_APP_SECRET": APP_SECRET}
    code, out, err = await opchat(
        tmp_path, "channel", "add", "whatsapp", "--name", "wa", "--phone-number-id",
        PHONE_NUMBER_ID, "--business-account-id", "102290129340398", "--access-token-env",
        "WA_TOKEN", "--app-secret-env", "WA_APP_SECRET", "--api-base", api.base,
        "--webhook-url", "https://chat.shop.example/whatsapp/wa", env=env)
    assert code == 0, err
    assert "added channel wa (whatsapp)" in out
    assert "have your reverse proxy pass it to http://127.0.0.1:8765/whatsapp/wa" in out
    config = (tmp_path / "config.toml").read_text()
    assert TOKEN not in config and APP_SECRET not in config
    assert 'phone_number_id = "106540352242922"' in config

    code, out, err = await opchat(tmp_path, "channel", "test", "wa", env=env)
    assert (code, err) == (0, "")
    assert out.startswith("channel wa (whatsapp): reached +1 555-078-3881 (Lucky Shrub); "
                          "Meta's webhook: https://chat.shop.example/whatsapp/wa")
    code, out, err = await opchat(tmp_path, "--lang", "ru", "channel", "test", "wa",
                                  env={**env, "WA_TOKEN": "expired"})
    assert code == 1 and out == ""
    assert "WhatsApp не принимает токен доступа" in err and "expired" not in err

    code, out, err = await opchat(tmp_path, "channel", "templates", "wa", env=env)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["order_shipped", "en_US", "APPROVED"]
    assert lines[-1] == "2 of 4 approved; in opchat, Alt+T in a dialog of wa offers them"
    db = sqlite3.connect(tmp_path / "data" / "opchat.db")
    assert db.execute("SELECT count(*) FROM templates").fetchone()[0] == 4


@pytest.mark.parametrize(("flags", "said"), [
    (["--phone-number-id", "+1 555 0100"], "--phone-number-id must be the number Meta shows"),
    (["--phone-number-id", "1"], "--access-token (or --access-token-env) is missing"),
    (["--phone-number-id", "1", "--access-token", "x", "--app-secret", "y",
      "--api-version", "21"], '--api-version must be a Graph API version like "v21.0"'),
    (["--phone-number-id", "1", "--access-token", "x", "--app-secret", "y",
      "--webhook-url", "http://chat.example/wa"], "Meta sends webhooks only to https://"),
])
async def test_channel_add_whatsapp_mistakes_exit_2_with_the_reason(
        tmp_path: Path, flags: list[str], said: str) -> None:
    from tests.channels import opchat

    code, _, err = await opchat(tmp_path, "channel", "add", "whatsapp", "--name", "wa",
                                *flags)
    assert code == 2 and said in err and "Traceback" not in err
    assert not (tmp_path / "config.toml").exists()


async def test_the_automatic_menu_goes_out_as_buttons_and_a_tap_answers(
        tmp_path: Path, api: GraphAPI) -> None:
    import time

    from opchat.config import load_settings
    from opchat.model import Direction
    from opchat.replies import STARTER

    port = free_port()
    (tmp_path / "config.toml").write_text(f"""
[menus.main]
text = "How can we help?"
options = [
  {{ label = "Delivery", reply = "delivery" }},
  {{ label = "A person, please", operator = true }},
]
[channels.wa]
kind = "whatsapp"
access_token = "{TOKEN}"
app_secret = "{APP_SECRET}"
phone_number_id = "{PHONE_NUMBER_ID}"
api_base = "{api.base}"
listen = "127.0.0.1:{port}"
menu = "main"
""", encoding="utf-8")
    configured = load_settings(tmp_path / "config.toml", tmp_path)
    inbox = await Inbox.open(tmp_path, "anna")
    await inbox.store.replies.save_all(STARTER)
    await inbox.close()
    async with hub_running(tmp_path, configured.channels[0]) as (inbox, hub):
        shop = Running(inbox, hub, api, f"http://127.0.0.1:{port}/whatsapp/wa")
        await shop.wait_health(Health.OK, "Lucky Shrub")
        now = str(int(time.time()))
        await shop.deliver(wa_webhook(wa_value([wa_text("Hello!", id="wamid.hello",
                                                        timestamp=now)])))
        [menu] = await until(lambda: holds(api.sent_to(WA_CUSTOMER)), "the menu sent")
        delivery, _person = menu["interactive"]["action"]["buttons"]
        await shop.deliver(wa_webhook(wa_value([wa_interactive_button_reply(
            delivery["reply"]["id"], delivery["reply"]["title"], id="wamid.tap",
            timestamp=now)])))
        await until(lambda: holds(len(api.sent_to(WA_CUSTOMER)) == 2), "the answer to the tap")
        [conversation] = await inbox.conversations()
        messages = await inbox.messages(conversation.id)
    assert "How can we help?" in menu["interactive"]["body"]["text"]
    assert [(m.direction, m.external_id) for m in messages][:3] == [
        (Direction.IN, "wamid.hello"), (Direction.AUTO, next(iter(api.sent))),
        (Direction.IN, "wamid.tap")]
    assert messages[2].meta["callback"] == delivery["reply"]["id"]
    answer = api.sent_to(WA_CUSTOMER)[1]
    assert answer["type"] == "text" and "Доставляем" in answer["text"]["body"]  # the reply
