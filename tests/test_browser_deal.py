"""One deal through the web inbox, as two companies live it, on a desktop and on a phone.

Amina Trading and Bako Trading sign up. Amina writes an enquiry to the alias Bako was
given; Bako follows the link in the notification mail (signing in on the way) straight to
the conversation and answers with a quote; Amina writes a follow-up, archives the
conversation from its page, takes that back with Undo, archives it again from the inbox,
and finds it by a word of the quote. Chromium plays the story at 1280 x 800 and at
390 x 844, using on the phone what a phone shows (the floating Compose button, the row of
folders that scrolls). At every step the page must be no wider than the window and have no
serious or critical axe-core problem; a screenshot of it goes to
test-artifacts/deal-<width>-<step>.png.

Without Chromium or axe-core this skips, unless TRADEMAIL_TEST_REQUIRE_BROWSER=1 (CI).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.helpers import OUTBOUND, PASSWORD, make_config, text_of_mail
from tests.test_browser import new_page, sign_up
from tests.test_browser_directory import chromium, confirm_address  # noqa: F401
from tests.test_browser_layout import page_problems
from trademail.app import build_app
from trademail.testing import FakeClock, MemoryTransport

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

SUBJECT = "Enquiry: 20 t cashew kernels W320, CIF Mombasa"
ENQUIRY = ("Dear Bako,\n\nPlease quote 20 tonnes of W320 cashew kernels, CIF Mombasa, "
           "shipping in March.\n\nBest regards,\nAmina")
QUOTE = ("Dear Amina,\n\nOur price is USD 7,450 per tonne CIF Mombasa, fumigated and packed "
         "in 50 lb tins. The offer holds for 14 days.\n\nBako")
FOLLOW_UP = "Thank you, Bako. Could you ship it in two lots of 10 t, in March and April?"
QUOTE_WORD = "fumigated"  # in the quote only: search must find the conversation by it
IN_ORDER = ("Please quote 20 tonnes", "USD 7,450 per tonne", "two lots of 10 t")
MESSAGE_PAGE = re.compile(r"/messages/[0-9a-f]{32}$")
# An element no box that clips what overflows it cuts short.
SHOWN_IN_FULL = """el => {
  const r = el.getBoundingClientRect();
  for (let box = el.parentElement; box; box = box.parentElement) {
    if (getComputedStyle(box).overflowX === "visible") continue;
    const b = box.getBoundingClientRect();
    if (r.left < b.left - 0.5 || r.right > b.right + 0.5) return false;
  }
  return r.width > 0;
}"""
PHONE_WIDTH = 720  # app.css lays pages out for a phone below this


@dataclass
class Deal:
    """One playing of the story: the live server, the window, the two companies' pages."""

    server: Any
    browser: Any
    width: int
    height: int
    amina: Any = None
    bako: Any = None

    @property
    def phone(self) -> bool:
        return self.width < PHONE_WIDTH

    async def new_page(self) -> Any:
        base = str(self.server.make_url("")).rstrip("/")
        return await new_page(self.browser, base, width=self.width, height=self.height)

    async def step(self, page: Any, name: str) -> None:
        """The page as it stands does not scroll sideways and passes axe-core."""
        assert await page_problems(page, f"deal-{self.width}-{name}", self.width) == []


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)],
                         ids=["desktop", "phone"])
async def test_two_companies_make_a_deal_on_a_desktop_and_a_phone(
        chromium: Any, aiohttp_server: Any, tmp_path: Path, store_url: str,  # noqa: F811
        clock: FakeClock, width: int, height: int) -> None:
    transport = MemoryTransport()
    app = await build_app(make_config(tmp_path, store_url), clock, transport=transport)
    app[OUTBOUND] = transport
    deal = Deal(await aiohttp_server(app), chromium, width, height)
    alias = await companies_sign_up(deal)
    await amina_sends_the_enquiry(deal, alias)
    await bako_follows_the_notification(deal)
    await bako_quotes(deal)
    await amina_follows_up(deal)
    await amina_archives_and_undoes(deal)
    await amina_finds_it_by_search(deal)


