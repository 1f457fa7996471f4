"""Password guessing under attack: one account and many are slowed as configured while
other members keep signing in; a guesser who locks an account does not lock out its
owner on a browser that signed in before (a device cookie); Argon2 stays in its memory."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.browser_helpers import Browser
from tests.helpers import PASSWORD, make_config
from tests.process_helpers import Server, free_port
from trademail.app import build_app
from trademail.testing import FakeClock

LONGEST_WAIT = 16
ATTACKER = "198.51.100.66"


@pytest.fixture
async def guarded(aiohttp_client: Any, tmp_path: Path, store_url: str,
                  clock: FakeClock) -> Any:
    """The app behind a trusted proxy (so each test client can come from an address of
    its own), with a short back-off and an account that locks after 10 failures."""
    return await aiohttp_client(await build_app(make_config(
        tmp_path, store_url, TRADEMAIL_HTTP_TRUSTED_PROXIES="127.0.0.0/8, ::1",
        TRADEMAIL_AUTH_ACCOUNT_FREE_FAILURES="3", TRADEMAIL_AUTH_ACCOUNT_MAX_FAILURES="10",
        TRADEMAIL_AUTH_CLIENT_FREE_FAILURES="5",
        TRADEMAIL_AUTH_MAX_BACKOFF_SECONDS=str(LONGEST_WAIT)), clock))


class From(Browser):
    """A browser at its own client address (X-Forwarded-For through the trusted proxy)."""

    def __init__(self, client: Any, address: str) -> None:
        super().__init__(client)
        self.session.headers["X-Forwarded-For"] = address

    async def try_password(self, username: str, password: str) -> int:
        return (await self.sign_in(username, password)).status


async def lock(attacker: From, username: str, clock: FakeClock) -> None:
    """Guess until the account is locked: the right password is refused from anywhere
    without the owner's device cookie."""
    failures = 0
    while failures < 10:
        status = await attacker.try_password(username, f"guess number {failures}")
        if status == 429:
            clock.advance(LONGEST_WAIT)
        else:
            assert status == 401, status
            failures += 1
    clock.advance(LONGEST_WAIT)
    assert await attacker.try_password(username, PASSWORD) == 429


@pytest.fixture
async def browsers_at(guarded: Any) -> Any:
    made: list[From] = []

    def make(address: str) -> From:
        made.append(From(guarded, address))
        return made[-1]

    yield make
    for browser in made:
        await browser.close()


async def test_a_locked_account_lets_its_owner_in_from_a_browser_that_signed_in_before(
        guarded: Any, clock: FakeClock, browsers_at: Callable[[str], From]) -> None:
    owner = browsers_at("203.0.113.10")
    await owner.sign_up("ondine")
    assert owner.cookie("tm_device")
    assert (await owner.post("/signout", form_page="/inbox")).status == 303
    attacker = browsers_at(ATTACKER)
    await lock(attacker, "ondine", clock)

    new_browser = browsers_at("203.0.113.10")  # the owner's address, but no device cookie
    assert await new_browser.try_password("ondine", PASSWORD) == 429
    resp = await owner.sign_in("ondine")
    assert resp.status == 303 and resp.headers["Location"] == "/inbox"
    await owner.page("/inbox")
    # The owner's success neither unlocks the account nor resets the guesser's count.
    assert await attacker.try_password("ondine", PASSWORD) == 429
    assert await new_browser.try_password("ondine", PASSWORD) == 429


async def test_a_device_cookie_opens_no_other_account_and_is_slowed_itself(
        guarded: Any, clock: FakeClock, browsers_at: Callable[[str], From]) -> None:
    owner = browsers_at("203.0.113.20")
    await owner.sign_up("pavel")
    other = browsers_at("203.0.113.21")
    await other.sign_up("quilla")
    await lock(browsers_at(ATTACKER), "quilla", clock)
    # Pavel's cookie is for Pavel: with it, Quilla's locked account stays locked.
    assert await owner.try_password("quilla", PASSWORD) == 429
    # Guesses made with a device cookie count against that cookie: slowed after the
    # free failures, locked after the most, like an account.
    statuses = [await owner.try_password("pavel", f"wrong {n}") for n in range(4)]
    assert statuses == [401, 401, 401, 429]
    for _ in range(10):
        clock.advance(LONGEST_WAIT)
        await owner.try_password("pavel", "still wrong")
    clock.advance(LONGEST_WAIT)
    assert await owner.try_password("pavel", PASSWORD) == 429
    # ... while the account itself, and another browser of the owner, are untouched.
    assert await browsers_at("203.0.113.22").try_password("pavel", PASSWORD) == 303


async def test_a_cookie_from_before_a_password_change_or_forged_is_worth_nothing(
        guarded: Any, clock: FakeClock, browsers_at: Callable[[str], From]) -> None:
    owner = browsers_at("203.0.113.30")
    await owner.sign_up("rosalind")
    old_cookie = owner.cookie("tm_device")
    assert old_cookie
    new_password = "quayside ledger anchor harbour"
    resp = await owner.post("/settings/password", {
        "current_password": PASSWORD, "new_password": new_password},
        form_page="/settings/security")
    assert resp.status == 303, await resp.text()
    await lock(browsers_at(ATTACKER), "rosalind", clock)

    member_id = old_cookie.split(".")[0]
    for cookie in (old_cookie, old_cookie[:-4] + "aaaa", "x.1.y.z", f"{member_id}.².y.z",
                   f"{member_id}.99999999999999999999.y.z"):
        stale = browsers_at("203.0.113.31")
        stale.session.cookie_jar.update_cookies({"tm_device": cookie})
        assert await stale.try_password("rosalind", new_password) == 429, cookie
    # The browser where the password was changed signed in again with the new one and
    # holds a cookie signed over it.
    assert await owner.try_password("rosalind", new_password) == 303


