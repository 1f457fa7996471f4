"""The settings pages: the account's standing, password, real address, aliases,
notifications, blocked senders, API tokens and sessions."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from trademail.appkeys import (
    ACCOUNT,
    ADDRESSES,
    CONDUCT,
    MEMBERS,
    NOTIFICATIONS,
    SESSIONS,
    TOKENS,
)
from trademail.clientaddr import client_address
from trademail.errors import TradeMailError
from trademail.services.tokens import SCOPES
from trademail.web.pages import field_errors, form_status, page
from trademail.web.request import FORM_ERRORS, read_form, redirect, visit_of

routes = web.RouteTableDef()
TOKEN_LIFETIMES = {"30": 30 * 86400, "90": 90 * 86400, "365": 365 * 86400}


async def _settings(request: web.Request, *, status: int = 200, **context: Any) -> web.Response:
    visit = visit_of(request)
    overview = await request.app[ACCOUNT].overview(visit)
    blocks = await request.app[CONDUCT].blocks(visit.member_id)
    return await page(request, "settings.html", {
        "overview": overview, "blocks": blocks, "scopes": SCOPES, "errors": {},
        "block_values": {}, **context}, status=status)


async def refused(request: web.Request, section: str, exc: TradeMailError,
                  **context: Any) -> web.Response:
    """The settings page again, with a refused form's errors in its section."""
    return await _settings(request, status=form_status(exc), section=section,
                           errors=field_errors(exc), **context)


@routes.get("/settings")
async def settings(request: web.Request) -> web.Response:
    return await _settings(request)


@routes.post("/settings/password")
async def change_password(request: web.Request) -> web.Response:
    form = await read_form(request)
    try:
        await request.app[ACCOUNT].change_password(
            visit_of(request), current=form.get("current_password"),
            new=form.get("new_password"), client=client_address(request))
    except FORM_ERRORS as exc:
        return await refused(request, "password", exc)
    return redirect("/settings#password", "password", request=request)


@routes.post("/settings/email")
async def change_email(request: web.Request) -> web.Response:
    form = await read_form(request)
    try:
        masked = await request.app[ADDRESSES].request(
            visit_of(request), password=form.get("password"), email=form.get("email"),
            client=client_address(request))
    except FORM_ERRORS as exc:
        return await refused(request, "email", exc)
    return await _settings(request, section="email", email_sent_to=masked)


@routes.post("/settings/email/cancel")
async def cancel_email(request: web.Request) -> web.Response:
    await request.app[ADDRESSES].cancel(visit_of(request))
    return redirect("/settings#email", "email-cancelled", request=request)


@routes.get("/settings/email/confirm")
async def confirm_email_form(request: web.Request) -> web.Response:
    return await page(request, "confirm_email.html", {"token": request.query.get("token", "")})


@routes.post("/settings/email/confirm")
async def confirm_email(request: web.Request) -> web.Response:
    form = await read_form(request)
    try:
        await request.app[ADDRESSES].confirm(visit_of(request), form.get("token"))
    except FORM_ERRORS as exc:
        return await page(request, "confirm_email.html", {
            "token": "", "errors": field_errors(exc)}, status=form_status(exc))
    return redirect("/settings#email", "email-changed", request=request)


@routes.post("/settings/aliases")
async def set_alias(request: web.Request) -> web.Response:
    form = await read_form(request)
    enabled = form.get("enabled") == "true"
    try:
        await request.app[MEMBERS].set_alias_enabled(visit_of(request).member_id,
                                                     form.get("address"), enabled)
    except FORM_ERRORS as exc:
        return await refused(request, "aliases", exc)
    return redirect("/settings#aliases", "alias-enabled" if enabled else "alias-disabled",
                    request=request)


@routes.post("/settings/aliases/new")
async def add_alias(request: web.Request) -> web.Response:
    await read_form(request)  # the CSRF token is checked by the middleware
    try:
        await request.app[MEMBERS].add_alias(visit_of(request).member_id)
    except FORM_ERRORS as exc:
        return await refused(request, "aliases", exc)
    return redirect("/settings#aliases", "alias-added", request=request)


@routes.post("/settings/notify")
async def notify(request: web.Request) -> web.Response:
    form = await read_form(request)
    try:
        await request.app[NOTIFICATIONS].set_preference(visit_of(request).member_id,
                                                        form.get("notify"))
    except FORM_ERRORS as exc:
        return await refused(request, "notify", exc)
    return redirect("/settings#notifications", "notify", request=request)


@routes.post("/settings/tokens")
async def create_token(request: web.Request) -> web.Response:
    form = await read_form(request)
    lifetime = form.get("expires", "90")
    try:
        token, secret = await request.app[TOKENS].issue(
            visit_of(request).member_id, name=form.get("name") or None,
            scopes=[s for s in form.getall("scopes", []) if isinstance(s, str)],
            expires_in=TOKEN_LIFETIMES.get(lifetime, 0) if isinstance(lifetime, str) else 0)
    except FORM_ERRORS as exc:
        return await refused(request, "tokens", exc)
    return await _settings(request, section="tokens", new_token=token, new_secret=secret)


@routes.post("/settings/tokens/{id}/revoke")
async def revoke_token(request: web.Request) -> web.Response:
    await request.app[TOKENS].revoke(visit_of(request).member_id, request.match_info["id"])
    return redirect("/settings#tokens", "token-revoked", request=request)


@routes.post("/settings/sessions/{id}/end")
async def end_session(request: web.Request) -> web.Response:
    await request.app[SESSIONS].end(visit_of(request).member_id, request.match_info["id"])
    return redirect("/settings#sessions", "session-ended", request=request)


@routes.post("/settings/sessions/end-others")
async def end_other_sessions(request: web.Request) -> web.Response:
    await request.app[SESSIONS].end_others(visit_of(request))
    return redirect("/settings#sessions", "others-ended", request=request)
