"""How members may treat each other: who may write to whom, how often, and the tools
members have to protect themselves (blocks, and reporting a conversation to staff).

Every message a member sends passes `admit`: a banned member sends nothing; a Restricted
member only answers conversations; nobody writes to a closed account or to someone who
blocks them; and the per-member limits ([limits]) are counted and decided in the
transaction that writes the message, so parallel sends see each other and a message that
is not delivered is not counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from trademail.clock import Clock
from trademail.config import LimitsConfig
from trademail.crypto import Keyring
from trademail.errors import Forbidden, InvalidInput, LimitReached, NotFound, TradeMailError
from trademail.ids import is_id, new_id
from trademail.services import validation
from trademail.services.audit import audit_entry, member_actor
from trademail.services.standing import BANNED, RESTRICTED
from trademail.store import (
    BlockRow,
    ConductStore,
    CorrespondentStore,
    LimitFull,
    MailboxStore,
    MemberRow,
    MemberStore,
    ModerationStore,
    ReportRow,
    SendCount,
    Window,
)

HOUR, DAY = 3600.0, 86400.0
BLOCK_MODES = ("refuse", "file")
MAX_BLOCKS = 500


@dataclass(frozen=True)
class Admission:
    """A message let through: who files it away, and the count its delivery makes."""

    filed: frozenset[str]
    count: SendCount


@dataclass(frozen=True)
class Block:
    id: str
    kind: str      # member or address
    label: str     # a username or alias, an address the member typed, or a sender's name
    mode: str      # refuse or file
    created_at: float


def _limit_message(window: Window) -> str:
    return {
        "hour": f"you can send {window.limit} messages an hour",
        "new_day": f"you can write to {window.limit} new members a day",
        "restricted_day": f"Restricted members can send {window.limit} messages a day",
    }[window.name] + "; try again later"


class Conduct:
    def __init__(self, conduct_store: ConductStore, moderation_store: ModerationStore,
                 member_store: MemberStore, mailbox_store: MailboxStore,
                 correspondent_store: CorrespondentStore, keyring: Keyring, clock: Clock,
                 limits: LimitsConfig) -> None:
        self._store = conduct_store
        self._moderation_store = moderation_store
        self._members_store = member_store
        self._mailbox_store = mailbox_store
        self._correspondents_store = correspondent_store
        self._keyring = keyring
        self._clock = clock
        self._limits = limits

    # ------------------------------------------------------------------ sending

    async def admit(self, sender: MemberRow, recipients: Mapping[str, MemberRow], *,
                    answering: bool) -> Admission:
        """Let a member's message through, or raise why not: who files the sender's mail
        away silently, and the count the delivery makes against the sender's limits (a
        full window then raises LimitFull; `refusal` says it in the domain's words)."""
        if sender.status == BANNED:
            raise Forbidden("your account is closed")
        if sender.status == RESTRICTED and not answering:
            raise Forbidden("Restricted members can only answer conversations others started")
        closed = [m.username for m in recipients.values() if m.status == BANNED]
        if closed:
            raise InvalidInput.one("to", f"{', '.join(closed)}: this account is closed")
        modes = await self._store.blocked_by(list(recipients), "member", sender.id)
        refusing = [recipients[i].username for i, mode in modes.items() if mode == "refuse"]
        if refusing:
            raise InvalidInput.one("to", f"{', '.join(refusing)} does not accept your messages")
        now = self._clock.now()
        return Admission(frozenset(i for i, mode in modes.items() if mode == "file"),
                         SendCount(sender.id, tuple(recipients), now,
                                   tuple(self._windows(sender, now))))

    @staticmethod
    def refusal(full: LimitFull) -> TradeMailError:
        """What a full window tells the sender."""
        if full.wait == float("inf"):
            return InvalidInput.one("to", f"you can write to {full.window.limit} new members "
                                    "a day; name fewer recipients")
        return LimitReached(_limit_message(full.window), full.wait)

    def _windows(self, sender: MemberRow, now: float) -> list[Window]:
        limits = self._limits
        young = now - sender.created_at < limits.new_account_days * DAY
        per_hour = limits.member_messages_per_hour
        new_per_day = limits.member_new_correspondents_per_day
        if young:
            per_hour = _lower(per_hour, limits.new_account_messages_per_hour)
            new_per_day = _lower(new_per_day, limits.new_account_new_correspondents_per_day)
        windows = [Window("hour", HOUR, per_hour),
                   Window("new_day", DAY, new_per_day, new_correspondents=True)]
        if sender.status == RESTRICTED:
            windows[0] = Window("hour", HOUR, _lower(per_hour,
                                                     limits.restricted_messages_per_hour))
            windows.append(Window("restricted_day", DAY, limits.restricted_messages_per_day))
        return windows

    async def outsider_block(self, member_id: str, address_index: bytes) -> str | None:
        """How the member treats mail from this outside address: refuse, file, or None."""
        modes = await self._store.blocked_by([member_id], "address", address_index.hex())
        return modes.get(member_id)

    # ------------------------------------------------------------------ blocks

    async def blocks(self, member_id: str) -> list[Block]:
        return [Block(b.id, b.kind, self._keyring.open_field(member_id, "block", b.label_ct),
                      b.mode, b.created_at) for b in await self._store.blocks_of(member_id)]

    async def block(self, member_id: str, who: object, mode: object = "refuse") -> Block:
        """Block a member (by username or alias) or an outside address."""
        text = validation.line(who, "who", max_length=320).lower()
        if "@" in text:
            owner = await self._members_store.alias_owner(text)
            if owner is None:  # not an alias here: an outside address
                address = validation.email(text, "who")
                return await self._add(member_id, "address", self._address_target(address),
                                       address, mode)
            target = owner[0]
        else:
            target = (await self._members_store.resolve_recipients([text])).get(text, "")
            if not target:
                raise InvalidInput.one("who", "no member has this username or alias")
        if target == member_id:
            raise InvalidInput.one("who", "you cannot block yourself")
        return await self._add(member_id, "member", target, text, mode)

    async def block_sender(self, member_id: str, message_id: str,
                           mode: object = "refuse") -> Block:
        """Block whoever sent this message to the member."""
        entry = await self._mailbox_store.entry(member_id, message_id) \
            if is_id(message_id) else None
        if entry is None or entry.sender_id == member_id:
            raise NotFound()
        member = (await self._members_store.members_by_ids([entry.sender_id])).get(
            entry.sender_id)
        if member is not None:
            return await self._add(member_id, "member", member.id, member.username, mode)
        outsider = (await self._correspondents_store.correspondents_by_ids(
            [entry.sender_id])).get(entry.sender_id)
        if outsider is None:
            raise NotFound()
        # Named as the inbox names them, never by their address: a forged From may be a
        # member's, and the member blocking them must not learn it.
        name = self._keyring.open_field(outsider.id, "name", outsider.name_ct)
        return await self._add(member_id, "address", outsider.address_index.hex(),
                               f"{name or 'Someone'} (outside sender)", mode)

    async def unblock(self, member_id: str, block_id: str) -> None:
        if not is_id(block_id) or not await self._store.remove_block(member_id, block_id):
            raise NotFound()

    def _address_target(self, address: str) -> str:
        return self._keyring.blind_index("correspondent",
                                         validation.email_lookup_form(address)).hex()

    async def _add(self, member_id: str, kind: str, target: str, label: str,
                   mode: object) -> Block:
        if mode not in BLOCK_MODES:
            raise InvalidInput.one("mode", "must be refuse or file")
        now = self._clock.now()
        row = BlockRow(member_id, new_id(now), kind, target,
                       self._keyring.seal_field(member_id, "block", label), str(mode), now)
        if not await self._store.add_block(row, MAX_BLOCKS):
            raise InvalidInput.one("who", f"you block {MAX_BLOCKS} senders already")
        return Block(row.id, kind, label, row.mode, now)

    # ------------------------------------------------------------------ reports

    async def people_written_with(self, member_id: str,
                                  limit: int = 50) -> list[tuple[str, str]]:
        """(username, company) of the members this one has written with, most recent first:
        what a recipient field suggests. Closed accounts are left out."""
        ids = await self._store.partners(member_id, limit)
        members = await self._members_store.members_by_ids(ids)
        return [(m.username, m.company) for i in ids if (m := members.get(i)) is not None
                and m.status != BANNED]

    async def report(self, member_id: str, message_id: str, reason: object) -> str:
        """Report the conversation of one of the member's messages to staff: from now on
        staff may read that conversation (and only it), each reading audited."""
        text = validation.paragraph(reason, "reason", max_length=2000, min_length=3)
        entry = await self._mailbox_store.entry(member_id, message_id) \
            if is_id(message_id) else None
        member = await self._members_store.member_by_id(member_id)
        if entry is None or member is None:
            raise NotFound()
        now = self._clock.now()
        report = ReportRow(new_id(now), member.id, message_id, entry.thread_id, text, now)
        if not await self._moderation_store.file_report(report):
            raise InvalidInput.one("reason", "you reported this conversation already; staff "
                                   "will look at it")
        await self._moderation_store.record(audit_entry(
            member_actor(member.id), "report.filed", member.id,
            f"report {report.id}", now))
        return report.id


def _lower(limit: int, other: int) -> int:
    """The stricter of two limits, where 0 means none."""
    if not limit or not other:
        return limit or other
    return min(limit, other)
