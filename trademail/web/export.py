"""The member's whole mailbox to take away, as an mbox file mail clients import."""

from __future__ import annotations

from aiohttp import web

from trademail.appkeys import EXPORT
from trademail.downloads import stream_mbox
from trademail.web.request import visit_of

routes = web.RouteTableDef()


@routes.get("/export/mailbox.mbox")
async def mailbox(request: web.Request) -> web.StreamResponse:
    visit = visit_of(request)
    return await stream_mbox(request, request.app[EXPORT].mbox(visit.member_id),
                             f"trademail-{visit.username}.mbox")
