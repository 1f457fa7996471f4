"""A bad day in production: the database restarted under traffic, the process killed while
it sends or rotates keys, a smarthost that refuses, stalls or hangs up, a full disk. Each
fails cleanly (a problem+json or an SMTP reply that says why, never a traceback or a
hang), loses nothing committed and sends nothing twice."""

from __future__ import annotations

import asyncio
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.browser_helpers import Browser, csrf_of
from tests.helpers import (
    OUTBOUND,
    PASSWORD,
    link_token,
    make_config,
    register,
    register_all,
    send,
    text_of_mail,
)
from tests.postgres_helpers import Cluster
from tests.process_helpers import Server, free_port, run_cli
from tests.smtp_helpers import Captured, Smarthost, transaction
from tests.test_gateway import Gateway, gateway_config, mail_bytes
from tests.test_rotation import Watched, offers_to_ana
from trademail.app import CORE, build_app, open_core
from trademail.appkeys import SMTP_GATEWAY
from trademail.gateway.transports import SmtpTransport, mail_transport
from trademail.services.delivery import OutboundMail, Relay
from trademail.services.messages import Draft
from trademail.testing import FakeClock

# --------------------------------------------------------------- the database goes away


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    cluster = Cluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


async def _call(http: aiohttp.ClientSession, method: str, url: str, **kw: Any
                ) -> tuple[int, str, Any]:
    """(status, content type, body as JSON or text); a hang fails the test."""
    async with http.request(method, url, timeout=aiohttp.ClientTimeout(total=30), **kw) as resp:
        text = await resp.text()
        kind = resp.content_type
        return resp.status, kind, await resp.json(content_type=None) if "json" in kind else text


async def test_postgresql_restarted_under_traffic_gives_503s_and_the_server_recovers(
        tmp_path: Path, cluster: Cluster) -> None:
    server = Server(tmp_path, cluster.url, free_port(), TRADEMAIL_RELAY_SMARTHOST="")
    await server.start()
    base = f"{server.url}/api/v1"
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            for name in ("amina", "bakari"):
                status, _, body = await _call(http, "POST", f"{base}/members", json={
                    "username": name, "password": PASSWORD, "email": f"{name}@real-{name}.example",
                    "company": f"{name.title()} Ltd", "country": "Kenya"})
                assert status == 201, body
            status, _, body = await _call(http, "POST", f"{base}/tokens", json={
                "username": "amina", "password": PASSWORD})
            auth = {"Authorization": f"Bearer {body['token']}"}
            status, _, body = await _call(http, "POST", f"{base}/messages", headers=auth, json={
                "to": ["bakari"], "subject": "Before", "body": "written before the restart"})
            assert status == 201, body

            page = await (await http.get(f"{server.url}/signin")).text()
            status, _, _ = await _call(http, "POST", f"{server.url}/signin", data={
                "username": "amina", "password": PASSWORD, "csrf": csrf_of(page)})
            assert status == 200

            cluster.stop()
            calls: list[tuple[str, str, dict[str, Any]]] = [
                    ("GET", "/messages", {}), ("GET", "/messages", {}),
                    ("POST", "/messages", {"json": {"to": ["bakari"], "subject": "During",
                                                    "body": "the database is away"}}),
                    ("POST", "/tokens", {"json": {"username": "amina", "password": PASSWORD}})]
            for method, path, kw in calls:
                status, kind, body = await _call(http, method, f"{base}{path}", headers=auth,
                                                 **kw)
                assert (status, kind) == (503, "application/problem+json"), (path, body)
                assert "Traceback" not in str(body) and "real-amina" not in str(body)
            status, kind, page = await _call(http, "GET", f"{server.url}/inbox")
            assert status == 503 and "Traceback" not in page, page
            status, _, _ = await _call(http, "GET", f"{server.url}/readyz")
            assert status == 503

            cluster.start()  # TradeMail is not restarted: it finds the database again
            deadline = asyncio.get_running_loop().time() + 30
            while (status := (await _call(http, "GET", f"{base}/messages", headers=auth))[0]
                   ) != 200:
                assert status == 503
                assert asyncio.get_running_loop().time() < deadline, "never recovered"
                await asyncio.sleep(0.2)
            status, _, body = await _call(http, "POST", f"{base}/messages", headers=auth, json={
                "to": ["bakari"], "subject": "After", "body": "written after the restart"})
            assert status == 201, body
            status, _, body = await _call(http, "GET", f"{base}/messages?folder=sent",
                                          headers=auth)
            assert sorted(m["subject"] for m in body["messages"]) == ["After", "Before"]
    finally:
        err = server.stop()
    assert "real-amina" not in err


