"""Account erasure (issue 12), through the API, the web form and the SMTP gateway, on both
backends: the member key goes (crypto-shredding), so what it wrapped opens with nothing the
server holds; a backup taken before is the only place the member's mail remains; the other
parties keep their copies, showing a former member; the old names and addresses take
nothing and are never handed out again."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import FormData

from tests.helpers import OUTBOUND, PASSWORD, Member, jobs_done, make_config, register_all, send
from tests.smtp_helpers import transaction
from tests.test_backup import _dump_and_restore
from tests.test_factors import signed_in_with_app, totp
from trademail.app import CORE, open_core
from trademail.appkeys import SMTP_GATEWAY
from trademail.crypto.aead import KEY_ID_BYTES, DecryptionFailed, Key
from trademail.crypto.keyring import _aad
from trademail.testing import FakeClock

SECRET_SUBJECT = "Erasure subject QX-41"
PDF = b"%PDF-1.7 erasure test certificate " * 64


@dataclass
class Before:
    """What the database held of Alice's before she deleted her account."""

    member_id: str
    member_key: bytes
    sealed: dict[str, bytes] = field(default_factory=dict)  # what: blob
    content_keys: dict[str, bytes] = field(default_factory=dict)  # message id: wrapped key
    draft_keys: dict[str, bytes] = field(default_factory=dict)  # draft id: wrapped key
    only_hers: list[str] = field(default_factory=list)  # messages no other party holds


async def _send_file(client: Any, sender: Member, to: str, subject: str) -> dict[str, Any]:
    form = FormData()
    for name, value in (("to", to), ("subject", subject), ("body", "Certificate attached")):
        form.add_field(name, value)
    form.add_field("attachments", PDF, filename="certificate.pdf",
                   content_type="application/pdf")
    resp = await client.post("/api/v1/messages", headers=sender.auth, data=form)
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def _reply(client: Any, sender: Member, message_id: str, body: str) -> dict[str, Any]:
    resp = await client.post("/api/v1/messages", headers=sender.auth,
                             json={"body": body, "in_reply_to": message_id})
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def _conversations(client: Any) -> tuple[list[Member], dict[str, Any]]:
    """Alice writes with Bob (an attachment, his reply) and Carol (hers to Alice, Alice's
    answer); a second message to Bob he deletes, so Alice alone holds it; a draft and a
    signature of hers."""
    alice, bob, carol = await register_all(client, "alice", "bob", "carol")
    first = await _send_file(client, alice, "bob", SECRET_SUBJECT)
    reply = await _reply(client, bob, first["id"], "Received, thanks")
    from_carol = await send(client, carol, ["alice"], subject="Sesame offer")
    answer = await _reply(client, alice, from_carol["id"], "Interested")
    lonely = await _send_file(client, alice, "bob", "Only Alice keeps this")
    resp = await client.delete(f"/api/v1/messages/{lonely['id']}", headers=bob.auth)
    assert resp.status == 204
    resp = await client.post("/api/v1/drafts", headers=alice.auth, json={"body": "Unsent"})
    assert resp.status == 201, await resp.text()
    resp = await client.put("/api/v1/me/signature", headers=alice.auth,
                            json={"signature": "Alice, head of sourcing"})
    assert resp.status == 200, await resp.text()
    return [alice, bob, carol], {"first": first, "reply": reply, "carol": from_carol,
                                 "answer": answer, "lonely": lonely}


async def _capture(db: Any, member_id: str) -> Before:
    member = await db.fetchrow("SELECT member_key, email_ct, email_index FROM members "
                               "WHERE id = $1", member_id)
    before = Before(member_id, bytes(member["member_key"]))
    before.sealed |= {"email": bytes(member["email_ct"]), "email index": bytes(
        member["email_index"])}
    for r in await db.fetch("SELECT message_id, content_key FROM mailbox WHERE member_id = $1",
                            member_id):
        before.content_keys[r["message_id"]] = bytes(r["content_key"])
    for r in await db.fetch("SELECT id, content_key, draft_ct FROM drafts WHERE member_id = $1",
                            member_id):
        before.draft_keys[r["id"]] = bytes(r["content_key"])
        before.sealed[f"draft {r['id']}"] = bytes(r["draft_ct"])
    before.sealed["signature"] = bytes(await db.fetchval(
        "SELECT signature_ct FROM signatures WHERE member_id = $1", member_id))
    for r in await db.fetch(
            "SELECT m.id, m.subject_ct, m.body_ct FROM messages m JOIN mailbox e ON "
            "e.message_id = m.id AND e.member_id = $1 WHERE NOT EXISTS (SELECT 1 FROM "
            "mailbox o WHERE o.message_id = m.id AND o.member_id <> $1)", member_id):
        before.only_hers.append(r["id"])
        before.sealed[f"subject {r['id']}"] = bytes(r["subject_ct"])
        before.sealed[f"body {r['id']}"] = bytes(r["body_ct"])
    for r in await db.fetch("SELECT c.data_ct FROM upload_chunks c JOIN attachments a ON "
                            "a.upload_id = c.upload_id WHERE a.message_id = $1",
                            before.only_hers[0]):
        before.sealed[f"chunk {len(before.sealed)}"] = bytes(r["data_ct"])
    return before