async def companies_sign_up(deal: Deal) -> str:
    """Both sign up on the web form; Bako confirms the address notifications go to and
    reads, on the empty inbox, the alias to give buyers."""
    deal.amina, bako = await deal.new_page(), await deal.new_page()
    await sign_up(deal.amina, "amina")
    await sign_up(bako, "bako")
    alias = (await bako.locator(".getting-started .alias").inner_text()).strip()
    assert re.fullmatch(r"[\w.+-]+@[\w.-]+", alias), alias
    await deal.step(bako, "welcome")
    await confirm_address(bako, deal.server, "bako")
    await deal.step(bako, "confirmed")
    await bako.context.close()  # Bako next reads mail elsewhere, not signed in there
    return alias


async def amina_sends_the_enquiry(deal: Deal, alias: str) -> None:
    """From Compose (on a phone, the round button under the thumb) to the alias."""
    page = deal.amina
    compose = page.get_by_role("link", name="Compose")
    if deal.phone:  # a round button at the bottom right, where a thumb is
        box = await compose.bounding_box()
        assert box["x"] + box["width"] <= deal.width and box["x"] > deal.width / 2, box
        assert deal.height * 0.75 < box["y"] + box["height"] <= deal.height, box
    await compose.click()
    await page.wait_for_url("**/compose")
    await page.get_by_label("To").fill(alias)
    await page.get_by_label("Subject").fill(SUBJECT)
    await page.get_by_label("Message").fill(ENQUIRY)
    await deal.step(page, "compose")
    await page.get_by_role("button", name="Send").click()
    await page.wait_for_url("**/sent")
    await page.locator(".notice", has_text="Message sent").wait_for()
    row = conversation_row(page)
    assert "Bako Trading Ltd" in await row.locator(".who").inner_text()
    await deal.step(page, "sent")


async def bako_follows_the_notification(deal: Deal) -> None:
    """The mail names who wrote and the subject, and links to the conversation itself,
    which opens after signing in."""
    mail = await notification_to(deal, "bako@real-bako.example")
    assert mail["Subject"] == SUBJECT
    text = text_of_mail(mail.as_bytes())
    assert "Amina Trading Ltd" in text and f"Subject: {SUBJECT}" in text, text
    (link,) = re.findall(r"https?://\S+/messages/[0-9a-f]{32}", text)
    deal.bako = page = await deal.new_page()
    await page.goto(urlsplit(link).path)
    await page.wait_for_url("**/signin?**")
    await deal.step(page, "signin-from-mail")
    await page.get_by_label("Username").fill("bako")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"**{urlsplit(link).path}")
    assert await page.get_by_role("heading", name=SUBJECT).is_visible()
    await assert_conversation(page, 1)
    await deal.step(page, "enquiry")


async def bako_quotes(deal: Deal) -> None:
    """Reply, at the top of the conversation, brings the reply box into view (on a phone,
    the whole screen down) and the quote joins the conversation."""
    page = deal.bako
    await page.get_by_role("link", name="Reply", exact=True).click()
    reply = page.get_by_label(re.compile("^Reply to"))
    assert await reply.is_visible()
    assert (await reply.bounding_box())["y"] < deal.height, "the reply box is off screen"
    await reply.fill(QUOTE)
    await page.get_by_role("button", name="Send reply").click()
    await page.locator(".notice", has_text="Message sent").wait_for()
    await assert_conversation(page, 2)
    await deal.step(page, "quote")


async def amina_follows_up(deal: Deal) -> None:
    """The quote's conversation is one row of Amina's inbox, unread, with its count; she
    answers in it, and it holds the three messages in order."""
    page = deal.amina
    await go_to_folder(deal, page, "Inbox")
    row = conversation_row(page)
    await row.wait_for()
    assert "unread" in await row.get_attribute("class")
    assert await count_in(row) == 2
    assert await page.locator("#message-list li.row").count() == 1
    await deal.step(page, "inbox")
    await row.get_by_role("link").click()
    await page.wait_for_url(MESSAGE_PAGE)
    await page.get_by_role("link", name="Reply", exact=True).click()
    await page.get_by_label(re.compile("^Reply to")).fill(FOLLOW_UP)
    await page.get_by_role("button", name="Send reply").click()
    await page.locator(".notice", has_text="Message sent").wait_for()
    await assert_conversation(page, 3)
    await deal.step(page, "follow-up")


