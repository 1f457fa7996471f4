"""A server killed (SIGKILL) right after answering 250 loses nothing: after a restart the
mail is in the inbox and its notification reaches the smarthost, once."""

from __future__ import annotations

import asyncio
import sqlite3
from email import message_from_bytes, policy
from pathlib import Path

import aiohttp

from tests.helpers import PASSWORD
from tests.process_helpers import Server, free_port
from tests.smtp_helpers import Smarthost
from tests.test_gateway import mail_bytes


async def test_a_mail_accepted_before_sigkill_is_delivered_after_restart(
        tmp_path: Path, sqlite_url: str) -> None:
    store_url = sqlite_url  # one backend shows the commit-before-250 order as well as two
    smarthost_port = free_port()
    server = Server(tmp_path, store_url, smarthost_port)
    await server.start()
    base = f"http://127.0.0.1:{server.http}/api/v1"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/members", json={
                    "username": "bakari", "password": PASSWORD,
                    "email": "bakari@real-bakari.example", "company": "Bakari Ltd",
                    "country": "Kenya"}) as resp:
                assert resp.status == 201
                alias = (await resp.json())["aliases"][0]["address"]
        import aiosmtplib

        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=server.smtp, start_tls=False,
                                   timeout=10) as smtp:
            await smtp.sendmail("olu@partner.example", [alias], mail_bytes(
                sender="olu@partner.example", to=alias, subject="Survives a crash",
                body="Do you ship sesame?"))
        # The smarthost is down: the relay tries once and schedules a retry. Kill the server
        # between attempts (a kill during one would hold the row for its lease, 5 minutes).
        db = sqlite3.connect(store_url.removeprefix("sqlite:///"))
        try:
            for _ in range(200):
                row = db.execute("SELECT attempts, claimed_until FROM outbox").fetchone()
                if row and row[0] >= 1 and row[1] is None:
                    break
                await asyncio.sleep(0.02)
        finally:
            db.close()
    finally:
        server.kill()  # the answer was 250: the mail must not be lost now

    async with Smarthost(port=smarthost_port) as smarthost:
        await server.start()
        try:
            deadline = asyncio.get_running_loop().time() + 20
            while not smarthost.mails:
                assert asyncio.get_running_loop().time() < deadline, "nothing was relayed"
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)
            async with aiohttp.ClientSession() as http:
                async with http.post(f"{base}/tokens", json={
                        "username": "bakari", "password": PASSWORD}) as resp:
                    token = (await resp.json())["token"]
                async with http.get(f"{base}/messages",
                                    headers={"Authorization": f"Bearer {token}"}) as resp:
                    inbox = (await resp.json())["messages"]
        finally:
            err = server.stop()
    assert [m["subject"] for m in inbox] == ["Survives a crash"]
    assert len(smarthost.mails) == 1
    (mail,) = smarthost.mails
    assert mail.rcpt_tos == ["bakari@real-bakari.example"]
    assert b"olu@partner.example" not in mail.data
    assert message_from_bytes(mail.data, policy=policy.default)["Auto-Submitted"]
    assert "Traceback" not in err
