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
from email.message import EmailMessage
from email.utils import getaddresses

import authres
import structlog
from flufl.bounce import all_failures

from trademail.clock import Clock
from trademail.crypto import Keyring
from trademail.errors import InvalidInput, MailRefused, NotFound
from trademail.ids import new_id
from trademail.services import validation
from trademail.services.mailbox import Mailbox, Upload
from trademail.services.mailtext import check_headers, display_name, extract, header, scrub
from trademail.services.members import Members
from trademail.services.notifications import Notifications
from trademail.store import Store
from trademail.store.gateway import CorrespondentRow

log = structlog.get_logger(__name__)

MAX_HOPS = 30
_OUR_MESSAGE_ID = re.compile(r"<tm\.([0-9a-f]{32})\.[0-9a-f]+@([^>\s]+)>")


@dataclass(frozen=True)
class Destination:
    """What a recipient address of the relay domain is."""

    kind: str  # "reply", "alias" or "bounce"
    address: str
    member_id: str = ""
    thread_id: str = ""
    purpose: str = ""
    outbox_id: str = ""


def is_automatic(message: EmailMessage, mail_from: str) -> bool:
    """RFC 3834 and common practice: auto-replies, bounces, lists and the null sender."""
    auto = header(message, "Auto-Submitted").lower()
    return (not mail_from or bool(auto and auto != "no")
            or header(message, "Precedence").lower() in ("bulk", "junk", "list", "auto_reply")
            or bool(header(message, "X-Autoreply") or header(message, "X-Autorespond"))
            or message.get_content_type() == "multipart/report")


def _addresses(message: EmailMessage, name: str) -> list[tuple[str, str]]:
    try:
        values = [str(v) for v in message.get_all(name) or []]
    except (ValueError, LookupError, TypeError, IndexError, AttributeError):
        return []
    return [(n, a) for n, a in getaddresses(values) if a]


def _lookup_form(address: str) -> str | None:
    try:
        return validation.email_lookup_form(validation.email(address))
    except InvalidInput:
        return None


def dmarc_passed(message: EmailMessage, from_domain: str) -> bool:
    """The topmost Authentication-Results (added by our upstream) says DMARC passed for the
    From domain."""
    try:
        values = message.get_all("Authentication-Results") or []
        if not values:
            return False
        parsed = authres.AuthenticationResultsHeader.parse_value(str(values[0]))
    except Exception:  # authres raises its own tree and plain errors on garbage
        return False
    for result in parsed.results:
        if result.method == "dmarc":
            domain = next((p.value for p in result.properties
                           if p.type == "header" and p.name == "from"), "")
            return result.result == "pass" and str(domain).lower() == from_domain.lower()
    return False


