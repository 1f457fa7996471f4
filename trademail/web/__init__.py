"""The web inbox door: server-rendered pages that work without JavaScript."""

from __future__ import annotations

import asyncio

import aiohttp_jinja2
import jinja2
from aiohttp import web

from trademail.appkeys import WEB_STOPPING
from trademail.web import account, live, settings, views
from trademail.web.door import page_headers, web_middleware
from trademail.web.render import STATIC_DIR, TEMPLATE_DIR, configure

__all__ = ["page_headers", "setup_web", "web_middleware"]


def setup_web(app: web.Application) -> None:
    """Routes, templates and static files; add `web_middleware` to the app's middlewares."""
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
                               autoescape=jinja2.select_autoescape(default=True),
                               default_helpers=False)
    configure(env)
    app.add_routes(views.routes)
    app.add_routes(settings.routes)
    app.add_routes(account.routes)
    app.add_routes(live.routes)
    app.router.add_static("/static/", STATIC_DIR, name="static", append_version=False)
    app[WEB_STOPPING] = asyncio.Event()

    async def stop_streams(app: web.Application) -> None:
        app[WEB_STOPPING].set()

    app.on_shutdown.append(stop_streams)
