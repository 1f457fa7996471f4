"""The audit log: who acted (a member, staff, the system, the command line or someone not
signed in), the actions it records (the names below), a one-line `Audit.record` for any
service, a member's own log in plain words, and the check of the chain (`verify`).

An entry's detail is a short note for people (the door of a sign-in, a token's id, a
status's reason); it never holds an email address, a password, a token's secret or any
message's text.
"""

from __future__ import annotations

from dataclasses import dataclass

from trademail.clock import Clock
from trademail.crypto import Keyring
from trademail.ids import is_id, new_id
from trademail.services.standing import STATUS_LABELS, TIER_LABELS
from trademail.store import AuditRow, AuditStore, ChainedRow, Head, MemberStore
from trademail.store.audit import entry_bytes

# Security events of a member's account. Second factors, deletion and key rotation are
# named here for the services that record them.
SIGNED_IN = "signin"                     # detail: the door ("web: Firefox on Windows", "API")
SIGNIN_FAILED = "signin.failed"          # a wrong password for a real username; the door
PASSWORD_CHANGED = "password.changed"  # noqa: S105 - an action's name, not a secret
PASSWORD_RESET = "password.reset"  # noqa: S105 - with a link mailed to the member's address
ADDRESS_CHANGE_ASKED = "address.change_requested"  # a link mailed to the new address
ADDRESS_CHANGED = "address.changed"      # the link followed: the address is the new one
TOKEN_CREATED = "token.created"  # noqa: S105 - detail: the token's id and scopes
TOKEN_REVOKED = "token.revoked"  # noqa: S105 - an action's name, not a secret
MAILBOX_EXPORTED = "export.mailbox"      # the member took their mailbox (mbox or JSON)
FACTOR_ADDED = "factor.added"
FACTOR_REMOVED = "factor.removed"
ACCOUNT_DELETED = "account.deleted"
KEY_ROTATED = "key.rotated"
# Staff, the system and the command line record `status.<status>` and `tier.<tier>`
# (moderation, the contact-details rule), "report.filed", "report.read", "report.closed",
# "flag.dismissed", "staff.created", "export.banned" and "export.lawful_request".

# What a member sees of their own log, in plain words: their security events and what staff
# or the system did to their account. Exports for the authorities are never shown to them.
MEMBER_WORDS = {
    SIGNED_IN: "Signed in",
    SIGNIN_FAILED: "Failed sign-in attempt",
    PASSWORD_CHANGED: "Password changed",
    PASSWORD_RESET: "Password reset with an emailed link",
    ADDRESS_CHANGE_ASKED: "Address change asked for: a link was mailed to the new address",
    ADDRESS_CHANGED: "Email address changed",
    TOKEN_CREATED: "API token created",
    TOKEN_REVOKED: "API token revoked",
    MAILBOX_EXPORTED: "Mailbox exported",
    FACTOR_ADDED: "Second factor added",
    FACTOR_REMOVED: "Second factor removed",
    ACCOUNT_DELETED: "Account deleted",
    KEY_ROTATED: "Your key was rotated",
    "report.filed": "You reported a conversation",
    "report.read": "TradeMail staff read your report",
    "staff.created": "Staff account created",
    **{f"status.{s}": f"Account status set to {label}" for s, label in STATUS_LABELS.items()},
    **{f"tier.{t}": f"Tier set to {label}" for t, label in TIER_LABELS.items()},
}


@dataclass(frozen=True)
class Actor:
    """Who did something: a member or staff member (id and username), or no one signed in."""

    id: str | None
    name: str


SYSTEM = Actor(None, "system")


def member_actor(member_id: str) -> Actor:
    """A member acting on their own account: written by id alone, never by name."""
    return Actor(member_id, "member")

COMMAND_LINE = Actor(None, "command line")
SOMEONE = Actor(None, "someone")  # not signed in: a failed sign-in is theirs


@dataclass(frozen=True)
class AuditEntry:
    id: str
    actor: str              # as written: staff by username; a member acting on their own
    action: str             # account as "member" (their name is looked up to show it, so
    member_id: str | None   # none stays in the log once they erase their account)
    detail: str
    created_at: float
    actor_id: str | None = None


@dataclass(frozen=True)
class Activity:
    """An entry of a member's own log, as they see it: never a staff member's name."""

    id: str
    action: str
    what: str
    by: str
    detail: str
    created_at: float


@dataclass(frozen=True)
class ActivityPage:
    entries: tuple[Activity, ...]
    older: str | None  # the cursor of the next (older) page


@dataclass(frozen=True)
class ChainReport:
    """What `verify` found: the entries checked, the head, and the first broken link."""

    checked: int
    head_seq: int
    head_mac: str        # hex: note it elsewhere to catch entries cut off the end later
    legacy: int          # entries from before the chain, first in it, which no MAC covers
    broken_at: int | None = None
    broken_id: str | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


def audit_entry(actor: Actor, action: str, member_id: str | None, detail: str,
                now: float) -> AuditRow:
    return AuditRow(new_id(now), actor.id, actor.name, action, member_id, detail[:1000], now)


def entry_of(row: AuditRow) -> AuditEntry:
    return AuditEntry(row.id, row.actor, row.action, row.member_id, row.detail, row.created_at,
                      row.actor_id)