# --------------------------------------------------------------- a smarthost misbehaves


class BadSmarthost:
    """A smarthost that goes wrong on purpose, on a real socket: `silent` takes the
    connection and never says a word; `hangs_up` talks SMTP until the message's data
    arrives, then drops the connection without an answer."""

    def __init__(self, fault: str, port: int) -> None:
        self.fault = fault
        self.server: asyncio.Server | None = None
        self.port = port
        self.data_seen = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if self.fault == "silent":
                await reader.read()  # until the client gives up and closes
                return
            writer.write(b"220 smarthost.test ESMTP\r\n")
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb == b"DATA":
                    writer.write(b"354 go ahead\r\n")
                    await writer.drain()
                    await reader.readline()  # the first line of the message: cut here
                    self.data_seen += 1
                    return
                writer.write(b"221 bye\r\n" if verb == b"QUIT" else b"250 ok\r\n")
                await writer.drain()
        finally:
            writer.close()

    async def __aenter__(self) -> BadSmarthost:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


def _outbound(n: int) -> OutboundMail:
    return OutboundMail("bounce+x@relay.localhost", (f"member{n}@real.example",), (
        f"Message-ID: <note{n}@relay.localhost>\r\nSubject: note {n}\r\n"
        f"From: TradeMail <notify@relay.localhost>\r\n\r\nbody {n}\r\n").encode())


def _message_ids(mails: list[Captured]) -> list[str]:
    return sorted(str(message_from_bytes(m.data)["Message-ID"]) for m in mails)


@pytest.mark.parametrize("fault", ["silent", "hangs_up"])
async def test_a_smarthost_that_stalls_or_hangs_up_gets_the_mail_later_exactly_once(
        tmp_path: Path, sqlite_url: str, clock: FakeClock, fault: str) -> None:
    port = free_port()
    # The real transport the config names, with its timeout from [relay].
    config = make_config(tmp_path, sqlite_url, TRADEMAIL_RELAY_TLS="none",
                         TRADEMAIL_RELAY_SMARTHOST=f"127.0.0.1:{port}",
                         TRADEMAIL_RELAY_TIMEOUT_SECONDS="1",
                         TRADEMAIL_RELAY_RETRY_BASE_SECONDS="60")
    core = await open_core(config, clock)
    try:
        relay = Relay(core.stores.outbox, core.outbox, mail_transport(config), clock,
                      config.relay, render=core.notifications.render)
        ids = [await core.outbox.enqueue(_outbound(n), None) for n in range(2)]
        async with BadSmarthost(fault, port) as bad, asyncio.timeout(30):
            assert await relay.run_once() == 2  # a relay that waits for ever fails above
        for outbox_id in ids:
            state = await core.stores.outbox.outbox_state(outbox_id)
            assert state is not None and state[:2] == ("pending", 1), state
            assert (state[2] or "").startswith("connection:"), state
        assert bad.data_seen == (2 if fault == "hangs_up" else 0)

        async with Smarthost(port=port) as good:
            assert await relay.run_once() == 0  # backing off, not hammering
            clock.advance(60)
            assert await relay.run_once() == 2
            for _ in range(3):  # later rounds find nothing more to send
                clock.advance(3600)
                assert await relay.run_once() == 0
        assert _message_ids(good.mails) == ["<note0@relay.localhost>", "<note1@relay.localhost>"]
        states = [await core.stores.outbox.outbox_state(i) for i in ids]
        assert {state and state[0] for state in states} == {"sent"}
    finally:
        await core.close()


