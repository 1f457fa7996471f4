"""Another member's mail stays out of reach by the side doors too: search, list cursors,
idempotency keys and reply addresses, on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from typing import Any

from tests.browser_helpers import Browser
from tests.helpers import Member, register_all, send
from tests.test_gateway import (  # noqa: F401 - fixtures are used by name
    Gateway,
    config,
    gateway,
    mail_bytes,
    parse,
    reply_address,
    smarthost,
)
from trademail.app import CORE


async def _listing(client: Any, member: Member, path: str, **params: str) -> dict[str, Any]:
    resp = await client.get(path, headers=member.auth, params=params)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_search_finds_only_the_searchers_own_mail(gateway: Gateway) -> None:  # noqa: F811
    client = gateway.client
    amina, bakari, chidi = await register_all(client, "amina", "bakari", "chidi")
    word = f"zanzibar{secrets.token_hex(4)}"
    private = await send(client, amina, ["bakari"], f"Cloves {word}", f"Our price {word}")
    mine = await send(client, chidi, ["amina"], "Sesame", f"Also {word}")

    for path, key in (("/api/v1/messages", "messages"), ("/api/v1/conversations",
                                                         "conversations")):
        found = (await _listing(client, chidi, path, q=word))[key]
        ids = {m.get("id") for m in found} | {m.get("thread_id") for m in found}
        assert private["id"] not in ids and private["thread_id"] not in ids, found
        assert mine["thread_id"] in ids  # the search works: Chidi's own mail is found
        assert (await _listing(client, bakari, path, q=word))[key]  # and Bakari's too

    browser = Browser(client, https=True)  # the gateway config's public_url is https
    try:
        assert (await browser.sign_in("chidi")).status == 303
        page = await browser.page(f"/search?q={word}")
        assert private["id"] not in page and "Cloves" not in page
        assert mine["id"] in page or "Sesame" in page
    finally:
        await browser.close()


async def test_a_cursor_replayed_by_another_member_shows_only_their_own_mail(
        gateway: Gateway) -> None:  # noqa: F811
    client = gateway.client
    amina, bakari, chidi, dayo = await register_all(client, "amina", "bakari", "chidi", "dayo")
    theirs = {(await send(client, amina, ["bakari"], f"Private {n}"))["id"] for n in range(5)}
    own = {(await send(client, dayo, ["chidi"], f"For Chidi {n}"))["id"] for n in range(3)}

    for path, key in (("/api/v1/messages", "messages"), ("/api/v1/conversations",
                                                         "conversations")):
        page = await _listing(client, bakari, path, limit="2")
        cursor = page["next_cursor"]
        assert cursor, page
        seen: set[str] = set()
        while cursor:
            replay = await _listing(client, chidi, path, limit="2", cursor=cursor)
            seen |= {m.get("id") for m in replay[key]} | {m.get("latest_id") for m in
                                                          replay[key]}
            cursor = replay["next_cursor"]
        assert not seen & theirs, (path, seen)
        if key == "messages":
            assert seen <= own


async def test_another_members_idempotency_key_replays_nothing_of_the_first(
        gateway: Gateway) -> None:  # noqa: F811
    client = gateway.client
    amina, bakari, chidi = await register_all(client, "amina", "bakari", "chidi")
    key = {"Idempotency-Key": "order-2026-11-27"}
    payload = {"to": ["bakari"], "subject": "Contract terms", "body": "Only for Bakari"}
    first = await client.post("/api/v1/messages", headers=amina.auth | key, json=payload)
    assert first.status == 201
    sent = await first.json()

    same = await client.post("/api/v1/messages", headers=chidi.auth | key, json=payload)
    assert same.status == 201, await same.text()
    assert "Idempotent-Replayed" not in same.headers
    mine = await same.json()
    assert mine["id"] != sent["id"] and mine["thread_id"] != sent["thread_id"]
    assert "Only for Bakari" in (await (await client.get(
        f"/api/v1/messages/{mine['id']}", headers=chidi.auth)).text())
    resp = await client.get(f"/api/v1/messages/{sent['id']}", headers=chidi.auth)
    assert resp.status == 404
    inbox = (await _listing(client, bakari, "/api/v1/messages"))["messages"]
    assert {m["from"]["username"] for m in inbox} == {"amina", "chidi"}


async def test_a_reply_address_takes_mail_from_its_owner_alone(gateway: Gateway) -> None:  # noqa: F811
    """Bakari's reply address answers Amina's message as Bakari: not from Amina (the other
    party), not from Chidi (another member), each with their own real address."""
    client = gateway.client
    amina, bakari, chidi = await register_all(client, "amina", "bakari", "chidi")
    await send(client, amina, ["bakari"], "Quotation", "40 t of sesame?")
    (notification,) = await gateway.mails(1)
    reply_to = reply_address(parse(notification.data))
    db = gateway.app[CORE].stores.db
    before = await db.fetchval("SELECT COUNT(*) FROM messages")
    for sender in (amina.email, chidi.email):
        mail = mail_bytes(sender=sender, to=reply_to, subject="Re: Quotation",
                          body="Send it to my account instead")
        code, text = await gateway.deliver(sender, [reply_to], mail)
        assert code == 550 and "5.7.1" in text, (code, text)
        assert sender not in text
    assert await db.fetchval("SELECT COUNT(*) FROM messages") == before
    thread = (await _listing(client, amina, "/api/v1/messages"))["messages"]
    assert thread == []  # nothing arrived in Amina's inbox from Bakari's address
    # Bakari himself is taken, so the address works and it is the sender that counts.
    mail = mail_bytes(sender=bakari.email, to=reply_to, subject="Re: Quotation", body="Yes")
    assert (await gateway.deliver(bakari.email, [reply_to], mail))[0] == 250
