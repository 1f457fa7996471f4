"""The leak scanner: members with recognisable addresses and secrets, every door driven as
the owner, another member, staff, a visitor and an outsider, and everything that came back
(responses, cookies, mails, webhooks, debug logs, `trademail config`, the database files
and a PostgreSQL dump) searched for what that viewer must not see."""

from __future__ import annotations

import asyncio
import html
import json
import logging
import os
import secrets
import shutil
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import pytest
import structlog
from aiohttp import FormData, web
from aiohttp.test_utils import make_mocked_request

from tests.browser_helpers import Browser, csrf_of
from tests.conftest import PG_DSN, REQUIRE_PG
from tests.helpers import Member, jobs_done, link_token, register, take_mail
from tests.leakscan import (
    CONFIG_OUTPUT,
    DATABASE,
    LOG,
    OUTSIDER,
    VISITOR,
    WEBHOOK,
    Capture,
    Finding,
    Secret,
    Secrets,
    readable_mail,
    response_bytes,
    scan,
    unseen,
)
from tests.smtp_helpers import Captured, Smarthost
from tests.test_factors import CODES, SECRET, SETUP, totp
from tests.test_gateway import (  # noqa: F401 - fixtures are used by name
    Gateway,
    dsn,
    gateway,
    mail_bytes,
    parse,
    reply_address,
)
from trademail import logs
from trademail.app import CORE
from trademail.config import Config
from trademail.crypto.aead import Key
from trademail.gateway.webhooks import AiohttpWebhookSender
from trademail.services import validation
from trademail.services.delivery import Webhook
from trademail.services.sending import Sending
from trademail.store import OutboxRow
from trademail.testing import FakeClock
from trademail.web.settings import SECTIONS

STAFF = "sasha"


class KeepingSmarthost(Smarthost):
    """A smarthost that also keeps what tests take from `mails` (confirmation links)."""

    def __init__(self) -> None:
        super().__init__()
        self.kept: list[Captured] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if reply.startswith("250"):
            self.kept.append(self.mails[-1])
        return reply


@pytest.fixture
async def smarthost() -> AsyncIterator[KeepingSmarthost]:
    host = KeepingSmarthost()
    await host.start()
    try:
        yield host
    finally:
        await host.stop()


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], list[str]]]:
    """Every log line of the test so far at DEBUG, with the stdlib levels the server sets
    for itself (`logs.configure_logging`, its structlog half left to the capture)."""
    mail_log = logging.getLogger("mail.log")
    before = mail_log.level
    with monkeypatch.context() as patch:
        patch.setattr(structlog, "configure", lambda **kw: None)
        logs.configure_logging("debug", "json")
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as events:

        def read() -> list[str]:
            assert events and caplog.records, "no log line was captured"
            # aiohttp's own access log (full paths, query strings) is the test server's:
            # `trademail serve` runs with access_log=None and logs routes (web/observe.py).
            return [*map(repr, events), *(
                f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}"
                for r in caplog.records if r.name != "aiohttp.access")]

        yield read
    mail_log.setLevel(before)


# -------------------------------------------------------------------- driving the doors