async def test_guessing_across_many_accounts_is_slowed_per_client_while_others_sign_in(
        guarded: Any, clock: FakeClock, browsers_at: Callable[[str], From]) -> None:
    members = [browsers_at(f"203.0.113.{40 + n}") for n in range(3)]
    for n, member in enumerate(members):
        await member.sign_up(f"spray{n}")
        await member.post("/signout", form_page="/inbox")
    attacker = browsers_at(ATTACKER)
    # One wrong password per account, across many accounts: the client is what counts.
    statuses = [await attacker.try_password(f"spray{n % 3}" if n < 3 else f"nobody{n}",
                                            "Winter2026!") for n in range(7)]
    assert statuses == [401] * 5 + [429] * 2
    # The accounts sprayed are not held back for their owners, anywhere.
    for n in range(3):
        fresh = browsers_at(f"192.0.2.{n + 1}")
        assert await fresh.try_password(f"spray{n}", PASSWORD) == 303
    # The guesser waits as configured: at most the longest back-off, then one more try.
    clock.advance(LONGEST_WAIT)
    assert await attacker.try_password("nobody99", "Spring2026!") == 401
    assert await attacker.try_password("nobody98", "Spring2026!") == 429


async def test_one_account_is_slowed_doubling_up_to_the_longest_wait(
        guarded: Any, clock: FakeClock, browsers_at: Callable[[str], From]) -> None:
    owner = browsers_at("203.0.113.50")
    await owner.sign_up("tamsin")
    statuses = []
    for n in range(9):
        guesser = browsers_at(f"198.51.100.{n + 1}")  # a botnet: a new address each try
        statuses.append(await guesser.try_password("tamsin", "not the password"))
        if statuses[-1] == 429:
            clock.advance(LONGEST_WAIT)
    # Three free failures, then each try waits for the one before; never longer than the
    # configured longest wait, however many failures there were.
    assert statuses == [401, 401, 401, 429, 401, 429, 401, 429, 401]
    resp = await browsers_at("198.51.100.99").sign_in("tamsin", PASSWORD)
    assert resp.status == 429
    page = await resp.text()
    assert "try again" in page.lower()
    clock.advance(LONGEST_WAIT)
    assert await owner.try_password("tamsin", PASSWORD) == 303


def _peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


async def test_a_storm_of_sign_ins_holds_argon2_to_its_memory_cap(tmp_path: Path,
                                                                  sqlite_url: str) -> None:
    if sys.platform != "linux":
        pytest.skip("reads the server's peak memory from /proc")
    memory_kib, workers, storm = 32 * 1024, 2, 12
    server = Server(tmp_path, sqlite_url, free_port(),
                    TRADEMAIL_AUTH_ARGON2_MEMORY_KIB=str(memory_kib),
                    TRADEMAIL_AUTH_HASH_WORKERS=str(workers),
                    TRADEMAIL_AUTH_CLIENT_FREE_FAILURES="1000")
    await server.start()
    try:
        assert server.proc is not None
        before = _peak_kib(server.proc.pid)
        async with aiohttp.ClientSession() as http:
            async def guess(n: int) -> int:
                async with http.post(f"{server.url}/api/v1/tokens", json={
                        "username": f"victim{n}", "password": "x" * 20}) as resp:
                    return resp.status

            statuses = await asyncio.gather(*(guess(n) for n in range(storm)))
        assert statuses == [401] * storm
        grown = _peak_kib(server.proc.pid) - before
        # Each hash holds memory_kib while it runs; the pool runs `workers` at once. A
        # storm of `storm` hashes at once would grow the peak by far more.
        assert grown < (workers + 1) * memory_kib, (grown, memory_kib)
    finally:
        server.stop()


async def test_a_locked_account_still_lets_its_signed_in_owner_change_or_delete_it(
        guarded: Any, clock: FakeClock, browsers_at: Callable[[str], From]) -> None:
    """The password asked again before a sensitive change (a new password, deleting the
    account) counts like a sign-in from this browser: against its device cookie, not the
    account the guesser holds locked."""
    owner = browsers_at("203.0.113.60")
    await owner.sign_up("ulrike")
    await lock(browsers_at(ATTACKER), "ulrike", clock)
    resp = await owner.post("/settings/password", {
        "current_password": PASSWORD, "new_password": "granary wharf lantern cargo"},
        form_page="/settings/security")
    assert resp.status == 303, await resp.text()
    assert await browsers_at(ATTACKER).try_password("ulrike", "granary wharf lantern cargo") \
        == 429
    # ... and so does deleting the account, the other change that asks for the password.
    resp = await owner.post("/settings/delete", {
        "password": "granary wharf lantern cargo", "confirm": "ulrike"},
        form_page="/settings/delete")
    assert resp.status == 200 and "deleted" in (await resp.text()).lower()
