"""The access control matrix, checked through the real app on SQLite and PostgreSQL: every
route of the router x every role (visitor, free, premium, restricted, staff, unconfirmed,
half signed in, a token without the scope, expired or revoked tokens, a timed-out session,
banned, erased) x every object (own, another member's, nonexistent) gets the outcome
tests/accessmatrix.py says; and another member's mail stays out of reach through search,
cursors, idempotency keys and reply addresses."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, DummyCookieJar, FormData

from tests.accessmatrix import (
    API,
    API_OPEN,
    DEAD_ROLES,
    OBJECTS,
    OK,
    PUBLIC,
    ROLES,
    SESSION_ROLES,
    SIGNIN,
    TABLE,
    Route,
    expected,
    route_key,
)
from tests.browser_helpers import Browser, csrf_of
from tests.helpers import PASSWORD, Member, make_config, register
from tests.test_factors import add_app
from trademail.app import CORE
from trademail.appkeys import CONFIG
from trademail.config import Config
from trademail.testing import FakeClock

MISSING_ID = "0" * 32
ROLE_MEMBER = {"free": "fay", "premium": "pia", "restricted": "rex", "staff": "sam",
               "unconfirmed": "uma", "half_signed_in": "tess", "noscope": "nora",
               "expired_token": "eddie", "revoked_token": "rob", "timed_out": "tim",
               "banned": "ben", "erased": "erin"}
@pytest.fixture
def config(tmp_path: Path, store_url: str) -> Config:
    """No sending limits: the world sends a few hundred messages in a moment."""
    return make_config(tmp_path, store_url, **{
        f"TRADEMAIL_LIMITS_{name}": "0" for name in (
            "MEMBER_MESSAGES_PER_HOUR", "MEMBER_NEW_CORRESPONDENTS_PER_DAY",
            "NEW_ACCOUNT_MESSAGES_PER_HOUR", "NEW_ACCOUNT_NEW_CORRESPONDENTS_PER_DAY")})


# What every member can own; the banned and the erased made theirs while they could.
KINDS = ("message", "thread", "attachment", "draft", "token", "session", "block", "product",
         "lead", "webhook", "member", "member_id", "alias")
GONE = ("ben", "erin", "tess")  # tess: a token now needs her second factor


def test_every_route_has_a_row(client: Any) -> None:
    """A route added without a row in the table fails here (HEAD follows its GET)."""
    routes = _routes(client.app)
    missing = sorted(k for k in routes if k not in TABLE)
    stale = sorted(k for k in TABLE if k not in routes)
    assert not missing, f"routes without a row in tests/accessmatrix.py: {missing}"
    assert not stale, f"rows for routes that are gone: {stale}"


def _routes(app: Any) -> set[str]:
    found = set()
    for route in app.router.routes():
        resource = route.resource
        if route.method != "HEAD" and resource is not None:
            found.add(route_key(route.method, resource.canonical))
    return found


# ---------------------------------------------------------------- the world


@dataclass
class Actor:
    """How a role asks: its cookies, CSRF token and bearer token (any may be missing), and
    the member whose objects are its own, with a token that can still make them."""

    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str = ""
    token: str | None = None
    scoped_tokens: dict[str, str] = field(default_factory=dict)
    member: Member | None = None


class World:
    def __init__(self, client: Any, clock: FakeClock) -> None:
        self.client = client
        self.clock = clock
        self.actors: dict[str, Actor] = {}
        self.members: dict[str, Member] = {}
        self.objects: dict[tuple[str, str], str] = {}
        self.browsers: list[Browser] = []
        self.http = ClientSession(base_url=str(client.make_url("/")),
                                  cookie_jar=DummyCookieJar())
        self.core = client.app[CORE]

    async def close(self) -> None:
        await self.http.close()
        for browser in self.browsers:
            await browser.close()

    # ---------------------------------------------------------- members and sessions

    async def member(self, name: str, **kw: Any) -> Member:
        self.members[name] = await register(self.client, name, **kw)
        return self.members[name]

    async def member_id(self, name: str) -> str:
        found = await self.core.stores.members.member_by_username(name)
        return str(found.id)

    async def browser(self, name: str | None) -> Browser:
        browser = Browser(self.client)
        self.browsers.append(browser)
        if name is not None:
            assert (await browser.sign_in(name)).status == 303
        return browser

    async def session_actor(self, name: str) -> Actor:
        browser = await self.browser(name)
        page = await browser.page("/settings")
        return Actor(cookies=_cookies(browser), csrf=csrf_of(page),
                     token=self.members[name].token, member=self.members[name])

    async def session_ids(self, name: str) -> set[str]:
        rows = await self.core.stores.sessions.sessions_of(await self.member_id(name))
        return {row.id for row in rows}

    async def api(self, method: str, path: str, member: Member, **kw: Any) -> Any:
        resp = await self.client.request(method, path, headers=member.auth, **kw)
        assert resp.status in (200, 201, 204), (path, resp.status, await resp.text())
        return await resp.json() if resp.status != 204 else None

    # ---------------------------------------------------------- objects

    async def make(self, owner: str, kind: str, sender: str = "wes") -> str:
        """A new object of `kind` that is `owner`'s own (a message: from `sender`)."""
        member = self.members[owner]
        if kind in ("message", "thread", "attachment"):
            form = FormData()
            for key, value in (("to", owner), ("subject", "Sesame offer"),
                               ("body", f"Sesame for {owner}")):
                form.add_field(key, value)
            form.add_field("attachments", b"price list", filename="prices.txt",
                           content_type="text/plain")
            sent = await self.api("POST", "/api/v1/messages", self.members[sender], data=form)
            return {"message": sent["id"], "thread": sent["thread_id"],
                    "attachment": f"{sent['id']}/attachments/1"}[kind]
        if kind == "draft":
            return str((await self.api("POST", "/api/v1/drafts", member, json={
                "to": "wes", "subject": "Draft", "body": "Later"}))["id"])
        if kind == "token":
            resp = await self.client.post("/api/v1/tokens", json={
                "username": owner, "password": PASSWORD, "name": "spare"})
            assert resp.status == 201, await resp.text()
            return str((await resp.json())["id"])
        if kind == "session":
            before = await self.session_ids(owner)
            await self.browser(owner)
            (made,) = await self.session_ids(owner) - before
            return made
        if kind == "block":  # zoe, blocked already when the last one was not removed
            await self.client.post("/api/v1/me/blocks", headers=member.auth,
                                   json={"who": "zoe", "mode": "refuse"})
            blocks = await self.api("GET", "/api/v1/me/blocks", member)
            return str(blocks["items"][0]["id"])
        if kind == "product":
            return str((await self.api("POST", "/api/v1/me/products", member, json={
                "name": "Sesame", "description": "Hulled", "category": "agriculture"}))["id"])
        if kind == "lead":
            return str((await self.api("POST", "/api/v1/me/leads", member, json={
                "kind": "buy", "title": "Wanted: sesame", "category": "agriculture",
                "expires_in_days": 5}))["id"])
        if kind == "webhook":
            return str((await self.api("POST", "/api/v1/webhooks", member, json={
                "url": f"https://hooks.{owner}.example.com/in"}))["id"])
        if kind == "member":
            return owner
        if kind == "alias":
            return member.alias
        if kind == "member_id":
            return await self.member_id(owner)
        raise AssertionError(f"no maker for {kind}")

    async def own(self, owner: str, kind: str, fresh: bool, sender: str = "wes") -> str | None:
        if kind in ("flag", "report", "unsubscribe") or (kind == "factor" and owner != "tess"):
            return None  # not a member's own thing (staff's queues, a mailed link), or none
        key = (owner, kind)
        if owner in GONE:
            return self.objects.get(key)
        if fresh or key not in self.objects:
            self.objects[key] = await self.make(owner, kind, sender)
        return self.objects[key]


