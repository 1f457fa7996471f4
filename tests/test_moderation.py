"""Issue 9 through the real doors: listings under the contact-details rule, the directory,
member statuses and what each one does (HTTP, API tokens, SMTP), blocks, reports, the
per-member sending limits, and the staff badge no member can fake."""

from __future__ import annotations

import asyncio
import re
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest

from tests.browser_helpers import Browser
from tests.helpers import (
    OUTBOUND,
    PASSWORD,
    Member,
    make_config,
    register,
    register_all,
    send,
)
from trademail.app import CORE, build_app
from trademail.appkeys import SMTP_GATEWAY
from trademail.config import Config
from trademail.errors import InvalidInput, NotFound
from trademail.testing import FakeClock, MemoryTransport

PHONE_IN_TEXT = "Premium cashew W320. Call +49 30 1234 5678 for prices."
AUTHSERV = "mx.relay.test"  # the upstream MTA whose DMARC word the gateway trusts here
CLEAN_TEXT = "Premium cashew W320, HS code 0801.32, 25 kg cartons, 18 t per 40ft."


@pytest.fixture
def config(tmp_path: Path, store_url: str) -> Config:
    return make_config(tmp_path, store_url, TRADEMAIL_DIRECTORY_CONTACT_VIEWS_PER_DAY="2",
                       TRADEMAIL_DIRECTORY_PAGE_SIZE="2", TRADEMAIL_DIRECTORY_MAX_PAGES="3",
                       TRADEMAIL_SMTP_TRUSTED_AUTHSERV_ID=AUTHSERV)


async def app_client(aiohttp_client: Any, config: Config, clock: FakeClock) -> Any:
    """The whole app with a config of the test's own."""
    transport = MemoryTransport()
    app = await build_app(config, clock, transport=transport)
    app[OUTBOUND] = transport
    return await aiohttp_client(app)


async def staff_of(client: Any, username: str = "anna-staff") -> Any:
    """A staff account made as the operator makes it, and the actor staff act as."""
    core = client.app[CORE]
    profile = await core.market.operator.create_staff(
        username=username, password=PASSWORD, email=f"{username}@staff.example",
        company="TradeMail Staff", country="ZZ")
    return await core.market.moderation.staff(profile.id)


async def member_id(client: Any, username: str) -> str:
    member = await client.app[CORE].stores.members.member_by_username(username)
    return str(member.id)


async def product(client: Any, member: Member, description: str,
                  name: str = "Cashew kernels", category: str = "agriculture") -> Any:
    resp = await client.post("/api/v1/me/products", headers=member.auth, json={
        "name": name, "description": description, "category": category})
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def listed(client: Any, **query: str) -> list[str]:
    resp = await client.get("/api/v1/directory", params=query)
    assert resp.status == 200, await resp.text()
    return [item["username"] for item in (await resp.json())["items"]]


async def rcpt(client: Any, address: str, mail_from: str = "buyer@outside.example") -> int:
    host, port = client.app[SMTP_GATEWAY].address
    async with aiosmtplib.SMTP(hostname=host, port=port, start_tls=False, timeout=10) as smtp:
        await smtp.ehlo()
        await smtp.mail(mail_from)
        code, _ = await smtp.execute_command(b"RCPT", f"TO:<{address}>".encode())
        return int(code)


async def mail_in(client: Any, mail_from: str, to: str, name: str = "Sender",
                  subject: str = "Hello") -> tuple[int, str]:
    """One mail over SMTP to the gateway, marked DMARC-pass by the trusted upstream (so mail
    from a member's own address counts as theirs): its final reply."""
    host, port = client.app[SMTP_GATEWAY].address
    domain = mail_from.rpartition("@")[2]
    mail = (f"Authentication-Results: {AUTHSERV}; dmarc=pass header.from={domain}\r\n"
            f"From: {name} <{mail_from}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{abs(hash((mail_from, to, subject)))}@{domain}>\r\n\r\n"
            "Good morning, is the offer still open?\r\n").encode()
    async with aiosmtplib.SMTP(hostname=host, port=port, start_tls=False, timeout=10) as smtp:
        try:
            _, reply = await smtp.sendmail(mail_from, [to], mail)
        except aiosmtplib.SMTPResponseException as exc:
            return exc.code, exc.message
    return 250, reply


# ---------------------------------------------------------------- the contact-details rule


