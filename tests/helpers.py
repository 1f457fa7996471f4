"""Test helpers: config for tests, and members and messages made through the real API."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trademail.config import Config, load_config

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
        **overrides,
    }
    return load_config(None, environ)


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
                   scopes: list[str] | None = None) -> Member:
    """Sign a member up through the API and hand back a token with both scopes."""
    email = email or f"{username}@real-{username}.example"
    resp = await client.post("/api/v1/members", json={
        "username": username, "password": PASSWORD, "email": email,
        "company": f"{username.title()} Trading Ltd", "country": "Kenya"})
    assert resp.status == 201, await resp.text()
    alias = (await resp.json())["aliases"][0]["address"]
    body: dict[str, Any] = {"username": username, "password": PASSWORD, "name": "tests"}
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