def _cookies(browser: Browser) -> dict[str, str]:
    return {cookie.key: cookie.value for cookie in browser.session.cookie_jar}


async def build(world: World) -> None:
    """The members behind every role, made dead in their own way, and another member's
    object of every kind."""
    client, clock = world.client, world.clock
    for name in ("vera", "wes", "yan", "zoe", "fay", "pia", "rex", "nora", "eddie", "rob", "tim",
                 "ben", "erin", "tess"):
        await world.member(name)
    await world.member("uma", confirmed=False)
    await world.core.market.operator.create_staff(
        username="sam", password=PASSWORD, email="sam@staff.example", company="TradeStaff",
        country="Kenya")
    world.members["sam"] = await _token_of(client, "sam")
    staff = await world.core.market.moderation.staff(await world.member_id("sam"))
    moderation = world.core.market.moderation
    await moderation.set_tier(staff, await world.member_id("pia"), "premium", "paid plan")
    await moderation.set_status(staff, await world.member_id("rex"), "restricted", "spam")

    # Dead roles: what they held while it worked.
    visitor = await world.browser(None)
    visitor_csrf = csrf_of(await visitor.page("/signin"))
    world.actors["visitor"] = Actor(cookies=_cookies(visitor), csrf=visitor_csrf)
    tim = await world.session_actor("tim")
    clock.advance(client.app[CONFIG].auth.idle_timeout_seconds + 1)
    world.actors["timed_out"] = Actor(cookies=tim.cookies | _cookies(visitor),
                                      csrf=visitor_csrf, member=tim.member)
    for name in GONE:  # theirs before they go: never made again
        for kind in KINDS:
            world.objects[(name, kind)] = await world.make(name, kind)
    for role in SESSION_ROLES:
        world.actors[role] = await world.session_actor(ROLE_MEMBER[role])
    ben = await world.session_actor("ben")
    await moderation.set_status(staff, await world.member_id("ben"), "banned", "fraud")
    erin = await world.session_actor("erin")
    resp = await client.delete("/api/v1/me", headers=world.members["erin"].auth,
                               json={"password": PASSWORD})
    assert resp.status == 204, await resp.text()
    for role, was in (("banned", ben), ("erased", erin)):
        world.actors[role] = Actor(cookies=was.cookies | _cookies(visitor), csrf=visitor_csrf,
                                   token=was.token, member=was.member)
    expiring = await client.post("/api/v1/tokens", json={
        "username": "eddie", "password": PASSWORD, "expires_in": 60})
    world.actors["expired_token"] = Actor(cookies=_cookies(visitor), csrf=visitor_csrf,
                                          token=(await expiring.json())["token"],
                                          member=world.members["eddie"])
    rob = world.members["rob"]
    revoked = await client.post("/api/v1/tokens", json={"username": "rob",
                                                         "password": PASSWORD})
    revoked_json = await revoked.json()
    await world.api("DELETE", f"/api/v1/tokens/{revoked_json['id']}", rob)
    world.actors["revoked_token"] = Actor(cookies=_cookies(visitor), csrf=visitor_csrf,
                                          token=revoked_json["token"], member=rob)
    nora = world.members["nora"]
    scoped = {}
    for scope in ("directory:read", "messages:read"):
        resp = await client.post("/api/v1/tokens", json={
            "username": "nora", "password": PASSWORD, "scopes": [scope]})
        scoped[scope] = (await resp.json())["token"]
    world.actors["noscope"] = Actor(cookies=_cookies(visitor), csrf=visitor_csrf,
                                    scoped_tokens=scoped, member=nora)
    world.actors["half_signed_in"] = await _half_signed_in(world)
    clock.advance(61)  # eddie's token is past its time; nobody else's is
    await _others(world, staff)


