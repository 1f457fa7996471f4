"""Sending TradeMail: a member's draft, or mail from outside to a member's alias, sealed
under a key of its own and written with everything it causes in one transaction.

The path of one message, top to bottom: check the draft; find its conversation and its
recipients; claim its idempotency key (one seen before answers at once, before anything is
composed; one still being sent answers 409);
seal it (one content key, wrapped per party); index its words per party; compose the
notifications, the mail to outside correspondents and the webhooks; write it all at once;
wake the open inboxes and the relay.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace

from trademail.clock import Clock
from trademail.config import MessagesConfig
from trademail.crypto import ContentKey, Keyring, MemberKey, MessageCipher
from trademail.errors import Conflict, InvalidInput, NotFound, TooLarge, UnknownRecipients
from trademail.events import Events
from trademail.ids import is_id, new_id
from trademail.services import validation
from trademail.services.conduct import Conduct
from trademail.services.messages import Draft, Sent, Upload
from trademail.services.notifications import NewMail, Notifications, Outgoing
from trademail.services.standing import RESTRICTED, STAFF
from trademail.services.uploads import Uploads
from trademail.store import (
    Claim,
    CorrespondentRow,
    CorrespondentStore,
    EntryRow,
    Idempotent,
    LimitFull,
    MailboxStore,
    MemberRow,
    MemberStore,
    NewAttachment,
    NewDelivery,
    NewEntry,
    NewMessage,
)

SNIPPET_CHARS = 140
IDEMPOTENCY_KEY_MAX = 255
# How long a claimed idempotency key waits for its message before a retry of the same
# request may take it over (the first request died on the way).
CLAIM_LEASE = 60.0


@dataclass(frozen=True)
class _Route:
    """Where a message goes: the conversation it joins, its recipients, which of them are
    outside correspondents (they get it by mail), and the member rows of the rest."""

    parent: EntryRow | None
    recipient_ids: tuple[str, ...]
    outsiders: tuple[CorrespondentRow, ...]
    members: dict[str, MemberRow]  # the sender and the member recipients


def snippet(body: str) -> str:
    flat = " ".join(body.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[:SNIPPET_CHARS - 1] + "…"


class Sending:
    def __init__(self, mailbox_store: MailboxStore, member_store: MemberStore,
                 correspondent_store: CorrespondentStore, keyring: Keyring,
                 notifications: Notifications, conduct: Conduct, uploads: Uploads,
                 events: Events, clock: Clock, limits: MessagesConfig) -> None:
        self._mailbox_store = mailbox_store
        self._members_store = member_store
        self._correspondents_store = correspondent_store
        self._keyring = keyring
        self._notifications = notifications
        self._conduct = conduct
        self._uploads = uploads
        self._events = events
        self._clock = clock
        self._limits = limits

    async def send(self, sender_id: str, draft: Draft, *,
                   seen: tuple[str, bytes] | None = None) -> Sent:
        """Send a member's draft; with `seen` (member id, digest of an incoming mail), the
        mail it came from is recorded with it, so a retry of that mail is not sent twice.
        Files streamed in for a draft that is not sent (refused, or a replay) are
        discarded."""
        try:
            sent = await self._send(sender_id, draft, seen)
        except BaseException:
            await asyncio.shield(self._discard_streamed(draft))
            raise
        if sent.replayed:
            await self._discard_streamed(draft)  # the first request's files were sent
        return sent

    async def _send(self, sender_id: str, draft: Draft,
                    seen: tuple[str, bytes] | None) -> Sent:
        subject, body = self.check(draft.subject, draft.body, draft.attachments)
        key = self._idempotency_key(draft.idempotency_key)
        route = await self._route(sender_id, draft)
        keys = {mid: self._keyring.member_key(mid, m.member_key, m.previous_member_key)
                for mid, m in route.members.items()}
        message_id = new_id(self._clock.now())
        claim = None
        if key is not None:
            claim = Claim(sender_id, *self._fingerprint(keys[sender_id], key, route, subject,
                                                        body, draft.attachments),
                          message_id, route.parent.thread_id if route.parent else message_id)
            first = await self._mailbox_store.claim_idempotency(
                claim, self._clock.now(), stale_before=self._clock.now() - CLAIM_LEASE)
            if first is not None:
                return self._replay(first, claim)
        try:
            return await self._compose_and_deliver(sender_id, message_id, route, keys, draft,
                                                   (subject, body), seen, claim)
        except BaseException:
            if claim is not None:  # nothing was written: a retry may use the key
                await asyncio.shield(self._mailbox_store.release_idempotency(claim))
            raise

    async def _discard_streamed(self, draft: Draft) -> None:
        await self._uploads.discard_all(draft.attachments)

    async def _compose_and_deliver(self, sender_id: str, message_id: str, route: _Route,
                                   keys: dict[str, MemberKey], draft: Draft,
                                   text: tuple[str, str], seen: tuple[str, bytes] | None,
                                   claim: Claim | None) -> Sent:
        """Admit, seal, index and notify, then write it all at once and wake the readers."""
        (subject, body), sender = text, route.members[sender_id]
        others = {mid: m for mid, m in route.members.items() if mid != sender_id}
        admission = await self._conduct.admit(sender, others,
                                              answering=await self._answers(sender, route.parent))
        filed = admission.filed
        message, entries = self._sealed(sender_id, message_id, route, keys, subject, body,
                                        draft.attachments, filed=filed)
        words = validation.words(subject, body, *(a.filename for a in draft.attachments),
                                 *(f"{m.username} {m.company}" for m in route.members.values()))
        outgoing = await self._notifications.for_message(
            NewMail(message.id, message.thread_id, sender_id, sender.company, sender.country,
                    subject, body, await self._carried(draft, route),
                    staff_sender=sender.tier == STAFF,
                    outside_refs=await self._outside_refs(sender_id, route)),
            [m for mid, m in others.items() if mid not in filed],  # filed away: silently
            route.outsiders, sender_name=sender.company)
        try:
            await self._mailbox_store.deliver(
                NewDelivery(message, tuple(entries), _tokens(keys, words), outgoing.rows,
                            outgoing.reply_tokens, admission.count, claim=claim), seen=seen)
        except LimitFull as full:
            raise self._conduct.refusal(full) from None
        await self._wake([e.member_id for e in entries[1:] if e.member_id not in filed],
                         outgoing)
        return Sent(message.id, message.thread_id)

    async def receive_external(self, member_id: str, outsider: CorrespondentRow, *,
                               subject: str, body: str, attachments: Sequence[Upload] = (),
                               thread_of: str | None = None, quiet: bool = False,
                               filed: bool = False, outside_ref: str | None = None,
                               seen: tuple[str, bytes] | None = None,
                               spam: bool = False) -> Sent:
        """Mail from outside to a member's alias: into their inbox, marked external, with a
        notification (unless `quiet`: auto-replies are kept but nobody is mailed about them;
        or `filed`: a sender the member blocks this way, filed away silently; or `spam`: into
        the Spam folder, unread, nobody told). `thread_of`
        names a message of the member's this one answers, if it is known; `outside_ref`
        is the mail's Message-ID, kept sealed for the member's answers to name."""
        subject, body = self.check(subject, body, attachments)
        member = await self._members_store.member_by_id(member_id)
        if member is None:
            raise NotFound()
        parent = await self._mailbox_store.entry(member_id, thread_of) if thread_of else None
        if parent is not None and outsider.id not in (parent.sender_id, *parent.recipient_ids):
            parent = None
        route = _Route(parent, (member_id,), (), {member_id: member})
        keys = {member_id: self._keyring.member_key(member_id, member.member_key,
                                                    member.previous_member_key)}
        message, entries = self._sealed(outsider.id, new_id(self._clock.now()), route, keys,
                                        subject, body, attachments,
                                        filed=frozenset([member_id]) if filed else frozenset())
        if spam:
            entries = [replace(e, folder="spam") for e in entries]
            filed = True  # nobody is told, as for a filed mail
        name = self._keyring.open_field(outsider.id, "name", outsider.name_ct)
        words = validation.words(subject, body, name, *(a.filename for a in attachments))
        outgoing = await self._notifications.for_message(
            NewMail(message.id, message.thread_id, outsider.id,
                    name or "Someone outside TradeMail", "", subject, body,
                    tuple(attachments), external_sender=True, quiet=quiet),
            [] if filed else [member], [])  # filed away: nobody is told, not even a hook
        ref = (member_id, self._keyring.seal_field(member_id, f"outside ref {message.id}",
                                                   outside_ref)) if outside_ref else None
        await self._mailbox_store.deliver(
            NewDelivery(message, tuple(entries), _tokens(keys, words), outgoing.rows,
                        outgoing.reply_tokens, outside_ref=ref), seen=seen)
        await self._wake([] if filed else [member_id], outgoing)
        return Sent(message.id, message.thread_id)

    async def _carried(self, draft: Draft, route: _Route) -> tuple[Upload, ...]:
        """The attachments as the mail it causes carries them: whole, for a mail to someone
        outside TradeMail (their mail client needs the files); else by name only."""
        if not route.outsiders:
            return draft.attachments
        return tuple([Upload(a.filename, a.content_type, await self._uploads.read_all(
            a.streamed.upload_id, a.streamed.key)) if a.streamed is not None else a
            for a in draft.attachments])

    async def _outside_refs(self, sender_id: str, route: _Route) -> tuple[str, ...]:
        """The Message-IDs of the outside mail in the conversation an answer to an outside
        correspondent continues."""
        if not route.outsiders or route.parent is None:
            return ()
        refs = await self._mailbox_store.outside_refs(sender_id, route.parent.thread_id)
        return tuple(self._keyring.open_field(sender_id, f"outside ref {message_id}", sealed)
                     for message_id, sealed in refs)

    async def _answers(self, sender: MemberRow, parent: EntryRow | None) -> bool:
        """Whether the message answers a conversation someone else wrote in (what a
        Restricted member may still do; only asked of them)."""
        if parent is None:
            return False
        if sender.status != RESTRICTED:
            return True
        thread = await self._mailbox_store.thread(sender.id, parent.thread_id)
        return any(entry.sender_id != sender.id for entry in thread)

    def check(self, subject: str, body: str, attachments: Sequence[Upload]) -> tuple[str, str]:
        """The subject and body as they are kept, or InvalidInput / TooLarge: what a
        message must be, checked before anything is written."""
        limits = self._limits
        clean_subject = validation.line(subject, "subject", max_length=255, min_length=0)
        clean_body = validation.body(body, "body", max_bytes=limits.max_body_bytes)
        if len(attachments) > limits.max_attachments:
            raise InvalidInput.one("attachments", f"at most {limits.max_attachments} allowed")
        for n, upload in enumerate(attachments, start=1):
            if upload.size > limits.max_attachment_bytes:
                raise TooLarge.one(f"attachments[{n}]", "is larger than "
                                   f"{limits.max_attachment_bytes} bytes")
            validation.line(upload.filename, f"attachments[{n}].filename", max_length=255)
            validation.line(upload.content_type, f"attachments[{n}].content_type",
                            max_length=127)
        return clean_subject, clean_body

    @staticmethod
    def _idempotency_key(key: str | None) -> str | None:
        if key is not None and not (0 < len(key) <= IDEMPOTENCY_KEY_MAX and key.isprintable()):
            raise InvalidInput.one("Idempotency-Key", "must be 1 to 255 printable characters")
        return key

    async def _route(self, sender_id: str, draft: Draft) -> _Route:
        parent = None
        if draft.in_reply_to is not None:
            if not is_id(draft.in_reply_to):
                raise InvalidInput.one("in_reply_to", "must be a message id")
            parent = await self._mailbox_store.entry(sender_id, draft.in_reply_to)
            if parent is None:
                raise InvalidInput.one("in_reply_to", "no such message in your mailbox")
        recipient_ids = await self._recipients(sender_id, draft.to, parent,
                                               reply_all=draft.reply_all)
        if parent is not None and not set(recipient_ids) <= {parent.sender_id,
                                                             *parent.recipient_ids}:
            # Someone who never saw the earlier messages starts a thread of their own, so a
            # reply never shows them the id or the time of mail that is not theirs.
            parent = None
        # Answers in a conversation with someone outside go to them by mail, from the alias
        # they wrote to; they have no mailbox here.
        outsiders = {i: c for i, c in (await self._correspondents_store.correspondents_by_ids(
            recipient_ids)).items() if c.member_id == sender_id} if parent else {}
        member_ids = [r for r in recipient_ids if r not in outsiders]
        members = await self._members_store.members_by_ids([sender_id, *member_ids])
        if sender_id not in members or any(r not in members for r in member_ids):
            raise InvalidInput.one("to", "is a former member: they deleted their account, "
                                   "and nobody can write to them any more")
        ordered = {sender_id: members[sender_id], **{r: members[r] for r in member_ids}}
        return _Route(parent, tuple(recipient_ids), tuple(outsiders.values()), ordered)

    async def _recipients(self, sender_id: str, to: Sequence[str], parent: EntryRow | None,
                          *, reply_all: bool = False) -> list[str]:
        if not to and parent is not None:
            # A reply with no `to` answers the other side of the message replied to (or,
            # replying to all, everyone in it).
            ids = [parent.sender_id, *parent.recipient_ids] if reply_all else (
                [parent.sender_id] if parent.sender_id != sender_id
                else list(parent.recipient_ids))
            ids = [i for i in dict.fromkeys(ids) if i != sender_id]
            if not ids:
                raise InvalidInput.one("to", "name at least one recipient")
            return ids
        if not to:
            raise InvalidInput.one("to", "must be a list of usernames or aliases")
        if len(to) > self._limits.max_recipients:
            raise InvalidInput.one("to", f"at most {self._limits.max_recipients} recipients")
        names = [validation.plain_text(t, "to").strip().lower() for t in to]
        found = await self._members_store.resolve_recipients(names)
        unknown = [n for n in names if n not in found]
        if unknown:
            raise UnknownRecipients("to", unknown)
        ids = list(dict.fromkeys(found[n] for n in names))
        if sender_id in ids:
            raise InvalidInput.one("to", "you cannot send TradeMail to yourself")
        return ids

    @staticmethod
    def _fingerprint(key: MemberKey, idempotency_key: str, route: _Route, subject: str,
                     body: str, attachments: Sequence[Upload]) -> tuple[str, bytes]:
        """(the key, keyed: a client may put anything in it; a keyed digest of what it
        asks to send, to tell a retry from a different message under the same key)."""
        fingerprint = key.fingerprint(json.dumps(
            [sorted(route.recipient_ids), subject, body,
             route.parent.message_id if route.parent else None,
             [(a.filename, a.content_type, key.fingerprint(
                 a.streamed.digest() if a.streamed is not None else a.data).hex())
              for a in attachments]
             ]).encode())
        keyed = key.fingerprint(b"idempotency key\0" + idempotency_key.encode(
            "utf-8", "surrogatepass")).hex()
        return keyed, fingerprint

    @staticmethod
    def _replay(first: Idempotent, claim: Claim) -> Sent:
        if first.fingerprint != claim.fingerprint:
            raise Conflict("this Idempotency-Key was already used for a different message",
                           "Idempotency-Key")
        if not first.delivered:
            raise Conflict("a request with this Idempotency-Key is still being sent; "
                           "try again in a moment")
        return Sent(first.message_id, first.thread_id, replayed=True)

    def _sealed(self, sender_id: str, message_id: str, route: _Route,
                keys: dict[str, MemberKey], subject: str, body: str,
                attachments: Sequence[Upload], *,
                filed: frozenset[str]) -> tuple[NewMessage, list[NewEntry]]:
        """The message sealed under a new content key, and one mailbox entry per member
        party (the sender's first, when the sender is a member) with that key wrapped;
        the `filed` recipients' entries go to their archive, read."""
        now = self._clock.now()
        ck = ContentKey.generate()
        sealed = MessageCipher(ck, message_id).seal(
            subject=subject, body=body, snippet=snippet(body),
            attachments=[(a.filename, a.content_type, a.streamed or a.data)
                         for a in attachments])
        parent = route.parent
        message = NewMessage(
            id=message_id, thread_id=parent.thread_id if parent else message_id,
            in_reply_to=parent.message_id if parent else None, sender_id=sender_id,
            recipient_ids=route.recipient_ids, created_at=now, subject_ct=sealed.subject_ct,
            body_ct=sealed.body_ct, snippet_ct=sealed.snippet_ct,
            attachments=tuple(
                NewAttachment(a.n, a.size, a.meta_ct, a.data_ct,
                              upload.streamed.upload_id if upload.streamed else None)
                for a, upload in zip(sealed.attachments, attachments, strict=True)))
        entries = [NewEntry(mid, _folder(mid, sender_id, filed),
                            mid != sender_id and mid not in filed,
                            key.wrap_content_key(ck, message_id)) for mid, key in keys.items()]
        return message, entries

    async def _wake(self, recipients: Sequence[str], outgoing: Outgoing) -> None:
        """Tell open inboxes (in every server process) and the relay that mail is in."""
        for recipient in recipients:
            await self._events.publish("mailbox", recipient)
        if outgoing.rows:
            await self._events.publish("outbox", "")


def _folder(member_id: str, sender_id: str, filed: frozenset[str]) -> str:
    if member_id == sender_id:
        return "sent"
    return "archive" if member_id in filed else "inbox"


def _tokens(keys: dict[str, MemberKey], words: set[str]) -> tuple[tuple[str, bytes], ...]:
    """The keyed word index: each party's own tokens for the words of the message."""
    return tuple((mid, key.word_token(w)) for mid, key in keys.items() for w in words)