async def amina_archives_and_undoes(deal: Deal) -> None:
    """Archive from the conversation's page takes all of it out of the inbox; Undo on the
    page after brings it back; archived again, from the inbox this time."""
    page = deal.amina
    await page.get_by_role("button", name="Archive").click()
    await page.wait_for_url("**/inbox?**")
    undo = page.locator(".notice.undo")
    assert "Conversation archived" in await undo.inner_text()
    assert await conversation_row(page).count() == 0
    await deal.step(page, "archived")
    await undo.get_by_role("button", name="Undo").click()
    await page.locator(".notice", has_text="Undone").wait_for()
    assert await count_in(conversation_row(page)) == 3
    await deal.step(page, "undone")
    await conversation_row(page).get_by_role("checkbox").check()
    await page.get_by_role("group", name="With the conversations picked") \
        .get_by_role("button", name="Archive").click()
    await page.locator(".notice.undo", has_text="Conversation archived").wait_for()
    assert await conversation_row(page).count() == 0
    await go_to_folder(deal, page, "Archive")
    assert await count_in(conversation_row(page)) == 3
    await deal.step(page, "archive-folder")


async def amina_finds_it_by_search(deal: Deal) -> None:
    """A word of the quote, typed in the search bar at the top, finds the archived
    conversation, and it opens whole."""
    page = deal.amina
    search = page.get_by_role("searchbox", name="Search your mail")
    await search.fill(QUOTE_WORD)
    await search.press("Enter")
    await page.wait_for_url(f"**/search?q={QUOTE_WORD}")
    row = conversation_row(page)
    assert await page.locator("#message-list li.row").count() == 1
    assert await count_in(row) == 3
    await deal.step(page, "search")
    await row.get_by_role("link").click()
    await page.wait_for_url(MESSAGE_PAGE)
    assert await page.get_by_role("heading", name=re.compile(re.escape(SUBJECT))).is_visible()
    await assert_conversation(page, 3)
    await deal.step(page, "found")


# ---------------------------------------------------------------- what the steps share


async def assert_conversation(page: Any, messages: int) -> None:
    """The conversation on the page holds the deal's first `messages`, oldest first
    (folded ones included)."""
    shown = await page.locator(".thread-messages .mail-body").all_text_contents()
    assert len(shown) == messages, shown
    assert all(want in text for text, want in zip(shown, IN_ORDER, strict=False)), shown


async def count_in(row: Any) -> int:
    """The message count a list's row shows for its conversation, in full (no ellipsis
    of a name too long for the row cuts it off)."""
    count = row.locator(".thread-count")
    assert await count.evaluate(SHOWN_IN_FULL), "the message count is cut off"
    return int(re.sub(r"\D", "", await count.text_content()))


def conversation_row(page: Any) -> Any:
    """The deal's row in the list on the page (inbox, sent, archive or search)."""
    return page.locator("#message-list li.row", has_text=SUBJECT)


async def go_to_folder(deal: Deal, page: Any, name: str) -> None:
    """Through the folders (on a phone, one row that scrolls sideways on its own)."""
    nav = page.get_by_role("navigation", name="Folders and pages")
    if deal.phone:
        box = await nav.bounding_box()
        assert box["height"] < 80, f"the folders take {box['height']} px of a phone's screen"
    await nav.get_by_role("link", name=re.compile(f"^{name}")).click()
    await page.wait_for_url(f"**/{name.lower()}")


async def notification_to(deal: Deal, address: str, *, within: float = 10.0) -> Any:
    """The notification mail the relay delivers to `address` (waiting for it, on real I/O)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        for sent in deal.server.app[OUTBOUND].mails:
            mail = message_from_bytes(sent.data, policy=policy.default)
            if address in sent.rcpt_tos and "notifications" in mail.get("List-Id", ""):
                return mail
        await asyncio.sleep(0.02)
    raise AssertionError(f"no notification to {address}")
