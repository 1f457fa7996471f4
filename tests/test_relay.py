"""The outbox and relay: nothing committed is lost, nothing is sent twice."""

from __future__ import annotations

import asyncio
import mailbox
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.helpers import make_config
from tests.smtp_helpers import Smarthost
from trademail.app import Core, open_core
from trademail.config import Config
from trademail.gateway.transports import MaildirTransport, SmtpTransport
from trademail.services.delivery import OutboundMail, Relay, Webhook
from trademail.testing import FakeClock, MemoryTransport, MemoryWebhooks


@pytest.fixture
async def core(tmp_path: Path, store_url: str, clock: FakeClock) -> AsyncIterator[Core]:
    core = await open_core(make_config(tmp_path, store_url), clock)
    yield core
    await core.close()


@pytest.fixture
def config(tmp_path: Path, store_url: str) -> Config:
    return make_config(tmp_path, store_url, TRADEMAIL_RELAY_WORKERS="8",
                       TRADEMAIL_RELAY_RETRY_BASE_SECONDS="60")


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mail(n: int) -> OutboundMail:
    return OutboundMail("bounce+x@relay.localhost", (f"member{n}@real.example",),
                        f"Subject: note {n}\r\nFrom: TradeMail <notify@relay.localhost>\r\n"
                        f"\r\nbody {n}\r\n".encode())


def relay_to(core: Core, config: Config, clock: FakeClock, port: int, *,
             timeout: float = 5) -> Relay:
    return Relay(core.stores.outbox, core.outbox, SmtpTransport("127.0.0.1", port, tls="none",
                                                        timeout=timeout), clock, config.relay,
                 render=core.notifications.render)


async def test_a_smarthost_that_is_down_and_comes_back_gets_every_mail_once(
        core: Core, config: Config, clock: FakeClock) -> None:
    port = _unused_port()
    relay = relay_to(core, config, clock, port)
    ids = [await core.outbox.enqueue(mail(n), None) for n in range(3)]
    assert await relay.run_once() == 3
    assert {(await core.stores.outbox.outbox_state(i))[:2] for i in ids} == {("pending", 1)}
    assert await relay.run_once() == 0  # backing off: nothing is due yet

    async with Smarthost(port=port) as smarthost:
        clock.advance(60)
        assert await relay.run_once() == 3
        assert await relay.run_once() == 0
        clock.advance(3600)
        assert await relay.run_once() == 0
    assert sorted(m.data.split(b"\r\n")[0] for m in smarthost.mails) == [
        b"Subject: note 0", b"Subject: note 1", b"Subject: note 2"]
    assert {(await core.stores.outbox.outbox_state(i))[0] for i in ids} == {"sent"}
    payloads = await core.stores.db.fetch("SELECT payload_ct FROM outbox")
    assert all(r["payload_ct"] is None for r in payloads)


async def test_a_5xx_is_permanent_and_a_4xx_is_retried_until_given_up(
        core: Core, config: Config, clock: FakeClock) -> None:
    async with Smarthost(reply="550 5.1.1 <member0@real.example>: no such user") as host:
        relay = relay_to(core, config, clock, host.port)
        failed = await core.outbox.enqueue(mail(0), None)
        await relay.run_once()
        state = await core.stores.outbox.outbox_state(failed)
        assert state == ("failed", 1, "550 5.1.1")  # the reply's text (an address) is dropped

        host.reply = "451 4.3.0 try later"
        deferred = await core.outbox.enqueue(mail(1), None)
        waits = []
        while (await core.stores.outbox.outbox_state(deferred))[0] == "pending":
            before = clock.now()
            await relay.run_once()
            row = await core.stores.db.fetchrow(
                "SELECT next_attempt_at FROM outbox WHERE id = $1", deferred)
            waits.append(row["next_attempt_at"] - before)
            clock.advance(max(waits[-1], 1))
        assert waits[:4] == [60, 120, 240, 480] and max(waits) == 3600
        state = await core.stores.outbox.outbox_state(deferred)
        assert state[0] == "failed" and state[2].startswith("gave up after")
    assert host.mails == []


async def test_workers_never_send_the_same_mail_twice(core: Core, config: Config,
                                                      clock: FakeClock) -> None:
    async with Smarthost() as host:
        for n in range(40):
            await core.outbox.enqueue(mail(n), None)
        relays = [relay_to(core, config, clock, host.port) for _ in range(4)]
        while sum(await asyncio.gather(*(r.run_once() for r in relays))):
            pass
    assert len(host.mails) == 40
    assert len({m.data for m in host.mails}) == 40


