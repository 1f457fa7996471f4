"""Mailboxes: messages, each member's entries, attachments, the keyed word index, and what
makes a retry the same (idempotency keys, digests of incoming mail)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from trademail.errors import Conflict
from trademail.store.conduct import SendCount, check_send, send_rows
from trademail.store.db import Connection, Database, Row, in_list
from trademail.store.inserts import Insert, insert_all
from trademail.store.mailrows import (
    AttachmentRow,
    Claim,
    EntryRow,
    Idempotent,
    NewEntry,
    NewMessage,
)
from trademail.store.notifications import NewReplyToken, reply_token_rows
from trademail.store.outbox import NewOutboxRow, outbox_rows
from trademail.store.uploads import forget_chunks_of

_ENTRY_COLUMNS = ("e.member_id, e.message_id, e.thread_id, m.in_reply_to, e.folder, e.unread, "
                  "e.content_key, m.sender_id, m.recipient_ids, m.created_at, m.subject_ct, "
                  "m.snippet_ct, {body} AS body_ct, m.attachment_count")


def _entry(row: Row) -> EntryRow:
    return EntryRow(
        member_id=row["member_id"], message_id=row["message_id"], thread_id=row["thread_id"],
        in_reply_to=row["in_reply_to"], folder=row["folder"], unread=bool(row["unread"]),
        content_key=bytes(row["content_key"]), sender_id=row["sender_id"],
        recipient_ids=tuple(json.loads(row["recipient_ids"])), created_at=row["created_at"],
        subject_ct=bytes(row["subject_ct"]), snippet_ct=bytes(row["snippet_ct"]),
        body_ct=None if row["body_ct"] is None else bytes(row["body_ct"]),
        attachment_count=row["attachment_count"])

Tokens = bytes | Sequence[bytes]  # a word's keyed token, or any of several


@dataclass(frozen=True)
class NewDelivery:
    """Everything one new message writes, in one transaction."""

    message: NewMessage
    entries: tuple[NewEntry, ...]
    words: tuple[tuple[str, bytes], ...]  # (member id, keyed word token)
    outbox: tuple[NewOutboxRow, ...] = ()
    reply_tokens: tuple[NewReplyToken, ...] = ()
    count: SendCount | None = None  # counted against the sender's limits (LimitFull)
    # (member id, sealed Message-ID) of the outside mail this message came from
    outside_ref: tuple[str, bytes] | None = None
    claim: Claim | None = None  # the idempotency key claimed for it: still this message's?


async def _still_claimed(tx: Connection, claim: Claim) -> bool:
    """Whether the key is still this message's, its row locked until the message is in: a
    retry that took a stale claim over meanwhile makes this one give way."""
    rows = await tx.fetch(
        "UPDATE idempotency_keys SET thread_id = thread_id WHERE member_id = $1 AND key = $2 "
        "AND message_id = $3 RETURNING key", claim.member_id, claim.key, claim.message_id)
    return bool(rows)


def _delivery_rows(rows: NewDelivery, seen: tuple[str, bytes] | None) -> list[Insert]:
    message = rows.message
    text, ct = "text", "bytea"
    return [
        Insert("inbound_mail", (("member_id", text), ("digest", ct), ("created_at", "float8")),
               [(seen[0], seen[1], message.created_at)] if seen else []),
        Insert("messages", (("id", text), ("thread_id", text), ("in_reply_to", text),
                            ("sender_id", text), ("recipient_ids", text),
                            ("created_at", "float8"), ("subject_ct", ct), ("body_ct", ct),
                            ("snippet_ct", ct), ("attachment_count", "int4")),
               [(message.id, message.thread_id, message.in_reply_to, message.sender_id,
                 json.dumps(list(message.recipient_ids)), message.created_at,
                 message.subject_ct, message.body_ct, message.snippet_ct,
                 len(message.attachments))]),
        Insert("attachments", (("message_id", text), ("n", "int4"), ("size", "int4"),
                               ("meta_ct", ct), ("data_ct", ct), ("upload_id", text)),
               [(message.id, a.n, a.size, a.meta_ct, a.data_ct, a.upload_id)
                for a in message.attachments]),
        Insert("mailbox", (("member_id", text), ("message_id", text), ("thread_id", text),
                           ("folder", text), ("unread", "bool"), ("content_key", ct)),
               [(e.member_id, message.id, message.thread_id, e.folder, e.unread,
                 e.content_key) for e in rows.entries]),
        Insert("word_index", (("member_id", text), ("token", ct), ("message_id", text)),
               [(m, t, message.id) for m, t in rows.words], tail="ON CONFLICT DO NOTHING"),
        Insert("outside_refs", (("member_id", text), ("message_id", text),
                                ("thread_id", text), ("ref_ct", ct)),
               [(rows.outside_ref[0], message.id, message.thread_id, rows.outside_ref[1])]
               if rows.outside_ref else []),
        outbox_rows(rows.outbox),
        reply_token_rows(rows.reply_tokens),
        *(send_rows(rows.count) if rows.count else ()),
    ]


def _scope(member_id: str, folders: Sequence[str], unread_only: bool,
           word_tokens: Sequence[Tokens]) -> tuple[list[str], list[Any]]:
    """The conditions (on mailbox `e`) and arguments of a folder listing or a search: each
    word's token, or any of its tokens (a member whose key is being rotated has two)."""
    args: list[Any] = [member_id, *folders]
    where = [f"e.member_id = $1 AND e.folder IN ({in_list(2, len(folders))})"]
    if unread_only:
        where.append("e.unread")
    for token in word_tokens:
        either = (token,) if isinstance(token, bytes) else tuple(token)
        marks = in_list(len(args) + 1, len(either))
        args.extend(either)
        where.append(f"e.message_id IN (SELECT w.message_id FROM word_index w "
                     f"WHERE w.member_id = $1 AND w.token IN ({marks}))")
    return where, args


