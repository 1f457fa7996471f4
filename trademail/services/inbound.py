"""Mail arriving at the gateway: replies by mail, mail from outside to aliases, bounces.

The rules: a reply address takes mail only from its owner's real address (envelope and
From, compared by blind index; DMARC too when configured); an alias takes mail from anyone
while it is enabled; a bounce address takes only bounces it signed. Loops are stopped and
nobody is ever mailed about a bounce or an auto-reply.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from trademail.clock import Clock
from trademail.crypto import Keyring, digest
from trademail.errors import InvalidInput, MailRefused, NotFound
from trademail.ids import new_id
from trademail.services import validation
from trademail.services.conduct import Conduct
from trademail.services.incoming import Extracted, MailWorker, Part, ReadMail
from trademail.services.members import Members
from trademail.services.messages import Draft, Upload
from trademail.services.notifications import Notifications
from trademail.services.quoting import display_name, trim_reply
from trademail.services.sending import Sending
from trademail.store import (
    CorrespondentRow,
    CorrespondentStore,
    MailboxStore,
    MemberRow,
    MemberStore,
)

log = structlog.get_logger(__name__)

MAX_HOPS = 30
# What outside mail shows where it spelled an address it was sent from.
HIDDEN_ADDRESS = "[address hidden]"
_OUR_MESSAGE_ID = re.compile(r"<tm\.([0-9a-f]{32})\.[0-9a-f]+@([^>\s]+)>")
# A Message-ID fit to be written back in a header: one msg-id of printable ASCII.
_THEIR_MESSAGE_ID = re.compile(r"<[!-;=?-~]{1,240}@[!-;=?-~]{1,240}>")


@dataclass(frozen=True)
class Destination:
    """What a recipient address of the relay domain is."""

    kind: str  # "reply", "alias" or "bounce"
    address: str
    member_id: str = ""
    thread_id: str = ""
    purpose: str = ""
    outbox_id: str = ""


@dataclass(frozen=True)
class _Outsider:
    """Someone outside TradeMail writing to aliases: their address, name and its digest."""

    address: str
    name: str
    index: bytes


def is_automatic(mail: ReadMail, mail_from: str) -> bool:
    """RFC 3834 and common practice: auto-replies, bounces, lists and the null sender."""
    auto = mail.get("Auto-Submitted").lower()
    return (not mail_from or bool(auto and auto != "no")
            or mail.get("Precedence").lower() in ("bulk", "junk", "list", "auto_reply")
            or bool(mail.get("X-Autoreply") or mail.get("X-Autorespond"))
            or mail.is_report)


def _lookup_form(address: str) -> str | None:
    try:
        return validation.email_lookup_form(validation.email(address))
    except InvalidInput:
        return None


class Inbound:
    def __init__(self, member_store: MemberStore, correspondent_store: CorrespondentStore,
                 mailbox_store: MailboxStore, keyring: Keyring, members: Members, sending: Sending,
                 notifications: Notifications, conduct: Conduct, clock: Clock,
                 worker: MailWorker, *,
                 relay_domain: str, require_dmarc_pass: bool) -> None:
        self._members_store = member_store
        self._correspondents_store = correspondent_store
        self._mailbox_store = mailbox_store
        self._keyring = keyring
        self._members = members
        self._sending = sending
        self._notifications = notifications
        self._conduct = conduct
        self._clock = clock
        self._worker = worker
        self._domain = relay_domain.lower()
        self._require_dmarc = require_dmarc_pass

    # ------------------------------------------------------------------ RCPT

    async def destination(self, address: str) -> Destination:
        """What a recipient is, or NotFound (an unknown, disabled or revoked address)."""
        address = address.strip().lower()
        local, _, domain = address.rpartition("@")
        if domain != self._domain or not local:
            raise NotFound()
        if local.startswith("reply+"):
            token = await self._notifications.resolve_reply_token(local.removeprefix("reply+"))
            if token is None:
                raise NotFound()
            return Destination("reply", address, token.member_id, token.thread_id)
        if local.startswith("bounce+"):
            parsed = self._notifications.parse_bounce_local(local)
            if parsed is None:
                raise NotFound()  # a forged bounce is dropped at RCPT
            return Destination("bounce", address, purpose=parsed[0], outbox_id=parsed[1])
        owner = await self._members_store.alias_owner(address)
        if owner is None or not owner[1]:
            raise NotFound()
        return Destination("alias", address, owner[0])

    @staticmethod
    def compatible(first: Destination, then: Destination) -> bool:
        """Whether one mail may go to both: several aliases, yes; a reply or bounce address
        only alone (one conversation per message)."""
        return first.kind == then.kind == "alias"

    # ------------------------------------------------------------------ DATA

    async def receive(self, mail_from: str, recipients: Sequence[str], mail: ReadMail,
                      raw: bytes) -> list[str]:
        """Take one mail, read by the gateway, for its recipients; what became of it for
        each. Every recipient is resolved before anything is written; raises, having stored
        nothing, when it must be refused. `raw` is the mail as it came, for its identity
        when it has no Message-ID."""
        destinations = [await self.destination(address) for address in recipients]
        if not destinations:
            raise NotFound()
        if any(not self.compatible(destinations[0], d) for d in destinations[1:]):
            raise MailRefused("mixed_recipients")
        if mail.received > MAX_HOPS:
            raise MailRefused("loop")
        # What makes a retry the same mail: its Message-ID, or all of it when it has none;
        # kept to a fixed size whatever the mail's.
        message_id = mail.get("Message-ID")
        identity = digest(b"id " + message_id.encode("utf-8", "surrogateescape")
                          if message_id else b"raw " + raw)
        first = destinations[0]
        if first.kind == "bounce":
            return [await self._bounce(first, mail)]
        if first.kind == "reply":
            return [await self._reply(first, mail_from, mail, identity)]
        return await self._external(destinations, mail_from, mail, identity)

    def _seen(self, member_id: str, scope: str, identity: bytes) -> tuple[str, bytes]:
        """(member, keyed digest of the Message-ID in one conversation): never the
        Message-ID itself, so an MTA's retry of a mail already taken is recognised."""
        return member_id, self._keyring.incoming_mail_digest(member_id, scope, identity)

    async def _bounce(self, where: Destination, mail: ReadMail) -> str:
        if not mail.bounce_status:
            return "dropped"  # an auto-reply to the envelope sender, not a bounce
        await self._notifications.record_bounce(where.purpose, where.outbox_id,
                                                mail.bounce_status)
        return "bounce"

    async def _reply(self, where: Destination, mail_from: str, mail: ReadMail,
                     identity: bytes) -> str:
        if is_automatic(mail, mail_from):
            return "dropped"  # out-of-office and the like never reach the conversation
        member = await self._members_store.member_by_id(where.member_id)
        if member is None:
            raise NotFound()
        writer = await self.from_member(mail, mail_from)
        if writer is None or writer.id != member.id:
            await self._notifications.notice(member.id, "reply_refused")
            log.info("reply by mail refused: not from the owner's address")
            raise MailRefused("forged_reply")
        thread = await self._mailbox_store.thread(member.id, where.thread_id)
        if not thread:
            raise MailRefused("conversation_gone")
        seen = self._seen(member.id, f"thread {where.thread_id}", identity)
        if await self._mailbox_store.inbound_mail_seen(*seen):
            return "duplicate"  # an MTA's retry of a reply already in the conversation
        others = [a for _, a in mail.addresses["to"] + mail.addresses["cc"]
                  if a.lower().rpartition("@")[2] != self._domain
                  and _lookup_form(a) != _lookup_form(mail_from)]
        try:
            text = _readable(mail)
            alias = next((a.address for a in await self._members_store.aliases_of([member.id])
                          if a.enabled), "")
            # Every address the member ever registered, in every spelling and every part:
            # cards, invitations, forwarded mail and all.
            own = await self._worker.scrub(
                Extracted(text.subject, trim_reply(text.body, self._domain), text.attachments),
                await self._members.addresses(member.id), alias or "[address removed]")
            await self._sending.send(member.id, Draft(
                (), own.subject, own.body, tuple(_upload(a) for a in own.attachments),
                in_reply_to=thread[-1].message_id), seen=seen)
        except InvalidInput:
            await self._notifications.notice(member.id, "reply_failed")
            raise
        if own.removed:
            await self._notifications.parts_removed(member.id, list(own.removed))
        if others:
            # Whoever was copied got the mail itself, reply address and all: that address
            # is theirs to use now, so it stops working; the next notification has a new one.
            await self._notifications.revoke_reply_addresses(member.id, where.thread_id)
            await self._notifications.notice(member.id, "cc_not_mailed")
        return "reply"

    def _outsider_address(self, mail: ReadMail, mail_from: str) -> str:
        senders = mail.addresses["reply-to"] or mail.addresses["from"]
        for candidate in [a for _, a in senders] + [mail_from]:
            local = candidate.strip().rpartition("@")[0]
            if local and not local.isascii():
                # Mail to a non-ASCII local part needs SMTPUTF8 all the way; an answer could
                # not be delivered reliably, so the conversation is not started.
                raise MailRefused("sender_not_ascii")
            try:
                return validation.email(candidate)
            except InvalidInput:
                continue
        raise MailRefused("no_sender")

    async def _external(self, destinations: Sequence[Destination], mail_from: str,
                        mail: ReadMail, identity: bytes) -> list[str]:
        """Mail to one or more aliases. Proven to come from a member (see `from_member`),
        it is that member writing, scrubbed of their addresses as a reply is. Otherwise it
        is outside mail, scrubbed of the addresses it was sent from, whoever's they are:
        a forged From may be a member's, and a treatment that depended on whose would tell
        the sender who is a member. Everything is checked before the first write, so a
        refusal stores nothing; a retry after a failure part-way (the store going away)
        skips the members who already have it."""
        member = await self.from_member(mail, mail_from, authenticated=True)
        others = [d for d in destinations if member is None or d.member_id != member.id]
        if member is not None and others:
            if is_automatic(mail, mail_from):
                return ["dropped"]  # a member's auto-reply is no message from them
            return [await self._member_by_mail(member, others, mail, identity)]
        address = self._outsider_address(mail, mail_from)
        text = await self._worker.scrub(
            _readable(mail), self._sender_addresses(mail, mail_from), HIDDEN_ADDRESS,
            cautious=False)
        thread_of = self._answers(mail)
        body = trim_reply(text.body, self._domain) if thread_of is not None else text.body
        attachments = [_upload(a) for a in text.attachments]
        self._sending.check(text.subject, body, attachments)
        names = mail.addresses["from"]
        outsider = _Outsider(address, display_name(names[0][0] if names else ""),
                             self._keyring.blind_index("correspondent",
                                                       validation.email_lookup_form(address)))
        blocks = {d.member_id: await self._conduct.outsider_block(d.member_id, outsider.index)
                  for d in destinations}
        if all(mode == "refuse" for mode in blocks.values()):
            raise MailRefused("blocked")
        outcomes = []
        for where in destinations:
            if blocks[where.member_id] == "refuse":
                outcomes.append("refused")
                continue
            seen = self._seen(where.member_id, f"alias {where.address}", identity)
            if await self._mailbox_store.inbound_mail_seen(*seen):
                outcomes.append("duplicate")
                continue
            await self._sending.receive_external(
                where.member_id, await self._correspondent(where, outsider),
                subject=text.subject, body=body, attachments=attachments, thread_of=thread_of,
                quiet=is_automatic(mail, mail_from), filed=blocks[where.member_id] == "file",
                outside_ref=_their_message_id(mail), seen=seen)
            outcomes.append("external")
        return outcomes

    async def _correspondent(self, where: Destination, outsider: _Outsider) -> CorrespondentRow:
        """The outside sender as the member to whose alias they wrote knows them."""
        now = self._clock.now()
        cid = new_id(now)
        return await self._correspondents_store.correspondent(CorrespondentRow(
            id=cid, member_id=where.member_id, alias=where.address,
            address_index=outsider.index,
            address_ct=self._keyring.seal_field(cid, "address", outsider.address),
            name_ct=self._keyring.seal_field(cid, "name", outsider.name), created_at=now))

    def _answers(self, mail: ReadMail) -> str | None:
        """The message of ours a mail answers, by its In-Reply-To or References."""
        thread_of = None
        for ref in (mail.get("In-Reply-To") + " " + mail.get("References")).split():
            match = _OUR_MESSAGE_ID.fullmatch(ref)
            if match and match.group(2).lower() == self._domain:
                thread_of = match.group(1)
        return thread_of

    @staticmethod
    def _sender_addresses(mail: ReadMail, mail_from: str) -> list[str]:
        """Every address a mail says it comes from: envelope, From, Sender and Reply-To."""
        named = [mail_from, *(a for field in ("from", "sender", "reply-to")
                              for _, a in mail.addresses.get(field, ()))]
        return list(dict.fromkeys(form for a in named if (form := _lookup_form(a))))

    async def _member_by_mail(self, member: MemberRow, destinations: Sequence[Destination],
                              mail: ReadMail, identity: bytes) -> str:
        """A member writing from their own address to aliases: TradeMail from them, scrubbed
        of their addresses as a reply is, in the conversation it answers when that is one
        of theirs."""
        seen = self._seen(member.id, "aliases " + " ".join(d.address for d in destinations),
                          identity)
        if await self._mailbox_store.inbound_mail_seen(*seen):
            return "duplicate"
        alias = next((a.address for a in await self._members_store.aliases_of([member.id])
                      if a.enabled), HIDDEN_ADDRESS)
        thread_of = self._answers(mail)
        text = _readable(mail)
        clean = await self._worker.scrub(
            Extracted(text.subject, trim_reply(text.body, self._domain) if thread_of
                      else text.body, text.attachments),
            await self._members.addresses(member.id), alias)
        parent = await self._mailbox_store.entry(member.id, thread_of) if thread_of else None
        await self._sending.send(member.id, Draft(
            tuple(d.address for d in destinations), clean.subject, clean.body,
            tuple(_upload(a) for a in clean.attachments),
            in_reply_to=parent.message_id if parent else None), seen=seen)
        if clean.removed:
            await self._notifications.parts_removed(member.id, list(clean.removed))
        return "member"

    async def from_member(self, mail: ReadMail, mail_from: str, *,
                          authenticated: bool = False) -> MemberRow | None:
        """The member a mail genuinely comes from: its envelope sender and its one From are
        the same address, that member's confirmed one, and DMARC passed by the trusted
        upstream's word when `authenticated` is asked for or configured. Anyone can write
        any From: a reply address is a secret of its member's, but an alias is public, so
        mail to an alias needs the proof always."""
        senders = mail.addresses["from"]
        envelope = _lookup_form(mail_from)
        header_from = _lookup_form(senders[0][1]) if len(senders) == 1 else None
        if envelope is None or envelope != header_from:
            return None
        if (authenticated or self._require_dmarc) and \
                mail.dmarc_pass != envelope.rpartition("@")[2]:
            return None
        return await self._members_store.confirmed_member_by_email(
            self._keyring.blind_index("email", envelope))


def _readable(mail: ReadMail) -> Extracted:
    if mail.text is None:
        raise InvalidInput.one("message", mail.problem or "the MIME structure cannot be read")
    return mail.text


def _upload(part: Part) -> Upload:
    """A (scrubbed) attachment of a reply by mail, as the mailbox takes it."""
    return Upload(part.filename, part.content_type, part.data)


def _their_message_id(mail: ReadMail) -> str | None:
    """The mail's own Message-ID, if it is one that can be named in a header again."""
    found = mail.get("Message-ID").strip()
    return found if _THEIR_MESSAGE_ID.fullmatch(found) and len(found) <= 250 else None
