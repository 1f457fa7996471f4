"""A member writing by mail: a reply to a notification's reply address, or mail from
their own address to other members' aliases. Either way it is TradeMail from them, scrubbed
of every address they ever registered, in every spelling and every part.

Who wrote it is proven, never taken from the From: the envelope sender and the one From
are the same address, that member's confirmed one, and DMARC passed by the trusted
upstream's word when that is required; for mail to an alias, always (`from_member`).
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from trademail.crypto import Keyring
from trademail.errors import InvalidInput, MailRefused, NotFound
from trademail.services import validation
from trademail.services.incoming import (
    Extracted,
    MailWorker,
    ReadMail,
    is_automatic,
    readable,
    uploads,
)
from trademail.services.members import Members
from trademail.services.messages import Draft
from trademail.services.notifications import Notifications
from trademail.services.quoting import trim_reply
from trademail.services.sending import Sending
from trademail.store import MailboxStore, MemberRow, MemberStore

log = structlog.get_logger(__name__)

# What a member's own mail shows where it spelled an address of theirs, when they have no
# alias left to show instead.
ADDRESS_REMOVED = "[address removed]"


class MemberMail:
    def __init__(self, member_store: MemberStore, mailbox_store: MailboxStore,
                 keyring: Keyring, members: Members, sending: Sending,
                 notifications: Notifications, worker: MailWorker, *, relay_domain: str,
                 require_dmarc_pass: bool) -> None:
        self._members_store = member_store
        self._mailbox_store = mailbox_store
        self._keyring = keyring
        self._members = members
        self._sending = sending
        self._notifications = notifications
        self._worker = worker
        self._domain = relay_domain.lower()
        self._require_dmarc = require_dmarc_pass

    def seen(self, member_id: str, scope: str, identity: bytes) -> tuple[str, bytes]:
        """(member, keyed digest of a mail's identity in one conversation or alias): never
        the Message-ID itself, so an MTA's retry of a mail already taken is recognised."""
        return member_id, self._keyring.incoming_mail_digest(member_id, scope, identity)

    async def from_member(self, mail: ReadMail, mail_from: str, *,
                          to_alias: bool = False) -> MemberRow | None:
        """The member a mail genuinely comes from: its envelope sender and its one From are
        the same address, that member's confirmed one, and DMARC passed by the trusted
        upstream's word when that is required, and always for mail to an alias. An alias
        is public where a reply address is its member's secret: without the proof anyone
        could write as a member, and learn whose an address is from the answer."""
        senders = mail.addresses["from"]
        envelope = validation.lookup_form_or_none(mail_from)
        header_from = validation.lookup_form_or_none(senders[0][1]) if len(senders) == 1 \
            else None
        if envelope is None or envelope != header_from:
            return None
        if (self._require_dmarc or to_alias) and \
                mail.dmarc_pass != envelope.rpartition("@")[2]:
            return None
        return await self._members_store.confirmed_member_by_email(
            self._keyring.blind_index("email", envelope))

    async def reply(self, member_id: str, thread_id: str, mail_from: str, mail: ReadMail,
                    identity: bytes) -> str:
        """A reply by mail to a conversation of the member's; MailRefused unless it comes
        from them (a reply address may have leaked)."""
        if is_automatic(mail, mail_from):
            return "dropped"  # out-of-office and the like never reach the conversation
        if mail.dmarc_reject:
            log.info("reply by mail refused: DMARC failed and the domain says p=reject")
            raise MailRefused("dmarc_reject")
        member = await self._members_store.member_by_id(member_id)
        if member is None:
            raise NotFound()
        writer = await self.from_member(mail, mail_from)
        if writer is None or writer.id != member.id:
            await self._notifications.notice(member.id, "reply_refused")
            log.info("reply by mail refused: not from the owner's address")
            raise MailRefused("forged_reply")
        thread = await self._mailbox_store.thread(member.id, thread_id)
        if not thread:
            raise MailRefused("conversation_gone")
        seen = self.seen(member.id, f"thread {thread_id}", identity)
        if await self._mailbox_store.inbound_mail_seen(*seen):
            return "duplicate"  # an MTA's retry of a reply already in the conversation
        sender = validation.lookup_form_or_none(mail_from)
        copied = [a for _, a in mail.addresses["to"] + mail.addresses["cc"]
                  if a.lower().rpartition("@")[2] != self._domain
                  and validation.lookup_form_or_none(a) not in (None, sender)]
        try:
            await self._send(member, (), mail, thread[-1].message_id, seen)
        except InvalidInput:
            await self._notifications.notice(member.id, "reply_failed")
            raise
        if copied:
            # Whoever was copied got the mail itself, reply address and all: that address
            # is theirs to use now, so it stops working; the next notification has a new one.
            await self._notifications.revoke_reply_addresses(member.id, thread_id)
            await self._notifications.notice(member.id, "cc_not_mailed")
        return "reply"

    async def to_aliases(self, member: MemberRow, aliases: Sequence[str], mail_from: str,
                         mail: ReadMail, identity: bytes) -> str:
        """A member writing from their own address to other members' aliases: TradeMail
        from them, in the conversation it answers when that is one of theirs."""
        if is_automatic(mail, mail_from):
            return "dropped"  # a member's auto-reply is no message from them
        seen = self.seen(member.id, "aliases " + " ".join(aliases), identity)
        if await self._mailbox_store.inbound_mail_seen(*seen):
            return "duplicate"
        parent = await self._mailbox_store.entry(member.id, mail.answers) \
            if mail.answers else None
        await self._send(member, tuple(aliases), mail,
                         parent.message_id if parent else None, seen)
        return "member"

    async def _send(self, member: MemberRow, to: tuple[str, ...], mail: ReadMail,
                    in_reply_to: str | None, seen: tuple[str, bytes]) -> None:
        """The mail's text, scrubbed of every address the member ever registered (their
        alias shown instead), sent as theirs; and the member told of parts taken out."""
        text = readable(mail)
        alias = next((a.address for a in await self._members_store.aliases_of([member.id])
                      if a.enabled), ADDRESS_REMOVED)
        answers = in_reply_to or mail.answers
        body = trim_reply(text.body, self._domain) if answers else text.body
        clean = await self._worker.scrub(Extracted(text.subject, body, text.attachments),
                                         await self._members.addresses(member.id), alias)
        await self._sending.send(member.id, Draft(
            to, clean.subject, clean.body, uploads(clean.attachments),
            in_reply_to=in_reply_to), seen=seen)
        if clean.removed:
            await self._notifications.parts_removed(member.id, list(clean.removed))
