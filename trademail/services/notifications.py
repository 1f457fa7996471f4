"""Mail about TradeMail: who is told of a new message and how, reply and bounce addresses,
one-click unsubscribe, bounces and the notices a member sees about their mail."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import structlog

from trademail.clock import Clock
from trademail.crypto import Keyring, new_mail_token, token_digest
from trademail.errors import InvalidInput, NotFound, PermanentFailure
from trademail.ids import is_id, new_id
from trademail.services import bounces
from trademail.services.accountmail import AccountMail
from trademail.services.delivery import Letter, OutboundMail, Outbox
from trademail.services.messages import Upload
from trademail.services.notices import NOTICE_TEXT
from trademail.store import (
    CorrespondentRow,
    MemberRow,
    MemberStore,
    NewOutboxRow,
    NewReplyToken,
    NoticeRow,
    NotificationStore,
    OutboxRow,
    ReplyTokenRow,
)

log = structlog.get_logger(__name__)

HARD_BOUNCES_TO_PAUSE = 3
# A full or disabled mailbox (5.2.2, 5.2.1) may be a passing state: such bounces count
# towards a pause only once there are this many of them in the window.
MAILBOX_BOUNCES_TO_COUNT = 2
BOUNCE_WINDOW_SECONDS = 86400.0
# Automatic answers (out-of-office, auto-responders) from the member's mailbox to our
# notifications: this many in the window is a loop, and notifications pause.
AUTO_REPLIES_TO_PAUSE = 3
NOTICE_DAYS = 30
NOTIFY_CHOICES = ("off", "summary", "full")
PURPOSE_NOTIFY = "n"  # VERP purpose: a notification to a member's real address
PURPOSE_DIRECT = "o"  # VERP purpose: a member's answer to an outside correspondent


@dataclass(frozen=True)
class Outgoing:
    """What a new message sends: outbox rows, and the reply tokens its notifications carry."""

    rows: tuple[NewOutboxRow, ...]
    reply_tokens: tuple[NewReplyToken, ...]


@dataclass(frozen=True)
class NewMail:
    """What a notification is about: a message just written, and who wrote it."""

    message_id: str
    thread_id: str
    sender_id: str
    sender_company: str
    sender_country: str
    subject: str
    body: str
    attachments: tuple[Upload, ...] = ()
    external_sender: bool = False
    quiet: bool = False  # auto-submitted mail: stored, but nobody is mailed about it
    staff_sender: bool = False  # from TradeStaff: badged where no member can write it
    # The Message-IDs of the outside mail in the conversation, oldest first: an answer to
    # the outsider names them, so it threads in their mail client.
    outside_refs: tuple[str, ...] = ()


@dataclass(frozen=True)
class NotificationMail:
    """A notification to a member's own address, as the composer renders it."""

    to: str
    reply_to: str
    unsubscribe_url: str
    inbox_url: str
    sender_company: str
    sender_country: str
    external_sender: bool
    staff_sender: bool
    subject: str
    body: str | None  # None: a summary ("you have a message from …")
    attachment_names: tuple[str, ...]
    message_id: str
    thread_id: str
    # The message's own page (sign-in first if need be). Empty in letters queued before
    # it was added: they link to the inbox.
    message_url: str = ""


@dataclass(frozen=True)
class DirectMail:
    """A member's answer to an outside correspondent, sent from the member's alias."""

    from_alias: str
    from_name: str
    to: str
    subject: str
    body: str
    attachments: tuple[Upload, ...]
    message_id: str
    thread_id: str
    references: tuple[str, ...] = ()  # the outsider's Message-IDs it answers, oldest first


class Composer(Protocol):
    """Renders mail from scratch (the gateway's compose module)."""

    def notification(self, mail: NotificationMail, now: float) -> bytes: ...

    def direct(self, mail: DirectMail, now: float) -> bytes: ...


class WebhookRows(Protocol):
    async def for_event(self, member_ids: Sequence[str], event: dict[str, object]) -> list[
        NewOutboxRow]: ...


