"""Every page at a phone's width and a desktop's: nothing scrolls sideways, and axe-core
finds no serious or critical accessibility problem.

Chromium at 390 px (a phone) and at 1280 px visits each page a visitor and a member can
reach, checks that the document is no wider than the window, runs axe-core on it, and
keeps a screenshot of each in test-artifacts/ (`<page>-<width>.png`).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from tests.test_browser import ARTIFACTS, chromium, new_page, serve, sign_up  # noqa: F401
from tests.test_browser_directory import axe_source
from trademail.testing import FakeClock
from trademail.web.settings import SECTIONS

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

WIDTHS = (390, 1280)
VISITOR_PAGES = {"landing": "/", "signin": "/signin", "signup": "/signup",
                 "password-forgot": "/password/forgot", "directory-visitor": "/directory",
                 "not-found": "/directory/nobody-here"}
MEMBER_PAGES = {"inbox": "/inbox", "sent": "/sent", "drafts": "/drafts", "archive": "/archive",
                "trash": "/trash",
                "search": "/search?q=cashew", "compose": "/compose", "settings": "/settings",
                "listings": "/listings", "directory": "/directory",
                **{f"settings-{slug}": section.url for slug, section in SECTIONS.items()}}
WIDER_THAN_THE_WINDOW = "document.documentElement.scrollWidth - window.innerWidth"


async def _check(page: Any, name: str, path: str, width: int) -> list[str]:
    await page.goto(path)
    return await page_problems(page, f"{name}-{width}", width)


async def page_problems(page: Any, name: str, width: int) -> list[str]:
    """What is wrong with the page as it stands, `width` px wide: wider than the window, or
    a serious or critical accessibility problem axe-core finds. Keeps a screenshot of it,
    test-artifacts/<name>.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    problems = []
    extra = await page.evaluate(WIDER_THAN_THE_WINDOW)
    if extra > 0:
        problems.append(f"{name} ({page.url}) is {extra} px too wide at {width} px")
    await page.evaluate(axe_source())
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    problems += [f"{name} at {width} px: {v['id']} ({v['impact']}): {v['help']} "
                 f"{[n['target'] for n in v['nodes']][:3]}"
                 for v in result["violations"] if v["impact"] in ("serious", "critical")]
    return problems


async def test_no_page_scrolls_sideways_or_fails_axe_on_a_phone_or_a_desktop(
        chromium: Any, aiohttp_server: Any, tmp_path: Path, store_url: str,  # noqa: F811
        clock: FakeClock) -> None:
    base = await serve(aiohttp_server, tmp_path, store_url, clock)
    amina = await new_page(chromium, base)
    await sign_up(amina, "amina")
    await sign_up(await new_page(chromium, base), "bako")
    await amina.goto("/compose")  # a conversation with a long, unbroken line in it
    await amina.get_by_label("To").fill("bako")
    await amina.get_by_label("Subject").fill("Cashew offer: 20 t W320, CIF Mombasa, March")
    await amina.get_by_label("Message").fill(
        "Hello Bako,\n\nPrice list: https://example.com/prices/2026/cashew-kernels-w320-"
        "w240-grade-a-export-price-list.pdf\n\nBest regards,\nAmina Trading Ltd")
    await amina.get_by_role("button", name="Send").click()
    await amina.wait_for_url("**/sent")
    await amina.locator("#message-list li.row").first.get_by_role("link").click()
    await amina.wait_for_url(re.compile(r"/messages/[0-9a-f]{32}$"))
    pages = {**MEMBER_PAGES, "message": amina.url.removeprefix(base)}
    await _fill_settings(amina)
    cookies = await amina.context.cookies()

    await _times_are_the_readers_own(chromium, base, cookies)

    problems: list[str] = []
    for width in WIDTHS:
        visitor = await new_page(chromium, base, width=width, height=844)
        member = await new_page(chromium, base, width=width, height=844)
        await member.context.add_cookies(cookies)
        for name, path in VISITOR_PAGES.items():
            problems += await _check(visitor, name, path, width)
        for name, path in pages.items():
            problems += await _check(member, name, path, width)
    assert problems == []


async def _fill_settings(page: Any) -> None:
    """Settings with their tables filled (a blocked sender, a token, a second alias), as
    they are wide on a phone."""
    await page.goto("/settings/blocks")
    await page.get_by_label("Who to block").fill("outside.sender@long-domain-name.example")
    await page.get_by_role("button", name="Block", exact=True).click()
    await page.wait_for_url("**/settings/blocks")
    await page.goto("/settings/tokens")
    await page.get_by_label("Token name").fill("Office CRM")
    await page.get_by_role("button", name="Create token").click()
    await page.get_by_label("New API token").wait_for()
    await page.goto("/settings/aliases")
    await page.get_by_role("button", name="Add an alias").click()
    await page.wait_for_url("**/settings/aliases")


async def _times_are_the_readers_own(browser: Any, base: str, cookies: list[Any]) -> None:
    """One time format on every page: the reader's local time, the zone in the tooltip."""
    context = await browser.new_context(base_url=base, timezone_id="Africa/Nairobi",
                                        locale="en-GB")
    try:
        await context.add_cookies(cookies)
        page = await context.new_page()
        for path in ("/settings/profile", "/settings/sessions", "/sent"):
            await page.goto(path)
            times = page.locator("time[data-local]")
            assert await times.count() > 0, path
            for n in range(await times.count()):
                text = await times.nth(n).inner_text()
                utc = dt.datetime.fromisoformat(await times.nth(n).get_attribute("datetime"))
                local = utc.astimezone(dt.timezone(dt.timedelta(hours=3)))
                assert "UTC" not in text, (path, text)
                assert f"{local:%H:%M}" in text or f"{local.day} {local:%b}" in text, text
                assert "East Africa Time" in await times.nth(n).get_attribute("title")
    finally:
        await context.close()
