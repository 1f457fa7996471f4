"""TradeStaff's work: the queue of flagged listings, member search, statuses and tiers with
their reasons, the audit log, who opens the most contact sections, and the conversations
members reported (the one way staff ever read mail, each reading audited)."""

from __future__ import annotations

from dataclasses import dataclass

from trademail.clock import Clock
from trademail.crypto import Keyring
from trademail.errors import Forbidden, InvalidInput, NotFound
from trademail.events import Events
from trademail.ids import is_id
from trademail.services import validation
from trademail.services.audit import Actor, AuditEntry, audit_entry, entry_of
from trademail.services.listings import Flag, Listings
from trademail.services.reading import Message, Reading
from trademail.services.standing import BANNED, FREE, PREMIUM, STAFF, STATUSES
from trademail.store import (
    DirectoryStore,
    MemberRow,
    MemberStore,
    ModerationStore,
    ReportRow,
)

DAY = 86400.0


@dataclass(frozen=True)
class Report:
    id: str
    reporter_id: str
    message_id: str
    thread_id: str
    reason: str
    created_at: float


def _report(row: ReportRow) -> Report:
    return Report(row.id, row.reporter_id, row.message_id, row.thread_id, row.reason,
                  row.created_at)


@dataclass(frozen=True)
class MemberCard:
    """A member as staff see them: never the address itself, only its masked form."""

    id: str
    username: str
    company: str
    country: str
    tier: str
    status: str
    status_reason: str
    status_at: float
    email_masked: str
    email_confirmed: bool
    created_at: float


@dataclass(frozen=True)
class AuditPage:
    entries: tuple[AuditEntry, ...]
    older: str | None  # the cursor of the next page, when there is one


@dataclass(frozen=True)
class Viewer:
    member: MemberCard
    views: int
    members: int


