"""Answer each new dialog at once: opchat's webhook comes in, a reply goes out by the API."""
import hashlib
import hmac
import json
import os
import time

from aiohttp import ClientSession, web

API = os.environ.get("OPCHAT_API", "http://127.0.0.1:8790/api/v1")
TOKEN = os.environ["OPCHAT_TOKEN"]  # from: opchat api token add answer-bot
SECRET = os.environ["OPCHAT_WEBHOOK_SECRET"]  # the secret of [webhooks.bot]
answered: set[str] = set()  # deliveries done (one may come twice)


def from_opchat(request: web.Request, body: bytes) -> bool:
    stamp = request.headers.get("X-Opchat-Timestamp", "")
    mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    return (stamp.isdigit() and abs(time.time() - int(stamp)) < 300 and hmac.compare_digest(
        "sha256=" + mac.hexdigest(), request.headers.get("X-Opchat-Signature", "")))


async def hook(request: web.Request) -> web.Response:
    body = await request.read()
    if not from_opchat(request, body):
        return web.Response(status=401)
    event, delivery = json.loads(body), request.headers["X-Opchat-Delivery"]
    if event["event"] == "conversation.created" and delivery not in answered:
        dialog = event["conversation"]
        text = f"Hello {dialog['contact']['name']}! We have your message and answer soon."
        url = f"{API}/conversations/{dialog['id']}/messages"
        async with ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as api:
            async with api.post(url, json={"text": text}) as answer:
                if answer.status != 201:
                    return web.Response(status=503)  # opchat sends it again later
        answered.add(delivery)
    return web.Response(text="ok")


app = web.Application()
app.router.add_post("/hook", hook)
if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8800")))
