"""The web inbox in a real browser: Debian's Chromium driven by Playwright.

Two members sign up, one writes, the other sees it arrive live (server-sent events), replies,
and both see the thread; a session times out and comes back to the page it was on; a
signed-out cookie is worthless. Screenshots of the main pages go to test-artifacts/.

Without Chromium these skip, unless TRADEMAIL_TEST_REQUIRE_BROWSER=1 (CI) makes that a failure.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import PASSWORD, make_config, take_mail
from trademail.app import build_app
from trademail.testing import FakeClock

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 10_000

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    missing = None
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        missing = "the playwright package is not installed"
    if missing is None and not os.path.exists(CHROMIUM):  # noqa: ASYNC240 - one stat at setup
        missing = f"{CHROMIUM} is missing (apt-get install chromium)"
    if missing:
        if os.environ.get("TRADEMAIL_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests are required but {missing}")
        pytest.skip(missing)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def serve(aiohttp_server: Any, tmp_path: Path, store_url: str, clock: FakeClock,
                **overrides: str) -> str:
    config = make_config(tmp_path, store_url, **overrides)
    server = await aiohttp_server(await build_app(config, clock))
    return str(server.make_url("")).rstrip("/")


async def new_page(browser: Any, base: str, *, width: int = 1280, height: int = 800) -> Any:
    context = await browser.new_context(base_url=base, viewport={"width": width, "height": height})
    context.set_default_timeout(TIMEOUT_MS)
    return await context.new_page()


async def sign_up(page: Any, username: str, *, screenshot: bool = False) -> None:
    await page.goto("/")  # a visitor first meets what TradeMail is
    assert await page.get_by_role("heading", name="Three promises").is_visible()
    if screenshot:
        await shot(page, "landing")
    await page.goto("/signin")
    assert await page.get_by_text("will never ask for your password").is_visible()
    if screenshot:
        await shot(page, "signin")
    await page.get_by_role("link", name="Create an account").click()
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Email address").fill(f"{username}@real-{username}.example")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_label("Company").fill(f"{username.title()} Trading Ltd")
    await page.get_by_label("Country").fill("Kenya")
    await page.get_by_role("button", name="Create account").click()
    await page.wait_for_url("**/inbox")


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


async def test_two_members_write_live_reply_and_sign_out(
        chromium: Any, aiohttp_server: Any, tmp_path: Path, store_url: str,
        clock: FakeClock) -> None:
    base = await serve(aiohttp_server, tmp_path, store_url, clock)
    amina, bako = await new_page(chromium, base), await new_page(chromium, base)
    await sign_up(amina, "amina", screenshot=True)
    assert await amina.get_by_text("Welcome to TradeMail").is_visible()
    await sign_up(bako, "bako")
    assert await bako.get_by_text("Your inbox is empty").is_visible()

    # Amina writes; Bako's open inbox shows it without reloading.
    await amina.get_by_role("link", name="Compose").click()
    await amina.get_by_label("To").fill("bako")
    await amina.get_by_label("Subject").fill("Cashew offer: 20 t W320")
    await amina.get_by_label("Message").fill(
        "Hello Bako,\n\nWe can ship 20 tonnes of W320 kernels from Mtwara in March.\n"
        "Price list: https://example.com/prices\n\nBest regards,\nAmina")
    await shot(amina, "compose")
    await amina.get_by_role("button", name="Send").click()
    await amina.wait_for_url("**/sent")
    row = bako.locator("#message-list li.row.unread", has_text="Cashew offer")
    await row.wait_for()
    assert await bako.locator("#unread-count [data-unread]").inner_text() == "1"
    assert "(1)" in await bako.title()
    await shot(bako, "inbox")

    # Bako reads it and replies; the thread shows both messages.
    await row.get_by_role("link").click()
    await bako.wait_for_url(re.compile(r"/messages/[0-9a-f]{32}$"))
    await bako.get_by_label(re.compile("^Reply to")).fill("Thank you, Amina. 20 t suits us.")
    await shot(bako, "message")
    await bako.get_by_role("button", name="Send reply").click()
    await bako.locator(".notice", has_text="Message sent").wait_for()
    assert await bako.locator(".thread-messages > li").count() == 2

    await amina.goto("/inbox")
    await amina.get_by_role("link", name=re.compile("Re: Cashew offer")).click()
    mails = amina.locator(".thread-messages > li")
    assert await mails.count() == 2
    assert "20 t suits us" in await mails.nth(1).inner_text()
    assert "20 tonnes of W320" in await mails.nth(0).inner_text()
    await shot(amina, "thread")

    # Nobody's real address shows anywhere in what the other member sees.
    for page in (amina, bako):
        assert "real-" not in await page.content()
    await amina.get_by_role("link", name="Settings").first.click()
    await amina.get_by_role("heading", name="Settings", level=1).wait_for()
    assert "a•••@real-amina.example" in await amina.content()  # one's own, masked
    await shot(amina, "settings")
    # Each section is a page of its own, listed on the overview; on a section's page the
    # section navigation marks it, and works by keyboard too.
    await amina.get_by_role("link", name="Sessions").click()
    await amina.get_by_role("heading", name="Sessions", level=1).wait_for()
    sections = amina.get_by_role("navigation", name="Settings sections")
    assert await sections.get_by_role("link", name="Sessions").get_attribute(
        "aria-current") == "page"
    await sections.get_by_role("link", name="Your account").focus()
    await amina.keyboard.press("Tab")
    assert await amina.evaluate("document.activeElement.textContent") == "Password and address"
    await amina.keyboard.press("Enter")
    await amina.get_by_role("heading", name="Password and address", level=1).wait_for()

    # Sign out: the old cookie no longer opens anything.
    cookies = await amina.context.cookies()
    (session,) = [c for c in cookies if c["name"] == "tm_session"]
    await amina.get_by_role("button", name="Sign out").first.click()
    await amina.wait_for_url("**/signin?reason=signed-out")
    assert await amina.get_by_text("You have signed out").is_visible()
    thief = await new_page(chromium, base)
    await thief.context.add_cookies([session])
    await thief.goto("/inbox")
    assert "/signin" in thief.url
    assert await thief.get_by_role("heading", name="Sign in").is_visible()


async def test_idle_timeout_warns_then_signs_out_and_returns(
        chromium: Any, aiohttp_server: Any, tmp_path: Path, store_url: str,
        clock: FakeClock) -> None:
    # 61 s idle: the warning (a minute before) shows a second after each page loads.
    base = await serve(aiohttp_server, tmp_path, store_url, clock,
                       TRADEMAIL_AUTH_IDLE_TIMEOUT_SECONDS="61")
    page = await new_page(chromium, base, width=390, height=844)
    await sign_up(page, "carla")
    await shot(page, "inbox-phone")

    dialog = page.get_by_role("dialog", name="Still there?")
    await dialog.wait_for()
    async with page.expect_response("**/session/keepalive") as answer:
        await dialog.get_by_role("button", name="Stay signed in").click()
    assert (await answer.value).status == 200
    assert not await dialog.is_visible()

    await page.goto("/search?q=cashews")
    clock.advance(62)
    await page.get_by_role("link", name="Archive").click()
    await page.wait_for_url("**/signin?**")
    assert "reason=timeout" in page.url
    assert await page.get_by_text("Your session timed out").is_visible()
    await page.get_by_label("Username").fill("carla")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/archive")
    assert await page.get_by_role("heading", name="Archive").is_visible()


async def test_live_updates_do_not_keep_an_unattended_inbox_signed_in(
        chromium: Any, aiohttp_server: Any, tmp_path: Path, store_url: str,
        clock: FakeClock) -> None:
    # Mail arriving reloads the open list; that must not count as the member being there.
    base = await serve(aiohttp_server, tmp_path, store_url, clock,
                       TRADEMAIL_AUTH_IDLE_TIMEOUT_SECONDS="3600")
    amina, bako = await new_page(chromium, base), await new_page(chromium, base)
    await sign_up(bako, "bako")  # and then leaves the inbox open
    clock.advance(3000)
    await sign_up(amina, "amina")
    await amina.get_by_role("link", name="Compose").click()
    await amina.get_by_label("To").fill("bako")
    await amina.get_by_label("Subject").fill("Are you still there?")
    await amina.get_by_label("Message").fill("Just checking.")
    async with bako.expect_request(lambda r: r.url.endswith("/inbox")
                                   and r.resource_type == "fetch") as refresh:
        await amina.get_by_role("button", name="Send").click()
    assert (await refresh.value).headers.get("x-trademail-refresh") == "1"
    await bako.locator("#message-list li.row", has_text="Are you still there?").wait_for()
    clock.advance(601)  # an hour since Bako last did anything
    await bako.get_by_role("link", name="Archive").click()
    await bako.wait_for_url("**/signin?**")
    assert "reason=timeout" in bako.url


async def test_a_new_member_confirms_forgets_and_resets_in_the_browser(
        chromium: Any, aiohttp_server: Any, tmp_path: Path, store_url: str,
        clock: FakeClock) -> None:
    server = await aiohttp_server(await build_app(make_config(tmp_path, store_url), clock))
    page = await new_page(chromium, str(server.make_url("")).rstrip("/"))
    await sign_up(page, "dora")
    await page.get_by_role("link", name="Settings").first.click()
    await page.get_by_role("link", name="Password and address").click()
    assert await page.locator("[data-unconfirmed]").is_visible()

    # The link from the mail opens a page with one button; pressing it confirms.
    mail = await take_mail(server, "dora@real-dora.example", "/signup/confirm?token=")
    (link,) = re.findall(r"http://\S+/signup/confirm\?token=\S+", mail)
    await page.goto("/" + link.split("/", 3)[3])
    await shot(page, "confirm-address")
    await page.get_by_role("button", name="Confirm my address").click()
    assert await page.get_by_text("Your address is confirmed").is_visible()
    await page.goto("/settings/security")
    assert await page.locator("[data-unconfirmed]").count() == 0

    # Forgotten: a link by mail, a new password, and every old session is gone.
    await page.get_by_role("button", name="Sign out").first.click()
    await page.get_by_role("link", name="Forgot your password?").click()
    await page.get_by_label("Username or email address").fill("dora@real-dora.example")
    await page.get_by_role("button", name="Mail me a link").click()
    assert await page.get_by_text("If an account matches").is_visible()
    mail = await take_mail(server, "dora@real-dora.example", "/password/reset?token=")
    (link,) = re.findall(r"http://\S+/password/reset\?token=\S+", mail)
    await page.goto("/" + link.split("/", 3)[3])
    await page.get_by_label("New password").fill("lantern harbour spice ledger")
    await page.get_by_role("button", name="Set new password").click()
    await page.wait_for_url("**/signin?reason=password-reset")
    await page.get_by_label("Username").fill("dora")
    await page.get_by_label("Password").fill("lantern harbour spice ledger")
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/inbox")
