"""The web door's plumbing: sessions and CSRF on every request, headers, cookies, error pages.

Views stay thin: `visit_of(request)` is who is signed in (the middleware has already sent
everyone else to sign-in), every state-changing request has passed the CSRF check, and
domain errors become pages here, in one place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import aiohttp_jinja2
import structlog
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

from trademail.appkeys import CONFIG, READING, SESSIONS
from trademail.errors import (
    AuthenticationFailed,
    Conflict,
    Forbidden,
    InvalidInput,
    MasterKeyError,
    NotFound,
    SessionEnded,
    StoreError,
    Throttled,
    TooLarge,
    TradeMailError,
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
MALFORMED_BODY = (ValueError, LookupError, RuntimeError, AssertionError, HttpProcessingError)
# Sent by app.js when a live update reloads the message list: a page fetched by itself, not
# by the member, so it must not keep an unattended session alive.
REFRESH_HEADER = "X-TradeMail-Refresh"
NOTICES = {
    "sent": "Message sent.",
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
    "unread": "Marked as unread.",
    "deleted": "Deleted for good.",
    "welcome": "Welcome to TradeMail. Your public alias is ready: share it instead of your "
               "real address. We mailed you a link to confirm your address: until you open "
               "it, TradeMail sends you no notifications.",
}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'; object-src 'none'; manifest-src 'self'")


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


def _flag(request: web.Request, name: str) -> bool:
    return bool(getattr(request.match_info.handler, name, False))


def _is_activity(request: web.Request) -> bool:
    """Whether this request is the member at work, so it moves the idle deadline: not a
    script's background call (a keep-alive POST is), not a live refresh of the list."""
    if request.method not in SAFE_METHODS:
        return True
    return not _flag(request, "fetched") and request.headers.get(REFRESH_HEADER) != "1"


def visit_of(request: web.Request) -> Visit:
    return request[VISIT]


# ---------------------------------------------------------------- cookies


def cookie_names(request: web.Request) -> tuple[str, str, str]:
    """Session, pre-session and notice cookie names; __Host- bound when served over https."""
    prefix = "__Host-" if request.app[CONFIG].secure_cookies else ""
    return prefix + "tm_session", prefix + "tm_browser", prefix + "tm_notice"


def _set_cookie(request: web.Request, response: web.StreamResponse, name: str,
                value: str) -> None:
    # No Expires or Max-Age: closing the browser ends it too.
    response.set_cookie(name, value, path="/", httponly=True, samesite="Lax",
                        secure=request.app[CONFIG].secure_cookies)


def _del_cookie(request: web.Request, response: web.StreamResponse, name: str) -> None:
    response.del_cookie(name, path="/", httponly=True, samesite="Lax",
                        secure=request.app[CONFIG].secure_cookies)


def start_session(request: web.Request, response: web.StreamResponse, token: str) -> None:
    session, browser, _ = cookie_names(request)
    _set_cookie(request, response, session, token)
    _del_cookie(request, response, browser)


def end_session(request: web.Request, response: web.StreamResponse) -> None:
    _del_cookie(request, response, cookie_names(request)[0])


def session_token(request: web.Request) -> str | None:
    return request.cookies.get(cookie_names(request)[0])


def redirect(location: str, notice: str | None = None, *,
             request: web.Request | None = None) -> web.Response:
    response = web.Response(status=303, headers={"Location": location})
    if notice is not None and request is not None:
        _set_cookie(request, response, cookie_names(request)[2], notice)
    return response


# ---------------------------------------------------------------- the return path