async def test_without_a_smarthost_mail_lands_in_a_maildir(core: Core, config: Config,
                                                           clock: FakeClock,
                                                           tmp_path: Path) -> None:
    relay = Relay(core.stores.outbox, core.outbox, MaildirTransport(tmp_path / "outbound"), clock,
                  config.relay, render=core.notifications.render)
    await core.outbox.enqueue(mail(7), None)
    assert await relay.run_once() == 1
    (stored,) = list(mailbox.Maildir(tmp_path / "outbound", create=False))
    assert stored["Subject"] == "note 7"
    assert stored["Return-Path"] == "<bounce+x@relay.localhost>"


async def test_queued_mail_is_sealed_at_rest(core: Core) -> None:
    await core.outbox.enqueue(mail(3), None)
    (row,) = await core.stores.db.fetch("SELECT payload_ct FROM outbox")
    assert b"member3@real.example" not in bytes(row["payload_ct"])
    assert b"note 3" not in bytes(row["payload_ct"])


async def test_a_worker_that_overran_its_lease_loses_the_row(core: Core,
                                                             clock: FakeClock) -> None:
    outbox_id = await core.outbox.enqueue(mail(1), None)
    (slow,) = await core.stores.outbox.claim_outbox(clock.now(), 300.0, 10)
    (fast,) = await core.stores.outbox.claim_outbox(clock.now() + 301, 300.0, 10)
    assert slow.id == fast.id == outbox_id
    assert await core.stores.outbox.outbox_sent(fast)
    assert not await core.stores.outbox.outbox_failed(slow, "550 5.0.0")
    assert await core.stores.outbox.outbox_state(outbox_id) == ("sent", 2, None)


async def test_the_relay_with_the_shipped_fakes_retries_a_deferral_and_gives_up_on_a_refusal(
        core: Core, config: Config, clock: FakeClock) -> None:
    """trademail.testing's transports stand in for the gateway's: the relay's policy (back
    off on 4xx, give up on 5xx, post webhooks) is the same whatever carries the mail."""
    transport, hooks = MemoryTransport(refuse="451 4.7.1"), MemoryWebhooks()
    relay = Relay(core.stores.outbox, core.outbox, transport, clock, config.relay,
                  webhooks=hooks, render=core.notifications.render)
    deferred = await core.outbox.enqueue(mail(1), None)
    hook = Webhook("https://erp.example/hook", (("X-Test", "1"),), b"{}")
    await core.outbox.enqueue(hook, None)
    assert await relay.run_once() == 2
    assert hooks.posts == [hook] and transport.mails == []
    assert (await core.stores.outbox.outbox_state(deferred))[0] == "pending"
    transport.refuse = ""
    clock.advance(config.relay.retry_base_seconds)
    assert await relay.run_once() == 1
    assert [m.rcpt_tos for m in transport.mails] == [["member1@real.example"]]

    transport.refuse = "550 5.1.1"
    refused = await core.outbox.enqueue(mail(2), None)
    await relay.run_once()
    assert (await core.stores.outbox.outbox_state(refused))[0] == "failed"


@dataclass
class StallingSmarthost(Smarthost):
    """Holds the mail for `held` until `release` is set; takes the others at once."""

    held: str = ""
    release: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.held in envelope.rcpt_tos:
            await self.release.wait()
        reply = await super().handle_DATA(server, session, envelope)
        self.arrived.set()
        return reply


async def test_a_slow_delivery_holds_up_no_other_and_stopping_does_not_wait_for_it(
        core: Core, tmp_path: Path, store_url: str, clock: FakeClock) -> None:
    config = make_config(tmp_path, store_url, TRADEMAIL_RELAY_WORKERS="2")
    async with StallingSmarthost(held="member0@real.example") as host:
        relay = relay_to(core, config, clock, host.port, timeout=120)
        slow = await core.outbox.enqueue(mail(0), None)
        clock.advance(1)  # the slow one is claimed first
        for n in range(1, 6):
            await core.outbox.enqueue(mail(n), None)
        running = asyncio.create_task(relay.run(core.events))
        try:
            async with asyncio.timeout(30):  # one slot held: the other carries all five
                while len(host.mails) < 5:
                    await host.arrived.wait()
                    host.arrived.clear()
            assert {m.data.split(b"\r\n")[0] for m in host.mails} == {
                f"Subject: note {n}".encode() for n in range(1, 6)}
            running.cancel()  # stopping does not wait out the two-minute SMTP timeout
            await asyncio.wait_for(asyncio.gather(running, return_exceptions=True), 10)
            state = await core.stores.outbox.outbox_state(slow)
            assert state is not None and state[0] == "pending"  # delivered again later
        finally:
            host.release.set()
            running.cancel()
