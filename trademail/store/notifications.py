"""What notifications need kept: reply tokens (sealed, found by digest) and the notices a
member sees about their mail."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trademail.store.db import Connection, Database, in_list
from trademail.store.inserts import Insert


@dataclass(frozen=True)
class ReplyTokenRow:
    member_id: str
    thread_id: str
    token_ct: bytes
    revoked: bool


@dataclass(frozen=True)
class NoticeRow:
    member_id: str
    id: str
    kind: str
    created_at: float
    outbox_id: str | None


@dataclass(frozen=True)
class NewReplyToken:
    """A reply token made for a notification, written with the message it is about."""

    digest: bytes
    member_id: str
    thread_id: str
    token_ct: bytes
    created_at: float


def reply_token_rows(tokens: Sequence[NewReplyToken]) -> Insert:
    return Insert("reply_tokens", (("digest", "bytea"), ("member_id", "text"),
                                   ("thread_id", "text"), ("token_ct", "bytea"),
                                   ("created_at", "float8")),
                  [(t.digest, t.member_id, t.thread_id, t.token_ct, t.created_at)
                   for t in tokens])


async def revoke_reply_tokens(tx: Connection, member_id: str) -> None:
    """Every reply address mailed to the member stops taking mail."""
    await tx.execute("UPDATE reply_tokens SET revoked = TRUE WHERE member_id = $1", member_id)

class NotificationStore:
    """Reply tokens and mail notices."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def live_reply_token(self, member_id: str, thread_id: str) -> bytes | None:
        """The newest sealed live reply token of (member, thread), if one was made."""
        row = await self.db.fetchrow(
            "SELECT token_ct FROM reply_tokens WHERE member_id = $1 AND thread_id = $2 "
            "AND NOT revoked ORDER BY created_at DESC LIMIT 1", member_id, thread_id)
        return None if row is None else bytes(row["token_ct"])

    async def reply_token(self, digest: bytes) -> ReplyTokenRow | None:
        row = await self.db.fetchrow(
            "SELECT member_id, thread_id, token_ct, revoked FROM reply_tokens WHERE digest = $1",
            digest)
        return None if row is None else ReplyTokenRow(
            row["member_id"], row["thread_id"], bytes(row["token_ct"]), bool(row["revoked"]))

    async def revoke_reply_tokens(self, member_id: str, thread_id: str | None) -> int:
        """Revoke the member's live reply tokens (of one thread, or all); how many."""
        where, args = "member_id = $1 AND NOT revoked", [member_id]
        if thread_id is not None:
            where, args = where + " AND thread_id = $2", [member_id, thread_id]
        async with self.db.transaction() as tx:
            rows = await tx.fetch(
                f"UPDATE reply_tokens SET revoked = TRUE WHERE {where} RETURNING digest", *args)
        return len(rows)

    async def add_notice(self, notice: NoticeRow) -> bool:
        """Record a notice; a second notice of one kind for one outbox row is ignored."""
        async with self.db.transaction() as tx:
            if notice.outbox_id is not None and await tx.fetchval(
                    "SELECT 1 FROM mail_notices WHERE member_id = $1 AND kind = $2 "
                    "AND outbox_id = $3", notice.member_id, notice.kind, notice.outbox_id):
                return False
            await tx.execute(
                "INSERT INTO mail_notices (member_id, id, kind, created_at, outbox_id) "
                "VALUES ($1, $2, $3, $4, $5)", notice.member_id, notice.id, notice.kind,
                notice.created_at, notice.outbox_id)
        return True

    async def notices(self, member_id: str, since: float, limit: int = 50) -> list[NoticeRow]:
        rows = await self.db.fetch(
            "SELECT member_id, id, kind, created_at, outbox_id FROM mail_notices "
            "WHERE member_id = $1 AND created_at >= $2 ORDER BY id DESC LIMIT $3",
            member_id, since, limit)
        return [NoticeRow(r["member_id"], r["id"], r["kind"], r["created_at"], r["outbox_id"])
                for r in rows]

    async def count_notices(self, member_id: str, kinds: Sequence[str],
                            since: float) -> dict[str, int]:
        """How many notices of each kind the member got since then, in one query."""
        rows = await self.db.fetch(
            f"SELECT kind, COUNT(*) AS n FROM mail_notices WHERE member_id = $1 AND kind IN "
            f"({in_list(3, len(kinds))}) AND created_at >= $2 GROUP BY kind",
            member_id, since, *kinds)
        return {kind: 0 for kind in kinds} | {r["kind"]: int(r["n"]) for r in rows}
