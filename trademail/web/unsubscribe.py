"""One-click unsubscribe (RFC 8058) for notification mail. Its URL is under /api/v1 (mail
already sent names it), so the composition root mounts these routes in the API sub-app.

Mail clients POST to the List-Unsubscribe URL (List-Unsubscribe=One-Click); the signed
token in the URL is the authentication, so no session or CSRF token is needed. GET, which
link scanners prefetch, changes nothing: it shows a button that POSTs.
"""

from __future__ import annotations

from html import escape

from aiohttp import web

from trademail.appkeys import NOTIFICATIONS

routes = web.RouteTableDef()
PATH = "/v1/unsubscribe/{token}"  # in the API sub-application, at /api

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>TradeMail notifications</title></head>
<body><main><h1>TradeMail notifications</h1>
<form method="post" action="{action}"><p>Stop emails about new TradeMail?</p>
<button type="submit">Stop these emails</button></form></main></body></html>
"""


@routes.get(PATH)
async def confirm(request: web.Request) -> web.Response:
    return web.Response(text=_PAGE.format(action=escape(request.path, quote=True)),
                        content_type="text/html", headers={
                            "Content-Security-Policy": "default-src 'none'; form-action 'self'"})


@routes.post(PATH)
async def unsubscribe(request: web.Request) -> web.Response:
    await request.app[NOTIFICATIONS].unsubscribe(request.match_info["token"])
    return web.Response(status=204)
