"""Web attacks on the inbox, through the real door (SQLite: the web layer is the same on
both backends): forged forms on every page (CSRF), session fixation, open redirects after
sign-in, stored XSS through every field another member or TradeStaff reads, clickjacking
and the other security headers on every answer, and header injection into the
notification mails."""

from __future__ import annotations

import asyncio
import hashlib
import html
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from aiohttp import FormData
from aiohttp.test_utils import make_mocked_request
from yarl import URL

from tests.browser_helpers import Browser, csrf_of
from tests.helpers import PASSWORD, jobs_done
from tests.test_factors import add_app, totp
from tests.test_gateway import (  # noqa: F401 - fixtures are used by name
    Gateway,
    gateway,
    smarthost,
)
from tests.test_web_directory import alias_of, member, save
from tests.test_web_staff import staff_member
from trademail.app import CORE
from trademail.testing import FakeClock
from trademail.web.settings import SECTIONS

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

HEX_ID = re.compile(r"/(?:messages|staff/reports|staff/members)/([0-9a-f]{32})")


# ---------------------------------------------------------------- reading pages


@dataclass
class Form:
    action: str
    method: str
    enctype: str
    fields: list[tuple[str, str]] = field(default_factory=list)


class PageParser(HTMLParser):
    """Every start tag with its attributes, the text, and the forms of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self.forms: list[Form] = []
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("action", ""), a.get("method", "get").lower(),
                                   a.get("enctype", "")))
        elif not self.forms or "name" not in a:
            return
        elif tag == "input" and a.get("type") not in ("file", "submit"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self.forms[-1].fields.append((a["name"], a.get("value", "")))
        elif tag == "textarea":
            self._textarea = a["name"]
            self.forms[-1].fields.append((a["name"], "x"))
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select:
            self.forms[-1].fields.append((self._select, a.get("value", "")))
            self._select = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_page(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    parser.close()
    return parser


async def route_of(app: Any, method: str, path: str) -> str:
    """The pattern of the route that answers `method path` ("" for none): what the router
    itself resolves, so a form's action counts for the route it really reaches."""
    match = await app.router.resolve(make_mocked_request(method, path, app=app))
    if match.http_exception is not None:
        return ""
    return str(match.route.resource.canonical)


def web_routes(app: Any, method: str) -> set[str]:
    """The patterns of the web door's routes (not the API's, the probes', static files' or
    /.well-known's)."""
    return {route.resource.canonical for route in app.router.routes()
            if route.method == method and route.resource is not None
            and not route.resource.canonical.startswith((
                "/api", "/static", "/healthz", "/readyz", "/metrics", "/.well-known"))}


# ---------------------------------------------------------------- the world attacked


@dataclass
class World:
    client: Any
    amina: Browser  # a member with a message, listings, a block, a token, a report
    amina_again: Browser  # Amina in a second browser: another session of hers
    bako: Browser  # another member, who wrote to her
    staff: Browser
    cara: Browser  # a member with an authenticator app
    visitor: Browser  # half-way through signing in
    other_visitor: Browser
    paths: dict[str, list[str]]  # route pattern -> the addresses it is visited at
    message_id: str  # of Bako's message to Amina


async def _ids(client: Any) -> dict[str, str]:
    stores = client.app[CORE].stores
    bako = await stores.members.member_by_username("bako")
    message = await stores.db.fetchval("SELECT id FROM messages ORDER BY id LIMIT 1")
    thread = await stores.db.fetchval("SELECT thread_id FROM messages ORDER BY id LIMIT 1")
    report = await stores.db.fetchval("SELECT id FROM reports ORDER BY id LIMIT 1")
    return {"bako": str(bako.id), "message": str(message), "thread": str(thread),
            "report": str(report)}


