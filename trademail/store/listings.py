"""What members publish to the marketplace: profiles (with the sealed contact section),
products and trade leads, and the detector's flags on them. A save writes the listing,
its flags, the member's word index and the status the contact-details rule decides in one
transaction, with the member's row locked: two saves never decide on a stale status."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from trademail.store.audit import AuditChain, AuditRow
from trademail.store.db import Connection, Database, in_list
from trademail.store.directory import Words, reindex
from trademail.store.moderation import change_status


@dataclass(frozen=True)
class ProfileRow:
    member_id: str
    about: str
    business_type: str
    contact_ct: bytes | None
    updated_at: float


@dataclass(frozen=True)
class ProductRow:
    member_id: str
    id: str
    name: str
    description: str
    category: str
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class LeadRow:
    member_id: str
    id: str
    kind: str  # buy or sell
    title: str
    description: str
    quantity: str
    category: str
    expires_at: float
    created_at: float
    updated_at: float


Listing = ProfileRow | ProductRow | LeadRow


@dataclass(frozen=True)
class FlagRow:
    """A listing field the detector found contact details in; spans as JSON."""

    id: str
    member_id: str
    listing: str      # profile, product or lead
    listing_id: str   # "" for the profile
    field: str
    text: str
    spans: str
    created_at: float
    resolved_at: float | None = None
    dismissed: bool = False  # staff found it was no contact detail


@dataclass(frozen=True)
class Standing:
    """A member's standing under the contact-details rule, read inside a save."""

    member_id: str
    status: str
    status_by: str     # system or staff: the rule lifts only what it set
    violations: int    # listings saved with contact details outside the contact section
    open_flags: int


# What the rule decides from a member's standing: None, or (status, reason, audit entry).
Decide = Callable[[Standing], tuple[str, str, AuditRow] | None]


_PRODUCT = "member_id, id, name, description, category, created_at, updated_at"
_LEAD = ("member_id, id, kind, title, description, quantity, category, expires_at, "
         "created_at, updated_at")
_FLAG = ("id, member_id, listing, listing_id, field, text, spans, created_at, resolved_at, "
         "dismissed")


def kind_of(listing: Listing) -> tuple[str, str]:
    """(listing kind, listing id) as flags name them."""
    if isinstance(listing, ProductRow):
        return "product", listing.id
    if isinstance(listing, LeadRow):
        return "lead", listing.id
    return "profile", ""


async def _write(tx: Connection, listing: Listing) -> None:
    if isinstance(listing, ProfileRow):
        await tx.execute(
            "INSERT INTO profiles (member_id, about, business_type, contact_ct, updated_at) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (member_id) DO UPDATE SET "
            "about = excluded.about, business_type = excluded.business_type, "
            "contact_ct = excluded.contact_ct, updated_at = excluded.updated_at",
            listing.member_id, listing.about, listing.business_type, listing.contact_ct,
            listing.updated_at)
    elif isinstance(listing, ProductRow):
        await tx.execute(
            f"INSERT INTO products ({_PRODUCT}) VALUES ($1, $2, $3, $4, $5, $6, $7) "
            "ON CONFLICT (member_id, id) DO UPDATE SET name = excluded.name, "
            "description = excluded.description, category = excluded.category, "
            "updated_at = excluded.updated_at", listing.member_id, listing.id, listing.name,
            listing.description, listing.category, listing.created_at, listing.updated_at)
    else:
        await tx.execute(
            f"INSERT INTO leads ({_LEAD}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
            "ON CONFLICT (member_id, id) DO UPDATE SET kind = excluded.kind, "
            "title = excluded.title, description = excluded.description, "
            "quantity = excluded.quantity, category = excluded.category, "
            "expires_at = excluded.expires_at, updated_at = excluded.updated_at",
            listing.member_id, listing.id, listing.kind, listing.title, listing.description,
            listing.quantity, listing.category, listing.expires_at, listing.created_at,
            listing.updated_at)