class Moderation:
    def __init__(self, moderation_store: ModerationStore, member_store: MemberStore,
                 directory_store: DirectoryStore, listings: Listings, reading: Reading,
                 keyring: Keyring, events: Events, clock: Clock, *, relay_domain: str) -> None:
        self._store = moderation_store
        self._members_store = member_store
        self._directory_store = directory_store
        self._listings = listings
        self._reading = reading
        self._keyring = keyring
        self._events = events
        self._clock = clock
        self._relay_domain = relay_domain

    async def staff(self, member_id: str) -> Actor:
        """The staff member behind a request, or Forbidden."""
        member = await self._members_store.member_by_id(member_id)
        if member is None or member.tier != STAFF or member.status == BANNED:
            raise Forbidden("only TradeStaff may do this")
        return Actor(member.id, member.username)

    def card(self, member: MemberRow) -> MemberCard:
        email = self._keyring.open_field(member.id, "email", member.email_ct)
        return MemberCard(member.id, member.username, member.company, member.country,
                          member.tier, member.status, member.status_reason, member.status_at,
                          validation.mask_email(email), member.email_confirmed,
                          member.created_at)

    async def cards(self, member_ids: list[str]) -> dict[str, MemberCard]:
        found = await self._members_store.members_by_ids(sorted(set(member_ids)))
        return {i: self.card(m) for i, m in found.items()}

    async def member(self, staff: Actor, member_id: str) -> MemberCard:
        member = await self._members_store.member_by_id(member_id) if is_id(member_id) else None
        if member is None:
            raise NotFound()
        return self.card(member)

    # ------------------------------------------------------------------ queue and search

    async def queue(self, staff: Actor) -> list[tuple[Flag, MemberCard]]:
        """Open flags, oldest first, with their members."""
        flags = await self._listings.open_flags()
        cards = await self.cards([f.member_id for f in flags])
        return [(f, cards[f.member_id]) for f in flags if f.member_id in cards]

    async def dismiss_flag(self, staff: Actor, flag_id: str) -> None:
        """A flag that is no contact detail (the detector erred), closed for good."""
        await self._listings.dismiss(staff, flag_id)

    async def search(self, staff: Actor, query: object) -> list[MemberCard]:
        """Members by username, alias or company; an email address only through its blind
        index (staff never see it, only its masked form)."""
        text = validation.line(query, "q", max_length=320).lower()
        if "@" in text:
            if text.endswith("@" + self._relay_domain):
                found = await self._store.find_members(alias=text)
            else:
                address = validation.email(text, "q")
                found = await self._store.find_members(email_index=self._keyring.blind_index(
                    "email", validation.email_lookup_form(address)))
        else:
            by_name = await self._store.find_members(username=text)
            by_company = await self._store.find_members(company=text)
            found = list({m.id: m for m in by_name + by_company}.values())
        return [self.card(m) for m in found]

    async def members_with(self, staff: Actor, statuses: tuple[str, ...]) -> list[MemberCard]:
        return [self.card(m) for m in await self._store.members_with(statuses=statuses)]

    # ------------------------------------------------------------------ changes

    async def set_status(self, staff: Actor, member_id: str, status: object,
                         reason: object) -> MemberCard:
        """Change a member's status; the reason is required and shown to the member. A ban
        signs them out everywhere and revokes every credential at once."""
        target = await self.member(staff, member_id)
        if status not in STATUSES:
            raise InvalidInput.one("status", f"must be one of {', '.join(STATUSES)}")
        why = validation.line(reason, "reason", max_length=500, min_length=3)
        if target.id == staff.id:
            raise InvalidInput.one("status", "staff cannot change their own status")
        if target.status != status:
            await self._store.set_status(target.id, str(status), why, audit_entry(
                staff, f"status.{status}", target.id, why, self._clock.now()))
            if status == BANNED:  # open pages of theirs look again, and find themselves out
                await self._events.publish("mailbox", target.id)
        return await self.member(staff, target.id)

    async def set_tier(self, staff: Actor, member_id: str, tier: object,
                       reason: object) -> MemberCard:
        """Make a member premium or free (staff accounts come from the command line)."""
        target = await self.member(staff, member_id)
        if tier not in (FREE, PREMIUM) or target.tier == STAFF:
            raise InvalidInput.one("tier", "must be free or premium, for members only")
        why = validation.line(reason, "reason", max_length=500, min_length=3)
        if await self._store.set_tier(target.id, str(tier), audit_entry(
                staff, f"tier.{tier}", target.id, why, self._clock.now())):
            await self._listings.recheck(target.id)  # what a premium member may show, a
        return await self.member(staff, target.id)     # free one may not

    async def audit(self, staff: Actor, *, member_id: str | None = None,
                    before: str | None = None, limit: int = 50) -> AuditPage:
        """The audit log, newest first, a page at a time (`before`: the page's cursor)."""
        rows = await self._store.audit_log(member_id=member_id,
                                           before=before if before and is_id(before) else None,
                                           limit=limit + 1)
        entries = tuple(entry_of(r) for r in rows[:limit])
        return AuditPage(entries, entries[-1].id if len(rows) > limit else None)

    async def top_viewers(self, staff: Actor, *, days: int = 1) -> list[Viewer]:
        rows = await self._directory_store.top_viewers(self._clock.now() - days * DAY)
        cards = await self.cards([r[0] for r in rows])
        return [Viewer(cards[v], n, m) for v, n, m in rows if v in cards]

    # ------------------------------------------------------------------ reports

    async def reports(self, staff: Actor) -> list[tuple[Report, MemberCard]]:
        reports = await self._store.reports()
        cards = await self.cards([r.reporter_id for r in reports])
        return [(_report(r), cards[r.reporter_id]) for r in reports if r.reporter_id in cards]

    async def read_report(self, staff: Actor,
                          report_id: str) -> tuple[Report, MemberCard, list[Message]]:
        """An open report and the conversation reported, as the reporter's mailbox held it
        when they reported it (nothing written since): the one way staff read mail. The
        reading is in the audit log before anything is shown; a closed report shows no mail."""
        report = await self._store.report(report_id) if is_id(report_id) else None
        if report is None or report.closed_at is not None:
            raise NotFound()
        reporter = await self.member(staff, report.reporter_id)
        await self._store.record(audit_entry(staff, "report.read", report.reporter_id,
                                             f"report {report.id}", self._clock.now()))
        try:
            thread = await self._reading.thread(report.reporter_id, report.thread_id,
                                                for_staff=True)
        except NotFound:
            thread = []  # the reporter has deleted it since
        return (_report(report), reporter,
                [m for m in thread if m.created_at <= report.created_at])

    async def close_report(self, staff: Actor, report_id: str, outcome: object) -> None:
        why = validation.line(outcome, "outcome", max_length=500, min_length=3)
        if not is_id(report_id) or not await self._store.close_report(report_id, audit_entry(
                staff, "report.closed", None, f"report {report_id}: {why}",
                self._clock.now())):
            raise NotFound()