async def test_a_hidden_phone_number_unlists_a_free_member_until_it_is_removed(
        client: Any) -> None:
    ivy, = await register_all(client, "ivy")
    saved = await product(client, ivy, CLEAN_TEXT)
    assert saved["status"] == "active" and saved["contact_details_found"] == []
    assert await listed(client) == ["ivy"]

    resp = await client.put(f"/api/v1/me/products/{saved['id']}", headers=ivy.auth, json={
        "name": "Cashew kernels", "description": PHONE_IN_TEXT, "category": "agriculture"})
    body = await resp.json()
    assert resp.status == 200 and body["description"] == PHONE_IN_TEXT  # the save went through
    assert body["status"] == "not_listed"
    found, = body["contact_details_found"]
    assert found["kind"] == "phone" and found["field"] == "description"
    assert PHONE_IN_TEXT[found["start"]:found["end"]] == found["text"]
    assert "contact section" in body["notice"] and "hidden from the directory" in body["notice"]
    assert await listed(client) == []
    me = await (await client.get("/api/v1/me", headers=ivy.auth)).json()
    assert me["status"] == "not_listed" and "phone number" in me["status_reason"]

    resp = await client.put(f"/api/v1/me/products/{saved['id']}", headers=ivy.auth, json={
        "name": "Cashew kernels", "description": CLEAN_TEXT, "category": "agriculture"})
    assert (await resp.json())["status"] == "active"
    assert await listed(client) == ["ivy"]


async def test_the_contact_section_holds_contact_details_but_never_an_email_address(
        client: Any) -> None:
    ivy, = await register_all(client, "ivy")
    resp = await client.put("/api/v1/me/profile", headers=ivy.auth, json={
        "about": "Exporters of cashew since 1998.", "business_type": "manufacturer",
        "contact": {"phone": "+254 20 1234567", "website": "ivy-trading.example",
                    "address": "12 Moi Avenue\nNairobi", "messengers": "WhatsApp +254 20 1234567"}})
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "active", body
    assert body["contact"]["website"] == "https://ivy-trading.example"
    resp = await client.put("/api/v1/me/profile", headers=ivy.auth, json={
        "about": "", "contact": {"messengers": "mail me: ivy@real-ivy.example"}})
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"] == "contact.messengers"
    # Sealed at rest: the database holds no phone number in the clear.
    db = client.app[CORE].stores.db
    row = await db.fetchrow("SELECT contact_ct FROM profiles")
    assert b"1234567" not in bytes(row["contact_ct"])


async def test_premium_members_may_show_contact_details_in_listings(client: Any) -> None:
    ivy, = await register_all(client, "ivy")
    staff = await staff_of(client)
    await product(client, ivy, PHONE_IN_TEXT)
    assert await listed(client) == []
    moderation = client.app[CORE].market.moderation
    await moderation.set_tier(staff, await member_id(client, "ivy"), "premium", "paid plan")
    assert await listed(client) == ["ivy"]
    await moderation.set_tier(staff, await member_id(client, "ivy"), "free", "plan ended")
    assert await listed(client) == []


async def test_a_company_name_with_contact_details_is_refused_outright(client: Any) -> None:
    resp = await client.post("/api/v1/members", json={
        "username": "sly", "password": PASSWORD, "email": "sly@example.com",
        "company": "Sly Exports call 0044 20 7946 0958", "country": "GB"})
    assert resp.status == 422
    errors = (await resp.json())["errors"]
    assert errors[0]["field"] == "company" and "contact details" in errors[0]["message"]


async def test_repeated_violations_make_a_member_restricted(client: Any) -> None:
    ivy, = await register_all(client, "ivy")
    saved = await product(client, ivy, "Call +254 20 1234567")
    for _ in range(3):  # the same details saved again are the same violation
        resp = await client.put(f"/api/v1/me/products/{saved['id']}", headers=ivy.auth, json={
            "name": "Tea", "description": "Call +254 20 1234567", "category": "agriculture"})
        assert (await resp.json())["status"] == "not_listed"
    for n in range(2):
        saved = await product(client, ivy, f"Lot {n}: write to ivy at gmail dot com",
                              name=f"Lot {n}")
    assert saved["status"] == "restricted"
    entries = await client.app[CORE].stores.moderation.audit_log(
        member_id=await member_id(client, "ivy"))
    assert [e.action for e in entries][:2] == ["status.restricted", "status.not_listed"]
    assert all(e.actor == "system" for e in entries if e.action.startswith("status."))


# ---------------------------------------------------------------- the directory


