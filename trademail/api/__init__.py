"""The JSON message API door: an aiohttp sub-application mounted at /api, with its own
middleware (every failure becomes RFC 9457 problem+json), described by api/openapi.json."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from trademail.api import (
    audit,
    conversations,
    directory,
    listings,
    members,
    messages,
    safety,
    webhooks,
    writing,
)
from trademail.api.problems import problems_middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OPENAPI_PATH = Path(__file__).with_name("openapi.json")


async def no_store(request: web.Request, response: web.StreamResponse) -> None:
    """What the API says of every answer: it holds a member's mail, so nobody keeps it."""
    response.headers.setdefault("Cache-Control", "no-store")


def create_api() -> web.Application:
    """The API sub-application, its routes under /v1; the composition root hands it the
    services it calls before mounting it at /api."""
    api = web.Application(middlewares=[problems_middleware])
    api.on_response_prepare.append(no_store)
    for module in (members, messages, conversations, webhooks, listings, directory, safety,
                   writing, audit):
        api.add_routes(module.routes)
    document = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))

    async def openapi(request: web.Request) -> web.Response:
        return web.json_response(document)

    api.router.add_get("/v1/openapi.json", openapi)
    return api


def create_probe(handler: Handler) -> web.Application:
    """GET /healthz, /readyz or /metrics: each a sub-application of its own, with no session
    and problem+json when down; the composition root gives it Health and the config."""
    probe = web.Application(middlewares=[problems_middleware])
    probe.on_response_prepare.append(no_store)  # a probe must see the state of now
    probe.router.add_get("", handler)
    return probe
