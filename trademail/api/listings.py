"""A member's own listings through the API: their TradeProfile with its contact section,
their TradeProducts and TradeLeads. Saving contact details outside the contact section
succeeds for a free member but answers what was found and that they are NOT Listed."""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web

from trademail.api.common import caller, iso, read_json
from trademail.appkeys import LISTINGS
from trademail.errors import NotFound
from trademail.services.contactsection import Contact
from trademail.services.listings import Lead, Product, Saved, TradeProfile

Row = TypeVar("Row", Product, Lead)
routes = web.RouteTableDef()
SCOPE = "listings:write"


def contact_json(contact: Contact) -> dict[str, str]:
    return {"phone": contact.phone, "website": contact.website, "address": contact.address,
            "messengers": contact.messengers}


def product_json(p: Product) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "description": p.description, "category": p.category,
            "created_at": iso(p.created_at), "updated_at": iso(p.updated_at)}


def lead_json(lead: Lead) -> dict[str, Any]:
    return {"id": lead.id, "kind": lead.kind, "title": lead.title,
            "description": lead.description, "quantity": lead.quantity,
            "category": lead.category, "expires_at": iso(lead.expires_at),
            "created_at": iso(lead.created_at), "updated_at": iso(lead.updated_at)}


def _saved(saved: Saved, listing: dict[str, Any], status: int = 200,
           location: str | None = None) -> web.Response:
    """A saved listing with what the contact-details rule made of it."""
    headers = {"Location": location} if location else None
    return web.json_response(headers=headers, data=listing | {
        "status": saved.status, "notice": saved.notice,
        "contact_details_found": [{"field": s.field, "kind": s.kind, "start": s.start,
                                   "end": s.end, "text": s.text} for s in saved.found]},
        status=status)


def profile_json(profile: TradeProfile) -> dict[str, Any]:
    return {"about": profile.about, "business_type": profile.business_type,
            "contact": contact_json(profile.contact), "updated_at": iso(profile.updated_at)}


@routes.get("/v1/me/profile")
async def get_profile(request: web.Request) -> web.Response:
    who = await caller(request, SCOPE)
    mine = await request.app[LISTINGS].mine(who.member_id)
    return web.json_response(profile_json(mine.profile))


@routes.put("/v1/me/profile")
async def put_profile(request: web.Request) -> web.Response:
    who = await caller(request, SCOPE)
    data = await read_json(request)
    saved = await request.app[LISTINGS].save_profile(
        who.member_id, about=data.get("about", ""), business_type=data.get("business_type", ""),
        contact=data.get("contact") if data.get("contact") is not None else {})
    assert isinstance(saved.listing, TradeProfile)
    return _saved(saved, profile_json(saved.listing))


@routes.get("/v1/me/products")
async def list_products(request: web.Request) -> web.Response:
    who = await caller(request, SCOPE)
    mine = await request.app[LISTINGS].mine(who.member_id)
    return web.json_response({"items": [product_json(p) for p in mine.products]})


@routes.post("/v1/me/products")
async def create_product(request: web.Request) -> web.Response:
    return await _save_product(request, None)


@routes.put("/v1/me/products/{id}")
async def update_product(request: web.Request) -> web.Response:
    return await _save_product(request, request.match_info["id"])


async def _save_product(request: web.Request, product_id: str | None) -> web.Response:
    who = await caller(request, SCOPE)
    data = await read_json(request)
    saved = await request.app[LISTINGS].save_product(
        who.member_id, product_id, name=data.get("name"),
        description=data.get("description", ""), category=data.get("category"))
    assert isinstance(saved.listing, Product)
    return _saved(saved, product_json(saved.listing), 201 if product_id is None else 200,
                  f"/api/v1/me/products/{saved.listing.id}" if product_id is None else None)


@routes.get("/v1/me/products/{id}")
async def get_product(request: web.Request) -> web.Response:
    who = await caller(request, SCOPE)
    mine = await request.app[LISTINGS].mine(who.member_id)
    return web.json_response(product_json(_one(mine.products, request.match_info["id"])))


@routes.delete("/v1/me/products/{id}")
async def delete_product(request: web.Request) -> web.Response:
    who = await caller(request, SCOPE)
    await request.app[LISTINGS].delete(who.member_id, "product", request.match_info["id"])
    return web.Response(status=204)


@routes.get("/v1/me/leads")
async def list_leads(request: web.Request) -> web.Response:
    who = await caller(request, SCOPE)
    mine = await request.app[LISTINGS].mine(who.member_id)
    return web.json_response({"items": [lead_json(lead) for lead in mine.leads]})


@routes.post("/v1/me/leads")
async def create_lead(request: web.Request) -> web.Response:
    return await _save_lead(request, None)


@routes.put("/v1/me/leads/{id}")
async def update_lead(request: web.Request) -> web.Response:
    return await _save_lead(request, request.match_info["id"])


async def _save_lead(request: web.Request, lead_id: str | None) -> web.Response:
    who = await caller(request, SCOPE)
    data = await read_json(request)
    saved = await request.app[LISTINGS].save_lead(
        who.member_id, lead_id, kind=data.get("kind"), title=data.get("title"),
        description=data.get("description", ""), quantity=data.get("quantity", ""),
        category=data.get("category"), expires_in_days=data.get("expires_in_days"))
    assert isinstance(saved.listing, Lead)
    return _saved(saved, lead_json(saved.listing), 201 if lead_id is None else 200,
                  f"/api/v1/me/leads/{saved.listing.id}" if lead_id is None else None)


@routes.get("/v1/me/leads/{id}")
async def get_lead(request: web.Request) -> web.Response:
    who = await caller(request, SCOPE)
    mine = await request.app[LISTINGS].mine(who.member_id)
    return web.json_response(lead_json(_one(mine.leads, request.match_info["id"])))


@routes.delete("/v1/me/leads/{id}")
async def delete_lead(request: web.Request) -> web.Response:
    who = await caller(request, SCOPE)
    await request.app[LISTINGS].delete(who.member_id, "lead", request.match_info["id"])
    return web.Response(status=204)


def _one(rows: tuple[Row, ...], listing_id: str) -> Row:
    found = next((r for r in rows if r.id == listing_id), None)
    if found is None:
        raise NotFound()
    return found
