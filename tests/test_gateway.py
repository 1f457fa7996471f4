"""The SMTP gateway over real sockets: RCPT and size refusals, limits, notifications,
replies by mail, mail from outside to aliases, bounces, and two members conversing by mail."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest

from tests.browser_helpers import Browser
from tests.helpers import OUTBOUND, Member, make_config, register, register_all, send
from tests.smtp_helpers import Captured, Smarthost, transaction
from trademail.app import CORE, build_app
from trademail.appkeys import MEMBERS, NOTIFICATIONS, SMTP_GATEWAY
from trademail.config import Config
from trademail.gateway.transports import SmtpTransport
from trademail.testing import FakeClock

DOMAIN = "relay.localhost"


@dataclass
class Gateway:
    """The whole server (HTTP, SMTP gateway, relay) and the smarthost it relays to."""

    client: Any
    app: Any
    smarthost: Smarthost

    @property
    def port(self) -> int:
        return int(self.app[SMTP_GATEWAY].address[1])

    async def deliver(self, mail_from: str, rcpts: list[str], data: bytes,
                      size: int | None = None) -> tuple[int, str]:
        """One SMTP transaction; the first reply that is not a success, else DATA's."""
        return await transaction(self.port, mail_from, rcpts, data, size)

    async def mails(self, count: int) -> list[Captured]:
        """Wait (on real I/O, not on time) until the smarthost holds `count` mails."""
        deadline = asyncio.get_running_loop().time() + 10.0
        while len(self.smarthost.mails) < count:
            assert asyncio.get_running_loop().time() < deadline, (
                f"the smarthost got {len(self.smarthost.mails)} mails, expected {count}")
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.05)  # anything extra would show up now
        return list(self.smarthost.mails)

    def mails_to(self, address: str) -> list[EmailMessage]:
        return [parse(m.data) for m in self.smarthost.mails if address in m.rcpt_tos]


