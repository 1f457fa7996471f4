"""The settings pages: an overview, and one page for each section (the account's standing,
password and address, aliases, notifications, blocked senders, API tokens, sessions,
deleting the account); each form posts to its section and comes back to that section's
page, but for the deletion, which ends on a plain page, signed out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from trademail.appkeys import (
    ACCOUNT,
    ADDRESSES,
    CONDUCT,
    ERASURE,
    FACTORS,
    MEMBERS,
    NOTIFICATIONS,
    SESSIONS,
    TOKENS,
)
from trademail.clientaddr import client_address
from trademail.errors import TradeMailError
from trademail.services.factors import Proof
from trademail.services.tokens import SCOPES
from trademail.web import request as cookies
from trademail.web.pages import field_errors, form_status, page
from trademail.web.request import (
    FORM_ERRORS,
    VISIT,
    device_cookie,
    read_form,
    redirect,
    remember_device,
    visit_of,
)

routes = web.RouteTableDef()
TOKEN_LIFETIMES = {"30": 30 * 86400, "90": 90 * 86400, "365": 365 * 86400}


@dataclass(frozen=True)
class Section:
    """One settings page: its address under /settings, its name, and what it holds."""

    slug: str
    title: str
    summary: str

    @property
    def url(self) -> str:
        return f"/settings/{self.slug}"


SECTIONS = {s.slug: s for s in (
    Section("profile", "Your account",
            "Your company and country, your tier, and your account's standing."),
    Section("security", "Password and address",
            "Change your password, or the email address TradeMail writes to."),
    Section("two-step", "Two-step sign-in",
            "An authenticator app or a passkey as well as your password, and recovery codes."),
    Section("aliases", "Aliases",
            "The addresses others see instead of yours: add one, or switch one off."),
    Section("notifications", "Notifications",
            "What TradeMail mails you when a message arrives, and mail that did not arrive."),
    Section("blocks", "Blocked senders",
            "Members and outside addresses whose messages you refuse or file away."),
    Section("signature", "Signature",
            "What goes below the messages and replies you write here."),
    Section("tokens", "API tokens",
            "Keys for your CRM, ERP or mobile apps, and what each may do."),
    Section("sessions", "Sessions",
            "Where you are signed in; sign out a browser you no longer use."),
    Section("activity", "Account activity",
            "Sign-ins, failed attempts and changes to your account, newest first."),
    Section("delete", "Delete account",
            "Delete your account, your mail and everything else of yours, for good."),
)}
# The form a refused post re-renders, when its section holds more than one.
FORM_SECTIONS = {"password": "security", "email": "security", "notify": "notifications"}
NOTIFY_CHOICES = (("off", "Nothing", "Check TradeMail yourself."),
                  ("summary", "A short notice", "Who wrote and the subject, with a link."),
                  ("full", "The whole message", "Text and attachments, with a reply address."))
# The signature's page is served by web/writing.py, the two-step page by web/factors.py and
# the activity page by web/activity.py, with what each keeps.
_SECTION_ROUTE = "/settings/{section:" + "|".join(
    s for s in SECTIONS if s not in ("signature", "two-step", "activity")) + "}"


def section_url(form: str) -> str:
    """The page a form of this name belongs to, where its post comes back to."""
    return SECTIONS[FORM_SECTIONS.get(form, form)].url


async def _render(request: web.Request, section: str | None, *, status: int = 200,
                  **context: Any) -> web.Response:
    """The overview (section None) or one section's page, with what it shows."""
    visit = visit_of(request)
    overview = await request.app[ACCOUNT].overview(visit)
    blocks = await request.app[CONDUCT].blocks(visit.member_id) \
        if section in (None, "blocks") else ()
    template = f"settings_{section}.html" if section else "settings.html"
    context.setdefault("factors", await request.app[FACTORS].of(visit.member_id))
    return await page(request, template, {
        "overview": overview, "blocks": blocks, "scopes": SCOPES, "errors": {},
        "block_values": {}, "sections": SECTIONS.values(), "current": section,
        "here": SECTIONS[section] if section else None,
        "notify_choices": NOTIFY_CHOICES, "form": None, **context}, status=status)


async def refused(request: web.Request, form: str, exc: TradeMailError,
                  **context: Any) -> web.Response:
    """The form's section page again, with the refused form's errors beside its fields."""
    return await _render(request, FORM_SECTIONS.get(form, form), status=form_status(exc),
                         form=form, errors=field_errors(exc), **context)


