"""What a stolen database yields: no subject, body, attachment or email address in clear."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import FormData

from tests.helpers import register, send
from trademail.app import CORE
from trademail.config import Config

SUBJECT = "Quotation for Zanzibar cloves"
BODY = "Our confidential price is 7420 USD per tonne, ref QX-99812"
ATTACHMENT = b"CONFIDENTIAL-CONTRACT-BYTES-" * 40
FILENAME = "secret-contract-ZX.pdf"
EMAILS = ("opal.secret@real-opal.example", "pike.secret@real-pike.example")


async def _raw_values(config: Config) -> list[bytes]:
    """Every byte the database holds: the SQLite files, or every value of every table."""
    url = config.store_url
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        return [p.read_bytes() for p in path.parent.glob(path.name + "*")]
    conn = await asyncpg.connect(url)
    try:
        values: list[bytes] = []
        tables = await conn.fetch("SELECT table_name FROM information_schema.tables "
                                  "WHERE table_schema = current_schema()")
        for table in tables:
            for row in await conn.fetch(f'SELECT * FROM "{table["table_name"]}"'):  # noqa: S608
                for value in row.values():
                    values.append(value if isinstance(value, bytes) else str(value).encode())
        return values
    finally:
        await conn.close()


async def test_database_holds_no_plaintext(client: Any, config: Config) -> None:
    opal = await register(client, "opal", email=EMAILS[0])
    pike = await register(client, "pike", email=EMAILS[1])
    form = FormData(quote_fields=False)
    form.add_field("to", pike.alias)
    form.add_field("subject", SUBJECT)
    form.add_field("body", BODY)
    form.add_field("attachments", ATTACHMENT, filename=FILENAME, content_type="application/pdf")
    resp = await client.post("/api/v1/messages", headers=opal.auth, data=form)
    assert resp.status == 201
    first = await resp.json()
    await send(client, pike, [opal.alias], "Re: " + SUBJECT, BODY + " accepted",
               in_reply_to=first["id"])
    resp = await client.get("/api/v1/messages", headers=pike.auth,
                            params={"q": "zanzibar cloves"})
    found = [m["subject"] for m in (await resp.json())["messages"]]
    assert found == ["Re: " + SUBJECT, SUBJECT]
    # What a member keeps for writing is sealed too: a draft and a signature.
    resp = await client.post("/api/v1/drafts", headers=opal.auth, json={
        "to": pike.alias, "subject": SUBJECT, "body": BODY + " draft"})
    assert resp.status == 201
    resp = await client.put("/api/v1/me/signature", headers=opal.auth,
                            json={"signature": "Zanzibar desk, QX-99812"})
    assert resp.status == 200

    values = await _raw_values(config)
    assert values, "found no database content to inspect"
    secrets = [SUBJECT, BODY, "QX-99812", "Zanzibar", FILENAME, *EMAILS,
               *(e.split("@")[1] for e in EMAILS)]
    for blob in values:
        lowered = blob.lower()
        for secret in secrets:
            assert secret.lower().encode() not in lowered, secret
            assert secret.encode("utf-16-le") not in blob, secret
        assert ATTACHMENT[:28] not in blob
    # The things that are meant to be public are there, so the scan reads real data.
    assert any(b"opal" in blob for blob in values)


async def test_throttles_and_idempotency_keys_are_kept_keyed(client: Any,
                                                             config: Config) -> None:
    """People type passwords and addresses into the username box, and a client may put
    anything in an Idempotency-Key: what is kept of them is keyed, never as typed."""
    opal = await register(client, "opal", email=EMAILS[0])
    pike = await register(client, "pike", email=EMAILS[1])
    typed = "opal.secret@real-opal.example hunter2-typed-here"
    resp = await client.post("/api/v1/tokens", json={"username": typed, "password": "x"})
    assert resp.status == 401
    resp = await client.post("/api/v1/password-resets", json={"account": "pike"})
    assert resp.status == 202
    key = "order-ZX-55127-cloves"
    resp = await client.post("/api/v1/messages", headers={**opal.auth, "Idempotency-Key": key},
                             json={"to": [pike.alias], "subject": "Cloves", "body": "20 t?"})
    assert resp.status == 201
    values = await _raw_values(config)
    for blob in values:
        for secret in (typed, "hunter2-typed-here", key, "127.0.0.1"):
            assert secret.encode() not in blob, secret
    store = client.app[CORE].stores
    subjects = [r["subject"] for r in await store.db.fetch("SELECT subject FROM signin_failures")]
    assert subjects and all(len(s) == 64 and int(s, 16) >= 0 for s in subjects)
