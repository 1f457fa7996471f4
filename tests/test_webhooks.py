"""Webhooks: registered through the API, queued in the message's own transaction, signed,
POSTed by the real aiohttp sender and retried like mail."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from tests.helpers import make_config, register, send
from trademail.app import CORE, open_core
from trademail.errors import PermanentFailure
from trademail.gateway.transports import MaildirTransport
from trademail.gateway.webhooks import AiohttpWebhookSender, NoPublicAddress, PublicOnlyResolver
from trademail.services.delivery import Relay, Webhook
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
    rows = await client.app[CORE].stores.db.fetch("SELECT secret_ct FROM webhooks")
    assert hook["secret"].encode() not in bytes(rows[0]["secret_ct"])
    for bad in ("http://crm.amina.example/tm", "https://127.0.0.1/x", "https://u:p@x.example/",
                "https://localhost/x", "ftp://x.example/", 7):
        resp = await client.post("/api/v1/webhooks", headers=amina.auth, json={"url": bad})
        assert resp.status == 422, bad
    for local in LOCAL_URLS:
        resp = await client.post("/api/v1/webhooks", headers=amina.auth, json={"url": local})
        assert resp.status == 422, local
    reader = await client.post("/api/v1/tokens", json={
        "username": "amina", "password": "harbour crane pallet voyage",
        "scopes": ["messages:send"]})
    send_only = {"Authorization": f"Bearer {(await reader.json())['token']}"}
    assert (await client.get("/api/v1/webhooks", headers=send_only)).status == 403
    assert (await client.delete(f"/api/v1/webhooks/{hook['id']}",
                                headers=amina.auth)).status == 204
    assert (await client.delete(f"/api/v1/webhooks/{hook['id']}",
                                headers=amina.auth)).status == 404


# Numeric hosts in forms a resolver reads as an IP address, local names, one-label names.
LOCAL_URLS = ("https://0x7f000001:8443/", "https://0/", "https://127.1/", "https://2130706433/",
              "https://0177.0.0.1/", "https://127.0.0.1./", "https://1.2.3.4.5/",
              "https://localhost./x", "https://LOCALHOST/", "https://api.Localhost./",
              "https://intranet/hook", "https://intranet./hook", "https://[::1]/",
              "https://[::ffff:127.0.0.1]/", "https://[::ffff:7f00:1]/", "https://10.1.2.3/",
              "https://169.254.169.254/latest", "https://100.64.0.1/", "https://0.0.0.0/",
              "https://[fe80::1]/", "https://[2002:7f00:1::]/",
              "https://\uff11\uff12\uff17\u3002\uff10\u3002\uff10\u3002\uff11/")


async def test_the_url_is_sealed_at_rest_and_public_hosts_pass(client: Any) -> None:
    amina = await register(client, "amina")
    url = "https://crm.amina.example/tm?token=let-me-in"
    for fine in (url, "https://8.8.8.8/x", "https://[2606:4700:4700::1111]/x",
                 "https://example.com./hook", "https://1e100.net/hook"):
        resp = await client.post("/api/v1/webhooks", headers=amina.auth, json={"url": fine})
        assert resp.status == 201, (fine, await resp.text())
    rows = await client.app[CORE].stores.db.fetch("SELECT * FROM webhooks")
    assert len(rows) == 5 and "url" not in rows[0].keys()
    stored = [r[k] for r in rows for k in r.keys()]  # sqlite3.Row has keys() only
    assert all(b"let-me-in" not in bytes(v) for v in stored if isinstance(v, bytes | memoryview))
    assert not any("let-me-in" in v for v in stored if isinstance(v, str))
    listed = await (await client.get("/api/v1/webhooks", headers=amina.auth)).json()
    assert url in [h["url"] for h in listed["webhooks"]]


async def test_a_new_message_queues_a_signed_event_without_content(client: Any) -> None:
    amina, bakari = await register(client, "amina"), await register(client, "bakari")
    resp = await client.post("/api/v1/webhooks", headers=bakari.auth,
                             json={"url": "https://erp.bakari.example/hook"})
    secret = (await resp.json())["secret"]
    sent = await send(client, amina, [bakari.username], subject="Secret cashew price",
                      body="1,450 USD/t")
    store = client.app[CORE].stores
    rows = await store.db.fetch("SELECT id, kind, member_id, created_at, attempts, payload_ct "
                                "FROM outbox WHERE kind = 'webhook'")
    assert len(rows) == 1
    from trademail.store import OutboxRow

    row = OutboxRow(rows[0]["id"], "webhook", rows[0]["member_id"], rows[0]["created_at"], 0,
                    bytes(rows[0]["payload_ct"]))
    outbox = client.app[CORE].outbox
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
    sender = AiohttpWebhookSender(timeout=5, allow_private=True)  # the receiver is local
    try:
        relay = Relay(core.stores.outbox, core.outbox, MaildirTransport(tmp_path / "md"), clock,
                      make_config(tmp_path, store_url).relay, webhooks=sender,
                      render=core.notifications.render)
        body = b'{"type":"message.received"}'
        await core.outbox.enqueue(Webhook(str(server.make_url("/hook")), (
            ("Content-Type", "application/json"), ("X-TradeMail-Timestamp", "1"),
            ("X-TradeMail-Signature", "v1=abc")), body), None)
        assert await relay.run_once() == 1
        assert await relay.run_once() == 0
        clock.advance(60)
        assert await relay.run_once() == 1
        state = await core.stores.db.fetchval("SELECT state FROM outbox")
        assert state == "sent" and len(received) == 2
        assert received[1][1] == body and received[1][0]["X-TradeMail-Signature"] == "v1=abc"
    finally:
        await sender.close()
        await core.close()



class ResolveTo(AbstractResolver):
    """Answers every name with these addresses, as a hostile DNS server might."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        return [{"hostname": host, "host": a, "port": port,
                 "family": socket.AF_INET6 if ":" in a else socket.AF_INET, "proto": 0,
                 "flags": socket.AI_NUMERICHOST} for a in self.addresses]

    async def close(self) -> None:
        pass


