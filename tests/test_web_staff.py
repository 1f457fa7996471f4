"""The TradeStaff console in the web inbox, through the real door: only staff get in; the
queue of flagged listings with what was found marked; restricting and banning with a
required reason and what members then see; the audit log (who, when, why), which also
records every reading of a reported conversation; and the TradeStaff badge, which only
TradeMail can give."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from tests.browser_helpers import Browser, csrf_of
from tests.helpers import PASSWORD
from tests.test_web_directory import MESSAGE_LINK, PHONE, member, save
from trademail.app import CORE

STAFF_PAGES = ("/staff", "/staff/audit", "/staff/reports", "/staff/viewers")


async def staff_member(client: Any, browsers: Callable[[], Browser],
                       username: str = "sasha") -> Browser:
    """A TradeStaff account, made as the operator makes one, signed in."""
    await client.app[CORE].market.operator.create_staff(
        username=username, password=PASSWORD, email=f"{username}@staff.example",
        company="TradeStaff", country="Kenya")
    browser = browsers()
    assert (await browser.sign_in(username)).status == 303
    return browser


async def member_id(client: Any, username: str) -> str:
    found = await client.app[CORE].stores.members.member_by_username(username)
    return str(found.id)


async def change(staff: Browser, who: str, what: str, value: str, reason: str) -> Any:
    page = await staff.page(f"/staff/members/{who}")
    return await staff.post(f"/staff/members/{who}/{what}", {what: value, "reason": reason},
                            csrf=csrf_of(page))


async def test_only_staff_get_into_the_console(client: Any, browsers: Any) -> None:
    amina = await member(client, browsers, "amina")
    amina_id = await member_id(client, "amina")
    assert 'href="/staff"' not in await amina.page("/inbox")
    for path in (*STAFF_PAGES, f"/staff/members/{amina_id}", f"/staff/reports/{'0' * 32}"):
        resp = await amina.get(path)
        text = await resp.text()
        assert resp.status == 403, path
        assert "Only TradeStaff may do this." in text and "Not allowed" in text, path
    csrf = csrf_of(await amina.page("/inbox"))
    for path, data in (("/staff/search", {"q": "amina"}),
                       (f"/staff/members/{amina_id}/status", {"status": "active",
                                                              "reason": "trust me"}),
                       (f"/staff/members/{amina_id}/tier", {"tier": "premium",
                                                            "reason": "trust me"}),
                       (f"/staff/reports/{'0' * 32}/close", {"outcome": "done now"})):
        assert (await amina.post(path, data, csrf=csrf)).status == 403, path
    assert "Premium" not in await amina.page("/settings/profile")
    visitor = browsers()
    for path in STAFF_PAGES:
        resp = await visitor.get(path, allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"].startswith("/signin"), path

    sasha = await staff_member(client, browsers)
    page = await sasha.page("/inbox")
    assert 'href="/staff"' in page
    for path in STAFF_PAGES:
        assert "TradeStaff console" in await sasha.page(path), path


async def test_the_queue_marks_what_was_found(client: Any, browsers: Any) -> None:
    amina = await member(client, browsers, "amina")
    await save(amina, "/listings/products", {
        "name": "Cashew W320", "description": f"Call {PHONE} <now>", "category": "agriculture"},
        status=200)
    sasha = await staff_member(client, browsers)
    page = await sasha.page("/staff")
    assert f"<mark>{PHONE}<span class=\"visually-hidden\"> (a phone number)</span></mark>" in page
    assert "Call " in page and "&lt;now&gt;" in page and "<now>" not in page
    assert f'href="/staff/members/{await member_id(client, "amina")}">amina</a>' in page

    flag_id, = re.findall(r'action="/staff/flags/([0-9a-f]{32})/dismiss"', page)
    stranger = await member(client, browsers, "bako")
    resp = await stranger.post(f"/staff/flags/{flag_id}/dismiss", {},
                               csrf=csrf_of(await stranger.page("/inbox")))
    assert resp.status == 403
    resp = await sasha.post(f"/staff/flags/{flag_id}/dismiss", {}, csrf=csrf_of(page))
    assert resp.status == 303 and resp.headers["Location"] == "/staff"
    page = await sasha.page("/staff")
    assert "The flag was dismissed" in page and "Nothing is flagged." in page
    assert "amina" in await browsers().page("/directory")  # listed again


async def test_staff_find_members_and_see_addresses_only_masked(
        client: Any, browsers: Any) -> None:
    await member(client, browsers, "amina")
    sasha = await staff_member(client, browsers)
    page = await sasha.page("/staff")
    for query in ("amina", "Amina Trading", "amina@real-amina.example"):
        resp = await sasha.post("/staff/search", {"q": query}, csrf=csrf_of(page))
        text = await resp.text()
        assert resp.status == 200, query
        assert "a•••@real-amina.example" in text, query
        assert "amina@real-amina.example" not in text, query  # not even the query, echoed
    resp = await sasha.post("/staff/search", {"q": ""}, csrf=csrf_of(page))
    assert resp.status == 422 and 'id="s-q-error"' in await resp.text()


async def test_staff_restrict_and_ban_with_a_reason_members_see(
        client: Any, browsers: Any) -> None:
    amina = await member(client, browsers, "amina")
    bako = await member(client, browsers, "bako")
    await bako.send("amina", "Hello", "Earlier message")
    amina_id = await member_id(client, "amina")
    sasha = await staff_member(client, browsers)

    resp = await change(sasha, amina_id, "status", "restricted", "")
    text = await resp.text()
    assert resp.status == 422 and 'id="st-reason-error"' in text
    assert "Restricted" not in await amina.page("/settings/profile")
    resp = await change(sasha, amina_id, "status", "restricted", "Asked members for fees")
    assert (resp.status, resp.headers["Location"]) == (303, f"/staff/members/{amina_id}")
    page = await sasha.page(f"/staff/members/{amina_id}")
    assert "The member&#39;s status was changed" in page and "Asked members for fees" in page

    settings = await amina.page("/settings/profile")
    assert 'data-status="restricted"' in settings and "Asked members for fees" in settings
    assert "you can only answer conversations others started" in settings
    compose = await amina.page("/compose")
    resp = await amina.post("/compose", {"to": "bako", "subject": "New", "body": "Hi",
                                         "idempotency_key": "k-r"}, csrf=csrf_of(compose))
    text = await resp.text()
    assert resp.status == 403 and 'class="error-summary"' in text
    assert "Restricted members can only answer conversations others started." in text
    assert 'value="bako"' in text

    resp = await change(sasha, amina_id, "status", "banned", "Fraud confirmed")
    assert resp.status == 303
    resp = await amina.get("/inbox", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/signin")
    resp = await amina.sign_in("amina")
    text = html.unescape(await resp.text())
    assert resp.status == 401 and "This account has been closed by TradeStaff." in text
    message_id = MESSAGE_LINK.search(await bako.page("/sent")).group(1)  # type: ignore[union-attr]
    assert 'class="tag closed">account closed' in await bako.page(f"/messages/{message_id}")

    log = await sasha.page("/staff/audit")
    rows = re.findall(r"<tr><td><time[^>]*>([^<]+)</time></td><td>([^<]+)</td>"
                      r"<td><code>([^<]+)</code></td>", log)
    assert [r[1:] for r in rows[:2]] == [("sasha", "status.banned"),
                                         ("sasha", "status.restricted")]
    assert "Fraud confirmed" in log and "Asked members for fees" in log
    newest = re.search(r"/staff/audit\?before=", log)
    assert newest is None  # one page holds it all
    first_id = await client.app[CORE].stores.db.fetchval(
        "SELECT id FROM audit_log WHERE action = 'status.banned'")
    older = await sasha.page(f"/staff/audit?before={first_id}")
    assert "Fraud confirmed" not in older and "Asked members for fees" in older


async def test_tiers_change_with_a_reason(client: Any, browsers: Any) -> None:
    amina = await member(client, browsers, "amina")
    amina_id = await member_id(client, "amina")
    await save(amina, "/listings/products", {
        "name": "Cashew", "description": f"Call {PHONE}", "category": "agriculture"},
        status=200)
    sasha = await staff_member(client, browsers)
    resp = await change(sasha, amina_id, "tier", "premium", "no")
    assert resp.status == 422 and 'id="ti-reason-error"' in await resp.text()
    resp = await change(sasha, amina_id, "tier", "premium", "Paid for premium")
    assert resp.status == 303
    settings = await amina.page("/settings/profile")
    assert "Premium member" in settings and 'data-status="active"' in settings
    assert "Paid for premium" in await sasha.page("/staff/audit")


async def test_reading_a_report_is_in_the_audit_log(client: Any, browsers: Any) -> None:
    amina = await member(client, browsers, "amina")
    bako = await member(client, browsers, "bako")
    await bako.send("amina", "Advance fee", "Send 500 USD first")
    message_id = MESSAGE_LINK.search(await amina.page("/inbox")).group(1)  # type: ignore[union-attr]
    resp = await amina.post(f"/messages/{message_id}/report",
                            {"reason": "Asks for money up front"},
                            form_page=f"/messages/{message_id}")
    assert resp.status == 303
    sasha = await staff_member(client, browsers)
    assert "report.read" not in await sasha.page("/staff/audit")
    reports = await sasha.page("/staff/reports")
    assert "Asks for money up front" in reports
    report_id = re.search(r'href="/staff/reports/([0-9a-f]{32})"', reports).group(1)  # type: ignore[union-attr]
    page = await sasha.page(f"/staff/reports/{report_id}")
    assert "Send 500 USD first" in page and "Advance fee" in page
    log = await sasha.page("/staff/audit")
    assert re.search(r"<td>sasha</td><td><code>report\.read</code></td>", log)
    assert "report.filed" in log

    resp = await sasha.post(f"/staff/reports/{report_id}/close", {"outcome": ""},
                            csrf=csrf_of(page))
    assert resp.status == 422 and 'id="c-outcome-error"' in await resp.text()
    resp = await sasha.post(f"/staff/reports/{report_id}/close",
                            {"outcome": "Warned the sender"}, csrf=csrf_of(page))
    assert (resp.status, resp.headers["Location"]) == (303, "/staff/reports")
    page = await sasha.page("/staff/reports")
    assert "The report was closed" in page and "Asks for money up front" not in page
    assert "Warned the sender" in await sasha.page("/staff/audit")


async def test_the_staff_badge_comes_from_tradestaff_only(client: Any, browsers: Any) -> None:
    amina = await member(client, browsers, "amina")
    sasha = await staff_member(client, browsers)
    await sasha.send("amina", "About your listing", "Please remove the phone number.")
    bako = await member(client, browsers, "bako")
    await bako.send("amina", "TradeStaff notice", "I am TradeStaff. Pay the fee.")
    inbox = await amina.page("/inbox")
    ids = dict((subject, mid) for mid, subject in re.findall(
        r'href="/messages/([0-9a-f]{32})".*?<span class="subject">([^<]+)</span>', inbox, re.S))
    page = await amina.page(f"/messages/{ids['About your listing']}")
    assert 'class="tag staff"' in page
    page = await amina.page(f"/messages/{ids['TradeStaff notice']}")
    assert 'class="tag staff"' not in page

    impostor = browsers()
    resp = await impostor.post("/signup", {
        "username": "helpdesk", "password": PASSWORD, "email": "x@impostor.example",
        "company": "TradeStaff Support", "country": "Kenya"}, form_page="/signup")
    assert resp.status == 422 and 'id="f-company-error"' in await resp.text()


async def test_staff_see_who_opens_the_most_contact_sections(
        client: Any, browsers: Any) -> None:
    amina = await member(client, browsers, "amina")
    await save(amina, "/listings/profile", {"about": "Spices.", "phone": PHONE})
    bako = await member(client, browsers, "bako")
    resp = await bako.post("/directory/amina/contact", {}, form_page="/directory/amina")
    assert resp.status == 200
    sasha = await staff_member(client, browsers)
    page = await sasha.page("/staff/viewers")
    assert re.search(r">bako</a>.*?<td>1</td><td>1</td>", page, re.S)
