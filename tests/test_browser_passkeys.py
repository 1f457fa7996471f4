"""Passkeys in Chromium: a member adds one in settings and signs in with it.

Chromium's DevTools protocol gives the page a virtual authenticator (a platform passkey
that verifies its user), so the real WebAuthn ceremonies run end to end: the page's script
asks TradeMail for options, Chromium makes and signs with a real key pair, and the server
checks the answers with py_webauthn. WebAuthn needs a domain name, so the server is
reached as localhost. Without Chromium this skips, unless TRADEMAIL_TEST_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import PASSWORD, make_config
from tests.test_browser import chromium, new_page, sign_up  # noqa: F401
from tests.test_browser_directory import assert_accessible
from trademail.app import build_app
from trademail.testing import FakeClock

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def on_localhost(aiohttp_server: Any, tmp_path: Path, store_url: str,
                       clock: FakeClock) -> str:
    """The app served on a free port, known to itself (and to WebAuthn) as localhost."""
    port = free_port()
    base = f"http://localhost:{port}"
    config = make_config(tmp_path, store_url, TRADEMAIL_HTTP_PUBLIC_URL=base)
    await aiohttp_server(await build_app(config, clock), host="127.0.0.1", port=port)
    return base


async def passkey_page(browser: Any, base: str) -> tuple[Any, Any, str]:
    """A page whose browser holds a virtual authenticator, and the authenticator's id."""
    page = await new_page(browser, base)
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("WebAuthn.enable")
    added = await cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True,
        "automaticPresenceSimulation": True}})
    return page, cdp, added["authenticatorId"]


async def test_a_member_adds_a_passkey_and_signs_in_with_it(
        aiohttp_server: Any, chromium: Any, tmp_path: Path, store_url: str,  # noqa: F811
        clock: FakeClock) -> None:
    base = await on_localhost(aiohttp_server, tmp_path, store_url, clock)
    page, cdp, authenticator = await passkey_page(chromium, base)

    await sign_up(page, "amina")
    await page.goto("/settings/two-step")
    await assert_accessible(page)
    passkey = page.locator("#passkey")
    await passkey.get_by_label("Name").fill("Laptop")
    await passkey.get_by_label("Your password").fill(PASSWORD)
    await passkey.get_by_role("button", name="Add a passkey").click()
    await page.wait_for_selector("[data-recovery-codes]")
    codes = await page.locator("[data-recovery-codes] code").all_inner_texts()
    assert len(codes) == 10
    assert await page.locator('tr[data-factor="passkey"]').count() == 1
    stored = await cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert len(stored["credentials"]) == 1

    # A sensitive change confirmed with the passkey instead of a code.
    await page.goto("/settings/two-step")
    codes_form = page.locator("#codes")
    await codes_form.get_by_label("Your password").fill(PASSWORD)
    await codes_form.get_by_role("button", name="Use a passkey instead").click()
    await page.wait_for_selector("[data-recovery-codes]")
    assert await page.locator("[data-recovery-codes] code").all_inner_texts() != codes

    await page.get_by_role("button", name="Sign out").first.click()
    await page.wait_for_url("**/signin**")
    await page.get_by_label("Username").fill("amina")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/signin/verify**")
    await assert_accessible(page)
    await page.get_by_role("button", name="Use your passkey").click()
    await page.wait_for_url("**/inbox")
    assert await page.get_by_role("heading", name="Inbox").first.is_visible()
    await page.goto("/settings/two-step")
    assert "Laptop" in await page.locator('tr[data-factor="passkey"]').inner_text()


async def test_a_passkey_of_another_browser_does_not_sign_in(
        aiohttp_server: Any, chromium: Any, tmp_path: Path, store_url: str,  # noqa: F811
        clock: FakeClock) -> None:
    """A member with a passkey, and a browser whose authenticator holds none for this
    site: the passkey button gets no answer, the sign-in stays waiting, no session."""
    base = await on_localhost(aiohttp_server, tmp_path, store_url, clock)
    page, _, _ = await passkey_page(chromium, base)
    await sign_up(page, "bako")
    await page.goto("/settings/two-step")
    passkey = page.locator("#passkey")
    await passkey.get_by_label("Your password").fill(PASSWORD)
    await passkey.get_by_role("button", name="Add a passkey").click()
    await page.wait_for_selector("[data-recovery-codes]")

    other, _, _ = await passkey_page(chromium, base)
    await other.goto("/signin")
    await other.get_by_label("Username").fill("bako")
    await other.get_by_label("Password").fill(PASSWORD)
    await other.get_by_role("button", name="Sign in").click()
    await other.wait_for_url("**/signin/verify**")
    await other.get_by_role("button", name="Use your passkey").click()
    status = other.locator("[data-passkey-status]")
    await status.filter(has_text="did not answer").wait_for()
    assert "/signin/verify" in other.url
    assert not [c for c in await other.context.cookies() if c["name"] == "tm_session"]
