"""Settings in the web inbox: an overview, and a page per section (password, real address
confirmed by mail, aliases, notifications and bounces, API tokens, sessions), each form
coming back to its own page; and that no page ever shows a real address."""

from __future__ import annotations

import email
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest

from tests.browser_helpers import Browser, csrf_of
from tests.helpers import PASSWORD, link_token
from trademail.app import CORE, Core, create_app, open_core
from trademail.appkeys import NOTIFICATIONS, SMTP_GATEWAY
from trademail.config import Config
from trademail.services.delivery import OutboundMail
from trademail.services.notices import NOTICE_TEXT
from trademail.services.tokens import SCOPES
from trademail.testing import FakeClock
from trademail.web.render import SCOPE_LABELS
from trademail.web.settings import SECTIONS

NEW_PASSWORD = "lantern harbour spice ledger"
SECTION_URLS = [section.url for section in SECTIONS.values()]
_NAV = re.compile(r'<nav class="settings-nav".*?</nav>', re.S)


def current_section(page: str) -> str:
    """The one page the settings navigation marks as this one."""
    nav = _NAV.search(page)
    assert nav, "no settings navigation on the page"
    (href,) = re.findall(r'<a href="([^"]+)" aria-current="page">', nav.group(0))
    return href


@pytest.fixture
async def core(config: Config, clock: FakeClock) -> AsyncIterator[Core]:
    """The services without the relay, so tests can open queued mail themselves."""
    core = await open_core(config, clock)
    yield core
    await core.close()


@pytest.fixture
async def web(aiohttp_client: Any, config: Config, core: Core) -> Any:
    return await aiohttp_client(create_app(config, core))


@pytest.fixture
async def browsers(web: Any) -> AsyncIterator[Any]:
    made: list[Browser] = []

    def make() -> Browser:
        made.append(Browser(web))
        return made[-1]

    yield make
    for browser in made:
        await browser.close()


async def queued_mail(core: Core, clock: FakeClock) -> list[email.message.Message]:
    rows = await core.stores.outbox.claim_outbox(clock.now(), 60, 100)
    out = []
    for row in rows:
        delivery = core.outbox.open(row)
        if isinstance(delivery, OutboundMail):
            out.append(email.message_from_bytes(delivery.data))
    return out


def text_of(mail: email.message.Message) -> str:
    body = mail.get_payload(decode=True)
    assert isinstance(body, bytes)
    return body.decode()


async def confirm_sign_up(browser: Browser, core: Core, clock: FakeClock) -> None:
    """Follow the link the sign-up mailed, as its owner would."""
    (mail,) = [m for m in await queued_mail(core, clock) if "/signup/confirm" in text_of(m)]
    token = link_token(text_of(mail), "/signup/confirm")
    page = await browser.page(f"/signup/confirm?token={token}")
    resp = await browser.post("/signup/confirm", {"token": token}, csrf=csrf_of(page))
    assert resp.status == 200 and "Your address is confirmed" in await resp.text()


# ---------------------------------------------------------------- the pages

# What only each section's page holds: its forms, or what it alone lists.
SECTION_MARKS = {
    "/settings/profile": 'data-status="active"',
    "/settings/security": 'action="/settings/password"',
    "/settings/two-step": 'action="/settings/totp"',
    "/settings/aliases": 'action="/settings/aliases/new"',
    "/settings/notifications": 'action="/settings/notify"',
    "/settings/blocks": 'action="/settings/blocks"',
    "/settings/signature": 'action="/settings/signature"',
    "/settings/tokens": 'action="/settings/tokens"',
    "/settings/sessions": '<ul class="sessions">',
    "/settings/activity": '<div class="setting" id="activity">',
    "/settings/delete": 'action="/settings/delete"',
}


async def test_the_overview_links_every_section_and_says_how_things_stand(
        browsers: Any) -> None:
    amina = browsers()
    await amina.sign_up("amina")
    page = await amina.page("/settings")
    assert 'class="settings-nav"' not in page  # the overview is the list of sections
    assert set(SECTION_MARKS) == set(SECTION_URLS)
    for url in SECTION_URLS:
        assert f'<h2><a href="{url}">' in page, url
        assert SECTION_MARKS[url] not in page, url  # the overview holds no section's forms
    glance = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    for fact in ("Standing: Active", "Mail goes to a•••@real-amina.example not confirmed",
                 "1 alias, 1 active", "A short notice sending", "You block nobody",
                 "No tokens", "Signed in on 1 browser", "Off Your password alone signs you in"):
        assert fact in glance, fact
    assert "<title>Settings" in page