@dataclass
class World:
    """The running server, the secrets planted in it and everything it gave back."""

    gw: Gateway
    secrets: Secrets = field(default_factory=Secrets)
    captures: list[Capture] = field(default_factory=list)
    hits: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    members: dict[str, Member] = field(default_factory=dict)
    browsers: dict[str, Browser] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    async def _record(self, viewer: str, method: str, path: str, resp: Any) -> bytes:
        body = await resp.read()
        self.captures.append(Capture(viewer, f"{method} {path} ({resp.status})",
                                     response_bytes(resp.status, resp.raw_headers, body)))
        match = await self.gw.app.router.resolve(make_mocked_request(method, path,
                                                                     app=self.gw.app))
        route = getattr(match, "route", None)
        if route is not None and route.resource is not None and match.http_exception is None:
            self.hits.setdefault((route.method, route.resource.canonical), set()).add(
                resp.status)
        return body

    async def api(self, viewer: str, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        """A request to the API as `viewer` (their bearer token, none for a visitor)."""
        headers = dict(kw.pop("headers", {}))
        if viewer in self.members:
            headers.setdefault("Authorization", f"Bearer {self.members[viewer].token}")
        resp = await self.gw.client.request(method, path, headers=headers,
                                            allow_redirects=False, **kw)
        body = await self._record(viewer, method, path, resp)
        return resp.status, body

    async def json(self, viewer: str, method: str, path: str, status: int = 200,
                   **kw: Any) -> Any:
        got, body = await self.api(viewer, method, path, **kw)
        assert got == status, (method, path, got, body[:500])
        return json.loads(body) if body else None

    async def web(self, viewer: str, method: str, path: str, data: Any = None, *,
                  csrf: str | None = None, form_page: str | None = None,
                  browser: Browser | None = None) -> tuple[int, str]:
        """A browser request as `viewer` (their cookies, or another browser of theirs); a
        form post carries the CSRF token of `form_page` unless `csrf` is given."""
        browser = browser or self.browsers[viewer]
        if method == "GET":
            resp = await browser.get(path, allow_redirects=False)
        else:
            resp = await browser.post(path, data, csrf=csrf, form_page=form_page)
        body = await self._record(viewer, method, path, resp)
        if resp.content_type == "text/html":
            browser.last_page = body.decode(errors="replace")
        return resp.status, body.decode(errors="replace")

    async def smtp(self, mail_from: str, rcpts: list[str], data: bytes) -> int:
        """One SMTP transaction from outside; what the gateway answered is the sender's."""
        code, text = await self.gw.deliver(mail_from, rcpts, data)
        self.captures.append(Capture(OUTSIDER, f"SMTP reply to {rcpts}", text.encode()))
        return code

    async def settled(self) -> None:
        """Wait (on real I/O) until the relay has delivered or given up every mail."""
        db = self.gw.app[CORE].stores.db
        deadline = asyncio.get_running_loop().time() + 15
        while await db.fetchval("SELECT COUNT(*) FROM outbox WHERE state = 'pending' AND "
                                "kind <> 'webhook' AND (attempts = 0 OR claimed_until IS NOT "
                                "NULL)"):
            assert asyncio.get_running_loop().time() < deadline, "the relay did not settle"
            await asyncio.sleep(0.02)


def marker(kind: str) -> str:
    return f"{kind}-{secrets.token_hex(6)}"


async def _member(world: World, name: str) -> Member:
    """A member with an address, a password and a token of their own, signed in to a
    browser too (its cookies are theirs alone)."""
    email = world.secrets.add(f"{name}.address", f"leak-{secrets.token_hex(5)}@"
                              f"real-{secrets.token_hex(4)}.example", name)
    local, domain = email.split("@")
    world.secrets.add(f"{name}.address local part", local, name)
    # The owner and staff see the address masked (j•••@domain): the domain, no more.
    world.secrets.add(f"{name}.address domain", domain, name, STAFF)
    password = world.secrets.add(f"{name}.password", f"pw {secrets.token_hex(8)} harbour")
    member = await register(world.gw.client, name, email=email, password=password)
    world.secrets.add(f"{name}.token", member.token)
    world.members[name] = member
    browser = world.browsers[name] = Browser(world.gw.client, https=True)
    await world.web(name, "GET", "/signin")
    assert (await world.web(name, "POST", "/signin", {"username": name,
                                                      "password": password}))[0] == 303
    for cookie in browser.session.cookie_jar:
        if len(cookie.value) >= 16:
            world.secrets.add(f"{name}.cookie {cookie.key}", cookie.value, name)
    return member


async def _staff(world: World) -> None:
    # Staff get no mail here, and their own settings show their address masked.
    email = world.secrets.add("staff.address", f"staff-{secrets.token_hex(5)}@real-"
                              f"{secrets.token_hex(4)}.example")
    password = world.secrets.add("staff.password", f"pw {secrets.token_hex(8)} crane")
    await world.gw.app[CORE].market.operator.create_staff(
        username=STAFF, password=password, email=email, company="TradeStaff", country="Kenya")
    browser = world.browsers[STAFF] = Browser(world.gw.client, https=True)
    assert (await browser.sign_in(STAFF, password)).status == 303
    world.browsers[VISITOR] = Browser(world.gw.client, https=True)


async def _two_step(world: World, clock: FakeClock) -> None:
    """Amina adds an authenticator app: its key and recovery codes are hers alone."""
    password = next(s.value for s in world.secrets.items if s.label == "amina.password")
    status, page = await world.web("amina", "GET", "/settings/two-step")
    setup, key = SETUP.search(page), SECRET.search(page)
    assert status == 200 and setup and key
    world.secrets.add("amina.totp key as shown", key.group(1), "amina")
    secret = key.group(1).replace(" ", "")
    world.secrets.items.append(Secret("amina.totp key", secret, frozenset()))
    status, text = await world.web("amina", "POST", "/settings/totp", {
        "setup": html.unescape(setup.group(1)), "code": totp(secret, clock), "name": "Phone",
        "password": password}, csrf=csrf_of(page))
    assert status in (200, 303), text
    codes = CODES.findall(text)
    assert codes
    for n, code in enumerate(codes):
        world.secrets.add(f"amina.recovery code {n}", code, "amina")
    clock.advance(30)
    # Signing in on another browser now waits for the second step.
    other = world.browsers["amina on a phone"] = Browser(world.gw.client, https=True)
    await world.web("amina", "GET", "/signin", browser=other)
    status, _ = await world.web("amina", "POST", "/signin", {
        "username": "amina", "password": password}, browser=other)
    assert status == 303
    assert (await world.web("amina", "GET", "/signin/verify", browser=other))[0] == 200
    assert (await world.web("amina", "POST", "/signin/verify", {"code": totp(secret, clock)},
                            browser=other))[0] == 303


async def _webhook(world: World) -> None:
    """Amina's webhook: its secret is hers, shown once."""
    hook = await world.json("amina", "POST", "/api/v1/webhooks", 201, json={
        "url": "https://erp.amina.example/hook"})
    world.secrets.add("amina.webhook secret", hook["secret"], "amina")
    world.ids["webhook"] = hook["id"]


async def _messages(world: World) -> None:
    """Amina writes to Bakari with a file; he answers by mail and on the web."""
    bakari = world.members["bakari"]
    parties = ("amina", "bakari", STAFF)  # staff read this conversation: Bakari reports it
    form = FormData()
    form.add_field("to", bakari.alias)
    form.add_field("subject", world.secrets.add("subject 1", marker("subj"), *parties))
    form.add_field("body", "Price: " + world.secrets.add("body 1", marker("body"), *parties))
    form.add_field("attachments", world.secrets.add("file 1", marker("filebytes") * 20,
                                                    *parties).encode(),
                   filename="offer.txt", content_type="text/plain")
    sent = await world.json("amina", "POST", "/api/v1/messages", 201, data=form)
    world.ids.update(message=sent["id"], thread=sent["thread_id"])
    await world.settled()
    note = next(m for m in world.gw.smarthost.mails if bakari.email in m.rcpt_tos)
    to_bakari = parse(note.data)
    world.ids["unsubscribe"] = to_bakari["List-Unsubscribe"].strip("<>").rsplit("/", 1)[1]
    answer = mail_bytes(sender=bakari.email, to=reply_address(to_bakari), subject="Re: offer",
                        body="By mail: " + world.secrets.add("body 2", marker("body"),
                                                             *parties)
                        + f"\nWrite to me at {bakari.email} any time.")
    assert await world.smtp(bakari.email, [reply_address(to_bakari)], answer) == 250
    # Anyone else writing to that reply address is refused (and Bakari told).
    forged = mail_bytes(sender="forger@forger.example", to=reply_address(to_bakari),
                        subject="x", body="pay here")
    await world.smtp("forger@forger.example", [reply_address(to_bakari)], forged)
    status, _ = await world.web("bakari", "POST", "/compose", {
        "in_reply_to": sent["id"], "subject": "Re: offer",
        "body": "On the web: " + world.secrets.add("body 3", marker("body"), *parties)},
        form_page=f"/messages/{sent['id']}")
    assert status == 303
    # A bounce of Bakari's notification names his address: the DSN is the relay's alone.
    await world.smtp("", [note.mail_from], dsn(to=note.mail_from, failed=bakari.email,
                                               action="delayed", status="4.4.1"))


async def _refused(world: World) -> None:
    """The smarthost refuses a notification naming Bakari's address, as Postfix does."""
    bakari = world.members["bakari"]
    world.gw.smarthost.reply = (f"550 5.1.1 <{bakari.email}>: Recipient address rejected: "
                                "User unknown in virtual mailbox table")
    try:
        await world.json("amina", "POST", "/api/v1/messages", 201, json={
            "to": [bakari.alias], "subject": "again", "body": "Another offer."})
        await world.settled()
    finally:
        world.gw.smarthost.reply = "250 OK"


async def _outside(world: World) -> None:
    """An outsider writes to Amina's alias; she answers from it."""
    amina = world.members["amina"]
    outsider = world.secrets.add("outsider.address", f"olu-{secrets.token_hex(5)}@buyer-"
                                 f"{secrets.token_hex(3)}.example", "amina", OUTSIDER)
    mail = mail_bytes(sender=outsider, name="Olu Buyer", to=amina.alias,
                      subject=world.secrets.add("subject 4", marker("subj"), "amina", OUTSIDER),
                      body=world.secrets.add("body 4", marker("body"), "amina", OUTSIDER))
    assert await world.smtp(outsider, [amina.alias], mail) == 250
    listed = await world.json("amina", "GET", "/api/v1/messages")
    theirs = next(m for m in listed["messages"] if m["from"].get("external"))
    world.ids["outside"] = theirs["id"]
    await world.json("amina", "POST", "/api/v1/messages", 201, json={
        "in_reply_to": theirs["id"], "subject": "Re: enquiry",
        "body": world.secrets.add("body 5", marker("body"), "amina", OUTSIDER)})


async def _reset(world: World) -> None:
    """Bakari asks for a password reset: the link mailed to him is his alone."""
    await world.json(VISITOR, "POST", "/api/v1/password-resets", 202,
                     json={"account": "bakari"})
    await jobs_done(world.gw.client)
    await world.settled()
    text = await take_mail(world.gw.client, world.members["bakari"].email, "/password/reset")
    token = world.secrets.add("bakari.reset token", link_token(text, "/password/reset"),
                              "bakari")
    await world.web("bakari", "GET", f"/password/reset?token={token}")  # his link, his tab


async def _belongings(world: World) -> None:
    """Amina's draft, signature, listings, webhook, token and block; Bakari's report."""
    draft = await world.json("amina", "POST", "/api/v1/drafts", 201, json={
        "to": world.members["bakari"].alias, "subject": "draft",
        "body": world.secrets.add("draft", marker("draft"), "amina")})
    world.ids["draft"] = draft["id"]
    await world.json("amina", "PUT", "/api/v1/me/signature", json={
        "signature": "Amina desk"})
    await world.json("amina", "PUT", "/api/v1/me/profile", json={
        "description": "We export cashews and sesame from Mombasa."})
    product = await world.json("amina", "POST", "/api/v1/me/products", 201, json={
        "name": "Cashew kernels", "description": "W320 grade", "category": "agriculture"})
    lead = await world.json("amina", "POST", "/api/v1/me/leads", 201, json={
        "kind": "sell", "title": "Offer: sesame seeds", "category": "agriculture",
        "expires_in_days": 30})
    block = await world.json("amina", "POST", "/api/v1/me/blocks", 201, json={
        "who": "ghost-" + secrets.token_hex(3) + "@spam.example", "mode": "refuse"})
    report = await world.json("bakari", "POST", f"/api/v1/messages/{world.ids['message']}/report",
                              201, json={"reason": "asks for payment outside"})
    tokens = await world.json("amina", "GET", "/api/v1/tokens")
    world.ids.update(product=product["id"], lead=lead["id"], block=block["id"],
                     report=report.get("id", "0" * 32), token=tokens["tokens"][0]["id"])


# Routes a viewer meets only through what the scenario above does with them, or never
# sensibly without a server of their own: each with why it is not walked.
NOT_WALKED = {
    ("GET", "/events"): "a stream that stays open: it says which folder changed, no content",
}
# Which of the scenario's objects a route's {id} names, by the path it sits under.
ID_OF = (("/threads/", "thread"), ("/conversations/", "thread"), ("/tokens/", "token"),
         ("/webhooks/", "webhook"), ("/drafts/", "draft"), ("/products/", "product"),
         ("/leads/", "lead"), ("/blocks/", "block"), ("/staff/members/", "amina_id"),
         ("/staff/reports/", "report"), ("/messages/", "message"))


def routes_of(app: web.Application) -> set[tuple[str, str]]:
    """(method, route) of every route of the app and its sub-apps, HEAD aside (aiohttp
    answers it with the GET handler)."""
    return {(r.method, r.resource.canonical) for r in app.router.routes()
            if r.method != "HEAD" and r.resource is not None}


def paths_of(route: str, ids: dict[str, str]) -> list[str]:
    """The concrete paths a route is walked at: Amina's objects in its placeholders."""
    if route == "/static":
        return ["/static/app.css"]
    if "{section}" in route:
        return [route.replace("{section}", s) for s in SECTIONS]
    if "{folder}" in route:
        return [route.replace("{folder}", f) for f in ("inbox", "sent", "archive")]
    ident = next((ids.get(key, "0" * 32) for prefix, key in ID_OF if prefix in route), "0" * 32)
    return [route.replace("{id}", ident).replace("{n}", "1").replace("{username}", "amina")
            .replace("{token}", ids["unsubscribe"])]


async def _walk(world: World) -> None:
    """Every route: GETs as the owner, another member, staff and a visitor; every other
    method as a visitor and as another member with a forged CSRF token or broken JSON."""
    for method, route in sorted(routes_of(world.gw.app)):
        if (method, route) in NOT_WALKED:
            continue
        api = route.startswith("/api/")
        for path in paths_of(route, world.ids):
            if method == "GET" and api:
                for viewer in ("amina", "bakari", VISITOR):
                    await world.api(viewer, method, path)
            elif method == "GET":
                for viewer in ("amina", "bakari", STAFF, VISITOR):
                    await world.web(viewer, method, path)
            elif api:
                await world.api(VISITOR, method, path)
                if "{" in route:
                    await world.api("bakari", method, path, data=b"{not json",
                                    headers={"Content-Type": "application/json"})
            else:
                await world.web(VISITOR, method, path, {}, csrf="forged")
                await world.web("bakari", method, path, {"x": "y"}, csrf="forged")


async def _errors(world: World) -> None:
    """Error pages: not found, wrong method, too large, bad CSRF, bad JSON."""
    for viewer in ("amina", VISITOR):
        await world.web(viewer, "GET", "/no/such/page")
        await world.api(viewer, "GET", "/api/v1/no-such-thing")
        await world.api(viewer, "PATCH", "/api/v1/me")
        await world.api(viewer, "PUT", "/signin")
        await world.api(viewer, "POST", "/api/v1/messages", data=b"{",
                        headers={"Content-Type": "application/json"})
    status, _ = await world.api("amina", "POST", "/api/v1/messages", data=b"x" * (4 << 20),
                                headers={"Content-Type": "application/json"})
    assert status == 413
    status, _ = await world.web("amina", "POST", "/settings/password", {"password": "x"},
                                csrf="forged")
    assert 400 <= status < 500


async def _webhook_posts(world: World, aiohttp_server: Any) -> None:
    """What Amina's webhook receiver gets, posted by the real sender to a local one."""
    received: list[bytes] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(response_bytes(0, request.raw_headers, await request.read()))
        return web.Response(status=204)

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    server = await aiohttp_server(receiver)
    core = world.gw.app[CORE]
    rows = await core.stores.db.fetch("SELECT id, kind, member_id, created_at, payload_ct "
                                      "FROM outbox WHERE kind = 'webhook'")
    assert rows, "no webhook was queued"
    sender = AiohttpWebhookSender(timeout=5, allow_private=True)  # the receiver is local
    try:
        for row in rows:
            delivery = core.outbox.open(OutboxRow(row["id"], "webhook", row["member_id"],
                                                  row["created_at"], 0,
                                                  bytes(row["payload_ct"])))
            assert isinstance(delivery, Webhook)
            await sender.post(Webhook(str(server.make_url("/hook")), delivery.headers,
                                      delivery.body))
    finally:
        await sender.close()
    world.captures.extend(Capture(WEBHOOK, "webhook POST", r) for r in received)


async def _config_output(world: World, tmp_path: Path) -> None:
    """`trademail config` as an operator runs it, its secrets in variables and a file."""
    master = world.secrets.add("master key (printed config)",
                               __import__("base64").b64encode(secrets.token_bytes(32)).decode())
    key_file = tmp_path / "master.key"
    key_file.write_text(world.secrets.add("master key (file)", __import__("base64").b64encode(
        secrets.token_bytes(32)).decode()))
    store_pw = world.secrets.add("database password", "dbpw" + secrets.token_hex(6))
    smtp_pw = world.secrets.add("smarthost password", "smtppw" + secrets.token_hex(6))
    env = {**os.environ, "TRADEMAIL_CRYPTO_MASTER_KEY": master,
           "TRADEMAIL_CRYPTO_MASTER_KEY_FILE": str(key_file),
           "TRADEMAIL_STORE_URL": f"postgresql://tm:{store_pw}@db.example/tm",
           "TRADEMAIL_RELAY_PASSWORD": smtp_pw, "TRADEMAIL_RELAY_USERNAME": "relay"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "trademail", "config", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    assert b"[crypto]" in out, out
    world.captures.append(Capture(CONFIG_OUTPUT, "trademail config", out))


async def stored(config: Config) -> list[Capture]:
    """The database as a thief gets it: the SQLite files (-wal and -shm too), or a
    pg_dump of the schema."""
    url = config.store_url
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        files = sorted(path.parent.glob(path.name + "*"))
        assert files
        return [Capture(DATABASE, f.name, f.read_bytes()) for f in files]
    if shutil.which("pg_dump") is None:
        if REQUIRE_PG:
            pytest.fail("pg_dump (postgresql-client) is needed to scan a dump")
        pytest.skip("pg_dump is not installed")
    schema = parse_qs(urlsplit(url).query)["search_path"][0]
    proc = await asyncio.create_subprocess_exec(
        "pg_dump", f"--dbname={PG_DSN}", f"--schema={schema}", "--no-owner",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert b"COPY" in out
    return [Capture(DATABASE, "pg_dump", out)]


async def drive(gw: Gateway, clock: FakeClock, aiohttp_server: Any, tmp_path: Path) -> World:
    """Plant the secrets and drive every door; the World holds what came back."""
    world = World(gw)
    try:
        await _scenario(world, clock, aiohttp_server, tmp_path)
    finally:
        for browser in world.browsers.values():
            await browser.close()
    by_address = {m.email: name for name, m in world.members.items()}
    for mail in cast(KeepingSmarthost, gw.smarthost).kept:
        for rcpt in mail.rcpt_tos:
            viewer = by_address.get(rcpt, OUTSIDER)
            world.captures.append(Capture(viewer, f"mail to {viewer}", readable_mail(mail.data)))
    return world


async def _scenario(world: World, clock: FakeClock, aiohttp_server: Any,
                    tmp_path: Path) -> None:
    gw = world.gw
    await _member(world, "amina")
    await _member(world, "bakari")
    await _staff(world)
    member = await gw.app[CORE].stores.members.member_by_username("amina")
    world.ids["amina_id"] = str(member.id)
    await _two_step(world, clock)
    await _webhook(world)
    await _messages(world)
    await _refused(world)
    await _outside(world)
    await _belongings(world)
    await _reset(world)
    await world.settled()
    await _walk(world)
    await _errors(world)
    await _webhook_posts(world, aiohttp_server)
    await _config_output(world, tmp_path)
    await world.settled()


def findings_of(world: World, log_lines: Callable[[], list[str]],
                database: list[Capture]) -> list[Finding]:
    lines = log_lines()
    log = Capture(LOG, "log at DEBUG", "\n".join(lines).encode())
    return scan([*world.captures, log, *database], world.secrets.items)


@pytest.fixture
def config(tmp_path: Path, store_url: str) -> Config:
    """The gateway's config with small size limits, so a 413 is cheap to provoke."""
    from tests.test_gateway import gateway_config

    return gateway_config(tmp_path, store_url, TRADEMAIL_MESSAGES_MAX_ATTACHMENT_BYTES="65536",
                          TRADEMAIL_MESSAGES_MAX_BODY_BYTES="65536")


async def test_no_door_shows_a_secret_to_anyone_it_is_not_for(
        gateway: Gateway, clock: FakeClock, aiohttp_server: Any,  # noqa: F811
        tmp_path: Path,
        config: Config, debug_logs: Callable[[], list[str]]) -> None:
    world = await drive(gateway, clock, aiohttp_server, tmp_path)
    findings = findings_of(world, debug_logs, await stored(config))
    assert findings == [], "\n".join(map(str, findings))
    # Every route was walked (and, where it has one, answered in success) or says why not.
    walked = set(world.hits) | set(NOT_WALKED)
    assert routes_of(gateway.app) <= walked, routes_of(gateway.app) - walked
    unanswered = {route for route, statuses in world.hits.items()
                  if route[0] == "GET" and not any(200 <= s < 300 for s in statuses)}
    assert unanswered == set(), unanswered  # every page and resource showed its content
    # The scan read real content: what each secret's viewers may see, they saw.
    missing = unseen(world.captures, world.secrets.items)
    assert missing == [], '\n'.join(missing)
    # Each viewer got something.
    assert {c.viewer for c in world.captures} >= {"amina", "bakari", STAFF, VISITOR, OUTSIDER,
                                                   WEBHOOK, CONFIG_OUTPUT}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_the_scanner_finds_leaks_planted_on_purpose(
        gateway: Gateway, clock: FakeClock, aiohttp_server: Any,  # noqa: F811
        tmp_path: Path,
        config: Config, debug_logs: Callable[[], list[str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Three leaks put in by hand: an address shown unmasked (to staff), a subject in a
    debug log line, every sealed column written with its plaintext beside it."""
    monkeypatch.setattr(validation, "mask_email", lambda address: address)
    send = Sending.send

    async def logging_send(self: Sending, sender_id: str, draft: Any, **kw: Any) -> Any:
        structlog.get_logger("planted").debug("sending", subject=draft.subject)
        return await send(self, sender_id, draft, **kw)

    monkeypatch.setattr(Sending, "send", logging_send)
    seal, open_ = Key.seal, Key.open

    def seal_in_clear(self: Key, plaintext: bytes, aad: bytes) -> bytes:
        return seal(self, plaintext, aad) + plaintext + len(plaintext).to_bytes(4, "big")

    def open_in_clear(self: Key, blob: bytes, aad: bytes) -> bytes:
        size = int.from_bytes(blob[-4:], "big")
        return open_(self, blob[:-4 - size], aad)

    monkeypatch.setattr(Key, "seal", seal_in_clear)
    monkeypatch.setattr(Key, "open", open_in_clear)
    world = await drive(gateway, clock, aiohttp_server, tmp_path)
    found = {(f.secret, f.viewer) for f in findings_of(world, debug_logs, await stored(config))}
    assert ("amina.address", STAFF) in found
    assert ("subject 1", LOG) in found
    assert ("body 1", DATABASE) in found and ("bakari.address", DATABASE) in found
