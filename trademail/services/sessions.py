"""Web sign-in sessions: opaque cookie tokens stored as digests, ended on sign-out and on time.

A session ends after `idle_timeout_seconds` without a request and `absolute_timeout_seconds`
after sign-in in any case. Forms carry a token tied to the browser's secret (CSRF).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from trademail.clock import Clock
from trademail.config import AuthConfig
from trademail.crypto import Keyring, new_token, token_digest
from trademail.errors import AuthenticationFailed, NotFound, SessionEnded
from trademail.ids import is_id, new_id
from trademail.services.audit import SIGNED_IN, Audit, member_actor
from trademail.services.factors import SecondFactors
from trademail.services.members import Members
from trademail.services.signup import Signup
from trademail.services.standing import BANNED, STAFF
from trademail.store import SessionRow, SessionStore

_TOUCH_EVERY_SECONDS = 1.0
ENDED_KEPT_SECONDS = 86400.0  # a session ended by time, kept to say why (digests only)
_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"),
             ("Chromium/", "Chromium"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
_SYSTEMS = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"),
            ("Windows", "Windows"), ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"),
            ("Linux", "Linux"))
_HEADLESS = re.compile(r"HeadlessChrome/")


@dataclass(frozen=True)
class Visit:
    """Who is signed in on this request, and what the page needs to know about it."""

    session_id: str
    member_id: str
    username: str
    company: str
    csrf: str
    now: float
    idle_timeout: int
    ends_in: float          # seconds until the session ends if nothing more happens
    extendable: bool        # False when the absolute lifetime ends it before the idle timer
    created_at: float
    last_seen_at: float     # the last request that counted as activity
    staff: bool = False     # TradeStaff: the console is theirs
    device: str = ""        # at a completed sign-in: the browser's new device cookie


@dataclass(frozen=True)
class SecondStep:
    """The password was right and the member has a second factor: the sign-in waits for
    it. The browser keeps `token` until then (it is no session)."""

    token: str


@dataclass(frozen=True)
class SessionInfo:
    id: str
    device: str
    created_at: float
    last_seen_at: float
    current: bool


def device_label(user_agent: str) -> str:
    """A short human name for a browser ("Firefox on Windows"); the raw header is not kept."""
    browser = next((name for mark, name in _BROWSERS if mark in user_agent), "")
    if _HEADLESS.search(user_agent):
        browser = "Headless Chrome"
    system = next((name for mark, name in _SYSTEMS if mark in user_agent), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown device"


class Sessions:
    def __init__(self, store: SessionStore, keyring: Keyring, members: Members, signup: Signup,
                 factors: SecondFactors, clock: Clock, auth: AuthConfig, audit: Audit) -> None:
        self._audit = audit
        self._store = store
        self._keyring = keyring
        self._members = members
        self._factors = factors
        self._signup = signup
        self._clock = clock
        self._auth = auth

    # ------------------------------------------------------------------ starting and ending

    async def sign_in(self, username: object, password: object, *, client: str,
                      user_agent: str, replacing: str | None = None,
                      device: str | None = None) -> tuple[Visit, str] | SecondStep:
        """Check the password (counted against the browser's device cookie when it holds
        the member's) and start a new session (it and its cookie token), or, when the
        member has a second factor, a sign-in that waits for it."""
        member = await self._members.sign_in(username, password, client, door="web",
                                             device=device)
        if await self._factors.required(member.id):
            return SecondStep(await self._factors.begin_signin(member.id))
        return await self._start(member.id, member.username, member.company, user_agent,
                                 replacing, staff=member.staff)

    async def finish_sign_in(self, waiting: str | None, *, code: object, passkey: object,
                             user_agent: str, replacing: str | None) -> tuple[Visit, str]:
        """Start the session a waiting sign-in was for, once its second factor is proven."""
        member_id = await self._factors.finish_signin(waiting, code=code, passkey=passkey)
        profile = await self._members.profile(member_id)
        if profile.status == BANNED:
            raise AuthenticationFailed("this account has been closed by TradeStaff")
        return await self._start(member_id, profile.username, profile.company, user_agent,
                                 replacing, staff=profile.tier == STAFF)

    async def sign_up(self, *, username: object, password: object, email: object,
                      company: object, country: object, user_agent: str,
                      client: str) -> tuple[Visit, str]:
        profile = await self._signup.register(username=username, password=password,
                                              email=email, company=company, country=country,
                                              client=client)
        return await self._start(profile.id, profile.username, profile.company, user_agent,
                                 None)

    async def _start(self, member_id: str, username: str, company: str, user_agent: str,
                     replacing: str | None, *, staff: bool = False) -> tuple[Visit, str]:
        now = self._clock.now()
        token = new_token()
        row = SessionRow(member_id, new_id(now), device_label(user_agent[:512]), now, now)
        await self._store.create_session(row, token_digest(token),
                                         token_digest(replacing) if replacing else None)
        await self._store.forget_sessions(*self._ended_before(now), member_id=member_id)
        await self._audit.record(member_actor(member_id), SIGNED_IN, member_id,
                                 f"web: {row.device}")
        visit = self._visit(row, username, company, token, now, staff=staff)
        return replace(visit, device=await self._members.device_cookie(member_id)), token

    async def sign_out(self, token: str) -> None:
        """End this browser's session on the server: its cookie is worthless from now on."""
        await self._store.delete_session_by_digest(token_digest(token))

    # ------------------------------------------------------------------ each request

    async def resume(self, token: str) -> Visit:
        """The session a cookie token names, if it is still alive. The request does not count
        as activity yet: the door calls `touch` once it knows the request is a real one."""
        if not 20 <= len(token) <= 100:
            raise SessionEnded(timed_out=False)
        found = await self._store.session_by_digest(token_digest(token))
        if found is None:
            raise SessionEnded(timed_out=False)
        now = self._clock.now()
        auth = self._auth
        if (now - found.last_seen_at >= auth.idle_timeout_seconds
                or now - found.created_at >= auth.absolute_timeout_seconds):
            # Refused from now on. The row stays (until the next sign-in or housekeeping)
            # so every request of this browser can say why, not only the first one.
            raise SessionEnded(timed_out=True)
        return self._visit(found, found.username, found.company, token, now,
                           staff=found.tier == STAFF)

    async def touch(self, visit: Visit) -> Visit:
        """Count the request of a resumed visit as activity (once the door knows it is a real
        request: a known page, a form that passed its check)."""
        if visit.now - visit.last_seen_at >= _TOUCH_EVERY_SECONDS:
            await self._store.touch_session(visit.member_id, visit.session_id, visit.now)
        ends_in, extendable = self._deadline(visit.created_at, visit.now, visit.now)
        return replace(visit, last_seen_at=visit.now, ends_in=ends_in, extendable=extendable)

    def _visit(self, row: SessionRow, username: str, company: str, token: str,
               now: float, *, staff: bool) -> Visit:
        ends_in, extendable = self._deadline(row.created_at, row.last_seen_at, now)
        return Visit(session_id=row.id, member_id=row.member_id, username=username,
                     company=company, csrf=self.form_token(token), now=now,
                     idle_timeout=self._auth.idle_timeout_seconds, ends_in=ends_in,
                     extendable=extendable, created_at=row.created_at,
                     last_seen_at=row.last_seen_at, staff=staff)

    def _deadline(self, created_at: float, last_seen_at: float,
                  now: float) -> tuple[float, bool]:
        """Seconds until the session ends if nothing more happens, and whether activity can
        still move that (False once the absolute lifetime comes first)."""
        idle_end = last_seen_at + self._auth.idle_timeout_seconds
        absolute_end = created_at + self._auth.absolute_timeout_seconds
        return max(0.0, min(idle_end, absolute_end) - now), idle_end <= absolute_end

    def _ended_before(self, now: float) -> tuple[float, float]:
        return (now - self._auth.idle_timeout_seconds, now - self._auth.absolute_timeout_seconds)

    async def forget_ended(self) -> None:
        """Drop every session that ended by time more than ENDED_KEPT_SECONDS ago (for
        housekeeping): until then its browser is told it timed out, not just signed out."""
        await self._store.forget_sessions(
            *self._ended_before(self._clock.now() - ENDED_KEPT_SECONDS))

    # ------------------------------------------------------------------ forms (CSRF)

    def form_token(self, secret: str) -> str:
        """The token forms must carry for a browser holding `secret` (session or pre-session)."""
        return self._keyring.form_token(token_digest(secret))

    def check_form_token(self, secret: str | None, token: str | None) -> bool:
        if not secret or not token or len(token) > 100:
            return False
        return self._keyring.check_form_token(token_digest(secret), token)

    @staticmethod
    def new_browser_secret() -> str:
        """A random secret for a browser that is not signed in, so its forms can carry a token."""
        return new_token()

    # ------------------------------------------------------------------ the member's sessions

    async def list(self, visit: Visit) -> list[SessionInfo]:
        rows = await self._store.sessions_of(visit.member_id)
        now = self._clock.now()
        alive = [r for r in rows
                 if now - r.last_seen_at < self._auth.idle_timeout_seconds
                 and now - r.created_at < self._auth.absolute_timeout_seconds]
        return [SessionInfo(r.id, r.device, r.created_at, r.last_seen_at,
                            current=r.id == visit.session_id) for r in alive]

    async def end(self, member_id: str, session_id: str) -> None:
        if not is_id(session_id) or not await self._store.delete_session(member_id, session_id):
            raise NotFound()

    async def end_others(self, visit: Visit) -> int:
        return await self._store.delete_sessions_except(visit.member_id, visit.session_id)
