"""The "Spam" and "Not spam" buttons of a message page: the message moves (to the Spam
folder or the inbox) and the spam filter learns from it."""

from __future__ import annotations

from aiohttp import web

from trademail.appkeys import SPAM_MARKS
from trademail.web.request import redirect, visit_of

routes = web.RouteTableDef()  # POSTs: the door's middleware checks their CSRF token


@routes.post("/messages/{id}/spam")
async def mark_spam(request: web.Request) -> web.Response:
    await request.app[SPAM_MARKS].mark(visit_of(request).member_id, request.match_info["id"],
                                       spam=True)
    return redirect("/spam", "marked-spam", request=request)


@routes.post("/messages/{id}/not-spam")
async def mark_not_spam(request: web.Request) -> web.Response:
    await request.app[SPAM_MARKS].mark(visit_of(request).member_id, request.match_info["id"],
                                       spam=False)
    return redirect("/inbox", "marked-not-spam", request=request)
