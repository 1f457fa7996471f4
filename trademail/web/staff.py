"""The TradeStaff console in the web inbox: the queue of flagged listings, member search,
a member's card with status and tier changes (each with its reason), the audit log, the
conversations members reported, and who opens the most contact sections.

Every page asks the moderation service who the staff member is first: anyone else gets its
Forbidden, a 403 page. Staff see a member's address only masked, and read mail only through
a report, each reading audited by the service before anything is shown.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from trademail.appkeys import MODERATION
from trademail.services.audit import Actor
from trademail.services.standing import FREE, PREMIUM, STATUS_LABELS, STATUSES, TIER_LABELS
from trademail.web.pages import field_errors, form_status, page
from trademail.web.request import FORM_ERRORS, read_form, redirect, visit_of

routes = web.RouteTableDef()
STATUS_OPTIONS = [(s, STATUS_LABELS[s]) for s in STATUSES]
TIER_OPTIONS = [(t, TIER_LABELS[t]) for t in (FREE, PREMIUM)]


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


async def staff_of(request: web.Request) -> Actor:
    """The staff member behind this request; Forbidden (a 403 page) for anyone else."""
    return await request.app[MODERATION].staff(visit_of(request).member_id)


# ---------------------------------------------------------------- queue and search


async def _console(request: web.Request, actor: Actor, *, status: int = 200,
                   **context: Any) -> web.Response:
    queue = await request.app[MODERATION].queue(actor)
    return await page(request, "staff.html", {"queue": queue, "q": "", "found": None,
                                              "errors": {}, **context}, status=status)


@routes.get("/staff")
async def console(request: web.Request) -> web.Response:
    return await _console(request, await staff_of(request))


@routes.post("/staff/search")
async def search(request: web.Request) -> web.Response:
    """Find members; posted, so an address searched for stays out of addresses and logs."""
    actor = await staff_of(request)
    query = _text((await read_form(request)).get("q"))
    shown = "" if "@" in query else query  # an address is looked up, never shown again
    try:
        found = await request.app[MODERATION].search(actor, query)
    except FORM_ERRORS as exc:
        return await _console(request, actor, status=form_status(exc), q=shown,
                              errors=field_errors(exc))
    return await _console(request, actor, q=shown, found=found)


@routes.post("/staff/flags/{id}/dismiss")
async def dismiss_flag(request: web.Request) -> web.Response:
    """The check got it wrong: the flag closes for good, in the audit log."""
    actor = await staff_of(request)
    await request.app[MODERATION].dismiss_flag(actor, request.match_info["id"])
    return redirect("/staff", "flag-dismissed", request=request)


# ---------------------------------------------------------------- one member


async def _member(request: web.Request, actor: Actor, *, status: int = 200,
                  **context: Any) -> web.Response:
    moderation = request.app[MODERATION]
    card = await moderation.member(actor, request.match_info["id"])
    return await page(request, "staff_member.html", {
        "card": card, "entries": (await moderation.audit(actor, member_id=card.id)).entries,
        "status_options": STATUS_OPTIONS, "tier_options": TIER_OPTIONS, "section": "",
        "errors": {}, "values": {}, "is_self": card.id == actor.id, **context},
        status=status)


@routes.get("/staff/members/{id}")
async def member(request: web.Request) -> web.Response:
    return await _member(request, await staff_of(request))


async def _change(request: web.Request, what: str) -> web.Response:
    """A status or tier change, with the reason the member and the audit log are given."""
    actor = await staff_of(request)
    form = await read_form(request)
    member_id = request.match_info["id"]
    values = {what: _text(form.get(what)), "reason": _text(form.get("reason"))}
    moderation = request.app[MODERATION]
    set_it = moderation.set_status if what == "status" else moderation.set_tier
    try:
        await set_it(actor, member_id, values[what], values["reason"])
    except FORM_ERRORS as exc:
        return await _member(request, actor, status=form_status(exc), section=what,
                             errors=field_errors(exc), values=values)
    return redirect(f"/staff/members/{member_id}", f"{what}-changed", request=request)


@routes.post("/staff/members/{id}/status")
async def change_status(request: web.Request) -> web.Response:
    return await _change(request, "status")


@routes.post("/staff/members/{id}/tier")
async def change_tier(request: web.Request) -> web.Response:
    return await _change(request, "tier")


# ---------------------------------------------------------------- audit log and viewers


@routes.get("/staff/audit")
async def audit(request: web.Request) -> web.Response:
    actor = await staff_of(request)
    moderation = request.app[MODERATION]
    member_id = request.query.get("member") or None  # one member's entries only
    found = await moderation.audit(actor, member_id=member_id,
                                   before=request.query.get("before") or None)
    entries = found.entries
    members = await moderation.cards([i for e in entries for i in (e.member_id, e.actor_id)
                                      if i])
    here = f"/staff/audit?member={quote(member_id, safe='')}&" if member_id else "/staff/audit?"
    return await page(request, "staff_audit.html", {
        "entries": entries, "members": members, "member_id": member_id,
        "older": f"{here}before={found.older}" if found.older else "",
        "newest": not request.query.get("before")})


@routes.get("/staff/viewers")
async def viewers(request: web.Request) -> web.Response:
    actor = await staff_of(request)
    return await page(request, "staff_viewers.html", {
        "viewers": await request.app[MODERATION].top_viewers(actor)})


# ---------------------------------------------------------------- reports


@routes.get("/staff/reports")
async def reports(request: web.Request) -> web.Response:
    actor = await staff_of(request)
    return await page(request, "staff_reports.html", {
        "reports": await request.app[MODERATION].reports(actor)})


async def _report(request: web.Request, actor: Actor, *, status: int = 200,
                  **context: Any) -> web.Response:
    """A report with the conversation reported: the service audits the reading first."""
    report, reporter, thread = await request.app[MODERATION].read_report(
        actor, request.match_info["id"])
    return await page(request, "staff_report.html", {
        "report": report, "reporter": reporter, "thread": thread, "errors": {},
        "values": {}, **context}, status=status)


@routes.get("/staff/reports/{id}")
async def report(request: web.Request) -> web.Response:
    return await _report(request, await staff_of(request))


@routes.post("/staff/reports/{id}/close")
async def close_report(request: web.Request) -> web.Response:
    actor = await staff_of(request)
    outcome = _text((await read_form(request)).get("outcome"))
    try:
        await request.app[MODERATION].close_report(actor, request.match_info["id"], outcome)
    except FORM_ERRORS as exc:
        return await _report(request, actor, status=form_status(exc),
                             errors=field_errors(exc), values={"outcome": outcome})
    return redirect("/staff/reports", "report-closed", request=request)