async def test_the_directory_shows_aliases_to_members_only_and_searches(client: Any) -> None:
    ivy, kai, lea = await register_all(client, "ivy", "kai", "lea")
    await product(client, ivy, "Raw cashew nuts in shell", name="Cashew RCN")
    await product(client, kai, "Ceylon black tea, orthodox", name="Black tea",
                  category="food and beverage")
    resp = await client.get("/api/v1/directory", params={"q": "cashew"})
    items = (await resp.json())["items"]
    assert [i["username"] for i in items] == ["ivy"]
    assert "alias" not in items[0] and "send_trademail" not in items[0]["products"][0]

    items = (await (await client.get("/api/v1/directory", params={"q": "cashew"},
                                     headers=lea.auth)).json())["items"]
    assert items[0]["alias"] == ivy.alias
    link = items[0]["products"][0]["send_trademail"]
    assert link.startswith("/compose?to=") and "Cashew+RCN" in link

    assert await listed(client, q="kai trading") == ["kai"]  # company names match too
    assert await listed(client, q="LEA trad") == ["lea"]  # with no listing yet, as prefixes
    assert await listed(client, category="food and beverage") == ["kai"]
    assert await listed(client, country="kenya") == ["lea", "kai"]  # a page holds two here
    assert await listed(client, country="kenya", page="2") == ["ivy"]
    assert await listed(client, country="KE") == ["lea", "kai"]  # a code or a name
    assert await listed(client, country="Kenia") == ["lea", "kai"]  # in another language
    resp = await client.get("/api/v1/directory", params={"page": "4"})
    assert resp.status == 422 and "narrow your search" in (await resp.json())["detail"]
    resp = await client.get("/api/v1/directory", params={"category": "weapons"})
    assert resp.status == 422


async def test_contact_sections_are_counted_and_capped_per_day(client: Any,
                                                               clock: FakeClock) -> None:
    names = ["ivy", "kai", "lea", "max"]
    ivy, kai, lea, max_ = await register_all(client, *names)
    for member in (ivy, kai, lea):
        resp = await client.put("/api/v1/me/profile", headers=member.auth, json={
            "contact": {"phone": "+254 20 1234567"}})
        assert resp.status == 200
    resp = await client.get("/api/v1/directory/ivy/contact")
    assert resp.status == 401
    for name in ("ivy", "kai", "ivy"):  # the same member twice counts once towards the cap
        resp = await client.get(f"/api/v1/directory/{name}/contact", headers=max_.auth)
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["contact"]["phone"].replace(" ", "") == "+254201234567"
    clock.advance(3600)
    resp = await client.get("/api/v1/directory/lea/contact", headers=max_.auth)
    assert resp.status == 429 and "2 members' contact sections a day" in (
        await resp.json())["detail"]
    assert int(resp.headers["Retry-After"]) == 86400 - 3600  # when ivy's first view ages out
    staff = await staff_of(client)
    viewers = await client.app[CORE].market.moderation.top_viewers(staff)
    assert [(v.member.username, v.views, v.members) for v in viewers] == [("max", 3, 2)]
    clock.advance(86400 - 3600)
    resp = await client.get("/api/v1/directory/lea/contact", headers=max_.auth)
    assert resp.status == 200


async def test_unconfirmed_members_cannot_open_contact_sections(client: Any) -> None:
    ivy = await register(client, "ivy")
    await client.put("/api/v1/me/profile", headers=ivy.auth,
                     json={"contact": {"phone": "+254 20 1234567"}})
    new = await register(client, "new", confirmed=False)
    resp = await client.get("/api/v1/directory/ivy/contact", headers=new.auth)
    assert resp.status == 403


# ---------------------------------------------------------------- statuses


async def test_a_ban_ends_everything_at_once_and_keeps_past_mail_marked(client: Any) -> None:
    ivy, kai = await register_all(client, "ivy", "kai")
    await send(client, ivy, [kai.username], subject="Offer")
    browser = Browser(client)
    try:
        assert (await browser.sign_in("ivy")).status == 303
        assert (await browser.get("/inbox", allow_redirects=False)).status == 200
        await _ban_ends_everything(client, browser, ivy, kai)
    finally:
        await browser.close()


async def _ban_ends_everything(client: Any, browser: Browser, ivy: Member, kai: Member) -> None:
    assert await rcpt(client, ivy.alias) == 250
    assert (await mail_in(client, ivy.email, kai.alias, subject="Before"))[0] == 250

    staff = await staff_of(client)
    moderation = client.app[CORE].market.moderation
    with pytest.raises(InvalidInput, match="reason"):
        await moderation.set_status(staff, await member_id(client, "ivy"), "banned", "")
    await moderation.set_status(staff, await member_id(client, "ivy"), "banned",
                                "advance-fee fraud reported by three members")

    resp = await browser.get("/inbox", allow_redirects=False)  # the open session died
    assert resp.status == 303 and resp.headers["Location"].startswith("/signin")
    resp = await browser.sign_in("ivy")
    assert resp.status == 401 and "closed by TradeStaff" in await resp.text()
    assert (await client.get("/api/v1/me", headers=ivy.auth)).status == 401
    resp = await client.post("/api/v1/tokens", json={"username": "ivy", "password": PASSWORD})
    assert resp.status == 401 and "closed" in (await resp.json())["detail"]
    assert await rcpt(client, ivy.alias) == 550
    resp = await client.post("/api/v1/messages", headers=kai.auth,
                             json={"to": [ivy.alias], "subject": "Hi", "body": "Still there?"})
    assert resp.status == 422 and "closed" in await resp.text()
    inbox = await (await client.get("/api/v1/messages", headers=kai.auth)).json()
    assert inbox["messages"][0]["from"]["account_closed"] is True
    code, reply = await mail_in(client, ivy.email, kai.alias)  # from the banned one's own
    assert code == 550 and "may not send" in reply               # address: refused too
    resp = await client.post("/api/v1/password-resets", json={"account": "ivy"})
    assert resp.status == 202  # the same answer as for anyone; no link makes them whole
    resp = await browser.sign_in("ivy")
    assert resp.status == 401
    entries = (await moderation.audit(staff, member_id=await member_id(client, "ivy"))).entries
    assert (entries[0].actor, entries[0].action) == ("anna-staff", "status.banned")
    assert "fraud" in entries[0].detail


