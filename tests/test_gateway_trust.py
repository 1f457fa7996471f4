"""Mail that can be trusted in both directions, over real sockets: bounces classified by
their enhanced status code, a new address that starts notifications again, a member
writing from their own address, fixed-size identities and one-click unsubscribe."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser_helpers import Browser, csrf_of
from tests.helpers import OUTBOUND, link_token, register, register_all, send, take_mail
from tests.smtp_helpers import Smarthost
from tests.test_gateway import (  # noqa: F401 - fixtures are used by name
    Gateway,
    config,
    dmarc_results,
    gateway,
    gateway_config,
    mail_bytes,
    member_id,
    parse,
    smarthost,
)
from tests.test_gateway import dsn as dsn_mail
from trademail.app import CORE, build_app
from trademail.appkeys import NOTIFICATIONS
from trademail.gateway.transports import SmtpTransport
from trademail.testing import FakeClock


async def notices(gw: Gateway, member: Any) -> tuple[list[str], bool]:
    status = await gw.app[NOTIFICATIONS].notification_status(
        await member_id(gw, member))
    return [n.kind for n in reversed(status.notices)], status.paused


async def bounce(gw: Gateway, sender: Any, member: Any, n: int, status: str,
                 clock: FakeClock) -> None:
    """A notification to `member`, answered by a DSN with `status`."""
    await send(gw.client, sender, [member.username], subject=f"offer {n}")
    captured = (await gw.mails(n + 1))[-1]
    code, _ = await gw.deliver("", [captured.mail_from], dsn_mail(
        to=captured.mail_from, failed=member.email, status=status,
        action="failed" if status.startswith("5") else "delayed"))
    assert code == 250
    clock.advance(60)


@pytest.mark.parametrize("statuses, kinds, paused", [
    (["5.7.1"] * 3, ["refused_bounce"] * 3, False),  # a spam filter's refusal
    (["5.6.0", "5.3.4", "5.7.26"], ["refused_bounce"] * 3, False),
    (["5.1.1"] * 3, ["hard_bounce"] * 3, True),
    (["5.1.10", "5.1.2", "5.1.1"], ["hard_bounce"] * 3, True),
    (["5.2.2", "5.1.1", "5.1.1"], ["mailbox_bounce", "hard_bounce", "hard_bounce"], False),
    (["5.2.2", "5.2.1", "5.1.1"], ["mailbox_bounce", "mailbox_bounce", "hard_bounce"], True),
])
async def test_only_address_failures_pause_notifications(
        gateway: Gateway, clock: FakeClock, statuses: list[str], kinds: list[str],  # noqa: F811
        paused: bool) -> None:
    amina, bakari = await register_all(gateway.client, "amina", "bakari")
    for n, status in enumerate(statuses):
        await bounce(gateway, amina, bakari, n, status, clock)
    assert await notices(gateway, bakari) == (kinds, paused)


async def test_a_mailbox_that_answers_every_notification_automatically_pauses_them(
        gateway: Gateway, clock: FakeClock) -> None:  # noqa: F811
    """An out-of-office answering each notification at its envelope sender would make the
    two mail each other for ever: three automatic answers in a day pause notifications,
    and they start again once a day passes without one."""
    amina, bakari = await register_all(gateway.client, "amina", "bakari")
    for n in range(3):
        await send(gateway.client, amina, [bakari.username], subject=f"offer {n}")
        notification = (await gateway.mails(n + 1))[-1]
        answer = mail_bytes(sender=bakari.email, to=notification.mail_from,
                            subject=f"Out of office: offer {n}", body="Away until Monday.",
                            extra={"Auto-Submitted": "auto-replied"})
        assert (await gateway.deliver("", [notification.mail_from], answer))[0] == 250
        clock.advance(60)
    assert await notices(gateway, bakari) == (["auto_reply"] * 3, True)
    await send(gateway.client, amina, [bakari.username], subject="offer 3")
    assert len(await gateway.mails(3)) == 3  # paused: no fourth notification
    human = mail_bytes(sender=bakari.email, to=(await gateway.mails(3))[0].mail_from,
                       subject="Re: offer 0", body="A person writing back, not a robot.")
    assert (await gateway.deliver("", [(await gateway.mails(3))[0].mail_from], human))[0] \
        == 250
    assert (await notices(gateway, bakari))[0] == ["auto_reply"] * 3  # no notice for it
    clock.advance(86400)
    await send(gateway.client, amina, [bakari.username], subject="offer 4")
    assert len(await gateway.mails(4)) == 4  # a quiet day: notifications again


@pytest.mark.parametrize("reply, kind, paused", [
    ("554 5.7.1 Message rejected as spam", "refused_bounce", False),
    ("550 5.1.1 No such user", "hard_bounce", True),
    ("553 Mailbox name not allowed", "hard_bounce", True),
    ("550 Message refused", "refused_bounce", False),
])
async def test_refusals_by_the_relay_are_classified_too(
        gateway: Gateway, clock: FakeClock, reply: str, kind: str, paused: bool) -> None:  # noqa: F811
    amina, bakari = await register_all(gateway.client, "amina", "bakari")
    gateway.smarthost.reply = reply
    for n in range(3):
        await send(gateway.client, amina, [bakari.username], subject=f"offer {n}")
        clock.advance(60)
    deadline = asyncio.get_running_loop().time() + 10
    while len((await notices(gateway, bakari))[0]) < 3:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)
    assert await notices(gateway, bakari) == ([kind] * 3, paused)


async def change_address(gateway: Gateway, username: str, new: str) -> None:  # noqa: F811
    """The member moves to a new address through the settings page, confirmed by mail."""
    browser = Browser(gateway.client, https=True)
    try:
        assert (await browser.sign_in(username)).status == 303
        settings = await browser.page("/settings/security")
        resp = await browser.post("/settings/email", {
            "email": new, "password": "harbour crane pallet voyage"}, csrf=csrf_of(settings))
        assert resp.status == 200
        token = link_token(await take_mail(gateway.client, new, "/settings/email/confirm"),
                           "/settings/email/confirm")
        page = await browser.page(f"/settings/email/confirm?token={token}")
        resp = await browser.post("/settings/email/confirm", {"token": token},
                                  csrf=csrf_of(page))
        assert resp.status == 303
    finally:
        await browser.close()


async def test_a_confirmed_new_address_starts_paused_notifications_again(
        gateway: Gateway, clock: FakeClock) -> None:  # noqa: F811
    amina, bakari = await register_all(gateway.client, "amina", "bakari")
    for n in range(3):
        await bounce(gateway, amina, bakari, n, "5.1.1", clock)
    assert (await notices(gateway, bakari))[1] is True
    new = "bakari@new-bakari.example"
    await change_address(gateway, "bakari", new)
    assert (await notices(gateway, bakari))[1] is False
    await send(gateway.client, amina, [bakari.username], subject="welcome back")
    await take_mail(gateway.client, new, "Amina Trading Ltd")


async def test_a_large_mail_without_message_id_is_taken_once(gateway: Gateway) -> None:  # noqa: F811
    bakari = await register(gateway.client, "bakari")
    body = "Specification follows.\n" + ("Grade A cashews, W320, 20 t per lot. " * 2500)
    raw = mail_bytes(sender="buyer@importer.example", to=bakari.alias, subject="Spec",
                     body=body)
    raw = re.sub(rb"Message-ID: [^\r\n]+\r\n", b"", raw)
    assert len(raw) > 70_000 and b"Message-ID" not in raw
    for _ in range(2):  # an MTA's retry of the same mail
        code, text = await gateway.deliver("buyer@importer.example", [bakari.alias], raw)
        assert code == 250, text
    assert await gateway.app[CORE].stores.db.fetchval("SELECT COUNT(*) FROM messages") == 1


async def test_list_unsubscribe_goes_out_as_a_plain_url(gateway: Gateway) -> None:  # noqa: F811
    amina, bakari = await register_all(gateway.client, "amina", "bakari")
    await send(gateway.client, amina, [bakari.username])
    (captured,) = await gateway.mails(1)
    lines = captured.data.split(b"\r\n")
    (header,) = [line for line in lines if line.lower().startswith(b"list-unsubscribe:")]
    assert re.fullmatch(rb"List-Unsubscribe: <https://mail\.trade\.test/api/v1/unsubscribe/"
                        rb"[0-9a-f]{32}\.[a-z2-7]+>", header), header
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in lines
    url = header.split(b"<", 1)[1].rstrip(b">").decode()
    resp = await gateway.client.post(url.removeprefix("https://mail.trade.test"),
                                     data="List-Unsubscribe=One-Click")
    assert resp.status in (200, 204)


@pytest.fixture
async def trusted(tmp_path: Path, store_url: str, clock: FakeClock, smarthost: Smarthost,  # noqa: F811
                  aiohttp_client: Any) -> Gateway:
    """The gateway behind an upstream MTA whose Authentication-Results it trusts (the
    database first, so it outlives the app at teardown)."""
    settings = gateway_config(tmp_path, store_url,
                              TRADEMAIL_SMTP_TRUSTED_AUTHSERV_ID="mx.relay.test")
    app = await build_app(settings, clock, transport=SmtpTransport(
        "127.0.0.1", smarthost.port, tls="none", timeout=5))
    app[OUTBOUND] = smarthost
    return Gateway(await aiohttp_client(app), app, smarthost)


async def newest(gw: Gateway, member: Any) -> dict[str, Any]:
    listing = await (await gw.client.get("/api/v1/messages", headers=member.auth)).json()
    item = listing["messages"][0]
    return dict(await (await gw.client.get(f"/api/v1/messages/{item['id']}",
                                           headers=member.auth)).json())


async def test_a_member_proven_by_dmarc_writes_to_an_alias_as_themselves(
        trusted: Gateway) -> None:
    amina, bakari = await register_all(trusted.client, "amina", "bakari")
    domain = amina.email.rpartition("@")[2]
    raw = mail_bytes(sender=amina.email, name="Amina", to=bakari.alias, subject="Sesame",
                     body=f"Write to me at {amina.email} or mailto:{amina.email.upper()}",
                     extra={"Authentication-Results": dmarc_results("mx.relay.test", domain)})
    assert (await trusted.deliver(amina.email, [bakari.alias], raw))[0] == 250
    message = await newest(trusted, bakari)
    assert message["from"]["username"] == "amina" and message["from"]["external"] is False
    assert amina.alias in message["body"] and amina.email not in message["body"].lower()
    sent = await (await trusted.client.get("/api/v1/messages?folder=sent",
                                           headers=amina.auth)).json()
    assert [m["subject"] for m in sent["messages"]] == ["Sesame"]
    (note,) = await trusted.mails(1)
    assert note.rcpt_tos == [bakari.email] and amina.email.encode() not in note.data.lower()


@pytest.mark.parametrize("results", [
    None,  # no word from the upstream
    "mx.relay.test; dmarc=fail (p=reject) header.from={domain}",
    "mx.forger.example; dmarc=pass header.from={domain}",  # not the trusted upstream
])
async def test_without_proof_a_members_address_is_outside_mail_like_any_other(
        trusted: Gateway, results: str | None) -> None:
    """Treated exactly as mail from an address nobody registered: the addresses it came
    from are hidden, so its sender learns nothing of who is a member."""
    amina, mallory = await register_all(trusted.client, "amina", "mallory")
    stranger = "someone@real-stranger.example"
    for sender in (amina.email, stranger):
        domain = sender.rpartition("@")[2]
        extra = {"Authentication-Results": results.format(domain=domain)} if results else {}
        raw = mail_bytes(sender=sender, name="Who", to=mallory.alias, subject="Guess",
                         body=f"Am I a member? {sender} / MAILTO:{sender.upper()}", extra=extra)
        assert (await trusted.deliver(sender, [mallory.alias], raw))[0] == 250
        message = await newest(trusted, mallory)
        assert message["from"]["external"] is True
        shown = message["body"].strip()
        assert shown == "Am I a member? [address hidden] / MAILTO:[address hidden]"
    page = (await (await trusted.client.get("/api/v1/messages",
                                            headers=mallory.auth)).read()).lower()
    assert amina.email.encode() not in page and amina.alias.encode() not in page
    sent = await (await trusted.client.get("/api/v1/messages?folder=sent",
                                           headers=amina.auth)).json()
    assert sent["messages"] == []


async def test_an_unconfirmed_address_never_makes_a_mail_a_members(trusted: Gateway) -> None:
    bakari = await register(trusted.client, "bakari")
    squatter = await register(trusted.client, "mallory", email="olu@partner.example",
                              confirmed=False)
    raw = mail_bytes(sender="olu@partner.example", name="Olu", to=bakari.alias,
                     subject="Hello", body="An enquiry from outside.", extra={
                         "Authentication-Results": dmarc_results("mx.relay.test",
                                                                 "partner.example")})
    assert (await trusted.deliver("olu@partner.example", [bakari.alias], raw))[0] == 250
    assert (await newest(trusted, bakari))["from"]["external"] is True
    sent = await (await trusted.client.get("/api/v1/messages?folder=sent",
                                           headers=squatter.auth)).json()
    assert sent["messages"] == []


async def test_a_member_writing_to_an_alias_is_scrubbed_of_every_address_they_ever_had(
        trusted: Gateway) -> None:
    """Proven theirs (envelope, From and the upstream's DMARC pass), it is the member's
    mail; their earlier address is taken out as their current one is."""
    amina, bakari = await register_all(trusted.client, "amina", "bakari")
    old, new = bakari.email, "bakari@new-bakari.example"
    await change_address(trusted, "bakari", new)
    raw = mail_bytes(sender=new, name="Bakari", to=amina.alias, subject="Cards",
                     body=f"Old card: {old.upper()} / new: mailto:{new.replace('@', '%40')}",
                     extra={"Authentication-Results": dmarc_results("mx.relay.test",
                                                                    "new-bakari.example")})
    assert (await trusted.deliver(new, [amina.alias], raw))[0] == 250
    message = await newest(trusted, amina)
    assert message["from"]["username"] == "bakari" and message["from"]["external"] is False
    shown = message["body"].lower()
    assert "bakari@" not in shown and "%40new-bakari" not in shown
    assert bakari.alias in message["body"]


async def test_with_no_trusted_upstream_no_mail_to_an_alias_is_a_members(
        gateway: Gateway) -> None:  # noqa: F811
    """Anyone can write any From: without the upstream's word, a mail claiming a member's
    address is outside mail, so nobody learns whose an address is by writing from it."""
    amina, mallory = await register_all(gateway.client, "amina", "mallory")
    raw = mail_bytes(sender=amina.email, name="Guess", to=mallory.alias, subject="Who?",
                     body="Whose address is this?")
    assert (await gateway.deliver(amina.email, [mallory.alias], raw))[0] == 250
    message = await newest(gateway, mallory)
    assert message["from"]["external"] is True and message["from"]["username"] != "amina"
    assert "Amina" not in str(message)
    sent = await (await gateway.client.get("/api/v1/messages?folder=sent",
                                           headers=amina.auth)).json()
    assert sent["messages"] == []


async def test_outside_mail_claiming_a_member_hides_every_address_that_member_had(
        gateway: Gateway) -> None:  # noqa: F811
    """A forged From (its envelope another's) is outside mail; whoever it names, the
    addresses that member ever registered are hidden too."""
    amina, bakari = await register_all(gateway.client, "amina", "bakari")
    old, new = bakari.email, "bakari@new-bakari.example"
    await change_address(gateway, "bakari", new)
    raw = mail_bytes(sender=new, name="Bakari", to=amina.alias, subject="Cards",
                     body=f"Write to {old} or {new}")
    assert (await gateway.deliver("relay@forwarder.example", [amina.alias], raw))[0] == 250
    message = await newest(gateway, amina)
    assert message["from"]["external"] is True and message["from"]["address"] == ""
    assert message["body"].strip() == "Write to [address hidden] or [address hidden]"
