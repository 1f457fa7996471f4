"""Live updates for open pages (server-sent events) and the "stay signed in" button.

The stream only says "look again" (no content travels in it); the page then fetches
itself. On PostgreSQL the wake-up crosses server processes through LISTEN/NOTIFY. The
stream does not keep a session alive, and closes once the session has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import structlog
from aiohttp import web

from trademail.appkeys import EVENTS, READING, SESSIONS, WEB_STOPPING
from trademail.errors import SessionEnded
from trademail.web.request import fetched, session_token, visit_of

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()
HEARTBEAT_SECONDS = 20.0


@routes.get("/events")
@fetched
async def events(request: web.Request) -> web.StreamResponse:
    visit, token = visit_of(request), session_token(request) or ""
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store",
        "X-Accel-Buffering": "no"})
    await response.prepare(request)
    try:
        await _stream(request, response, visit.member_id, token)
    except ConnectionResetError:
        log.debug("live updates: the page went away")
    return response


async def _stream(request: web.Request, response: web.StreamResponse, member_id: str,
                  token: str) -> None:
    """Wake-ups for one member's page until it goes away, the session ends or the server
    stops."""
    await response.write(b"retry: 5000\n\n")
    stopping = request.app[WEB_STOPPING]
    async with request.app[EVENTS].subscribe("mailbox", member_id) as queue:
        while not stopping.is_set():
            got = asyncio.ensure_future(queue.get())
            stop = asyncio.ensure_future(stopping.wait())
            try:
                done, _ = await asyncio.wait({got, stop}, timeout=HEARTBEAT_SECONDS,
                                             return_when=asyncio.FIRST_COMPLETED)
            finally:  # also when the handler is cancelled: no task is left behind
                for task in (got, stop):
                    if not task.done():
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
            if stop in done:
                break
            try:
                await request.app[SESSIONS].resume(token)
            except SessionEnded:
                await response.write(b"event: signed-out\ndata: {}\n\n")
                break
            if got in done:
                while not queue.empty():  # one look covers every wake-up so far
                    queue.get_nowait()
                unread = await request.app[READING].unread_count(member_id)
                data = json.dumps({"unread": unread})
                await response.write(f"event: mailbox\ndata: {data}\n\n".encode())
            else:
                await response.write(b": still here\n\n")


@routes.post("/session/keepalive")
@fetched
async def keepalive(request: web.Request) -> web.Response:
    """The request itself keeps the session alive; say how long it now has."""
    visit = visit_of(request)
    return web.json_response({"ends_in": int(visit.ends_in), "extendable": visit.extendable})