async def restricted_ivy(client: Any, other: str) -> tuple[Any, dict[str, Any], Any]:
    """Ivy, asked for a quote by Kai and then Restricted by staff; the message asking, and
    one more member (`other`) she never wrote to."""
    ivy, kai, someone = await register_all(client, "ivy", "kai", other)
    first = await send(client, kai, [ivy.username], subject="Quote?")
    staff = await staff_of(client)
    await client.app[CORE].market.moderation.set_status(staff, await member_id(client, "ivy"),
                                                        "restricted", "spam complaints")
    return ivy, first, someone


async def test_restricted_members_only_answer_and_have_a_daily_cap(
        tmp_path: Path, store_url: str, aiohttp_client: Any, clock: FakeClock) -> None:
    config = make_config(tmp_path, store_url, TRADEMAIL_LIMITS_RESTRICTED_MESSAGES_PER_DAY="2")
    client = await app_client(aiohttp_client, config, clock)
    ivy, first, lea = await restricted_ivy(client, "lea")
    resp = await client.post("/api/v1/messages", headers=ivy.auth,
                             json={"to": [lea.username], "subject": "New", "body": "Buy!"})
    assert resp.status == 403 and "only answer" in (await resp.json())["detail"]
    for _ in range(2):  # `to` left out: the answer goes to the other side
        resp = await client.post("/api/v1/messages", headers=ivy.auth, json={
            "body": "Here is our quote", "in_reply_to": first["id"]})
        assert resp.status == 201, await resp.text()
    resp = await client.post("/api/v1/messages", headers=ivy.auth,
                             json={"body": "And another", "in_reply_to": first["id"]})
    assert resp.status == 429 and resp.headers["Retry-After"].isdigit()
    assert "2 messages a day" in (await resp.json())["detail"]
    assert await listed(client) == ["lea", "kai"]  # hidden from the directory


async def test_restricted_members_have_a_lower_hourly_limit(
        tmp_path: Path, store_url: str, aiohttp_client: Any, clock: FakeClock) -> None:
    config = make_config(tmp_path, store_url, TRADEMAIL_LIMITS_RESTRICTED_MESSAGES_PER_HOUR="2",
                         TRADEMAIL_LIMITS_RESTRICTED_MESSAGES_PER_DAY="0",
                         TRADEMAIL_LIMITS_NEW_ACCOUNT_DAYS="0")
    client = await app_client(aiohttp_client, config, clock)
    ivy, first, _ = await restricted_ivy(client, "lea")
    answer = {"body": "Here is our quote", "in_reply_to": first["id"]}
    for _ in range(2):
        resp = await client.post("/api/v1/messages", headers=ivy.auth, json=answer)
        assert resp.status == 201, await resp.text()
    resp = await client.post("/api/v1/messages", headers=ivy.auth, json=answer)
    assert resp.status == 429 and "2 messages an hour" in (await resp.json())["detail"]
    clock.advance(3601)
    assert (await client.post("/api/v1/messages", headers=ivy.auth, json=answer)).status == 201


# ---------------------------------------------------------------- sending limits