def parse(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def reply_address(message: EmailMessage) -> str:
    address = message["Reply-To"].addresses[0].addr_spec
    assert address.startswith("reply+") and address.endswith("@" + DOMAIN)
    return str(address)


def mail_bytes(*, sender: str, to: str, subject: str, body: str, name: str = "",
               extra: dict[str, str] | None = None, message_id: str | None = None) -> bytes:
    """A plain mail; each has a Message-ID of its own unless one is given (a retry)."""
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>" if name else sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or make_msgid(domain="mail.example.net")
    for key, value in (extra or {}).items():
        msg[key] = value
    msg.set_content(body)
    return msg.as_bytes(policy=policy.SMTP)


@pytest.fixture
async def smarthost() -> AsyncIterator[Smarthost]:
    async with Smarthost() as host:
        yield host


def gateway_config(tmp_path: Path, store_url: str, **overrides: str) -> Config:
    return make_config(tmp_path, store_url, TRADEMAIL_HTTP_PUBLIC_URL="https://mail.trade.test",
                       **overrides)


@pytest.fixture
def config(tmp_path: Path, store_url: str) -> Config:
    return gateway_config(tmp_path, store_url)


@pytest.fixture
async def gateway(config: Config, clock: FakeClock, smarthost: Smarthost,
                  aiohttp_client: Any) -> Gateway:
    # The database (through config) first, so it outlives the app at teardown.
    app = await build_app(config, clock, transport=SmtpTransport(
        "127.0.0.1", smarthost.port, tls="none", timeout=5))
    app[OUTBOUND] = smarthost
    return Gateway(await aiohttp_client(app), app, smarthost)


async def member_id(gw: Gateway, member: Member) -> str:
    row = await gw.app[CORE].stores.members.member_by_username(member.username)
    return str(row.id)


def real_addresses(*members: Member) -> list[bytes]:
    return [m.email.encode() for m in members]


# ---------------------------------------------------------------- SMTP behaviour


async def test_unknown_disabled_and_foreign_recipients_are_refused_at_rcpt(
        gateway: Gateway) -> None:
    amina = await register(gateway.client, "amina")
    mail = mail_bytes(sender="x@outside.example", to=amina.alias, subject="hi", body="hello")
    for rcpt in (f"nobody@{DOMAIN}", "someone@elsewhere.example", f"reply+nosuchtoken@{DOMAIN}",
                 f"bounce+n{'0' * 32}.aaaaaaaaaaaaaaaa@{DOMAIN}"):
        code, text = await gateway.deliver("x@outside.example", [rcpt], mail)
        assert code == 550 and "5.1.1" in text
    assert (await gateway.deliver("x@outside.example", [amina.alias], mail))[0] == 250
    # A member keeps one enabled alias, so Amina takes a second before disabling the first.
    members, amina_id = gateway.app[MEMBERS], await member_id(gateway, amina)
    second = await members.add_alias(amina_id)
    await members.set_alias_enabled(amina_id, amina.alias, False)
    code, _ = await gateway.deliver("x@outside.example", [amina.alias], mail)
    assert code == 550
    other = mail_bytes(sender="x@outside.example", to=second, subject="hi", body="again")
    assert (await gateway.deliver("x@outside.example", [second], other))[0] == 250


@pytest.fixture
def small_config(tmp_path: Path, store_url: str) -> Config:
    return gateway_config(tmp_path, store_url, TRADEMAIL_SMTP_MAX_MESSAGE_BYTES="4096",
                          TRADEMAIL_SMTP_MAX_CONNECTIONS_PER_CLIENT="2",
                          TRADEMAIL_SMTP_MAX_MESSAGES_PER_MINUTE="3")


async def test_over_size_is_552_at_mail_when_declared_and_at_data_otherwise(
        aiohttp_client: Any, small_config: Config, clock: FakeClock,
        smarthost: Smarthost) -> None:
    app = await build_app(small_config, clock, transport=SmtpTransport(
        "127.0.0.1", smarthost.port, tls="none", timeout=5))
    app[OUTBOUND] = smarthost
    gw = Gateway(await aiohttp_client(app), app, smarthost)
    amina = await register(gw.client, "amina")
    big = mail_bytes(sender="x@outside.example", to=amina.alias, subject="big",
                     body="x" * 6000)
    # Declared: refused at MAIL, before any RCPT is looked at.
    code, _ = await gw.deliver("x@outside.example", [f"nobody@{DOMAIN}"], big, size=len(big))
    assert code == 552
    # Undeclared: refused once DATA is in, and nothing is stored.
    code, _ = await gw.deliver("x@outside.example", [amina.alias], big)
    assert code == 552
    assert await app[CORE].stores.db.fetchval("SELECT COUNT(*) FROM messages") == 0


async def test_connection_and_message_rate_limits_answer_421_and_451(
        aiohttp_client: Any, small_config: Config, clock: FakeClock,
        smarthost: Smarthost) -> None:
    app = await build_app(small_config, clock, transport=SmtpTransport(
        "127.0.0.1", smarthost.port, tls="none", timeout=5))
    app[OUTBOUND] = smarthost
    gw = Gateway(await aiohttp_client(app), app, smarthost)
    amina = await register(gw.client, "amina")
    port = gw.port
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
    for reader, _ in held:
        assert (await reader.readline()).startswith(b"220")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert (await reader.readline()).startswith(b"421 4.7.0")
    writer.close()
    for _, w in held:
        w.close()
    await asyncio.sleep(0.05)

    mail = mail_bytes(sender="x@outside.example", to=amina.alias, subject="hi", body="hello")
    codes = [(await gw.deliver("x@outside.example", [amina.alias], mail))[0] for _ in range(4)]
    assert codes == [250, 250, 250, 451]
    clock.advance(61)
    assert (await gw.deliver("x@outside.example", [amina.alias], mail))[0] == 250


async def test_mail_loops_are_stopped(gateway: Gateway) -> None:
    amina = await register(gateway.client, "amina")
    extra = {f"Received-{n}": "x" for n in range(2)}
    looped = mail_bytes(sender="x@outside.example", to=amina.alias, subject="loop",
                        body="round and round", extra=extra)
    looped = b"".join(b"Received: from hop%d.example by next.example; Mon, 1 Jan 2024\r\n" % n
                      for n in range(31)) + looped
    code, text = await gateway.deliver("x@outside.example", [amina.alias], looped)
    assert code == 554 and "5.4.6" in text


# ---------------------------------------------------------------- notifications


async def test_a_new_message_notifies_the_recipient_with_a_clean_built_mail(
        gateway: Gateway) -> None:
    amina, bakari = await register_all(gateway.client, "amina", "bakari")
    await send(gateway.client, amina, [bakari.username], subject="Cashews",
               body="Can you quote 20 t?")
    (captured,) = await gateway.mails(1)
    assert captured.rcpt_tos == [bakari.email]
    assert re.fullmatch(rf"bounce\+n[0-9a-f]{{32}}\.[a-z2-7]{{16}}@{DOMAIN}", captured.mail_from)
    mail = parse(captured.data)
    assert mail["From"].addresses[0].domain == DOMAIN
    assert "Amina Trading Ltd" in str(mail["From"])
    assert mail["Message-ID"].endswith(f"@{DOMAIN}>")
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(r"<https://mail\.trade\.test/api/v1/unsubscribe/[0-9a-f]{32}\.[a-z2-7]+>",
                        mail["List-Unsubscribe"])
    reply_address(mail)
    assert mail.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]
    text = text_of(mail)
    assert "never ask for your password" in text and "Amina Trading Ltd" in text
    assert "20 t" not in text  # the default is a summary
    assert amina.email.encode() not in captured.data
    assert {k.lower() for k in mail.keys()} <= {
        "from", "to", "reply-to", "subject", "date", "message-id", "in-reply-to", "references",
        "auto-submitted", "x-auto-response-suppress", "list-unsubscribe",
        "list-unsubscribe-post", "list-id", "mime-version", "content-type", "feedback-id",
        "dkim-signature"}