def _server_keys(core: Any, members: list[Any]) -> list[Key]:
    """Every key the server holds: the master keys, the system keys, each member's key."""
    ring = core.keyring
    return [*ring._masters.values(), ring._directory, ring._index,
            *(ring._unwrap_member(m["id"], bytes(m["member_key"])) for m in members)]


def _opens(key: Key, blob: bytes, aad: bytes) -> bool:
    """Whether `key` opens `blob`: really tried (the blob relabelled with the key's id, so
    the AEAD itself decides), not refused for naming another key."""
    forged = blob[:1] + key.id + blob[1 + KEY_ID_BYTES:]
    try:
        key.open(forged, aad)
    except DecryptionFailed:
        return False
    return True


async def _check_shredded(client: Any, before: Before) -> None:
    core = client.app[CORE]
    members = await core.stores.db.fetch("SELECT id, member_key FROM members")
    keys = _server_keys(core, members)
    assert keys and before.member_key not in {bytes(m["member_key"]) for m in members}
    wrapped = [(blob, _aad(before.member_id, message_id))
               for message_id, blob in before.content_keys.items()]
    wrapped += [(blob, _aad(before.member_id, f"draft {draft_id}"))
                for draft_id, blob in before.draft_keys.items()]
    for blob, aad in wrapped:
        assert not any(_opens(key, blob, aad) for key in keys)
    # Her key itself opens only under the master key, and it is in no row any more: only a
    # backup from before holds it (see _check_backup).
    masters = list(core.keyring._masters.values())
    assert any(_opens(k, before.member_key, _aad(k.id, before.member_id)) for k in masters)