class Inbound:
    def __init__(self, store: Store, keyring: Keyring, members: Members, mailbox: Mailbox,
                 notifications: Notifications, clock: Clock, *, relay_domain: str,
                 require_dmarc_pass: bool) -> None:
        self._store = store
        self._keyring = keyring
        self._members = members
        self._mailbox = mailbox
        self._notifications = notifications
        self._clock = clock
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
        owner = await self._store.alias_owner(address)
        if owner is None or not owner[1]:
            raise NotFound()
        return Destination("alias", address, owner[0])

    # ------------------------------------------------------------------ DATA

    async def receive(self, mail_from: str, recipients: Sequence[str], raw: bytes,
                      message: EmailMessage) -> list[str]:
        """Take one mail for its recipients; what became of it for each. Raises (and stores
        nothing more) when it must be refused."""
        check_headers(raw)
        if len(message.get_all("Received") or []) > MAX_HOPS:
            raise MailRefused("too many hops: a mail loop", "5.4.6")
        outcomes = []
        for address in recipients:
            where = await self.destination(address)
            if where.kind == "bounce":
                outcomes.append(await self._bounce(where, message))
            elif where.kind == "reply":
                outcomes.append(await self._reply(where, mail_from, message))
            else:
                outcomes.append(await self._external(where, mail_from, message))
        return outcomes

    async def _bounce(self, where: Destination, message: EmailMessage) -> str:
        try:
            temporary, permanent = all_failures(message)
        except Exception:  # a detector choking on hostile input is no reason to fail
            temporary, permanent = frozenset(), frozenset()
        is_report = message.get_content_type() == "multipart/report"
        if not (temporary or permanent or is_report):
            return "dropped"  # an auto-reply to the envelope sender, not a bounce
        await self._notifications.record_bounce(where.purpose, where.outbox_id,
                                                hard=bool(permanent))
        return "bounce"

    async def _reply(self, where: Destination, mail_from: str, message: EmailMessage) -> str:
        if is_automatic(message, mail_from):
            return "dropped"  # out-of-office and the like never reach the conversation
        member = await self._store.member_by_id(where.member_id)
        if member is None:
            raise NotFound()
        senders = _addresses(message, "From")
        envelope = _lookup_form(mail_from)
        header_from = _lookup_form(senders[0][1]) if len(senders) == 1 else None
        genuine = (envelope is not None and header_from is not None
                   and self._keyring.blind_index("email", envelope) == member.email_index
                   and self._keyring.blind_index("email", header_from) == member.email_index
                   and (not self._require_dmarc
                        or dmarc_passed(message, header_from.rpartition("@")[2])))
        if not genuine:
            await self._notifications.notice(member.id, "reply_refused")
            log.info("reply by mail refused: not from the owner's address")
            raise MailRefused("this reply address takes mail only from its owner's registered "
                              "address")
        thread = await self._store.thread(member.id, where.thread_id)
        if not thread:
            raise MailRefused("this conversation no longer exists", "5.1.1")
        own = self._keyring.open_field(member.id, "email", member.email_ct)
        try:
            text = extract(message, trim=True)
            alias = (await self._members.parties([member.id]))[member.id].alias
            others = [a for _, a in _addresses(message, "To") + _addresses(message, "Cc")
                      if a.lower().rpartition("@")[2] != self._domain
                      and _lookup_form(a) != header_from]
            if others:
                await self._notifications.notice(member.id, "cc_not_mailed")
            await self._mailbox.send(
                member.id, to=None, in_reply_to=thread[-1].message_id,
                subject=scrub(text.subject, [own], alias or "[address removed]"),
                body=scrub(text.body, [own], alias or "[address removed]"),
                attachments=[Upload(a.filename, a.content_type, a.data)
                             for a in text.attachments])
        except InvalidInput:
            await self._notifications.notice(member.id, "reply_failed")
            raise
        return "reply"

    async def _external(self, where: Destination, mail_from: str, message: EmailMessage) -> str:
        senders = _addresses(message, "Reply-To") or _addresses(message, "From")
        names = _addresses(message, "From")
        address = None
        for candidate in [a for _, a in senders] + [mail_from]:
            try:
                address = validation.email(candidate)
                break
            except InvalidInput:
                continue
        if address is None:
            raise MailRefused("the mail names no valid sender address", "5.1.7")
        name = display_name(names[0][0] if names else "")
        now = self._clock.now()
        cid = new_id(now)
        outsider = await self._store.correspondent(CorrespondentRow(
            id=cid, member_id=where.member_id, alias=where.address,
            address_index=self._keyring.blind_index(
                "correspondent", validation.email_lookup_form(address)),
            address_ct=self._keyring.seal_field(cid, "address", address),
            name_ct=self._keyring.seal_field(cid, "name", name), created_at=now))
        thread_of = None
        for ref in (header(message, "In-Reply-To") + " " + header(message, "References")).split():
            match = _OUR_MESSAGE_ID.fullmatch(ref)
            if match and match.group(2).lower() == self._domain:
                thread_of = match.group(1)
        text = extract(message, trim=thread_of is not None)
        await self._mailbox.receive_external(
            where.member_id, outsider, subject=text.subject, body=text.body,
            attachments=[Upload(a.filename, a.content_type, a.data) for a in text.attachments],
            thread_of=thread_of, quiet=is_automatic(message, mail_from))
        return "external"
