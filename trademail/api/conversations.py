"""Conversations through the API: list them (a folder or a search, each conversation once),
file one as a whole, and undo that. Single messages stay under /v1/messages."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from trademail.api.common import caller, folder_param, int_param, read_json, summary_json
from trademail.appkeys import READING
from trademail.errors import InvalidInput
from trademail.services.reading import Conversation, Filed

routes = web.RouteTableDef()


def _conversation_json(c: Conversation) -> dict[str, Any]:
    return {"thread_id": c.thread_id, "latest": summary_json(c.latest),
            "messages": c.messages, "unread": c.unread, "attachments": c.attachments}


def _filed_json(f: Filed) -> dict[str, Any]:
    return {"message_id": f.message_id, "folder": f.folder, "unread": f.unread}


@routes.get("/v1/conversations")
async def list_conversations(request: web.Request) -> web.Response:
    who = await caller(request, "messages:read")
    query = request.query
    page = await request.app[READING].conversations(
        who.member_id, folder=folder_param(request),
        query=query.get("q"), cursor=query.get("cursor") or None,
        limit=int_param(request, "limit"))
    return web.json_response({"conversations": [_conversation_json(c) for c in page.items],
                              "next_cursor": page.next_cursor})


@routes.post("/v1/conversations/{id}/file")
async def file_conversation(request: web.Request) -> web.Response:
    who = await caller(request, "messages:write")
    data = await read_json(request)
    filed = await request.app[READING].file_thread(who.member_id, request.match_info["id"],
                                                   data.get("action"))
    return web.json_response({"thread_id": request.match_info["id"],
                              "undo": [_filed_json(f) for f in filed]})


@routes.post("/v1/conversations/{id}/restore")
async def restore_conversation(request: web.Request) -> web.Response:
    who = await caller(request, "messages:write")
    data = await read_json(request)
    await request.app[READING].restore(who.member_id, request.match_info["id"],
                                       _undo_of(data.get("undo")))
    return web.Response(status=204)


def _undo_of(value: object) -> list[Filed]:
    """The `undo` list a filing answered with, as it came back."""
    if not isinstance(value, list) or not value or len(value) > 500 or not all(
            isinstance(f, dict) and set(f) == {"message_id", "folder", "unread"}
            and isinstance(f["message_id"], str) and isinstance(f["folder"], str)
            and isinstance(f["unread"], bool) for f in value):
        raise InvalidInput.one("undo", "must be the undo list a filing answered with")
    return [Filed(f["message_id"], f["folder"], f["unread"]) for f in value]
