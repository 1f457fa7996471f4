"""A member's listings: their TradeProfile (with the sealed contact section), TradeProducts
and TradeLeads, checked against the marketplace's contact-details rule on every save.

A free member who writes contact details outside the contact section still has the save
go through, is told plainly what was found and where such details belong, and becomes
NOT Listed until every listing is clean again; repeated violations make them Restricted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from trademail.clock import Clock
from trademail.config import DirectoryConfig, LimitsConfig
from trademail.crypto import Keyring
from trademail.errors import InvalidInput, NotFound
from trademail.ids import is_id, new_id
from trademail.services import listingtypes as shape
from trademail.services import validation
from trademail.services.audit import SYSTEM, Actor, audit_entry
from trademail.services.contacts import find_contacts
from trademail.services.contactsection import (
    KIND_LABELS,
    Contact,
    check_contact,
    contact_of,
)
from trademail.services.listingtypes import (
    BUSINESS_TYPES,
    CATEGORIES,
    LEAD_KINDS,
    MAX_LEAD_DAYS,
    Flag,
    Lead,
    MyListings,
    Product,
    Saved,
    Span,
    TradeProfile,
    flag_of,
    lead_of,
    product_of,
)
from trademail.services.standing import (
    ACTIVE,
    NOT_LISTED,
    RESTRICTED,
    may_show_contacts_in_listings,
)
from trademail.store import (
    AuditRow,
    Decide,
    FlagRow,
    LeadRow,
    Listing,
    ListingStore,
    MemberRow,
    MemberStore,
    ProductRow,
    ProfileRow,
    Standing,
    kind_of,
)


def directory_words(texts: list[str]) -> set[str]:
    return validation.words(*texts)


__all__ = ["BUSINESS_TYPES", "CATEGORIES", "LEAD_KINDS", "MAX_LEAD_DAYS", "Flag", "Lead",
           "Listings", "MyListings", "Product", "Saved", "Span", "TradeProfile",
           "directory_words", "flag_of", "lead_of", "product_of"]


class Listings:
    def __init__(self, listing_store: ListingStore, member_store: MemberStore,
                 keyring: Keyring, clock: Clock,
                 directory: DirectoryConfig, limits: LimitsConfig) -> None:
        self._store = listing_store
        self._members_store = member_store
        self._keyring = keyring
        self._clock = clock
        self._directory = directory
        self._limits = limits

    async def mine(self, member_id: str) -> MyListings:
        profile = await self._store.profile(member_id)
        return MyListings(
            self._profile(profile),
            tuple(product_of(r) for r in await self._store.products([member_id])),
            tuple(lead_of(r) for r in await self._store.leads([member_id])),
            tuple(flag_of(r) for r in await self._store.flags(member_id=member_id)))

    def _profile(self, row: ProfileRow | None) -> TradeProfile:
        if row is None:
            return TradeProfile("", "", Contact(), None)
        return TradeProfile(row.about, row.business_type,
                            contact_of(self._keyring, row.member_id, row), row.updated_at)

    # ------------------------------------------------------------------ saving

    async def save_profile(self, member_id: str, *, about: object, business_type: object,
                           contact: object) -> Saved:
        member = await self._member(member_id)
        if not isinstance(contact, Mapping):
            raise InvalidInput.one("contact", "must be an object with phone, website, "
                                   "address and messengers")
        values = shape.checked(
            about=lambda: validation.paragraph(about, "about", max_length=4000),
            business_type=lambda: shape.business_type(business_type),
            contact=lambda: check_contact(self._keyring, member_id, member.country, contact))
        row = ProfileRow(member_id, values["about"], values["business_type"], values["contact"],
                         self._clock.now())
        return await self._save(member, row, {"about": row.about})

    async def save_product(self, member_id: str, product_id: str | None, *, name: object,
                           description: object, category: object) -> Saved:
        member = await self._member(member_id)
        now = self._clock.now()
        earlier = await self._own(member_id, "product", product_id)
        values = shape.checked(
            name=lambda: validation.line(name, "name", max_length=200),
            description=lambda: validation.paragraph(description, "description",
                                                     max_length=4000),
            category=lambda: shape.category(category))
        row = ProductRow(member_id, product_id or new_id(now), values["name"],
                         values["description"], values["category"],
                         earlier.created_at if earlier else now, now)
        return await self._save(member, row, {"name": row.name, "description": row.description},
                                limit=self._directory.max_products)

    async def save_lead(self, member_id: str, lead_id: str | None, *, kind: object,
                        title: object, description: object, quantity: object,
                        category: object, expires_in_days: object = None) -> Saved:
        """A new lead (`lead_id` None) or one of the member's changed. Without
        `expires_in_days` a new lead runs 30 days and a changed one keeps its expiry."""
        member = await self._member(member_id)
        now = self._clock.now()
        earlier = await self._own(member_id, "lead", lead_id)
        values = shape.checked(
            kind=lambda: shape.lead_kind(kind),
            title=lambda: validation.line(title, "title", max_length=200),
            description=lambda: validation.paragraph(description, "description",
                                                     max_length=4000),
            quantity=lambda: validation.line(quantity, "quantity", max_length=100,
                                             min_length=0),
            category=lambda: shape.category(category),
            expires_at=lambda: shape.expiry(expires_in_days, now, earlier.expires_at
                                       if isinstance(earlier, LeadRow) else None))
        row = LeadRow(member_id, lead_id or new_id(now), values["kind"], values["title"],
                      values["description"], values["quantity"], values["category"],
                      values["expires_at"], earlier.created_at if earlier else now, now)
        return await self._save(
            member, row, {"title": row.title, "description": row.description,
                          "quantity": row.quantity}, limit=self._directory.max_leads)

    async def delete(self, member_id: str, kind: str, listing_id: str) -> None:
        if not is_id(listing_id):
            raise NotFound()
        status = await self._store.delete(member_id, kind, listing_id, words=directory_words,
                                          now=self._clock.now(),
                                          decide=self._rule([], counts=False))
        if status is None:
            raise NotFound()

    # ------------------------------------------------------------------ the rule

    async def _save(self, member: MemberRow, row: Listing, texts: dict[str, str], *,
                    limit: int | None = None, counts: bool = True) -> Saved:
        """Write a listing under the rule; `counts`: a violation found counts towards
        Restricted (not when staff changed the member's tier and it is checked again)."""
        listing, listing_id = kind_of(row)
        earlier = await self._store.flags(member_id=row.member_id, listing=(listing, listing_id))
        spans = {(e.field, s.text, e.dismissed) for e in earlier for s in flag_of(e).spans}
        dismissed = {(field, text) for field, text, gone in spans if gone}
        found = [] if may_show_contacts_in_listings(member) else [
            Span(field, f.kind, f.start, f.end, f.text) for field, text in texts.items()
            for f in find_contacts(text, country=member.country)
            if (field, f.text) not in dismissed]
        # Saved again with what is already flagged there: still the one violation.
        counts = counts and any((s.field, s.text, False) not in spans for s in found)
        now = self._clock.now()
        flags = [FlagRow(new_id(now), row.member_id, listing, listing_id, field, texts[field],
                         json.dumps([{"kind": s.kind, "start": s.start, "end": s.end,
                                      "text": s.text} for s in found if s.field == field]),
                         now) for field in dict.fromkeys(s.field for s in found)]
        status = await self._store.save(
            row, words=directory_words, flags=flags, now=now, violation=bool(found) and counts,
            decide=self._rule(found, counts=counts, listing=listing), limit=limit)
        if status is None:
            raise InvalidInput.one(listing, f"you have {limit} {listing}s already; remove one "
                                   "you no longer offer first")
        shown = (product_of(row) if isinstance(row, ProductRow) else lead_of(row)
                 if isinstance(row, LeadRow) else self._profile(row))
        return Saved(shown, tuple(found), status, _notice(listing, found, status))

    def _rule(self, found: list[Span], *, counts: bool, listing: str = "") -> Decide:
        """The contact-details rule, decided inside the save's transaction: details found
        make an active member NOT Listed, or Restricted once they have broken the rule
        `violations_before_restriction` times; a member the rule made NOT Listed is listed
        again when no flag is left open. What staff set, only staff lift."""
        threshold = self._limits.violations_before_restriction
        now = self._clock.now()
        what = ", ".join(dict.fromkeys(KIND_LABELS.get(s.kind, s.kind) for s in found))

        def decide(standing: Standing) -> tuple[str, str, AuditRow] | None:
            member_id = standing.member_id
            if found and counts and threshold and standing.violations >= threshold \
                    and standing.status in (ACTIVE, NOT_LISTED):
                reason = (f"contact details outside the contact section "
                          f"{standing.violations} times")
                return RESTRICTED, reason, audit_entry(SYSTEM, "status.restricted",
                                                       member_id, reason, now)
            if found and standing.status == ACTIVE:
                reason = f"contact details ({what}) in a {listing}"
                return NOT_LISTED, reason, audit_entry(SYSTEM, "status.not_listed",
                                                       member_id, reason, now)
            if standing.status == NOT_LISTED and standing.status_by == "system" \
                    and not standing.open_flags:
                return ACTIVE, "", audit_entry(SYSTEM, "status.active", member_id,
                                               "listings re-checked: no contact details", now)
            return None

        return decide

    async def open_flags(self) -> list[Flag]:
        """Every open flag, oldest first: the staff's queue."""
        return [flag_of(f) for f in await self._store.flags()]

    async def dismiss(self, staff: Actor, flag_id: str) -> None:
        """Staff found a flag was no contact detail: it is closed for good (the same text
        there is not flagged again), and a member it alone kept NOT Listed is listed."""
        now = self._clock.now()
        if not is_id(flag_id) or await self._store.dismiss(
                flag_id, audit_entry(staff, "flag.dismissed", None, f"flag {flag_id}", now),
                decide=self._rule([], counts=False)) is None:
            raise NotFound()

    async def recheck(self, member_id: str) -> None:
        """Check every listing again (after the member's tier changed); expired leads are
        nobody's business any more."""
        member = await self._member(member_id)
        profile = await self._store.profile(member_id)
        if profile is not None:
            await self._save(member, profile, {"about": profile.about}, counts=False)
        for product in await self._store.products([member_id]):
            await self._save(member, product, {"name": product.name,
                                               "description": product.description}, counts=False)
        for lead in await self._store.leads([member_id], open_at=self._clock.now()):
            await self._save(member, lead, {"title": lead.title, "description": lead.description,
                                            "quantity": lead.quantity}, counts=False)

    async def _member(self, member_id: str) -> MemberRow:
        member = await self._members_store.member_by_id(member_id)
        if member is None:
            raise NotFound()
        return member

    async def _own(self, member_id: str, kind: str,
                   listing_id: str | None) -> ProductRow | LeadRow | None:
        """The member's earlier product or lead being edited (None for a new one)."""
        if listing_id is None:
            return None
        if not is_id(listing_id):
            raise NotFound()
        rows = (await self._store.products([member_id]) if kind == "product"
                else await self._store.leads([member_id]))
        found = next((r for r in rows if r.id == listing_id), None)
        if found is None:
            raise NotFound()
        return found


def _notice(listing: str, found: list[Span], status: str) -> str:
    if not found:
        return "Saved."
    fields = " and ".join(dict.fromkeys(s.field.replace("_", " ") for s in found))
    kinds = ", ".join(dict.fromkeys(KIND_LABELS.get(s.kind, s.kind) for s in found))
    hidden = {NOT_LISTED: "Your listings are hidden from the directory (NOT Listed) until "
                          "you remove them and save again.",
              RESTRICTED: "After repeated violations your account is Restricted."}
    return (f"Saved, but the {listing} {fields} contains contact details ({kinds}). "
            "Free members may give contact details only in their contact section, "
            f"where signed-in members can see them. {hidden.get(status, '')}").strip()
