"""Members protecting themselves in the web inbox: blocking senders from settings or from a
message (their mail refused, or filed away silently), and reporting a conversation to
TradeStaff, who may then read that conversation and only it."""

from __future__ import annotations

from aiohttp import web

from trademail.appkeys import CONDUCT
from trademail.services.conduct import Block
from trademail.web.pages import field_errors, form_status
from trademail.web.request import FORM_ERRORS, read_form, redirect, visit_of
from trademail.web.settings import refused, section_url
from trademail.web.views import message_page

routes = web.RouteTableDef()


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def blocked_notice(block: Block) -> str:
    return "blocked-filed" if block.mode == "file" else "blocked"


@routes.post("/settings/blocks")
async def add_block(request: web.Request) -> web.Response:
    form = await read_form(request)
    who, mode = _text(form.get("who")), _text(form.get("mode"))
    try:
        block = await request.app[CONDUCT].block(visit_of(request).member_id, who, mode)
    except FORM_ERRORS as exc:
        # An address typed here is not shown again: the page keeps no one's address.
        return await refused(request, "blocks", exc, block_values={
            "who": "" if "@" in who else who, "mode": mode})
    return redirect(section_url("blocks"), blocked_notice(block), request=request)


@routes.post("/settings/blocks/{id}/remove")
async def remove_block(request: web.Request) -> web.Response:
    await read_form(request)  # the CSRF token is checked by the middleware
    await request.app[CONDUCT].unblock(visit_of(request).member_id, request.match_info["id"])
    return redirect(section_url("blocks"), "unblocked", request=request)


@routes.post("/messages/{id}/report")
async def report(request: web.Request) -> web.Response:
    form = await read_form(request)
    message_id = request.match_info["id"]
    try:
        await request.app[CONDUCT].report(visit_of(request).member_id, message_id,
                                          form.get("reason"))
    except FORM_ERRORS as exc:
        return await message_page(request, status=form_status(exc), section="report",
                                  errors=field_errors(exc),
                                  report_reason=_text(form.get("reason")))
    return redirect(f"/messages/{message_id}", "reported", request=request)


@routes.post("/messages/{id}/block")
async def block_sender(request: web.Request) -> web.Response:
    form = await read_form(request)
    message_id = request.match_info["id"]
    try:
        block = await request.app[CONDUCT].block_sender(
            visit_of(request).member_id, message_id, _text(form.get("mode")))
    except FORM_ERRORS as exc:
        return await message_page(request, status=form_status(exc), section="block",
                                  errors=field_errors(exc))
    return redirect(f"/messages/{message_id}", blocked_notice(block), request=request)
