"""Members protecting themselves through the API: blocking a member or an outside address
(their mail refused, or filed away silently), and reporting a conversation to staff."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from trademail.api.common import caller, iso, read_json
from trademail.appkeys import CONDUCT
from trademail.services.conduct import Block

routes = web.RouteTableDef()


def block_json(block: Block) -> dict[str, Any]:
    return {"id": block.id, "kind": block.kind, "who": block.label, "mode": block.mode,
            "created_at": iso(block.created_at)}


@routes.get("/v1/me/blocks")
async def list_blocks(request: web.Request) -> web.Response:
    who = await caller(request, "account:manage")
    blocks = await request.app[CONDUCT].blocks(who.member_id)
    return web.json_response({"items": [block_json(b) for b in blocks]})


@routes.post("/v1/me/blocks")
async def add_block(request: web.Request) -> web.Response:
    who = await caller(request, "account:manage")
    data = await read_json(request)
    conduct = request.app[CONDUCT]
    mode = data.get("mode", "refuse")
    if data.get("message_id") is not None:
        block = await conduct.block_sender(who.member_id, str(data["message_id"]), mode)
    else:
        block = await conduct.block(who.member_id, data.get("who"), mode)
    return web.json_response(block_json(block), status=201)


@routes.delete("/v1/me/blocks/{id}")
async def remove_block(request: web.Request) -> web.Response:
    who = await caller(request, "account:manage")
    await request.app[CONDUCT].unblock(who.member_id, request.match_info["id"])
    return web.Response(status=204)


@routes.post("/v1/messages/{id}/report")
async def report(request: web.Request) -> web.Response:
    who = await caller(request, "messages:write")
    data = await read_json(request)
    report_id = await request.app[CONDUCT].report(who.member_id, request.match_info["id"],
                                                  data.get("reason"))
    return web.json_response({"id": report_id}, status=201)
