"""The web inbox over HTTP (aiohttp's client), on SQLite and on PostgreSQL: sign-up, sign-in,
timed sign-out, CSRF, headers, mail pages, search, pagination and errors."""

from __future__ import annotations

import base64
import html
import json
import mailbox
import re
import tempfile
from collections.abc import Callable
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from aiohttp import FormData

from tests.browser_helpers import Browser, csrf_of
from tests.helpers import PASSWORD, make_config
from trademail.app import CORE, build_app
from trademail.appkeys import SESSIONS
from trademail.services.housekeeping import Housekeeping
from trademail.testing import FakeClock
from trademail.web.request import safe_next

MESSAGE_LINK = re.compile(r'href="/messages/([0-9a-f]{32})"')
THREE_IN_IT = re.compile(r'<span class="visually-hidden">, </span>3<span')  # a list's count


async def two_members(browsers: Callable[[], Browser]) -> tuple[Browser, Browser]:
    amina, bako = browsers(), browsers()
    await amina.sign_up("amina")
    await bako.sign_up("bako")
    return amina, bako


def set_cookie(resp: Any, name: str) -> str:
    """The raw Set-Cookie header for one cookie."""
    for header in resp.headers.getall("Set-Cookie", []):
        if header.startswith(name + "="):
            return str(header)
    raise AssertionError(f"no Set-Cookie for {name}: {resp.headers.getall('Set-Cookie', [])}")


# ---------------------------------------------------------------- signing up, in and out


async def test_root_shows_visitors_what_trademail_is_then_members_their_inbox(
        browsers: Any) -> None:
    browser = browsers()
    resp = await browser.get("/", allow_redirects=False)
    landing = await resp.text()
    assert resp.status == 200 and "Set-Cookie" not in resp.headers  # nothing to remember
    assert "Three promises" in landing and "never published or shown to anyone" in landing
    for link in ('href="/signup"', 'href="/signin"', 'href="/directory"'):
        assert link in landing
    assert "<form" not in landing
    page = await browser.page("/signin")
    assert "staff will never ask for your password" in page
    await browser.sign_up("amina")
    resp = await browser.get("/", allow_redirects=False)
    assert resp.headers["Location"] == "/inbox"
    page = await browser.page("/inbox")
    assert "Welcome to TradeMail" in page and ">Sign out<" in page
    # An empty inbox shows a new member their alias and where to start.
    alias = re.search(r'class="alias">([^<]+)<', page)
    assert alias and alias[1].endswith("@relay.localhost") and "Getting started" in page
    assert 'href="/listings"' in page and 'href="/compose"' in page
    assert "Open the link we mailed you" in page  # the address is not confirmed yet


async def test_every_signed_in_page_has_sign_out(browsers: Any) -> None:
    amina, _ = await two_members(browsers)
    await amina.send("bako", "Hello", "Hi")
    for path in ("/inbox", "/sent", "/archive", "/trash", "/compose", "/search?q=hello",
                 "/settings"):
        page = await amina.page(path)
        assert 'action="/signout"' in page and ">Sign out<" in page, path


async def test_session_cookie_attributes_on_http(client: Any, browsers: Any) -> None:
    browser = browsers()
    resp = await browser.post("/signup", {
        "username": "amina", "password": PASSWORD, "email": "amina@real.example",
        "company": "Amina Co", "country": "Kenya"}, form_page="/signup")
    assert resp.status == 303
    cookie = set_cookie(resp, "tm_session")
    attrs = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "path", "samesite"} <= attrs
    assert "expires" not in attrs and "max-age" not in attrs
    assert "Path=/" in cookie and "SameSite=Lax" in cookie
    assert "secure" not in attrs
    token = cookie.split(";")[0].split("=", 1)[1]
    assert len(token) >= 43  # 256 bits, base64url
    # Only a digest is stored.
    rows = await client.app[CORE].stores.db.fetch(
        "SELECT digest FROM web_sessions")
    assert rows and all(token.encode() not in bytes(r["digest"]) for r in rows)


