"""Whether the server can work (GET /healthz), whether it should get work (GET /readyz),
and what it is doing (GET /metrics), for load balancers and monitors."""

from __future__ import annotations

import ipaddress

from aiohttp import web

from trademail import metrics
from trademail.appkeys import CONFIG, HEALTH


async def healthz(request: web.Request) -> web.Response:
    await request.app[HEALTH].check()
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    await request.app[HEALTH].ready()
    return web.json_response({"status": "ready"})


async def metrics_page(request: web.Request) -> web.Response:
    """Prometheus exposition, for the networks `[http] metrics_from` names only: the
    figures say how busy the service is, which is nobody else's business."""
    allowed = request.app[CONFIG].http.metrics_networks
    try:
        peer = ipaddress.ip_address((request.remote or "").split("%", 1)[0])
    except ValueError:
        peer = None
    if peer is None or not any(peer in network for network in allowed):
        raise web.HTTPForbidden(text="metrics are served to the monitoring network only")
    depth, age = await request.app[HEALTH].outbox()
    body, content_type = metrics.render(depth, age)
    return web.Response(body=body, headers={"Content-Type": content_type})