async def _token_of(client: Any, name: str) -> Member:
    resp = await client.post("/api/v1/tokens", json={"username": name, "password": PASSWORD})
    assert resp.status == 201, await resp.text()
    token = (await resp.json())["token"]
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    alias = (await me.json())["aliases"][0]["address"]
    return Member(name, f"{name}@staff.example", token, alias)


async def _half_signed_in(world: World) -> Actor:
    """Tess has an authenticator app: her browser gave the password and stops there."""
    tess = await world.browser("tess")
    await add_app(tess, world.clock)
    factors = await world.core.stores.factors.factors_of(await world.member_id("tess"))
    world.objects[("tess", "factor")] = factors[0].id
    half = await world.browser(None)
    resp = await half.sign_in("tess")
    assert resp.status == 303 and resp.headers["Location"].startswith("/signin/verify")
    page = await half.page("/signin/verify")
    return Actor(cookies=_cookies(half), csrf=csrf_of(page), member=world.members["tess"])


async def _others(world: World, staff: Any) -> None:
    """Vera's objects of every kind: another member's, for everybody else."""
    other = world.objects
    for kind in KINDS:
        other[("vera", kind)] = await world.make("vera", kind)
    other[("vera", "factor")] = other[("tess", "factor")]
    other[("vera", "member")] = "wes"  # listed in the directory: vera's flag unlists her
    other[("vera", "alias")] = world.members["vera"].alias
    wes = world.members["wes"]
    sent = await world.api("POST", "/api/v1/messages", world.members["vera"], json={
        "to": ["wes"], "subject": "Spam", "body": "Buy now"})
    reported = await world.api("POST", f"/api/v1/messages/{sent['id']}/report", wes,
                               json={"reason": "spam offer"})
    other[("vera", "report")] = str(reported["id"])
    await world.api("POST", "/api/v1/me/products", world.members["vera"], json={
        "name": "Cashews", "description": "Call +254 712 345 678 now",
        "category": "agriculture"})
    flag = await world.core.stores.db.fetchval("SELECT id FROM listing_flags LIMIT 1")
    assert flag is not None
    other[("vera", "flag")] = str(flag)
    del staff


