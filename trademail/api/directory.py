"""The marketplace directory through the API: anyone may search it; a signed-in caller (any
valid token) also gets each member's alias to write to, and with `directory:read` may open
a member's contact section, counted and capped per day."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from trademail.api.common import caller
from trademail.api.listings import contact_json, lead_json, product_json
from trademail.appkeys import DIRECTORY
from trademail.services.directory import Entry, compose_url, listing_subject

routes = web.RouteTableDef()


def entry_json(entry: Entry, *, signed_in: bool) -> dict[str, Any]:
    """A listed member; for a signed-in caller, with their alias and, on the member and on
    each listing, the web address that starts a TradeMail about it."""
    def send(subject: str) -> dict[str, Any]:
        return {"send_trademail": compose_url(entry.alias, subject)} if signed_in else {}

    found = {"username": entry.username, "company": entry.company, "country": entry.country,
             "business_type": entry.business_type, "about": entry.about,
             "products": [product_json(p) | send(listing_subject(p)) for p in entry.products],
             "leads": [lead_json(lead) | send(listing_subject(lead)) for lead in entry.leads]}
    if signed_in:
        found |= {"alias": entry.alias} | send(f"About {entry.company}")
    return found


async def _viewer(request: web.Request) -> str | None:
    """The member behind the request's token, if it carries one (a wrong one is refused)."""
    if "Authorization" not in request.headers:
        return None
    return (await caller(request)).member_id


@routes.get("/v1/directory")
async def search(request: web.Request) -> web.Response:
    viewer = await _viewer(request)
    page = await request.app[DIRECTORY].search(
        q=request.query.get("q", ""), country=request.query.get("country", ""),
        category=request.query.get("category", ""), page=request.query.get("page", "1"),
        viewer_id=viewer)
    return web.json_response({
        "items": [entry_json(e, signed_in=viewer is not None) for e in page.entries],
        "page": page.page, "has_more": page.has_more, "max_pages": page.max_pages})


@routes.get("/v1/directory/{username}")
async def one(request: web.Request) -> web.Response:
    viewer = await _viewer(request)
    entry = await request.app[DIRECTORY].entry(request.match_info["username"],
                                               viewer_id=viewer)
    return web.json_response(entry_json(entry, signed_in=viewer is not None))


@routes.get("/v1/directory/{username}/contact")
async def contact(request: web.Request) -> web.Response:
    who = await caller(request, "directory:read")
    card = await request.app[DIRECTORY].contact(who.member_id, request.match_info["username"])
    return web.json_response({"username": card.entry.username, "alias": card.entry.alias,
                              "contact": contact_json(card.contact)})
