"""A server killed (SIGKILL) right after answering 250 loses nothing: after a restart the
mail is in the inbox and its notification reaches the smarthost, once."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

import aiohttp

from tests.helpers import MASTER_KEY, PASSWORD
from tests.smtp_helpers import Smarthost
from tests.test_gateway import mail_bytes


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, tmp_path: Path, store_url: str, smarthost_port: int) -> None:
        self.http = _free_port()
        self.smtp = _free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEMAIL_")} | {
            "TRADEMAIL_DATA_DIR": str(tmp_path / "var"), "TRADEMAIL_STORE_URL": store_url,
            "TRADEMAIL_CRYPTO_MASTER_KEY": MASTER_KEY, "TRADEMAIL_HTTP_PORT": str(self.http),
            "TRADEMAIL_SMTP_PORT": str(self.smtp),
            "TRADEMAIL_RELAY_SMARTHOST": f"127.0.0.1:{smarthost_port}",
            "TRADEMAIL_RELAY_TLS": "none", "TRADEMAIL_RELAY_RETRY_BASE_SECONDS": "1",
            "TRADEMAIL_AUTH_ARGON2_MEMORY_KIB": "64", "TRADEMAIL_AUTH_ARGON2_TIME_COST": "1",
            "TRADEMAIL_AUTH_ARGON2_PARALLELISM": "1", "TRADEMAIL_STORE_POOL_SIZE": "3"}
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "trademail", "serve"],  # noqa: ASYNC220
                                     env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = asyncio.get_running_loop().time() + 30
        async with aiohttp.ClientSession() as http:
            while True:
                assert self.proc.poll() is None, self.proc.stderr.read() if self.proc.stderr \
                    else b""
                try:
                    async with http.get(f"http://127.0.0.1:{self.http}/healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                assert asyncio.get_running_loop().time() < deadline, "server did not start"
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        if self.proc.stderr:
            self.proc.stderr.close()

    def stop(self) -> str:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=20)
        return err.decode()


async def test_a_mail_accepted_before_sigkill_is_delivered_after_restart(
        tmp_path: Path, sqlite_url: str) -> None:
    store_url = sqlite_url  # one backend shows the commit-before-250 order as well as two
    smarthost_port = _free_port()
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