class ListingStore:
    """Profiles, products, leads and everything the directory reads."""

    def __init__(self, db: Database, chain: AuditChain) -> None:
        self.db = db
        self._chain = chain

    # ------------------------------------------------------------------ a member's own

    async def profile(self, member_id: str) -> ProfileRow | None:
        row = await self.db.fetchrow(
            "SELECT member_id, about, business_type, contact_ct, updated_at FROM profiles "
            "WHERE member_id = $1", member_id)
        if row is None:
            return None
        ct = row["contact_ct"]
        return ProfileRow(row["member_id"], row["about"], row["business_type"],
                          bytes(ct) if ct is not None else None, row["updated_at"])

    async def products(self, member_ids: Sequence[str]) -> list[ProductRow]:
        if not member_ids:
            return []
        rows = await self.db.fetch(
            f"SELECT {_PRODUCT} FROM products WHERE member_id IN "
            f"({in_list(1, len(member_ids))}) ORDER BY member_id, id", *member_ids)
        return [ProductRow(**{k: r[k] for k in ProductRow.__dataclass_fields__}) for r in rows]

    async def leads(self, member_ids: Sequence[str], *,
                    open_at: float | None = None) -> list[LeadRow]:
        """The members' leads; with `open_at`, only those not expired by then."""
        if not member_ids:
            return []
        marks = in_list(1, len(member_ids))
        rows = await self.db.fetch(
            f"SELECT {_LEAD} FROM leads WHERE member_id IN ({marks}) "
            f"AND expires_at > ${len(member_ids) + 1} ORDER BY member_id, id",
            *member_ids, open_at if open_at is not None else float("-inf"))
        return [LeadRow(**{k: r[k] for k in LeadRow.__dataclass_fields__}) for r in rows]

    async def save(self, listing: Listing, *, words: Words, flags: Sequence[FlagRow],
                   now: float, decide: Decide, violation: bool = False,
                   limit: int | None = None) -> str | None:
        """Write one listing, resolve its earlier flags and add `flags`, count a `violation`,
        index the member's words anew, and let `decide` set the status from the member's
        standing, all at once. A new product or lead beyond `limit` (open leads only) is
        not written (None). Answers the member's status after."""
        member_id = listing.member_id
        kind, listing_id = kind_of(listing)
        async with self.db.transaction() as tx:
            await self._lock(tx, member_id)
            if limit is not None and not await _room(tx, kind, listing_id, member_id, limit,
                                                     now):
                return None
            await _write(tx, listing)
            if violation:
                await tx.execute("UPDATE members SET violations = violations + 1 "
                                 "WHERE id = $1", member_id)
            return await _after_change(tx, member_id, kind, listing_id, flags, words, now,
                                       decide, self._chain)

    async def delete(self, member_id: str, kind: str, listing_id: str, *, words: Words,
                     now: float, decide: Decide) -> str | None:
        """Remove a product or lead (None when the member has no such one) and let `decide`
        set the status after; answers the member's status."""
        table = {"product": "products", "lead": "leads"}[kind]
        async with self.db.transaction() as tx:
            await self._lock(tx, member_id)
            gone = await tx.fetch(f"DELETE FROM {table} WHERE member_id = $1 AND id = $2 "
                                  "RETURNING id", member_id, listing_id)
            if not gone:
                return None
            return await _after_change(tx, member_id, kind, listing_id, (), words, now, decide,
                                       self._chain)

    async def dismiss(self, flag_id: str, audit: AuditRow, *, decide: Decide) -> str | None:
        """Staff found a flag was no contact detail: it is resolved and kept (its text is
        not flagged there again), the dismissal audited; `decide` sets the status after.
        Answers the member's id, or None when there is no such open flag."""
        async with self.db.transaction() as tx:
            rows = await tx.fetch(
                "UPDATE listing_flags SET resolved_at = $2, dismissed = TRUE WHERE id = $1 "
                "AND resolved_at IS NULL RETURNING member_id", flag_id, audit.created_at)
            if not rows:
                return None
            member_id = rows[0]["member_id"]
            await self._lock(tx, member_id)
            await self._chain.append(tx, [audit])
            await _decide(tx, member_id, decide, self._chain)
        return str(member_id)

    async def _lock(self, tx: Connection, member_id: str) -> None:
        lock = " FOR UPDATE" if self.db.dialect == "postgres" else ""
        await tx.fetch(f"SELECT id FROM members WHERE id = $1{lock}", member_id)

    # ------------------------------------------------------------------ flags

    async def flags(self, *, member_id: str | None = None,
                    listing: tuple[str, str] | None = None, limit: int = 200) -> list[FlagRow]:
        """Open flags, oldest first, of every member or of one; with `listing` (a member's
        listing kind and id), that listing's open and dismissed flags."""
        where, args = ["resolved_at IS NULL"], []
        if listing is not None:
            where = ["(resolved_at IS NULL OR dismissed)", "listing = $1", "listing_id = $2"]
            args = list(listing)
        if member_id is not None:
            args.append(member_id)
            where.append(f"member_id = ${len(args)}")
        rows = await self.db.fetch(
            f"SELECT {_FLAG} FROM listing_flags WHERE {' AND '.join(where)} "
            f"ORDER BY created_at, id LIMIT {int(limit)}", *args)
        return [FlagRow(**{k: r[k] for k in FlagRow.__dataclass_fields__}
                        | {"dismissed": bool(r["dismissed"])}) for r in rows]