@pytest.fixture
async def world(client: Any, browsers: Callable[..., Browser], clock: FakeClock) -> World:
    amina = await member(client, browsers, "amina")
    bako = await member(client, browsers, "bako")
    await bako.send("amina", "Cashew prices", "Can you quote 20 tonnes?")
    await save(amina, "/listings/profile", {"about": "Cashew kernels.",
                                            "business_type": "manufacturer"})
    await save(amina, "/listings/products", {"name": "Cashew W320", "category": "agriculture"})
    await save(amina, "/listings/leads", {"kind": "sell", "title": "20 t cashew",
                                          "category": "agriculture", "quantity": "20 t"})
    await save(bako, "/listings/profile", {"about": "Call +254 712 345678 now.",
                                           "business_type": "manufacturer"}, status=200)
    assert (await amina.post("/settings/blocks", {"who": "bako", "mode": "file"},
                             form_page="/settings/blocks")).status == 303
    assert (await amina.post("/settings/email", {"email": "amina@new-amina.example",
                                                 "password": PASSWORD},
                             form_page="/settings/security")).status == 200
    assert (await amina.post("/compose", {"to": "bako", "subject": "draft", "body": "x",
                                          "action": "save-draft"},
                             form_page="/compose")).status == 303
    assert (await amina.post("/settings/tokens", {"name": "crm", "scopes": "messages:read"},
                             form_page="/settings/tokens")).status in (200, 303)
    ids = await _ids(client)
    assert (await amina.post(f"/messages/{ids['message']}/report", {"reason": "spam"},
                             form_page=f"/messages/{ids['message']}")).status == 303
    ids = await _ids(client)
    filed = await amina.post(f"/threads/{ids['thread']}/file",
                             {"action": "archive", "back": "/inbox"}, form_page="/inbox")
    assert "undo=" in filed.headers["Location"]
    assert (await bako.post(f"/threads/{ids['thread']}/file", {"action": "trash", "back": "/sent"},
                            form_page="/sent")).status == 303  # his copy offers deletion
    staff = await staff_member(client, browsers)
    again = browsers()
    assert (await again.sign_in("amina")).status == 303
    cara = browsers()
    await cara.sign_up("cara")
    await add_app(cara, clock)
    visitor = browsers()  # half-way through signing in as Cara: her code is asked for
    assert (await visitor.sign_in("cara")).headers["Location"] == "/signin/verify"
    paths = {
        "/": ["/"], "/signin": ["/signin"], "/signup": ["/signup"],
        "/{folder}": ["/inbox", "/sent", "/archive", "/trash", "/spam",
                      filed.headers["Location"]],
        "/search": ["/search?q=cashew"],
        "/messages/{id}": [f"/messages/{ids['message']}"], "/compose": ["/compose"],
        "/drafts": ["/drafts"], "/settings/signature": ["/settings/signature"],
        "/signin/verify": ["/signin/verify"], "/settings/two-step": ["/settings/two-step"],
        "/settings/activity": ["/settings/activity"], "/settings": ["/settings"],
        "/settings/{section}": [s.url for s in SECTIONS.values()
                                if s.slug not in ("signature", "two-step", "activity")],
        "/settings/email/confirm": ["/settings/email/confirm"],
        "/signup/confirm": ["/signup/confirm"], "/password/forgot": ["/password/forgot"],
        "/password/reset": ["/password/reset"], "/directory": ["/directory"],
        "/directory/{username}": ["/directory/amina", "/directory/bako"],
        "/listings": ["/listings"], "/staff": ["/staff"],
        "/staff/members/{id}": [f"/staff/members/{ids['bako']}"],
        "/staff/audit": ["/staff/audit"], "/staff/viewers": ["/staff/viewers"],
        "/staff/reports": ["/staff/reports"],
        "/staff/reports/{id}": [f"/staff/reports/{ids['report']}"],
    }
    return World(client, amina, again, bako, staff, cara, visitor, browsers(), paths,
                 ids["message"])


# ---------------------------------------------------------------- CSRF

