"""Second factors in the web door: the sign-in's second step, and the settings page where a
member adds an authenticator app or a passkey, removes one, and makes new recovery codes.
Every change asks for the password and (once there is one) a second factor again."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import segno
from aiohttp import web

from trademail.appkeys import FACTORS, SESSIONS
from trademail.clientaddr import client_address
from trademail.errors import SessionEnded
from trademail.services.factors import CONFIRM, REGISTER, SIGNIN, Proof
from trademail.services.sessions import SecondStep
from trademail.web.pages import field_errors, form_status, page
from trademail.web.request import (
    FORM_ERRORS,
    cookie_names,
    del_cookie,
    device_cookie,
    public,
    read_form,
    redirect,
    safe_next,
    session_token,
    set_cookie,
    start_session,
    visit_of,
)
from trademail.web.settings import SECTIONS

routes = web.RouteTableDef()
HERE = "/settings/two-step"


def _pending_cookie(request: web.Request) -> str:
    return cookie_names(request)[0].replace("tm_session", "tm_pending")


def second_step(request: web.Request, step: SecondStep, next_path: str) -> web.Response:
    """The answer to a right password of a member with a second factor: on to the code."""
    query = "?" + urlencode({"next": next_path}) if next_path != "/inbox" else ""
    response = redirect("/signin/verify" + query)
    set_cookie(request, response, _pending_cookie(request), step.token)
    return response


async def _verify_page(request: web.Request, next_path: str, *, status: int = 200,
                       errors: dict[str, str] | None = None) -> web.Response:
    factors = request.app[FACTORS]
    member_id = await factors.pending_member(request.cookies.get(_pending_cookie(request)))
    kinds = {f.kind for f in await factors.of(member_id)}
    return await page(request, "signin_verify.html", {
        "next": next_path, "errors": errors or {}, "totp": "totp" in kinds,
        "passkey": "passkey" in kinds and factors.passkeys_possible}, status=status)


def _signin_again(request: web.Request) -> web.Response:
    response = redirect("/signin?reason=second-step")
    del_cookie(request, response, _pending_cookie(request))
    return response


@routes.get("/signin/verify")
@public
async def verify_form(request: web.Request) -> web.Response:
    try:
        return await _verify_page(request, safe_next(request.query.get("next")))
    except SessionEnded:
        return _signin_again(request)


@routes.post("/signin/verify")
@public
async def verify(request: web.Request) -> web.Response:
    form = await read_form(request)
    next_path = safe_next(form.get("next"))
    try:
        started = await request.app[SESSIONS].finish_sign_in(
            request.cookies.get(_pending_cookie(request)), code=form.get("code"),
            passkey=form.get("passkey_assertion"),
            user_agent=request.headers.get("User-Agent", ""), replacing=session_token(request))
    except SessionEnded:
        return _signin_again(request)
    except FORM_ERRORS as exc:
        try:
            return await _verify_page(request, next_path, status=form_status(exc),
                                      errors=field_errors(exc))
        except SessionEnded:  # it ended with the refusal (the account was closed meanwhile)
            return await page(request, "signin.html", {
                "next": next_path, "values": {}, "errors": field_errors(exc)},
                status=form_status(exc))
    response = redirect(next_path)
    start_session(request, response, started)
    del_cookie(request, response, _pending_cookie(request))
    return response


@routes.post("/signin/verify/passkey")
@public
async def verify_passkey_options(request: web.Request) -> web.Response:
    factors = request.app[FACTORS]
    try:
        member_id = await factors.pending_member(request.cookies.get(_pending_cookie(request)))
    except SessionEnded:
        raise web.HTTPUnauthorized(text="sign in again") from None
    return _json(await factors.passkey_options(member_id, "", SIGNIN))


# ---------------------------------------------------------------- the settings page


async def _settings_page(request: web.Request, *, status: int = 200, form: str | None = None,
                         errors: dict[str, str] | None = None, **context: Any) -> web.Response:
    visit = visit_of(request)
    factors = request.app[FACTORS]
    setup = factors.totp_setup(visit.member_id, visit.username)
    return await page(request, "settings_two_step.html", {
        "factors": await factors.of(visit.member_id),
        "codes_left": await factors.recovery_codes_left(visit.member_id),
        "passkeys_possible": factors.passkeys_possible, "setup": setup,
        "qr": segno.make(setup.uri, error="m").svg_inline(scale=4, title="QR code"),
        "form": form, "errors": errors or {}, "sections": SECTIONS.values(),
        "current": "two-step", "here": SECTIONS["two-step"], **context}, status=status)


def _proof(request: web.Request, form: Any) -> Proof:
    return Proof(form.get("password"), form.get("second_factor"),
                 form.get("passkey_assertion"), client=client_address(request),
                 device=device_cookie(request))


@routes.get(HERE)
async def settings_page(request: web.Request) -> web.Response:
    return await _settings_page(request)


@routes.post("/settings/totp")
async def add_totp(request: web.Request) -> web.Response:
    form = await read_form(request)
    visit = visit_of(request)
    try:
        codes = await request.app[FACTORS].add_totp(
            visit.member_id, _proof(request, form), setup=form.get("setup"),
            code=form.get("code"), name=form.get("name"))
    except FORM_ERRORS as exc:
        return await _settings_page(request, status=form_status(exc), form="totp",
                                    errors=field_errors(exc))
    return await _added(request, codes, "two-step-added")


@routes.post("/settings/passkeys/options")
async def passkey_options(request: web.Request) -> web.Response:
    visit = visit_of(request)
    purpose = REGISTER if request.query.get("for") == "new" else CONFIRM
    return _json(await request.app[FACTORS].passkey_options(visit.member_id, visit.username,
                                                            purpose))


@routes.post("/settings/passkeys")
async def add_passkey(request: web.Request) -> web.Response:
    form = await read_form(request)
    visit = visit_of(request)
    try:
        codes = await request.app[FACTORS].add_passkey(
            visit.member_id, _proof(request, form), credential=form.get("credential"),
            name=form.get("name"))
    except FORM_ERRORS as exc:
        return await _settings_page(request, status=form_status(exc), form="passkey",
                                    errors=field_errors(exc))
    return await _added(request, codes, "passkey-added")


@routes.post("/settings/factors/{id}/remove")
async def remove_factor(request: web.Request) -> web.Response:
    form = await read_form(request)
    visit = visit_of(request)
    try:
        await request.app[FACTORS].remove(visit.member_id, _proof(request, form),
                                          request.match_info["id"])
    except FORM_ERRORS as exc:
        return await _settings_page(request, status=form_status(exc),
                                    form=f"remove-{request.match_info['id']}",
                                    errors=field_errors(exc))
    return redirect(HERE, "two-step-removed", request=request)


@routes.post("/settings/recovery-codes")
async def new_codes(request: web.Request) -> web.Response:
    form = await read_form(request)
    visit = visit_of(request)
    try:
        codes = await request.app[FACTORS].new_recovery_codes(visit.member_id,
                                                              _proof(request, form))
    except FORM_ERRORS as exc:
        return await _settings_page(request, status=form_status(exc), form="codes",
                                    errors=field_errors(exc))
    return await _added(request, codes, None)


async def _added(request: web.Request, codes: list[str], notice: str | None) -> web.Response:
    """Back to the page; new recovery codes are shown on it, this once, never again."""
    if not codes:
        return redirect(HERE, notice, request=request)
    response = await _settings_page(request, new_codes=codes)
    response.headers["Cache-Control"] = "no-store"
    return response


def _json(options: str) -> web.Response:
    return web.Response(text=options, content_type="application/json",
                        headers={"Cache-Control": "no-store"})