async def test_a_short_notice_names_the_subject_and_links_to_the_message(
        gateway: Gateway) -> None:
    amina, bakari = await register_all(gateway.client, "amina", "bakari")
    sent = await send(gateway.client, amina, [bakari.username], subject="Cashew W320 quote",
                      body="Can you quote 20 t CIF Mombasa?")
    (captured,) = await gateway.mails(1)
    mail = parse(captured.data)
    assert mail["Subject"] == "Cashew W320 quote"
    text = text_of(mail)
    assert "Amina Trading Ltd" in text and "Subject: Cashew W320 quote" in text
    assert "20 t CIF" not in text  # a short notice: who wrote and the subject, no more
    link = f"https://mail.trade.test/messages/{sent['id']}"
    assert f"Read it in TradeMail: {link}" in text
    html = str(mail.get_body(preferencelist=("html",)).get_content())
    assert f'href="{link}"' in html
    # The link, followed signed out, asks for a sign-in and then opens the message.
    browser = Browser(gateway.client, https=True)  # public_url is https
    try:
        path = link.removeprefix("https://mail.trade.test")
        resp = await browser.get(path, allow_redirects=False)
        assert resp.status in (302, 303)
        assert resp.headers["Location"] == f"/signin?next=%2Fmessages%2F{sent['id']}"
        resp = await browser.sign_in("bakari", next_path=path)
        assert resp.status == 303 and resp.headers["Location"] == path
        assert "Can you quote 20 t CIF Mombasa?" in await browser.page(path)
    finally:
        await browser.close()


async def test_full_notifications_escape_html_and_off_sends_nothing(gateway: Gateway) -> None:
    amina, bakari = await register_all(gateway.client, "amina", "bakari")
    store = gateway.app[CORE].stores
    await store.db.execute("UPDATE members SET notify = 'full' WHERE username = 'bakari'")
    await send(gateway.client, amina, [bakari.username], subject="<b>Offer</b>",
               body="Price: <script>alert(1)</script> & terms")
    (captured,) = await gateway.mails(1)
    mail = parse(captured.data)
    assert "<script>alert(1)</script> & terms" in text_of(mail)
    html = str(mail.get_body(preferencelist=("html",)).get_content())
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; terms" in html

    await store.db.execute("UPDATE members SET notify = 'off' WHERE username = 'bakari'")
    await send(gateway.client, amina, [bakari.username])
    assert len(await gateway.mails(1)) == 1


