"""Mail arriving at the gateway: replies by mail, mail to aliases, bounces.

The rules: a reply address takes mail only from its owner's real address (see
`membermail`); an alias takes mail from anyone while it is enabled, as the member's own
mail when it is proven theirs and as outside mail otherwise (see `outsidemail`); a bounce
address takes only bounces it signed. Loops are stopped and nobody is ever mailed about a
bounce or an auto-reply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trademail.crypto import digest
from trademail.errors import MailRefused, NotFound
from trademail.services.incoming import ReadMail
from trademail.services.membermail import MemberMail
from trademail.services.members import Members
from trademail.services.notifications import Notifications
from trademail.services.outsidemail import Alias, OutsideMail
from trademail.services.spam import SpamEnvelope, SpamFilter, SpamPolicy
from trademail.store import MemberStore

MAX_HOPS = 30


@dataclass(frozen=True)
class Destination:
    """What a recipient address of the relay domain is."""

    kind: str  # "reply", "alias" or "bounce"
    address: str
    member_id: str = ""
    thread_id: str = ""
    purpose: str = ""
    outbox_id: str = ""


class Inbound:
    def __init__(self, member_store: MemberStore, members: Members,
                 notifications: Notifications, member_mail: MemberMail,
                 outside_mail: OutsideMail, *, relay_domain: str,
                 messages_per_minute: int, spam_filter: SpamFilter | None = None,
                 spam_policy: SpamPolicy | None = None) -> None:
        self._members_store = member_store
        self._members = members
        self._per_minute = messages_per_minute
        self._notifications = notifications
        self._member_mail = member_mail
        self._outside_mail = outside_mail
        self._domain = relay_domain.lower()
        self._spam_filter = spam_filter
        self._spam_policy = spam_policy or SpamPolicy(reject_score=15, spam_score=6)

    # ------------------------------------------------------------------ MAIL

    async def admit_client(self, client: str) -> bool:
        """Whether a client (by address) may start another mail this minute: counted in the
        database, so the limit holds however many server processes take its connections."""
        return await self._members.per_minute(f"smtp:{client}", self._per_minute)

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
                      raw: bytes, *, client: tuple[str, str] = ("", "")) -> list[str]:
        """Take one mail, read by the gateway, for its recipients; what became of it for
        each. Every recipient is resolved before anything is written; raises, having stored
        nothing, when it must be refused. `raw` is the mail as it came, for its identity
        when it has no Message-ID; `client` is the sending host's (IP address, HELO name),
        which the spam filter weighs."""
        destinations = [await self.destination(address) for address in recipients]
        if not destinations:
            raise NotFound()
        if any(not self.compatible(destinations[0], d) for d in destinations[1:]):
            raise MailRefused("mixed_recipients")
        if mail.received > MAX_HOPS:
            raise MailRefused("loop")
        # What makes a retry the same mail: its Message-ID, or all of it when it has none;
        # kept to a fixed size whatever the mail's.
        identity = digest(b"id " + mail.message_id.encode("utf-8", "surrogateescape")
                          if mail.message_id else b"raw " + raw)
        first = destinations[0]
        if first.kind == "bounce":
            return [await self._bounce(first, mail)]
        if first.kind == "reply":
            return [await self._member_mail.reply(first.member_id, first.thread_id, mail_from,
                                                  mail, identity)]
        if mail.dmarc_reject:
            raise MailRefused("dmarc_reject")  # a forged From: its domain says refuse it
        spam = await self._spam(raw, SpamEnvelope(client[0], client[1], mail_from,
                                                  tuple(recipients)))
        member = await self._member_mail.from_member(mail, mail_from, to_alias=True)
        others = [d for d in destinations if member is None or d.member_id != member.id]
        if member is not None and others:
            return [await self._member_mail.to_aliases(
                member, [d.address for d in others], mail_from, mail, identity)]
        return await self._outside_mail.receive(
            [Alias(d.address, d.member_id) for d in destinations], mail_from, mail, identity,
            spam=spam)

    async def _spam(self, raw: bytes, envelope: SpamEnvelope) -> bool:
        """Whether mail to aliases is spam for the Spam folder; raises SpamRefused (to be
        refused) or MailDeferred (the filter cannot answer: never taken unscored)."""
        if self._spam_filter is None:
            return False
        return self._spam_policy.judge(await self._spam_filter.score(raw, envelope))

    async def _bounce(self, where: Destination, mail: ReadMail) -> str:
        if not mail.bounce_status:  # an auto-reply to the envelope sender, not a bounce
            if mail.automatic:
                await self._notifications.record_auto_reply(where.purpose, where.outbox_id)
            return "dropped"
        await self._notifications.record_bounce(where.purpose, where.outbox_id,
                                                mail.bounce_status)
        return "bounce"
