"""The shape of a listing: categories, business types and lead kinds; the domain types
doors show (profiles, products, leads, the detector's flags and spans); and the checks
each field passes before a listing is saved."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trademail.errors import FieldProblem, InvalidInput
from trademail.services import validation
from trademail.services.contactsection import Contact
from trademail.store import FlagRow, LeadRow, ProductRow

CATEGORIES = (
    "agriculture", "food and beverage", "chemicals", "plastics and rubber", "textiles",
    "apparel", "leather", "wood and paper", "minerals and metals", "machinery",
    "electronics", "vehicles and parts", "construction", "furniture", "packaging",
    "health and medical", "energy", "tools and hardware", "consumer goods", "services",
    "other",
)
BUSINESS_TYPES = ("manufacturer", "trading company", "distributor", "wholesaler", "retailer",
                  "agent", "service provider", "other")
LEAD_KINDS = ("buy", "sell")
MAX_LEAD_DAYS = 365
DEFAULT_LEAD_DAYS = 30
DAY = 86400.0


@dataclass(frozen=True)
class Span:
    """Contact details found in a listing field."""

    field: str
    kind: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class TradeProfile:
    about: str
    business_type: str
    contact: Contact
    updated_at: float | None


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    description: str
    category: str
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class Lead:
    id: str
    kind: str  # buy or sell
    title: str
    description: str
    quantity: str
    category: str
    expires_at: float
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class Flag:
    """A listing field the detector found contact details in."""

    id: str
    member_id: str
    listing: str      # profile, product or lead
    listing_id: str
    field: str
    text: str
    spans: tuple[Span, ...]
    created_at: float


@dataclass(frozen=True)
class Saved:
    """What became of a save: the listing, what the detector found, the member's status."""

    listing: TradeProfile | Product | Lead
    found: tuple[Span, ...]
    status: str
    notice: str


@dataclass(frozen=True)
class MyListings:
    profile: TradeProfile
    products: tuple[Product, ...]
    leads: tuple[Lead, ...]
    flags: tuple[Flag, ...]


def product_of(row: ProductRow) -> Product:
    return Product(row.id, row.name, row.description, row.category, row.created_at,
                   row.updated_at)


def lead_of(row: LeadRow) -> Lead:
    return Lead(row.id, row.kind, row.title, row.description, row.quantity, row.category,
                row.expires_at, row.created_at, row.updated_at)


def flag_of(row: FlagRow) -> Flag:
    return Flag(row.id, row.member_id, row.listing, row.listing_id, row.field, row.text,
                tuple(Span(row.field, s["kind"], s["start"], s["end"], s["text"])
                      for s in json.loads(row.spans)), row.created_at)


def checked(**checks: Callable[[], Any]) -> dict[str, Any]:
    """Every field checked, and every problem told at once."""
    values: dict[str, Any] = {}
    problems: list[FieldProblem] = []
    for name, check in checks.items():
        try:
            values[name] = check()
        except InvalidInput as exc:
            problems += exc.problems
    if problems:
        raise InvalidInput(*problems)
    return values


def business_type(value: object) -> str:
    kind = validation.line(value, "business_type", max_length=40, min_length=0).lower()
    if kind and kind not in BUSINESS_TYPES:
        raise InvalidInput.one("business_type", f"must be one of {', '.join(BUSINESS_TYPES)}")
    return kind


def lead_kind(value: object) -> str:
    if value not in LEAD_KINDS:
        raise InvalidInput.one("kind", "must be buy or sell")
    return str(value)


def expiry(days: object, now: float, earlier: float | None) -> float:
    if days is None or days == "":
        return earlier if earlier is not None else now + DEFAULT_LEAD_DAYS * DAY
    if isinstance(days, str) and days.strip().isascii() and days.strip().isdigit():
        days = int(days.strip()[:6])
    whole = validation.whole_number(days)
    if whole is None or not 1 <= whole <= MAX_LEAD_DAYS:
        raise InvalidInput.one("expires_in_days", f"must be 1 to {MAX_LEAD_DAYS} days")
    return now + whole * DAY


def category(value: object) -> str:
    if not isinstance(value, str) or value.strip().lower() not in CATEGORIES:
        raise InvalidInput.one("category", f"must be one of {', '.join(CATEGORIES)}")
    return value.strip().lower()
