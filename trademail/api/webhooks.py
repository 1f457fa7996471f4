"""A member's webhooks through the API: register, list, delete."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from trademail.api.common import (
    caller,
    iso,
    read_json,
)
from trademail.appkeys import (
    WEBHOOKS,
)
from trademail.services.webhooks import Endpoint

routes = web.RouteTableDef()
def webhook_json(hook: Endpoint) -> dict[str, Any]:
    return {"id": hook.id, "url": hook.url, "created_at": iso(hook.created_at)}


@routes.post("/v1/webhooks")
async def create_webhook(request: web.Request) -> web.Response:
    who = await caller(request, "account:manage")
    data = await read_json(request)
    hook, secret = await request.app[WEBHOOKS].register(who.member_id, url=data.get("url"))
    return web.json_response(webhook_json(hook) | {"secret": secret}, status=201)


@routes.get("/v1/webhooks")
async def list_webhooks(request: web.Request) -> web.Response:
    who = await caller(request, "account:manage")
    hooks = await request.app[WEBHOOKS].endpoints(who.member_id)
    return web.json_response({"webhooks": [webhook_json(h) for h in hooks]})


@routes.delete("/v1/webhooks/{id}")
async def delete_webhook(request: web.Request) -> web.Response:
    who = await caller(request, "account:manage")
    await request.app[WEBHOOKS].delete(who.member_id, request.match_info["id"])
    return web.Response(status=204)