class MailboxStore:
    """Ciphertexts and keyed digests only; sealing happens in the services."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def deliver(self, rows: NewDelivery, *,
                      seen: tuple[str, bytes] | None = None) -> None:
        """Write a message, its mailbox entries, word index, outbound mail and the reply
        tokens its notifications carry in one transaction (the transactional outbox:
        committed together or not at all), counted against the sender's limits (or
        LimitFull, and nothing is written). With `seen` (member id, digest of an incoming
        mail), the digest is recorded too (a second writer of it fails: Duplicate)."""
        db = self.db
        writes = _delivery_rows(rows, seen)
        if db.dialect == "postgres" and rows.claim is None and not (
                rows.count and rows.count.limited):
            await insert_all(db, writes)  # one statement: atomic by itself
            return
        async with db.transaction() as tx:
            if rows.claim is not None and not await _still_claimed(tx, rows.claim):
                raise Conflict("a retry with this Idempotency-Key took the request over; "
                               "ask again to see the message it sent")
            if rows.count is not None:
                await check_send(tx, rows.count, lock=db.dialect == "postgres")
            await insert_all(tx, writes)

    async def claim_idempotency(self, claim: Claim, now: float, *,
                                stale_before: float) -> Idempotent | None:
        """Claim an idempotency key before the message is composed: None when it is now
        this message's; else what it was claimed for first. A claim older than
        `stale_before` whose message was never written (its request died) is taken over
        by a retry of the same request."""
        claimed = await self.db.fetch(
            "INSERT INTO idempotency_keys (member_id, key, fingerprint, message_id, "
            "thread_id, created_at) VALUES ($1, $2, $3, $4, $5, $6) "
            "ON CONFLICT DO NOTHING RETURNING key", claim.member_id, claim.key,
            claim.fingerprint, claim.message_id, claim.thread_id, now)
        if claimed:
            return None
        row = await self.db.fetchrow(
            "SELECT k.message_id, k.thread_id, k.fingerprint, k.created_at, "
            "EXISTS (SELECT 1 FROM messages m WHERE m.id = k.message_id) AS delivered "
            "FROM idempotency_keys k "
            "WHERE k.member_id = $1 AND k.key = $2", claim.member_id, claim.key)
        if row is None:  # forgotten between the two statements: claim it again
            return await self.claim_idempotency(claim, now, stale_before=stale_before)
        first = Idempotent(row["message_id"], row["thread_id"], bytes(row["fingerprint"]),
                           bool(row["delivered"]))
        if first.delivered or first.fingerprint != claim.fingerprint or \
                row["created_at"] >= stale_before:
            return first
        taken = await self.db.fetch(
            "UPDATE idempotency_keys SET message_id = $3, thread_id = $4, created_at = $5 "
            "WHERE member_id = $1 AND key = $2 AND message_id = $6 RETURNING key",
            claim.member_id, claim.key, claim.message_id, claim.thread_id, now,
            first.message_id)
        return None if taken else first

    async def release_idempotency(self, claim: Claim) -> None:
        """Give a key back when its message could not be written, for a retry to use."""
        await self.db.execute(
            "DELETE FROM idempotency_keys WHERE member_id = $1 AND key = $2 "
            "AND message_id = $3", claim.member_id, claim.key, claim.message_id)

    async def list_entries(self, member_id: str, *, folders: Sequence[str], unread_only: bool,
                           word_tokens: Sequence[Tokens], before: str | None,
                           limit: int) -> list[EntryRow]:
        """One page of a mailbox, newest first, by keyset on the time-ordered message id."""
        where, args = _scope(member_id, folders, unread_only, word_tokens)
        if before is not None:
            args.append(before)
            where.append(f"e.message_id < ${len(args)}")
        args.append(limit)
        rows = await self.db.fetch(
            f"SELECT {_ENTRY_COLUMNS.format(body='NULL')} FROM mailbox e "
            f"JOIN messages m ON m.id = e.message_id WHERE {' AND '.join(where)} "
            f"ORDER BY e.message_id DESC LIMIT ${len(args)}", *args)
        return [_entry(r) for r in rows]

    async def latest_in_threads(self, member_id: str, thread_ids: Sequence[str], *,
                                folders: Sequence[str], unread_only: bool,
                                word_tokens: Sequence[Tokens]) -> dict[str, str]:
        """The newest message id of each conversation among those `list_entries` would
        list with the same filters."""
        if not thread_ids:
            return {}
        where, args = _scope(member_id, folders, unread_only, word_tokens)
        where.append(f"e.thread_id IN ({in_list(len(args) + 1, len(thread_ids))})")
        rows = await self.db.fetch(
            f"SELECT e.thread_id, max(e.message_id) AS latest FROM mailbox e "
            f"WHERE {' AND '.join(where)} GROUP BY e.thread_id", *args, *thread_ids)
        return {r["thread_id"]: r["latest"] for r in rows}

    async def thread_stats(self, member_id: str, thread_ids: Sequence[str], *,
                           trash: bool) -> dict[str, tuple[int, int, bool]]:
        """(messages, unread, any attachment) of each of a member's conversations, over
        its messages outside the trash (or in it, with `trash`)."""
        if not thread_ids:
            return {}
        rows = await self.db.fetch(
            "SELECT e.thread_id, count(*) AS n, "
            "sum(CASE WHEN e.unread THEN 1 ELSE 0 END) AS unread, "
            "max(m.attachment_count) AS attached FROM mailbox e "
            "JOIN messages m ON m.id = e.message_id WHERE e.member_id = $1 AND "
            f"e.folder {'=' if trash else '<>'} 'trash' AND "
            f"e.thread_id IN ({in_list(2, len(thread_ids))}) GROUP BY e.thread_id",
            member_id, *thread_ids)
        return {r["thread_id"]: (int(r["n"]), int(r["unread"]), bool(r["attached"]))
                for r in rows}

    async def entry(self, member_id: str, message_id: str) -> EntryRow | None:
        row = await self.db.fetchrow(
            f"SELECT {_ENTRY_COLUMNS.format(body='m.body_ct')} FROM mailbox e "
            "JOIN messages m ON m.id = e.message_id "
            "WHERE e.member_id = $1 AND e.message_id = $2", member_id, message_id)
        return None if row is None else _entry(row)

    async def thread(self, member_id: str, thread_id: str) -> list[EntryRow]:
        rows = await self.db.fetch(
            f"SELECT {_ENTRY_COLUMNS.format(body='m.body_ct')} FROM mailbox e "
            "JOIN messages m ON m.id = e.message_id "
            "WHERE e.member_id = $1 AND e.thread_id = $2 AND e.folder <> 'trash' "
            "ORDER BY e.message_id", member_id, thread_id)
        return [_entry(r) for r in rows]

    async def update_entry(self, member_id: str, message_id: str, *, folder: str | None = None,
                           unread: bool | None = None) -> bool:
        async with self.db.transaction() as tx:
            rows = await tx.fetch(
                "UPDATE mailbox SET folder = COALESCE($3, folder), unread = COALESCE($4, unread) "
                "WHERE member_id = $1 AND message_id = $2 RETURNING message_id",
                member_id, message_id, folder, unread)
        return bool(rows)

    async def thread_entries(self, member_id: str,
                             thread_id: str) -> list[tuple[str, str, str, bool]]:
        """(message id, sender id, folder, unread) of every entry of a member's
        conversation, trash included, oldest first."""
        rows = await self.db.fetch(
            "SELECT e.message_id, m.sender_id, e.folder, e.unread FROM mailbox e "
            "JOIN messages m ON m.id = e.message_id WHERE e.member_id = $1 AND "
            "e.thread_id = $2 ORDER BY e.message_id", member_id, thread_id)
        return [(r["message_id"], r["sender_id"], r["folder"], bool(r["unread"])) for r in rows]

    async def file_entries(self, member_id: str,
                           changes: Sequence[tuple[str, str, bool]]) -> None:
        """Set (message id, folder, unread) of some of a member's entries, all at once."""
        if changes:
            async with self.db.transaction() as tx:
                await tx.executemany(
                    "UPDATE mailbox SET folder = $3, unread = $4 WHERE member_id = $1 AND "
                    "message_id = $2", [(member_id, *change) for change in changes])

    async def delete_entry(self, member_id: str, message_id: str) -> bool:
        """Remove a message from one mailbox; the message itself goes with its last entry."""
        async with self.db.transaction() as tx:
            gone = await tx.fetch("DELETE FROM mailbox WHERE member_id = $1 AND message_id = $2 "
                                  "RETURNING message_id", member_id, message_id)
            if not gone:
                return False
            await tx.execute("DELETE FROM word_index WHERE member_id = $1 AND message_id = $2",
                             member_id, message_id)
            if self.db.dialect == "postgres":  # two parties deleting at once see each other
                await tx.execute("SELECT id FROM messages WHERE id = $1 FOR UPDATE", message_id)
            if not await tx.fetchval("SELECT COUNT(*) FROM mailbox WHERE message_id = $1",
                                     message_id):
                await forget_chunks_of(tx, message_id)
                await tx.execute("DELETE FROM messages WHERE id = $1", message_id)
        return True

    async def attachment_lists(self, member_id: str,
                               message_ids: Sequence[str]) -> dict[str, list[AttachmentRow]]:
        """Attachment metadata of several messages in the member's mailbox, in one query."""
        if not message_ids:
            return {}
        rows = await self.db.fetch(
            "SELECT a.message_id, a.n, a.size, a.meta_ct FROM attachments a "
            "JOIN mailbox e ON e.message_id = a.message_id AND e.member_id = $1 "
            f"WHERE a.message_id IN ({in_list(2, len(message_ids))}) ORDER BY a.n",
            member_id, *message_ids)
        lists: dict[str, list[AttachmentRow]] = {}
        for r in rows:
            lists.setdefault(r["message_id"], []).append(
                AttachmentRow(r["n"], r["size"], bytes(r["meta_ct"]), None))
        return lists

    async def attachments(self, member_id: str, message_id: str, *,
                          n: int | None = None) -> list[AttachmentRow]:
        """Attachment metadata of a message in the member's mailbox; with `n`, that one's data."""
        data = "a.data_ct" if n is not None else "NULL"
        args: list[Any] = [member_id, message_id]
        only = ""
        if n is not None:
            args.append(n)
            only = "AND a.n = $3"
        rows = await self.db.fetch(
            f"SELECT a.n, a.size, a.meta_ct, {data} AS data_ct, a.upload_id FROM attachments a "
            "JOIN mailbox e ON e.message_id = a.message_id "
            f"WHERE e.member_id = $1 AND a.message_id = $2 {only} ORDER BY a.n", *args)
        return [AttachmentRow(r["n"], r["size"], bytes(r["meta_ct"]),
                              None if r["data_ct"] is None else bytes(r["data_ct"]),
                              r["upload_id"])
                for r in rows]

    async def entries_per_member(self) -> dict[str, int]:
        """How many messages each member's mailbox holds (for key status)."""
        rows = await self.db.fetch(
            "SELECT member_id, COUNT(*) AS n FROM mailbox GROUP BY member_id")
        return {r["member_id"]: int(r["n"]) for r in rows}

    async def has_mail(self, member_id: str) -> bool:
        """Whether the member has any message at all, in any folder."""
        return bool(await self.db.fetchval(
            "SELECT COUNT(*) FROM (SELECT 1 FROM mailbox WHERE member_id = $1 LIMIT 1) AS m",
            member_id))

    async def unread_count(self, member_id: str, cap: int = 1000) -> int:
        return int(await self.db.fetchval(
            "SELECT COUNT(*) FROM (SELECT 1 FROM mailbox WHERE member_id = $1 "
            "AND folder = 'inbox' AND unread LIMIT $2) AS u", member_id, cap))

    async def outside_refs(self, member_id: str, thread_id: str,
                           limit: int = 20) -> list[tuple[str, bytes]]:
        """(message id, sealed Message-ID) of the outside mail in a member's conversation,
        the latest `limit`, oldest first."""
        rows = await self.db.fetch(
            "SELECT message_id, ref_ct FROM outside_refs WHERE member_id = $1 AND "
            "thread_id = $2 ORDER BY message_id DESC LIMIT $3", member_id, thread_id, limit)
        return [(r["message_id"], bytes(r["ref_ct"])) for r in reversed(rows)]

    async def inbound_mail_seen(self, member_id: str, digest: bytes) -> bool:
        """Whether a mail with this keyed digest was already taken for the member."""
        return bool(await self.db.fetchval(
            "SELECT 1 FROM inbound_mail WHERE member_id = $1 AND digest = $2",
            member_id, digest))

    async def forget_idempotency_keys(self, older_than: float) -> None:
        await self.db.execute("DELETE FROM idempotency_keys WHERE created_at < $1", older_than)

    async def forget_inbound_mail(self, older_than: float) -> None:
        """Message-ID digests only need to outlive a sending server's retries."""
        await self.db.execute("DELETE FROM inbound_mail WHERE created_at < $1", older_than)
