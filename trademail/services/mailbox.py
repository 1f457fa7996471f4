"""Mailboxes: send, list, read, file, search and delete TradeMail, sealed per message."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass

from trademail.clock import Clock
from trademail.config import MessagesConfig
from trademail.crypto import ContentKey, Keyring, MemberKey
from trademail.errors import Conflict, InvalidInput, NotFound, TooLarge, UnknownRecipients
from trademail.events import Events
from trademail.ids import is_id, new_id
from trademail.services import validation
from trademail.services.members import Members, Party
from trademail.services.notifications import NewMail, Notifications, Upload
from trademail.store import (
    CorrespondentRow,
    CorrespondentStore,
    EntryRow,
    MailboxStore,
    MemberRow,
    MemberStore,
    NewAttachment,
    NewEntry,
    NewMessage,
)

FOLDERS = ("inbox", "sent", "archive", "trash")
SNIPPET_CHARS = 140
IDEMPOTENCY_KEY_MAX = 255


@dataclass(frozen=True)
class AttachmentInfo:
    n: int
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class Summary:
    id: str
    thread_id: str
    in_reply_to: str | None
    folder: str
    unread: bool
    sender: Party
    recipients: tuple[Party, ...]
    subject: str
    snippet: str
    created_at: float
    attachment_count: int


@dataclass(frozen=True)
class Message(Summary):
    body: str
    attachments: tuple[AttachmentInfo, ...]


@dataclass(frozen=True)
class Page:
    items: tuple[Summary, ...]
    next_cursor: str | None


@dataclass(frozen=True)
class Sent:
    id: str
    thread_id: str
    replayed: bool = False


def encode_cursor(message_id: str) -> str:
    return base64.urlsafe_b64encode(bytes.fromhex(message_id)).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16 or len(cursor) != 22:
        raise InvalidInput.one("cursor", "is not a cursor this API handed out")
    return raw.hex()


class Mailbox:
    def __init__(self, mailbox_store: MailboxStore, member_store: MemberStore,
                 correspondent_store: CorrespondentStore, keyring: Keyring, members: Members,
                 clock: Clock, limits: MessagesConfig, events: Events, *,
                 notifications: Notifications) -> None:
        self._events = events
        self._notifications = notifications
        self._mailbox_store = mailbox_store
        self._members_store = member_store
        self._correspondents_store = correspondent_store
        self._keyring = keyring
        self._members = members
        self._clock = clock
        self._limits = limits

    # ------------------------------------------------------------------ sending

    async def send(self, sender_id: str, *, to: object, subject: object, body: object,
                   in_reply_to: object = None, attachments: Sequence[Upload] = (),
                   idempotency_key: str | None = None,
                   seen: tuple[str, bytes] | None = None) -> Sent:
        limits = self._limits
        clean_subject = validation.line(subject, "subject", max_length=255, min_length=0)
        clean_body = validation.body(body, "body", max_bytes=limits.max_body_bytes)
        self._check_attachments(attachments)
        if idempotency_key is not None and not (
                0 < len(idempotency_key) <= IDEMPOTENCY_KEY_MAX and idempotency_key.isprintable()):
            raise InvalidInput.one("Idempotency-Key", "must be 1 to 255 printable characters")

        parent = None
        if in_reply_to is not None:
            if not isinstance(in_reply_to, str) or not is_id(in_reply_to):
                raise InvalidInput.one("in_reply_to", "must be a message id")
            parent = await self._mailbox_store.entry(sender_id, in_reply_to)
            if parent is None:
                raise InvalidInput.one("in_reply_to", "no such message in your mailbox")
        recipient_ids = await self._recipients(sender_id, to, parent)
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
            raise UnknownRecipients("to", ["(deleted member)"])
        keys = {mid: self._keyring.member_key(mid, m.member_key) for mid, m in members.items()}
        now = self._clock.now()
        message_id = new_id(now)
        thread_id = parent.thread_id if parent else message_id
        ck = ContentKey.generate()
        message = self._sealed(ck, message_id, thread_id, parent, sender_id, recipient_ids, now,
                               clean_subject, clean_body, attachments)
        entries = [NewEntry(sender_id, "sent", False, keys[sender_id].wrap_content_key(
            ck, message_id))]
        entries += [NewEntry(rid, "inbox", True, keys[rid].wrap_content_key(ck, message_id))
                    for rid in member_ids]
        searchable = validation.words(
            clean_subject, clean_body, *(a.filename for a in attachments),
            *(f"{m.username} {m.company}" for m in members.values()))
        tokens = [(mid, key.word_token(w)) for mid, key in keys.items() for w in searchable]

        idempotency = None
        if idempotency_key is not None:
            fingerprint = keys[sender_id].fingerprint(json.dumps(
                [sorted(recipient_ids), clean_subject, clean_body, message.in_reply_to,
                 [(a.filename, a.content_type, keys[sender_id].fingerprint(a.data).hex())
                  for a in attachments]]).encode())
            # The key is kept keyed too: a client may put anything in it.
            key = keys[sender_id].fingerprint(b"idempotency key\0" + idempotency_key.encode(
                "utf-8", "surrogatepass")).hex()
            idempotency = (key, fingerprint)
        sender = members[sender_id]
        outbox = await self._notifications.for_message(
            NewMail(message_id, thread_id, sender_id, sender.company, sender.country,
                    clean_subject, clean_body, tuple(attachments)),
            [members[r] for r in member_ids], list(outsiders.values()),
            sender_name=sender.company)
        stored = await self._mailbox_store.deliver(message, entries, tokens, idempotency,
                                                   outbox=outbox, seen=seen)
        if stored.message_id != message_id:
            if idempotency is None or stored.fingerprint != idempotency[1]:
                raise Conflict("this Idempotency-Key was already used for a different message",
                               "Idempotency-Key")
            return Sent(stored.message_id, stored.thread_id, replayed=True)
        for recipient in member_ids:
            await self._events.publish("mailbox", recipient)
        if outbox:
            await self._events.publish("outbox", "")
        return Sent(message_id, thread_id)

    async def receive_external(self, member_id: str, outsider: CorrespondentRow, *,
                               subject: str, body: str, attachments: Sequence[Upload] = (),
                               thread_of: str | None = None, quiet: bool = False,
                               seen: tuple[str, bytes] | None = None) -> Sent:
        """Mail from outside to a member's alias: into their inbox, marked external, with a
        notification (unless `quiet`: auto-replies are kept but nobody is mailed about them).
        `thread_of` names a message of the member's this one answers, if it is known;
        `seen` (member id, digest) records the incoming mail with the message."""
        clean_subject, clean_body = self.check_incoming(subject=subject, body=body,
                                                        attachments=attachments)
        member, key = await self._member_key(member_id)
        parent = await self._mailbox_store.entry(member_id, thread_of) if thread_of else None
        if parent is not None and outsider.id not in (parent.sender_id, *parent.recipient_ids):
            parent = None
        now = self._clock.now()
        message_id = new_id(now)
        thread_id = parent.thread_id if parent else message_id
        ck = ContentKey.generate()
        message = self._sealed(ck, message_id, thread_id, parent, outsider.id, [member_id],
                               now, clean_subject, clean_body, attachments)
        entries = [NewEntry(member_id, "inbox", True, key.wrap_content_key(ck, message_id))]
        name = self._keyring.open_field(outsider.id, "name", outsider.name_ct)
        searchable = validation.words(clean_subject, clean_body, name,
                                      *(a.filename for a in attachments))
        tokens = [(member_id, key.word_token(w)) for w in searchable]
        outbox = await self._notifications.for_message(
            NewMail(message_id, thread_id, outsider.id, name or "Someone outside TradeMail",
                    "", clean_subject, clean_body, tuple(attachments),
                    external_sender=True, quiet=quiet), [member], [])
        await self._mailbox_store.deliver(message, entries, tokens, outbox=outbox, seen=seen)
        await self._events.publish("mailbox", member_id)
        if outbox:
            await self._events.publish("outbox", "")
        return Sent(message_id, thread_id)

    def check_incoming(self, *, subject: str, body: str,
                       attachments: Sequence[Upload]) -> tuple[str, str]:
        """The checks `receive_external` makes before it writes (clean subject and body),
        for a caller that must know a mail is acceptable before writing anything."""
        clean_subject = validation.line(subject, "subject", max_length=255, min_length=0)
        clean_body = validation.body(body, "body", max_bytes=self._limits.max_body_bytes)
        self._check_attachments(attachments)
        return clean_subject, clean_body

    def _sealed(self, ck: ContentKey, message_id: str, thread_id: str, parent: EntryRow | None,
                sender_id: str, recipient_ids: Sequence[str], now: float, subject: str,
                body: str, attachments: Sequence[Upload]) -> NewMessage:
        return NewMessage(
            id=message_id, thread_id=thread_id, in_reply_to=parent.message_id if parent else None,
            sender_id=sender_id, recipient_ids=tuple(recipient_ids), created_at=now,
            subject_ct=ck.seal(message_id, "subject", subject.encode()),
            body_ct=ck.seal(message_id, "body", body.encode()),
            snippet_ct=ck.seal(message_id, "snippet", _snippet(body).encode()),
            attachments=tuple(
                NewAttachment(
                    n=n, size=len(a.data),
                    meta_ct=ck.seal(message_id, f"attachment {n} meta", json.dumps(
                        {"filename": a.filename, "content_type": a.content_type}).encode()),
                    data_ct=ck.seal(message_id, f"attachment {n}", a.data))
                for n, a in enumerate(attachments, start=1)))

    def _check_attachments(self, attachments: Sequence[Upload]) -> None:
        limits = self._limits
        if len(attachments) > limits.max_attachments:
            raise InvalidInput.one("attachments", f"at most {limits.max_attachments} allowed")
        for n, upload in enumerate(attachments, start=1):
            if len(upload.data) > limits.max_attachment_bytes:
                raise TooLarge.one(f"attachments[{n}]", "is larger than "
                                   f"{limits.max_attachment_bytes} bytes")
            validation.line(upload.filename, f"attachments[{n}].filename", max_length=255)
            validation.line(upload.content_type, f"attachments[{n}].content_type",
                            max_length=127)

    async def _recipients(self, sender_id: str, to: object, parent: EntryRow | None) -> list[str]:
        if to is None and parent is not None:
            # A reply with no `to` answers the other side of the message replied to.
            ids = [parent.sender_id] if parent.sender_id != sender_id else list(
                parent.recipient_ids)
            ids = [i for i in dict.fromkeys(ids) if i != sender_id]
            if not ids:
                raise InvalidInput.one("to", "name at least one recipient")
            return ids
        if isinstance(to, str):
            to = [part for part in to.replace(";", ",").split(",") if part.strip()]
        if not isinstance(to, list) or not all(isinstance(t, str) for t in to) or not to:
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

    # ------------------------------------------------------------------ reading

    async def _member_key(self, member_id: str) -> tuple[MemberRow, MemberKey]:
        member = await self._members_store.member_by_id(member_id)
        if member is None:
            raise NotFound()
        return member, self._keyring.member_key(member_id, member.member_key)

    async def page(self, member_id: str, *, folder: str | None, unread_only: bool = False,
                   query: str | None = None, cursor: str | None = None,
                   limit: int | None = None) -> Page:
        """One page of a folder (or, when searching without a folder, of all but trash)."""
        if folder is not None and folder not in FOLDERS:
            raise InvalidInput.one("folder", f"must be one of {', '.join(FOLDERS)}")
        limit = self._limits.page_size if limit is None else limit
        if not 1 <= limit <= 200:
            raise InvalidInput.one("limit", "must be from 1 to 200")
        before = decode_cursor(cursor) if cursor else None
        _, key = await self._member_key(member_id)
        words = validation.words(query or "", limit=20)
        if query is not None and not words:
            raise InvalidInput.one("q", "must contain at least one word of two letters or more")
        folders = [folder] if folder else (["inbox", "sent", "archive"] if words else ["inbox"])
        rows = await self._mailbox_store.list_entries(
            member_id, folders=folders, unread_only=unread_only,
            word_tokens=[key.word_token(w) for w in sorted(words)], before=before,
            limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        items = await self._summaries(key, rows)
        return Page(tuple(items), encode_cursor(rows[-1].message_id) if more else None)

    async def _summaries(self, key: MemberKey, rows: Sequence[EntryRow],
                         full: bool = False) -> list[Message]:
        parties = await self._members.parties(
            [pid for r in rows for pid in (r.sender_id, *r.recipient_ids)])
        unknown = Party("", "(deleted member)", "", "", "")
        stored_lists = await self._mailbox_store.attachment_lists(
            key.member_id, [r.message_id for r in rows if r.attachment_count]) if full else {}
        out = []
        for row in rows:
            ck = key.unwrap_content_key(row.content_key, row.message_id)
            attachments: tuple[AttachmentInfo, ...] = ()
            if row.message_id in stored_lists:
                stored = stored_lists[row.message_id]
                attachments = tuple(
                    AttachmentInfo(a.n, size=a.size, **json.loads(
                        ck.open(row.message_id, f"attachment {a.n} meta", a.meta_ct)))
                    for a in stored)
            body = ck.open(row.message_id, "body", row.body_ct).decode() \
                if full and row.body_ct is not None else ""
            out.append(Message(
                id=row.message_id, thread_id=row.thread_id, in_reply_to=row.in_reply_to,
                folder=row.folder, unread=row.unread,
                sender=parties.get(row.sender_id, unknown),
                recipients=tuple(parties.get(r, unknown) for r in row.recipient_ids),
                subject=ck.open(row.message_id, "subject", row.subject_ct).decode(),
                snippet=ck.open(row.message_id, "snippet", row.snippet_ct).decode(),
                created_at=row.created_at, attachment_count=row.attachment_count,
                body=body, attachments=attachments))
        return out

    async def read(self, member_id: str, message_id: str, *, mark_read: bool = True) -> Message:
        """One whole message from the member's mailbox; reading it marks it read."""
        row = await self._entry(member_id, message_id)
        _, key = await self._member_key(member_id)
        (message,) = await self._summaries(key, [row], full=True)
        if mark_read and row.unread:
            await self._mailbox_store.update_entry(member_id, message_id, unread=False)
            message = dataclasses.replace(message, unread=False)
        return message

    async def conversation(self, member_id: str,
                           message_id: str) -> tuple[Message, list[Message]]:
        """One message, marked read, and its thread (outside the trash), each message
        decrypted once: what a page showing a message needs."""
        row = await self._entry(member_id, message_id)
        rows = [row] if row.folder == "trash" else await self._mailbox_store.thread(member_id,
                                                                            row.thread_id)
        _, key = await self._member_key(member_id)
        thread = await self._summaries(key, rows or [row], full=True)
        if row.unread:
            await self._mailbox_store.update_entry(member_id, message_id, unread=False)
            thread = [dataclasses.replace(m, unread=False) if m.id == message_id else m
                      for m in thread]
        return next(m for m in thread if m.id == message_id), thread

    async def thread(self, member_id: str, thread_id: str) -> list[Message]:
        if not is_id(thread_id):
            raise NotFound()
        rows = await self._mailbox_store.thread(member_id, thread_id)
        if not rows:
            raise NotFound()
        _, key = await self._member_key(member_id)
        return await self._summaries(key, rows, full=True)

    async def _entry(self, member_id: str, message_id: str) -> EntryRow:
        row = await self._mailbox_store.entry(member_id, message_id) if is_id(message_id) else None
        if row is None:
            raise NotFound()
        return row

    async def attachment(self, member_id: str, message_id: str, n: int) -> tuple[
            AttachmentInfo, bytes]:
        row = await self._entry(member_id, message_id)
        stored = await self._mailbox_store.attachments(member_id, message_id, n=n)
        if not stored or stored[0].data_ct is None:
            raise NotFound()
        _, key = await self._member_key(member_id)
        ck = key.unwrap_content_key(row.content_key, message_id)
        meta = json.loads(ck.open(message_id, f"attachment {n} meta", stored[0].meta_ct))
        data = ck.open(message_id, f"attachment {n}", stored[0].data_ct)
        return AttachmentInfo(n, size=stored[0].size, **meta), data

    # ------------------------------------------------------------------ filing

    async def file(self, member_id: str, message_id: str, *, folder: object = None,
                   unread: object = None) -> Message:
        row = await self._entry(member_id, message_id)
        if folder is not None:
            if folder not in FOLDERS:
                raise InvalidInput.one("folder", f"must be one of {', '.join(FOLDERS)}")
            own = row.sender_id == member_id
            if (folder == "sent" and not own) or (folder == "inbox" and own):
                raise InvalidInput.one("folder", f"this message cannot be filed in {folder}")
        if unread is not None and not isinstance(unread, bool):
            raise InvalidInput.one("unread", "must be true or false")
        await self._mailbox_store.update_entry(member_id, message_id, folder=folder,  # type: ignore[arg-type]
                                       unread=unread)
        return await self.read(member_id, message_id, mark_read=False)

    async def delete(self, member_id: str, message_id: str) -> None:
        """Remove a message from this member's mailbox only; the other parties keep theirs."""
        if not is_id(message_id) or not await self._mailbox_store.delete_entry(member_id,
                                                                                 message_id):
            raise NotFound()


def _snippet(body: str) -> str:
    flat = " ".join(body.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[:SNIPPET_CHARS - 1] + "…"
