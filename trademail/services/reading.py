"""Reading a member's mailbox: pages of a folder, search, one message and its conversation,
attachments; filing, marking and deleting. Each message is opened with its content key,
unwrapped with the reader's own member key."""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from trademail.config import MessagesConfig
from trademail.crypto import Keyring, MemberKey, MessageCipher
from trademail.errors import InvalidInput, NotFound
from trademail.ids import is_id
from trademail.services import validation
from trademail.services.identities import Party, former_member
from trademail.services.members import Members
from trademail.services.uploads import Uploads
from trademail.store import EntryRow, MailboxStore, MemberStore

FOLDERS = ("inbox", "sent", "archive", "trash", "spam")
THREAD_ACTIONS = ("archive", "trash", "inbox", "read", "unread")
UNREAD_CAP = 1000  # an unread count past this shows as "1000+"


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
class Filed:
    """Where one entry of a conversation was, and whether it was unread, before it was
    filed with the rest: what an Undo puts back."""

    message_id: str
    folder: str
    unread: bool


@dataclass(frozen=True)
class Conversation:
    """A conversation as a list shows it: its newest message there, and the rest counted."""

    thread_id: str
    latest: Summary
    messages: int
    unread: int
    attachments: bool


@dataclass(frozen=True)
class ConversationPage:
    items: tuple[Conversation, ...]
    next_cursor: str | None


@dataclass(frozen=True)
class _Scope:
    key: MemberKey
    folders: list[str]
    tokens: list[tuple[bytes, ...]]
    limit: int


@dataclass(frozen=True)
class Page:
    items: tuple[Summary, ...]
    next_cursor: str | None


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


