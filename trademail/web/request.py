"""What a web request carries, for the views and the door alike: who is signed in, how a
handler is marked (public, fetched by scripts), the cookies of the web door, the form,
and where to send the member back to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import quote, urlencode, urlsplit

import structlog
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError
from multidict import MultiDictProxy

from trademail.appkeys import CONFIG
from trademail.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    Throttled,
)
from trademail.services.sessions import Visit

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)

# Per-request state.
VISIT = web.RequestKey("visit", Visit)
BROWSER_SECRET = web.RequestKey("browser_secret", str)
NEW_BROWSER_SECRET = web.RequestKey("new_browser_secret", str)
NOTICE = web.RequestKey("notice", str)

# Errors a form shows next to its fields, keeping what was typed.
FORM_ERRORS = (InvalidInput, Conflict, AuthenticationFailed, Throttled)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# What aiohttp raises on a form body it cannot read: multipart without a boundary, a
# truncated body, an unknown charset or transfer encoding.
MALFORMED_BODY = (ValueError, LookupError, RuntimeError, AssertionError, HttpProcessingError,
                  RequestPayloadError)
# Sent by app.js when a live update reloads the message list: a page fetched by itself, not
# by the member, so it must not keep an unattended session alive.
REFRESH_HEADER = "X-TradeMail-Refresh"
NOTICES = {
    "two-step-added": "Authenticator app added: signing in now asks for its code after your "
                      "password.",
    "passkey-added": "Passkey added: signing in now asks for it after your password.",
    "two-step-removed": "Second factor removed.",
    "sent": "Message sent.",
    "draft-saved": "Draft saved. It is kept here until you send or delete it.",
    "draft-deleted": "The draft was deleted.",
    "signature": "Signature saved: it is put below new messages and replies.",
    "password": "Your password was changed. Every other session has been signed out and "
                "every API token revoked.",
    "confirmation-sent": "We sent a new confirmation link to your address.",
    "notify": "Notification preference saved.",
    "alias-enabled": "The alias was enabled: it takes mail again.",
    "alias-added": "A new alias is ready: share it where you want mail you can switch off.",
    "alias-disabled": "The alias was disabled: mail to it is now refused.",
    "session-ended": "That session was signed out.",
    "others-ended": "Every other session was signed out.",
    "token-revoked": "The API token was revoked.",
    "email-changed": "Your address was changed.",
    "email-cancelled": "The pending address change was cancelled.",
    "archived": "Moved to Archive.",
    "trashed": "Moved to Trash.",
    "inbox": "Moved to Inbox.",
    "marked-spam": "Moved to Spam: the spam filter learns from it.",
    "marked-not-spam": "Moved to Inbox as not spam: the spam filter learns from it.",
    "unread": "Marked as unread.",
    "deleted": "Deleted for good.",
    "listing-saved": "Saved.",
    "listing-deleted": "Removed from your listings.",
    "blocked": "Blocked: their messages are refused from now on.",
    "blocked-filed": "Blocked: their messages go straight to your Archive from now on, with no "
                     "notification.",
    "unblocked": "The block was removed: their messages reach your inbox again.",
    "reported": "Thank you: the conversation was reported to TradeStaff. From now on they may "
                "read this conversation, and only it, to look into it.",
    "status-changed": "The member's status was changed; the change and its reason are in the "
                      "audit log.",
    "tier-changed": "The member's tier was changed; the change and its reason are in the "
                    "audit log.",
    "report-closed": "The report was closed.",
    "restored": "Undone: it is all back as it was.",
    "none-picked": "Pick one or more conversations first.",
    "flag-dismissed": "The flag was dismissed; the dismissal is in the audit log.",
    "welcome": "Welcome to TradeMail. Your public alias is ready: share it instead of your "
               "real address. We mailed you a link to confirm your address: until you open "
               "it, TradeMail sends you no notifications.",
}


def route_of(request: web.Request) -> str:
    """The pattern of the route that answers (`/directory/{username}`), never the path:
    what logs name, so no username or id gets in."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "-"


# ---------------------------------------------------------------- marking handlers


def public(handler: H) -> H:
    """The page works without signing in (sign-in, sign-up)."""
    handler.public = True  # type: ignore[attr-defined]
    return handler


def fetched(handler: H) -> H:
    """Called by scripts: answers 401 instead of redirecting, and does not count as activity
    unless it is a POST (the "stay signed in" button)."""
    handler.fetched = True  # type: ignore[attr-defined]
    return handler


def handler_flag(request: web.Request, name: str) -> bool:
    return bool(getattr(request.match_info.handler, name, False))


def is_activity(request: web.Request) -> bool:
    """Whether this request is the member at work, so it moves the idle deadline: not a
    script's background call (a keep-alive POST is), not a live refresh of the list."""
    if request.method not in SAFE_METHODS:
        return True
    return not handler_flag(request, "fetched") and request.headers.get(REFRESH_HEADER) != "1"