# GET routes that are not pages with forms, and why.
NOT_PAGES = {
    "/favicon.ico": "an icon",
    "/messages/{id}/attachments/{n}": "a file",
    "/events": "the live updates' stream",
    "/export/mailbox.mbox": "a download",
    "/export/mailbox.json": "a download",
}
# POST routes no page here shows a form for, and why; each is forged directly instead.
NO_FORM_HERE = {
    "/session/keepalive": "app.js posts it, the token in a header",
    "/signin/verify/passkey": "app.js asks for passkey options",
    "/settings/passkeys/options": "app.js asks for passkey options",
    "/settings/passkeys": "app.js posts a new passkey",
    "/signup/confirm": "its page needs a mailed link",
    "/password/reset": "its page needs a mailed link",
    "/settings/email/confirm": "its page needs a mailed link",
    "/messages/{id}/file": "no page posts to it (a conversation is filed whole)",
    "/messages/{id}/not-spam": "its form is on a message in Spam, put there by a spam filter "
                               "(tests/test_spam.py)",
}


async def snapshot(client: Any) -> str:
    """A digest of every row of every table: equal digests, nothing changed."""
    db = client.app[CORE].stores.db
    digest = hashlib.sha256()
    tables = await db.fetch("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    for table in tables:
        rows = await db.fetch(f"SELECT * FROM {table['name']}")  # noqa: S608 - our tables
        digest.update(repr((table["name"], sorted(repr(tuple(r)) for r in rows))).encode())
    return digest.hexdigest()


async def quiet(client: Any) -> str:
    """Wait (on real I/O) until the relay has done what it can do now, so the database
    stays as it is unless a request changes it; its snapshot then."""
    await jobs_done(client)
    last = await snapshot(client)
    for _ in range(100):
        await asyncio.sleep(0.05)
        now = await snapshot(client)
        if now == last:
            return now
        last = now
    raise AssertionError("the relay did not settle")


async def forms_of(world: World, browser: Browser) -> list[Form]:
    """The post forms on every page `browser` can open."""
    found: dict[tuple[str, tuple[str, ...]], Form] = {}
    for paths in world.paths.values():
        for path in paths:
            resp = await browser.get(path)
            if resp.status != 200 or resp.content_type != "text/html":
                continue
            for form in parse_page(await resp.text()).forms:
                if form.method == "post":
                    found.setdefault((form.action, tuple(n for n, _ in form.fields)), form)
    return list(found.values())


async def forge(browser: Browser, form: Form, csrf: str | None) -> Any:
    """Post `form` as it is, its CSRF token left out (None) or replaced by `csrf`."""
    fields = [(n, v) for n, v in form.fields if n != "csrf"]
    if csrf is not None:
        fields.append(("csrf", csrf))
    body: Any = fields
    if form.enctype == "multipart/form-data":
        body = FormData()
        for name, value in fields:
            body.add_field(name, value)
    return await browser.session.post(form.action, data=body, allow_redirects=False)


async def test_every_form_on_every_page_refuses_a_forged_post(world: World) -> None:
    """Each post form a visitor, a member or TradeStaff is shown, posted without its token
    or with another session's, is refused (403) and changes nothing; every POST route of
    the web door is reached by such a form or forged here directly."""
    app = world.client.app
    assert web_routes(app, "GET") == set(world.paths) | set(NOT_PAGES)
    await world.other_visitor.page("/signin")
    others = {id(world.visitor): [csrf_of(world.other_visitor.last_page)],
              id(world.amina): [csrf_of(await world.bako.page("/inbox")),
                                csrf_of(await world.amina_again.page("/inbox"))],
              id(world.bako): [csrf_of(await world.amina_again.page("/inbox"))],
              id(world.cara): [csrf_of(await world.amina.page("/inbox"))],
              id(world.staff): [csrf_of(await world.amina.page("/inbox"))]}
    forged = []
    for browser in (world.visitor, world.amina, world.bako, world.cara, world.staff):
        for form in await forms_of(world, browser):
            assert any(n == "csrf" for n, _ in form.fields), form  # else a member cannot post
            forged.append((browser, form))
    reached = {await route_of(app, "POST", urlsplit(f.action).path) for _, f in forged}
    assert "" not in reached, [f.action for _, f in forged]
    assert sorted(web_routes(app, "POST") - reached - set(NO_FORM_HERE)) == []
    assert web_routes(app, "POST") - reached == set(NO_FORM_HERE)
    before = await quiet(world.client)
    for browser, form in forged:
        for csrf in (None, "", *others[id(browser)]):
            resp = await forge(browser, form, csrf)
            assert resp.status == 403, (form.action, csrf, resp.status)
    for path in NO_FORM_HERE:
        for browser in (world.visitor, world.amina):
            for csrf in (None, *others[id(browser)]):
                action = path.replace("{id}", world.message_id)
                resp = await forge(browser, Form(action, "post", "", [("code", "1")]), csrf)
                assert resp.status in (403, 401, 303), (path, resp.status)
                if resp.status == 303:  # a member's page: the visitor is sent to sign in
                    assert resp.headers["Location"].startswith("/signin"), path
                if browser is world.amina:
                    assert resp.status == 403, (path, csrf, resp.status)
    assert await snapshot(world.client) == before
    assert len(forged) > 30


# ---------------------------------------------------------------- session fixation

PLANTED = "attacker-chosen-session-value-0123456789abcdef"


def plant(browser: Browser, **cookies: str) -> None:
    """Cookies set in the browser for this site (as a script or a sibling site would)."""
    browser.session.cookie_jar.update_cookies(
        cookies, response_url=URL(str(browser.client.make_url("/"))))


async def test_a_planted_session_cookie_is_never_the_one_signed_in_with(
        client: Any, browsers: Callable[..., Browser]) -> None:
    """An unknown value is not adopted; a value the attacker holds (their own session) is
    replaced at sign-in and ends there; the pre-sign-in token does not outlive it."""
    await member(client, browsers, "amina")
    mallory = await member(client, browsers, "mallory")
    theirs = mallory.cookie("tm_session")
    assert theirs
    for planted in (PLANTED, theirs):
        victim = browsers()
        plant(victim, tm_session=planted)
        resp = await victim.get("/inbox", allow_redirects=False)
        assert resp.status in (200, 303)
        assert all(not h.startswith(f"tm_session={planted}")
                   for h in resp.headers.getall("Set-Cookie", []))
        before = csrf_of(await victim.page("/signin"))
        assert (await victim.sign_in("amina")).status == 303
        now = victim.cookie("tm_session")
        assert now and now != planted
        assert "Amina Trading Ltd" in await victim.page("/settings/profile")
        # The token of the page before sign-in does not work on a signed-in form.
        forged = await victim.post("/settings/notify", {"notify": "off"}, csrf=before)
        assert forged.status == 403
    # Mallory's planted session ended when Amina signed in over it.
    assert (await mallory.get("/inbox", allow_redirects=False)).status == 303
    stranger = browsers()
    plant(stranger, tm_session=PLANTED)
    assert (await stranger.get("/inbox", allow_redirects=False)).status == 303


async def test_the_second_step_starts_a_new_session_and_its_waiting_token_is_spent(
        client: Any, browsers: Callable[..., Browser], clock: FakeClock) -> None:
    cara = browsers()
    await cara.sign_up("cara")
    key, _ = await add_app(cara, clock)
    clock.advance(30)
    victim = browsers()
    plant(victim, tm_session=PLANTED, tm_pending=PLANTED)
    resp = await victim.sign_in("cara")
    assert resp.headers["Location"] == "/signin/verify"
    pending = victim.cookie("tm_pending")
    assert pending and pending != PLANTED
    assert victim.cookie("tm_session") in (None, PLANTED)  # no session on a password alone
    assert (await victim.get("/inbox", allow_redirects=False)).status == 303
    plant(victim, tm_session=PLANTED)  # again, just before the code is given
    resp = await victim.post("/signin/verify", {"code": totp(key, clock)},
                             form_page="/signin/verify")
    assert resp.status == 303 and resp.headers["Location"] == "/inbox"
    session = victim.cookie("tm_session")
    assert session and session not in (PLANTED, pending)
    assert not victim.cookie("tm_pending")
    # The waiting sign-in is spent: replayed in another browser it starts nothing.
    replay = browsers()
    plant(replay, tm_pending=pending)
    page = await replay.page("/signin")
    resp = await replay.post("/signin/verify", {"code": totp(key, clock, 30)},
                             csrf=csrf_of(page))
    assert resp.status == 303 and resp.headers["Location"].startswith("/signin?")
    assert not replay.cookie("tm_session")


# ---------------------------------------------------------------- open redirects

HOSTILE_NEXT = (
    "//evil.example", "https://evil.example/x", "/\\evil.example", "\\\\evil", "\\/evil.example",
    "/%2F%2Fevil.example", "%2F%2Fevil.example", "/%5Cevil.example", "javascript:alert(1)",
    "JaVaScRiPt:alert(1)", "data:text/html,<script>alert(1)</script>", "/@evil.example",
    "@evil.example", "http:evil.example", "https:/\\evil.example", "///evil.example",
    "/\t/evil.example", " //evil.example", "/\r\nLocation: https://evil.example",
    "/inbox\r\nSet-Cookie: tm_session=x", "/inbox%0d%0aSet-Cookie:%20x=1", "/.//evil.example",
    "/\u3000/evil.example", "/\uff0f\uff0fevil.example", "\u2215\u2215evil.example",
    "/signin?next=//evil.example", "evil.example", "", "/" + "a" * 3000,
)
SAFE_LOCATION = re.compile(r"/(?![/\\])[!-~]*\Z")  # a path of printable ASCII, no //host


async def lands_here(browser: Browser, location: str) -> None:
    """`location` stays on this site, and so does wherever it leads in turn."""
    for _ in range(3):
        assert SAFE_LOCATION.match(location) and "\\" not in location, location
        parts = urlsplit("https://trademail.test" + location)
        assert parts.netloc == "trademail.test", location
        resp = await browser.get(location, allow_redirects=False)
        if resp.status not in (301, 302, 303, 307, 308):
            return
        location = resp.headers["Location"]


async def test_no_return_address_leads_off_the_site(
        client: Any, browsers: Callable[..., Browser], clock: FakeClock) -> None:
    """After sign-in, after the second step, after filing a conversation, and on the way
    to sign-in: whatever `next` or `back` says, the browser lands on this site."""
    amina = await member(client, browsers, "amina")
    cara = browsers()
    await cara.sign_up("cara")
    key, _ = await add_app(cara, clock)
    visitor = browsers()
    for hostile in HOSTILE_NEXT:
        resp = await amina.sign_in("amina", next_path=hostile)
        assert resp.status == 303, hostile
        await lands_here(amina, resp.headers["Location"])
        form = parse_page(await amina.page("/signin?" + urlencode({"next": hostile}))).forms
        for name, value in form[0].fields:
            if name == "next":
                await lands_here(amina, value)
        resp = await amina.post("/threads/file", {"back": hostile, "action": "archive"},
                                form_page="/inbox")
        await lands_here(amina, resp.headers["Location"])
        resp = await visitor.get("/settings?" + urlencode({"next": hostile}),
                                 allow_redirects=False)
        await lands_here(visitor, resp.headers["Location"])
    for hostile in HOSTILE_NEXT[:12]:
        clock.advance(30)  # a fresh code each time
        second = browsers()
        resp = await second.sign_in("cara", next_path=hostile)
        await lands_here(second, resp.headers["Location"])
        verify_page = await second.page(resp.headers["Location"])
        fields = dict(parse_page(verify_page).forms[0].fields)
        resp = await second.post("/signin/verify", {"code": totp(key, clock),
                                                    "next": fields.get("next", hostile)},
                                 csrf=csrf_of(verify_page))
        assert resp.status == 303, await resp.text()
        await lands_here(second, resp.headers["Location"])
        resp = await second.post("/signin/verify", {"code": "1", "next": hostile},
                                 form_page="/inbox")  # signed in: a plain page, no escape
        assert resp.status in (303, 403, 422), resp.status
        if resp.status == 303:
            await lands_here(second, resp.headers["Location"])


# ---------------------------------------------------------------- stored XSS


def evil(tag: str) -> str:
    """Markup that would run or show an element of its own if a page let it through; its
    marker `xss-<tag>` must come back as text, never as an attribute."""
    return (f'"><b class=xss-{tag} onmouseover=alert(1)>x</b><script>alert(1)</script>'
            f"<img src=x onerror=alert(1)><a href=javascript:alert(1)>j</a>'")


def evil_html_mail(tag: str) -> str:
    return (f"<p>{tag}-visible</p><script>alert(1)</script><img src=x onerror=alert(1)>"
            f'<a href="javascript:alert(1)">j</a><iframe src="https://evil.example"></iframe>'
            f"&lt;b class=xss-{tag}&gt;")


LINK_ATTRS = ("href", "src", "action", "formaction", "srcset", "poster", "data", "xlink:href")


def assert_inert(page: str, path: str) -> PageParser:
    """Nothing injected survived as markup: no event handler, no script but the site's own
    file, no marker as an attribute, no URL of a scheme that runs or embeds."""
    parsed = parse_page(page)
    for tag, attrs in parsed.tags:
        if tag == "script":
            assert (dict(attrs).get("src") or "").startswith("/static/"), (path, attrs)
        assert tag not in ("iframe", "object", "embed", "base", "frame"), (path, tag)
        for name, value in attrs:
            assert not name.startswith("on"), (path, tag, name)
            assert "xss-" not in name, (path, tag, name)  # a marker is text, never markup:
            assert not any(t.startswith("xss-") for t in (value or "").split()), (path, tag)
            if name in LINK_ATTRS and value:
                scheme = re.sub(r"[\x00-\x20]", "", value).lower().partition(":")
                assert scheme[1] == "" or "/" in scheme[0] or scheme[0] in (
                    "http", "https", "mailto"), (path, tag, name, value)
    return parsed


async def shown(browser: Browser, path: str, *markers: str) -> None:
    """The page is inert, its CSP allows no inline script, and each marker is on it as text
    (so the field really is shown there)."""
    resp = await browser.get(path)
    page = await resp.text()
    assert resp.status == 200, (path, resp.status)
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp, path
    text = "".join(assert_inert(page, path).text)
    for marker in markers:
        assert marker in text, (path, marker)


@pytest.fixture
async def gw_browsers(gateway: Gateway) -> AsyncIterator[Callable[..., Browser]]:  # noqa: F811
    """Browsers against the whole server of `gateway` (its SMTP intake and relay too)."""
    made: list[Browser] = []

    def make() -> Browser:
        made.append(Browser(gateway.client))
        return made[-1]

    yield make
    for browser in made:
        await browser.close()


async def test_no_field_another_member_or_staff_reads_can_inject_markup(
        gateway: Gateway, gw_browsers: Callable[..., Browser]) -> None:  # noqa: F811
    """Subject, body, signature, company name, listings and attachment names from a member;
    sender name, subject, plain and HTML body and file name of mail from outside; report
    text: each rendered on every page Bako or TradeStaff reads it on, and inert there."""
    client = gateway.client
    amina = await member(client, gw_browsers, "amina", company="Amina " + evil("company"))
    bako = await member(client, gw_browsers, "bako")
    bako_alias = alias_of(await bako.page("/settings/aliases"))
    assert (await amina.post("/settings/signature", {"signature": evil("signature")},
                             form_page="/settings/signature")).status == 303
    await save(amina, "/listings/profile", {"about": evil("about"),
                                            "business_type": "manufacturer"})
    await save(amina, "/listings/products", {"name": "Cashew " + evil("product"),
                                             "description": evil("description"),
                                             "category": "agriculture"})
    await save(amina, "/listings/leads", {"kind": "sell", "title": "Cashew " + evil("lead"),
                                          "description": evil("leadtext"),
                                          "quantity": "20 t" + evil("qty")[:60],
                                          "category": "agriculture"})
    signed = re.search(r'<textarea[^>]*name="body"[^>]*>(.*?)</textarea>',
                       await amina.page("/compose"), re.S)  # the body starts signed
    assert signed and "xss-signature" in html.unescape(signed.group(1))
    await amina.send_file("bako", "Cashew " + evil("subject"),
                          "Cashew " + evil("body") + html.unescape(signed.group(1)),
                          evil("file")[:120] + ".txt", b"hello")
    mail = EmailMessage()
    mail["From"] = Address(display_name='Ext "><b class=xss-extname>', addr_spec="x@out.example")
    mail["To"] = bako_alias
    mail["Subject"] = "Pepper " + evil("extsubject")
    mail["Message-ID"] = make_msgid(domain="out.example")
    mail.set_content("Pepper " + evil("extbody"))
    mail.add_alternative(evil_html_mail("exthtml"), subtype="html")
    mail.add_attachment(b"x", maintype="text", subtype="plain",
                        filename=evil("extfile")[:120] + ".txt")
    code, reply = await gateway.deliver("x@out.example", [bako_alias], mail.as_bytes())
    assert code == 250, reply
    html_only = EmailMessage()
    html_only["From"], html_only["To"], html_only["Subject"] = "y@out.example", bako_alias, "Hi"
    html_only.set_content(evil_html_mail("exthtml"), subtype="html")
    assert (await gateway.deliver("y@out.example", [bako_alias], html_only.as_bytes()))[0] == 250
    await xss_pages(client, amina, bako, await staff_member(client, gw_browsers))


async def xss_pages(client: Any, amina: Browser, bako: Browser, staff: Browser) -> None:
    threads = {}
    for found in set(re.findall(r'href="/messages/([0-9a-f]{32})"', await bako.page("/inbox"))):
        page = await bako.page(f"/messages/{found}")
        threads[next(k for k in ("extsubject", "exthtml", "subject") if f"xss-{k}" in page
                     or f"{k}-visible" in page)] = found
    member = "company", "subject", "body"
    outside = "extname", "extsubject", "extbody"
    await shown(bako, "/inbox", *(f"xss-{k}" for k in member + outside))
    await shown(bako, f"/messages/{threads['subject']}",
                *(f"xss-{k}" for k in (*member, "signature", "file")))
    await shown(bako, f"/messages/{threads['extsubject']}",
                *(f"xss-{k}" for k in (*outside, "extfile")))
    await shown(bako, f"/messages/{threads['exthtml']}", "exthtml-visible", "xss-exthtml")
    await shown(bako, "/search?q=cashew", "xss-subject")
    await shown(bako, "/directory", "xss-company")
    await shown(bako, "/directory/amina", *(f"xss-{k}" for k in (
        "company", "about", "product", "description", "lead", "leadtext", "qty")))
    assert (await bako.post(f"/messages/{threads['subject']}/report", {"reason": evil("report")},
                            form_page=f"/messages/{threads['subject']}")).status == 303
    amina_id = await client.app[CORE].stores.db.fetchval(
        "SELECT id FROM members WHERE username = 'amina'")
    report = await client.app[CORE].stores.db.fetchval("SELECT id FROM reports")
    await shown(staff, f"/staff/members/{amina_id}", "xss-company")
    await shown(staff, "/staff/reports", "xss-report")
    await shown(staff, f"/staff/reports/{report}", *(f"xss-{k}" for k in (*member, "report")))
    await shown(amina, f"/messages/{threads['subject']}", "xss-subject")  # her own copy


# ---------------------------------------------------------------- headers on every answer


def assert_page_headers(resp: Any, what: str) -> None:
    headers = resp.headers
    assert headers.get("X-Frame-Options") == "DENY", what
    assert "frame-ancestors 'none'" in headers.get("Content-Security-Policy", ""), what
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("Referrer-Policy") == "no-referrer", what
    assert headers.get("Cache-Control") == "no-store", what


async def test_every_page_error_and_redirect_forbids_framing(world: World) -> None:
    for browser in (world.visitor, world.amina, world.staff):
        for paths in world.paths.values():
            for path in paths:
                resp = await browser.get(path, allow_redirects=False)
                assert_page_headers(resp, f"{path} {resp.status}")
    answers = [await world.visitor.get("/inbox", allow_redirects=False),  # to sign-in
               await world.amina.get("/staff", allow_redirects=False),  # not staff
               await world.amina.get("/nowhere"), await world.amina.get("/signout"),
               await world.amina.get("/messages/" + "0" * 32),
               await world.amina.session.post("/compose", data="x", allow_redirects=False,
                                              headers={"Content-Type": "multipart/form-data"}),
               await world.amina.session.post("/compose", allow_redirects=False)]
    statuses = [resp.status for resp in answers]
    assert statuses == [303, 403, 404, 405, 404, 400, 403], statuses
    for resp in answers:
        assert_page_headers(resp, str(resp.status))


# ---------------------------------------------------------------- header injection

INJECTED = "evil.example"


async def test_subjects_and_names_add_no_header_or_mail_to_a_notification(
        gateway: Gateway, gw_browsers: Callable[..., Browser]) -> None:  # noqa: F811
    """CR/LF is refused where a name or subject is typed; encoded words and folding stay
    text in the one notification the relay sends, to its one recipient."""
    client = gateway.client
    resp = await client.post("/api/v1/members", json={
        "username": "mallory", "password": PASSWORD, "email": "m@real-m.example",
        "company": "M\r\nBcc: x@evil.example", "country": "Kenya"})
    assert resp.status == 422 and resp.content_type == "application/problem+json"
    company = "Amina =?utf-8?q?=0D=0ABcc=3A_x=40evil.example?= Ltd"
    amina = await member(client, gw_browsers, "amina", company=company)
    await member(client, gw_browsers, "bako")
    subjects = ["Hi\r\nBcc: x@evil.example", "Hi\nTo: x@evil.example\n\nbody",
                "Hi\rX-Injected: 1"]
    for subject in subjects:
        resp = await amina.post("/compose", {"to": "bako", "subject": subject, "body": "x"},
                                form_page="/compose")
        assert resp.status == 422 and "one line" in await resp.text(), subject
    tricky = ("=?utf-8?q?Hi=0D=0ABcc=3A_x=40evil.example?= =?utf-8?b?DQpUbzogeEBldmlsLmV4YW1wbGU=?="
              " \t To: x@evil.example")
    await amina.send("bako", tricky, "Cashew")
    mails = await gateway.mails(1)  # the confirmations were taken: the notification alone
    assert len(mails) == 1, [m.rcpt_tos for m in mails]
    notice = mails[0]
    assert notice.rcpt_tos == ["bako@real-bako.example"]
    message = message_from_bytes(notice.data, policy=policy.default)
    head = notice.data.split(b"\r\n\r\n", 1)[0]
    assert b"\nbcc:" not in head.lower() and "Bcc" not in message
    assert [a.addr_spec for a in message["To"].addresses] == ["bako@real-bako.example"]
    assert "X-Injected" not in message and not message.defects
    for name, value in message.items():
        assert "\r" not in str(value) and "\n" not in str(value), name
        if name.lower() in ("to", "cc", "from", "reply-to", "sender"):
            assert all(INJECTED not in a.addr_spec for a in value.addresses), (name, value)
    assert "utf-8?q?Hi" in str(message["Subject"])  # the encoded words stay text
    assert "Amina" in str(message["From"]) and "Ltd via TradeMail" in str(message["From"])
