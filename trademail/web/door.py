"""The web door's plumbing: sessions and CSRF on every request, headers, cookies, error pages.

Views stay thin: `visit_of(request)` is who is signed in (the middleware has already sent
everyone else to sign-in), every state-changing request has passed the CSRF check, and
domain errors become pages here, in one place.
"""

from __future__ import annotations

import structlog
from aiohttp import web

from trademail.appkeys import CONFIG, SESSIONS
from trademail.errors import (
    SessionEnded,
    TradeMailError,
)
from trademail.web.pages import domain_error_status, error_page
from trademail.web.request import (
    BROWSER_SECRET,
    NEW_BROWSER_SECRET,
    NOTICE,
    SAFE_METHODS,
    VISIT,
    Handler,
    cookie_names,
    del_cookie,
    end_session,
    handler_flag,
    is_activity,
    read_form,
    redirect,
    return_path,
    route_of,
    set_cookie,
    signin_url,
)

log = structlog.get_logger(__name__)

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'; object-src 'none'; manifest-src 'self'")


# ---------------------------------------------------------------- the middleware


@web.middleware
async def web_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Sessions, timed sign-out, CSRF and HTML error pages for every page of the web door;
    what a sub-application serves (the API, /healthz, static files) is left to it."""
    if served_by_subapp(request):
        return await handler(request)
    try:
        return await _serve(request, handler)
    except TradeMailError as exc:
        return await error_page(request, *domain_error_status(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = await error_page(request, exc.status)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        if exc.headers.get("Connection", "").lower() == "close":
            response.force_close()  # a broken body: what follows it cannot be read
        return response
    except ConnectionResetError:
        # The browser went away (a page left, a tab closed): normal, nothing to answer.
        log.debug("client went away", route=route_of(request))
        return web.Response(status=499)
    except Exception:
        log.exception("unhandled error", route=route_of(request), method=request.method)
        return await error_page(request, 500)


async def _serve(request: web.Request, handler: Handler) -> web.StreamResponse:
    session_cookie, browser_cookie, notice_cookie = cookie_names(request)
    sessions = request.app[SESSIONS]
    token = request.cookies.get(session_cookie)
    ended: SessionEnded | None = None
    fetched_ = handler_flag(request, "fetched")
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
        if not handler_flag(request, "public"):
            if fetched_:
                response: web.StreamResponse = web.Response(status=401, text="signed out")
            else:
                reason = "timeout" if ended and ended.timed_out else None
                response = redirect(signin_url(await return_path(request), reason))
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
            log.info("form refused: bad or missing CSRF token", route=route_of(request))
            return await error_page(request, 403)
    if VISIT in request and is_activity(request):
        request[VISIT] = await sessions.touch(request[VISIT])
    response = await handler(request)
    if NOTICE in request and notice_cookie not in response.cookies and not response.prepared:
        del_cookie(request, response, notice_cookie)
    if (token and ended is not None and not ended.timed_out and not response.prepared
            and session_cookie not in response.cookies  # not when it starts a new one
            and not handler_flag(request, "public")):  # a visitor's page sets no cookie
        end_session(request, response)
    if NEW_BROWSER_SECRET in request and not response.prepared:
        set_cookie(request, response, browser_cookie, request[NEW_BROWSER_SECRET])
    return response


def served_by_subapp(request: web.Request) -> bool:
    """Whether a sub-application (the API, /healthz, static files) answers this request:
    the web door, the root application, then leaves it alone."""
    return len(request.match_info.apps) > 1


async def page_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare of the root application: what every response says about itself,
    and what every page of the web door adds (a hook, not a middleware, so a page a handler
    streams itself, the live updates, gets them too)."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.config_dict[CONFIG].secure_cookies:
        headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
    if served_by_subapp(request):
        return  # the API's, /healthz's or a static file: not a page
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("Cache-Control", "no-store")
