"""GET /.well-known/mta-sts.txt: the relay domain's MTA-STS policy (RFC 8461), the one
`trademail dns` prints and whose id its `_mta-sts` record carries. Sending servers fetch it
from https://mta-sts.<relay domain>/, so a proxy holding that name's certificate can pass
the request here rather than keep a copy of the file that could fall out of date."""

from __future__ import annotations

from aiohttp import web

from trademail.api.problems import problems_middleware


def create_well_known(mta_sts_policy: str) -> web.Application:
    """The sub-application mounted at /.well-known: no session, no cookies."""

    async def mta_sts(request: web.Request) -> web.Response:
        return web.Response(text=mta_sts_policy, content_type="text/plain",
                            headers={"Cache-Control": "max-age=300"})

    well_known = web.Application(middlewares=[problems_middleware])
    well_known.router.add_get("/mta-sts.txt", mta_sts)
    return well_known
