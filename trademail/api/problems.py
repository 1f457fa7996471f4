"""RFC 9457 problem+json: the one place where errors become HTTP responses for the API."""

from __future__ import annotations

import json
from typing import Any

import structlog
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from trademail.errors import (
    AuthenticationFailed,
    Conflict,
    Damaged,
    Forbidden,
    InvalidInput,
    MasterKeyError,
    NotFound,
    StorageFull,
    StoreError,
    Throttled,
    TooLarge,
    TradeMailError,
)

log = structlog.get_logger(__name__)
PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An HTTP-level failure found by a door (bad JSON, wrong media type)."""

    def __init__(self, status: int, detail: str, field: str | None = None) -> None:
        self.status = status
        self.detail = detail
        self.field = field
        super().__init__(detail)


def problem_response(status: int, detail: str, *, slug: str | None = None,
                     errors: list[dict[str, str]] | None = None,
                     headers: dict[str, str] | None = None) -> web.Response:
    title = _TITLES.get(status, "Error")
    body: dict[str, Any] = {
        "type": f"urn:trademail:problem:{slug}" if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return web.Response(status=status, text=json.dumps(body), content_type=PROBLEM_JSON,
                        headers=headers)


_TITLES = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 409: "Conflict", 413: "Content Too Large",
    415: "Unsupported Media Type", 422: "Unprocessable Content", 429: "Too Many Requests",
    500: "Internal Server Error", 503: "Service Unavailable", 507: "Insufficient Storage",
}


def from_error(exc: TradeMailError) -> web.Response:
    """Map a domain error to its HTTP status: the only place that knows the pairs."""
    if isinstance(exc, InvalidInput):
        errors = [{"field": p.field, "message": p.message} for p in exc.problems]
        status = 413 if isinstance(exc, TooLarge) else 422
        return problem_response(status, str(exc), slug="invalid-input", errors=errors)
    if isinstance(exc, Conflict):
        status = 422 if exc.field == "Idempotency-Key" else 409
        return problem_response(status, str(exc), slug="conflict", errors=[
            {"field": exc.field, "message": str(exc)}] if exc.field else None)
    if isinstance(exc, NotFound):
        return problem_response(404, "no such resource", slug="not-found")
    if isinstance(exc, AuthenticationFailed):
        return problem_response(401, str(exc), slug="unauthenticated",
                                headers={"WWW-Authenticate": 'Bearer realm="trademail"'})
    if isinstance(exc, Forbidden):
        return problem_response(403, str(exc), slug="forbidden")
    if isinstance(exc, Throttled):
        return problem_response(429, str(exc), slug="throttled",
                                headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, StorageFull):
        log.error("storage full", error=exc.__class__.__name__)
        return problem_response(507, "TradeMail's storage is full; nothing was saved. Try "
                                     "again later", slug="storage-full")
    if isinstance(exc, StoreError | MasterKeyError):
        log.error("service unavailable", error=exc.__class__.__name__)
        return problem_response(503, "the service is unavailable; try again later")
    if isinstance(exc, Damaged):
        log.error("stored data failed its integrity check", detail=str(exc))
        return problem_response(500, "this file is damaged and cannot be sent; ask the "
                                     "sender for it again", slug="damaged")
    log.error("unmapped domain error", error=exc.__class__.__name__)
    return problem_response(500, "something went wrong on our side")


def unreadable_body(request: web.Request, response: web.Response) -> web.Response:
    """`response` to a request whose body broke while it was read: no more of it is read
    (aiohttp would, after the answer, and fail again), and the connection closes after the
    answer, since what follows the broken body on it cannot be told apart."""
    request.content.feed_eof()
    response.force_close()
    return response


@web.middleware
async def problems_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every failure of the API (and of /healthz) leaves as problem+json, never a
    traceback: the middleware of their own sub-applications."""
    try:
        return await handler(request)
    except TradeMailError as exc:
        return from_error(exc)
    except Problem as exc:
        errors = [{"field": exc.field, "message": exc.detail}] if exc.field else None
        return problem_response(exc.status, exc.detail, errors=errors)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        detail = {413: "the request body is too large", 404: "no such resource",
                  405: "this method is not allowed here"}.get(exc.status, exc.reason)
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        return problem_response(exc.status, detail, headers=headers)
    except RequestPayloadError:  # a body its Content-Encoding does not decode
        return unreadable_body(request, problem_response(
            400, "the request body cannot be decoded as its Content-Encoding says"))
    except ConnectionResetError:
        # The client went away in the middle of its request: nobody is left to answer.
        log.debug("client went away", method=request.method)
        return web.Response(status=499)
    except Exception:
        log.exception("unhandled error", method=request.method,
                      route=request.match_info.route.resource.canonical
                      if request.match_info.route.resource else "-")
        return problem_response(500, "something went wrong on our side")
