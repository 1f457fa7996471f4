"""Test helpers: config for tests, and members and messages made through the real API."""

from __future__ import annotations

import asyncio
import base64
import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from trademail.app import CORE
from trademail.appkeys import CONFIG
from trademail.config import Config
from trademail.configfile import load_config

PASSWORD = "harbour crane pallet voyage"
MASTER_KEY = base64.b64encode(b"k" * 32).decode()


def make_config(tmp_path: Path, store_url: str, **overrides: str) -> Config:
    """Test config: cheap Argon2, a fresh data dir, overrides as TRADEMAIL_* variables."""
    environ = {
        "TRADEMAIL_DATA_DIR": str(tmp_path / "var"),
        "TRADEMAIL_STORE_URL": store_url,
        "TRADEMAIL_STORE_POOL_SIZE": "4",
        "TRADEMAIL_SMTP_PORT": "0",
        "TRADEMAIL_AUTH_ARGON2_MEMORY_KIB": "64",
        "TRADEMAIL_AUTH_ARGON2_TIME_COST": "1",
        "TRADEMAIL_AUTH_ARGON2_PARALLELISM": "1",
        "TRADEMAIL_AUTH_CLIENT_FREE_SIGNUPS": "1000",  # tests sign many members up from one address
        "TRADEMAIL_CRYPTO_MASTER_KEY": MASTER_KEY,
        # The gateway's own SPF/DKIM/DMARC checks would ask the network's DNS: tests that
        # want them turn them on with a DnsServer (tests/test_inbound_auth.py).
        "TRADEMAIL_SMTP_CHECK_SENDERS": "false",
        **overrides,
    }
    return load_config(None, environ)


# Where a test app's relay delivers (a Smarthost, or anything with a `mails` list of
# Captured); without it, mail lands in the app's Maildir, the default with no smarthost.
OUTBOUND: web.AppKey[Any] = web.AppKey("test_outbound", object)
_LINK = re.compile(r"(/signup/confirm|/password/reset|/settings/email/confirm)\?token=([\w%-]+)")


def text_of_mail(data: bytes) -> str:
    """The plain text of a mail as a reader would see it."""
    mail = message_from_bytes(data, policy=policy.default)
    part = mail.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
    return str(part.get_content()) if part is not None else ""


def _delivered(app: web.Application) -> list[tuple[list[str], bytes, Any]]:
    """(recipients, data, a way to forget it) of every mail the app's relay delivered."""
    if OUTBOUND in app:
        mails = app[OUTBOUND].mails
        return [(m.rcpt_tos, m.data, lambda m=m: mails.remove(m)) for m in list(mails)]
    new = app[CONFIG].maildir_path / "new"
    found = []
    for path in sorted(new.iterdir()) if new.is_dir() else []:
        data = path.read_bytes()
        head = data.split(b"\r\n", 2)
        rcpts = head[1].removeprefix(b"X-Envelope-To: ").decode().split(", ")
        found.append((rcpts, head[2], path.unlink))
    return found


async def take_mail(client: Any, to: str, contains: str, *, within: float = 10.0) -> str:
    """Wait (on real I/O) for the relay to deliver a mail to `to` whose text holds
    `contains`; forget it (so tests counting mail are not disturbed) and return its text."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        for rcpts, data, forget in _delivered(client.app):
            text = text_of_mail(data)
            if to.lower() in {r.lower() for r in rcpts} and contains in text:
                forget()
                return text
        assert asyncio.get_running_loop().time() < deadline, f"no mail to {to} with {contains!r}"
        await asyncio.sleep(0.02)


async def jobs_done(client: Any, *, within: float = 10.0) -> None:
    """Wait (on real I/O) until the relay has done every queued job (a reset request)."""
    store = client.app[CORE].stores
    deadline = asyncio.get_running_loop().time() + within
    while await store.db.fetchval(
            "SELECT COUNT(*) FROM outbox WHERE kind = 'job' AND state = 'pending'"):
        assert asyncio.get_running_loop().time() < deadline, "queued jobs were not done"
        await asyncio.sleep(0.02)


async def outbox_rows(client: Any, username: str) -> int:
    """How many deliveries were ever queued on behalf of (or to) a member."""
    store = client.app[CORE].stores
    member = await store.members.member_by_username(username)
    return int(await store.db.fetchval("SELECT COUNT(*) FROM outbox WHERE member_id = $1",
                                       member.id))


def link_token(text: str, path: str) -> str:
    """The token of the first link to `path` in a mail's text."""
    for found_path, token in _LINK.findall(text):
        if found_path == path:
            return unquote(token)
    raise AssertionError(f"no {path} link in: {text[:300]!r}")


async def confirm(client: Any, email: str) -> None:
    """Follow the confirmation link mailed to a new member, as the member would."""
    text = await take_mail(client, email, "/signup/confirm?token=")
    resp = await client.post("/api/v1/members/confirm",
                             json={"token": link_token(text, "/signup/confirm")})
    assert resp.status == 204, await resp.text()


@dataclass
class Member:
    username: str
    email: str
    token: str
    alias: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def register(client: Any, username: str, *, email: str | None = None,
                   scopes: list[str] | None = None, confirmed: bool = True,
                   password: str = PASSWORD) -> Member:
    """Sign a member up through the API, confirm their address by the link mailed to it
    (unless `confirmed` is False), and hand back a token with all scopes (or `scopes`)."""
    email = email or f"{username}@real-{username}.example"
    resp = await client.post("/api/v1/members", json={
        "username": username, "password": password, "email": email,
        "company": f"{username.title()} Trading Ltd", "country": "Kenya"})
    assert resp.status == 201, await resp.text()
    alias = (await resp.json())["aliases"][0]["address"]
    if confirmed:
        await confirm(client, email)
    body: dict[str, Any] = {"username": username, "password": password, "name": "tests"}
    if scopes is not None:
        body["scopes"] = scopes
    resp = await client.post("/api/v1/tokens", json=body)
    assert resp.status == 201, await resp.text()
    return Member(username, email, (await resp.json())["token"], alias)


async def register_all(client: Any, *usernames: str) -> list[Member]:
    return [await register(client, name) for name in usernames]


async def send(client: Any, sender: Member, to: list[str], subject: str = "Cashew prices",
               body: str = "Can you quote 20 tonnes?", **extra: Any) -> dict[str, Any]:
    resp = await client.post("/api/v1/messages", headers=sender.auth,
                             json={"to": to, "subject": subject, "body": body, **extra})
    assert resp.status == 201, await resp.text()
    return await resp.json()