async def test_delivery_refuses_a_name_that_resolves_to_a_local_address(
        aiohttp_server: Any, tmp_path: Path, store_url: str, clock: FakeClock) -> None:
    received: list[bytes] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(status=200)

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    server = await aiohttp_server(receiver)
    # Registered as a public name; by delivery time it resolves to 127.0.0.1 (rebinding).
    rebound = Webhook(f"http://hooks.amina.example:{server.port}/hook",
                      (("Content-Type", "application/json"),), b"{}")
    literal = Webhook(str(server.make_url("/hook")), (), b"{}")
    sender = AiohttpWebhookSender(timeout=5, resolver=ResolveTo("127.0.0.1"))
    trusting = AiohttpWebhookSender(timeout=5, resolver=ResolveTo("127.0.0.1"),
                                    allow_private=True)
    core = await open_core(make_config(tmp_path, store_url), clock)
    try:
        for delivery in (rebound, literal):
            with pytest.raises(PermanentFailure):
                await sender.post(delivery)
        assert received == []
        await trusting.post(rebound)  # the same answer reaches the receiver when allowed
        assert received == [b"{}"]
        # Through the relay the delivery fails for good, not retried.
        config = make_config(tmp_path, store_url)
        relay = Relay(core.stores.outbox, core.outbox, MaildirTransport(tmp_path / "md"), clock,
                      config.relay, webhooks=sender, render=core.notifications.render)
        await core.outbox.enqueue(rebound, None)
        assert await relay.run_once() == 1
        assert await core.stores.db.fetchval("SELECT state FROM outbox") == "failed"
        assert len(received) == 1
    finally:
        await sender.close()
        await trusting.close()
        await core.close()


async def test_the_resolver_keeps_only_public_addresses() -> None:
    mixed = PublicOnlyResolver(ResolveTo("10.0.0.7", "93.184.215.14", "::1",
                                         "2606:2800:21f:cb07:6820:80da:af6b:8b2c"))
    found = await mixed.resolve("hooks.amina.example", 443)
    assert [r["host"] for r in found] == ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    for local in ("127.0.0.1", "0.0.0.0", "169.254.169.254",  # noqa: S104 - an answer, not a bind "192.168.1.1", "100.64.0.1",
                  "224.0.0.1", "::", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "240.0.0.1"):
        with pytest.raises(NoPublicAddress):
            await PublicOnlyResolver(ResolveTo(local)).resolve("hooks.amina.example", 443)
