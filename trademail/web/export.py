"""The member's whole mailbox to take away: an mbox file mail clients import, or JSON
with the attachments in it."""

from __future__ import annotations

from aiohttp import web

from trademail.appkeys import EXPORT
from trademail.downloads import stream_export
from trademail.web.request import visit_of

routes = web.RouteTableDef()


@routes.get("/export/mailbox.mbox")
async def mailbox(request: web.Request) -> web.StreamResponse:
    visit = visit_of(request)
    return await stream_export(request, request.app[EXPORT].mbox(visit.member_id),
                               f"trademail-{visit.username}.mbox", "application/mbox")


@routes.get("/export/mailbox.json")
async def mailbox_json(request: web.Request) -> web.StreamResponse:
    visit = visit_of(request)
    return await stream_export(request, request.app[EXPORT].as_json(visit.member_id),
                               f"trademail-{visit.username}.json", "application/json")