def visit_of(request: web.Request) -> Visit:
    return request[VISIT]


def visit_or_none(request: web.Request) -> Visit | None:
    """Who is signed in on a public page: a member, or None for a visitor."""
    return request.get(VISIT)


# ---------------------------------------------------------------- cookies


def cookie_names(request: web.Request) -> tuple[str, str, str]:
    """Session, pre-session and notice cookie names; __Host- bound when served over https."""
    prefix = "__Host-" if request.app[CONFIG].secure_cookies else ""
    return prefix + "tm_session", prefix + "tm_browser", prefix + "tm_notice"


def device_cookie_name(request: web.Request) -> str:
    return ("__Host-" if request.app[CONFIG].secure_cookies else "") + "tm_device"


def device_cookie(request: web.Request) -> str | None:
    """The device cookie this browser holds, if any (services/devices.py)."""
    return request.cookies.get(device_cookie_name(request))


def set_cookie(request: web.Request, response: web.StreamResponse, name: str,
               value: str, *, max_age: int | None = None) -> None:
    # Without max_age (no Expires or Max-Age), closing the browser ends it too.
    response.set_cookie(name, value, path="/", httponly=True, samesite="Lax",
                        secure=request.app[CONFIG].secure_cookies, max_age=max_age)


def del_cookie(request: web.Request, response: web.StreamResponse, name: str) -> None:
    response.del_cookie(name, path="/", httponly=True, samesite="Lax",
                        secure=request.app[CONFIG].secure_cookies)


def start_session(request: web.Request, response: web.StreamResponse,
                  started: tuple[Visit, str]) -> None:
    """The session's cookie, and the device cookie that lets this browser sign in again
    while a guesser holds the account locked (kept past sign-out: that is its point)."""
    visit, token = started
    session, browser, _ = cookie_names(request)
    set_cookie(request, response, session, token)
    del_cookie(request, response, browser)
    if visit.device:
        remember_device(request, response, visit.device)


def remember_device(request: web.Request, response: web.StreamResponse, cookie: str) -> None:
    days = request.app[CONFIG].auth.device_cookie_days
    set_cookie(request, response, device_cookie_name(request), cookie, max_age=days * 86400)


def end_session(request: web.Request, response: web.StreamResponse) -> None:
    del_cookie(request, response, cookie_names(request)[0])


def session_token(request: web.Request) -> str | None:
    return request.cookies.get(cookie_names(request)[0])


def redirect(location: str, notice: str | None = None, *,
             request: web.Request | None = None) -> web.Response:
    response = web.Response(status=303, headers={"Location": location})
    if notice is not None and request is not None:
        set_cookie(request, response, cookie_names(request)[2], notice)
    return response


# ---------------------------------------------------------------- the return path


def safe_next(value: object, default: str = "/inbox") -> str:
    """A same-site relative path to return to (after sign-in, after filing a message), or the
    default: never a URL that leaves the site (no scheme, no //host, no backslashes), and
    nothing a Location header cannot carry (no spaces, no C0, DEL, C1 or other control or
    format characters; any other character outside ASCII comes back percent-encoded, as a
    URI has it). Every redirect built from what a request says goes through here."""
    if not isinstance(value, str) or not value.startswith("/") or len(value) > 2000:
        return default
    if value.startswith("//") or "\\" in value or not _plain(value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path.startswith(("/signin", "/signout",
                                                              "/signup", "/static/")):
        return default
    return quote(value, safe=_URI_ASCII)


_URI_ASCII = "".join(map(chr, range(0x21, 0x7F)))  # printable ASCII: what is left as it is


def _plain(value: str) -> bool:
    # isprintable() is False for every control (C0, DEL, C1), format and separator character.
    return all(ord(c) > 0x20 and c.isprintable() for c in value)


async def read_form(
        request: web.Request) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """The request's form body; one that cannot be read is the client's mistake (400)."""
    try:
        return await request.post()
    except MALFORMED_BODY as exc:
        log.info("form refused: unreadable body", route=route_of(request))
        if isinstance(exc, RequestPayloadError):  # see api/problems.py: unreadable_body
            request.content.feed_eof()
            raise web.HTTPBadRequest(headers={"Connection": "close"}) from None
        raise web.HTTPBadRequest() from None


async def return_path(request: web.Request) -> str:
    """Where to come back to after signing in again: this page, or for a form post the
    page of the same address, when there is one."""
    if request.method == "GET":
        return safe_next(request.path_qs)
    clone = request.clone(method="GET")
    match = await request.app.router.resolve(clone)
    return safe_next(request.path) if match.http_exception is None else "/inbox"


def signin_url(next_path: str, reason: str | None = None) -> str:
    query = {"next": next_path} if next_path != "/inbox" else {}
    if reason:
        query["reason"] = reason
    return "/signin" + ("?" + urlencode(query) if query else "")