async def test_each_section_has_its_own_page_marked_in_the_navigation(browsers: Any) -> None:
    amina = browsers()
    await amina.sign_up("amina")
    for url, title in zip(SECTION_URLS, (s.title for s in SECTIONS.values()), strict=True):
        page = await amina.page(url)
        assert current_section(page) == url
        assert f"<h1>{title}</h1>" in page and f"<title>{title} · Settings" in page
        assert SECTION_MARKS[url] in page, url
        for other, mark in SECTION_MARKS.items():
            assert other == url or mark not in page, (url, other)
        # Every section is one link away, and the way back to the overview too.
        nav = _NAV.search(page).group(0)  # type: ignore[union-attr]
        assert all(f'href="{u}"' in nav for u in SECTION_URLS)
        assert '<p class="crumb"><a href="/settings">Settings</a></p>' in page
    assert (await amina.get("/settings/nope")).status == 404


async def test_a_section_page_is_for_members_only_and_comes_back_after_sign_in(
        browsers: Any) -> None:
    amina = browsers()
    await amina.sign_up("amina")
    await amina.post("/signout", {}, form_page="/inbox")
    resp = await amina.get("/settings/tokens", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/signin")
    resp = await amina.sign_in("amina", next_path="/settings/tokens")
    assert resp.headers["Location"] == "/settings/tokens"


async def test_a_refused_password_change_shows_its_error_on_the_security_page(
        browsers: Any) -> None:
    amina = browsers()
    await amina.sign_up("amina")
    page = await amina.page("/settings/security")
    resp = await amina.post("/settings/password", {
        "current_password": PASSWORD, "new_password": "short"}, csrf=csrf_of(page))
    text = await resp.text()
    assert resp.status == 422 and current_section(text) == "/settings/security"
    # The error is beside the new password field, and the summary links to it.
    assert re.search(r'<p class="field-error" id="f-new_password-error">.*?</p>\s*'
                     r'<input id="f-new_password"', text, re.S)
    assert 'href="#f-new_password"' in text and 'aria-invalid="true"' in text
    assert 'id="f-email-error"' not in text  # the address form on the page is untouched
    assert 'action="/settings/email"' in text and 'name="csrf"' in text


# ---------------------------------------------------------------- password


async def test_password_change_needs_the_current_one_and_ends_other_sessions(
        browsers: Any) -> None:
    here, elsewhere = browsers(), browsers()
    await here.sign_up("amina")
    assert (await elsewhere.sign_in("amina")).status == 303
    page = await here.page("/settings/security")
    resp = await here.post("/settings/password", {
        "current_password": "wrong wrong wrong wrong", "new_password": NEW_PASSWORD},
        csrf=csrf_of(page))
    text = await resp.text()
    assert resp.status == 422 and 'id="f-current_password-error"' in text
    assert "is not your current password" in text
    resp = await here.post("/settings/password", {
        "current_password": PASSWORD, "new_password": "password123"}, csrf=csrf_of(page))
    assert resp.status == 422 and 'id="f-new_password-error"' in await resp.text()
    assert (await elsewhere.get("/inbox", allow_redirects=False)).status == 200

    resp = await here.post("/settings/password", {
        "current_password": PASSWORD, "new_password": NEW_PASSWORD}, csrf=csrf_of(page))
    assert (resp.status, resp.headers["Location"]) == (303, "/settings/security")
    assert "Every other session has been signed out" in await here.page("/settings/security")
    resp = await elsewhere.get("/inbox", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/signin")
    third = browsers()
    assert (await third.sign_in("amina", PASSWORD)).status == 401
    assert (await third.sign_in("amina", NEW_PASSWORD)).status == 303


# ---------------------------------------------------------------- real address


async def test_email_change_needs_the_password_and_a_confirmation_by_mail(
        browsers: Any, core: Core, clock: FakeClock) -> None:
    amina = browsers()
    await amina.sign_up("amina")  # amina@real-amina.example
    await confirm_sign_up(amina, core, clock)
    page = await amina.page("/settings/security")
    assert "a•••@real-amina.example" in page
    resp = await amina.post("/settings/email", {
        "email": "amina.new@fresh-mail.example", "password": "not my password at all"},
        csrf=csrf_of(page))
    text = await resp.text()
    assert resp.status == 422 and 'id="f-password-error"' in text
    assert "fresh-mail" not in text
    assert await queued_mail(core, clock) == []

    resp = await amina.post("/settings/email", {
        "email": "amina.new@fresh-mail.example", "password": PASSWORD}, csrf=csrf_of(page))
    text = await resp.text()
    assert resp.status == 200
    assert "a•••@fresh-mail.example" in text and "amina.new@" not in text
    assert "a•••@real-amina.example" in text  # not changed yet
    # The pending address is sealed at rest, like members.email_ct.
    row = await core.stores.db.fetchrow("SELECT email_ct FROM email_changes")
    assert b"fresh-mail" not in bytes(row["email_ct"])

    (mail,) = await queued_mail(core, clock)
    assert mail["To"] == "amina.new@fresh-mail.example"
    link = re.search(r"http://\S+/settings/email/confirm\?token=(\S+)", text_of(mail))
    assert link
    page = await amina.page(f"/settings/email/confirm?token={link.group(1)}")
    assert "Confirm new address" in page
    # Another member cannot use the link.
    carla = browsers()
    await carla.sign_up("carla")
    resp = await carla.post("/settings/email/confirm", {"token": link.group(1)},
                            form_page=f"/settings/email/confirm?token={link.group(1)}")
    assert resp.status == 422
    resp = await amina.post("/settings/email/confirm", {"token": link.group(1)},
                            csrf=csrf_of(page))
    assert (resp.status, resp.headers["Location"]) == (303, "/settings/security")
    page = await amina.page("/settings/security")
    assert "a•••@fresh-mail.example" in page and "real-amina" not in page
    assert "Your address was changed" in page
    notices = [m for m in await queued_mail(core, clock) if m["To"] == "amina@real-amina.example"]
    assert notices and "changed" in notices[0]["Subject"]
    assert "fresh-mail" not in text_of(notices[0])
    # The link works once.
    resp = await amina.post("/settings/email/confirm", {"token": link.group(1)},
                            csrf=csrf_of(page))
    assert resp.status == 422


async def test_email_change_link_expires_and_can_be_cancelled(
        browsers: Any, core: Core, clock: FakeClock) -> None:
    amina = browsers()
    await amina.sign_up("amina")
    page = await amina.page("/settings/security")
    await amina.post("/settings/email", {"email": "x@fresh.example", "password": PASSWORD},
                     csrf=csrf_of(page))
    mails = await queued_mail(core, clock)
    token = re.search(r"token=(\S+)", text_of(mails[-1])).group(1)  # type: ignore[union-attr]
    assert "Waiting for confirmation" in await amina.page("/settings/security")
    assert "change waiting for confirmation" in await amina.page("/settings")
    resp = await amina.post("/settings/email/cancel", {}, csrf=csrf_of(page))
    assert (resp.status, resp.headers["Location"]) == (303, "/settings/security")
    page = await amina.page("/settings/security")
    assert "Waiting for confirmation" not in page and "was cancelled" in page
    resp = await amina.post("/settings/email/confirm", {"token": token}, csrf=csrf_of(page))
    assert resp.status == 422
    await amina.post("/settings/email", {"email": "x@fresh.example", "password": PASSWORD},
                     csrf=csrf_of(page))
    token = re.search(r"token=(\S+)",  # type: ignore[union-attr]
                      text_of((await queued_mail(core, clock))[-1])).group(1)
    clock.advance(24 * 3600 + 1)
    await amina.sign_in("amina")
    page = await amina.page("/settings/security")
    resp = await amina.post("/settings/email/confirm", {"token": token}, csrf=csrf_of(page))
    assert resp.status == 422 and "expired" in await resp.text()


async def test_a_taken_address_is_never_claimed_and_the_answer_does_not_say(
        browsers: Any, core: Core, clock: FakeClock) -> None:
    amina, bako = browsers(), browsers()
    await amina.sign_up("amina")
    await bako.sign_up("bako")
    await queued_mail(core, clock)  # amina's link, left unused
    page = await bako.page("/settings/security")
    resp = await bako.post("/settings/confirmation", {}, csrf=csrf_of(page))
    assert (resp.status, resp.headers["Location"]) == (303, "/settings/security")
    assert "We sent a new confirmation link" in await bako.page("/settings/security")
    await confirm_sign_up(bako, core, clock)
    page = await amina.page("/settings/security")
    resp = await amina.post("/settings/email", {"email": "BAKO@real-bako.example",
                                                "password": PASSWORD}, csrf=csrf_of(page))
    text = await resp.text()
    assert resp.status == 200 and "B•••@real-bako.example" in text
    assert "bako@real-bako.example" not in text.lower()
    (mail,) = await queued_mail(core, clock)
    assert mail["To"] == "bako@real-bako.example"
    assert "belongs to your account" in text_of(mail) and "token=" not in text_of(mail)


async def test_email_change_requests_are_rate_limited(browsers: Any) -> None:
    amina = browsers()
    await amina.sign_up("amina")
    statuses = []
    for n in range(7):
        page = await amina.page("/settings/security")
        resp = await amina.post("/settings/email", {"email": f"new{n}@real-new.example",
                                                    "password": PASSWORD}, csrf=csrf_of(page))
        statuses.append(resp.status)
    assert statuses[:5] == [200] * 5 and statuses[5] == 429


# ---------------------------------------------------------------- notifications


async def test_notification_preference(browsers: Any, core: Core) -> None:
    amina = browsers()
    await amina.sign_up("amina")
    page = await amina.page("/settings/notifications")
    assert re.search(r'value="summary" checked', page)
    resp = await amina.post("/settings/notify", {"notify": "full"}, csrf=csrf_of(page))
    assert (resp.status, resp.headers["Location"]) == (303, "/settings/notifications")
    page = await amina.page("/settings/notifications")
    assert re.search(r'value="full" checked', page) and "Notification preference saved" in page
    assert await core.stores.db.fetchval("SELECT notify FROM members") == "full"
    resp = await amina.post("/settings/notify", {"notify": "hourly"}, csrf=csrf_of(page))
    assert resp.status == 422
    assert current_section(await resp.text()) == "/settings/notifications"


# ---------------------------------------------------------------- aliases and bounces


@pytest.fixture
async def app_browsers(client: Any) -> AsyncIterator[Any]:
    """Browsers against the whole server, SMTP gateway included."""
    made: list[Browser] = []

    def make() -> Browser:
        made.append(Browser(client))
        return made[-1]

    yield make
    for browser in made:
        await browser.close()


async def rcpt_reply(client: Any, rcpt: str) -> int:
    """The gateway's answer to RCPT TO:<rcpt> from an outside sender."""
    host, port = client.app[SMTP_GATEWAY].address
    async with aiosmtplib.SMTP(hostname=host, port=port, start_tls=False, timeout=10) as smtp:
        await smtp.ehlo()
        assert (await smtp.execute_command(b"MAIL", b"FROM:<buyer@importer.example>")).code \
            == 250
        return (await smtp.execute_command(b"RCPT", f"TO:<{rcpt}>".encode())).code


async def member_id_of(client: Any, username: str) -> str:
    row = await client.app[CORE].stores.members.member_by_username(username)
    return str(row.id)


async def test_a_disabled_alias_is_refused_at_rcpt_and_the_last_one_stays(
        client: Any, app_browsers: Any, clock: FakeClock) -> None:
    amina = app_browsers()
    await amina.sign_up("amina")
    page = await amina.page("/settings/aliases")
    first = re.search(r'<code class="alias">([^<]+)</code>', page).group(1)  # type: ignore[union-attr]
    # The only alias cannot be disabled: the button is off, and the form is refused too.
    assert "Your only active alias" in page
    resp = await amina.post("/settings/aliases", {"address": first, "enabled": "false"},
                            csrf=csrf_of(page))
    text = await resp.text()
    assert resp.status == 409 and "at least one enabled alias" in text
    assert current_section(text) == "/settings/aliases"
    assert await rcpt_reply(client, first) == 250
    # A second alias, made from the settings page, lets the first one go.
    resp = await amina.post("/settings/aliases/new", {}, csrf=csrf_of(page))
    assert (resp.status, resp.headers["Location"]) == (303, "/settings/aliases")
    page = await amina.page("/settings/aliases")
    assert "A new alias is ready" in page and "Your only active alias" not in page
    second = next(a for a in re.findall(r'<code class="alias">([^<]+)</code>', page)
                  if a != first)
    assert await rcpt_reply(client, second) == 250
    resp = await amina.post("/settings/aliases", {"address": first, "enabled": "false"},
                            csrf=csrf_of(page))
    assert resp.status == 303 and resp.headers["Location"] == "/settings/aliases"
    page = await amina.page("/settings/aliases")
    assert "mail to it is now refused" in page and "Your only active alias" in page
    assert await rcpt_reply(client, first) == 550
    assert await rcpt_reply(client, second) == 250
    resp = await amina.post("/settings/aliases", {"address": second, "enabled": "false"},
                            csrf=csrf_of(page))
    assert resp.status == 409
    assert await rcpt_reply(client, second) == 250
    # Enabled again, it takes mail again.
    resp = await amina.post("/settings/aliases", {"address": first, "enabled": "true"},
                            csrf=csrf_of(page))
    assert resp.status == 303
    assert await rcpt_reply(client, first) == 250


async def test_the_alias_form_needs_the_right_csrf_token_and_the_members_own_alias(
        client: Any, app_browsers: Any) -> None:
    amina, bako = app_browsers(), app_browsers()
    await amina.sign_up("amina")
    await bako.sign_up("bako")
    bako_page = await bako.page("/settings/aliases")
    bako_alias = re.search(r'<code class="alias">([^<]+)</code>', bako_page).group(1)  # type: ignore[union-attr]
    page = await amina.page("/settings/aliases")
    for csrf in ("", "forged-token", csrf_of(bako_page)):
        resp = await amina.post("/settings/aliases", {"address": bako_alias, "enabled": "false"},
                                csrf=csrf)
        assert resp.status == 403 and "That form has expired" in await resp.text()
    resp = await amina.post("/settings/aliases", {"address": bako_alias, "enabled": "false"},
                            csrf=csrf_of(page))
    assert resp.status == 404
    assert await rcpt_reply(client, bako_alias) == 250


async def test_paused_notifications_show_a_banner_and_the_notices_in_settings(
        client: Any, app_browsers: Any, clock: FakeClock) -> None:
    amina = app_browsers()
    await amina.sign_up("amina")
    page = await amina.page("/settings/notifications")
    assert "data-notifications-paused" not in page and "No notices in the last 30 days" in page
    assert "data-notifications-paused" not in await amina.page("/inbox")
    notifications = client.app[NOTIFICATIONS]
    amina_id = await member_id_of(client, "amina")
    for _ in range(3):
        await notifications.notice(amina_id, "hard_bounce")
        clock.advance(60)
    for path in ("/inbox", "/sent", "/archive", "/trash"):
        page = await amina.page(path)
        assert "data-notifications-paused" in page and "are paused" in page, path
    assert "data-glance-paused" in await amina.page("/settings")
    page = await amina.page("/settings/notifications")
    assert "data-notifications-paused" in page and '<span class="tag">paused</span>' in page
    assert re.search(r"<dt>Undelivered today</dt><dd>3</dd>", page)
    assert page.count(NOTICE_TEXT["hard_bounce"]) == 3
    assert "amina@real-amina.example" not in page
    clock.advance(86400)
    assert (await amina.sign_in("amina")).status == 303  # a day idle: signed out meanwhile
    assert "data-notifications-paused" not in await amina.page("/inbox")
    assert "data-glance-paused" not in await amina.page("/settings")
    page = await amina.page("/settings/notifications")
    assert "data-notifications-paused" not in page and "sending" in page
    assert page.count(NOTICE_TEXT["hard_bounce"]) == 3  # still listed: a month of notices


# ---------------------------------------------------------------- API tokens


async def test_api_tokens_shown_once_listed_and_revoked(browsers: Any, web: Any) -> None:
    amina = browsers()
    await amina.sign_up("amina")
    page = await amina.page("/settings/tokens")
    assert "No tokens yet" in page
    resp = await amina.post("/settings/tokens", {
        "name": "Office CRM", "scopes": "messages:read", "expires": "30"}, csrf=csrf_of(page))
    text = await resp.text()
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    secret = re.search(r'value="(tm_[A-Za-z0-9_-]+)"', text)
    assert secret and "Office CRM" in text and current_section(text) == "/settings/tokens"
    api = await web.get("/api/v1/me", headers={"Authorization": f"Bearer {secret.group(1)}"})
    assert api.status == 200
    assert "1 token<" in await amina.page("/settings")
    page = await amina.page("/settings/tokens")
    assert "Office CRM" in page and secret.group(1) not in page
    # Scopes read as what they let a token do, every one of them.
    assert re.search(r"<td[^>]*>Read messages</td>", page) and "messages:read<" not in page
    assert set(SCOPE_LABELS) == set(SCOPES)
    token_id = re.search(r'/settings/tokens/([0-9a-f]{32})/revoke', page)
    assert token_id
    resp = await amina.post(f"/settings/tokens/{token_id.group(1)}/revoke", {},
                            csrf=csrf_of(page))
    assert (resp.status, resp.headers["Location"]) == (303, "/settings/tokens")
    assert "The API token was revoked" in await amina.page("/settings/tokens")
    api = await web.get("/api/v1/me", headers={"Authorization": f"Bearer {secret.group(1)}"})
    assert api.status == 401
    resp = await amina.post("/settings/tokens", {"name": "x", "expires": "30"},
                            csrf=csrf_of(page))
    text = await resp.text()  # no scope chosen: said beside the scopes, on the tokens page
    assert resp.status == 422 and current_section(text) == "/settings/tokens"
    assert re.search(r'<legend>It may</legend>\s*<p class="field-error">', text)


# ---------------------------------------------------------------- sessions


async def test_sessions_are_listed_and_can_be_ended(browsers: Any) -> None:
    laptop, phone, tablet = browsers(), browsers(), browsers()
    await laptop.sign_up("amina")
    for other, agent in ((phone, "Mozilla/5.0 (Linux; Android 14) Chrome/126.0 Mobile"),
                         (tablet, "Mozilla/5.0 (iPad; CPU OS 17_0) Version/17.0 Safari/605")):
        other.session.headers["User-Agent"] = agent
        assert (await other.sign_in("amina")).status == 303
    assert "Signed in on 3 browsers" in await laptop.page("/settings")
    page = await laptop.page("/settings/sessions")
    assert "Chrome on Android" in page and "Safari on iPad" in page
    assert page.count("this browser") == 1
    assert "Last seen just now" in page
    ends = re.findall(r'/settings/sessions/([0-9a-f]{32})/end', page)
    assert len(ends) == 2
    # End the phone's session only (its row is the Android one).
    android = page.index("Chrome on Android")
    target = min(ends, key=lambda sid: abs(page.index(sid) - android))
    resp = await laptop.post(f"/settings/sessions/{target}/end", {}, csrf=csrf_of(page))
    assert (resp.status, resp.headers["Location"]) == (303, "/settings/sessions")
    assert (await phone.get("/inbox", allow_redirects=False)).status == 303
    assert (await tablet.get("/inbox", allow_redirects=False)).status == 200
    page = await laptop.page("/settings/sessions")
    assert "That session was signed out" in page
    resp = await laptop.post("/settings/sessions/end-others", {}, csrf=csrf_of(page))
    assert (resp.status, resp.headers["Location"]) == (303, "/settings/sessions")
    page = await laptop.page("/settings/sessions")
    assert "Sign out everywhere else" not in page and "Every other session" in page
    assert (await tablet.get("/inbox", allow_redirects=False)).status == 303
    assert (await laptop.get("/inbox", allow_redirects=False)).status == 200
    # Another member's session id is not ours to end.
    bako = browsers()
    await bako.sign_up("bako")
    page = await bako.page("/settings/sessions")
    resp = await bako.post(f"/settings/sessions/{target}/end", {}, csrf=csrf_of(page))
    assert resp.status == 404


# ---------------------------------------------------------------- privacy


async def test_no_page_shows_a_real_address(browsers: Any, tmp_path: Path) -> None:
    amina, bako = browsers(), browsers()
    await amina.sign_up("amina")
    await bako.sign_up("bako")
    await amina.send("bako", "Cashew prices", "Can you quote?")
    inbox = await bako.page("/inbox")
    message_id = re.search(r"/messages/([0-9a-f]{32})", inbox).group(1)  # type: ignore[union-attr]
    await bako.post("/compose", {"in_reply_to": message_id, "body": "Yes."},
                    csrf=csrf_of(inbox))
    for browser, other in ((amina, "real-bako"), (bako, "real-amina")):
        for path in ("/inbox", "/sent", "/archive", "/trash", "/settings", *SECTION_URLS,
                     "/compose", "/search?q=cashew", f"/messages/{message_id}", "/nope"):
            resp = await browser.get(path)
            page, headers = await resp.text(), str(resp.headers)
            # Not even one's own address in full; of the other member nothing at all.
            for real in ("amina@real-amina.example", "bako@real-bako.example", other):
                assert real not in page and real not in headers, (path, real)


async def test_aliases_are_capped(client: Any, app_browsers: Any) -> None:
    amina = app_browsers()
    await amina.sign_up("amina")
    statuses = []
    for _ in range(10):
        page = await amina.page("/settings/aliases")
        statuses.append((await amina.post("/settings/aliases/new", {},
                                          csrf=csrf_of(page))).status)
    assert statuses == [303] * 9 + [409]
    assert "10 aliases, 10 active" in await amina.page("/settings")
    page = await amina.page("/settings/aliases")
    assert len(re.findall(r'<code class="alias">', page)) == 10
