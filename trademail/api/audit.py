"""The caller's own audit log through the API: `GET /v1/me/audit`, newest first, a page at a
time, in the words the settings page uses."""

from __future__ import annotations

from aiohttp import web

from trademail.api.common import caller, int_param, iso
from trademail.api.problems import Problem
from trademail.appkeys import AUDIT
from trademail.ids import is_id

routes = web.RouteTableDef()
MAX_LIMIT = 100


@routes.get("/v1/me/audit")
async def my_audit(request: web.Request) -> web.Response:
    who = await caller(request, "account:manage")
    limit = int_param(request, "limit")
    limit = 50 if limit is None else limit
    if not 1 <= limit <= MAX_LIMIT:
        raise Problem(422, f"must be from 1 to {MAX_LIMIT}", field="limit")
    cursor = request.query.get("cursor") or None
    if cursor is not None and not is_id(cursor):
        raise Problem(422, "is not a cursor this API handed out", field="cursor")
    found = await request.app[AUDIT].member_log(who.member_id, before=cursor, limit=limit)
    return web.json_response({
        "entries": [{"id": e.id, "action": e.action, "description": e.what, "by": e.by,
                     "detail": e.detail, "created_at": iso(e.created_at)}
                    for e in found.entries],
        "next_cursor": found.older})