# --------------------------------------------------------------- the disk fills up


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs for the SQLite file: a disk that really fills up. Set up before the app
    (name it first), so it is unmounted after the app has closed the database."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount, umount = shutil.which("mount"), shutil.which("umount")
    if not mount or not umount:
        pytest.skip("no mount command here")
    done = subprocess.run([mount, "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)],
                          capture_output=True, text=True, check=False)
    if done.returncode:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run([umount, "-l", str(disk)], check=False)


def _fill(disk: Path) -> Path:
    """Writes a file until the disk has no room left; the file, to free the room again."""
    filler = disk / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


async def test_a_full_disk_gives_507_and_452_corrupts_nothing_and_recovers(
        small_disk: Path, aiohttp_client: Any, tmp_path: Path, clock: FakeClock) -> None:
    smarthost = await Smarthost().start()
    config = gateway_config(tmp_path, f"sqlite:///{small_disk}/trademail.db")
    app = await build_app(config, clock, transport=SmtpTransport(
        "127.0.0.1", smarthost.port, tls="none", timeout=5))
    app[OUTBOUND] = smarthost
    gw = Gateway(await aiohttp_client(app), app, smarthost)
    try:
        await _full_disk(gw, small_disk)
    finally:
        await smarthost.stop()


async def _full_disk(gw: Gateway, small_disk: Path) -> None:
    app = gw.app
    amina, bakari = await register_all(gw.client, "amina", "bakari")
    before = [(await send(gw.client, amina, ["bakari"], f"Before {n}"))["id"] for n in range(3)]
    browser = Browser(gw.client, https=True)  # the gateway config's public_url is https
    try:
        assert (await browser.sign_in("amina")).status == 303
        compose = await browser.page("/compose")
        await app[CORE].stores.db.scrub(())  # the WAL emptied: the next write needs new room
        filler = _fill(small_disk)
        resp = await browser.post("/compose", {"to": "bakari", "subject": "Full",
                                               "body": "no room"}, csrf=csrf_of(compose))
        page = await resp.text()
        assert resp.status == 507 and "storage is full" in page, (resp.status, page[:500])
        assert "Traceback" not in page
    finally:
        await browser.close()

    resp = await gw.client.post("/api/v1/messages", headers=amina.auth, json={
        "to": ["bakari"], "subject": "Full", "body": "no room for this"})
    assert resp.status == 507 and resp.content_type == "application/problem+json"
    problem = await resp.json()
    assert problem["type"] == "urn:trademail:problem:storage-full", problem
    assert "full" in problem["detail"] and "Traceback" not in problem["detail"]
    code, reply = await gw.deliver("olu@partner.example", [bakari.alias], mail_bytes(
        sender="olu@partner.example", to=bakari.alias, subject="Full", body="no room"))
    assert (code, reply.split()[0]) == (452, "4.3.1"), reply  # a sender tries again later
    assert "storage" in reply
    resp = await gw.client.get("/api/v1/messages?folder=sent", headers=amina.auth)
    assert resp.status == 200  # reading goes on

    filler.unlink()  # room again: the same server writes again, nothing was lost
    db = sqlite3.connect(small_disk / "trademail.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        db.close()
    after = await send(gw.client, amina, ["bakari"], "After")
    code, reply = await gw.deliver("olu@partner.example", [bakari.alias], mail_bytes(
        sender="olu@partner.example", to=bakari.alias, subject="Outside", body="room now"))
    assert code == 250, reply
    resp = await gw.client.get("/api/v1/messages?folder=inbox", headers=bakari.auth)
    inbox = (await resp.json())["messages"]
    assert sorted(m["id"] for m in inbox if m["subject"] != "Outside") == sorted(
        [*before, after["id"]])
    assert "Outside" in {m["subject"] for m in inbox} and "Full" not in {
        m["subject"] for m in inbox}


# --------------------------------------------------------------- killed while it works


@dataclass
class HoldingSmarthost(Smarthost):
    """Takes every mail, except that it holds the DATA of mail to `held` without ever
    answering (the sender is killed meanwhile) and keeps none of it."""

    held: str = ""
    holding: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.held and self.held in envelope.rcpt_tos:
            self.holding.set()
            await asyncio.Event().wait()  # never answers: cancelled when the host stops
        return await super().handle_DATA(server, session, envelope)


async def _until(check: Any, what: str, within: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.05)


async def test_killed_while_sending_loses_no_mail_and_sends_none_twice(
        tmp_path: Path, sqlite_url: str) -> None:
    host = HoldingSmarthost()
    await host.start()
    server = Server(tmp_path, sqlite_url, host.port)
    names = ("amina", "bakari", "chidi", "dede")
    db = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    try:
        await server.start()
        async with aiohttp.ClientSession(server.url) as http:
            for name in names:
                async with http.post("/api/v1/members", json={
                        "username": name, "password": PASSWORD,
                        "email": f"{name}@real-{name}.example", "company": f"{name} Ltd",
                        "country": "Ghana"}) as resp:
                    assert resp.status == 201, await resp.text()
            async with http.post("/api/v1/tokens", json={
                    "username": "amina", "password": PASSWORD}) as resp:
                auth = {"Authorization": f"Bearer {(await resp.json())['token']}"}
            await _until(lambda: len(host.mails) == len(names), "no confirmation mails")
            for mail in host.mails:  # each confirms their address, as a member would
                token = link_token(text_of_mail(mail.data), "/signup/confirm")
                async with http.post("/api/v1/members/confirm", json={"token": token}) as resp:
                    assert resp.status == 204, await resp.text()
            host.held = "chidi@real-chidi.example"
            for to in names[1:]:
                async with http.post("/api/v1/messages", headers=auth, json={
                        "to": [to], "subject": f"Sesame for {to}", "body": "20 tonnes?"}
                        ) as resp:
                    assert resp.status == 201, await resp.text()
        await asyncio.wait_for(host.holding.wait(), 30)  # chidi's is on the wire now
        sent = "SELECT count(*) FROM outbox WHERE state = 'sent'"
        await _until(lambda: db.execute(sent).fetchone()[0] == len(names) + 2,
                     "the other two were not recorded as sent")
        server.kill()  # in the middle of chidi's DATA

        # The lease of chidi's row runs out (five minutes; here, at once) and the
        # smarthost now takes it.
        db.execute("UPDATE outbox SET claimed_until = 0 WHERE state = 'pending'")
        db.commit()
        host.held = ""
        await server.start()
        await _until(lambda: db.execute(sent).fetchone()[0] == len(names) + 3,
                     "chidi's notification was not sent after the restart")
        await asyncio.sleep(1)  # room for a wrong second copy to arrive
        err = server.stop()
    finally:
        db.close()
        await host.stop()
    ids = _message_ids(host.mails)
    assert len(ids) == len(set(ids)), ids  # none twice
    notified = sorted(rcpt for m in host.mails[len(names):] for rcpt in m.rcpt_tos)
    assert notified == [f"{n}@real-{n}.example" for n in names[1:]]
    assert "Traceback" not in err


async def test_killed_while_rotating_a_members_key_loses_nothing_and_resumes(
        tmp_path: Path, sqlite_url: str, clock: FakeClock) -> None:
    env, config, core, ids = await offers_to_ana(tmp_path, sqlite_url, clock)
    await core.close()

    killed = Watched("keys", "rotate-member", "ana", "--batch", "2", "--pause", "0.3",
                     "--settle", "1", env=env)
    await killed.until(r"\] [4-9]/12")
    killed.proc.send_signal(signal.SIGKILL)  # mid-batch: no chance to tidy up
    await killed.end()

    async def readable(expected: int) -> bool:
        core = await open_core(config, clock)
        try:
            page = await core.reading.page(ids[0], folder=None, query="sesame", limit=50)
            assert len(page.items) == expected
            for item in page.items:
                assert (await core.reading.read(ids[0], item.id)).body.startswith("sesame")
            if expected == 12:  # half-way, both keys work, and new mail goes on
                await core.sending.send(ids[1], Draft(("ana",), "Midway", "sesame during"))
            row = await core.stores.members.member_by_id(ids[0])
            assert row is not None
            return row.previous_member_key is None
        finally:
            await core.close()

    assert await readable(12) is False  # still rotating: the old key is kept
    out, _ = await run_cli("keys", "rotate-member", "ana", "--batch", "2", "--settle", "1",
                           env=env, terminal=False)
    assert "ana has a new member key" in out, out
    assert await readable(13) is True  # done: every message under the new key alone


async def test_a_request_waits_for_a_busy_pool_a_bounded_time_then_hears_503(
        aiohttp_client: Any, tmp_path: Path, postgres_url: str) -> None:
    """Every PostgreSQL connection of the pool busy (a stalled database, a slow query): a
    request, and a mail at the gateway, are answered after [store] wait_seconds (503 and
    451, so the sender tries again) instead of holding their connection on."""
    client = await aiohttp_client(await build_app(make_config(
        tmp_path, postgres_url, TRADEMAIL_STORE_POOL_SIZE="2",
        TRADEMAIL_STORE_WAIT_SECONDS="1"), FakeClock()))
    member = await register(client, "xiadani")
    pool = client.app[CORE].stores.db.pool
    held = [await pool.acquire() for _ in range(2)]
    try:
        resp = await client.get("/api/v1/me", headers=member.auth)
        assert resp.status == 503, await resp.text()
        assert resp.content_type == "application/problem+json"
        port = int(client.app[SMTP_GATEWAY].address[1])
        code, text = await transaction(port, "buyer@outside.example", [member.alias],
                                       mail_bytes(sender="buyer@outside.example",
                                                  to=member.alias, subject="Sesame",
                                                  body="Price?"))
        assert code == 451 and "try again" in text, (code, text)
    finally:
        for conn in held:
            await pool.release(conn)
    assert (await client.get("/api/v1/me", headers=member.auth)).status == 200