async def test_sending_limits_answer_429_and_free_up_with_time(
        tmp_path: Path, store_url: str, aiohttp_client: Any, clock: FakeClock) -> None:
    config = make_config(tmp_path, store_url, TRADEMAIL_LIMITS_MEMBER_MESSAGES_PER_HOUR="3",
                         TRADEMAIL_LIMITS_MEMBER_NEW_CORRESPONDENTS_PER_DAY="2",
                         TRADEMAIL_LIMITS_NEW_ACCOUNT_DAYS="0")
    client = await app_client(aiohttp_client, config, clock)
    ivy, kai, lea, max_ = await register_all(client, "ivy", "kai", "lea", "max")
    resp = await client.post("/api/v1/messages", headers=ivy.auth, json={
        "to": [kai.username, lea.username, max_.username], "body": "Hello all"})
    assert resp.status == 422 and "name fewer recipients" in await resp.text()  # never fits
    await send(client, ivy, [kai.username, lea.username])
    resp = await client.post("/api/v1/messages", headers=ivy.auth,
                             json={"to": [max_.username], "body": "Hello"})
    assert resp.status == 429 and "2 new members a day" in (await resp.json())["detail"]
    await send(client, ivy, [kai.username])  # old correspondents are fine
    await send(client, ivy, [lea.username])
    resp = await client.post("/api/v1/messages", headers=ivy.auth,
                             json={"to": [kai.username], "body": "Hello"})
    assert resp.status == 429 and "3 messages an hour" in (await resp.json())["detail"]
    assert 3500 <= int(resp.headers["Retry-After"]) <= 3600
    clock.advance(3601)
    await send(client, ivy, [kai.username])


async def test_parallel_sends_meet_the_limit_together_and_refusals_are_not_counted(
        tmp_path: Path, store_url: str, aiohttp_client: Any, clock: FakeClock) -> None:
    config = make_config(tmp_path, store_url, TRADEMAIL_LIMITS_MEMBER_MESSAGES_PER_HOUR="4",
                         TRADEMAIL_LIMITS_NEW_ACCOUNT_DAYS="0")
    client = await app_client(aiohttp_client, config, clock)
    ivy, kai = await register_all(client, "ivy", "kai")
    resp = await client.post("/api/v1/me/blocks", headers=kai.auth,
                             json={"who": ivy.username, "mode": "refuse"})
    assert resp.status == 201, await resp.text()
    refused = await client.post("/api/v1/messages", headers=ivy.auth,
                                json={"to": [kai.username], "body": "Hello"})
    assert refused.status == 422  # refused by the block: not a message, not counted
    blocks = await (await client.get("/api/v1/me/blocks", headers=kai.auth)).json()
    for block in blocks["items"]:
        resp = await client.delete(f"/api/v1/me/blocks/{block['id']}", headers=kai.auth)
        assert resp.status == 204
    answers = await asyncio.gather(*(client.post(
        "/api/v1/messages", headers=ivy.auth, json={"to": [kai.username], "body": f"No {n}"})
        for n in range(7)))
    assert sorted(r.status for r in answers) == [201] * 4 + [429] * 3
    inbox = await (await client.get("/api/v1/messages", headers=kai.auth)).json()
    assert len(inbox["messages"]) == 4


async def test_young_accounts_have_lower_limits(
        tmp_path: Path, store_url: str, aiohttp_client: Any, clock: FakeClock) -> None:
    config = make_config(tmp_path, store_url, TRADEMAIL_LIMITS_MEMBER_MESSAGES_PER_HOUR="0",
                         TRADEMAIL_LIMITS_NEW_ACCOUNT_MESSAGES_PER_HOUR="1")
    client = await app_client(aiohttp_client, config, clock)
    ivy, kai = await register_all(client, "ivy", "kai")
    await send(client, ivy, [kai.username])
    resp = await client.post("/api/v1/messages", headers=ivy.auth,
                             json={"to": [kai.username], "body": "Again"})
    assert resp.status == 429
    clock.advance(8 * 86400)  # a week old: the account's own limit (none) applies
    await send(client, ivy, [kai.username])
    await send(client, ivy, [kai.username])


# ---------------------------------------------------------------- blocks and reports


async def test_blocks_refuse_or_file_away_silently(client: Any) -> None:
    ivy, kai, lea = await register_all(client, "ivy", "kai", "lea")
    resp = await client.post("/api/v1/me/blocks", headers=ivy.auth,
                             json={"who": kai.username, "mode": "refuse"})
    assert resp.status == 201
    resp = await client.post("/api/v1/me/blocks", headers=ivy.auth,
                             json={"who": kai.alias, "mode": "file"})
    assert resp.status == 409
    resp = await client.post("/api/v1/messages", headers=kai.auth,
                             json={"to": [ivy.alias], "body": "Hello"})
    assert resp.status == 422 and "does not accept your messages" in await resp.text()

    await client.post("/api/v1/me/blocks", headers=ivy.auth,
                      json={"who": lea.username, "mode": "file"})
    sent = await send(client, lea, [ivy.username], subject="Filed")
    inbox = await (await client.get("/api/v1/messages", headers=ivy.auth)).json()
    assert inbox["messages"] == []
    archive = await (await client.get("/api/v1/messages", params={"folder": "archive"},
                                      headers=ivy.auth)).json()
    assert [m["id"] for m in archive["messages"]] == [sent["id"]]
    assert archive["messages"][0]["unread"] is False
    blocks = (await (await client.get("/api/v1/me/blocks", headers=ivy.auth)).json())["items"]
    assert [(b["who"], b["mode"]) for b in blocks] == [("kai", "refuse"), ("lea", "file")]
    resp = await client.delete(f"/api/v1/me/blocks/{blocks[0]['id']}", headers=ivy.auth)
    assert resp.status == 204
    await send(client, kai, [ivy.username])


