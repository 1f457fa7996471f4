"""Mail from outside TradeMail to members' aliases: into each member's inbox as from an
outside correspondent, unless the member blocks the sender.

It is scrubbed of every address it says it was sent from, whoever's they are, and of every
address a member ever registered when one of those is a member's: a forged From may be a
member's, and what the recipient reads must not depend on who the sender claims to be.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trademail.clock import Clock
from trademail.crypto import Keyring
from trademail.errors import MailRefused
from trademail.ids import new_id
from trademail.services import validation
from trademail.services.conduct import Conduct
from trademail.services.incoming import (
    Extracted,
    MailWorker,
    ReadMail,
    is_automatic,
    readable,
    uploads,
)
from trademail.services.members import Members
from trademail.services.quoting import display_name, trim_reply
from trademail.services.reserved import claims_staff
from trademail.services.sending import Sending
from trademail.store import CorrespondentRow, CorrespondentStore, MailboxStore

# What outside mail shows where it spelled an address it was sent from.
HIDDEN_ADDRESS = "[address hidden]"


@dataclass(frozen=True)
class Alias:
    """An alias mail came to, and its member's."""

    address: str
    member_id: str


@dataclass(frozen=True)
class _Outsider:
    """Someone outside TradeMail writing to aliases: their address, name and its digest."""

    address: str
    name: str
    index: bytes


class OutsideMail:
    def __init__(self, correspondent_store: CorrespondentStore, mailbox_store: MailboxStore,
                 keyring: Keyring, members: Members, sending: Sending, conduct: Conduct,
                 clock: Clock, worker: MailWorker, *, relay_domain: str) -> None:
        self._correspondents_store = correspondent_store
        self._mailbox_store = mailbox_store
        self._keyring = keyring
        self._members = members
        self._sending = sending
        self._conduct = conduct
        self._clock = clock
        self._worker = worker
        self._domain = relay_domain.lower()

    async def receive(self, aliases: Sequence[Alias], mail_from: str, mail: ReadMail,
                      identity: bytes, *, spam: bool = False) -> list[str]:
        """What became of the mail for each alias (`spam`: into each one's Spam folder,
        nobody told). Everything is checked before the first
        write, so a refusal stores nothing; a retry after a failure part-way (the store
        going away) skips the members who already have it."""
        address = self._outsider_address(mail, mail_from)
        hidden = await self._hidden_addresses(mail, mail_from)
        text = await self._worker.scrub(readable(mail), hidden, HIDDEN_ADDRESS, cautious=False)
        body = trim_reply(text.body, self._domain) if mail.answers else text.body
        attachments = uploads(text.attachments)
        self._sending.check(text.subject, body, attachments)
        names = mail.addresses["from"]
        name = display_name(names[0][0] if names else "")
        if claims_staff(name, relay_domain=self._domain) or (name and (await self._worker.scrub(
                Extracted(name, "", ()), hidden, HIDDEN_ADDRESS, cautious=False)).subject != name):
            # "Someone outside TradeMail": nobody outside speaks for the staff, and a name
            # that spells a hidden address ("amina at example dot com") is no name to show.
            name = ""
        outsider = _Outsider(address, name,
                             self._keyring.blind_index("correspondent",
                                                       validation.email_lookup_form(address)))
        blocks = {a.member_id: await self._conduct.outsider_block(a.member_id, outsider.index)
                  for a in aliases}
        if all(mode == "refuse" for mode in blocks.values()):
            raise MailRefused("blocked")
        outcomes = []
        for alias in aliases:
            if blocks[alias.member_id] == "refuse":
                outcomes.append("refused")
                continue
            seen = (alias.member_id, self._keyring.incoming_mail_digest(
                alias.member_id, f"alias {alias.address}", identity))
            if await self._mailbox_store.inbound_mail_seen(*seen):
                outcomes.append("duplicate")
                continue
            await self._sending.receive_external(
                alias.member_id, await self._correspondent(alias, outsider),
                subject=text.subject, body=body, attachments=attachments,
                thread_of=mail.answers or None, quiet=is_automatic(mail, mail_from),
                filed=blocks[alias.member_id] == "file", outside_ref=mail.reply_ref or None,
                seen=seen, spam=spam)
            outcomes.append("spam" if spam else "external")
        return outcomes

    def _outsider_address(self, mail: ReadMail, mail_from: str) -> str:
        """The address an answer goes to: Reply-To, else From, else the envelope's."""
        senders = mail.addresses["reply-to"] or mail.addresses["from"]
        for candidate in [a for _, a in senders] + [mail_from]:
            local = candidate.strip().rpartition("@")[0]
            if local and not local.isascii():
                # Mail to a non-ASCII local part needs SMTPUTF8 all the way; an answer could
                # not be delivered reliably, so the conversation is not started.
                raise MailRefused("sender_not_ascii")
            if validation.lookup_form_or_none(candidate) is not None:
                return validation.email(candidate)
        raise MailRefused("no_sender")

    async def _hidden_addresses(self, mail: ReadMail, mail_from: str) -> list[str]:
        """Every address the mail says it comes from (envelope, From, Sender, Reply-To),
        and every address ever registered by a member one of them is or was."""
        named = [mail_from, *(a for field in ("from", "sender", "reply-to")
                              for _, a in mail.addresses.get(field, ()))]
        found = list(dict.fromkeys(
            form for a in named if (form := validation.lookup_form_or_none(a))))
        for member_id in await self._members.owners_of(found):
            found += await self._members.addresses(member_id)
        return list(dict.fromkeys(found))

    async def _correspondent(self, alias: Alias, outsider: _Outsider) -> CorrespondentRow:
        """The outside sender as the member to whose alias they wrote knows them."""
        now = self._clock.now()
        cid = new_id(now)
        return await self._correspondents_store.correspondent(CorrespondentRow(
            id=cid, member_id=alias.member_id, alias=alias.address,
            address_index=outsider.index,
            address_ct=self._keyring.seal_field(cid, "address", outsider.address),
            name_ct=self._keyring.seal_field(cid, "name", outsider.name), created_at=now))
