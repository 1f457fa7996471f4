"""A member's signature and drafts through the API."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from trademail.api.common import JSON_LIMIT, caller, iso, read_json
from trademail.appkeys import CONFIG, WRITING
from trademail.errors import InvalidInput
from trademail.services.writing import SavedDraft

routes = web.RouteTableDef()


def draft_json(draft: SavedDraft) -> dict[str, Any]:
    return {"id": draft.id, "to": draft.to, "subject": draft.subject, "body": draft.body,
            "in_reply_to": draft.in_reply_to, "forward_of": draft.forward_of,
            "updated_at": iso(draft.updated_at)}


@routes.get("/v1/me/signature")
async def get_signature(request: web.Request) -> web.Response:
    who = await caller(request, "messages:read")
    return web.json_response(
        {"signature": await request.app[WRITING].signature(who.member_id)})


@routes.put("/v1/me/signature")
async def put_signature(request: web.Request) -> web.Response:
    who = await caller(request, "account:manage")
    data = await read_json(request)
    if not isinstance(data.get("signature"), str):
        raise InvalidInput.one("signature", "must be text; empty for no signature")
    kept = await request.app[WRITING].set_signature(who.member_id, data["signature"])
    return web.json_response({"signature": kept})


@routes.get("/v1/drafts")
async def list_drafts(request: web.Request) -> web.Response:
    who = await caller(request, "messages:read")
    drafts = await request.app[WRITING].drafts(who.member_id)
    return web.json_response({"drafts": [draft_json(d) for d in drafts]})


async def _save(request: web.Request, draft_id: str | None) -> SavedDraft:
    who = await caller(request, "messages:send")
    data = await read_json(request, limit=6 * request.app[CONFIG].messages.max_body_bytes
                           + JSON_LIMIT)
    return await request.app[WRITING].save_draft(
        who.member_id, draft_id, to=data.get("to"), subject=data.get("subject"),
        body=data.get("body"), in_reply_to=data.get("in_reply_to"),
        forward_of=data.get("forward_of"))


@routes.post("/v1/drafts")
async def create_draft(request: web.Request) -> web.Response:
    saved = await _save(request, None)
    return web.json_response(draft_json(saved), status=201,
                             headers={"Location": f"/api/v1/drafts/{saved.id}"})


@routes.get("/v1/drafts/{id}")
async def get_draft(request: web.Request) -> web.Response:
    who = await caller(request, "messages:read")
    return web.json_response(draft_json(
        await request.app[WRITING].draft(who.member_id, request.match_info["id"])))


@routes.put("/v1/drafts/{id}")
async def update_draft(request: web.Request) -> web.Response:
    return web.json_response(draft_json(await _save(request, request.match_info["id"])))


@routes.delete("/v1/drafts/{id}")
async def delete_draft(request: web.Request) -> web.Response:
    who = await caller(request, "messages:send")
    await request.app[WRITING].delete_draft(who.member_id, request.match_info["id"])
    return web.Response(status=204)
