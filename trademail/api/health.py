"""Whether the server can work (GET /healthz), for load balancers and monitors."""

from __future__ import annotations

from aiohttp import web

from trademail.appkeys import (
    HEALTH,
)


async def healthz(request: web.Request) -> web.Response:
    await request.app[HEALTH].check()
    return web.json_response({"status": "ok"})
