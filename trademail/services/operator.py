"""What the operator does on the command line: make staff accounts, and hand a member's
records to the authorities (a fraud referral for a banned member; a lawful request for any
member, with their mail as mbox when asked). Every export is audited before it is written.

These are the only places TradeMail shows a member's real address to anyone, and only to
the operator holding the server's keys: why the keys are held by the server."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from trademail.clock import Clock
from trademail.crypto import Keyring
from trademail.errors import Conflict, NotFound
from trademail.services.audit import COMMAND_LINE, audit_entry
from trademail.services.contactsection import contact_of
from trademail.services.export import Archived, archived_messages
from trademail.services.identities import Profile
from trademail.services.members import Members
from trademail.services.reading import Reading
from trademail.services.standing import BANNED
from trademail.store import (
    AccountStore,
    ListingStore,
    MemberRow,
    MemberStore,
    ModerationStore,
)


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Export:
    record: dict[str, Any]
    member_id: str


class Operator:
    def __init__(self, member_store: MemberStore, account_store: AccountStore,
                 listing_store: ListingStore, moderation_store: ModerationStore,
                 members: Members, reading: Reading, keyring: Keyring, clock: Clock) -> None:
        self._members_store = member_store
        self._accounts_store = account_store
        self._listings_store = listing_store
        self._moderation_store = moderation_store
        self._members = members
        self._reading = reading
        self._keyring = keyring
        self._clock = clock

    async def create_staff(self, *, username: object, password: object, email: object,
                           company: object, country: object) -> Profile:
        member, _ = await self._members.prepare(username=username, password=password,
                                                email=email, company=company, country=country,
                                                staff=True)
        profile = await self._members.create(member, token=None, outbox=())
        await self._moderation_store.record(audit_entry(
            COMMAND_LINE, "staff.created", member.id, f"staff account {member.username}",
            self._clock.now()))
        return profile

    async def banned(self, username: str) -> Export:
        """A banned member's business and contact information for the fraud authorities."""
        member = await self._member(username)
        if member.status != BANNED:
            raise Conflict(f"{member.username} is not banned; a fraud referral is only for "
                           "banned members (a lawful request is `export lawful-request`)")
        await self._moderation_store.record(audit_entry(
            COMMAND_LINE, "export.banned", member.id, "fraud referral export",
            self._clock.now()))
        return Export(await self._record(member), member.id)

    async def lawful_request(self, username: str, reference: str, *,
                             messages: bool) -> Export:
        """Any member's records for a lawful request, audited with its reference."""
        reference = " ".join(reference.split())[:200]
        if not reference:
            raise Conflict("a lawful request needs its reference", "reference")
        member = await self._member(username)
        await self._moderation_store.record(audit_entry(
            COMMAND_LINE, "export.lawful_request", member.id,
            f"reference {reference}{' with messages' if messages else ''}", self._clock.now()))
        return Export(await self._record(member) | {"reference": reference}, member.id)

    async def mailbox(self, member_id: str) -> list[Archived]:
        """Every message in the member's mailbox, folder by folder, with its attachments:
        what a lawful request with --messages hands over (the command line writes it as
        mbox)."""
        return [archived async for archived in archived_messages(self._reading, member_id)]

    async def _member(self, username: str) -> MemberRow:
        member = await self._members_store.member_by_username(username.strip().lower())
        if member is None:
            raise NotFound()
        return member

    async def _record(self, member: MemberRow) -> dict[str, Any]:
        keyring = self._keyring
        email = keyring.open_field(member.id, "email", member.email_ct)
        past = [keyring.open_field(member.id, "email", ct)
                for ct in await self._accounts_store.past_addresses(member.id)]
        profile = await self._listings_store.profile(member.id)
        contact = contact_of(keyring, member.id, profile)
        aliases = await self._members_store.aliases_of([member.id])
        audit = await self._moderation_store.audit_log(member_id=member.id, limit=1000)
        return {
            "exported_at": _iso(self._clock.now()),
            "member": {"username": member.username, "company": member.company,
                       "country": member.country, "tier": member.tier,
                       "status": member.status, "status_reason": member.status_reason,
                       "joined": _iso(member.created_at), "email": email,
                       "email_confirmed": member.email_confirmed,
                       "earlier_emails": [a for a in dict.fromkeys(past) if a != email],
                       "aliases": [a.address for a in aliases]},
            "profile": {"about": profile.about if profile else "",
                        "business_type": profile.business_type if profile else ""},
            "contact": {"phone": contact.phone, "website": contact.website,
                        "address": contact.address, "messengers": contact.messengers},
            "products": [{"name": p.name, "description": p.description, "category": p.category,
                          "created": _iso(p.created_at)}
                         for p in await self._listings_store.products([member.id])],
            "leads": [{"kind": lead.kind, "title": lead.title, "description": lead.description,
                       "quantity": lead.quantity, "category": lead.category,
                       "expires": _iso(lead.expires_at)}
                      for lead in await self._listings_store.leads([member.id])],
            "status_history": [{"when": _iso(a.created_at), "by": a.actor, "action": a.action,
                                "detail": a.detail} for a in reversed(audit)
                               if a.action.startswith(("status.", "tier."))],
        }
