"""The Graph API stand-in (tests/meta_api.py) itself, over real HTTP with aiohttp's client.

If these fail, the WhatsApp, Messenger and Instagram channel tests built on the stand-in
cannot be trusted.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.meta_api import (
    APP_ID,
    APP_SECRET,
    DISPLAY_PHONE_NUMBER,
    HANG,
    IG_ID,
    IGSID,
    MALFORMED,
    PAGE_ID,
    PHONE_NUMBER_ID,
    PSID,
    RE_ENGAGEMENT,
    SENT_THEN_HANG,
    TOKEN,
    VERSION,
    WA_CUSTOMER,
    WABA_ID,
    GraphAPI,
    deliver,
    ig_story_mention,
    ig_story_reply,
    ig_webhook,
    ms_deleted,
    ms_delivery,
    ms_echo,
    ms_text,
    page_webhook,
    sign,
    verify,
    wa_audio,
    wa_image,
    wa_status,
    wa_system,
    wa_text,
    wa_value,
    wa_webhook,
    webhook_body,
)

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def api() -> AsyncIterator[GraphAPI]:
    server = await GraphAPI().start()
    yield server
    await server.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        yield session


def url(api: GraphAPI, path: str) -> str:
    return f"{api.base}/{VERSION}/{path}"


async def post_json(http: aiohttp.ClientSession, api: GraphAPI, path: str,
                    body: dict[str, Any], headers: dict[str, str] = AUTH) -> tuple[int, Any]:
    async with http.post(url(api, path), json=body, headers=headers) as response:
        return response.status, await response.json()


async def get_json(http: aiohttp.ClientSession, api: GraphAPI, path: str,
                   params: dict[str, str] | None = None) -> tuple[int, Any]:
    async with http.get(url(api, path), params=params, headers=AUTH) as response:
        return response.status, await response.json()


def text_message(body: str = "Здравствуйте!") -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual",
            "to": "+" + WA_CUSTOMER, "type": "text", "text": {"body": body}}


# WhatsApp ----------------------------------------------------------------------------------------


async def test_whatsapp_text_is_taken_and_recorded(api: GraphAPI, http: aiohttp.ClientSession):
    status, first = await post_json(http, api, f"{PHONE_NUMBER_ID}/messages", text_message())
    _, second = await post_json(http, api, f"{PHONE_NUMBER_ID}/messages", text_message("Ещё"))

    assert status == 200
    assert first["messaging_product"] == "whatsapp"
    assert first["contacts"] == [{"input": "+" + WA_CUSTOMER, "wa_id": WA_CUSTOMER}]
    wamid = first["messages"][0]["id"]
    assert wamid.startswith("wamid.") and wamid != second["messages"][0]["id"]
    call = api.calls_to("/messages")[0]
    assert (call.method, call.path) == ("POST", f"/{VERSION}/{PHONE_NUMBER_ID}/messages")
    assert call.json["text"] == {"body": "Здравствуйте!"}
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
    assert api.sent[wamid]["text"]["body"] == "Здравствуйте!"


async def test_read_receipt_with_typing_indicator(api: GraphAPI, http: aiohttp.ClientSession):
    status, answer = await post_json(http, api, f"{PHONE_NUMBER_ID}/messages", {
        "messaging_product": "whatsapp", "status": "read", "message_id": "wamid.HBgLabc",
        "typing_indicator": {"type": "text"}})
    assert (status, answer) == (200, {"success": True})


async def test_invalid_whatsapp_send_is_error_100(api: GraphAPI, http: aiohttp.ClientSession):
    no_product = {key: value for key, value in text_message().items()
                  if key != "messaging_product"}
    bad_type = {**text_message(), "type": "poll", "poll": {"q": 1}}
    for body in (no_product, bad_type, {**text_message(), "text": {"body": " "}}):
        status, answer = await post_json(http, api, f"{PHONE_NUMBER_ID}/messages", body)
        assert status == 400
        assert answer["error"]["code"] == 100
        assert answer["error"]["message"] == "(#100) Invalid parameter"
        assert answer["error"]["fbtrace_id"]


async def test_closed_window_refuses_free_text_but_not_templates(
        api: GraphAPI, http: aiohttp.ClientSession):
    api.closed_windows.add(WA_CUSTOMER)
    status, answer = await post_json(http, api, f"{PHONE_NUMBER_ID}/messages", text_message())
    assert (status, answer["error"]["code"]) == (400, 131047)

    template = {"messaging_product": "whatsapp", "to": WA_CUSTOMER, "type": "template",
                "template": {"name": "order_shipped", "language": {"code": "en_US"}}}
    status, answer = await post_json(http, api, f"{PHONE_NUMBER_ID}/messages", template)
    assert status == 200 and answer["messages"][0]["message_status"] == "accepted"


async def test_media_upload_then_download(api: GraphAPI, http: aiohttp.ClientSession):
    content = b"%PDF-1.4 stand-in invoice"
    form = aiohttp.FormData()
    form.add_field("messaging_product", "whatsapp")
    form.add_field("type", "application/pdf")
    form.add_field("file", content, filename="invoice.pdf", content_type="application/pdf")
    async with http.post(url(api, f"{PHONE_NUMBER_ID}/media"), data=form,
                         headers=AUTH) as response:
        assert response.status == 200
        media_id = (await response.json())["id"]
    assert api.calls_to("/media")[0].files["file"] == ("invoice.pdf", content, "application/pdf")

    status, info = await get_json(http, api, media_id)
    assert status == 200
    assert info == {"messaging_product": "whatsapp", "url": info["url"],
                    "mime_type": "application/pdf",
                    "sha256": hashlib.sha256(content).hexdigest(),
                    "file_size": len(content), "id": media_id}
    assert info["url"].startswith(api.base + "/media/")

    async with http.get(info["url"]) as response:
        assert response.status == 401  # the CDN wants the token too
    async with http.get(info["url"], headers=AUTH) as response:
        assert response.status == 200
        assert response.content_type == "application/pdf"
        assert await response.read() == content


async def test_inbound_media_and_unknown_media(api: GraphAPI, http: aiohttp.ClientSession):
    api.add_media("1266839374857093", b"OggS voice", "audio/ogg; codecs=opus")
    status, info = await get_json(http, api, "1266839374857093")
    assert (status, info["mime_type"], info["file_size"]) == (200, "audio/ogg; codecs=opus", 10)

    status, answer = await get_json(http, api, "999")
    assert status == 400
    assert (answer["error"]["code"], answer["error"]["error_subcode"]) == (100, 33)


async def test_templates_list_with_a_rejected_one(api: GraphAPI, http: aiohttp.ClientSession):
    status, answer = await get_json(http, api, f"{WABA_ID}/message_templates")
    assert status == 200
    statuses = {template["name"]: template["status"] for template in answer["data"]}
    assert "REJECTED" in statuses.values() and "APPROVED" in statuses.values()
    assert set(answer["paging"]["cursors"]) == {"before", "after"}
    body = next(c for c in answer["data"][0]["components"] if c["type"] == "BODY")
    assert "{{1}}" in body["text"]

    _, page = await get_json(http, api, f"{WABA_ID}/message_templates", {"limit": "1"})
    _, rest = await get_json(http, api, f"{WABA_ID}/message_templates",
                             {"limit": "1", "after": page["paging"]["cursors"]["after"]})
    assert [len(page["data"]), len(rest["data"])] == [1, 1]
    assert page["data"][0]["name"] != rest["data"][0]["name"]


async def test_phone_number(api: GraphAPI, http: aiohttp.ClientSession):
    status, answer = await get_json(http, api, PHONE_NUMBER_ID)
    assert status == 200
    assert set(answer) == {"verified_name", "display_phone_number", "id", "quality_rating",
                           "code_verification_status"}


# Messenger and Instagram -----------------------------------------------------------------------


async def test_messenger_send_action_and_attachment(api: GraphAPI, http: aiohttp.ClientSession):
    status, answer = await post_json(http, api, "me/messages", {
        "recipient": {"id": PSID}, "messaging_type": "RESPONSE", "message": {"text": "Привет"}})
    assert status == 200 and answer["recipient_id"] == PSID
    assert answer["message_id"].startswith("m_")

    status, answer = await post_json(http, api, f"{IG_ID}/messages", {
        "recipient": {"id": IGSID}, "sender_action": "typing_on"})
    assert (status, answer) == (200, {"recipient_id": IGSID})

    form = aiohttp.FormData()
    form.add_field("message", json.dumps({"attachment": {"type": "image",
                                                         "payload": {"is_reusable": True}}}))
    form.add_field("filedata", b"\x89PNG", filename="photo.png", content_type="image/png")
    async with http.post(url(api, "me/message_attachments"), data=form,
                         headers=AUTH) as response:
        attachment_id = (await response.json())["attachment_id"]
    status, _ = await post_json(http, api, f"{PAGE_ID}/messages", {
        "recipient": {"id": PSID}, "messaging_type": "RESPONSE", "message": {"attachment": {
            "type": "image", "payload": {"attachment_id": attachment_id}}}})
    assert status == 200


async def test_profiles(api: GraphAPI, http: aiohttp.ClientSession):
    _, person = await get_json(http, api, PSID, {"fields": "first_name,last_name,profile_pic"})
    assert set(person) == {"first_name", "last_name", "profile_pic", "id"}
    _, igperson = await get_json(http, api, IGSID, {"fields": "name,username,profile_pic"})
    assert igperson["username"] == "marco.rossi.design" and igperson["id"] == IGSID
    status, answer = await get_json(http, api, "5550001112223334", {"fields": "first_name"})
    assert (status, answer["error"]["code"]) == (400, 100)


async def test_the_app_the_page_and_the_instagram_account(api: GraphAPI,
                                                          http: aiohttp.ClientSession):
    _, app = await get_json(http, api, "app", {"fields": "id,name"})
    assert app == {"id": APP_ID, "name": "Lucky Shrub Inbox"}
    _, page = await get_json(http, api, PAGE_ID, {"fields": "name"})
    assert page["name"] == "Lucky Shrub"
    _, account = await get_json(http, api, IG_ID, {"fields": "username"})
    assert account == {"username": "luckyshrub", "id": IG_ID}


async def test_cdn_addresses_need_no_token_media_ones_do(api: GraphAPI,
                                                        http: aiohttp.ClientSession):
    api.add_media("CDN1", b"bytes", "image/jpeg")
    async with http.get(api.cdn_url("CDN1")) as response:
        assert (response.status, await response.read()) == (200, b"bytes")
    async with http.get(api.media_url("CDN1")) as response:
        assert response.status == 401


async def test_messenger_window_closed(api: GraphAPI, http: aiohttp.ClientSession):
    api.closed_windows.add(PSID)
    status, answer = await post_json(http, api, "me/messages", {
        "recipient": {"id": PSID}, "messaging_type": "RESPONSE", "message": {"text": "?"}})
    assert status == 400
    assert (answer["error"]["code"], answer["error"]["error_subcode"]) == (10, 2018278)
    status, _ = await post_json(http, api, "me/messages", {
        "recipient": {"id": PSID}, "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT",
        "message": {"text": "Sorry for the wait"}})
    assert status == 200


# Failures and tokens ----------------------------------------------------------------------------


async def test_fail_answers_in_graph_shape_then_recovers(
        api: GraphAPI, http: aiohttp.ClientSession):
    api.fail("/messages", RE_ENGAGEMENT, MALFORMED)
    status, answer = await post_json(http, api, f"{PHONE_NUMBER_ID}/messages", text_message())
    assert status == 400
    error = answer["error"]
    assert error["code"] == 131047 and error["type"] == "OAuthException"
    assert error["message"] == "(#131047) Re-engagement message"
    assert error["error_data"]["messaging_product"] == "whatsapp"
    assert "24 hours" in error["error_data"]["details"]
    assert error["fbtrace_id"]

    async with http.post(url(api, f"{PHONE_NUMBER_ID}/messages"), json=text_message(),
                         headers=AUTH) as response:
        assert response.status == 200
        with pytest.raises(ValueError):
            json.loads(await response.text())
    status, _ = await post_json(http, api, f"{PHONE_NUMBER_ID}/messages", text_message())
    assert status == 200
    assert len(api.sent) == 1  # an error or garbage answer took nothing


async def test_hang_and_sent_then_hang(api: GraphAPI):
    api.fail("/messages", HANG, SENT_THEN_HANG)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.3)) as http:
        for _ in range(2):
            with pytest.raises(asyncio.TimeoutError):
                await post_json(http, api, f"{PHONE_NUMBER_ID}/messages", text_message())
    assert len(api.sent) == 1  # the second one was taken; its answer never came


async def test_token_expiry_and_wrong_token(api: GraphAPI, http: aiohttp.ClientSession):
    status, answer = await post_json(http, api, f"{PHONE_NUMBER_ID}/messages", text_message(),
                                     headers={"Authorization": "Bearer EAAnotit"})
    assert (status, answer["error"]["code"], answer["error"]["type"]) == (401, 190,
                                                                          "OAuthException")
    async with http.get(url(api, "me"), params={"access_token": TOKEN}) as response:
        assert response.status == 200  # the token as a query parameter works too

    api.expire_token()
    status, answer = await post_json(http, api, f"{PHONE_NUMBER_ID}/messages", text_message())
    assert status == 401
    assert (answer["error"]["code"], answer["error"]["error_subcode"]) == (190, 463)
    assert answer["error"]["message"].startswith("Error validating access token: Session has "
                                                 "expired")


# Webhooks ---------------------------------------------------------------------------------------


def test_sign_is_hmac_sha256_of_the_raw_body():
    body = webhook_body(wa_webhook(wa_value(messages=[wa_text("Где мой заказ? 1/2")])))
    expected = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert sign(body) == "sha256=" + expected
    assert sign(body, "other") != sign(body)
    assert b"\\u0413" in body and b"1\\/2" in body  # escaped as Meta sends it
    assert json.loads(body)["entry"][0]["changes"][0]["value"]["messages"][0]["text"] == {
        "body": "Где мой заказ? 1/2"}


async def test_deliver_and_verify_against_a_receiver():
    got: list[tuple[str | None, bytes]] = []

    async def receive(request: web.Request) -> web.Response:
        raw = await request.read()
        got.append((request.headers.get("X-Hub-Signature-256"), raw))
        good = request.headers.get("X-Hub-Signature-256") == sign(raw)
        return web.Response(status=200 if good else 403, text="EVENT_RECEIVED")

    async def subscribe(request: web.Request) -> web.Response:
        if request.query.get("hub.verify_token") != "opchat-verify":
            return web.Response(status=403)
        return web.Response(text=request.query["hub.challenge"])

    app = web.Application()
    app.router.add_post("/hook", receive)
    app.router.add_get("/hook", subscribe)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hook = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/hook"  # type: ignore[union-attr]
    try:
        payload = page_webhook(ms_text(PSID, "m_1", "Hi"))
        assert await deliver(hook, payload) == (200, "EVENT_RECEIVED")
        assert got[-1][1] == webhook_body(payload)
        assert (await deliver(hook, payload, signature=None))[0] == 403
        assert got[-1][0] is None
        assert (await deliver(hook, payload, signature="sha256=" + "0" * 64))[0] == 403
        assert (await deliver(hook, payload, secret="wrong"))[0] == 403
        assert (await deliver(hook, raw=b'{"object":"page","entry":[')) == (200, "EVENT_RECEIVED")
        assert await verify(hook, "opchat-verify") == (200, "1158201444")
        assert (await verify(hook, "guess"))[0] == 403
    finally:
        await runner.cleanup()


def test_builders_follow_the_documented_shapes():
    body = wa_webhook(wa_value(messages=[wa_audio("1266839374857093", voice=True),
                                         wa_image("1013859600285441", caption="Вот",
                                                  context="wamid.HBgLreply")]))
    value = body["entry"][0]["changes"][0]["value"]
    assert body["object"] == "whatsapp_business_account" and body["entry"][0]["id"] == WABA_ID
    assert value["metadata"] == {"display_phone_number": DISPLAY_PHONE_NUMBER,
                                 "phone_number_id": PHONE_NUMBER_ID}
    assert value["contacts"] == [{"profile": {"name": "Иван Петров"}, "wa_id": WA_CUSTOMER}]
    audio, image = value["messages"]
    assert audio["audio"]["voice"] is True and isinstance(audio["timestamp"], str)
    assert image["context"] == {"from": DISPLAY_PHONE_NUMBER, "id": "wamid.HBgLreply"}

    system = wa_value(messages=[wa_system("79169998877")])
    assert "contacts" not in system
    assert system["messages"][0]["system"]["type"] == "user_changed_number"
    failed = wa_status("wamid.x", "failed")
    assert failed["errors"][0]["code"] == 131026 and "pricing" not in failed

    echo = ms_echo(PSID, "m_2", "Ответ")
    assert echo["sender"] == {"id": PAGE_ID} and echo["message"]["is_echo"] is True
    assert isinstance(echo["timestamp"], int)
    assert ms_delivery(PSID, ["m_2"], 1741953600500)["delivery"]["mids"] == ["m_2"]
    assert ms_deleted(PSID, "m_3")["message"] == {"mid": "m_3", "is_deleted": True}
    ig = ig_webhook(ig_story_mention(IGSID, "m_4"), ig_story_reply(IGSID, "m_5", "🔥"))
    assert ig["object"] == "instagram" and ig["entry"][0]["id"] == IG_ID
    mention, reply = ig["entry"][0]["messaging"]
    assert mention["message"]["attachments"][0]["type"] == "story_mention"
    assert set(reply["message"]["reply_to"]["story"]) == {"url", "id"}