async def test_an_outside_address_can_be_blocked_at_the_gateway(client: Any) -> None:
    ivy, = await register_all(client, "ivy")
    host, port = client.app[SMTP_GATEWAY].address
    mail = (b"From: Spammer <spam@outside.example>\r\nTo: " + ivy.alias.encode()
            + b"\r\nSubject: Cheap\r\nMessage-ID: <1@outside.example>\r\n\r\nBuy now\r\n")
    resp = await client.post("/api/v1/me/blocks", headers=ivy.auth,
                             json={"who": "SPAM@outside.example", "mode": "refuse"})
    assert resp.status == 201
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        async with aiosmtplib.SMTP(hostname=host, port=port, start_tls=False,
                                   timeout=10) as smtp:
            await smtp.sendmail("spam@outside.example", [ivy.alias], mail)
    assert refused.value.code == 550 and "does not accept mail" in refused.value.message
    rows = await client.app[CORE].stores.db.fetch("SELECT target FROM blocks")
    assert b"outside" not in str(rows[0]["target"]).encode()  # a keyed digest, not the address


async def test_a_report_is_the_one_way_staff_read_mail_and_it_is_audited(client: Any) -> None:
    ivy, kai = await register_all(client, "ivy", "kai")
    sent = await send(client, kai, [ivy.username], subject="Pay upfront",
                      body="Send the deposit by Western Union")
    resp = await client.post(f"/api/v1/messages/{sent['id']}/report", headers=ivy.auth,
                             json={"reason": "asks for payment outside the platform"})
    assert resp.status == 201
    resp = await client.post(f"/api/v1/messages/{sent['id']}/report", headers=ivy.auth,
                             json={"reason": "again"})
    assert resp.status == 422
    resp = await client.post(f"/api/v1/messages/{sent['id']}/report", headers=kai.auth,
                             json={"reason": "not mine to report?"})
    assert resp.status == 201  # the sender has it in Sent: theirs to report too
    staff = await staff_of(client)
    moderation = client.app[CORE].market.moderation
    (report, reporter), _ = await moderation.reports(staff)
    assert reporter.username == "ivy" and report.reason.startswith("asks for payment")
    _, _, thread = await moderation.read_report(staff, report.id)
    assert [m.body for m in thread] == ["Send the deposit by Western Union"]
    entries = (await moderation.audit(staff)).entries
    assert entries[0].action == "report.read" and entries[0].actor == "anna-staff"
    first = await moderation.audit(staff, limit=1)  # a page at a time, newest first
    assert first.entries == entries[:1] and first.older == entries[0].id
    assert (await moderation.audit(staff, before=first.older, limit=1)).entries == entries[1:2]


# ---------------------------------------------------------------- TradeStaff


async def test_mail_from_staff_carries_a_badge_no_member_can_fake(client: Any) -> None:
    ivy, = await register_all(client, "ivy")
    await staff_of(client)
    resp = await client.post("/api/v1/tokens", json={"username": "anna-staff",
                                                     "password": PASSWORD})
    staff = Member("anna-staff", "", (await resp.json())["token"], "")
    await send(client, staff, [ivy.username], subject="About your listing",
               body="Please move your phone number to your contact section.")
    deadline = asyncio.get_running_loop().time() + 10
    while not (mails := [m for m in client.app[OUTBOUND].mails if ivy.email in m.rcpt_tos]):
        assert asyncio.get_running_loop().time() < deadline, "no notification"
        await asyncio.sleep(0.02)
    mail = message_from_bytes(mails[0].data, policy=policy.default)
    assert mail["From"].addresses[0].display_name == "TradeMail Staff (TradeStaff) via TradeMail"
    assert "[TradeStaff]" in mail.get_body(preferencelist=("plain",)).get_content()
    inbox = await (await client.get("/api/v1/messages", headers=ivy.auth)).json()
    assert inbox["messages"][0]["from"]["staff"] is True
    resp = await client.post("/api/v1/members", json={
        "username": "fake", "password": PASSWORD, "email": "fake@example.com",
        "company": "Acme (TradeStaff)", "country": "GB"})
    assert resp.status == 422


@pytest.mark.parametrize("name", ["Acme (TradeStaff)", "=?utf-8?q?Trade=E2=80=8BStaff?=",
                                  "TradeStaff Support", "TM Staff"])
