"""Every HTTP request, whichever door answers it: a request id (in the logs and in the
X-Request-Id header), one access-log line, and the request counters of /metrics. The log
line names the route's pattern, never the path, so no username or id gets in."""

from __future__ import annotations

import asyncio
import re
import secrets
import time

import structlog
from aiohttp import web

from trademail import metrics
from trademail.web.request import Handler, route_of

log = structlog.get_logger("trademail.access")

REQUEST_ID = web.RequestKey("request_id", str)
_GIVEN_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
# What the access log and the metrics say of a request whose client left before its answer
# was done (nginx's word for it), so a closed page never counts as a server error.
CLIENT_WENT_AWAY = 499


def door_of(path: str) -> str:
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/static/"):
        return "static"
    return "probe" if path in _PROBES else "web"


@web.middleware
async def observe_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    given = request.headers.get("X-Request-Id", "")
    request_id = given if _GIVEN_ID.fullmatch(given) else secrets.token_hex(8)
    request[REQUEST_ID] = request_id
    structlog.contextvars.bind_contextvars(request_id=request_id)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except (asyncio.CancelledError, ConnectionResetError):
        status = CLIENT_WENT_AWAY  # a page left, a live stream closed: no server error
        raise
    finally:
        elapsed = time.perf_counter() - started
        door = door_of(request.path)
        method = request.method if request.method in _METHODS else "OTHER"
        metrics.HTTP_REQUESTS.labels(door, method, str(status)).inc()
        metrics.HTTP_SECONDS.labels(door).observe(elapsed)
        log.info("request", method=method, route=route_of(request), status=status,
                 ms=round(elapsed * 1000, 2))
        structlog.contextvars.unbind_contextvars("request_id")


async def request_id_header(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: the id goes back, so a member's report can name their request."""
    request_id = request.get(REQUEST_ID)
    if request_id:
        response.headers["X-Request-Id"] = request_id