def safe_next(value: object, default: str = "/inbox") -> str:
    """A same-site relative path to return to (after sign-in, after filing a message), or the
    default: never a URL that leaves the site (no scheme, no //host, no backslashes), and
    nothing a Location header cannot carry (no spaces, no C0, DEL, C1 or other control or
    format characters). Every redirect built from what a request says goes through here."""
    if not isinstance(value, str) or not value.startswith("/") or len(value) > 2000:
        return default
    if value.startswith("//") or "\\" in value or not _plain(value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path.startswith(("/signin", "/signout",
                                                              "/signup", "/static/")):
        return default
    return value


def _plain(value: str) -> bool:
    # isprintable() is False for every control (C0, DEL, C1), format and separator character.
    return all(ord(c) > 0x20 and c.isprintable() for c in value)


async def read_form(
        request: web.Request) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """The request's form body; one that cannot be read is the client's mistake (400)."""
    try:
        return await request.post()
    except MALFORMED_BODY:
        log.info("form refused: unreadable body", path=request.path)
        raise web.HTTPBadRequest() from None


async def _return_path(request: web.Request) -> str:
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


# ---------------------------------------------------------------- rendering


def field_errors(exc: TradeMailError) -> dict[str, str]:
    """A refused form's messages, keyed by field ("_form" for the form as a whole)."""
    if isinstance(exc, InvalidInput):
        errors: dict[str, str] = {}
        for problem in exc.problems:
            errors.setdefault(problem.field.split("[")[0], problem.message)
        return errors
    if isinstance(exc, Conflict):
        return {exc.field or "_form": str(exc)}
    if isinstance(exc, Throttled):
        return {"_form": f"Too many failed attempts. Try again in {exc.retry_after} seconds."}
    return {"_form": str(exc).capitalize() + "."}


def form_status(exc: TradeMailError) -> int:
    if isinstance(exc, Throttled):
        return 429
    if isinstance(exc, TooLarge):
        return 413
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, AuthenticationFailed):
        return 401
    return 422


