"""The marketplace directory and a member's listings in the web inbox, through the real
door: what visitors and members see (and that visitors get no cookie and no alias), search
and its page cap, the contact-details rule on saving listings, opening contact sections
(signed in, with a form token, counted and capped), blocking senders and reporting."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser_helpers import Browser, csrf_of
from tests.helpers import PASSWORD, confirm, make_config, outbox_rows
from trademail.config import Config

CONTACT_VIEWS_PER_DAY = 2
MESSAGE_LINK = re.compile(r'href="/messages/([0-9a-f]{32})"')
PHONE = "+254 712 345678"


@pytest.fixture
def config(tmp_path: Path, store_url: str) -> Config:
    """Small directory pages and a low daily number of contact sections, so tests reach
    the caps; a low number of new correspondents a day, for the sending limit."""
    return make_config(tmp_path, store_url,
                       TRADEMAIL_DIRECTORY_CONTACT_VIEWS_PER_DAY=str(CONTACT_VIEWS_PER_DAY),
                       TRADEMAIL_DIRECTORY_PAGE_SIZE="2", TRADEMAIL_DIRECTORY_MAX_PAGES="2",
                       TRADEMAIL_LIMITS_NEW_ACCOUNT_NEW_CORRESPONDENTS_PER_DAY="3")


async def member(client: Any, browsers: Callable[[], Browser], username: str, *,
                 country: str = "Kenya", company: str | None = None,
                 confirmed: bool = True) -> Browser:
    """A member signed up (their address confirmed by the link mailed to it) and signed in
    in a browser of their own."""
    email = f"{username}@real-{username}.example"
    resp = await client.post("/api/v1/members", json={
        "username": username, "password": PASSWORD, "email": email,
        "company": company or f"{username.title()} Trading Ltd", "country": country})
    assert resp.status == 201, await resp.text()
    if confirmed:
        await confirm(client, email)
    browser = browsers()
    assert (await browser.sign_in(username)).status == 303
    return browser


async def save(browser: Browser, path: str, data: dict[str, str],
               status: int = 303) -> str:
    """Post a form of the "My listings" page; the page that answers (or the one redirected to)."""
    resp = await browser.post(path, data, form_page="/listings")
    text = await resp.text()
    assert resp.status == status, (resp.status, text[:3000])
    return text if status != 303 else await browser.page("/listings")


async def list_company(browser: Browser, *, about: str, product: str, description: str = "",
                       category: str = "agriculture", phone: str = "") -> None:
    await save(browser, "/listings/profile", {"about": about, "business_type": "manufacturer",
                                              "phone": phone})
    await save(browser, "/listings/products", {"name": product, "description": description,
                                               "category": category})


def alias_of(settings_page: str) -> str:
    found = re.search(r'<code class="alias">([^<]+)</code>', settings_page)
    assert found
    return found.group(1)


def company_names(page: str) -> list[str]:
    return re.findall(r'<a href="/directory/[a-z0-9_.-]+">([^<]+)</a>', page)


# ---------------------------------------------------------------- what visitors see


async def test_a_visitor_reads_the_directory_without_aliases_or_cookies(
        client: Any, browsers: Any) -> None:
    amina = await member(client, browsers, "amina")
    alias = alias_of(await amina.page("/settings/aliases"))
    await list_company(amina, about="Cashew kernels from Mtwara.", product="Cashew W320",
                       description="Grade W320, 50 lb tins.")
    await save(amina, "/listings/leads", {"kind": "sell", "title": "20 t cashew in March",
                                          "category": "agriculture", "quantity": "20 t",
                                          "description": "", "expires_in_days": "30"})
    visitor = browsers()
    for path in ("/directory", "/directory?q=cashew", "/directory/amina"):
        resp = await visitor.get(path)
        page = await resp.text()
        assert resp.status == 200, (path, page[:2000])
        assert resp.headers.getall("Set-Cookie", []) == [], path
        assert "Amina Trading Ltd" in page and "Kenya" in page, path
        assert "Cashew W320" in page and "20 t cashew in March" in page, path
        assert "Sign in to send TradeMail" in page, path
        assert alias not in page and alias.split("@")[1] not in page, path
        assert 'name="csrf"' not in page and 'action="/signout"' not in page, path
        assert "/compose" not in page, path
    page = await visitor.page("/directory/amina")
    assert "Contact details are shown to signed-in members" in page
    assert not visitor.cookie("tm_browser")
    resp = await visitor.get("/directory/nobody")
    assert resp.status == 404 and resp.headers.getall("Set-Cookie", []) == []
    # A browser still holding a session cookie that has ended is a visitor here too: it is
    # not told to forget it (that would be a cookie on a directory page).
    for path in ("/directory", "/directory/amina", "/directory?q=cashew"):
        resp = await visitor.get(path, headers={"Cookie": "tm_session=ended-long-ago"})
        assert resp.status == 200 and resp.headers.getall("Set-Cookie", []) == [], path


async def test_a_member_sees_aliases_and_send_links_that_name_the_listing(
        client: Any, browsers: Any) -> None:
    amina = await member(client, browsers, "amina")
    alias = alias_of(await amina.page("/settings/aliases"))
    await list_company(amina, about="Cashew kernels.", product="Cashew W320")
    bako = await member(client, browsers, "bako")
    page = await bako.page("/directory")
    assert alias in page and 'action="/signout"' in page
    links = [parse_qs(urlsplit(html.unescape(h)).query)
             for h in re.findall(r'href="(/compose\?[^"]+)"', page)]
    subjects = {q["subject"][0] for q in links if q["to"] == [alias]}
    assert subjects == {"About your product: Cashew W320", "About Amina Trading Ltd"}
    # The link opens compose addressed and with its subject filled in.
    product_link = next(html.unescape(h) for h in re.findall(r'href="(/compose\?[^"]+)"', page)
                        if "product" in h)
    compose = await bako.page(product_link)
    assert f'value="{alias}"' in compose
    assert 'value="About your product: Cashew W320"' in compose


# ---------------------------------------------------------------- search


async def test_search_by_word_company_country_and_category(client: Any, browsers: Any) -> None:
    amina = await member(client, browsers, "amina")
    await list_company(amina, about="Nuts.", product="Cashew W320")
    carla = await member(client, browsers, "carla", country="Ghana",
                         company="Carla Steelworks")
    await list_company(carla, about="Pipes.", product="Steel pipes",
                       category="minerals and metals")
    visitor = browsers()

    async def found(query: str) -> list[str]:
        return company_names(await visitor.page("/directory?" + query))

    assert await found("q=cashew") == ["Amina Trading Ltd"]
    assert await found("q=steelworks") == ["Carla Steelworks"]  # a word of the company name
    assert await found("q=steel+pipes") == ["Carla Steelworks"]
    assert await found("country=ghana") == ["Carla Steelworks"]
    assert await found("category=minerals+and+metals") == ["Carla Steelworks"]
    assert await found("q=cashew&country=Ghana") == []
    page = await visitor.page("/directory?category=weapons", status=400)
    assert 'id="f-category-error"' in page and "must be one of" in page


async def test_pages_stop_at_the_cap_with_a_clear_message(client: Any, browsers: Any) -> None:
    for name in ("amina", "bako", "carla", "dora", "emeka"):
        await list_company(await member(client, browsers, name), about="Trade.",
                           product="Sesame")
    visitor = browsers()
    first = await visitor.page("/directory")
    assert len(company_names(first)) == 2
    assert 'href="/directory?page=2"' in first and "Previous page" not in first
    second = await visitor.page("/directory?page=2")
    assert len(company_names(second)) == 2
    assert "Next page" not in second and 'href="/directory"' in second
    assert "narrow your search" in second
    resp = await visitor.get("/directory?page=3&q=sesame")
    text = await resp.text()
    assert resp.status == 400
    assert "the directory shows 2 pages of results; narrow your search" in text
    assert 'href="/directory?q=sesame"' in text  # back to the first page of the same search
    assert resp.headers.getall("Set-Cookie", []) == []
    assert (await visitor.get("/directory?page=zero")).status == 400


# ---------------------------------------------------------------- the contact-details rule


async def test_a_phone_number_in_a_product_unlists_until_it_is_removed(
        client: Any, browsers: Any) -> None:
    amina = await member(client, browsers, "amina")
    await list_company(amina, about="Cashew kernels.", product="Cashew W320")
    visitor = browsers()
    assert company_names(await visitor.page("/directory")) == ["Amina Trading Ltd"]
    listings = await amina.page("/listings")
    product_id = re.search(r'id="product-([0-9a-f]{32})"', listings).group(1)  # type: ignore[union-attr]

    page = await save(amina, f"/listings/products/{product_id}", {
        "name": "Cashew W320", "description": f"Call {PHONE} for prices",
        "category": "agriculture"}, status=200)
    notice = re.search(r"data-saved-notice>.*?<span>(.*?) <a", page, re.S)
    assert notice, page[:3000]
    assert "contains contact details (a phone number)" in notice.group(1)
    assert "NOT Listed" in notice.group(1) and "contact section" in notice.group(1)
    assert f"<mark>{PHONE}<span" in page
    assert 'data-status="not_listed"' in page
    assert company_names(await visitor.page("/directory")) == []
    assert (await visitor.get("/directory/amina")).status == 404
    settings = await amina.page("/settings/profile")
    assert "NOT Listed" in settings and "a phone number" in settings  # status and reason

    await save(amina, f"/listings/products/{product_id}", {
        "name": "Cashew W320", "description": "Ask us for prices through TradeMail.",
        "category": "agriculture"})
    page = await amina.page("/listings")
    assert 'data-status="active"' in page and "<mark>" not in page
    assert company_names(await visitor.page("/directory")) == ["Amina Trading Ltd"]


async def test_a_refused_listing_form_keeps_what_was_typed(client: Any, browsers: Any) -> None:
    amina = await member(client, browsers, "amina")
    page = await save(amina, "/listings/products", {
        "name": "", "description": "Fine sesame <b>seeds</b>", "category": "agriculture"},
        status=422)
    assert 'id="pn-name-error"' in page and 'href="#pn-name"' in page
    assert "Fine sesame &lt;b&gt;seeds&lt;/b&gt;</textarea>" in page
    assert '<option value="agriculture" selected>' in page
    page = await save(amina, "/listings/products", {
        "name": "Sesame", "description": "", "category": "weapons"}, status=422)
    assert 'id="pn-category-error"' in page and 'value="Sesame"' in page
    page = await save(amina, "/listings/leads", {
        "kind": "buy", "title": "Sesame", "category": "agriculture", "quantity": "",
        "description": "", "expires_in_days": "999"}, status=422)
    assert 'id="ln-expires_in_days-error"' in page and "1 to 365 days" in page
    page = await save(amina, "/listings/profile", {
        "about": "We press oil.", "business_type": "manufacturer", "phone": "call me",
        "website": "", "address": "", "messengers": ""}, status=422)
    assert 'id="pf-phone-error"' in page and "We press oil.</textarea>" in page
    page = await save(amina, "/listings/profile", {
        "about": "We press oil.", "business_type": "manufacturer", "phone": "",
        "website": "", "address": "", "messengers": "amina@real-amina.example"}, status=422)
    assert 'id="pf-messengers-error"' in page and "may not carry an email address" in page


async def test_listings_are_edited_and_removed(client: Any, browsers: Any) -> None:
    amina = await member(client, browsers, "amina")
    page = await save(amina, "/listings/leads", {
        "kind": "buy", "title": "Sesame wanted", "category": "agriculture",
        "quantity": "5 t", "description": "Hulled.", "expires_in_days": "10"})
    assert '<span>Saved.</span>' in page and "Sesame wanted" in page
    lead_id = re.search(r'id="lead-([0-9a-f]{32})"', page).group(1)  # type: ignore[union-attr]
    assert f'id="l-{lead_id}-expires_in_days"' in page and 'value="10"' in page
    await save(amina, f"/listings/leads/{lead_id}", {
        "kind": "sell", "title": "Sesame for sale", "category": "agriculture",
        "quantity": "5 t", "description": "Hulled.", "expires_in_days": "20"})
    page = await amina.page("/listings")
    assert "Sesame for sale" in page and "Sesame wanted" not in page and 'value="20"' in page
    resp = await amina.post(f"/listings/leads/{lead_id}/delete", {}, form_page="/listings")
    assert resp.status == 303
    page = await amina.page("/listings")
    assert "Removed from your listings" in page and "Sesame for sale" not in page
    resp = await amina.post(f"/listings/leads/{lead_id}/delete", {}, form_page="/listings")
    assert resp.status == 404


# ---------------------------------------------------------------- contact sections


async def test_contact_sections_need_sign_in_a_form_token_and_are_capped(
        client: Any, browsers: Any) -> None:
    aliases = {}
    for name in ("amina", "carla", "dora"):
        seller = await member(client, browsers, name)
        aliases[name] = alias_of(await seller.page("/settings/aliases"))
        await save(seller, "/listings/profile", {
            "about": "Spices.", "business_type": "distributor", "phone": PHONE,
            "website": f"{name}.example", "address": "Plot 4, Mombasa Road, Nairobi",
            "messengers": f"WeChat {name}_trade"})
    visitor = browsers()
    resp = await visitor.post("/directory/amina/contact", {}, csrf="")
    assert resp.status == 303 and resp.headers["Location"].startswith("/signin")

    bako = await member(client, browsers, "bako")
    page = await bako.page("/directory/amina")
    assert "Show contact details" in page and PHONE not in page
    for csrf in ("", "forged"):
        assert (await bako.post("/directory/amina/contact", {}, csrf=csrf)).status == 403
    resp = await bako.post("/directory/amina/contact", {}, csrf=csrf_of(page))
    text = await resp.text()
    assert resp.status == 200 and PHONE in text and "Plot 4, Mombasa Road" in text
    assert 'href="https://amina.example"' in text and "WeChat amina_trade" in text
    assert aliases["amina"] in text
    resp = await bako.post("/directory/carla/contact", {}, csrf=csrf_of(page))
    assert resp.status == 200
    resp = await bako.post("/directory/dora/contact", {}, csrf=csrf_of(page))
    text = html.unescape(await resp.text())
    assert resp.status == 429 and PHONE not in text
    assert f"You can open {CONTACT_VIEWS_PER_DAY} members' contact sections a day" in text
    # A member already opened today does not count again.
    resp = await bako.post("/directory/amina/contact", {}, csrf=csrf_of(page))
    assert resp.status == 200

    unconfirmed = await member(client, browsers, "emeka", confirmed=False)
    page = await unconfirmed.page("/directory/amina")
    resp = await unconfirmed.post("/directory/amina/contact", {}, csrf=csrf_of(page))
    text = await resp.text()
    assert resp.status == 403 and PHONE not in text
    assert "shown to members in good standing with a confirmed address" in text


# ---------------------------------------------------------------- blocks and reports


async def test_blocks_from_settings_refuse_or_file_away(client: Any, browsers: Any) -> None:
    amina = await member(client, browsers, "amina")
    bako = await member(client, browsers, "bako")
    carla = await member(client, browsers, "carla")
    resp = await amina.post("/settings/blocks", {"who": "bako", "mode": "refuse"},
                            form_page="/settings/blocks")
    assert (resp.status, resp.headers["Location"]) == (303, "/settings/blocks")
    page = await amina.page("/settings/blocks")
    assert "their messages are refused" in page and "<td>bako" in page
    block_id = re.search(r'/settings/blocks/([0-9a-f]{32})/remove', page).group(1)  # type: ignore[union-attr]

    compose = await bako.page("/compose?to=amina")
    resp = await bako.post("/compose", {"to": "amina", "subject": "Hello", "body": "Hi",
                                        "idempotency_key": "k1"}, csrf=csrf_of(compose))
    text = await resp.text()
    assert resp.status == 422 and 'id="f-to-error"' in text
    assert "does not accept your messages" in text

    resp = await amina.post("/settings/blocks", {"who": "nobody-here", "mode": "refuse"},
                            form_page="/settings/blocks")
    assert resp.status == 422 and 'id="b-who-error"' in await resp.text()
    resp = await amina.post(f"/settings/blocks/{block_id}/remove", {}, form_page="/settings/blocks")
    assert resp.status == 303
    assert "reach your inbox again" in await amina.page("/settings/blocks")
    before = await outbox_rows(client, "amina")
    await bako.send("amina", "Hello again", "Hi")
    assert await outbox_rows(client, "amina") == before + 1  # notified, as usual

    resp = await amina.post("/settings/blocks", {"who": "carla", "mode": "file"},
                            form_page="/settings/blocks")
    assert resp.status == 303
    assert "filed away silently" in await amina.page("/settings/blocks")
    before = await outbox_rows(client, "amina")
    await carla.send("amina", "Special offer", "Buy now")
    assert "Special offer" in await amina.page("/archive")
    assert "Special offer" not in await amina.page("/inbox")
    assert await outbox_rows(client, "amina") == before  # no notification


async def test_a_member_reports_a_conversation_and_blocks_its_sender(
        client: Any, browsers: Any) -> None:
    amina = await member(client, browsers, "amina")
    bako = await member(client, browsers, "bako")
    await bako.send("amina", "Advance fee", "Send 500 USD first")
    message_id = MESSAGE_LINK.search(await amina.page("/inbox")).group(1)  # type: ignore[union-attr]
    sent_id = MESSAGE_LINK.search(await bako.page("/sent")).group(1)  # type: ignore[union-attr]
    assert "Report conversation" not in await bako.page(f"/messages/{sent_id}")
    page = await amina.page(f"/messages/{message_id}")
    assert "Report conversation" in page and "Block sender" in page

    resp = await amina.post(f"/messages/{message_id}/report", {"reason": "x"},
                            csrf=csrf_of(page))
    assert resp.status == 422 and 'id="r-reason-error"' in await resp.text()
    resp = await amina.post(f"/messages/{message_id}/report",
                            {"reason": "Asks for money up front"}, csrf=csrf_of(page))
    assert (resp.status, resp.headers["Location"]) == (303, f"/messages/{message_id}")
    assert "reported to TradeStaff" in await amina.page(f"/messages/{message_id}")
    resp = await amina.post(f"/messages/{message_id}/report", {"reason": "Again"},
                            csrf=csrf_of(page))
    assert resp.status == 422 and "reported this conversation already" in await resp.text()
    resp = await amina.post(f"/messages/{'0' * 32}/report", {"reason": "Not mine"},
                            csrf=csrf_of(page))
    assert resp.status == 404

    resp = await amina.post(f"/messages/{message_id}/block", {"mode": "refuse"},
                            csrf=csrf_of(page))
    assert resp.status == 303
    assert "their messages are refused" in await amina.page(f"/messages/{message_id}")
    assert "<td>bako" in await amina.page("/settings/blocks")


# ---------------------------------------------------------------- sending limits


async def test_a_sending_limit_is_shown_as_the_form_error(client: Any, browsers: Any) -> None:
    bako = await member(client, browsers, "bako")
    for name in ("amina", "carla", "dora", "emeka"):
        await member(client, browsers, name)
    for name in ("amina", "carla", "dora"):
        await bako.send(name, "Offer", "Sesame")
    compose = await bako.page("/compose")
    resp = await bako.post("/compose", {"to": "emeka", "subject": "Offer", "body": "Sesame",
                                        "idempotency_key": "k-limit"}, csrf=csrf_of(compose))
    text = await resp.text()
    assert resp.status == 429
    assert "You can write to 3 new members a day; try again later." in text
    assert "too many failed attempts" not in text.lower()
    assert 'value="emeka"' in text  # what was typed is kept