async def test_nobody_outside_can_wear_the_staff_badge(client: Any, name: str) -> None:
    """A name an outsider chose is theirs to show, marked as from outside, unless it speaks
    for the staff: then they are "someone outside TradeMail", in the inbox and in the
    notification."""
    (ivy,) = await register_all(client, "ivy")
    assert (await mail_in(client, "boss@evil.example", ivy.alias, name=name,
                          subject="Account check"))[0] == 250
    inbox = await (await client.get("/api/v1/messages", headers=ivy.auth)).json()
    sender = inbox["messages"][0]["from"]
    assert sender["external"] is True and sender["staff"] is False
    assert "staff" not in sender["company"].lower()
    deadline = asyncio.get_running_loop().time() + 10
    while not (mails := [m for m in client.app[OUTBOUND].mails if ivy.email in m.rcpt_tos]):
        assert asyncio.get_running_loop().time() < deadline, "no notification"
        await asyncio.sleep(0.02)
    shown = message_from_bytes(mails[0].data, policy=policy.default)
    who = shown["From"].addresses[0].display_name
    assert re.search(r"outside TradeMail\)? via TradeMail$", who), who
    assert "staff" not in str(shown["From"]).lower() + str(shown["Reply-To"]).lower()


# ---------------------------------------------------------------- what review found


async def test_blocking_an_outside_sender_never_shows_their_address(client: Any) -> None:
    ivy, = await register_all(client, "ivy")
    # Mail from a member's own address without the upstream's DMARC word is outside mail:
    # blocking its sender must not tell ivy whose address it is.
    host, port = client.app[SMTP_GATEWAY].address
    raw = (f"From: Kai Buyer <kai@real-kai.example>\r\nTo: {ivy.alias}\r\nSubject: Hi\r\n"
           "Message-ID: <b1@real-kai.example>\r\n\r\nHello\r\n").encode()
    async with aiosmtplib.SMTP(hostname=host, port=port, start_tls=False, timeout=10) as smtp:
        await smtp.sendmail("kai@real-kai.example", [ivy.alias], raw)
    inbox = await (await client.get("/api/v1/messages", headers=ivy.auth)).json()
    resp = await client.post("/api/v1/me/blocks", headers=ivy.auth, json={
        "message_id": inbox["messages"][0]["id"], "mode": "file"})
    assert resp.status == 201
    text = await resp.text() + await (await client.get("/api/v1/me/blocks",
                                                       headers=ivy.auth)).text()
    assert "Kai Buyer (outside sender)" in text and "real-kai" not in text


async def test_public_names_carry_no_contact_details_and_claim_no_staff(client: Any) -> None:
    for field, value in (("country", "Kenya WhatsApp +254712345678"),
                         ("username", "call0712345678"), ("country", "TradeStaff")):
        resp = await client.post("/api/v1/members", json={
            "username": "sly", "password": PASSWORD, "email": "sly@example.com",
            "company": "Sly Ltd", "country": "Kenya"} | {field: value})
        assert resp.status == 422, (field, value)
        assert [e["field"] for e in (await resp.json())["errors"]] == [field]


async def test_staff_reading_a_report_never_see_an_outsiders_address(client: Any) -> None:
    (ivy,) = await register_all(client, "ivy")
    outsider = "pay.now@freemail-lookalike.example"
    assert (await mail_in(client, outsider, ivy.alias, name="Big Buyer",
                          subject="Deposit"))[0] == 250
    inbox = await (await client.get("/api/v1/messages", headers=ivy.auth)).json()
    (item,) = inbox["messages"]
    assert item["from"]["address"] == outsider  # to Ivy, whom they wrote to
    browser = Browser(client)
    try:
        assert (await browser.sign_in("ivy")).status == 303
        assert outsider in await browser.page(f"/messages/{item['id']}")
    finally:
        await browser.close()
    resp = await client.post(f"/api/v1/messages/{item['id']}/report", headers=ivy.auth,
                             json={"reason": "a look-alike of a buyer's domain"})
    assert resp.status == 201
    staff = await staff_of(client)
    moderation = client.app[CORE].market.moderation
    (report, _), = await moderation.reports(staff)
    _, _, thread = await moderation.read_report(staff, report.id)
    (message,) = thread
    assert message.sender.external and message.sender.address == ""
    assert outsider not in repr(thread)


async def test_a_closed_report_shows_nothing_and_a_report_shows_nothing_newer(
        client: Any, clock: FakeClock) -> None:
    ivy, kai = await register_all(client, "ivy", "kai")
    first = await send(client, kai, [ivy.username], body="Send the deposit first")
    resp = await client.post(f"/api/v1/messages/{first['id']}/report", headers=ivy.auth,
                             json={"reason": "advance fee"})
    report_id = (await resp.json())["id"]
    clock.advance(60)
    resp = await client.post("/api/v1/messages", headers=ivy.auth, json={
        "body": "Written after the report", "in_reply_to": first["id"]})
    assert resp.status == 201
    staff = await staff_of(client)
    moderation = client.app[CORE].market.moderation
    _, _, thread = await moderation.read_report(staff, report_id)
    assert [m.body for m in thread] == ["Send the deposit first"]
    await moderation.close_report(staff, report_id, "member warned")
    with pytest.raises(NotFound):
        await moderation.read_report(staff, report_id)


