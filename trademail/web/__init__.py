"""The web inbox door: server-rendered pages that work without JavaScript.

aiohttp cannot mount a sub-application at "/", so the web door is the root application;
the other doors (the API at /api, /healthz) and the static files (/static) are its
sub-applications, each with its own middleware and headers, and the web door's own
middleware and page headers step aside for whatever one of them serves.
"""

from __future__ import annotations

import asyncio

import aiohttp_jinja2
import jinja2
from aiohttp import web

from trademail.appkeys import WEB_STOPPING
from trademail.web import (
    account,
    activity,
    directory,
    export,
    factors,
    listings,
    live,
    safety,
    settings,
    spam,
    staff,
    views,
    writing,
)
from trademail.web.door import page_headers, web_middleware
from trademail.web.observe import observe_middleware, request_id_header
from trademail.web.render import STATIC_DIR, TEMPLATE_DIR, configure

__all__ = ["create_static", "observe_middleware", "page_headers", "request_id_header",
           "setup_web", "web_middleware"]


def setup_web(app: web.Application) -> None:
    """Routes and templates of the root application; add `web_middleware` to its
    middlewares and `page_headers` to its on_response_prepare."""
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
                               autoescape=jinja2.select_autoescape(default=True),
                               default_helpers=False)
    configure(env)
    app.add_routes(views.routes)
    app.add_routes(writing.routes)  # before settings: /settings/signature is its page
    app.add_routes(factors.routes)  # and /settings/two-step this one's
    app.add_routes(activity.routes)  # and /settings/activity
    app.add_routes(settings.routes)
    app.add_routes(account.routes)
    app.add_routes(live.routes)
    app.add_routes(directory.routes)
    app.add_routes(listings.routes)
    app.add_routes(safety.routes)
    app.add_routes(spam.routes)
    app.add_routes(staff.routes)
    app.add_routes(export.routes)
    app[WEB_STOPPING] = asyncio.Event()

    async def stop_streams(app: web.Application) -> None:
        app[WEB_STOPPING].set()

    app.on_shutdown.append(stop_streams)


async def _static_headers(request: web.Request, response: web.StreamResponse) -> None:
    """A file asked for with its version (?v=, as pages link them) never changes."""
    if request.query.get("v"):
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"


def create_static() -> web.Application:
    """The static files, a sub-application mounted at /static."""
    static = web.Application()
    static.router.add_static("/", STATIC_DIR, append_version=False)
    static.on_response_prepare.append(_static_headers)
    return static