@routes.get("/settings")
async def settings(request: web.Request) -> web.Response:
    return await _render(request, None)


@routes.get(_SECTION_ROUTE)
async def section_page(request: web.Request) -> web.Response:
    return await _render(request, request.match_info["section"])


@routes.post("/settings/password")
async def change_password(request: web.Request) -> web.Response:
    form = await read_form(request)
    try:
        device = await request.app[ACCOUNT].change_password(
            visit_of(request), new=form.get("new_password"),
            proof=Proof(form.get("current_password"), form.get("second_factor"),
                        form.get("passkey_assertion"), client_address(request),
                        field="current_password", device=device_cookie(request)))
    except FORM_ERRORS as exc:
        return await refused(request, "password", exc)
    response = redirect(section_url("password"), "password", request=request)
    remember_device(request, response, device)
    return response


@routes.post("/settings/email")
async def change_email(request: web.Request) -> web.Response:
    form = await read_form(request)
    try:
        masked = await request.app[ADDRESSES].request(
            visit_of(request), email=form.get("email"),
            proof=Proof(form.get("password"), form.get("second_factor"),
                        form.get("passkey_assertion"), client_address(request),
                        device=device_cookie(request)))
    except FORM_ERRORS as exc:
        return await refused(request, "email", exc)
    return await _render(request, "security", form="email", email_sent_to=masked)


@routes.post("/settings/email/cancel")
async def cancel_email(request: web.Request) -> web.Response:
    await request.app[ADDRESSES].cancel(visit_of(request))
    return redirect(section_url("email"), "email-cancelled", request=request)


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
    return redirect(section_url("email"), "email-changed", request=request)


@routes.post("/settings/aliases")
async def set_alias(request: web.Request) -> web.Response:
    form = await read_form(request)
    enabled = form.get("enabled") == "true"
    try:
        await request.app[MEMBERS].set_alias_enabled(visit_of(request).member_id,
                                                     form.get("address"), enabled)
    except FORM_ERRORS as exc:
        return await refused(request, "aliases", exc)
    return redirect(section_url("aliases"), "alias-enabled" if enabled else "alias-disabled",
                    request=request)


@routes.post("/settings/aliases/new")
async def add_alias(request: web.Request) -> web.Response:
    await read_form(request)  # the CSRF token is checked by the middleware
    try:
        await request.app[MEMBERS].add_alias(visit_of(request).member_id)
    except FORM_ERRORS as exc:
        return await refused(request, "aliases", exc)
    return redirect(section_url("aliases"), "alias-added", request=request)


@routes.post("/settings/notify")
async def notify(request: web.Request) -> web.Response:
    form = await read_form(request)
    try:
        await request.app[NOTIFICATIONS].set_preference(visit_of(request).member_id,
                                                        form.get("notify"))
    except FORM_ERRORS as exc:
        return await refused(request, "notify", exc)
    return redirect(section_url("notify"), "notify", request=request)


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
    return await _render(request, "tokens", new_token=token, new_secret=secret)


@routes.post("/settings/tokens/{id}/revoke")
async def revoke_token(request: web.Request) -> web.Response:
    await request.app[TOKENS].revoke(visit_of(request).member_id, request.match_info["id"])
    return redirect(section_url("tokens"), "token-revoked", request=request)


@routes.post("/settings/sessions/{id}/end")
async def end_session(request: web.Request) -> web.Response:
    await request.app[SESSIONS].end(visit_of(request).member_id, request.match_info["id"])
    return redirect(section_url("sessions"), "session-ended", request=request)


@routes.post("/settings/sessions/end-others")
async def end_other_sessions(request: web.Request) -> web.Response:
    await request.app[SESSIONS].end_others(visit_of(request))
    return redirect(section_url("sessions"), "others-ended", request=request)


@routes.post("/settings/delete")
async def delete_account(request: web.Request) -> web.Response:
    form = await read_form(request)
    try:
        await request.app[ERASURE].erase(
            visit_of(request).member_id, password=form.get("password"),
            second_factor=form.get("second_factor"), passkey=form.get("passkey_assertion"),
            confirm=form.get("confirm"), confirm_required=True, client=client_address(request),
            device=device_cookie(request))
    except FORM_ERRORS as exc:
        return await refused(request, "delete", exc)
    request.pop(VISIT, None)  # nobody is signed in any more: the page shows no account
    response = await page(request, "account_deleted.html")
    cookies.end_session(request, response)
    return response