async def test_restricted_members_cannot_go_on_with_threads_only_they_wrote_in(
        client: Any) -> None:
    ivy, kai = await register_all(client, "ivy", "kai")
    own = await send(client, ivy, [kai.username], subject="Offer")
    staff = await staff_of(client)
    await client.app[CORE].market.moderation.set_status(
        staff, await member_id(client, "ivy"), "restricted", "spam complaints")
    resp = await client.post("/api/v1/messages", headers=ivy.auth,
                             json={"body": "Reminder!", "in_reply_to": own["id"]})
    assert resp.status == 403
    answer = await client.post("/api/v1/messages", headers=kai.auth,
                               json={"body": "How much?", "in_reply_to": own["id"]})
    assert answer.status == 201
    resp = await client.post("/api/v1/messages", headers=ivy.auth,
                             json={"body": "12 USD", "in_reply_to": own["id"]})
    assert resp.status == 201  # kai wrote in it now: an answer


async def test_answering_someone_is_no_first_message(
        tmp_path: Path, store_url: str, aiohttp_client: Any, clock: FakeClock) -> None:
    config = make_config(tmp_path, store_url, TRADEMAIL_LIMITS_NEW_ACCOUNT_DAYS="0",
                         TRADEMAIL_LIMITS_MEMBER_NEW_CORRESPONDENTS_PER_DAY="1")
    client = await app_client(aiohttp_client, config, clock)
    ivy, kai, lea = await register_all(client, "ivy", "kai", "lea")
    await send(client, ivy, [kai.username])  # ivy's one first message today
    asked = await send(client, lea, [ivy.username], subject="Inquiry")
    resp = await client.post("/api/v1/messages", headers=ivy.auth,
                             json={"body": "Our quote", "in_reply_to": asked["id"]})
    assert resp.status == 201, await resp.text()


async def test_staff_lift_what_they_set_and_dismiss_what_the_detector_got_wrong(
        client: Any) -> None:
    ivy, = await register_all(client, "ivy")
    staff = await staff_of(client)
    core = client.app[CORE]
    await core.market.moderation.set_status(staff, await member_id(client, "ivy"),
                                            "not_listed", "misleading product names")
    saved = await product(client, ivy, CLEAN_TEXT)
    assert saved["status"] == "not_listed"  # a clean save does not lift what staff set
    await core.market.moderation.set_status(staff, await member_id(client, "ivy"), "active",
                                            "names fixed")
    flagged = await product(client, ivy, "Bearings 6205 2RS, call 0712 345 678 today",
                            name="Bearings")
    assert flagged["status"] == "not_listed"
    (flag, _), = await core.market.moderation.queue(staff)
    await core.market.moderation.dismiss_flag(staff, flag.id)
    assert await listed(client) == ["ivy"]
    resp = await client.put(f"/api/v1/me/products/{flagged['id']}", headers=ivy.auth, json={
        "name": "Bearings", "description": "Bearings 6205 2RS, call 0712 345 678 today",
        "category": "machinery"})
    body = await resp.json()
    assert body["status"] == "active" and body["contact_details_found"] == []
    entries = (await core.market.moderation.audit(staff)).entries
    assert "flag.dismissed" in [e.action for e in entries]


async def test_deleting_the_flagged_listing_lists_the_member_again(client: Any) -> None:
    ivy, = await register_all(client, "ivy")
    flagged = await product(client, ivy, PHONE_IN_TEXT)
    assert flagged["status"] == "not_listed"
    resp = await client.delete(f"/api/v1/me/products/{flagged['id']}", headers=ivy.auth)
    assert resp.status == 204
    assert await listed(client) == ["ivy"]
    rows = await client.app[CORE].stores.db.fetch("SELECT text, spans FROM listing_flags")
    assert [(r["text"], r["spans"]) for r in rows] == [("", "[]")]  # nothing of it is kept


async def test_an_expired_lead_leaves_the_search(client: Any, clock: FakeClock) -> None:
    ivy, = await register_all(client, "ivy")
    resp = await client.post("/api/v1/me/leads", headers=ivy.auth, json={
        "kind": "buy", "title": "Wanted: sesame seeds", "category": "agriculture",
        "expires_in_days": 2})
    assert resp.status == 201
    assert await listed(client, q="sesame") == ["ivy"]
    clock.advance(3 * 86400)
    assert await listed(client, q="sesame") == []
    assert await listed(client, q="ivy") == ["ivy"]