class Reading:
    def __init__(self, mailbox_store: MailboxStore, member_store: MemberStore, keyring: Keyring,
                 members: Members, uploads: Uploads, limits: MessagesConfig) -> None:
        self._mailbox_store = mailbox_store
        self._uploads = uploads
        self._members_store = member_store
        self._keyring = keyring
        self._members = members
        self._limits = limits

    async def _member_key(self, member_id: str) -> MemberKey:
        member = await self._members_store.member_by_id(member_id)
        if member is None:
            raise NotFound()
        return self._keyring.member_key(member_id, member.member_key,
                                        member.previous_member_key)

    async def page(self, member_id: str, *, folder: str | None, unread_only: bool = False,
                   query: str | None = None, cursor: str | None = None,
                   limit: int | None = None) -> Page:
        """One page of a folder (or, when searching without a folder, of all but trash)."""
        scope = await self._scope(member_id, folder, query, limit)
        before = decode_cursor(cursor) if cursor else None
        rows = await self._mailbox_store.list_entries(
            member_id, folders=scope.folders, unread_only=unread_only,
            word_tokens=scope.tokens, before=before, limit=scope.limit + 1)
        more = len(rows) > scope.limit
        rows = rows[:scope.limit]
        items = await self._summaries(scope.key, rows)
        return Page(tuple(items), encode_cursor(rows[-1].message_id) if more else None)

    async def conversations(self, member_id: str, *, folder: str | None,
                            query: str | None = None, cursor: str | None = None,
                            limit: int | None = None) -> ConversationPage:
        """One page of a folder (or a search) as conversations: each once, where its newest
        message there puts it, newest first, with how many messages it holds, how many are
        unread and whether any has attachments. Keyset on that newest message's id."""
        scope = await self._scope(member_id, folder, query, limit)
        before = decode_cursor(cursor) if cursor else None
        newest: dict[str, EntryRow] = {}
        scan_from = before
        while len(newest) <= scope.limit:
            batch = 4 * scope.limit
            rows = await self._mailbox_store.list_entries(
                member_id, folders=scope.folders, unread_only=False, word_tokens=scope.tokens,
                before=scan_from, limit=batch)
            first_seen = {r.thread_id: r for r in reversed(rows) if r.thread_id not in newest}
            found = [first_seen[t] for t in dict.fromkeys(r.thread_id for r in rows)
                     if t in first_seen]
            if before is not None and found:  # newer in scope: listed on an earlier page
                latest = await self._mailbox_store.latest_in_threads(
                    member_id, [r.thread_id for r in found], folders=scope.folders,
                    unread_only=False, word_tokens=scope.tokens)
                found = [r for r in found if latest.get(r.thread_id, "") < before]
            newest.update((r.thread_id, r) for r in found)
            if len(rows) < batch:
                break
            scan_from = rows[-1].message_id
        rows = list(newest.values())[:scope.limit]
        more = len(newest) > scope.limit
        summaries = await self._summaries(scope.key, rows)
        stats = await self._mailbox_store.thread_stats(member_id, [r.thread_id for r in rows],
                                                       trash=folder == "trash")
        return ConversationPage(tuple(
            Conversation(s.thread_id, s, *stats.get(s.thread_id, (1, int(s.unread), False)))
            for s in summaries), encode_cursor(rows[-1].message_id) if more else None)

    async def _scope(self, member_id: str, folder: str | None, query: str | None,
                     limit: int | None) -> _Scope:
        if folder is not None and folder not in FOLDERS:
            raise InvalidInput.one("folder", f"must be one of {', '.join(FOLDERS)}")
        limit = self._limits.page_size if limit is None else limit
        if not 1 <= limit <= 200:
            raise InvalidInput.one("limit", "must be from 1 to 200")
        key = await self._member_key(member_id)
        words = validation.words(query or "", limit=20)
        if query is not None and not words:
            raise InvalidInput.one("q", "must contain at least one word of two letters or more")
        folders = [folder] if folder else (["inbox", "sent", "archive"] if words else ["inbox"])
        return _Scope(key, folders, [key.word_tokens(w) for w in sorted(words)], limit)

    async def _summaries(self, key: MemberKey, rows: Sequence[EntryRow],
                         full: bool = False, *, owner_reads: bool = True) -> list[Message]:
        """The rows opened. `owner_reads`: the mailbox's member is the one reading (so an
        outsider who wrote to them shows with their address); not so for TradeStaff."""
        parties = await self._members.parties(
            [pid for r in rows for pid in (r.sender_id, *r.recipient_ids)],
            reader=key.member_id if owner_reads else None)
        stored_lists = await self._mailbox_store.attachment_lists(
            key.member_id, [r.message_id for r in rows if r.attachment_count]) if full else {}
        out = []
        for row in rows:
            cipher = MessageCipher(key.unwrap_content_key(row.content_key, row.message_id),
                                   row.message_id)
            attachments = tuple(AttachmentInfo(a.n, *cipher.attachment_meta(a.n, a.meta_ct),
                                               size=a.size)
                                for a in stored_lists.get(row.message_id, ()))
            body = cipher.body(row.body_ct) if full and row.body_ct is not None else ""
            out.append(Message(
                id=row.message_id, thread_id=row.thread_id, in_reply_to=row.in_reply_to,
                folder=row.folder, unread=row.unread,
                # Neither a member nor an outsider any more: they deleted their account.
                sender=parties.get(row.sender_id) or former_member(row.sender_id),
                recipients=tuple(parties.get(r) or former_member(r) for r in row.recipient_ids),
                subject=cipher.subject(row.subject_ct), snippet=cipher.snippet(row.snippet_ct),
                created_at=row.created_at, attachment_count=row.attachment_count,
                body=body, attachments=attachments))
        return out

    async def read(self, member_id: str, message_id: str, *, mark_read: bool = True) -> Message:
        """One whole message from the member's mailbox; reading it marks it read."""
        row = await self._entry(member_id, message_id)
        key = await self._member_key(member_id)
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
        key = await self._member_key(member_id)
        thread = await self._summaries(key, rows or [row], full=True)
        if row.unread:
            await self._mailbox_store.update_entry(member_id, message_id, unread=False)
            thread = [dataclasses.replace(m, unread=False) if m.id == message_id else m
                      for m in thread]
        return next(m for m in thread if m.id == message_id), thread

    async def thread(self, member_id: str, thread_id: str, *,
                     for_staff: bool = False) -> list[Message]:
        """A conversation of the member's; `for_staff` when TradeStaff reads it (a
        reported one), who never see an outsider's address."""
        if not is_id(thread_id):
            raise NotFound()
        rows = await self._mailbox_store.thread(member_id, thread_id)
        if not rows:
            raise NotFound()
        key = await self._member_key(member_id)
        return await self._summaries(key, rows, full=True, owner_reads=not for_staff)

    async def _entry(self, member_id: str, message_id: str) -> EntryRow:
        row = await self._mailbox_store.entry(member_id, message_id) if is_id(message_id) else None
        if row is None:
            raise NotFound()
        return row

    async def attachment(self, member_id: str, message_id: str, n: int) -> tuple[
            AttachmentInfo, bytes]:
        """One attachment whole (to forward it)."""
        info, chunks = await self.attachment_stream(member_id, message_id, n)
        return info, b"".join([chunk async for chunk in chunks])

    async def attachment_stream(self, member_id: str, message_id: str, n: int) -> tuple[
            AttachmentInfo, AsyncIterator[bytes]]:
        """One attachment, its bytes a chunk at a time when it was streamed in."""
        row = await self._entry(member_id, message_id)
        stored = await self._mailbox_store.attachments(member_id, message_id, n=n)
        if not stored or stored[0].data_ct is None:
            raise NotFound()
        found, sealed = stored[0], stored[0].data_ct
        key = await self._member_key(member_id)
        cipher = MessageCipher(key.unwrap_content_key(row.content_key, message_id), message_id)
        filename, content_type = cipher.attachment_meta(n, found.meta_ct)
        info = AttachmentInfo(n, filename, content_type, found.size)
        if found.upload_id is not None:
            return info, self._uploads.chunks(found.upload_id, cipher.stream_key(n, sealed))
        return info, _once(cipher.attachment(n, sealed))

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

    async def file_thread(self, member_id: str, thread_id: str,
                          action: object) -> tuple[Filed, ...]:
        """Archive, trash, move to the inbox (back from archive or trash), or mark read or
        unread a whole conversation of the member's. What it changed, as it was before, is
        handed back: `restore` undoes it exactly."""
        entries = await self._thread_entries(member_id, thread_id)
        if action not in THREAD_ACTIONS:
            raise InvalidInput.one("action", f"must be one of {', '.join(THREAD_ACTIONS)}")
        changes, latest_received = [], _latest_received(entries, member_id)
        for message_id, sender_id, folder, unread in entries:
            home = "sent" if sender_id == member_id else "inbox"
            new_folder, new_unread = folder, unread
            if action == "archive" and folder == "inbox":
                new_folder = "archive"
            elif action == "trash" and folder != "trash":
                new_folder = "trash"
            elif action == "inbox" and folder in ("archive", "trash"):
                new_folder = home
            elif action in ("read", "unread"):
                new_unread = action == "unread" and message_id == latest_received
            if (new_folder, new_unread) != (folder, unread):
                changes.append((message_id, new_folder, new_unread, Filed(message_id, folder,
                                                                          unread)))
        await self._mailbox_store.file_entries(member_id, [c[:3] for c in changes])
        return tuple(c[3] for c in changes)

    async def restore(self, member_id: str, thread_id: str, filed: Sequence[Filed]) -> None:
        """Put entries of a conversation back as they were (an Undo); only the member's own
        entries of that conversation, each in a folder it may be in."""
        entries = {e[0]: e for e in await self._thread_entries(member_id, thread_id)}
        changes = []
        for f in filed:
            entry = entries.get(f.message_id)
            own = entry is not None and entry[1] == member_id
            if entry is None or f.folder not in FOLDERS or f.folder == ("inbox" if own else
                                                                          "sent"):
                raise InvalidInput.one("restore", "names a message this conversation cannot "
                                                  "take back")
            changes.append((f.message_id, f.folder, f.unread))
        await self._mailbox_store.file_entries(member_id, changes)

    async def _thread_entries(self, member_id: str,
                              thread_id: str) -> list[tuple[str, str, str, bool]]:
        entries = await self._mailbox_store.thread_entries(member_id, thread_id) \
            if is_id(thread_id) else []
        if not entries:
            raise NotFound()
        return entries

    async def delete(self, member_id: str, message_id: str) -> None:
        """Remove a message from this member's mailbox only; the other parties keep theirs."""
        if not is_id(message_id) or not await self._mailbox_store.delete_entry(member_id,
                                                                                 message_id):
            raise NotFound()

    async def unread_count(self, member_id: str) -> int:
        return await self._mailbox_store.unread_count(member_id, UNREAD_CAP)

    async def is_new(self, member_id: str) -> bool:
        """Whether the member has never had a message, sent or received, in any folder."""
        return not await self._mailbox_store.has_mail(member_id)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _latest_received(entries: Sequence[tuple[str, str, str, bool]], member_id: str) -> str:
    """The newest message of the conversation the member did not write ("" if none)."""
    received = [e[0] for e in entries if e[1] != member_id]
    return received[-1] if received else ""
