"""The JSON message API door (/api/v1), described by api/openapi.json."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web

from trademail.api.views import routes

OPENAPI_PATH = Path(__file__).with_name("openapi.json")


def setup_api(app: web.Application) -> None:
    app.add_routes(routes)
    document = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))

    async def openapi(request: web.Request) -> web.Response:
        return web.json_response(document)

    app.router.add_get("/api/v1/openapi.json", openapi)