async def test_one_click_unsubscribe_turns_notifications_off(gateway: Gateway) -> None:
    amina, bakari = await register_all(gateway.client, "amina", "bakari")
    await send(gateway.client, amina, [bakari.username])
    (captured,) = await gateway.mails(1)
    url = parse(captured.data)["List-Unsubscribe"].strip("<>")
    path = url.removeprefix("https://mail.trade.test")
    page = await gateway.client.get(path)
    assert page.status == 200 and "<form method=\"post\"" in await page.text()
    me = await (await gateway.client.get("/api/v1/me", headers=bakari.auth)).json()
    assert me["notify"] == "summary"  # looking changes nothing
    tampered = await gateway.client.post(path[:-3] + "aaa",
                                         data={"List-Unsubscribe": "One-Click"})
    assert tampered.status == 404
    done = await gateway.client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status == 204
    me = await (await gateway.client.get("/api/v1/me", headers=bakari.auth)).json()
    assert me["notify"] == "off"
    await send(gateway.client, amina, [bakari.username])
    assert len(await gateway.mails(1)) == 1


# ---------------------------------------------------------------- replies by mail


def gmail_reply(*, sender: str, name: str, to: str, body: str, quoted_from: str,
                quoted: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>"
    msg["To"] = to
    msg["Subject"] = "Re: New TradeMail"
    msg["Message-ID"] = "<CAJ0x1@mail.gmail.com>"
    msg.set_content(f"{body}\n\nOn Mon, 3 Feb 2025 at 10:12, {quoted_from} wrote:\n"
                    + "".join(f"> {line}\n" for line in quoted.splitlines()))
    msg.add_alternative(
        f"<div dir=\"ltr\">{body.replace(chr(10), '<br>')}</div><br><div class=\"gmail_quote\">"
        f"<div class=\"gmail_attr\">On Mon, 3 Feb 2025 at 10:12, {quoted_from} wrote:</div>"
        f"<blockquote class=\"gmail_quote\">{quoted}</blockquote></div>", subtype="html")
    return msg.as_bytes(policy=policy.SMTP)


async def test_two_members_converse_entirely_by_email(gateway: Gateway) -> None:
    amina, bakari = await register_all(gateway.client, "amina", "bakari")
    sent = await send(gateway.client, amina, [bakari.username], subject="Cashews W320",
                      body="Can you quote 20 t of W320?")
    (first,) = await gateway.mails(1)
    to_bakari = parse(first.data)

    code, _ = await gateway.deliver(bakari.email, [reply_address(to_bakari)], gmail_reply(
        sender=bakari.email, name="Bakari", to=reply_address(to_bakari),
        body=f"Yes: 1,450 USD/t FOB Mombasa.\nWrite to me at {bakari.email.upper()} any time.",
        quoted_from=f"Amina via TradeMail <{reply_address(to_bakari)}>",
        quoted="You have a new TradeMail message"))
    assert code == 250
    (_, second) = await gateway.mails(2)
    assert second.rcpt_tos == [amina.email]
    to_amina = parse(second.data)

    code, _ = await gateway.deliver(amina.email, [reply_address(to_amina)], gmail_reply(
        sender=amina.email, name="Amina", to=reply_address(to_amina),
        body="Deal. Sending the contract.", quoted_from=f"<{amina.email}>",
        quoted="Yes: 1,450 USD/t"))
    assert code == 250
    (_, _, third) = await gateway.mails(3)
    assert third.rcpt_tos == [bakari.email]
    assert reply_address(parse(third.data)) == reply_address(to_bakari)  # one per (thread, member)

    for member, other in ((amina, bakari), (bakari, amina)):
        resp = await gateway.client.get(f"/api/v1/threads/{sent['thread_id']}",
                                        headers=member.auth)
        raw = await resp.read()
        thread = (await resp.json())["messages"]
        assert [m["from"]["username"] for m in thread] == ["amina", "bakari", "amina"]
        assert thread[1]["body"].startswith("Yes: 1,450 USD/t FOB Mombasa.")
        assert "wrote:" not in thread[1]["body"] and ">" not in thread[1]["body"]
        assert thread[2]["body"] == "Deal. Sending the contract."
        assert other.email.encode() not in raw and member.email.encode() not in raw
    assert bakari.alias in thread[1]["body"]  # his own address was scrubbed to his alias
    for captured in gateway.smarthost.mails:
        (recipient,) = captured.rcpt_tos
        others = [a for a in real_addresses(amina, bakari) if a != recipient.encode()]
        assert not any(a.lower() in captured.data.lower() for a in others)
        assert recipient.encode() not in captured.data.split(b"\r\n\r\n", 1)[1].lower()


async def test_replies_from_anyone_but_the_owner_are_refused_and_the_owner_told(
        gateway: Gateway, tmp_path: Path) -> None:
    amina, bakari = await register_all(gateway.client, "amina", "bakari")
    await send(gateway.client, amina, [bakari.username])
    (first,) = await gateway.mails(1)
    reply_to = reply_address(parse(first.data))
    forged = mail_bytes(sender=bakari.email, to=reply_to, subject="Re", body="send money")
    code, text = await gateway.deliver("mallory@evil.example", [reply_to], forged)
    assert code == 550 and "5.7.1" in text and bakari.email not in text
    spoofed = mail_bytes(sender="mallory@evil.example", to=reply_to, subject="Re", body="x")
    assert (await gateway.deliver(bakari.email, [reply_to], spoofed))[0] == 550
    status = await gateway.app[NOTIFICATIONS].notification_status(
        await member_id(gateway, bakari))
    assert [n.kind for n in status.notices] == ["reply_refused", "reply_refused"]
    assert await gateway.app[CORE].stores.db.fetchval("SELECT COUNT(*) FROM messages") == 1
    assert len(await gateway.mails(1)) == 1  # nothing bounced to anyone


async def test_revoked_reply_addresses_are_refused_at_rcpt(gateway: Gateway) -> None:
    amina, bakari = await register_all(gateway.client, "amina", "bakari")
    await send(gateway.client, amina, [bakari.username])
    (first,) = await gateway.mails(1)
    reply_to = reply_address(parse(first.data))
    assert await gateway.app[NOTIFICATIONS].revoke_reply_addresses(
        await member_id(gateway, bakari)) == 1
    mail = mail_bytes(sender=bakari.email, to=reply_to, subject="Re", body="ok")
    assert (await gateway.deliver(bakari.email, [reply_to], mail))[0] == 550


async def test_auto_replies_to_a_reply_address_are_dropped_quietly(gateway: Gateway) -> None:
    amina, bakari = await register_all(gateway.client, "amina", "bakari")
    await send(gateway.client, amina, [bakari.username])
    (first,) = await gateway.mails(1)
    reply_to = reply_address(parse(first.data))
    ooo = mail_bytes(sender=bakari.email, to=reply_to, subject="Out of office",
                     body="I am away.", extra={"Auto-Submitted": "auto-replied"})
    assert (await gateway.deliver(bakari.email, [reply_to], ooo))[0] == 250
    assert await gateway.app[CORE].stores.db.fetchval("SELECT COUNT(*) FROM messages") == 1
    assert len(await gateway.mails(1)) == 1


@pytest.fixture
def dmarc_config(tmp_path: Path, store_url: str) -> Config:
    return gateway_config(tmp_path, store_url, TRADEMAIL_SMTP_REQUIRE_DMARC_PASS="true",
                          TRADEMAIL_SMTP_TRUSTED_AUTHSERV_ID="mx.relay.test")


def dmarc_results(authserv_id: str, domain: str, result: str = "pass") -> str:
    return (f"{authserv_id}; spf=pass smtp.mailfrom={domain}; "
            f"dmarc={result} (p=reject) header.from={domain}")


async def test_with_dmarc_required_a_reply_needs_a_pass_from_the_trusted_upstream(
        aiohttp_client: Any, dmarc_config: Config, clock: FakeClock,
        smarthost: Smarthost) -> None:
    app = await build_app(dmarc_config, clock, transport=SmtpTransport(
        "127.0.0.1", smarthost.port, tls="none", timeout=5))
    app[OUTBOUND] = smarthost
    gw = Gateway(await aiohttp_client(app), app, smarthost)
    amina, bakari = await register(gw.client, "amina"), await register(gw.client, "bakari")
    await send(gw.client, amina, [bakari.username])
    (first,) = await gw.mails(1)
    reply_to = reply_address(parse(first.data))
    domain = bakari.email.rpartition("@")[2]
    plain = mail_bytes(sender=bakari.email, to=reply_to, subject="Re", body="ok")
    assert (await gw.deliver(bakari.email, [reply_to], plain))[0] == 550
    failed = mail_bytes(sender=bakari.email, to=reply_to, subject="Re", body="ok", extra={
        "Authentication-Results": dmarc_results("mx.relay.test", domain, "fail")})
    assert (await gw.deliver(bakari.email, [reply_to], failed))[0] == 550
    # The sender writes its own "pass" under another authserv-id: ignored (RFC 8601 s. 5),
    # whether it is the only one or sits above our upstream's "fail".
    forged = mail_bytes(sender=bakari.email, to=reply_to, subject="Re", body="ok", extra={
        "Authentication-Results": dmarc_results("mx.forger.example", domain)})
    assert (await gw.deliver(bakari.email, [reply_to], forged))[0] == 550
    forged_on_top = b"Authentication-Results: " + dmarc_results(
        "mx.forger.example", domain).encode() + b"\r\n" + failed
    assert (await gw.deliver(bakari.email, [reply_to], forged_on_top))[0] == 550
    passed = mail_bytes(sender=bakari.email, to=reply_to, subject="Re", body="ok", extra={
        "Authentication-Results": dmarc_results("mx.relay.test", domain)})
    assert (await gw.deliver(bakari.email, [reply_to], passed))[0] == 250


async def test_with_dmarc_required_and_no_trusted_upstream_every_reply_is_refused(
        aiohttp_client: Any, tmp_path: Path, store_url: str, clock: FakeClock,
        smarthost: Smarthost) -> None:
    config = gateway_config(tmp_path, store_url, TRADEMAIL_SMTP_REQUIRE_DMARC_PASS="true")
    assert config.smtp.trusted_authserv_id == ""
    app = await build_app(config, clock, transport=SmtpTransport(
        "127.0.0.1", smarthost.port, tls="none", timeout=5))
    app[OUTBOUND] = smarthost
    gw = Gateway(await aiohttp_client(app), app, smarthost)
    amina, bakari = await register(gw.client, "amina"), await register(gw.client, "bakari")
    await send(gw.client, amina, [bakari.username])
    (first,) = await gw.mails(1)
    reply_to = reply_address(parse(first.data))
    domain = bakari.email.rpartition("@")[2]
    passed = mail_bytes(sender=bakari.email, to=reply_to, subject="Re", body="ok", extra={
        "Authentication-Results": dmarc_results("mx.relay.test", domain)})
    assert (await gw.deliver(bakari.email, [reply_to], passed))[0] == 550


async def test_cc_to_outside_addresses_is_not_mailed_and_the_member_is_told(
        gateway: Gateway) -> None:
    amina, bakari = await register_all(gateway.client, "amina", "bakari")
    await send(gateway.client, amina, [bakari.username])
    (first,) = await gateway.mails(1)
    reply_to = reply_address(parse(first.data))
    mail = mail_bytes(sender=bakari.email, to=reply_to, subject="Re", body="See Cc",
                      extra={"Cc": "boss@bakari-corp.example"})
    assert (await gateway.deliver(bakari.email, [reply_to], mail))[0] == 250
    captured = await gateway.mails(2)
    assert all("boss@bakari-corp.example" not in m.rcpt_tos for m in captured)
    status = await gateway.app[NOTIFICATIONS].notification_status(
        await member_id(gateway, bakari))
    assert [n.kind for n in status.notices] == ["cc_not_mailed"]


# ---------------------------------------------------------------- outside mail and aliases


async def test_outside_mail_lands_marked_external_and_the_answer_leaves_from_the_alias(
        gateway: Gateway) -> None:
    bakari = await register(gateway.client, "bakari")
    outsider = "buyer@importer.example"
    theirs = "<enquiry-7781@mail.importer.example>"
    mail = mail_bytes(sender=outsider, name="Olu Buyer", to=bakari.alias,
                      subject="Enquiry: sesame", body="Do you ship sesame to Lagos?",
                      message_id=theirs)
    assert (await gateway.deliver(outsider, [bakari.alias], mail))[0] == 250
    (note,) = await gateway.mails(1)
    assert note.rcpt_tos == [bakari.email] and outsider.encode() not in note.data

    inbox = await (await gateway.client.get("/api/v1/messages", headers=bakari.auth)).json()
    (item,) = inbox["messages"]
    assert item["from"]["external"] is True and item["from"]["company"] == "Olu Buyer"
    assert item["subject"] == "Enquiry: sesame"
    # The address they wrote from is theirs to show to the member they wrote to.
    assert item["from"]["address"] == outsider

    answer = await gateway.client.post("/api/v1/messages", headers=bakari.auth, json={
        "in_reply_to": item["id"], "subject": "Re: Enquiry: sesame", "body": "Yes, monthly."})
    assert answer.status == 201, await answer.text()
    (_, out) = await gateway.mails(2)
    assert out.rcpt_tos == [outsider]
    sent = parse(out.data)
    assert sent["From"].addresses[0].addr_spec == bakari.alias
    assert sent["Reply-To"].addresses[0].addr_spec == bakari.alias
    assert "Yes, monthly." in text_of(sent) and bakari.email.encode() not in out.data
    assert out.mail_from.startswith("bounce+o")
    # It answers their mail by its own Message-ID, so their client threads it.
    assert sent["In-Reply-To"] == theirs
    assert sent["References"].split()[0] == theirs

    # The outsider answers the alias in the same thread (their client keeps References).
    followup = mail_bytes(sender=outsider, name="Olu Buyer", to=bakari.alias,
                          subject="Re: Enquiry: sesame", body="Great, 40 t please.",
                          extra={"In-Reply-To": sent["Message-ID"]})
    assert (await gateway.deliver(outsider, [bakari.alias], followup))[0] == 250
    thread = await (await gateway.client.get(f"/api/v1/threads/{item['thread_id']}",
                                             headers=bakari.auth)).json()
    assert [m["body"] for m in thread["messages"]][-1] == "Great, 40 t please."
    assert len(thread["messages"]) == 3

    # A second answer names both of their mails, the latest as the one it answers.
    answer = await gateway.client.post("/api/v1/messages", headers=bakari.auth, json={
        "in_reply_to": thread["messages"][-1]["id"], "body": "Booked for March."})
    assert answer.status == 201, await answer.text()
    second = parse((await gateway.mails(4))[-1].data)
    refs = second["References"].split()
    assert refs[0] == theirs and second["In-Reply-To"] == refs[1] != theirs
    assert refs[1] == parse(followup)["Message-ID"]

    for query in ("SELECT address_ct AS ct FROM correspondents",
                  "SELECT payload_ct AS ct FROM outbox", "SELECT ref_ct AS ct FROM outside_refs"):
        rows = await gateway.app[CORE].stores.db.fetch(query)
        assert rows and all(outsider.encode() not in bytes(r["ct"] or b"") for r in rows)
    refs_kept = await gateway.app[CORE].stores.db.fetch("SELECT ref_ct FROM outside_refs")
    assert len(refs_kept) == 2 and all(b"importer" not in bytes(r["ref_ct"]) for r in refs_kept)


async def test_a_forged_from_naming_a_member_never_shows_their_address(
        gateway: Gateway) -> None:
    amina, bakari = await register_all(gateway.client, "amina", "bakari")
    # Anyone can write amina's real address in a From: unproven (its envelope another's),
    # it is outside mail, and bakari must not be shown amina's address by it.
    forged = mail_bytes(sender=amina.email, name="Amina", to=bakari.alias,
                        subject="Urgent: new bank details", body="Pay to this account.")
    assert (await gateway.deliver("bulk@forger.example", [bakari.alias], forged))[0] == 250
    inbox = await (await gateway.client.get("/api/v1/messages", headers=bakari.auth)).json()
    (item,) = inbox["messages"]
    assert item["from"]["external"] is True and item["from"]["address"] == ""
    assert amina.email not in str(inbox)
    page = await gateway.client.get(f"/api/v1/messages/{item['id']}", headers=bakari.auth)
    assert amina.email not in await page.text()


# ---------------------------------------------------------------- bounces


def dsn(*, to: str, failed: str, action: str = "failed", status: str = "5.1.1") -> bytes:
    return (
        f"From: MAILER-DAEMON@mx.real.example\r\nTo: {to}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
        "boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nYour mail bounced.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; "
        f"mx.real.example\r\n\r\nFinal-Recipient: rfc822; {failed}\r\nAction: {action}\r\n"
        f"Status: {status}\r\n\r\n--b1--\r\n").encode()


async def test_bounces_are_tied_by_verp_and_repeated_hard_bounces_pause_notifications(
        gateway: Gateway, clock: FakeClock) -> None:
    amina, bakari = await register_all(gateway.client, "amina", "bakari")
    notifications = gateway.app[NOTIFICATIONS]
    bakari_id = await member_id(gateway, bakari)
    for n in range(3):
        await send(gateway.client, amina, [bakari.username], subject=f"offer {n}")
        captured = (await gateway.mails(n + 1))[-1]
        code, _ = await gateway.deliver("", [captured.mail_from],
                                        dsn(to=captured.mail_from, failed=bakari.email))
        assert code == 250
        clock.advance(60)
    status = await notifications.notification_status(bakari_id)
    assert status.paused and status.hard_bounces_today == 3
    assert [n.kind for n in status.notices] == ["hard_bounce"] * 3
    await send(gateway.client, amina, [bakari.username], subject="not mailed")
    assert len(await gateway.mails(3)) == 3

    forged = captured.mail_from.replace(".", ".x", 1)
    assert (await gateway.deliver("", [forged], dsn(to=forged, failed=bakari.email)))[0] == 550

    clock.advance(86400)
    assert not (await notifications.notification_status(bakari_id)).paused
    await send(gateway.client, amina, [bakari.username], subject="mailed again")
    assert len(await gateway.mails(4)) == 4


async def test_a_bounce_never_causes_a_notification(gateway: Gateway) -> None:
    amina, bakari = await register_all(gateway.client, "amina", "bakari")
    await send(gateway.client, amina, [bakari.username])
    (captured,) = await gateway.mails(1)
    await gateway.deliver("", [captured.mail_from], dsn(to=captured.mail_from,
                                                        failed=bakari.email, action="delayed",
                                                        status="4.4.1"))
    status = await gateway.app[NOTIFICATIONS].notification_status(
        await member_id(gateway, bakari))
    assert [n.kind for n in status.notices] == ["soft_bounce"] and not status.paused
    assert len(await gateway.mails(1)) == 1


async def test_the_smtp_address_is_announced_and_the_gateway_stops_with_the_app(
        tmp_path: Path, store_url: str, clock: FakeClock) -> None:
    app = await build_app(make_config(tmp_path, store_url), clock)
    from aiohttp import web

    runner = web.AppRunner(app)
    await runner.setup()
    host, port = app[SMTP_GATEWAY].address
    assert host == "127.0.0.1" and port > 0
    reader, writer = await asyncio.open_connection(host, port)
    assert (await reader.readline()).startswith(b"220 relay.localhost")
    writer.close()
    await runner.cleanup()
    with pytest.raises(OSError):
        await asyncio.open_connection(host, port)