# ---------------------------------------------------------------- asking


def _path(canonical: str, value: str | None) -> str:
    if value is None:
        return canonical.replace("{folder}", "inbox").replace("{section}", "profile") \
            .replace("{token}", "u" * 43)
    if "/attachments/{n}" in canonical:
        message_id, _, n = value.partition("/attachments/")
        return canonical.replace("{id}", message_id).replace("{n}", n or "1")
    return re.sub(r"\{(id|username|token)\}", value, canonical)


async def ask(world: World, key: str, route: Route, role: str, value: str | None) -> Any:
    method, canonical = key.split(" ", 1)
    if canonical == "/static":
        canonical = "/static/app.js"
    actor = world.actors[role]
    headers = {}
    if actor.cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in actor.cookies.items())
    token = actor.token
    if role == "noscope":
        token = actor.scoped_tokens["messages:read" if route.needs == "directory:read"
                                    else "directory:read"]
    if token:  # sent to every door: a token must not open a web page
        headers["Authorization"] = f"Bearer {token}"
    kw: dict[str, Any] = {"allow_redirects": False, "headers": headers}
    if route.body_field is not None:
        route = replace(route, body={**(route.body or {}), route.body_field: value})
        value = None
    if route.door in (API, API_OPEN):
        if route.body is not None:
            kw["json"] = route.body
    else:
        if actor.csrf:
            headers["X-CSRF-Token"] = actor.csrf
        if method == "POST":
            kw["data"] = route.body or {}
    return await world.http.request(method, _path(canonical, value), **kw)


def matches(outcome: str, resp: Any) -> bool:
    location = resp.headers.get("Location", "")
    to_signin = resp.status in (302, 303) and location.startswith("/signin")
    if outcome == SIGNIN:
        return to_signin
    if outcome == OK:
        return resp.status < 500 and resp.status not in (401, 403, 404, 405) and not to_signin
    return str(resp.status) in outcome.split("|")


def cases(world: World) -> list[tuple[str, Route, str, str | None]]:
    """(route, role, object) of the whole table; reads before writes, and what ends a
    session last."""
    found = []
    for key, route in TABLE.items():
        for role in ROLES:
            objects: tuple[str | None, ...] = OBJECTS if route.obj else (None,)
            for obj in objects:
                found.append((key, route, role, obj))
    return sorted(found, key=_order)


def _order(case: tuple[str, Route, str, str | None]) -> tuple[int, str]:
    ends_sessions = case[0] in ("POST /signout", "POST /settings/sessions/end-others")
    return (2 if ends_sessions else 0 if case[0].startswith("GET ") else 1), case[0]


async def object_for(world: World, key: str, route: Route, role: str,
                     obj: str | None) -> tuple[bool, str | None]:
    """(whether the case applies, the `{id}` to ask about)."""
    if obj is None:
        return True, None
    if obj == "missing":
        return True, {"member": "nobody-here", "alias": "nobody-here@relay.localhost"}.get(
            str(route.obj), MISSING_ID)
    if obj == "other":
        value = world.objects.get(("vera", str(route.obj)))
        return value is not None, value
    member = world.actors[role].member
    if member is None or (route.door in (PUBLIC, API_OPEN) and role in DEAD_ROLES):
        return False, None
    fresh = not key.startswith("GET ") and role in (*SESSION_ROLES, "noscope")
    # Blocking the sender of one's own message: a sender nobody needs afterwards.
    sender = "yan" if key.endswith("/block") else "wes"
    value = await world.own(member.username, str(route.obj), fresh, sender)
    return value is not None, value


async def check_matrix(client: Any, clock: FakeClock) -> list[str]:
    world = World(client, clock)
    wrong = []
    try:
        await build(world)
        for key, route, role, obj in cases(world):
            applies, value = await object_for(world, key, route, role, obj)
            if not applies:
                continue
            want = expected(route, role, obj)
            resp = await ask(world, key, route, role, value)
            if not matches(want, resp):
                stream = resp.content_type == "text/event-stream"  # never ends: unread
                text = "(stream)" if stream else (await resp.text())[:160].replace("\n", " ")
                wrong.append(f"{key} as {role} on {obj}: want {want}, got {resp.status} "
                             f"{resp.headers.get('Location', '')} {text}")
            resp.close()  # a live stream is left, not read to its end
    finally:
        await world.close()
    return wrong


async def test_the_access_matrix(client: Any, clock: FakeClock) -> None:
    wrong = await check_matrix(client, clock)
    assert not wrong, f"{len(wrong)} cases differ from the table:\n" + "\n".join(wrong)

