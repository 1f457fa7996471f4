"""Pages for what a member keeps for writing: drafts saved on the server, and the
signature put below new messages and replies."""

from __future__ import annotations

from aiohttp import web

from trademail.appkeys import WRITING
from trademail.web.pages import field_errors, form_status, page
from trademail.web.request import FORM_ERRORS, read_form, redirect, visit_of
from trademail.web.settings import SECTIONS

routes = web.RouteTableDef()


@routes.get("/drafts")
async def drafts(request: web.Request) -> web.Response:
    found = await request.app[WRITING].drafts(visit_of(request).member_id)
    return await page(request, "drafts.html", {"drafts": found})


@routes.post("/drafts/{id}/delete")
async def delete_draft(request: web.Request) -> web.Response:
    await read_form(request)  # the CSRF token is checked by the middleware
    await request.app[WRITING].delete_draft(visit_of(request).member_id,
                                            request.match_info["id"])
    return redirect("/drafts", "draft-deleted", request=request)


async def _signature_page(request: web.Request, text: str, *, status: int = 200,
                          errors: dict[str, str] | None = None) -> web.Response:
    """The signature's settings page, framed like every other section."""
    return await page(request, "settings_signature.html", {
        "signature": text, "errors": errors or {}, "sections": SECTIONS.values(),
        "current": "signature", "here": SECTIONS["signature"]}, status=status)


@routes.get("/settings/signature")
async def signature_form(request: web.Request) -> web.Response:
    return await _signature_page(
        request, await request.app[WRITING].signature(visit_of(request).member_id))


@routes.post("/settings/signature")
async def save_signature(request: web.Request) -> web.Response:
    form = await read_form(request)
    text = form.get("signature")
    try:
        await request.app[WRITING].set_signature(visit_of(request).member_id, text)
    except FORM_ERRORS as exc:
        return await _signature_page(request, text if isinstance(text, str) else "",
                                     status=form_status(exc), errors=field_errors(exc))
    return redirect("/settings/signature", "signature", request=request)
