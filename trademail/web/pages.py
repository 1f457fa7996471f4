"""Rendering the web door's pages: every page with what all of them show (who is signed in,
the unread count, a notice, a form token), a refused form with its errors beside their
fields, and the error pages a domain error becomes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
import structlog
from aiohttp import web

from trademail.appkeys import CONFIG, READING, SESSIONS
from trademail.errors import (
    AuthenticationFailed,
    Conflict,
    Damaged,
    Forbidden,
    InvalidInput,
    LimitReached,
    MasterKeyError,
    NotFound,
    StorageFull,
    StoreError,
    Throttled,
    TooLarge,
    TradeMailError,
)
from trademail.web.render import sentence
from trademail.web.request import (
    BROWSER_SECRET,
    NEW_BROWSER_SECRET,
    NOTICE,
    NOTICES,
    VISIT,
    cookie_names,
)
from trademail.web.undo import undo_offer

log = structlog.get_logger(__name__)


def field_errors(exc: TradeMailError) -> dict[str, str]:
    """A refused form's messages, keyed by field ("_form" for the form as a whole)."""
    if isinstance(exc, InvalidInput):
        errors: dict[str, str] = {}
        for problem in exc.problems:
            errors.setdefault(problem.field.split("[")[0], problem.message)
        return errors
    if isinstance(exc, Conflict):
        return {exc.field or "_form": str(exc)}
    if isinstance(exc, LimitReached):  # a limit of the member's own, which it names
        return {"_form": sentence(str(exc))}
    if isinstance(exc, Throttled):
        return {"_form": f"Too many failed attempts. Try again in {exc.retry_after} seconds."}
    return {"_form": sentence(str(exc))}


def form_status(exc: TradeMailError) -> int:
    if isinstance(exc, Throttled):
        return 429
    if isinstance(exc, Forbidden):
        return 403
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
        "path_qs": request.path_qs,
        "limits": request.config_dict[CONFIG].messages,  # what forms say before an upload
        "undo": undo_offer(request.query) if visit else None,
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
    507: ("TradeMail cannot save this now", "TradeMail's storage is full, so nothing was "
                                            "saved. Please try again later."),
    503: ("TradeMail is unavailable", "TradeMail cannot reach its storage right now. Please "
                                      "try again in a few minutes."),
}


# A 403 that says why (Forbidden: a page this account may not use), not a stale form.
_NOT_ALLOWED = ("Not allowed", "Your account cannot use this page.")


async def error_page(request: web.Request, status: int, detail: str | None = None) -> web.Response:
    title, text = _NOT_ALLOWED if status == 403 and detail else _ERROR_PAGES.get(
        status, _ERROR_PAGES[400 if status < 500 else 500])
    try:
        return await page(request, "error.html", {"status": status, "title": title,
                                                  "text": detail or text}, status=status)
    except Exception:
        log.exception("error page failed", status=status)
        return web.Response(status=status, text=f"{title}\n\n{text}\n")


def domain_error_status(exc: TradeMailError) -> tuple[int, str | None]:
    if isinstance(exc, NotFound):
        return 404, None
    if isinstance(exc, Forbidden):
        return 403, sentence(str(exc))
    if isinstance(exc, LimitReached):
        return 429, sentence(str(exc))
    if isinstance(exc, Throttled):
        return 429, None
    if isinstance(exc, InvalidInput | Conflict):
        return 400, sentence(str(exc))
    if isinstance(exc, StorageFull):
        log.error("storage full", error=exc.__class__.__name__)
        return 507, None
    if isinstance(exc, StoreError | MasterKeyError):
        log.error("service unavailable", error=exc.__class__.__name__)
        return 503, None
    if isinstance(exc, Damaged):
        log.error("stored data failed its integrity check", detail=str(exc))
        return 500, "This file is damaged and cannot be sent. Ask the sender for it again."
    log.error("unmapped domain error", error=exc.__class__.__name__)
    return 500, None
