"""The Viber channel against a stand-in Viber REST API on 127.0.0.1 (tests/viber_api.py).

Real HTTP both ways: the stand-in's signed callbacks are POSTed to the hub's own
web server and the transport calls the stand-in's methods; the real hub and
SQLite files in tmp_path; the crash test runs ``opchat serve`` as a process and
kills it with SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from opchat.autoreply import plan_answer
from opchat.config import AutoAnswers, ChannelSettings
from opchat.model import Attachment, Health, Message, MessageState, OutboundMessage
from opchat.transports import UNREACHABLE_LABEL, Rejected, Retry
from opchat.transports.viber import channel as viber_channel
from opchat.transports.viber.channel import ViberTransport
from tests.channels import (
    RunningHub,
    Serve,
    deliver_through_kills,
    events_of_new_messages,
    free_port,
    hub_running,
    opchat,
    stored_external_ids,
    until,
)
from tests.viber_api import (
    BOT_NAME,
    CUSTOMER,
    CUSTOMER_NAME,
    T0,
    TOKEN,
    ViberAPI,
    callback,
    event,
    message,
    sender,
    text,
)


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ViberTransport, "retry_after", 0.05)
    monkeypatch.setattr(ViberTransport, "slow_retry", 0.2)
    monkeypatch.setattr(ViberTransport, "check_timeout", 2.0)
    monkeypatch.setattr(ViberTransport, "send_timeout", 2.0)


@pytest.fixture
async def api() -> AsyncIterator[ViberAPI]:
    server = await ViberAPI().start()
    yield server
    await server.close()


def settings(api: ViberAPI, port: int | None = None, greeting: str = "",
             **options: Any) -> ChannelSettings:
    found: dict[str, Any] = {"token": TOKEN, "api_base": api.base, "sender_name": "Цветы",
                             "sender_avatar": "https://shop.example/logo.jpg", **options}
    if port is not None:
        found |= {"public_url": f"http://127.0.0.1:{port}", "listen": f"127.0.0.1:{port}"}
    return ChannelSettings("viber", "viber", found,
                           AutoAnswers(greeting_message=greeting) if greeting else None)


class Running(RunningHub):
    def __init__(self, inbox: Any, hub: Any, url: str) -> None:
        super().__init__(inbox, hub, "viber")
        self.url = url

    async def got(self, *external_ids: str) -> dict[str, Message]:
        async def check() -> dict[str, Message] | None:
            found = await self.messages()
            return found if set(external_ids) <= set(found) else None

        return await until(check, f"{external_ids} stored")

    async def labels(self) -> set[str]:
        [c] = await self.inbox.conversations()
        return set(c.labels)


@contextlib.asynccontextmanager
async def running(tmp_path: Path, api: ViberAPI, greeting: str = "") -> AsyncIterator[Running]:
    port = free_port()
    async with hub_running(tmp_path, settings(api, port, greeting)) as (inbox, hub):
        shop = Running(inbox, hub, f"http://127.0.0.1:{port}/viber/viber")
        await shop.wait_health(Health.OK, BOT_NAME)
        yield shop


def out(body: str, message_id: int = 1, **more: Any) -> OutboundMessage:
    return OutboundMessage(message_id=message_id, channel="viber", chat_id=CUSTOMER,
                           body=body, **more)


# Receiving ---------------------------------------------------------------------------------


async def test_the_hub_sets_its_webhook_and_stores_every_kind_of_message(
        tmp_path: Path, api: ViberAPI) -> None:
    pic = api.add_file("pic.jpg", b"\xff\xd8 a photo")
    pdf = api.add_file("invoice.pdf", b"%PDF-1.4", "application/pdf")
    async with running(tmp_path, api) as shop:
        assert api.webhook == shop.url  # set_webhook, checked by Viber's "webhook" call
        [hooked] = api.called("set_webhook")
        assert "conversation_started" in hooked["event_types"]
        kinds = [
            text(101, "Здравствуйте! Есть розы?"),
            message(102, {"type": "picture", "text": "вот такие", "media": pic,
                          "thumbnail": pic, "file_name": "pic.jpg"}),
            message(103, {"type": "video", "media": "http://127.0.0.1:1/v.mp4",
                          "thumbnail": pic, "size": 10240, "duration": 10}),
            message(104, {"type": "file", "media": pdf, "size": 8, "file_name":
                          "invoice.pdf"}),
            message(105, {"type": "sticker", "sticker_id": 46105, "media": pic}),
            message(106, {"type": "contact", "contact": {"name": "Мария",
                                                         "phone_number": "+79001234567"}}),
            message(107, {"type": "url", "media": "https://shop.example/roses"}),
            message(108, {"type": "location", "location": {"lat": 55.75, "lon": 37.62}}),
            text(109, "с трекингом", tracking="order-77"),
        ]
        for body in kinds:
            assert (await callback(shop.url, body))[0] == 200
        found = await shop.got(*(str(n) for n in range(101, 110)))
        assert found["101"].body == "Здравствуйте! Есть розы?"
        assert found["101"].author == CUSTOMER_NAME
        assert found["102"].body == "вот такие"
        assert found["102"].attachments[0].kind == "photo"
        assert found["103"].attachments[0].kind == "video"
        assert found["104"].attachments[0].filename == "invoice.pdf"
        assert found["105"].meta["kind"] == "sticker"
        assert found["106"].meta["contact"]["phone"] == "+79001234567"
        assert found["107"].body == "https://shop.example/roses"
        assert found["108"].meta["location"] == [55.75, 37.62]
        assert found["109"].meta["tracking_data"] == "order-77"
        # Files are fetched when asked, from Viber's media address.
        transport = shop.hub.transports["viber"]
        saved = await transport.download(found["104"].attachments[0], tmp_path / "got")
        assert saved.read_bytes() == b"%PDF-1.4"


async def test_signatures_are_checked_before_anything_is_stored(
        tmp_path: Path, api: ViberAPI) -> None:
    async with running(tmp_path, api) as shop:
        forged = text(200, "подделка")
        assert (await callback(shop.url, forged, signature=None))[0] == 401
        assert (await callback(shop.url, forged, signature="0" * 64))[0] == 403
        assert (await callback(shop.url, forged, token="another-bots-token"))[0] == 403
        raw = json.dumps(forged).encode()
        signed_other = (await callback(shop.url, raw=raw, signature=None))[0]
        assert signed_other == 401
        body = text(201, "настоящее")
        raw = json.dumps(body).encode()
        assert (await callback(shop.url, raw=raw + b" "))[0] == 200  # signed as sent
        assert (await callback(shop.url, raw=b"{not json"))[0] == 400
        assert (await callback(shop.url, [1, 2]))[0] == 400  # type: ignore[arg-type]
        assert (await callback(shop.url, {"event": "message"}))[0] == 400
        big = json.dumps(text(202, "x" * (3 * 1024 * 1024))).encode()
        assert (await callback(shop.url, raw=big))[0] == 413
        found = await shop.got("201")
        assert set(found) == {"201"}  # not "200": nothing forged was stored
        # The hub is alive: another callback is taken.
        assert (await callback(shop.url, text(203, "ещё")))[0] == 200
        await shop.got("203")


async def test_a_redelivery_is_stored_once(tmp_path: Path, api: ViberAPI) -> None:
    async with running(tmp_path, api) as shop:
        for _ in range(3):
            assert (await callback(shop.url, text(301, "один раз")))[0] == 200
        assert (await callback(shop.url, text(302, "потом")))[0] == 200
        found = await shop.got("301", "302")
        assert set(found) == {"301", "302"}


async def test_conversation_started_greets_in_the_answer_and_shows_no_dialog(
        tmp_path: Path, api: ViberAPI) -> None:
    started = event("conversation_started", 401, type="open", context="ad-spring",
                    user=sender(), subscribed=False)
    async with running(tmp_path, api, greeting="Здравствуйте! Чем помочь?") as shop:
        status, answer = await callback(shop.url, started)
        assert status == 200
        welcome = json.loads(answer)
        assert welcome["type"] == "text" and welcome["text"] == "Здравствуйте! Чем помочь?"
        assert welcome["sender"] == {"name": "Цветы",
                                     "avatar": "https://shop.example/logo.jpg"}
        assert await shop.inbox.conversations() == []  # until the customer writes
        assert (await callback(shop.url, text(402, "Привет")))[0] == 200
        first = (await shop.got("402"))["402"]
        # Greeted once already: the automatic answers do not greet their first message.
        assert first.meta.get("greeted") is True
        trigger = await shop.inbox.store.replies.auto_trigger(first.id)
        assert trigger is not None and trigger.first and trigger.greeted
        assert plan_answer(shop.hub.channels[0].auto, trigger, time.time()) is None
    api2_tmp = tmp_path / "no-greeting"
    api2_tmp.mkdir()
    async with running(api2_tmp, api) as shop:
        status, answer = await callback(shop.url, started)
        assert (status, answer) == (200, "")


async def test_subscriptions_and_delivery_marks(tmp_path: Path, api: ViberAPI) -> None:
    async with running(tmp_path, api) as shop:
        assert (await callback(shop.url, text(501, "Хочу букет")))[0] == 200
        await shop.got("501")
        [conversation] = await shop.inbox.conversations()
        first = await shop.inbox.send(conversation.id, "Какой?")
        second = await shop.inbox.send(conversation.id, "Есть розы")

        async def sent(message_id: int) -> Message | None:
            found = await shop.message(message_id)
            return found if found.external_id else None

        one = await until(lambda: sent(first.id), "the first reply sent")
        two = await until(lambda: sent(second.id), "the second reply sent")
        assert api.sent[0]["sender"] == {"name": "Цветы",
                                         "avatar": "https://shop.example/logo.jpg"}
        for body in (event("seen", int(one.external_id), user_id=CUSTOMER),
                     event("delivered", int(one.external_id), user_id=CUSTOMER),
                     event("failed", int(two.external_id), user_id=CUSTOMER,
                           desc="the receiver's device is offline")):
            assert (await callback(shop.url, body))[0] == 200

        async def marked() -> tuple[Message, Message] | None:
            a, b = await shop.message(first.id), await shop.message(second.id)
            return (a, b) if (a.state is MessageState.READ and
                              b.state is MessageState.FAILED) else None

        _first, b = await until(marked, "the marks")  # "delivered" after "seen": never backwards
        assert "offline" in (b.error or "")
        assert (await callback(shop.url, event("unsubscribed", 502,
                                               user_id=CUSTOMER)))[0] == 200
        await until(lambda: _has(shop, UNREACHABLE_LABEL), "the dialog marked")
        sends = len(api.sent)
        refused = await shop.inbox.send(conversation.id, "Вы тут?")

        async def stopped() -> Message | None:
            found = await shop.message(refused.id)
            return found if found.state is MessageState.FAILED else None

        assert "unsubscribed" in (await until(stopped, "the send stopped")).error
        assert len(api.sent) == sends  # Viber was not even asked
        assert (await callback(shop.url, event("subscribed", 503, user=sender())))[0] == 200

        async def again() -> bool:
            return UNREACHABLE_LABEL not in await shop.labels()

        await until(again, "the dialog writable again")
        assert (await callback(shop.url, event("webhook", 504)))[0] == 200


async def _has(shop: Running, label: str) -> bool:
    return label in await shop.labels()


async def test_a_menu_press_comes_back_as_the_choice(tmp_path: Path, api: ViberAPI) -> None:
    transport = ViberTransport(settings(api), tmp_path)
    await transport.send(out("Что вас интересует?", buttons=(("Доставка", "menu:delivery"),
                                                              ("Оплата", "menu:pay"))))
    [sent] = api.sent
    assert [b["ActionBody"] for b in sent["keyboard"]["Buttons"]] == ["menu:delivery",
                                                                    "menu:pay"]
    assert [b["ActionType"] for b in sent["keyboard"]["Buttons"]] == ["reply", "reply"]
    await transport.api.close()
    (tmp_path / "hub").mkdir()
    async with running(tmp_path / "hub", api) as shop:
        press = text(601, "menu:pay", tracking=sent["tracking_data"])
        assert (await callback(shop.url, press))[0] == 200
        found = await shop.got("601")
        assert found["601"].meta["callback"] == "menu:pay"
        assert found["601"].body == "Оплата"


# Sending -----------------------------------------------------------------------------------


async def test_long_text_is_split_and_files_go_by_the_hubs_address(
        tmp_path: Path, api: ViberAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    transport = ViberTransport(settings(api, port), tmp_path)
    long = ("слово " * 2000).strip()  # 11,999 characters
    delivery = await transport.send(out(long))
    assert [len(s["text"]) <= 7000 for s in api.sent] == [True, True]
    assert delivery.external_id == str(api.sent[0]["message_token"])
    assert " ".join(s["text"] for s in api.sent) == long
    photo = tmp_path / "bouquet.jpg"
    photo.write_bytes(b"\xff\xd8 bouquet")
    await transport.send(out("Вот", 2, attachments=(
        Attachment(kind="photo", local_path=str(photo), mime="image/jpeg"),)))
    picture, words = api.sent[2:]
    assert picture["type"] == "picture" and words["text"] == "Вот"
    assert picture["media"].startswith(f"http://127.0.0.1:{port}/viber/viber/file/")
    # The hub serves that address (and no other).
    from aiohttp import web

    app = web.Application()
    transport.mount(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(picture["media"]) as got:
                assert got.status == 200 and await got.read() == b"\xff\xd8 bouquet"
            forged = picture["media"].replace("/file/", "/file/A")
            async with session.get(forged) as got:
                assert got.status == 404
            # An address is good for FILE_URL_LIFETIME, not for ever.
            monkeypatch.setattr(viber_channel, "FILE_URL_LIFETIME", -60)
            async with session.get(transport.file_url(photo)) as got:
                assert got.status == 404
            monkeypatch.undo()
            async with session.get(transport.file_url(photo)) as got:
                assert got.status == 200
    finally:
        await runner.cleanup()
        await transport.api.close()
    without = ViberTransport(settings(api), tmp_path)
    with pytest.raises(Rejected, match="public_url"):
        await without.send(out("Вот", 3, attachments=(
            Attachment(kind="photo", local_path=str(photo), mime="image/jpeg"),)))


async def test_rate_limits_back_off_and_permanent_errors_stop(tmp_path: Path,
                                                              api: ViberAPI) -> None:
    transport = ViberTransport(settings(api), tmp_path)
    api.fail("send_message", 12)
    with pytest.raises(Retry, match="too many requests") as retry:
        await transport.send(out("Раз"))
    first = retry.value.after
    api.fail("send_message", 12)
    with pytest.raises(Retry) as retry:
        await transport.send(out("Раз", attempt=3))
    assert retry.value.after > first
    await transport.send(out("Раз"))
    assert len(api.sent) == 1
    api.fail("send_message", 6)
    with pytest.raises(Rejected, match="not subscribed") as rejected:
        await transport.send(out("Два", 2))
    assert rejected.value.unreachable
    api.fail("send_message", 7)
    with pytest.raises(Rejected, match="account is blocked") as rejected:
        await transport.send(out("Три", 3))
    assert not rejected.value.unreachable
    await transport.api.close()


async def test_a_customer_who_unsubscribed_is_marked_and_the_send_fails(
        tmp_path: Path, api: ViberAPI) -> None:
    async with running(tmp_path, api) as shop:
        assert (await callback(shop.url, text(701, "Здравствуйте")))[0] == 200
        await shop.got("701")
        api.fail("send_message", 6)
        [conversation] = await shop.inbox.conversations()
        queued = await shop.inbox.send(conversation.id, "Добрый день")

        async def failed() -> Message | None:
            found = await shop.message(queued.id)
            return found if found.state is MessageState.FAILED else None

        assert "not subscribed" in (await until(failed, "the send refused")).error
        await until(lambda: _has(shop, UNREACHABLE_LABEL), "the dialog marked")


# Crashes -----------------------------------------------------------------------------------


async def test_killed_mid_stream_every_callback_is_stored_exactly_once(
        tmp_path: Path, api: ViberAPI) -> None:
    port = free_port()
    serve = Serve(tmp_path, (
        f'[channels.viber]\nkind = "viber"\ntoken = "{TOKEN}"\napi_base = "{api.base}"\n'
        f'public_url = "http://127.0.0.1:{port}"\nlisten = "127.0.0.1:{port}"\n'))
    url = f"http://127.0.0.1:{port}/viber/viber"

    async def deliver(n: int) -> int:
        return (await callback(url, text(T0 + n, f"сообщение {n}")))[0]

    unanswered = await deliver_through_kills(serve, deliver, 60)
    db_path = serve.data / "opchat.db"
    assert stored_external_ids(db_path) == {str(T0 + n) for n in range(60)}
    assert events_of_new_messages(db_path) == 60
    assert unanswered


# Setting up --------------------------------------------------------------------------------


async def test_channel_add_and_test_from_the_command_line(tmp_path: Path,
                                                          api: ViberAPI) -> None:
    env = {"VIBER_TOKEN": TOKEN}
    code, _, err = await opchat(tmp_path, "channel", "add", "viber", "--name", "shop",
                                "--token-env", "VIBER_TOKEN", "--public-url",
                                "http://shop.example", env=env)
    assert code != 0 and "https://" in err
    port = free_port()
    code, out_, err = await opchat(
        tmp_path, "channel", "add", "viber", "--name", "shop", "--token-env", "VIBER_TOKEN",
        "--api-base", api.base, "--public-url", f"http://127.0.0.1:{port}",
        "--listen", f"127.0.0.1:{port}", env=env)
    assert code == 0, err
    assert "added channel shop (viber)" in out_ and "opchat channel test shop" in out_
    # Viber checks the address at once; the hub is not running yet: serve sets it.
    assert "opchat serve sets it" in out_
    assert [b["url"] for b in api.called("set_webhook")] == [
        f"http://127.0.0.1:{port}/viber/shop"]
    assert TOKEN not in (tmp_path / "config.toml").read_text()
    code, out_, err = await opchat(tmp_path, "channel", "test", "shop", env=env)
    assert (code, err) == (0, ""), err
    assert f"reached {BOT_NAME}" in out_ and "no webhook set" in out_
    api.webhook = f"http://127.0.0.1:{port}/viber/shop"
    code, out_, err = await opchat(tmp_path, "channel", "test", "shop", env=env)
    assert f"webhook at http://127.0.0.1:{port}/viber/shop" in out_
    code, out_, err = await opchat(tmp_path, "--lang", "ru", "channel", "test", "shop",
                                   env={"VIBER_TOKEN": "a-revoked-token"})
    assert code == 1 and out_ == ""
    assert "Viber не принимает токен бота" in err and "a-revoked-token" not in err


async def test_channel_add_with_the_token_in_the_file_keeps_it_private(
        tmp_path: Path, api: ViberAPI) -> None:
    code, out_, err = await opchat(tmp_path, "channel", "add", "viber", "--name", "shop",
                                   "--token", TOKEN, "--api-base", api.base)
    assert code == 0, err
    assert "no public_url" in out_
    assert stat.S_IMODE((tmp_path / "config.toml").stat().st_mode) == 0o600
    assert TOKEN in (tmp_path / "config.toml").read_text()
    assert not api.called("set_webhook")  # no address: nothing to set
