"""The directory, a member's listings and the TradeStaff console in a real browser: Debian's
Chromium driven by Playwright, with axe-core checking each page for accessibility problems.

A member edits their listings and sees the phone number they put in a product marked; staff
see it in their queue; a visitor browses and searches the directory and is given no cookie.
Screenshots go to test-artifacts/.

Without Chromium (or axe-core, from the axe-playwright-python package) these skip, unless
TRADEMAIL_TEST_REQUIRE_BROWSER=1 (CI) makes that a failure.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import PASSWORD, make_config, take_mail
from tests.test_browser import ARGS, CHROMIUM, new_page, shot, sign_up
from trademail.app import CORE, build_app
from trademail.testing import FakeClock

PHONE = "+254 712 345678"
pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def _missing() -> str | None:
    """What this machine lacks to run these tests, if anything."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    if importlib.util.find_spec("axe_playwright_python") is None:
        return "axe-core is missing (pip install axe-playwright-python)"
    return None


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    missing = _missing()
    if missing:
        if os.environ.get("TRADEMAIL_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests are required but {missing}")
        pytest.skip(missing)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


def axe_source() -> str:
    spec = importlib.util.find_spec("axe_playwright_python")
    assert spec is not None and spec.origin is not None
    return (Path(spec.origin).parent / "axe.min.js").read_text(encoding="utf-8")


async def assert_accessible(page: Any) -> None:
    """axe-core finds no violation on the page as it stands (WCAG 2 A and AA, and best
    practices). Run through the DevTools protocol, which the page's CSP does not govern."""
    await page.evaluate(axe_source())
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    problems = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:5])
                for v in result["violations"]]
    assert problems == [], (page.url, problems)


async def confirm_address(page: Any, server: Any, username: str) -> None:
    mail = await take_mail(server, f"{username}@real-{username}.example",
                           "/signup/confirm?token=")
    (link,) = re.findall(r"http://\S+/signup/confirm\?token=\S+", mail)
    await page.goto("/" + link.split("/", 3)[3])
    await page.get_by_role("button", name="Confirm my address").click()
    await page.get_by_text("Your address is confirmed").wait_for()


async def test_listings_flags_the_directory_and_the_console_in_a_browser(
        chromium: Any, aiohttp_server: Any, tmp_path: Path, store_url: str,
        clock: FakeClock) -> None:
    server = await aiohttp_server(await build_app(make_config(tmp_path, store_url), clock))
    base = str(server.make_url("")).rstrip("/")
    amina = await new_page(chromium, base)
    await sign_up(amina, "amina")
    await confirm_address(amina, server, "amina")

    # Amina fills in her profile and contact section, then lists a product.
    await amina.goto("/inbox")
    await amina.get_by_role("link", name="My listings").click()
    await amina.get_by_role("heading", name="My listings").wait_for()
    await amina.get_by_label("About your company").fill("Cashew kernels from Mtwara.")
    await amina.get_by_label("Business type").select_option("manufacturer")
    await amina.get_by_label("Phone").fill(PHONE)
    await amina.get_by_role("button", name="Save profile").click()
    await amina.locator(".notice", has_text="Saved.").wait_for()
    new_product = amina.locator("form[action='/listings/products']")
    await new_product.get_by_label("Product name").fill("Cashew W320")
    await new_product.get_by_label("Category").select_option("agriculture")
    await new_product.get_by_label("Description").fill(f"Grade W320. Call {PHONE}")
    await new_product.get_by_role("button", name="Add product").click()

    # The save went through, but she is told plainly, and the number is marked.
    notice = amina.locator("[data-saved-notice]")
    await notice.wait_for()
    assert "NOT Listed" in await notice.inner_text()
    mark = amina.locator(".flagged mark")
    assert (await mark.inner_text()).startswith(PHONE)
    assert await mark.is_visible()
    await assert_accessible(amina)
    await shot(amina, "listings-flagged")

    # Staff see the same span in their queue.
    await server.app[CORE].market.operator.create_staff(
        username="sasha", password=PASSWORD, email="sasha@staff.example",
        company="TradeStaff", country="Kenya")
    sasha = await new_page(chromium, base)
    await sasha.goto("/signin")
    await sasha.get_by_label("Username").fill("sasha")
    await sasha.get_by_label("Password").fill(PASSWORD)
    await sasha.get_by_role("button", name="Sign in").click()
    await sasha.wait_for_url("**/inbox")
    await sasha.get_by_role("link", name="TradeStaff", exact=True).click()
    await sasha.get_by_role("heading", name="Flagged listings").wait_for()
    assert (await sasha.locator("table.queue mark").inner_text()).startswith(PHONE)
    await assert_accessible(sasha)
    await shot(sasha, "staff-queue")

    # Amina takes the number out: listed again.
    item = amina.locator(".my-item", has_text="Cashew W320")
    await item.locator("summary").click()
    await item.get_by_label("Description").fill("Grade W320, 50 lb tins.")
    await item.get_by_role("button", name="Save product").click()
    await amina.locator(".notice", has_text="Saved.").wait_for()
    assert await amina.locator(".flagged").count() == 0
    await assert_accessible(amina)

    # A visitor browses and searches the directory: no alias, no cookie.
    visitor = await new_page(chromium, base)
    await visitor.goto("/directory")
    await visitor.get_by_label("Words").fill("cashew")
    await visitor.get_by_role("button", name="Search").click()
    await visitor.wait_for_url("**/directory?q=cashew*")
    await visitor.get_by_role("link", name="Amina Trading Ltd", exact=True).wait_for()
    assert await visitor.get_by_text("Cashew W320", exact=True).is_visible()
    await assert_accessible(visitor)
    await shot(visitor, "directory-visitor")
    await visitor.get_by_role("link", name="Amina Trading Ltd", exact=True).click()
    await visitor.get_by_role("heading", name="Amina Trading Ltd").wait_for()
    assert await visitor.get_by_role("link", name=re.compile("Sign in to send TradeMail")) \
        .first.is_visible()
    assert "@relay" not in await visitor.content()
    assert await visitor.context.cookies() == []
    await assert_accessible(visitor)

    # A member sees the directory with the alias and opens the contact section.
    await amina.goto("/directory")
    await assert_accessible(amina)
    await sasha.goto("/directory/amina")
    await sasha.get_by_role("button", name="Show contact details").click()
    await sasha.locator("[data-contact]", has_text=PHONE).wait_for()
    await assert_accessible(sasha)
    await shot(sasha, "directory-contact")
