"""Password hashes: Argon2id, upgraded at sign-in when the parameters change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers import PASSWORD, make_config, register
from trademail.app import CORE, build_app
from trademail.testing import FakeClock


async def _stored_hash(client: Any, username: str) -> str:
    store = client.app[CORE].stores
    member = await store.members.member_by_username(username)
    assert member is not None
    return str(member.password_hash)


async def test_hashes_are_recomputed_when_parameters_change(
        aiohttp_client: Any, tmp_path: Path, store_url: str, clock: FakeClock) -> None:
    first = await aiohttp_client(await build_app(make_config(tmp_path, store_url), clock))
    await register(first, "hal")
    old = await _stored_hash(first, "hal")
    assert old.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    await first.close()

    stronger = make_config(tmp_path, store_url, TRADEMAIL_AUTH_ARGON2_TIME_COST="2",
                           TRADEMAIL_AUTH_ARGON2_MEMORY_KIB="128")
    second = await aiohttp_client(await build_app(stronger, clock))
    resp = await second.post("/api/v1/tokens", json={"username": "hal", "password": PASSWORD})
    assert resp.status == 201
    new = await _stored_hash(second, "hal")
    assert new.startswith("$argon2id$v=19$m=128,t=2,p=1$") and new != old
    resp = await second.post("/api/v1/tokens", json={"username": "hal", "password": PASSWORD})
    assert resp.status == 201
    assert await _stored_hash(second, "hal") == new