async def _room(tx: Connection, kind: str, listing_id: str, member_id: str, limit: int,
                now: float) -> bool:
    """Whether the listing may be written: it exists, or the member holds fewer than
    `limit` of its kind (open leads only)."""
    if kind == "profile":
        return True
    table = "products" if kind == "product" else "leads"
    if await tx.fetchval(f"SELECT count(*) FROM {table} WHERE member_id = $1 AND id = $2",
                         member_id, listing_id):
        return True
    open_only = " AND expires_at > $2" if kind == "lead" else ""
    held = await tx.fetchval(f"SELECT count(*) FROM {table} WHERE member_id = $1{open_only}",
                             member_id, *([now] if open_only else []))
    return int(held) < limit


async def _after_change(tx: Connection, member_id: str, kind: str, listing_id: str,
                        flags: Sequence[FlagRow], words: Words, now: float,
                        decide: Decide, chain: AuditChain) -> str:
    # A resolved flag keeps nothing of the text it was about: that text is gone.
    await tx.execute("UPDATE listing_flags SET resolved_at = $4, text = '', spans = '[]' "
                     "WHERE member_id = $1 AND listing = $2 AND listing_id = $3 "
                     "AND resolved_at IS NULL", member_id, kind, listing_id, now)
    await tx.executemany(
        f"INSERT INTO listing_flags ({_FLAG}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, "
        "FALSE)", [(f.id, f.member_id, f.listing, f.listing_id, f.field, f.text, f.spans,
                    f.created_at) for f in flags])
    await reindex(tx, member_id, words, now)
    return await _decide(tx, member_id, decide, chain)


async def _decide(tx: Connection, member_id: str, decide: Decide, chain: AuditChain) -> str:
    row = await tx.fetchrow("SELECT status, status_by, violations FROM members WHERE id = $1",
                            member_id)
    open_flags = await tx.fetchval("SELECT count(*) FROM listing_flags WHERE member_id = $1 "
                                   "AND resolved_at IS NULL", member_id)
    assert row is not None  # the member's row is locked by this transaction
    change = decide(Standing(member_id, row["status"], row["status_by"],
                             int(row["violations"]), int(open_flags)))
    if change is None:
        return str(row["status"])
    status, reason, audit = change
    await change_status(tx, member_id, status, reason, audit, chain=chain)
    return status
