"""Pages that prove and recover an account: confirming the address given at sign-up,
mailing it a new confirmation link, and resetting a forgotten password.

The links mailed for these open a page with one button that POSTs: a link scanner that
fetches every link in a mail must not confirm or reset anything.
"""

from __future__ import annotations

from aiohttp import web

from trademail.appkeys import RECOVERY, SIGNUP
from trademail.clientaddr import client_address
from trademail.web.pages import field_errors, form_status, page
from trademail.web.request import FORM_ERRORS, public, read_form, redirect, visit_of
from trademail.web.settings import refused, section_url

routes = web.RouteTableDef()


def _token_of(form_or_query: object) -> str:
    value = getattr(form_or_query, "get", lambda _: None)("token")
    return value if isinstance(value, str) else ""


@routes.get("/signup/confirm")
@public
async def confirm_form(request: web.Request) -> web.Response:
    return await page(request, "signup_confirm.html", {"token": _token_of(request.query)})


@routes.post("/signup/confirm")
@public
async def confirm(request: web.Request) -> web.Response:
    form = await read_form(request)
    try:
        await request.app[SIGNUP].confirm(form.get("token"))
    except FORM_ERRORS as exc:
        return await page(request, "signup_confirm.html", {
            "token": "", "errors": field_errors(exc)}, status=form_status(exc))
    return await page(request, "signup_confirm.html", {"confirmed": True})


@routes.post("/settings/confirmation")
async def resend_confirmation(request: web.Request) -> web.Response:
    await read_form(request)  # the CSRF token is checked by the middleware
    try:
        await request.app[SIGNUP].resend(visit_of(request).member_id)
    except FORM_ERRORS as exc:
        return await refused(request, "email", exc)
    return redirect(section_url("email"), "confirmation-sent", request=request)


@routes.get("/password/forgot")
@public
async def forgot_form(request: web.Request) -> web.Response:
    return await page(request, "password_forgot.html", {"values": {}})


@routes.post("/password/forgot")
@public
async def forgot(request: web.Request) -> web.Response:
    form = await read_form(request)
    try:
        await request.app[RECOVERY].request(form.get("account"), client=client_address(request))
    except FORM_ERRORS as exc:  # what was typed is not shown again: it may be an address
        return await page(request, "password_forgot.html", {
            "values": {}, "errors": field_errors(exc)}, status=form_status(exc))
    return await page(request, "password_forgot.html", {"sent": True, "values": {}})


@routes.get("/password/reset")
@public
async def reset_form(request: web.Request) -> web.Response:
    token = _token_of(request.query)
    try:
        await request.app[RECOVERY].check(token)
    except FORM_ERRORS as exc:
        return await page(request, "password_reset.html", {
            "token": "", "errors": field_errors(exc)}, status=form_status(exc))
    return await page(request, "password_reset.html", {"token": token})


@routes.post("/password/reset")
@public
async def reset(request: web.Request) -> web.Response:
    form = await read_form(request)
    token = _token_of(form)
    try:
        await request.app[RECOVERY].complete(token, form.get("password"),
                                             client=client_address(request))
    except FORM_ERRORS as exc:
        errors = field_errors(exc)
        return await page(request, "password_reset.html", {
            "token": "" if "token" in errors else token, "errors": errors},
            status=form_status(exc))
    return redirect("/signin?reason=password-reset")
