"""The Store: every query TradeMail makes, written once for both backends.

Stores are handed `now`; they never read the clock. They hold ciphertexts and keyed
digests only: sealing and opening happens in the services, through `trademail.crypto`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from trademail.errors import Conflict, StoreError
from trademail.store.accounts import AccountStore, AccountTokenRow, insert_account_token
from trademail.store.db import Database, Duplicate, Row, in_list
from trademail.store.gateway import GatewayStore
from trademail.store.outbox import NewOutboxRow, OutboxRow, insert_outbox
from trademail.store.sessions import SessionStore


@dataclass(frozen=True)
class MemberRow:
    id: str
    username: str
    email_ct: bytes
    email_index: bytes
    company: str
    country: str
    password_hash: str
    member_key: bytes
    notify: str
    created_at: float
    email_confirmed: bool = False
    address_since: float = 0.0  # when the address in use became the member's


@dataclass(frozen=True)
class AliasRow:
    address: str
    member_id: str
    enabled: bool
    created_at: float


@dataclass(frozen=True)
class TokenRow:
    member_id: str
    id: str
    name: str
    scopes: tuple[str, ...]
    created_at: float
    expires_at: float | None
    last_used_at: float | None


@dataclass(frozen=True)
class NewAttachment:
    n: int
    size: int
    meta_ct: bytes
    data_ct: bytes


@dataclass(frozen=True)
class NewMessage:
    id: str
    thread_id: str
    in_reply_to: str | None
    sender_id: str
    recipient_ids: tuple[str, ...]
    created_at: float
    subject_ct: bytes
    body_ct: bytes
    snippet_ct: bytes
    attachments: tuple[NewAttachment, ...] = ()


@dataclass(frozen=True)
class NewEntry:
    member_id: str
    folder: str
    unread: bool
    content_key: bytes


@dataclass(frozen=True)
class EntryRow:
    """One message as it stands in one member's mailbox."""

    member_id: str
    message_id: str
    thread_id: str
    in_reply_to: str | None
    folder: str
    unread: bool
    content_key: bytes
    sender_id: str
    recipient_ids: tuple[str, ...]
    created_at: float
    subject_ct: bytes
    snippet_ct: bytes
    body_ct: bytes | None
    attachment_count: int


@dataclass(frozen=True)
class AttachmentRow:
    n: int
    size: int
    meta_ct: bytes
    data_ct: bytes | None


@dataclass(frozen=True)
class Idempotent:
    message_id: str
    thread_id: str
    fingerprint: bytes


_MEMBER_COLUMNS = ("id, username, email_ct, email_index, company, country, password_hash, "
                   "member_key, notify, created_at, email_confirmed, address_since")
_ENTRY_COLUMNS = ("e.member_id, e.message_id, e.thread_id, m.in_reply_to, e.folder, e.unread, "
                  "e.content_key, m.sender_id, m.recipient_ids, m.created_at, m.subject_ct, "
                  "m.snippet_ct, {body} AS body_ct, m.attachment_count")


def _member(row: Row | None) -> MemberRow | None:
    if row is None:
        return None
    values = {k: row[k] for k in MemberRow.__dataclass_fields__}
    return MemberRow(**values | {"email_confirmed": bool(values["email_confirmed"])})


def _entry(row: Row) -> EntryRow:
    return EntryRow(
        member_id=row["member_id"], message_id=row["message_id"], thread_id=row["thread_id"],
        in_reply_to=row["in_reply_to"], folder=row["folder"], unread=bool(row["unread"]),
        content_key=bytes(row["content_key"]), sender_id=row["sender_id"],
        recipient_ids=tuple(json.loads(row["recipient_ids"])), created_at=row["created_at"],
        subject_ct=bytes(row["subject_ct"]), snippet_ct=bytes(row["snippet_ct"]),
        body_ct=None if row["body_ct"] is None else bytes(row["body_ct"]),
        attachment_count=row["attachment_count"])


def _token(row: Row) -> TokenRow:
    return TokenRow(member_id=row["member_id"], id=row["id"], name=row["name"],
                    scopes=tuple(row["scopes"].split()), created_at=row["created_at"],
                    expires_at=row["expires_at"], last_used_at=row["last_used_at"])