async def _rows_naming(db: Any, member_id: str) -> dict[str, list[tuple[str, Any]]]:
    """Every row of every table with a text column holding the member's id."""
    if db.dialect == "sqlite":
        tables = [r["name"] for r in await db.fetch(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        columns = [(t, c["name"]) for t in tables
                   for c in await db.fetch(f"PRAGMA table_info({t})") if c["type"] == "TEXT"]
    else:
        columns = [(r["table_name"], r["column_name"]) for r in await db.fetch(
            "SELECT table_name, column_name FROM information_schema.columns WHERE "
            "table_schema = current_schema() AND data_type = 'text'")]
    found: dict[str, list[tuple[str, Any]]] = {}
    for table, column in columns:
        sql = f"SELECT * FROM {table} WHERE {column} LIKE $1"  # noqa: S608  # the schema's names
        for r in await db.fetch(sql, f"%{member_id}%"):
            found.setdefault(table, []).append((column, dict(r)))
    return found


async def _check_no_rows_left(client: Any, before: Before) -> None:
    db = client.app[CORE].stores.db
    found = await _rows_naming(db, before.member_id)
    assert set(found) <= {"former_members", "audit_log", "messages", "upload_chunks"}, found
    assert [c for c, _ in found["former_members"]] == ["id"]
    held = {r["message_id"] for r in await db.fetch("SELECT message_id FROM mailbox")}
    for _, row in found.get("messages", []):  # the others' copies of her messages
        assert row["id"] in held and row["id"] not in before.only_hers
    for _, row in found.get("upload_chunks", []):  # the files of those
        message_id = await db.fetchval(
            "SELECT message_id FROM attachments WHERE upload_id = $1", row["upload_id"])
        assert message_id in held
    for message_id in before.only_hers:
        assert not await db.fetchval("SELECT 1 FROM messages WHERE id = $1", message_id)
    assert [r for _, r in found["audit_log"] if r["action"] == "account.deleted"]
    # Her own entries (sign-ins, the deletion) name her by id alone: the log keeps no name.
    every = await db.fetch("SELECT actor, detail FROM audit_log")
    assert every and not [r for r in every if "alice" in f"{r['actor']} {r['detail']}".lower()]


async def _check_file_holds_nothing(client: Any, store_url: str, before: Before) -> None:
    """On SQLite, secure_delete and the checkpoint (a job the relay does once the erasure
    is done) leave none of her bytes in the files."""
    await jobs_done(client)
    if store_url.startswith("sqlite"):
        _file_holds_nothing(store_url, before)


def _file_holds_nothing(store_url: str, before: Before) -> None:
    path = Path(urlsplit(store_url).path)
    data = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    data += wal.read_bytes() if wal.exists() else b""
    blobs = {"member key": before.member_key, **before.sealed,
             **{f"key {k}": v for k, v in before.content_keys.items()},
             **{f"draft key {k}": v for k, v in before.draft_keys.items()}}
    assert [what for what, blob in blobs.items() if blob in data] == []


async def _backup(store_url: str, tmp_path: Path, schemas: list[str]) -> str:
    url, _ = await _dump_and_restore(store_url, tmp_path, schemas)
    return url


async def _check_backup(url: str, tmp_path: Path, clock: FakeClock, before: Before,
                        message_id: str) -> None:
    """The copy taken before, with the master key, still opens her mail."""
    core = await open_core(make_config(tmp_path / "restored", url), clock)
    try:
        message = await core.reading.read(before.member_id, message_id, mark_read=False)
        assert message.subject == SECRET_SUBJECT
    finally:
        await core.close()


async def test_deleting_an_account_through_the_api_shreds_it(
        client: Any, store_url: str, tmp_path: Path, clock: FakeClock,
        _schemas: list[str]) -> None:
    (alice, bob, carol), sent = await _conversations(client)
    db = client.app[CORE].stores.db
    alice_id = await db.fetchval("SELECT id FROM members WHERE username = 'alice'")
    before = await _capture(db, alice_id)
    backup = await _backup(store_url, tmp_path, _schemas)

    for body, field_name in (({"password": "not her password"}, "password"), ({}, "password")):
        resp = await client.delete("/api/v1/me", headers=alice.auth, json=body)
        assert resp.status == 422, await resp.text()
        assert (await resp.json())["errors"][0]["field"] == field_name
    assert (await client.get("/api/v1/me", headers=alice.auth)).status == 200
    resp = await client.delete("/api/v1/me", headers=alice.auth, json={"password": PASSWORD})
    assert resp.status == 204, await resp.text()

    await _check_shredded(client, before)
    await _check_no_rows_left(client, before)
    await _check_file_holds_nothing(client, store_url, before)
    await _check_backup(backup, tmp_path, clock, before, sent["first"]["id"])
    assert (await client.get("/api/v1/me", headers=alice.auth)).status == 401
    resp = await client.post("/api/v1/tokens", json={"username": "alice", "password": PASSWORD})
    assert resp.status == 401
    await _check_others_keep_theirs(client, bob, carol, sent)


async def _check_others_keep_theirs(client: Any, bob: Member, carol: Member,
                                    sent: dict[str, Any]) -> None:
    """Bob and Carol read their copies, Alice shown as a former member; a reply to her is
    refused, saying why."""
    for who, message_id in ((bob, sent["first"]["id"]), (carol, sent["answer"]["id"])):
        resp = await client.get(f"/api/v1/messages/{message_id}", headers=who.auth)
        assert resp.status == 200, await resp.text()
        message = await resp.json()
        assert message["from"]["former_member"] is True
        assert message["from"]["company"] == "Former member"
        assert "alice" not in str(message["from"]).lower()
    resp = await client.get(f"/api/v1/messages/{sent['first']['id']}/attachments/1",
                            headers=bob.auth)
    assert resp.status == 200 and await resp.read() == PDF
    resp = await client.post("/api/v1/messages", headers=bob.auth, json={
        "body": "Are you there?", "in_reply_to": sent["first"]["id"]})
    assert resp.status == 422
    assert "former member" in await resp.text()


async def test_deleting_an_account_in_the_settings(client: Any, browsers: Any,
                                                   store_url: str) -> None:
    alice, _ = await register_all(client, "alice", "bob")
    sent = await send(client, alice, ["bob"], subject=SECRET_SUBJECT)
    db = client.app[CORE].stores.db
    alice_id = await db.fetchval("SELECT id FROM members WHERE username = 'alice'")
    before = await _capture_web(db, alice_id)
    browser = browsers()
    assert (await browser.sign_in("alice")).status == 303
    page = await browser.page("/settings/delete")
    assert "Delete your account" in page and 'name="confirm"' in page

    for form in ({"password": PASSWORD, "confirm": "bob"}, {"password": "wrong one",
                                                             "confirm": "alice"}):
        resp = await browser.post("/settings/delete", form, form_page="/settings/delete")
        assert resp.status == 422, await resp.text()
    assert await db.fetchval("SELECT 1 FROM members WHERE id = $1", alice_id)

    resp = await browser.post("/settings/delete", {"password": PASSWORD, "confirm": "alice"},
                              form_page="/settings/delete")
    page = await resp.text()
    assert resp.status == 200 and "Your account is deleted" in page and "alice" not in page
    assert not browser.cookie("tm_session")
    assert (await browser.get("/inbox", allow_redirects=False)).status in (302, 303)
    assert not await db.fetchval("SELECT 1 FROM members WHERE id = $1", alice_id)
    await _check_file_holds_nothing(client, store_url, before)

    reader = browsers()
    assert (await reader.sign_in("bob")).status == 303
    page = await reader.page(f"/messages/{sent['id']}")
    assert "Former member" in page and "Alice Trading" not in page
    stranger = browsers()
    resp = await stranger.sign_in("alice")
    assert resp.status != 303


async def _capture_web(db: Any, member_id: str) -> Before:
    member = await db.fetchrow("SELECT member_key, email_ct FROM members WHERE id = $1",
                               member_id)
    before = Before(member_id, bytes(member["member_key"]), {"email": bytes(member["email_ct"])})
    for r in await db.fetch("SELECT message_id, content_key FROM mailbox WHERE member_id = $1",
                            member_id):
        before.content_keys[r["message_id"]] = bytes(r["content_key"])
    return before


# ------------------------------------------------------------------ mail and names


async def _smtp(client: Any, mail_from: str, rcpt: str, data: bytes) -> tuple[int, str]:
    """One SMTP transaction through the gateway's real socket."""
    return await transaction(int(client.app[SMTP_GATEWAY].address[1]), mail_from, [rcpt], data)


async def _notification_to(client: Any, address: str) -> EmailMessage:
    deadline = asyncio.get_running_loop().time() + 10.0
    while True:
        for mail in client.app[OUTBOUND].mails:
            if address in mail.rcpt_tos:
                message = message_from_bytes(mail.data, policy=policy.default)
                assert isinstance(message, EmailMessage)
                return message
        assert asyncio.get_running_loop().time() < deadline, f"no mail to {address}"
        await asyncio.sleep(0.02)


def _mail(sender: str, to: str, body: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, "Re: TradeMail"
    msg["Message-ID"] = "<erasure-1@mail.example.net>"
    msg.set_content(body)
    return msg.as_bytes(policy=policy.SMTP)


async def test_a_former_members_addresses_and_names_take_nothing(
        client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    alice, bob = await register_all(client, "alice", "bob")
    await send(client, bob, ["alice"], subject="For Alice")
    her_reply = (await _notification_to(client, alice.email))["Reply-To"].addresses[0].addr_spec
    await send(client, alice, ["bob"], subject="For Bob")
    his_reply = (await _notification_to(client, bob.email))["Reply-To"].addresses[0].addr_spec
    resp = await client.delete("/api/v1/me", headers=alice.auth, json={"password": PASSWORD})
    assert resp.status == 204, await resp.text()

    code, reply = await _smtp(client, "buyer@outside.example", alice.alias,
                              _mail("buyer@outside.example", alice.alias, "Still trading?"))
    assert code == 550 and reply.startswith("5.1.1"), (code, reply)
    code, reply = await _smtp(client, alice.email, her_reply,
                              _mail(alice.email, her_reply, "One more thing"))
    assert code == 550 and reply.startswith("5.1.1"), (code, reply)
    code, reply = await _smtp(client, bob.email, his_reply, _mail(bob.email, his_reply, "Hi?"))
    assert code == 550 and "former member" in reply, (code, reply)

    resp = await client.post("/api/v1/members", json={
        "username": "alice", "password": PASSWORD, "email": "new@real-new.example",
        "company": "Other Alice Ltd", "country": "Kenya"})
    assert resp.status == 409 and "taken" in await resp.text()
    members = client.app[CORE].members
    bob_id = await client.app[CORE].stores.db.fetchval(
        "SELECT id FROM members WHERE username = 'bob'")
    draws = iter([alice.alias, alice.alias, "fresh-abcdefgh@" + alice.alias.split("@")[1]])
    monkeypatch.setattr(members, "_new_alias", lambda: next(draws))
    assert await members.add_alias(bob_id) == "fresh-abcdefgh@" + alice.alias.split("@")[1]


async def test_an_account_with_a_second_factor_needs_it_to_be_deleted(
        client: Any, browsers: Any, clock: FakeClock) -> None:
    db = client.app[CORE].stores.db
    browser, key, _ = await signed_in_with_app(browsers, clock, "alice")
    assert 'name="second_factor"' in await browser.page("/settings/delete")
    for code in (None, "000000"):
        form = {"password": PASSWORD, "confirm": "alice"} | ({"second_factor": code}
                                                            if code else {})
        resp = await browser.post("/settings/delete", form, form_page="/settings/delete")
        assert resp.status == 422 and 'id="f-second_factor"' in await resp.text()
    assert await db.fetchval("SELECT 1 FROM members WHERE username = 'alice'")
    clock.advance(30)
    resp = await browser.post("/settings/delete", {
        "password": PASSWORD, "confirm": "alice", "second_factor": totp(key, clock)},
        form_page="/settings/delete")
    assert resp.status == 200 and "Your account is deleted" in await resp.text()
    assert not await db.fetchval("SELECT 1 FROM members WHERE username = 'alice'")

    _, key, codes = await signed_in_with_app(browsers, clock, "bob")
    resp = await client.post("/api/v1/tokens", json={
        "username": "bob", "password": PASSWORD, "second_factor": totp(key, clock)})
    assert resp.status == 201, await resp.text()
    auth = {"Authorization": f"Bearer {(await resp.json())['token']}"}
    resp = await client.delete("/api/v1/me", headers=auth, json={"password": PASSWORD})
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"] == "second_factor"
    resp = await client.delete("/api/v1/me", headers=auth,
                               json={"password": PASSWORD, "second_factor": codes[0]})
    assert resp.status == 204, await resp.text()
    assert not await db.fetchval("SELECT 1 FROM members WHERE username = 'bob'")


async def test_what_a_delivery_racing_the_erasure_wrote_is_swept_after_it(
        client: Any) -> None:
    """A delivery that read Alice's row a moment before her erasure committed writes her
    mailbox row, word index and notification after it: the erasure's scrub job takes them,
    and leaves Bob's copy of the message alone."""
    alice, bob = await register_all(client, "alice", "bob")
    sent = await send(client, bob, ["alice"], subject="Late")
    db = client.app[CORE].stores.db
    alice_id, bob_id = [await db.fetchval("SELECT id FROM members WHERE username = $1", m)
                        for m in ("alice", "bob")]
    entry = await db.fetchrow("SELECT member_id, message_id, thread_id, folder, unread, "
                              "content_key FROM mailbox WHERE member_id = $1", alice_id)
    words = await db.fetch("SELECT member_id, token, message_id FROM word_index "
                           "WHERE member_id = $1", alice_id)
    resp = await client.delete("/api/v1/me", headers=alice.auth, json={"password": PASSWORD})
    assert resp.status == 204
    await jobs_done(client)
    # What the racing delivery commits once the erasure has.
    await db.execute("INSERT INTO mailbox (member_id, message_id, thread_id, folder, unread, "
                     "content_key) VALUES ($1, $2, $3, $4, $5, $6)", *tuple(entry))
    await db.executemany("INSERT INTO word_index (member_id, token, message_id) "
                         "VALUES ($1, $2, $3)", [tuple(w) for w in words])
    await db.execute("INSERT INTO outbox (id, kind, member_id, created_at, next_attempt_at, "
                     "payload_ct) VALUES ($1, 'mail', $2, 0, 1e12, $3)",  # not due: kept
                     "f" * 32, alice_id, b"sealed")
    await client.app[CORE].erasure.scrub({})
    for table in ("mailbox", "word_index", "outbox"):
        assert not await db.fetchval(
            f"SELECT count(*) FROM {table} WHERE member_id = $1", alice_id), table  # noqa: S608
    assert await db.fetchval("SELECT count(*) FROM mailbox WHERE member_id = $1 AND "
                             "message_id = $2", bob_id, sent["id"]) == 1