async def test_https_cookies_are_host_prefixed_and_secure_with_hsts(
        aiohttp_client: Any, tmp_path: Path, store_url: str, clock: FakeClock) -> None:
    config = make_config(tmp_path, store_url, TRADEMAIL_HTTP_PUBLIC_URL="https://mail.example")
    client = await aiohttp_client(await build_app(config, clock))
    resp = await client.get("/signin")
    page = await resp.text()
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
    pre = set_cookie(resp, "__Host-tm_browser")
    assert "Secure" in pre and "Path=/" in pre and "Domain" not in pre
    token = SimpleCookie(pre)["__Host-tm_browser"].value
    resp = await client.post("/signup", data={
        "username": "amina", "password": PASSWORD, "email": "amina@real.example",
        "company": "Amina Co", "country": "Kenya", "csrf": csrf_of(page)},
        cookies={"__Host-tm_browser": token}, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    cookie = set_cookie(resp, "__Host-tm_session")
    assert "Secure" in cookie and "HttpOnly" in cookie and "Path=/" in cookie
    assert "SameSite=Lax" in cookie and "Domain" not in cookie
    assert "Expires" not in cookie and "Max-Age" not in cookie


async def test_wrong_password_keeps_username_and_says_nothing_specific(browsers: Any) -> None:
    amina = browsers()
    await amina.sign_up("amina")
    other = browsers()
    wrong = await other.sign_in("amina", "not the password at all")
    unknown = await other.sign_in("nobody", "not the password at all")
    assert wrong.status == unknown.status == 401
    wrong_text, unknown_text = await wrong.text(), await unknown.text()
    assert "username or password is incorrect" in wrong_text.lower()
    assert 'value="amina"' in wrong_text
    assert "username or password is incorrect" in unknown_text.lower()


async def test_signup_errors_sit_by_their_fields_and_keep_all_but_the_password(
        browsers: Any) -> None:
    browser = browsers()
    resp = await browser.post("/signup", {
        "username": "x", "password": "short-secret-1", "email": "someone@real-example.example",
        "company": "Cashew & <Co>", "country": "K"}, form_page="/signup")
    text = await resp.text()
    assert resp.status == 422
    for field in ("username", "password", "country"):
        assert f'id="f-{field}-error"' in text, field
    assert "Cashew &amp; &lt;Co&gt;" in text
    # What they typed comes back to them, but never the password.
    assert 'value="someone@real-example.example"' in text
    assert "short-secret-1" not in text

    resp = await browser.post("/signup", {
        "username": "amina", "password": "correct horse battery staple",
        "email": "amina.example.com", "company": "Amina Ltd", "country": "Kenya"})
    text = await resp.text()
    assert resp.status == 422 and 'id="f-email-error"' in text
    assert "enter an address like name@company.com (an email address must have an @-sign)" \
        in text


async def test_session_id_changes_at_sign_in(browsers: Any) -> None:
    browser = browsers()
    await browser.sign_up("amina")
    first = browser.cookie("tm_session")
    resp = await browser.sign_in("amina")
    assert resp.status == 303
    second = browser.cookie("tm_session")
    assert first and second and first != second
    stale = browsers()
    stale.session.cookie_jar.update_cookies({"tm_session": first})
    resp = await stale.get("/inbox", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/signin")


async def test_sign_out_deletes_the_session_so_the_old_cookie_is_worthless(
        browsers: Any) -> None:
    browser = browsers()
    await browser.sign_up("amina")
    token = browser.cookie("tm_session")
    resp = await browser.post("/signout", form_page="/inbox")
    assert (resp.status, resp.headers["Location"]) == (303, "/signin?reason=signed-out")
    assert "Max-Age=0" in set_cookie(resp, "tm_session")
    assert "You have signed out" in await browser.page(resp.headers["Location"])
    replay = browsers()
    replay.session.cookie_jar.update_cookies({"tm_session": token})
    resp = await replay.get("/inbox", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/signin"
    assert "timed out" not in await (await replay.get("/signin")).text()


async def test_pages_a_visitor_reads_set_no_cookie(browsers: Any) -> None:
    """Only a form sets one strictly necessary anti-forgery cookie; reading sets none."""
    visitor = browsers()
    for path in ("/", "/nowhere", "/signup/confirm", "/favicon.ico",
                 "/signin?reason=signed-out", "/password/reset?token=" + "x" * 43):
        resp = await visitor.get(path, allow_redirects=False)
        if "form" in (await resp.text()) and 'name="csrf"' in await resp.text():
            continue
        assert resp.headers.getall("Set-Cookie", []) == [], path
    for path in ("/signin", "/signup", "/password/forgot"):
        fresh = browsers()
        resp = await fresh.get(path)
        cookies = resp.headers.getall("Set-Cookie", [])
        assert len(cookies) == 1 and cookies[0].startswith("tm_browser="), (path, cookies)


async def test_signing_in_over_an_ended_session_keeps_the_new_one(browsers: Any) -> None:
    browser = browsers()
    await browser.sign_up("amina")
    await browser.post("/signout", form_page="/inbox")
    browser.session.cookie_jar.update_cookies({"tm_session": "x" * 43})  # ended elsewhere
    resp = await browser.sign_in("amina")
    assert resp.status == 303
    assert "Max-Age=0" not in set_cookie(resp, "tm_session")
    assert (await browser.get("/inbox", allow_redirects=False)).status == 200


async def test_sign_out_only_by_post(browsers: Any) -> None:
    browser = browsers()
    await browser.sign_up("amina")
    resp = await browser.get("/signout", allow_redirects=False)
    assert resp.status == 405
    assert (await browser.get("/inbox", allow_redirects=False)).status == 200


# ---------------------------------------------------------------- timed sign-out


async def test_idle_timeout_lands_on_signin_and_returns_to_the_page(
        browsers: Any, clock: FakeClock, config: Any) -> None:
    browser = browsers()
    await browser.sign_up("amina")
    idle = config.auth.idle_timeout_seconds
    clock.advance(idle - 1)
    assert (await browser.get("/archive", allow_redirects=False)).status == 200
    clock.advance(idle - 1)  # activity moved the deadline
    assert (await browser.get("/archive", allow_redirects=False)).status == 200
    clock.advance(idle)
    resp = await browser.get("/search?q=cashew+price", allow_redirects=False)
    assert resp.status == 303
    location = resp.headers["Location"]
    assert location.startswith("/signin?") and "reason=timeout" in location
    assert "next=%2Fsearch%3Fq%3Dcashew%2Bprice" in location
    page = await browser.page(location)
    assert "Your session timed out" in page
    assert 'name="next" value="/search?q=cashew+price"' in page
    # A stray request (a favicon, another tab) does not use up the explanation.
    await browser.get("/favicon.ico")
    assert "reason=timeout" in (await browser.get("/inbox", allow_redirects=False)) \
        .headers["Location"]
    resp = await browser.post("/signin", {"username": "amina", "password": PASSWORD,
                                          "next": "/search?q=cashew+price"}, csrf=csrf_of(page))
    assert (resp.status, resp.headers["Location"]) == (303, "/search?q=cashew+price")
    assert (await browser.get("/search?q=cashew+price", allow_redirects=False)).status == 200


async def test_absolute_timeout_ends_even_a_busy_session(
        browsers: Any, clock: FakeClock, config: Any) -> None:
    browser = browsers()
    await browser.sign_up("amina")
    step = config.auth.idle_timeout_seconds - 5
    elapsed = 0
    while elapsed + step < config.auth.absolute_timeout_seconds:
        clock.advance(step)
        elapsed += step
        assert (await browser.get("/inbox", allow_redirects=False)).status == 200
    clock.advance(config.auth.absolute_timeout_seconds - elapsed)
    resp = await browser.get("/inbox", allow_redirects=False)
    assert resp.status == 303 and "reason=timeout" in resp.headers["Location"]


async def test_a_live_refresh_does_not_keep_an_idle_session_alive(
        browsers: Any, clock: FakeClock, config: Any) -> None:
    # New mail makes an open inbox reload its list (app.js marks that request): whoever can
    # send mail must not be able to keep an unattended tab signed in.
    amina, bako = await two_members(browsers)
    refresh = {"X-TradeMail-Refresh": "1"}
    clock.advance(config.auth.idle_timeout_seconds - 1)
    assert (await amina.get("/inbox", headers=refresh, allow_redirects=False)).status == 200
    assert (await bako.get("/inbox", allow_redirects=False)).status == 200
    clock.advance(2)  # past the deadline the refresh did not move; the page view moved it
    resp = await amina.get("/inbox", headers=refresh, allow_redirects=False)
    assert resp.status == 303 and "reason=timeout" in resp.headers["Location"]
    assert (await bako.get("/inbox", allow_redirects=False)).status == 200


async def test_unknown_pages_and_refused_forms_are_not_activity(
        browsers: Any, clock: FakeClock, config: Any) -> None:
    browser = browsers()
    await browser.sign_up("amina")
    csrf = csrf_of(await browser.page("/inbox"))
    clock.advance(config.auth.idle_timeout_seconds - 1)
    assert (await browser.get("/no/such/page")).status == 404
    assert (await browser.get("/signout", allow_redirects=False)).status == 405
    assert (await browser.post("/compose", {"to": "x", "body": "y"}, csrf="forged")).status \
        == 403
    resp = await browser.session.post("/session/keepalive", headers={"X-CSRF-Token": "forged"})
    assert resp.status == 403
    clock.advance(2)
    resp = await browser.get("/inbox", allow_redirects=False)
    assert resp.status == 303 and "reason=timeout" in resp.headers["Location"]
    # A form that passes its check is activity, as before.
    await browser.sign_in("amina")
    csrf = csrf_of(await browser.page("/inbox"))
    clock.advance(config.auth.idle_timeout_seconds - 1)
    resp = await browser.session.post("/session/keepalive", headers={"X-CSRF-Token": csrf})
    assert resp.status == 200
    assert (await resp.json())["ends_in"] == config.auth.idle_timeout_seconds
    clock.advance(2)
    assert (await browser.get("/inbox", allow_redirects=False)).status == 200


async def test_housekeeping_forgets_ended_sessions(browsers: Any, client: Any,
                                                  clock: FakeClock, config: Any) -> None:
    amina, bako = await two_members(browsers)
    store = client.app[CORE].stores
    housekeeping = Housekeeping(store, clock, sessions=client.app[SESSIONS],
                                signin_keep_seconds=config.auth.lockout_seconds)
    clock.advance(config.auth.idle_timeout_seconds + 1)  # both idle too long
    await housekeeping.run_once()  # kept a day: each browser can still be told why
    assert await store.db.fetchval("SELECT count(*) FROM web_sessions") == 2
    assert "reason=timeout" in (await amina.get("/inbox", allow_redirects=False)) \
        .headers["Location"]
    clock.advance(86400)
    assert (await bako.sign_in("bako")).status == 303  # a new session
    await housekeeping.run_once()
    assert await store.db.fetchval("SELECT count(*) FROM web_sessions") == 1
    assert (await bako.get("/inbox", allow_redirects=False)).status == 200
    resp = await amina.get("/inbox", allow_redirects=False)
    assert resp.status == 303 and "reason=timeout" not in resp.headers["Location"]


async def test_timed_out_form_post_returns_to_its_page(
        browsers: Any, clock: FakeClock, config: Any) -> None:
    browser = browsers()
    await browser.sign_up("amina")
    page = await browser.page("/compose")
    clock.advance(config.auth.idle_timeout_seconds)
    resp = await browser.post("/compose", {"to": "x", "body": "y"}, csrf=csrf_of(page))
    assert resp.status == 303
    assert resp.headers["Location"] == "/signin?next=%2Fcompose&reason=timeout"


def test_return_path_is_same_site_relative_only() -> None:
    for hostile in ("//evil.example/x", "https://evil.example", "/\\evil.example",
                    "\\\\evil.example", "javascript:alert(1)", "/ok\r\nSet-Cookie: x=1",
                    "http:/evil", "", None, 42, "/signout", "/signin?next=/x",
                    "/%0d%0a", "/\tx", "evil.example/x", "/" + "a" * 3000, "/inbox\x7f",
                    "/inbox\x85", "/inbox\x9f", "/in\x00box", "/inbox\u2028", "/a\\b",
                    "/inbox\u200e"):
        assert safe_next(hostile) == ("/inbox" if hostile != "/%0d%0a" else "/%0d%0a"), hostile
    for fine in ("/inbox", "/messages/0123?x=1#y", "/search?q=a+b&cursor=z", "/settings#email"):
        assert safe_next(fine) == fine


async def test_signin_refuses_an_open_redirect(browsers: Any) -> None:
    browser = browsers()
    await browser.sign_up("amina")
    resp = await browser.sign_in("amina", next_path="//evil.example/phish")
    assert (resp.status, resp.headers["Location"]) == (303, "/inbox")
    for hostile in ("/inbox\x7f", "/inbox\x85", "/inbox\x01"):  # would break the header
        resp = await browser.sign_in("amina", next_path=hostile)
        assert (resp.status, resp.headers["Location"]) == (303, "/inbox"), hostile
    page = await browser.page("/signin?next=https://evil.example")
    assert "evil.example" not in page


# ---------------------------------------------------------------- CSRF


def _state_changing_routes(app: Any) -> list[str]:
    paths = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter", "")
        if route.method in ("POST", "PUT", "PATCH", "DELETE") and not path.startswith("/api/"):
            paths.append(path.replace("{id}", "0" * 32))
    return sorted(set(paths))


async def test_every_state_changing_form_needs_the_right_csrf_token(
        client: Any, browsers: Any) -> None:
    paths = _state_changing_routes(client.app)
    assert {"/signin", "/signup", "/signout", "/compose", "/settings/password",
            "/settings/email", "/settings/notify", "/settings/aliases", "/settings/tokens",
            "/settings/sessions/end-others", "/session/keepalive"} <= set(paths)
    amina, bako = await two_members(browsers)
    bako_csrf = csrf_of(await bako.page("/inbox"))
    for path in paths:
        for csrf in ("", "forged-token", bako_csrf):
            resp = await amina.post(path, {"to": "bako", "body": "x", "username": "amina",
                                           "password": PASSWORD}, csrf=csrf)
            assert resp.status == 403, (path, csrf, resp.status)
            assert "That form has expired" in await resp.text()
    # Nothing happened: Amina is still signed in and Bako got nothing.
    assert (await amina.get("/inbox", allow_redirects=False)).status == 200
    assert not MESSAGE_LINK.search(await bako.page("/inbox"))


async def test_signin_and_signup_forms_need_a_csrf_token_too(browsers: Any) -> None:
    browser = browsers()
    await browser.page("/signin")  # sets the pre-session cookie
    for path in ("/signin", "/signup"):
        resp = await browser.post(path, {"username": "amina", "password": PASSWORD}, csrf="")
        assert resp.status == 403
    stranger = browsers()  # another browser's token does not fit this one
    token = csrf_of(await stranger.page("/signin"))
    resp = await browser.post("/signin", {"username": "amina", "password": PASSWORD},
                              csrf=token)
    assert resp.status == 403


async def test_keepalive_takes_the_token_in_a_header(browsers: Any) -> None:
    browser = browsers()
    await browser.sign_up("amina")
    csrf = csrf_of(await browser.page("/inbox"))
    resp = await browser.session.post("/session/keepalive")
    assert resp.status == 403
    resp = await browser.session.post("/session/keepalive", headers={"X-CSRF-Token": csrf})
    assert resp.status == 200
    assert (await resp.json())["ends_in"] > 0
    anonymous = browsers()
    resp = await anonymous.session.post("/session/keepalive", allow_redirects=False)
    assert resp.status == 401


# ---------------------------------------------------------------- headers


async def test_security_headers_and_no_store(browsers: Any) -> None:
    browser = browsers()
    resp = await browser.get("/signin")
    csp = resp.headers["Content-Security-Policy"]
    for directive in ("default-src 'none'", "script-src 'self'", "object-src 'none'",
                      "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in resp.headers  # http: no HSTS
    await browser.sign_up("amina")
    for path in ("/inbox", "/compose", "/settings", "/nope"):
        resp = await browser.get(path)
        assert resp.headers["Cache-Control"] == "no-store", path
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
        page = await resp.text()
        assert "<script>" not in page and " on" + "click=" not in page
        assert re.search(r"<script[^>]*src=\"/static/app\.js", page)


async def test_api_health_and_streamed_responses_get_their_headers_too(
        client: Any, browsers: Any) -> None:
    resp = await client.get("/api/v1/me")  # refused, as problem+json
    assert resp.status == 401
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["Cache-Control"] == "no-store"
    assert "Content-Security-Policy" not in resp.headers  # a page's header, not the API's
    resp = await client.get("/healthz")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    browser = browsers()
    await browser.sign_up("amina")
    # The live stream is prepared inside its handler: only a response hook reaches it.
    stream = await browser.session.get("/events")
    assert stream.status == 200
    assert stream.headers["X-Content-Type-Options"] == "nosniff"
    assert stream.headers["Referrer-Policy"] == "no-referrer"
    assert stream.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in stream.headers["Content-Security-Policy"]
    stream.close()


async def test_static_files_are_versioned_and_cacheable(browsers: Any) -> None:
    browser = browsers()
    page = await browser.page("/signin")
    href = re.search(r'href="(/static/app\.css\?v=[0-9a-f]+)"', page)
    assert href
    resp = await browser.get(href.group(1))
    assert resp.status == 200 and "immutable" in resp.headers["Cache-Control"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


# ---------------------------------------------------------------- reading and writing


async def test_send_arrives_unread_then_read(browsers: Any) -> None:
    amina, bako = await two_members(browsers)
    resp = await amina.send("bako", "Cashew prices", "Can you quote 20 tonnes?")
    assert resp.headers["Location"] == "/sent"
    assert "Message sent" in await amina.page("/sent")
    inbox = await bako.page("/inbox")
    assert 'class="row unread"' in inbox and "Cashew prices" in inbox
    assert "(1) · TradeMail" in inbox
    message_id = MESSAGE_LINK.search(inbox).group(1)  # type: ignore[union-attr]
    page = await bako.page(f"/messages/{message_id}")
    assert "Can you quote 20 tonnes?" in page and "Amina Trading Ltd" in page
    assert 'class="row unread"' not in await bako.page("/inbox")


async def test_compose_refusal_keeps_what_was_typed(browsers: Any) -> None:
    amina, _ = await two_members(browsers)
    page = await amina.page("/compose")
    resp = await amina.post("/compose", {
        "to": "nobody-here", "subject": "Sesame <offer>",
        "body": "Line one\nLine two with “quotes” & <tags>"}, csrf=csrf_of(page))
    text = await resp.text()
    assert resp.status == 422
    assert 'id="f-to-error"' in text and "nobody-here" in text
    assert 'value="Sesame &lt;offer&gt;"' in text
    assert ">Line one\nLine two with “quotes” &amp; &lt;tags&gt;</textarea>" in text
    assert 'aria-invalid="true"' in text


async def test_hostile_subject_and_body_are_escaped(browsers: Any) -> None:
    amina, bako = await two_members(browsers)
    await amina.send("bako", '<script>alert("s")</script>',
                     '<img src=x onerror=alert(1)>\n"><svg onload=alert(2)>\n'
                     "javascript:alert(3) https://example.com/a?b=<c>")
    for page in (await bako.page("/inbox"), await amina.page("/sent")):
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert" in page
    message_id = MESSAGE_LINK.search(await bako.page("/inbox")).group(1)  # type: ignore[union-attr]
    page = await bako.page(f"/messages/{message_id}")
    assert "<img src=x" not in page and "<svg onload" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert 'href="javascript:' not in page
    assert 'href="https://example.com/a?b=&lt;c&gt;"' not in page  # the link stops before <


async def test_reply_threads_and_both_sides_see_the_thread(browsers: Any) -> None:
    amina, bako = await two_members(browsers)
    await amina.send("bako", "Cashew prices", "Can you quote 20 tonnes?")
    message_id = MESSAGE_LINK.search(await bako.page("/inbox")).group(1)  # type: ignore[union-attr]
    page = await bako.page(f"/messages/{message_id}")
    assert 'id="reply"' in page
    resp = await bako.post("/compose", {
        "in_reply_to": message_id, "subject": "Re: Cashew prices",
        "body": "USD 1,450 a tonne, FOB Mombasa."}, csrf=csrf_of(page))
    assert resp.status == 303
    reply_page = await bako.page(resp.headers["Location"])
    assert reply_page.count('class="mail"') == 2
    amina_inbox = await amina.page("/inbox")
    assert "Re: Cashew prices" in amina_inbox
    reply_id = MESSAGE_LINK.search(amina_inbox).group(1)  # type: ignore[union-attr]
    thread = await amina.page(f"/messages/{reply_id}")
    assert "Can you quote 20 tonnes?" in thread and "USD 1,450 a tonne" in thread
    assert thread.index("Can you quote") < thread.index("USD 1,450")
    # The standalone reply page (no JavaScript needed) knows its parent too.
    page = await amina.page(f"/compose?reply_to={reply_id}")
    assert "Replying to" in page and 'name="in_reply_to"' in page


async def test_attachments_upload_and_download_as_attachment(browsers: Any) -> None:
    amina, bako = await two_members(browsers)
    page = await amina.page("/compose")
    assert "Up to 10 files of 10.0 MB each" in page  # the limit, said before an upload
    await amina.send_file("bako", "Spec sheet", "Attached.", "spec-sheet.html",
                          b"<html><script>alert(1)</script></html>", "text/html")
    message_id = MESSAGE_LINK.search(await bako.page("/inbox")).group(1)  # type: ignore[union-attr]
    page = await bako.page(f"/messages/{message_id}")
    link = re.search(r'href="(/messages/[0-9a-f]{32}/attachments/1)"', page)
    assert link and ">spec-sheet.html<" in page
    resp = await bako.get(link.group(1))
    assert resp.status == 200
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert resp.headers["Content-Type"] == "application/octet-stream"
    assert await resp.read() == b"<html><script>alert(1)</script></html>"
    stranger = browsers()
    await stranger.sign_up("carla")
    assert (await stranger.get(link.group(1))).status == 404


async def test_file_archive_trash_unread_and_delete(browsers: Any) -> None:
    amina, bako = await two_members(browsers)
    await amina.send("bako", "Sesame", "Hulled sesame, 2 containers.")
    message_id = MESSAGE_LINK.search(await bako.page("/inbox")).group(1)  # type: ignore[union-attr]
    page = await bako.page(f"/messages/{message_id}")
    resp = await bako.post(f"/messages/{message_id}/file",
                           {"folder": "archive", "back": "/inbox"}, csrf=csrf_of(page))
    assert (resp.status, resp.headers["Location"]) == (303, "/inbox")
    assert "Sesame" in await bako.page("/archive")
    assert "Sesame" not in await bako.page("/inbox")
    resp = await bako.post(f"/messages/{message_id}/file",  # DEL would break the header
                           {"folder": "inbox", "back": "/archive\x7f"}, csrf=csrf_of(page))
    assert (resp.status, resp.headers["Location"]) == (303, "/inbox")
    await bako.post(f"/messages/{message_id}/file", {"unread": "true", "back": "/inbox"},
                    csrf=csrf_of(page))
    assert 'class="row unread"' in await bako.page("/inbox")
    await bako.post(f"/messages/{message_id}/file", {"folder": "trash", "back": "/inbox"},
                    csrf=csrf_of(page))
    assert "Sesame" in await bako.page("/trash")
    resp = await bako.post(f"/messages/{message_id}/delete", {}, csrf=csrf_of(page))
    assert resp.headers["Location"] == "/trash"
    assert "Sesame" not in await bako.page("/trash")
    assert "Sesame" in await amina.page("/sent")  # her copy stays hers
    bad = await bako.post(f"/messages/{message_id}/file", {"folder": "nowhere"},
                          csrf=csrf_of(page))
    assert bad.status in (400, 404)


async def test_search_finds_whole_words(browsers: Any) -> None:
    amina, bako = await two_members(browsers)
    await amina.send("bako", "Cashew prices", "Can you quote 20 tonnes?")
    await amina.send("bako", "Sesame", "Hulled sesame seeds.")
    page = await bako.page("/search?q=cashew")
    assert "Cashew prices" in page and ">Sesame<" not in page
    assert "Cashew prices" in await amina.page("/search?q=TONNES")
    page = await bako.page("/search?q=pepper")
    assert "No messages match" in page
    page = await bako.page("/search?q=a")
    assert 'id="f-q-error"' in page
    page = await bako.page("/search")
    assert "message-list" not in page


async def test_folders_page_with_keyset_cursors(
        aiohttp_client: Any, tmp_path: Path, store_url: str, clock: FakeClock) -> None:
    config = make_config(tmp_path, store_url, TRADEMAIL_MESSAGES_PAGE_SIZE="2")
    client = await aiohttp_client(await build_app(config, clock))
    amina, bako = Browser(client), Browser(client)
    try:
        await amina.sign_up("amina")
        await bako.sign_up("bako")
        for n in range(5):
            await amina.send("bako", f"Offer number{n}", "x")
        seen: list[str] = []
        path: str | None = "/inbox"
        while path:
            page = await bako.page(path)
            seen += re.findall(r'<span class="subject">[^<]*Offer number(\d)', page)
            older = re.search(r'rel="next" href="([^"]+)"', page)
            path = older.group(1).replace("&amp;", "&") if older else None
            if path:
                assert "cursor=" in path
        assert seen == ["4", "3", "2", "1", "0"]
        assert (await bako.get("/inbox?cursor=not-a-cursor")).status == 400

        # Answers to older conversations bring each up, once, where its newest is: pages
        # of conversations never show one twice nor skip one.
        sent, path = {}, "/sent"
        while path:
            page = await amina.page(path)
            sent |= {subject: mid for mid, subject in re.findall(
                r'href="/messages/([0-9a-f]{32})" class="row-link">.*?'
                r'<span class="subject">([^<]*)</span>', page, re.S)}
            older = re.search(r'rel="next" href="([^"]+)"', page)
            path = older.group(1).replace("&amp;", "&") if older else None
        for n in (1, 3):
            reply = await amina.post("/compose", {
                "in_reply_to": sent[f"Offer number{n}"], "subject": f"Re: Offer number{n}",
                "body": "And a follow-up.", "idempotency_key": f"f-{n}"}, csrf=csrf_of(page))
            assert reply.status == 303
        seen, path = [], "/inbox"
        while path:
            page = await bako.page(path)
            seen += re.findall(r'<span class="subject">[^<]*Offer number(\d)', page)
            older = re.search(r'rel="next" href="([^"]+)"', page)
            path = older.group(1).replace("&amp;", "&") if older else None
        assert seen == ["3", "1", "4", "2", "0"]
        assert len(re.findall(r'class="thread-count"', await bako.page("/inbox"))) == 2
    finally:
        await amina.close()
        await bako.close()


# ---------------------------------------------------------------- errors


async def test_friendly_error_pages_never_a_traceback(client: Any, browsers: Any,
                                                      monkeypatch: Any) -> None:
    browser = browsers()
    resp = await browser.get("/no/such/page")
    assert resp.status == 404 and "Not found" in await resp.text()
    await browser.sign_up("amina")
    resp = await browser.get("/messages/" + "0" * 32)
    assert resp.status == 404 and "not in your mailbox" in await resp.text()
    resp = await browser.get("/messages/not-an-id")
    assert resp.status == 404

    from trademail.appkeys import READING

    async def broken(*args: Any, **kw: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(client.app[READING], "conversations", broken)
    resp = await browser.get("/inbox")
    text = await resp.text()
    assert resp.status == 500 and "Something went wrong" in text
    assert "Traceback" not in text and "secret internals" not in text
    assert resp.content_type == "text/html"


MALFORMED_BODIES = (
    ("multipart/form-data", b"csrf=x&username=amina"),  # no boundary
    ("application/x-www-form-urlencoded; charset=no-such-charset", b"csrf=x&username=amina"),
    ("multipart/form-data; boundary=b",  # cut off before its end
     b'--b\r\nContent-Disposition: form-data; name="csrf"\r\n\r\nx'),
    ("multipart/form-data; boundary=b",
     b'--b\r\nContent-Disposition: form-data; name="csrf"\r\n'
     b"Content-Transfer-Encoding: rot13\r\n\r\nx\r\n--b--\r\n"),
    ("multipart/form-data; boundary=b",
     b'--b\r\nContent-Disposition: form-data; name="csrf"\r\n'
     b"Content-Type: text/plain; charset=no-such-charset\r\n\r\nx\r\n--b--\r\n"),
)


async def test_unreadable_form_bodies_are_a_400_not_a_crash(browsers: Any) -> None:
    browser = browsers()
    await browser.page("/signin")  # the pre-session cookie: the middleware reads the form
    for content_type, body in MALFORMED_BODIES:
        resp = await browser.session.post("/signin", data=body, allow_redirects=False,
                                          headers={"Content-Type": content_type})
        assert resp.status == 400, (content_type, body, resp.status)
        assert "not understood" in await resp.text()
    # With the token in a header the middleware leaves the body alone: the view reads it.
    await browser.sign_up("amina")
    csrf = csrf_of(await browser.page("/compose"))
    for path in ("/compose", "/messages/" + "0" * 32 + "/file", "/settings/notify"):
        for content_type, body in MALFORMED_BODIES:
            resp = await browser.session.post(path, data=body, allow_redirects=False, headers={
                "Content-Type": content_type, "X-CSRF-Token": csrf})
            assert resp.status == 400, (path, content_type, resp.status)


async def test_api_errors_stay_problem_json(client: Any) -> None:
    resp = await client.get("/api/v1/nope")
    assert resp.status == 404 and resp.content_type == "application/problem+json"


async def test_a_conversation_is_archived_and_trashed_whole_and_undone_exactly(
        browsers: Any) -> None:
    amina, bako = await two_members(browsers)
    assert (await amina.send("bako", "Sesame 40 t", "Quote attached.")).status == 303
    first = MESSAGE_LINK.findall(await bako.page("/inbox"))[0]
    assert (await bako.reply(first, "Price?")).status == 303
    answer = MESSAGE_LINK.findall(await amina.page("/inbox"))[0]
    assert (await amina.reply(answer, "USD 1,400 / t.")).status == 303
    inbox = await bako.page("/inbox")  # one conversation of three, two of them received
    (newest,) = MESSAGE_LINK.findall(inbox)
    assert THREE_IN_IT.search(inbox)
    thread_page = await bako.page(f"/messages/{newest}")
    thread_id = re.search(r'action="/threads/([0-9a-f]{32})/file"', thread_page)
    assert thread_id
    in_thread = re.findall(r'id="m-([0-9a-f]{32})"', thread_page)
    received = [first, newest]
    assert len(in_thread) == 3 and set(received) < set(in_thread)

    # Archive from the conversation's page: every message of it leaves the inbox.
    resp = await bako.post(f"/threads/{thread_id[1]}/file", {"action": "archive",
                                                             "back": "/inbox"},
                           csrf=csrf_of(thread_page))
    assert resp.status == 303 and resp.headers["Location"].startswith("/inbox?undo=")
    inbox = await bako.page(resp.headers["Location"])
    assert not set(received) & set(MESSAGE_LINK.findall(inbox))
    assert "Conversation archived." in inbox and ">Undo</button>" in inbox
    archive = await bako.page("/archive")  # the conversation, by its newest message there
    assert MESSAGE_LINK.findall(archive) == [newest] and THREE_IN_IT.search(archive)

    # Undo puts each message back where it was, read or unread as it was.
    was = re.search(r'name="was" value="([^"]+)"', inbox)
    assert was
    resp = await bako.post("/threads/restore",
                           {"was": html.unescape(was[1]), "back": "/inbox"}, csrf=csrf_of(inbox))
    assert resp.status == 303
    inbox = await bako.page("/inbox")
    assert MESSAGE_LINK.findall(inbox) == [newest] and THREE_IN_IT.search(inbox)
    assert "back as it was" in inbox
    assert not MESSAGE_LINK.findall(await bako.page("/archive"))

    # Trash takes Bako's own answer too; an Undo naming a message of another conversation
    # is refused.
    resp = await bako.post(f"/threads/{thread_id[1]}/file", {"action": "trash",
                                                             "back": "/inbox"},
                           csrf=csrf_of(inbox))
    trash = await bako.page("/trash")  # all three, Bako's own answer too
    assert MESSAGE_LINK.findall(trash) == [newest] and THREE_IN_IT.search(trash)
    assert not MESSAGE_LINK.findall(await bako.page("/sent"))
    assert (await amina.send("bako", "Another matter", "Hello.")).status == 303
    foreign = MESSAGE_LINK.findall(await bako.page("/inbox"))[0]  # of another conversation
    resp = await bako.post("/threads/restore", {"was": f"{thread_id[1]}.{foreign}.inbox.0",
                                                "back": "/inbox"}, csrf=csrf_of(trash))
    assert resp.status == 400 and "cannot take back" in await resp.text()
    resp = await bako.post(f"/threads/{thread_id[1]}/file", {"action": "nowhere"},
                           csrf=csrf_of(trash))
    assert resp.status == 400
    stranger = browsers()  # no part in it: the conversation does not exist for them
    await stranger.sign_up("cyrus")
    resp = await stranger.post(f"/threads/{thread_id[1]}/file", {"action": "inbox"},
                               csrf=csrf_of(await stranger.page("/inbox")))
    assert resp.status == 404
    assert THREE_IN_IT.search(await bako.page("/trash"))


async def test_the_recipient_field_suggests_the_people_you_have_written_with(
        browsers: Any) -> None:
    amina, bako = await two_members(browsers)
    stranger = browsers()
    await stranger.sign_up("cyrus")
    assert 'list="people"' not in await amina.page("/compose")  # nobody yet
    assert (await amina.send("bako", "Sesame", "Quote?")).status == 303
    for browser, other, company in ((amina, "bako", "Bako Trading Ltd"),
                                    (bako, "amina", "Amina Trading Ltd")):  # either side
        page = await browser.page("/compose")
        assert 'list="people"' in page
        assert f'<option value="{other}">{company}</option>' in page
    assert "<datalist" not in await stranger.page("/compose")


async def test_several_conversations_are_picked_filed_and_undone_together(
        browsers: Any) -> None:
    amina, bako = await two_members(browsers)
    for subject in ("Cashews", "Sesame", "Cloves"):
        assert (await amina.send("bako", subject, "Quote?")).status == 303
    inbox = await bako.page("/inbox")
    picks = dict(re.findall(r'name="thread" value="([0-9a-f]{32})"[^>]*aria-label="Pick “([^”]+)”',
                            inbox))
    assert sorted(picks.values()) == ["Cashews", "Cloves", "Sesame"]
    chosen = [t for t, subject in picks.items() if subject != "Sesame"]
    form = FormData()
    for name, value in (("action", "archive"), ("back", "/inbox"), *(("thread", t)
                                                                       for t in chosen)):
        form.add_field(name, value)
    resp = await bako.post("/threads/file", form, csrf=csrf_of(inbox))
    assert resp.status == 303
    inbox = await bako.page(resp.headers["Location"])
    assert "2 conversations archived." in inbox
    assert re.findall(r'aria-label="Pick “([^”]+)”', inbox) == ["Sesame"]
    archive = await bako.page("/archive")
    assert sorted(re.findall(r'aria-label="Pick “([^”]+)”', archive)) == ["Cashews", "Cloves"]

    was = re.search(r'name="was" value="([^"]+)"', inbox)
    assert was
    # Another action from the page that offers this Undo offers its own, not both.
    resp = await bako.post("/threads/file", {"action": "read", "thread": chosen[0],
                                             "back": html.unescape(re.search(
                                                 r'name="back" value="([^"]+)"', inbox)[1])},
                           csrf=csrf_of(inbox))
    assert resp.headers["Location"].count("undo=") == 1 and "undo=read" in resp.headers["Location"]
    resp = await bako.post("/threads/restore", {"was": html.unescape(was[1]),
                                                "back": "/inbox"}, csrf=csrf_of(inbox))
    assert resp.status == 303
    inbox = await bako.page("/inbox")
    assert sorted(re.findall(r'aria-label="Pick “([^”]+)”', inbox)) == [
        "Cashews", "Cloves", "Sesame"]
    resp = await bako.post("/threads/file", {"action": "trash", "back": "/inbox"},
                           csrf=csrf_of(inbox))  # nothing picked: nothing happens
    assert resp.status == 303
    assert "Pick one or more conversations first." in await bako.page(resp.headers["Location"])
    assert len(re.findall(r'name="thread"', await bako.page("/inbox"))) == 3


async def test_a_conversation_is_marked_read_or_unread_whole(browsers: Any) -> None:
    amina, bako = await two_members(browsers)
    assert (await amina.send("bako", "Cashews", "First.")).status == 303
    first = MESSAGE_LINK.findall(await amina.page("/sent"))[0]
    assert (await amina.reply(first, "Second.")).status == 303
    (newest,) = MESSAGE_LINK.findall(await bako.page("/inbox"))  # one conversation of two
    page = await bako.page(f"/messages/{newest}")  # reads the newest; the first is unread
    thread = re.search(r'action="/threads/([0-9a-f]{32})/file"', page)
    assert thread and 'class="row unread"' in await bako.page("/inbox")
    resp = await bako.post(f"/threads/{thread[1]}/file", {"action": "read", "back": "/inbox"},
                           csrf=csrf_of(page))
    inbox = await bako.page(resp.headers["Location"])
    assert "Conversation marked read." in inbox and 'class="row unread"' not in inbox
    resp = await bako.post(f"/threads/{thread[1]}/file", {"action": "unread", "back": "/inbox"},
                           csrf=csrf_of(inbox))
    inbox = await bako.page(resp.headers["Location"])
    assert "Conversation marked unread." in inbox and 'class="row unread"' in inbox


async def test_reply_to_all_answers_everyone_in_the_message(browsers: Any) -> None:
    amina, bako = await two_members(browsers)
    cyrus = browsers()
    await cyrus.sign_up("cyrus")
    assert (await amina.send("bako, cyrus", "Tender", "Quotes by Friday.")).status == 303
    message = MESSAGE_LINK.findall(await bako.page("/inbox"))[0]
    page = await bako.page(f"/messages/{message}")
    assert "Reply to all: Amina Trading Ltd, Cyrus Trading Ltd" in page
    assert (await bako.reply(message, "Ours: USD 1,350 / t.", reply_all="1")).status == 303
    assert "USD 1,350" in await cyrus.page(f"/messages/{message}")  # Cyrus got it too
    # Answering Amina's message itself (not the newest of the conversation, Bako's own).
    assert (await bako.reply(message, "Only to Amina.", in_reply_to=message)).status == 303
    assert "Only to Amina." in await amina.page(f"/messages/{message}")
    assert "Only to Amina." not in await cyrus.page(f"/messages/{message}")


async def test_a_reply_may_quote_the_message_it_answers_shown_folded(browsers: Any) -> None:
    amina, bako = await two_members(browsers)
    assert (await amina.send("bako", "Sesame", "40 t hulled sesame\nCIF Lagos?")).status == 303
    message = MESSAGE_LINK.findall(await bako.page("/inbox"))[0]
    assert (await bako.reply(message, "Yes, in March.", quote="1")).status == 303
    thread = await amina.page(f"/messages/{message}")
    folded = re.search(r'<details class="quoted-text"><summary>Quoted text \(2 lines\)</summary>'
                       r'(.*?)</details>', thread, re.S)
    assert folded and "&gt; 40 t hulled sesame" in folded[1] and "&gt; CIF Lagos?" in folded[1]
    assert "Amina Trading Ltd wrote:" in thread and "Yes, in March." in thread


async def test_a_message_is_forwarded_from_its_page_with_its_attachments(
        browsers: Any) -> None:
    amina, bako = await two_members(browsers)
    cyrus = browsers()
    await cyrus.sign_up("cyrus")
    await amina.send_file("bako", "Offer 7", "40 t at USD 900/t", "prices.txt", b"price list")
    message = MESSAGE_LINK.findall(await bako.page("/inbox"))[0]
    assert f'href="/compose?forward={message}"' in await bako.page(f"/messages/{message}")
    page = await bako.page(f"/compose?forward={message}")
    assert "<h1>Forward</h1>" in page and 'value="Fwd: Offer 7"' in page
    assert "prices.txt" in page and "40 t at USD 900/t" in page
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert key
    resp = await bako.post("/compose", {"to": "cyrus", "subject": "Fwd: Offer 7",
                                        "body": "Can you match this?", "forward_of": message,
                                        "idempotency_key": key[1]}, csrf=csrf_of(page))
    assert resp.status == 303, await resp.text()
    forwarded = MESSAGE_LINK.findall(await cyrus.page("/inbox"))[0]
    shown = await cyrus.page(f"/messages/{forwarded}")
    assert "Can you match this?" in shown and "Forwarded message" in shown
    assert "From: Amina Trading Ltd (amina)" in shown and "prices.txt" in shown
    assert "@real-" not in shown


async def test_a_signature_goes_below_new_messages_and_keeps_the_contact_rule(
        browsers: Any) -> None:
    amina, bako = await two_members(browsers)
    page = await bako.page("/settings/signature")
    resp = await bako.post("/settings/signature", {"signature": "Bako · +254 712 345 678"},
                           csrf=csrf_of(page))
    refused = await resp.text()
    assert resp.status == 422 and "may not carry contact details" in refused
    assert "contact section" in refused
    resp = await bako.post("/settings/signature", {"signature": "Bako Exports, sesame desk"},
                           csrf=csrf_of(refused))
    assert resp.status == 303
    assert "Signature saved" in await bako.page(resp.headers["Location"])
    compose = await bako.page("/compose")
    assert re.search(r'<textarea id="f-body"[^>]*>\s*-- \nBako Exports, sesame desk</textarea>',
                     compose)
    assert (await amina.send("bako", "Sesame", "40 t?")).status == 303
    message = MESSAGE_LINK.findall(await bako.page("/inbox"))[0]
    assert "-- \nBako Exports, sesame desk</textarea>" in await bako.page(f"/messages/{message}")


async def test_a_draft_saved_on_the_server_is_finished_and_sent_later(browsers: Any) -> None:
    amina, bako = await two_members(browsers)
    page = await amina.page("/compose")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert key
    resp = await amina.post("/compose", {"to": "bako", "subject": "Cashew offer",
                                         "body": "Dear Bako, half-written", "action": "save-draft",
                                         "idempotency_key": key[1]}, csrf=csrf_of(page))
    assert resp.status == 303 and resp.headers["Location"].startswith("/drafts")
    drafts = await amina.page(resp.headers["Location"])
    assert "Draft saved" in drafts and "Cashew offer" in drafts
    draft_id = re.search(r'href="/compose\?draft=([0-9a-f]{32})"', drafts)
    assert draft_id
    # Elsewhere (another browser of hers), the draft is there to finish.
    laptop = browsers()
    await laptop.sign_in("amina")
    page = await laptop.page(f"/compose?draft={draft_id[1]}")
    assert "Dear Bako, half-written</textarea>" in page and 'value="Cashew offer"' in page
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert key
    resp = await laptop.post("/compose", {"to": "bako", "subject": "Cashew offer",
                                          "body": "Dear Bako, W320 at USD 7/kg.",
                                          "draft_id": draft_id[1], "idempotency_key": key[1]},
                             csrf=csrf_of(page))
    assert resp.status == 303
    assert "W320 at USD 7/kg" in await bako.page(
        f"/messages/{MESSAGE_LINK.findall(await bako.page('/inbox'))[0]}")
    assert "Cashew offer" not in await laptop.page("/drafts")  # sent: the draft is gone
    other = await bako.get(f"/compose?draft={draft_id[1]}")
    assert other.status == 404  # nobody else's, ever


async def test_an_inbox_emptied_by_archiving_is_not_a_new_members(browsers: Any) -> None:
    amina, bako = await two_members(browsers)
    assert (await amina.send("bako", "Sesame", "40 t?")).status == 303
    message = MESSAGE_LINK.findall(await bako.page("/inbox"))[0]
    thread = await bako.page(f"/messages/{message}")
    resp = await bako.post(f"/threads/{message}/file", {"action": "archive", "back": "/inbox"},
                           csrf=csrf_of(thread))
    inbox = await bako.page(resp.headers["Location"])
    assert "Conversation archived." in inbox and "Getting started" not in inbox


async def test_a_conversation_opened_at_your_own_reply_leads_back_to_the_inbox(
        browsers: Any) -> None:
    amina, bako = await two_members(browsers)
    assert (await amina.send("bako", "Sesame", "40 t?")).status == 303
    message = MESSAGE_LINK.findall(await bako.page("/inbox"))[0]
    resp = await bako.reply(message, "Yes, in March.")
    page = await bako.page(resp.headers["Location"])  # the page of bako's own reply
    assert re.search(r'<a class="back" href="/inbox">.*?<span>Inbox</span></a>', page, re.S)


async def test_a_member_takes_their_whole_mailbox_away_as_mbox(browsers: Any) -> None:
    amina, bako = await two_members(browsers)
    assert (await amina.send("bako", "Sesame", "From the farm: 40 t?")).status == 303
    message = MESSAGE_LINK.findall(await bako.page("/inbox"))[0]
    assert (await bako.reply(message, "Yes, in March.")).status == 303
    assert 'href="/export/mailbox.mbox"' in await bako.page("/settings/profile")
    resp = await bako.get("/export/mailbox.mbox")
    assert resp.status == 200 and resp.content_type == "application/mbox"
    assert "attachment;" in resp.headers["Content-Disposition"]
    raw = await resp.read()
    path = Path(tempfile.mkdtemp()) / "bako.mbox"
    path.write_bytes(raw)
    box = mailbox.mbox(path)
    mails = {m["Subject"]: m for m in box}
    assert set(mails) == {"Sesame", "Re: Sesame"}
    assert mails["Sesame"]["X-TradeMail-Folder"] == "inbox"
    assert mails["Re: Sesame"]["X-TradeMail-Folder"] == "sent"
    assert "Amina Trading Ltd" in mails["Sesame"]["From"]
    # A line of the body that begins "From " is quoted, so it starts no message of its own.
    assert b"\n>From the farm" in raw and len(box) == 2
    assert b"@real-" not in raw  # parties by company and alias, never a real address
    box.close()


async def test_a_draft_still_opens_when_the_message_it_answers_is_gone(
        browsers: Any) -> None:
    amina, bako = await two_members(browsers)
    assert (await amina.send("bako", "Sesame", "40 t?")).status == 303
    message = MESSAGE_LINK.findall(await bako.page("/inbox"))[0]
    page = await bako.page(f"/messages/{message}")
    resp = await bako.post("/compose", {"in_reply_to": message, "subject": "Re: Sesame",
                                        "body": "Half an answer", "action": "save-draft"},
                           csrf=csrf_of(page))
    assert resp.status == 303
    draft = re.search(r'href="/compose\?draft=([0-9a-f]{32})"', await bako.page("/drafts"))
    assert draft
    await bako.post(f"/threads/{message}/file", {"action": "trash", "back": "/inbox"},
                    csrf=csrf_of(page))
    trash = await bako.page("/trash")
    await bako.post(f"/messages/{message}/delete", {}, csrf=csrf_of(trash))
    page = await bako.page(f"/compose?draft={draft[1]}")
    assert "Half an answer</textarea>" in page


async def test_the_mailbox_also_comes_as_json_with_its_attachments(browsers: Any) -> None:
    amina, bako = await two_members(browsers)
    await amina.send_file("bako", "Prices", "Attached.", "prices.txt", b"W320 7.10\nW240 7.90\n")
    assert 'href="/export/mailbox.json"' in await bako.page("/settings/profile")
    resp = await bako.get("/export/mailbox.json")
    assert resp.status == 200 and resp.content_type == "application/json"
    (message,) = json.loads(await resp.read())["messages"]
    assert message["subject"] == "Prices" and message["folder"] == "inbox"
    assert message["from"]["company"] == "Amina Trading Ltd"
    (attached,) = message["attachments"]
    assert base64.b64decode(attached["base64"]) == b"W320 7.10\nW240 7.90\n"
    assert "@real-" not in json.dumps(message)
