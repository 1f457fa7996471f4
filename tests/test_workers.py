"""Several server processes on one PostgreSQL: what one process knows, the others know.

Two `trademail serve` processes, each on its own port, share a database: a session or a
token made by one works on the other; failed sign-ins count across both; an Idempotency-Key
sent to both at once makes one message; mail sent through one wakes an inbox open on the
other; and the relay workers of both deliver every outbox row exactly once.
`trademail serve --workers N` runs N such processes on shared ports and keeps them running.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from email import message_from_bytes, policy
from pathlib import Path

import aiohttp
import aiosmtplib
import asyncpg
import pytest

from tests.browser_helpers import csrf_of
from tests.helpers import PASSWORD, link_token, text_of_mail
from tests.process_helpers import Server
from tests.smtp_helpers import Smarthost


@pytest.fixture
async def smarthost() -> AsyncIterator[Smarthost]:
    async with Smarthost() as host:
        yield host


@pytest.fixture
async def pair(tmp_path: Path, postgres_url: str,
               smarthost: Smarthost) -> AsyncIterator[tuple[Server, Server]]:
    """Two server processes on one database (and one data directory, one master key)."""
    servers = [Server(tmp_path, postgres_url, smarthost.port,
                      TRADEMAIL_AUTH_ACCOUNT_FREE_FAILURES="3",
                      TRADEMAIL_SMTP_MAX_MESSAGES_PER_MINUTE="3") for _ in range(2)]
    for server in servers:
        await server.start()
    try:
        yield servers[0], servers[1]
    finally:
        for server in servers:
            assert "Traceback" not in server.stop()


async def _mail_to(smarthost: Smarthost, address: str, contains: str) -> str:
    for _ in range(200):
        for mail in smarthost.mails:
            text = text_of_mail(mail.data)
            if address in mail.rcpt_tos and contains in text:
                return text
        await asyncio.sleep(0.05)
    raise AssertionError(f"no mail to {address} with {contains!r}")


async def _member(http: aiohttp.ClientSession, made_on: Server, confirmed_on: Server,
                  smarthost: Smarthost, username: str) -> dict[str, str]:
    """Signed up on one server, confirmed and given a token on the other."""
    email = f"{username}@real-{username}.example"
    async with http.post(f"{made_on.url}/api/v1/members", json={
            "username": username, "password": PASSWORD, "email": email,
            "company": f"{username.title()} Ltd", "country": "Kenya"}) as resp:
        assert resp.status == 201, await resp.text()
    text = await _mail_to(smarthost, email, "/signup/confirm?token=")
    async with http.post(f"{confirmed_on.url}/api/v1/members/confirm",
                         json={"token": link_token(text, "/signup/confirm")}) as resp:
        assert resp.status == 204, await resp.text()
    async with http.post(f"{confirmed_on.url}/api/v1/tokens", json={
            "username": username, "password": PASSWORD, "name": "tests"}) as resp:
        assert resp.status == 201, await resp.text()
        return {"Authorization": f"Bearer {(await resp.json())['token']}"}


async def _web_sign_in(browser: aiohttp.ClientSession, server: Server, username: str) -> None:
    async with browser.get(f"{server.url}/signin") as resp:
        page = await resp.text()
    async with browser.post(f"{server.url}/signin", allow_redirects=False, data={
            "username": username, "password": PASSWORD, "csrf": csrf_of(page)}) as resp:
        assert resp.status == 303, await resp.text()


async def test_sessions_tokens_and_throttles_hold_across_processes(
        pair: tuple[Server, Server], smarthost: Smarthost) -> None:
    a, b = pair
    async with aiohttp.ClientSession() as http:
        auth = await _member(http, a, b, smarthost, "amina")
        async with http.get(f"{a.url}/api/v1/messages", headers=auth) as resp:
            assert resp.status == 200  # a token made by B is good on A
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            await _web_sign_in(browser, a, "amina")
            async with browser.get(f"{b.url}/inbox", allow_redirects=False) as resp:
                assert resp.status == 200  # the session begun on A is open on B
            async with browser.get(f"{b.url}/signin") as resp:
                csrf = csrf_of(await resp.text())
            async with browser.post(f"{b.url}/signout", data={"csrf": csrf},
                                    allow_redirects=False) as resp:
                assert resp.status == 303
            async with browser.get(f"{a.url}/inbox", allow_redirects=False) as resp:
                assert resp.status == 303  # signed out on B: ended on A too
        statuses = []
        for server in (a, b, a, b):  # three free failures, counted by both processes
            async with http.post(f"{server.url}/api/v1/tokens", json={
                    "username": "amina", "password": "not the password at all!",
                    "name": "guess"}) as resp:
                statuses.append(resp.status)
        assert statuses == [401, 401, 401, 429]
        async with http.post(f"{a.url}/api/v1/tokens", json={
                "username": "amina", "password": PASSWORD, "name": "late"}) as resp:
            assert resp.status == 429  # even the right password waits now


async def _mail_command(server: Server) -> int:
    """The reply to MAIL FROM, over a new SMTP session with the server."""
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=server.smtp, start_tls=False,
                               timeout=10) as smtp:
        await smtp.ehlo()
        reply = await smtp.execute_command(b"MAIL", b"FROM:<buyer@importer.example>")
        return reply.code


async def test_an_smtp_clients_messages_per_minute_are_counted_by_both(
        pair: tuple[Server, Server]) -> None:
    a, b = pair
    for _ in range(2):  # a second go if a minute turned while the first went on
        minute = time.time() // 60
        codes = [await _mail_command(server) for server in (a, b, a, b)]
        if time.time() // 60 == minute:
            break
        await asyncio.sleep(60 - time.time() % 60 + 0.1)  # a fresh minute for the second go
    assert codes == [250, 250, 250, 451]


async def test_one_idempotency_key_sent_to_both_makes_one_message(
        pair: tuple[Server, Server], smarthost: Smarthost) -> None:
    a, b = pair
    async with aiohttp.ClientSession() as http:
        amina = await _member(http, a, b, smarthost, "amina")
        bakari = await _member(http, b, a, smarthost, "bakari")

        async def post(server: Server) -> tuple[int, str]:
            async with http.post(f"{server.url}/api/v1/messages", headers=amina | {
                    "Idempotency-Key": "order-7781"}, json={
                    "to": ["bakari"], "subject": "Sesame", "body": "20 tonnes?"}) as resp:
                return resp.status, (await resp.json()).get("id", "")

        # Each either sends it, replays it, or hears the first is still being sent (409).
        answers = await asyncio.gather(post(a), post(b), post(a), post(b))
        assert {status for status, _ in answers} <= {201, 409}
        assert len({message_id for status, message_id in answers if status == 201}) == 1
        assert (await post(b))[1] == next(i for status, i in answers if status == 201)
        async with http.get(f"{b.url}/api/v1/messages", headers=bakari) as resp:
            inbox = (await resp.json())["messages"]
        assert [m["subject"] for m in inbox] == ["Sesame"]


async def test_mail_sent_through_one_wakes_an_inbox_open_on_the_other(
        pair: tuple[Server, Server], smarthost: Smarthost) -> None:
    a, b = pair
    async with aiohttp.ClientSession() as http, aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        amina = await _member(http, a, b, smarthost, "amina")
        await _member(http, a, b, smarthost, "bakari")
        await _web_sign_in(browser, b, "bakari")
        async with browser.get(f"{b.url}/events") as stream:
            assert stream.status == 200
            assert await stream.content.readline() == b"retry: 5000\n"

            async def woken() -> bytes:
                while True:
                    line = await stream.content.readline()
                    if line.startswith(b"event: mailbox"):
                        return line

            async with http.post(f"{a.url}/api/v1/messages", headers=amina, json={
                    "to": ["bakari"], "subject": "Cashews", "body": "Price?"}) as resp:
                assert resp.status == 201
            assert await asyncio.wait_for(woken(), 15)


async def test_the_relays_of_both_deliver_every_row_exactly_once(
        pair: tuple[Server, Server], smarthost: Smarthost, postgres_url: str) -> None:
    a, b = pair
    async with aiohttp.ClientSession() as http:
        amina = await _member(http, a, b, smarthost, "amina")
        await _member(http, b, a, smarthost, "bakari")
        await _member(http, a, b, smarthost, "chidi")
        for n in range(12):
            server = (a, b)[n % 2]
            async with http.post(f"{server.url}/api/v1/messages", headers=amina, json={
                    "to": ["bakari", "chidi"], "subject": f"Lot {n}",
                    "body": "Still available?"}) as resp:
                assert resp.status == 201
    db = await asyncpg.connect(postgres_url.split("?")[0], server_settings={
        "search_path": re.search(r"search_path=(\w+)", postgres_url)[1]})  # type: ignore[index]
    try:
        for _ in range(300):
            waiting = await db.fetchval("SELECT count(*) FROM outbox WHERE state <> 'sent'")
            if waiting == 0:
                break
            await asyncio.sleep(0.05)
        assert waiting == 0
        sent = await db.fetchval("SELECT count(*) FROM outbox WHERE state = 'sent'")
    finally:
        await db.close()
    await asyncio.sleep(0.5)  # a second delivery, were there one, would land by now
    ids = [message_from_bytes(m.data, policy=policy.default)["Message-ID"]
           for m in smarthost.mails]
    assert sent >= 12 * 2 and len(smarthost.mails) == sent
    assert len(set(ids)) == len(ids)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _children(pid: int) -> set[int]:
    found = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            found |= {int(p) for p in f.read().split()}
    return found


async def _children_become(pid: int, count: int, but_not: frozenset[int] = frozenset()) -> set[int]:
    for _ in range(300):
        children = _children(pid)
        if len(children) == count and not children & but_not:
            return children
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} workers, found {_children(pid)}")


async def test_serve_workers_runs_n_processes_and_keeps_them_running(
        tmp_path: Path, postgres_url: str, smarthost: Smarthost) -> None:
    server = Server(tmp_path, postgres_url, smarthost.port, args=("--workers", "2"),
                    TRADEMAIL_LOG_FORMAT="json")
    await server.start()
    assert server.proc is not None
    try:
        workers = await _children_become(server.proc.pid, 2)
        async with aiohttp.ClientSession() as http:
            for n in range(40):  # spread over both by the kernel
                async with http.get(f"{server.url}/healthz",
                                    headers={"X-Request-Id": f"probe-{n:08d}"}) as resp:
                    assert resp.status == 200
            os.kill(min(workers), signal.SIGKILL)
            replaced = await _children_become(server.proc.pid, 2, but_not=frozenset({min(workers)}))
            assert max(workers) in replaced
            for _ in range(5):
                async with http.get(f"{server.url}/readyz") as resp:
                    assert resp.status == 200
            async with http.get(f"{server.url}/metrics") as resp:
                assert resp.status == 200
                text = await resp.text()
        served = sum(float(v) for v in re.findall(
            r'^trademail_http_requests_total\{door="probe",method="GET",status="200"\} (\S+)',
            text, re.M))
        assert served >= 40  # every worker's count, the dead one's included
        helps = [line for line in text.splitlines() if line.startswith("# HELP ")]
        assert len(helps) == len(set(helps))  # each metric once, whatever each worker wrote
        assert "# HELP trademail_outbox_depth Outbox rows waiting to be delivered" in helps
    finally:
        err = server.stop()
    assert server.proc.returncode == 0, err
    assert not any(_alive(pid) for pid in workers)
    assert "Traceback" not in err
    logged = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    requests = {entry["request_id"] for entry in logged
                if entry.get("event") == "request" and entry.get("route") == "/healthz"}
    assert {f"probe-{n:08d}" for n in range(40)} <= requests


def test_workers_need_postgresql(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEMAIL_")} | {
        "TRADEMAIL_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "trademail", "serve", "--workers", "2"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "needs PostgreSQL" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "trademail", "serve", "--workers", "0"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "whole number" in done.stderr

