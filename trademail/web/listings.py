"""A member's own listings in the web inbox: their TradeProfile with the contact section,
their TradeProducts and TradeLeads, edited with plain forms.

A save that finds contact details outside the contact section still goes through: the page
comes back with the service's notice saying what was found and that the member is NOT
Listed until it is gone, and the detected details marked where they stand.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from trademail.appkeys import LISTINGS, MEMBERS
from trademail.errors import TradeMailError
from trademail.services.contactsection import FIELDS as CONTACT_FIELDS
from trademail.services.listings import (
    BUSINESS_TYPES,
    CATEGORIES,
    LEAD_KINDS,
    MAX_LEAD_DAYS,
    Flag,
    Lead,
    Product,
    Saved,
)
from trademail.web.pages import field_errors, form_status, page
from trademail.web.request import FORM_ERRORS, read_form, redirect, visit_of

routes = web.RouteTableDef()
PROFILE_FIELDS = ("about", "business_type", *CONTACT_FIELDS)
PRODUCT_FIELDS = ("name", "description", "category")
LEAD_FIELDS = ("kind", "title", "description", "quantity", "category", "expires_in_days")
OPTIONS = {  # (value, label) pairs for the forms' selects
    "category_options": [(c, c.capitalize()) for c in CATEGORIES],
    "business_options": [(b, b.capitalize()) for b in BUSINESS_TYPES],
    "lead_kind_options": [(k, {"buy": "Buying", "sell": "Selling"}[k]) for k in LEAD_KINDS],
}


def _texts(form: MultiDictProxy[Any], names: tuple[str, ...]) -> dict[str, str]:
    values = {}
    for name in names:
        value = form.get(name)
        values[name] = value if isinstance(value, str) else ""
    return values


def flags_by_listing(flags: tuple[Flag, ...]) -> dict[str, list[Flag]]:
    """Open flags keyed as the page looks them up: "profile:", "product:<id>", "lead:<id>"."""
    found: dict[str, list[Flag]] = {}
    for flag in flags:
        found.setdefault(f"{flag.listing}:{flag.listing_id}", []).append(flag)
    return found


def listing_errors(exc: TradeMailError, fields: tuple[str, ...]) -> dict[str, str]:
    """A refused save's messages beside the form's fields ("contact.phone" is the phone
    field); what belongs to no field (a full list) is said about the whole form."""
    errors: dict[str, str] = {}
    for name, message in field_errors(exc).items():
        name = name.removeprefix("contact.")
        if name in fields:
            errors[name] = message
        else:
            errors["_form"] = " ".join(filter(None, (errors.get("_form"), message)))
    return errors


async def _listings(request: web.Request, *, status: int = 200,
                    **context: Any) -> web.Response:
    member_id = visit_of(request).member_id
    mine = await request.app[LISTINGS].mine(member_id)
    return await page(request, "listings.html", {
        "mine": mine, "me": await request.app[MEMBERS].profile(member_id),
        "flags": flags_by_listing(mine.flags), "max_days": MAX_LEAD_DAYS, **OPTIONS,
        "form": "", "errors": {}, "values": {}, **context}, status=status)


async def _refused(request: web.Request, form: str, exc: TradeMailError,
                   values: dict[str, str], fields: tuple[str, ...]) -> web.Response:
    """The page again with the refused form open, its errors beside its fields and what was
    typed kept."""
    return await _listings(request, status=form_status(exc), form=form, values=values,
                           errors=listing_errors(exc, fields))


def anchor_of(saved: Saved) -> str:
    """Where on the page the saved listing stands."""
    listing = saved.listing
    if isinstance(listing, Product):
        return f"product-{listing.id}"
    if isinstance(listing, Lead):
        return f"lead-{listing.id}"
    return "profile"


async def _saved(request: web.Request, saved: Saved) -> web.Response:
    """A clean save goes back to the page; one with contact details found shows the page
    with the notice that says what was found and what follows from it."""
    if not saved.found:
        return redirect(f"/listings#{anchor_of(saved)}", "listing-saved", request=request)
    return await _listings(request, saved=saved, saved_anchor=anchor_of(saved))


@routes.get("/listings")
async def listings(request: web.Request) -> web.Response:
    return await _listings(request)


@routes.post("/listings/profile")
async def save_profile(request: web.Request) -> web.Response:
    values = _texts(await read_form(request), PROFILE_FIELDS)
    try:
        saved = await request.app[LISTINGS].save_profile(
            visit_of(request).member_id, about=values["about"],
            business_type=values["business_type"],
            contact={k: values[k] for k in CONTACT_FIELDS})
    except FORM_ERRORS as exc:
        return await _refused(request, "profile", exc, values, PROFILE_FIELDS)
    return await _saved(request, saved)


@routes.post("/listings/products")
@routes.post("/listings/products/{id}")
async def save_product(request: web.Request) -> web.Response:
    values = _texts(await read_form(request), PRODUCT_FIELDS)
    product_id = request.match_info.get("id")
    try:
        saved = await request.app[LISTINGS].save_product(
            visit_of(request).member_id, product_id, **values)
    except FORM_ERRORS as exc:
        return await _refused(request, f"product-{product_id or 'new'}", exc, values,
                              PRODUCT_FIELDS)
    return await _saved(request, saved)


@routes.post("/listings/leads")
@routes.post("/listings/leads/{id}")
async def save_lead(request: web.Request) -> web.Response:
    values = _texts(await read_form(request), LEAD_FIELDS)
    lead_id = request.match_info.get("id")
    try:
        saved = await request.app[LISTINGS].save_lead(
            visit_of(request).member_id, lead_id, **values)
    except FORM_ERRORS as exc:
        return await _refused(request, f"lead-{lead_id or 'new'}", exc, values, LEAD_FIELDS)
    return await _saved(request, saved)


async def _delete(request: web.Request, kind: str) -> web.Response:
    await read_form(request)  # the CSRF token is checked by the middleware
    await request.app[LISTINGS].delete(visit_of(request).member_id, kind,
                                       request.match_info["id"])
    return redirect(f"/listings#{kind}s", "listing-deleted", request=request)


@routes.post("/listings/products/{id}/delete")
async def delete_product(request: web.Request) -> web.Response:
    return await _delete(request, "product")


@routes.post("/listings/leads/{id}/delete")
async def delete_lead(request: web.Request) -> web.Response:
    return await _delete(request, "lead")
