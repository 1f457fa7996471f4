"""Webhooks: registered through the API, queued in the message's own transaction, signed,
POSTed by the real aiohttp sender and retried like mail."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.helpers import make_config, register, send
from trademail.app import open_core
from trademail.appkeys import STORE, WEBHOOKS
from trademail.gateway.relay import Relay
from trademail.gateway.transports import MaildirTransport
from trademail.gateway.webhooks import AiohttpWebhookSender
from trademail.services.outbox import Webhook
from trademail.testing import FakeClock


def verify(secret: str, headers: Any, body: bytes) -> bool:
    expected = hmac.new(secret.encode(), headers["X-TradeMail-Timestamp"].encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["X-TradeMail-Signature"], "v1=" + expected)


async def test_register_list_delete_and_the_secret_is_shown_once_and_sealed(
        client: Any) -> None:
    amina = await register(client, "amina")
    resp = await client.post("/api/v1/webhooks", headers=amina.auth,
                             json={"url": "https://crm.amina.example/tm"})
    assert resp.status == 201
    hook = await resp.json()
    assert hook["secret"].startswith("whsec_")
    listed = await (await client.get("/api/v1/webhooks", headers=amina.auth)).json()
    assert listed == {"webhooks": [{k: hook[k] for k in ("id", "url", "created_at")}]}
    rows = await client.app[STORE].db.fetch("SELECT secret_ct FROM webhooks")
    assert hook["secret"].encode() not in bytes(rows[0]["secret_ct"])
    for bad in ("http://crm.amina.example/tm", "https://127.0.0.1/x", "https://u:p@x.example/",
                "https://localhost/x", "ftp://x.example/", 7):
        resp = await client.post("/api/v1/webhooks", headers=amina.auth, json={"url": bad})
        assert resp.status == 422, bad
    reader = await client.post("/api/v1/tokens", json={
        "username": "amina", "password": "harbour crane pallet voyage",
        "scopes": ["messages:send"]})
    send_only = {"Authorization": f"Bearer {(await reader.json())['token']}"}
    assert (await client.get("/api/v1/webhooks", headers=send_only)).status == 403
    assert (await client.delete(f"/api/v1/webhooks/{hook['id']}",
                                headers=amina.auth)).status == 204
    assert (await client.delete(f"/api/v1/webhooks/{hook['id']}",
                                headers=amina.auth)).status == 404


async def test_a_new_message_queues_a_signed_event_without_content(client: Any) -> None:
    amina, bakari = await register(client, "amina"), await register(client, "bakari")
    resp = await client.post("/api/v1/webhooks", headers=bakari.auth,
                             json={"url": "https://erp.bakari.example/hook"})
    secret = (await resp.json())["secret"]
    sent = await send(client, amina, [bakari.username], subject="Secret cashew price",
                      body="1,450 USD/t")
    store = client.app[STORE]
    rows = await store.db.fetch("SELECT id, kind, member_id, created_at, attempts, payload_ct "
                                "FROM outbox WHERE kind = 'webhook'")
    assert len(rows) == 1
    from trademail.store import OutboxRow

    row = OutboxRow(rows[0]["id"], "webhook", rows[0]["member_id"], rows[0]["created_at"], 0,
                    bytes(rows[0]["payload_ct"]))
    outbox = client.app[WEBHOOKS]._outbox
    delivery = outbox.open(row)
    assert isinstance(delivery, Webhook) and delivery.url == "https://erp.bakari.example/hook"
    headers = dict(delivery.headers)
    assert verify(secret, headers, delivery.body)
    event = json.loads(delivery.body)
    assert event["type"] == "message.received" and event["message_id"] == sent["id"]
    assert b"cashew" not in delivery.body.lower() and b"@" not in delivery.body


async def test_the_sender_posts_signed_and_the_relay_retries_until_2xx(
        aiohttp_server: Any, tmp_path: Path, store_url: str, clock: FakeClock) -> None:
    received: list[tuple[dict[str, str], bytes]] = []
    answers = [503, 200]

    async def hook(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response(status=answers.pop(0))

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    server = await aiohttp_server(receiver)
    core = await open_core(make_config(tmp_path, store_url), clock)
    sender = AiohttpWebhookSender(timeout=5)
    try:
        relay = Relay(core.store, core.outbox, MaildirTransport(tmp_path / "md"), clock,
                      make_config(tmp_path, store_url).relay, webhooks=sender)
        body = b'{"type":"message.received"}'
        await core.outbox.enqueue(Webhook(str(server.make_url("/hook")), (
            ("Content-Type", "application/json"), ("X-TradeMail-Timestamp", "1"),
            ("X-TradeMail-Signature", "v1=abc")), body), None)
        assert await relay.run_once() == 1
        assert await relay.run_once() == 0
        clock.advance(60)
        assert await relay.run_once() == 1
        state = await core.store.db.fetchval("SELECT state FROM outbox")
        assert state == "sent" and len(received) == 2
        assert received[1][1] == body and received[1][0]["X-TradeMail-Signature"] == "v1=abc"
    finally:
        await sender.close()
        await core.close()