async def page(request: web.Request, template: str, context: Mapping[str, Any] | None = None,
               *, status: int = 200) -> web.Response:
    """Render a page with what every page shows: who is signed in, unread count, notices."""
    visit = request.get(VISIT)
    notice = request.cookies.get(cookie_names(request)[2], "")
    if notice:
        request[NOTICE] = notice  # shown now, so the middleware forgets it
    ctx: dict[str, Any] = {
        "visit": visit,
        "csrf": visit.csrf if visit else LazyFormToken(request),
        "notice": NOTICES.get(notice),
        "notice_key": notice if notice in NOTICES else "",
        "unread": await request.app[READING].unread_count(visit.member_id) if visit else 0,
        "path": request.path,
        **(context or {}),
    }
    response = aiohttp_jinja2.render_template(template, request, ctx, status=status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'FormBased realm="trademail"'
    return response


class LazyFormToken:
    """A visitor's form token, made (with the one anti-forgery cookie it needs) only when a
    page renders a form: a page a visitor only reads sets no cookie."""

    def __init__(self, request: web.Request) -> None:
        self._request = request
        self._value: str | None = None

    def __str__(self) -> str:
        if self._value is None:
            request = self._request
            secret = request.get(BROWSER_SECRET)
            if secret is None:
                secret = request[NEW_BROWSER_SECRET] = \
                    request.app[SESSIONS].new_browser_secret()
                request[BROWSER_SECRET] = secret
            self._value = request.app[SESSIONS].form_token(secret)
        return self._value


_ERROR_PAGES = {
    400: ("That request was not understood", "Something in the address or the form was "
                                             "not right."),
    403: ("That form has expired", "For your safety, forms only work for a while and only "
                                   "from this site. Go back, reload the page and try again."),
    404: ("Not found", "There is nothing here, or it is not in your mailbox."),
    405: ("Not allowed", "That page cannot be used this way."),
    413: ("Too large", "What you sent is larger than TradeMail accepts. Attachments have a "
                       "size limit; try fewer or smaller files."),
    429: ("Please wait a moment", "There were too many attempts. Wait a little and try again."),
    500: ("Something went wrong", "Something went wrong on our side. It has been logged; "
                                  "please try again."),
    503: ("TradeMail is unavailable", "TradeMail cannot reach its storage right now. Please "
                                      "try again in a few minutes."),
}


async def error_page(request: web.Request, status: int, detail: str | None = None) -> web.Response:
    title, text = _ERROR_PAGES.get(status, _ERROR_PAGES[400 if status < 500 else 500])
    try:
        return await page(request, "error.html", {"status": status, "title": title,
                                                  "text": detail or text}, status=status)
    except Exception:
        log.exception("error page failed", status=status)
        return web.Response(status=status, text=f"{title}\n\n{text}\n")


def _domain_error_status(exc: TradeMailError) -> tuple[int, str | None]:
    if isinstance(exc, NotFound):
        return 404, None
    if isinstance(exc, Forbidden):
        return 403, str(exc)
    if isinstance(exc, Throttled):
        return 429, None
    if isinstance(exc, InvalidInput | Conflict):
        return 400, str(exc).capitalize() + "."
    if isinstance(exc, StoreError | MasterKeyError):
        log.error("service unavailable", error=exc.__class__.__name__)
        return 503, None
    log.error("unmapped domain error", error=exc.__class__.__name__)
    return 500, None


# ---------------------------------------------------------------- the middleware


@web.middleware
async def web_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Sessions, timed sign-out, CSRF and HTML error pages for every page outside /api."""
    if request.path.startswith(("/api/", "/healthz", "/static/")):
        return await handler(request)
    try:
        return await _serve(request, handler)
    except TradeMailError as exc:
        return await error_page(request, *_domain_error_status(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = await error_page(request, exc.status)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except ConnectionResetError:
        # The browser went away (a page left, a tab closed): normal, nothing to answer.
        log.debug("client went away", path=request.path)
        return web.Response(status=499)
    except Exception:
        log.exception("unhandled error", path=request.path, method=request.method)
        return await error_page(request, 500)


async def _serve(request: web.Request, handler: Handler) -> web.StreamResponse:
    session_cookie, browser_cookie, notice_cookie = cookie_names(request)
    sessions = request.app[SESSIONS]
    token = request.cookies.get(session_cookie)
    ended: SessionEnded | None = None
    fetched_ = _flag(request, "fetched")
    if token:
        try:
            # Not counted as activity yet: an unknown address or a refused form is not.
            request[VISIT] = await sessions.resume(token)
        except SessionEnded as exc:
            ended = exc
    if request.match_info.http_exception is not None:
        raise request.match_info.http_exception  # 404 and 405 need no sign-in
    if VISIT not in request:
        if browser_cookie in request.cookies:
            request[BROWSER_SECRET] = request.cookies[browser_cookie]
        if not _flag(request, "public"):
            if fetched_:
                response: web.StreamResponse = web.Response(status=401, text="signed out")
            else:
                reason = "timeout" if ended and ended.timed_out else None
                response = redirect(signin_url(await _return_path(request), reason))
            if token and ended and not ended.timed_out:
                end_session(request, response)
            return response
    if request.method not in SAFE_METHODS:
        secret = token if VISIT in request else request.get(BROWSER_SECRET)
        sent = request.headers.get("X-CSRF-Token")
        if sent is None:
            form = await read_form(request)
            value = form.get("csrf")
            sent = value if isinstance(value, str) else None
        if not sessions.check_form_token(secret, sent):
            log.info("form refused: bad or missing CSRF token", path=request.path)
            return await error_page(request, 403)
    if VISIT in request and _is_activity(request):
        request[VISIT] = await sessions.touch(request[VISIT])
    response = await handler(request)
    if NOTICE in request and notice_cookie not in response.cookies and not response.prepared:
        _del_cookie(request, response, notice_cookie)
    if (token and ended is not None and not ended.timed_out and not response.prepared
            and session_cookie not in response.cookies):  # not when it starts a new one
        end_session(request, response)
    if NEW_BROWSER_SECRET in request and not response.prepared:
        _set_cookie(request, response, browser_cookie, request[NEW_BROWSER_SECRET])
    return response


def page_headers(request: web.Request, response: web.StreamResponse) -> None:
    """What every page and static file of the web door says about itself (called from the
    app's one on_response_prepare hook, so pages streamed by a handler get it too)."""
    headers = response.headers
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.app[CONFIG].secure_cookies:
        headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
    if request.path.startswith("/static/"):
        if request.query.get("v"):
            headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("Cache-Control", "no-store")