def activity_of(row: AuditRow, member_id: str) -> Activity:
    if row.actor_id == member_id:
        by = "You"
    elif row.action == SIGNIN_FAILED:
        by = "Someone"
    elif row.actor == SYSTEM.name:
        by = "TradeMail"
    else:  # staff, or an operator on the command line
        by = "TradeMail staff"
    return Activity(row.id, row.action, MEMBER_WORDS.get(row.action, row.action), by,
                    row.detail, row.created_at)


def parse_noted(text: str) -> tuple[int, bytes] | None:
    """A head noted earlier, as `verify` prints it (`SEQ:MAC`); None when it is not one."""
    seq, _, mac = text.strip().partition(":")
    try:
        return (int(seq), bytes.fromhex(mac)) if seq.isdigit() and mac else None
    except ValueError:
        return None


class Audit:
    def __init__(self, store: AuditStore, member_store: MemberStore, keyring: Keyring,
                 clock: Clock) -> None:
        self._store = store
        self._members_store = member_store
        self._keyring = keyring
        self._clock = clock

    async def record(self, actor: Actor, action: str, member_id: str | None,
                     detail: str = "") -> None:
        """Append one entry to the chain, now."""
        await self._store.append(audit_entry(actor, action, member_id, detail,
                                             self._clock.now()))

    async def record_nothing(self) -> None:
        """The work of a `record` without its entry (a failed sign-in for an unknown
        username takes as long as one for a member)."""
        await self._store.hold_head()

    async def by_member(self, member_id: str, action: str, detail: str = "") -> None:
        """Record what a member did to their own account."""
        await self.record(member_actor(member_id), action, member_id, detail)

    async def member_log(self, member_id: str, *, before: str | None = None,
                         limit: int = 50) -> ActivityPage:
        """The member's own entries, newest first, a page at a time (`before`: the cursor)."""
        rows = await self._store.entries(member_id=member_id, actions=tuple(MEMBER_WORDS),
                                         before=before if before and is_id(before) else None,
                                         limit=limit + 1)
        entries = tuple(activity_of(r, member_id) for r in rows[:limit])
        return ActivityPage(entries, entries[-1].id if len(rows) > limit else None)

    async def verify(self, *, noted: tuple[int, bytes] | None = None,
                     batch: int = 500) -> ChainReport:
        """Walk the chain in order, a batch at a time, and recompute every MAC; the first
        broken link is reported. `noted`: a head noted earlier, which must still be in it.
        The walk ends at the head it found first: entries appended meanwhile wait for the
        next check."""
        head = await self._store.head()
        walked = _Walk(self._keyring)
        while True:
            rows = await self._store.walk(walked.checked, head.seq, batch)
            for row in rows:
                if not walked.step(row, noted, head.legacy):
                    return walked.report(head)
            if len(rows) < batch:
                break
        walked.finish(head, await self._store.outside_chain(), noted)
        return walked.report(head)


class _Walk:
    """The state of one walk along the chain: where it is, and what broke."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self.checked = 0
        self.previous = b""
        self.broken: tuple[int | None, str | None, str] | None = None

    def step(self, row: ChainedRow, noted: tuple[int, bytes] | None, legacy: int) -> bool:
        place = self.checked + 1
        if row.seq == place <= legacy and row.mac is None and (noted is None
                                                              or noted[0] > legacy):
            self.checked = place  # from before the chain: nothing to check it by
            return True
        if place <= legacy:  # a MAC (or a noted head) there: chained entries called legacy
            self.broken = (place, row.row.id, f"entry {place} is counted as from before the "
                                              "chain, but the chain covered it")
        elif row.seq != place:
            self.broken = (place, None, f"entry {place} is missing (deleted, or moved to "
                                        f"place {row.seq})")
        elif row.mac is None or row.mac != self._keyring.audit_mac(
                self.previous, entry_bytes(row.seq, row.row)):
            self.broken = (place, row.row.id, f"entry {place} (id {row.row.id}) does not "
                                              "match its MAC: changed, moved or forged")
        elif noted is not None and noted[0] == place and noted[1] != row.mac:
            self.broken = (place, row.row.id, f"entry {place} is not the one noted: the "
                                              "chain was rewritten from there on")
        if self.broken:
            return False
        self.checked, self.previous = place, row.mac or b""
        return True

    def finish(self, head: Head, outside: int, noted: tuple[int, bytes] | None) -> None:
        end = self.checked
        if head.seq != end:
            self.broken = (end + 1, None, f"the head names {head.seq} entries, the chain "
                                          f"holds {end}: entries after {end} are missing")
        elif head.mac != self.previous:
            self.broken = (end, None, "the head's MAC is not the last entry's")
        elif outside:
            self.broken = (None, None, f"{outside} entries stand outside the chain (no "
                                       "place in it, or past its head)")
        elif noted is not None and noted[0] > end:
            self.broken = (end + 1, None, f"the chain ends at {end}, before the noted entry "
                                          f"{noted[0]}: entries were cut off the end")

    def report(self, head: Head) -> ChainReport:
        if self.broken is None:
            return ChainReport(self.checked, head.seq, head.mac.hex(), head.legacy)
        at, entry_id, problem = self.broken
        return ChainReport(self.checked, head.seq, head.mac.hex(), head.legacy, at, entry_id,
                           problem)