@dataclass(frozen=True)
class Notice:
    kind: str
    text: str
    created_at: float


@dataclass(frozen=True)
class NotificationStatus:
    """What the web inbox shows about a member's notification mail."""

    preference: str
    paused: bool
    hard_bounces_today: int
    notices: tuple[Notice, ...]


class Notifications:
    def __init__(self, member_store: MemberStore, notice_store: NotificationStore,
                 keyring: Keyring, outbox: Outbox, composer: Composer, clock: Clock, *,
                 relay_domain: str, public_url: str, webhooks: WebhookRows,
                 account_mail: AccountMail) -> None:
        self._members_store = member_store
        self._notices_store = notice_store
        self._account_mail = account_mail
        self._keyring = keyring
        self._outbox = outbox
        self._composer = composer
        self._clock = clock
        self._domain = relay_domain
        self._public_url = public_url.rstrip("/")
        self._webhooks = webhooks

    # ------------------------------------------------------------------ addresses

    async def _reply_address(self, member_id: str, thread_id: str,
                             made: list[NewReplyToken]) -> str:
        """`reply+<token>@relay`: of (thread, member), random, revocable. A new token is
        added to `made`, to be written with the message it is about."""
        sealed = await self._notices_store.live_reply_token(member_id, thread_id)
        if sealed is None:
            token = new_mail_token()
            sealed = self._keyring.seal_field(member_id, f"reply token {thread_id}", token)
            made.append(NewReplyToken(token_digest(token), member_id, thread_id, sealed,
                                      self._clock.now()))
        token = self._keyring.open_field(member_id, f"reply token {thread_id}", sealed)
        return f"reply+{token}@{self._domain}"

    async def resolve_reply_token(self, token: str) -> ReplyTokenRow | None:
        """The live (member, thread) a reply token belongs to, or None."""
        if not token.isalnum() or len(token) > 64:
            return None
        row = await self._notices_store.reply_token(token_digest(token.lower()))
        return None if row is None or row.revoked else row

    async def revoke_reply_addresses(self, member_id: str, thread_id: str | None = None) -> int:
        """Revoke a member's reply addresses (of one thread, or all); mail to them is refused.
        The next notification makes a new one."""
        return await self._notices_store.revoke_reply_tokens(member_id, thread_id)

    def bounce_address(self, purpose: str, outbox_id: str) -> str:
        """The VERP envelope sender: ties a bounce to its outbox row; signed against forgery."""
        local = f"{purpose}{outbox_id}"
        return f"bounce+{local}.{self._keyring.sign('verp', local)}@{self._domain}"

    def parse_bounce_local(self, local: str) -> tuple[str, str] | None:
        """(purpose, outbox id) of a genuine `bounce+…` local part, else None."""
        tag, _, signature = local.removeprefix("bounce+").partition(".")
        purpose, outbox_id = tag[:1], tag[1:]
        if purpose not in (PURPOSE_NOTIFY, PURPOSE_DIRECT) or not is_id(outbox_id.lower()):
            return None
        if not self._keyring.verify("verp", tag.lower(), signature):
            return None
        return purpose, outbox_id.lower()

    def unsubscribe_url(self, member_id: str) -> str:
        return (f"{self._public_url}/api/v1/unsubscribe/"
                f"{member_id}.{self._keyring.sign('unsubscribe', member_id)}")

    async def unsubscribe(self, token: str) -> None:
        """One-click unsubscribe (RFC 8058): notifications off, authenticated by the token."""
        member_id, _, signature = token.partition(".")
        if not is_id(member_id) or not self._keyring.verify("unsubscribe", member_id, signature):
            raise NotFound()
        if not await self._members_store.notifications_off(member_id):
            raise NotFound()
        log.info("notifications turned off by one-click unsubscribe")

    # ------------------------------------------------------------------ what to send

    async def for_message(self, mail: NewMail, recipients: Sequence[MemberRow],
                          externals: Sequence[CorrespondentRow],
                          sender_name: str = "") -> Outgoing:
        """What a new message causes, to be written in its own transaction: notifications to
        members (with the reply tokens they carry), the mail itself to outside
        correspondents, webhooks. Nothing is written here."""
        rows: list[NewOutboxRow] = []
        tokens: list[NewReplyToken] = []
        now = self._clock.now()
        for member in recipients:
            # Until an address is proven (a link mailed to it was followed), nothing but
            # the proof goes to it: it may be someone else's, typed in by anyone.
            if (mail.quiet or member.notify == "off" or not member.email_confirmed
                    or await self.paused(member)):
                continue
            outbox_id = new_id(now)
            address = self._keyring.open_field(member.id, "email", member.email_ct)
            notification = NotificationMail(
                to=address, reply_to=await self._reply_address(member.id, mail.thread_id,
                                                               tokens),
                unsubscribe_url=self.unsubscribe_url(member.id),
                inbox_url=f"{self._public_url}/", sender_company=mail.sender_company,
                sender_country=mail.sender_country, external_sender=mail.external_sender,
                staff_sender=mail.staff_sender, subject=mail.subject,
                body=mail.body if member.notify == "full" else None,
                attachment_names=tuple(a.filename for a in mail.attachments),
                message_id=mail.message_id, thread_id=mail.thread_id,
                message_url=f"{self._public_url}/messages/{mail.message_id}")
            rows.append(self._outbox.seal(Letter(
                self.bounce_address(PURPOSE_NOTIFY, outbox_id), (address,), "notification",
                dataclasses.asdict(notification), now), member.id, outbox_id))
        for outsider in externals:
            outbox_id = new_id(now)
            address = self._keyring.open_field(outsider.id, "address", outsider.address_ct)
            direct = DirectMail(from_alias=outsider.alias, from_name=sender_name, to=address,
                                subject=mail.subject, body=mail.body,
                                attachments=mail.attachments, message_id=mail.message_id,
                                thread_id=mail.thread_id, references=mail.outside_refs)
            rows.append(self._outbox.seal(
                OutboundMail(self.bounce_address(PURPOSE_DIRECT, outbox_id), (address,),
                             self._composer.direct(direct, now)),
                mail.sender_id, outbox_id))
        if recipients:
            rows += await self._webhooks.for_event(
                [m.id for m in recipients],
                {"type": "message.received", "message_id": mail.message_id,
                 "thread_id": mail.thread_id, "external": mail.external_sender})
        return Outgoing(tuple(rows), tuple(tokens))

    def render(self, letter: Letter) -> bytes:
        """The relay's renderer: a letter composed when it is delivered."""
        if letter.template != "notification":
            raise PermanentFailure(f"no template {letter.template!r} for letters")
        fields = cast(dict[str, Any], letter.fields)
        mail = NotificationMail(**fields | {"attachment_names": tuple(fields["attachment_names"])})
        return self._composer.notification(mail, letter.written_at)

    # ------------------------------------------------------------------ bounces and notices

    async def notice(self, member_id: str, kind: str, outbox_id: str | None = None) -> None:
        assert kind in NOTICE_TEXT
        now = self._clock.now()
        await self._notices_store.add_notice(NoticeRow(member_id, new_id(now), kind, now,
                                                       outbox_id))

    async def record_bounce(self, purpose: str, outbox_id: str, status: str) -> None:
        """A bounce (a DSN, or a refusal from the smarthost) for one outbox row, by the
        enhanced status code it carries (see `bounces`)."""
        member_id = await self._outbox.sender_of(outbox_id)
        if member_id is None:
            return
        kind = bounces.classify(status)
        if purpose == PURPOSE_DIRECT:
            if kind != bounces.DELAYED:
                await self.notice(member_id, "outbound_bounce", outbox_id)
            return
        notice = {bounces.ADDRESS: "hard_bounce", bounces.MAILBOX: "mailbox_bounce",
                  bounces.REFUSED: "refused_bounce", bounces.DELAYED: "soft_bounce"}[kind]
        await self.notice(member_id, notice, outbox_id)
        log.info("bounce recorded", kind=kind, status=status, outbox_id=outbox_id)

    async def record_auto_reply(self, purpose: str, outbox_id: str) -> None:
        """An automatic answer to a notification (sent back to its envelope sender)."""
        member_id = await self._outbox.sender_of(outbox_id)
        if member_id is not None and purpose == PURPOSE_NOTIFY:
            await self.notice(member_id, "auto_reply", outbox_id)

    async def on_permanent_failure(self, row: OutboxRow, status: str) -> None:
        """The relay's hook: a mail the smarthost refused for good is a bounce, classified
        by the enhanced status code of the refusal ("5.7.1" is not a bad address)."""
        if row.kind not in ("mail", "letter") or not status.startswith("5"):
            return
        try:
            delivery = self._outbox.open(row)
        except Exception:  # the payload may already be gone; nothing to tie it to
            return
        if isinstance(delivery, OutboundMail | Letter):
            local = delivery.envelope_from.rpartition("@")[0]
            parsed = self.parse_bounce_local(local)
            if parsed is not None:
                await self.record_bounce(parsed[0], row.id, status)

    async def _bounces(self, member: MemberRow) -> tuple[int, int]:
        """(address failures and counted mailbox failures, automatic answers) since the
        window opened or the address came into use, whichever is later: a new address
        starts afresh."""
        since = max(self._clock.now() - BOUNCE_WINDOW_SECONDS, member.address_since)
        counts = await self._notices_store.count_notices(
            member.id, ("hard_bounce", "mailbox_bounce", "auto_reply"), since)
        hard, mailbox = counts["hard_bounce"], counts["mailbox_bounce"]
        return hard + (mailbox if mailbox >= MAILBOX_BOUNCES_TO_COUNT else 0), \
            counts["auto_reply"]

    async def set_preference(self, member_id: str, choice: object) -> None:
        """How the member is told of new mail: off, a summary, or the whole message."""
        if choice not in NOTIFY_CHOICES:
            raise InvalidInput.one("notify", f"must be one of {', '.join(NOTIFY_CHOICES)}")
        await self._members_store.set_notify(member_id, str(choice))

    async def paused_for(self, member_id: str) -> bool:
        """Whether mail to the member's address is paused after repeated failures."""
        member = await self._members_store.member_by_id(member_id)
        return member is not None and await self.paused(member)

    async def paused(self, member: MemberRow) -> bool:
        """Notifications pause after repeated failures of the address, or repeated
        automatic answers from it (a loop), within a day."""
        failures, automatic = await self._bounces(member)
        return failures >= HARD_BOUNCES_TO_PAUSE or automatic >= AUTO_REPLIES_TO_PAUSE

    async def parts_removed(self, member_id: str, filenames: Sequence[str]) -> None:
        """Tell a member, in settings and by mail, that parts of their reply by mail were
        removed because they held the member's own address."""
        member = await self._members_store.member_by_id(member_id)
        if member is None or not filenames:
            return
        await self.notice(member_id, "parts_removed")
        if member.email_confirmed:
            address = self._keyring.open_field(member.id, "email", member.email_ct)
            await self._outbox.enqueue_rows([self._account_mail.parts_removed(
                member.id, member.username, address, filenames)])

    async def notification_status(self, member_id: str) -> NotificationStatus:
        member = await self._members_store.member_by_id(member_id)
        if member is None:
            raise NotFound()
        now = self._clock.now()
        hard, _ = await self._bounces(member)
        rows = await self._notices_store.notices(member_id, now - NOTICE_DAYS * 86400)
        return NotificationStatus(
            preference=member.notify, paused=await self.paused(member),
            hard_bounces_today=hard,
            notices=tuple(Notice(r.kind, NOTICE_TEXT.get(r.kind, r.kind), r.created_at)
                          for r in rows))


def event_body(event: dict[str, object], event_id: str, created_at: float) -> bytes:
    """A webhook's JSON body: ids only, never content or addresses."""
    return json.dumps({"id": event_id, "created_at": created_at, **event},
                      separators=(",", ":")).encode()
