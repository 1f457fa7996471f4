"""The member's own audit log in settings ("Account activity"): sign-ins, failed attempts,
changes to the password, the address, API tokens and exports, and what staff did to the
account, newest first, a page at a time."""

from __future__ import annotations

from aiohttp import web

from trademail.appkeys import AUDIT
from trademail.web.pages import page
from trademail.web.request import visit_of
from trademail.web.settings import SECTIONS

routes = web.RouteTableDef()
PAGE = 50


@routes.get("/settings/activity")
async def activity(request: web.Request) -> web.Response:
    before = request.query.get("before") or None
    found = await request.app[AUDIT].member_log(visit_of(request).member_id, before=before,
                                                limit=PAGE)
    return await page(request, "settings_activity.html", {
        "entries": found.entries, "newest": before is None,
        "older": f"/settings/activity?before={found.older}" if found.older else "",
        "sections": SECTIONS.values(), "current": "activity", "here": SECTIONS["activity"]})
