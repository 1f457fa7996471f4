"""The marketplace directory in the web inbox: anyone may search listed members and read their
listings; a signed-in member also sees each member's alias with "Send TradeMail" links and,
in good standing, may open a member's contact section, each opening a deliberate, counted
form post.

A visitor's directory pages render no form that posts, so they set no cookie.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from trademail.appkeys import DIRECTORY
from trademail.errors import Forbidden, InvalidInput, LimitReached, NotFound
from trademail.services.directory import DirectoryPage
from trademail.services.listings import CATEGORIES
from trademail.web.pages import error_page, field_errors, form_status, page
from trademail.web.render import sentence
from trademail.web.request import public, read_form, visit_of, visit_or_none

routes = web.RouteTableDef()
SEARCH_FIELDS = ("q", "country", "category")
GONE = "No listed member has this name. They may have left the directory for now."


def page_url(search: dict[str, str], number: int) -> str:
    """The address of another page of the same search."""
    query = {k: v for k, v in search.items() if v}
    if number > 1:
        query["page"] = str(number)
    return "/directory" + ("?" + urlencode(query) if query else "")


def pager(search: dict[str, str], found: DirectoryPage | None) -> dict[str, str]:
    """Links to the previous and next pages, when there are such pages."""
    if found is None:
        return {}
    links = {}
    if found.page > 1:
        links["previous"] = page_url(search, found.page - 1)
    if found.has_more:
        links["next"] = page_url(search, found.page + 1)
    return links


@routes.get("/directory")
@public
async def directory(request: web.Request) -> web.Response:
    visit = visit_or_none(request)
    search = {k: request.query.get(k, "").strip() for k in SEARCH_FIELDS}
    found, errors = None, {}
    try:
        found = await request.app[DIRECTORY].search(
            **search, page=request.query.get("page", "1"),
            viewer_id=visit.member_id if visit else None)
    except InvalidInput as exc:
        errors = field_errors(exc)
    return await page(request, "directory.html", {
        "search": search, "found": found, "errors": errors, "categories": CATEGORIES,
        "pager": pager(search, found), "first_page": page_url(search, 1)},
        status=400 if errors else 200)


async def _member_page(request: web.Request, status: int = 200,
                       **context: Any) -> web.Response:
    visit = visit_or_none(request)
    try:
        entry = await request.app[DIRECTORY].entry(
            request.match_info["username"], viewer_id=visit.member_id if visit else None)
    except NotFound:
        return await error_page(request, 404, GONE)
    return await page(request, "directory_member.html", {"entry": entry, **context},
                      status=status)


@routes.get("/directory/{username}")
@public
async def member(request: web.Request) -> web.Response:
    return await _member_page(request)


@routes.post("/directory/{username:[^/]+}/contact")
async def contact(request: web.Request) -> web.Response:
    """Open a member's contact section: counted against the viewer's daily number."""
    await read_form(request)  # the CSRF token is checked by the middleware
    try:
        card = await request.app[DIRECTORY].contact(visit_of(request).member_id,
                                                    request.match_info["username"])
    except (Forbidden, LimitReached) as exc:
        return await _member_page(request, form_status(exc), contact_error=sentence(str(exc)))
    except NotFound:
        return await error_page(request, 404, GONE)
    return await page(request, "directory_member.html", {"entry": card.entry,
                                                         "contact": card.contact})