class Store(SessionStore, GatewayStore, AccountStore):
    """Every query; accounts', the web's and the gateway's live in their own modules, mixed
    in here."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @property
    def dialect(self) -> str:
        return self.db.dialect

    async def ping(self) -> None:
        try:
            await self.db.fetchval("SELECT 1")
        except Exception as exc:
            raise StoreError(f"the database does not answer: {exc.__class__.__name__}") from None

    async def close(self) -> None:
        await self.db.close()

    # ------------------------------------------------------------------ system keys

    async def system_keys(self) -> dict[str, bytes]:
        rows = await self.db.fetch("SELECT name, wrapped FROM system_keys")
        return {r["name"]: bytes(r["wrapped"]) for r in rows}

    async def replace_system_keys(self, wrapped: dict[str, bytes]) -> None:
        await self.db.executemany("UPDATE system_keys SET wrapped = $2 WHERE name = $1",
                                  list(wrapped.items()))

    async def member_keys_after(self, after: str, limit: int) -> list[tuple[str, bytes]]:
        """Wrapped member keys in id order, for a rotation that walks them in batches."""
        rows = await self.db.fetch("SELECT id, member_key FROM members WHERE id > $1 "
                                   "ORDER BY id LIMIT $2", after, limit)
        return [(r["id"], bytes(r["member_key"])) for r in rows]

    async def set_member_keys(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if keys:
            await self.db.executemany("UPDATE members SET member_key = $2 WHERE id = $1", keys)

    async def init_system_keys(self, wrapped: dict[str, bytes]) -> dict[str, bytes]:
        """Store new system keys unless another process already did; return what is stored."""
        await self.db.executemany(
            "INSERT INTO system_keys (name, wrapped) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            list(wrapped.items()))
        return await self.system_keys()

    # ------------------------------------------------------------------ members

    async def create_member(self, member: MemberRow, alias: str, *,
                            token: AccountTokenRow | None = None,
                            outbox: Sequence[NewOutboxRow] = ()) -> None:
        """A new member with their first alias and the mail their sign-up causes (with its
        link's token), in one transaction. Only the username and the alias must be free:
        an address is unique among confirmed members only."""
        async with self.db.transaction() as tx:
            if await tx.fetchval("SELECT 1 FROM members WHERE username = $1", member.username):
                raise Conflict("this username is taken", "username")
            if await tx.fetchval("SELECT 1 FROM aliases WHERE address = $1", alias):
                raise Conflict("alias taken", "alias")
            try:
                await tx.execute(
                    f"INSERT INTO members ({_MEMBER_COLUMNS}) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                    member.id, member.username, member.email_ct, member.email_index,
                    member.company, member.country, member.password_hash, member.member_key,
                    member.notify, member.created_at, member.email_confirmed,
                    member.address_since)
                await tx.execute(
                    "INSERT INTO aliases (address, member_id, enabled, created_at) "
                    "VALUES ($1, $2, TRUE, $3)", alias, member.id, member.created_at)
            except Duplicate:
                raise Conflict("this username is taken", "username") from None
            if token is not None:
                await insert_account_token(tx, token)
            await insert_outbox(tx, outbox)

    async def member_by_id(self, member_id: str) -> MemberRow | None:
        return _member(await self.db.fetchrow(
            f"SELECT {_MEMBER_COLUMNS} FROM members WHERE id = $1", member_id))

    async def member_by_username(self, username: str) -> MemberRow | None:
        return _member(await self.db.fetchrow(
            f"SELECT {_MEMBER_COLUMNS} FROM members WHERE username = $1", username))

    async def confirmed_member_by_email(self, email_index: bytes) -> MemberRow | None:
        """The member whose confirmed address has this blind index, if any."""
        return _member(await self.db.fetchrow(
            f"SELECT {_MEMBER_COLUMNS} FROM members WHERE email_index = $1 "
            "AND email_confirmed", email_index))

    async def members_by_ids(self, ids: Sequence[str]) -> dict[str, MemberRow]:
        if not ids:
            return {}
        rows = await self.db.fetch(
            f"SELECT {_MEMBER_COLUMNS} FROM members WHERE id IN ({in_list(1, len(ids))})", *ids)
        return {r["id"]: m for r in rows if (m := _member(r))}

    async def set_password_hash(self, member_id: str, password_hash: str) -> None:
        await self.db.execute("UPDATE members SET password_hash = $2 WHERE id = $1",
                              member_id, password_hash)

    async def aliases_of(self, member_ids: Sequence[str]) -> list[AliasRow]:
        if not member_ids:
            return []
        rows = await self.db.fetch(
            "SELECT address, member_id, enabled, created_at FROM aliases "
            f"WHERE member_id IN ({in_list(1, len(member_ids))}) ORDER BY created_at, address",
            *member_ids)
        return [AliasRow(r["address"], r["member_id"], bool(r["enabled"]), r["created_at"])
                for r in rows]

    async def resolve_recipients(self, names: Sequence[str]) -> dict[str, str]:
        """Map each username or enabled alias in `names` to a member id; unknowns are left out."""
        if not names:
            return {}
        marks = in_list(1, len(names))
        rows = await self.db.fetch(
            f"SELECT username AS name, id FROM members WHERE username IN ({marks}) "
            f"UNION ALL SELECT address AS name, member_id AS id FROM aliases "
            f"WHERE enabled AND address IN ({marks})", *names)
        return {r["name"]: r["id"] for r in rows}

    # ------------------------------------------------------------------ sign-in throttling

    async def signin_failures(self, subjects: Sequence[str]) -> dict[str, tuple[int, float]]:
        rows = await self.db.fetch(
            "SELECT subject, failures, last_failure_at FROM signin_failures "
            f"WHERE subject IN ({in_list(1, len(subjects))})", *subjects)
        return {r["subject"]: (r["failures"], r["last_failure_at"]) for r in rows}

    async def reserve_signin_attempt(
            self, subjects: Sequence[str], now: float,
            decide: Callable[[dict[str, tuple[int, float]]], tuple[float, set[str]]]) -> float:
        """Count an attempt against every subject unless `decide` says to wait first.

        `decide` sees the (failures, last attempt) of each subject, all rows locked, and
        answers (seconds to wait, subjects to start over); the count and the decision
        happen in one transaction, so concurrent attempts see each other.
        """
        ordered = sorted(set(subjects))  # one lock order for every transaction
        lock = " FOR UPDATE" if self.dialect == "postgres" else ""
        async with self.db.transaction() as tx:
            await tx.executemany(
                "INSERT INTO signin_failures (subject, failures, last_failure_at) "
                "VALUES ($1, 0, 0) ON CONFLICT DO NOTHING", [(s,) for s in ordered])
            rows = await tx.fetch(
                "SELECT subject, failures, last_failure_at FROM signin_failures "
                f"WHERE subject IN ({in_list(1, len(ordered))}) ORDER BY subject{lock}", *ordered)
            wait, resets = decide({r["subject"]: (r["failures"], r["last_failure_at"])
                                   for r in rows})
            if wait > 0:
                return wait
            await tx.executemany(
                "UPDATE signin_failures SET failures = CASE WHEN subject = $3 THEN 1 "
                "ELSE failures + 1 END, last_failure_at = $2 WHERE subject = $1",
                [(s, now, s if s in resets else "") for s in ordered])
        return 0.0

    async def signin_succeeded(self, account: str, client: str) -> None:
        """Forget the account's failures; the client's reserved attempt was no failure."""
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM signin_failures WHERE subject = $1", account)
            await tx.execute(
                "UPDATE signin_failures SET failures = CASE WHEN failures > 0 "
                "THEN failures - 1 ELSE 0 END WHERE subject = $1", client)

    # ------------------------------------------------------------------ API tokens

    async def create_token(self, token: TokenRow, digest: bytes) -> None:
        await self.db.execute(
            "INSERT INTO api_tokens (member_id, id, digest, name, scopes, created_at, expires_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)", token.member_id, token.id, digest, token.name,
            " ".join(token.scopes), token.created_at, token.expires_at)

    async def token_by_digest(self, digest: bytes) -> TokenRow | None:
        row = await self.db.fetchrow(
            "SELECT member_id, id, name, scopes, created_at, expires_at, last_used_at "
            "FROM api_tokens WHERE digest = $1", digest)
        return None if row is None else _token(row)

    async def tokens_of(self, member_id: str) -> list[TokenRow]:
        rows = await self.db.fetch(
            "SELECT member_id, id, name, scopes, created_at, expires_at, last_used_at "
            "FROM api_tokens WHERE member_id = $1 ORDER BY created_at DESC, id", member_id)
        return [_token(r) for r in rows]

    async def touch_token(self, member_id: str, token_id: str, now: float) -> None:
        await self.db.execute(
            "UPDATE api_tokens SET last_used_at = $3 WHERE member_id = $1 AND id = $2",
            member_id, token_id, now)

    async def delete_token(self, member_id: str, token_id: str) -> bool:
        async with self.db.transaction() as tx:
            gone = await tx.fetch("DELETE FROM api_tokens WHERE member_id = $1 AND id = $2 "
                                  "RETURNING id", member_id, token_id)
        return bool(gone)

    # ------------------------------------------------------------------ messages

    async def deliver(self, message: NewMessage, entries: Sequence[NewEntry],
                      words: Sequence[tuple[str, bytes]],
                      idempotency: tuple[str, bytes] | None = None,
                      outbox: Sequence[NewOutboxRow] = (),
                      seen: tuple[str, bytes] | None = None) -> Idempotent:
        """Write a message, its mailbox entries, word index and outbound mail in one
        transaction (the transactional outbox: committed together or not at all).

        With an idempotency (key, fingerprint), a key seen before returns the first
        result and writes nothing. With `seen` (member id, digest of an incoming mail), the
        digest is recorded in the same transaction (a second writer of it fails: Duplicate).
        """
        async with self.db.transaction() as tx:
            if seen is not None:
                await tx.execute(
                    "INSERT INTO inbound_mail (member_id, digest, created_at) VALUES ($1, $2, $3)",
                    seen[0], seen[1], message.created_at)
            if idempotency is not None:
                key, fingerprint = idempotency
                claimed = await tx.fetch(
                    "INSERT INTO idempotency_keys (member_id, key, fingerprint, message_id, "
                    "thread_id, created_at) VALUES ($1, $2, $3, $4, $5, $6) "
                    "ON CONFLICT DO NOTHING RETURNING key", message.sender_id, key, fingerprint,
                    message.id, message.thread_id, message.created_at)
                if not claimed:
                    first = await tx.fetchrow(
                        "SELECT message_id, thread_id, fingerprint FROM idempotency_keys "
                        "WHERE member_id = $1 AND key = $2", message.sender_id, key)
                    return Idempotent(first["message_id"], first["thread_id"],
                                      bytes(first["fingerprint"]))
            await tx.execute(
                "INSERT INTO messages (id, thread_id, in_reply_to, sender_id, recipient_ids, "
                "created_at, subject_ct, body_ct, snippet_ct, attachment_count) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                message.id, message.thread_id, message.in_reply_to, message.sender_id,
                json.dumps(list(message.recipient_ids)), message.created_at, message.subject_ct,
                message.body_ct, message.snippet_ct, len(message.attachments))
            if message.attachments:
                await tx.executemany(
                    "INSERT INTO attachments (message_id, n, size, meta_ct, data_ct) "
                    "VALUES ($1, $2, $3, $4, $5)",
                    [(message.id, a.n, a.size, a.meta_ct, a.data_ct) for a in message.attachments])
            await tx.executemany(
                "INSERT INTO mailbox (member_id, message_id, thread_id, folder, unread, "
                "content_key) VALUES ($1, $2, $3, $4, $5, $6)",
                [(e.member_id, message.id, message.thread_id, e.folder, e.unread, e.content_key)
                 for e in entries])
            if words:
                await tx.executemany(
                    "INSERT INTO word_index (member_id, token, message_id) VALUES ($1, $2, $3) "
                    "ON CONFLICT DO NOTHING", [(m, t, message.id) for m, t in words])
            await insert_outbox(tx, outbox)
        return Idempotent(message.id, message.thread_id, idempotency[1] if idempotency else b"")

    async def list_entries(self, member_id: str, *, folders: Sequence[str], unread_only: bool,
                           word_tokens: Sequence[bytes], before: str | None,
                           limit: int) -> list[EntryRow]:
        """One page of a mailbox, newest first, by keyset on the time-ordered message id."""
        args: list[Any] = [member_id, *folders]
        where = [f"e.member_id = $1 AND e.folder IN ({in_list(2, len(folders))})"]
        if unread_only:
            where.append("e.unread")
        if before is not None:
            args.append(before)
            where.append(f"e.message_id < ${len(args)}")
        for token in word_tokens:
            args.append(token)
            where.append(f"e.message_id IN (SELECT w.message_id FROM word_index w "
                         f"WHERE w.member_id = $1 AND w.token = ${len(args)})")
        args.append(limit)
        rows = await self.db.fetch(
            f"SELECT {_ENTRY_COLUMNS.format(body='NULL')} FROM mailbox e "
            f"JOIN messages m ON m.id = e.message_id WHERE {' AND '.join(where)} "
            f"ORDER BY e.message_id DESC LIMIT ${len(args)}", *args)
        return [_entry(r) for r in rows]

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

    async def delete_entry(self, member_id: str, message_id: str) -> bool:
        """Remove a message from one mailbox; the message itself goes with its last entry."""
        async with self.db.transaction() as tx:
            gone = await tx.fetch("DELETE FROM mailbox WHERE member_id = $1 AND message_id = $2 "
                                  "RETURNING message_id", member_id, message_id)
            if not gone:
                return False
            await tx.execute("DELETE FROM word_index WHERE member_id = $1 AND message_id = $2",
                             member_id, message_id)
            await tx.execute("DELETE FROM messages WHERE id = $1 AND NOT EXISTS "
                             "(SELECT 1 FROM mailbox WHERE message_id = $1)", message_id)
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
            f"SELECT a.n, a.size, a.meta_ct, {data} AS data_ct FROM attachments a "
            "JOIN mailbox e ON e.message_id = a.message_id "
            f"WHERE e.member_id = $1 AND a.message_id = $2 {only} ORDER BY a.n", *args)
        return [AttachmentRow(r["n"], r["size"], bytes(r["meta_ct"]),
                              None if r["data_ct"] is None else bytes(r["data_ct"]))
                for r in rows]

    async def forget_idempotency_keys(self, older_than: float) -> None:
        await self.db.execute("DELETE FROM idempotency_keys WHERE created_at < $1", older_than)

    async def forget_inbound_mail(self, older_than: float) -> None:
        """Message-ID digests only need to outlive a sending server's retries."""
        await self.db.execute("DELETE FROM inbound_mail WHERE created_at < $1", older_than)

    async def forget_signin_failures(self, older_than: float) -> None:
        await self.db.execute("DELETE FROM signin_failures WHERE last_failure_at < $1",
                              older_than)

    # ------------------------------------------------------------------ outbox

    async def enqueue(self, rows: Sequence[NewOutboxRow]) -> None:
        async with self.db.transaction() as tx:
            await insert_outbox(tx, rows)

    async def claim_outbox(self, now: float, lease_seconds: float, limit: int) -> list[OutboxRow]:
        """Lease up to `limit` due rows to this worker; no other worker gets them meanwhile.

        On PostgreSQL, SKIP LOCKED lets many workers in many processes claim side by side;
        SQLite's single writer serialises the claims anyway.
        """
        lock = " FOR UPDATE SKIP LOCKED" if self.dialect == "postgres" else ""
        async with self.db.transaction() as tx:
            rows = await tx.fetch(
                "UPDATE outbox SET claimed_until = $2, attempts = attempts + 1 "
                "WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' "
                "AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until < $1) "
                f"ORDER BY next_attempt_at LIMIT $3{lock}) "
                "RETURNING id, kind, member_id, created_at, attempts, payload_ct",
                now, now + lease_seconds, limit)
        return [OutboxRow(r["id"], r["kind"], r["member_id"], r["created_at"], r["attempts"],
                          bytes(r["payload_ct"]), now + lease_seconds) for r in rows]

    # A worker that overran its lease has lost the row to another: its outcome is dropped.

    async def outbox_sent(self, row: OutboxRow) -> bool:
        return await self._outbox_outcome(
            "UPDATE outbox SET state = 'sent', payload_ct = NULL, claimed_until = NULL, "
            "last_error = NULL WHERE id = $1 AND claimed_until = $2 RETURNING id",
            row.id, row.lease)

    async def outbox_retry(self, row: OutboxRow, next_attempt_at: float, error: str) -> bool:
        return await self._outbox_outcome(
            "UPDATE outbox SET next_attempt_at = $3, claimed_until = NULL, last_error = $4 "
            "WHERE id = $1 AND claimed_until = $2 RETURNING id",
            row.id, row.lease, next_attempt_at, error)

    async def outbox_failed(self, row: OutboxRow, error: str) -> bool:
        return await self._outbox_outcome(
            "UPDATE outbox SET state = 'failed', payload_ct = NULL, claimed_until = NULL, "
            "last_error = $3 WHERE id = $1 AND claimed_until = $2 RETURNING id",
            row.id, row.lease, error)

    async def _outbox_outcome(self, sql: str, *args: Any) -> bool:
        async with self.db.transaction() as tx:
            return bool(await tx.fetch(sql, *args))

    async def forget_delivered(self, older_than: float) -> None:
        """Delivered and given-up rows hold no payload; keep their trace for a while only."""
        await self.db.execute("DELETE FROM outbox WHERE state <> 'pending' AND created_at < $1",
                              older_than)

    async def outbox_state(self, outbox_id: str) -> tuple[str, int, str | None] | None:
        row = await self.db.fetchrow(
            "SELECT state, attempts, last_error FROM outbox WHERE id = $1", outbox_id)
        return None if row is None else (row["state"], row["attempts"], row["last_error"])
