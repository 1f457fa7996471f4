"""Queries of the SMTP gateway: reply tokens, correspondents, mail notices and webhooks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trademail.store.db import Database, Row, in_list


@dataclass(frozen=True)
class ReplyTokenRow:
    member_id: str
    thread_id: str
    token_ct: bytes
    revoked: bool


@dataclass(frozen=True)
class CorrespondentRow:
    """Someone outside TradeMail who wrote to a member's alias; the address stays sealed."""

    id: str
    member_id: str
    alias: str
    address_index: bytes
    address_ct: bytes
    name_ct: bytes
    created_at: float


@dataclass(frozen=True)
class NoticeRow:
    member_id: str
    id: str
    kind: str
    created_at: float
    outbox_id: str | None


@dataclass(frozen=True)
class WebhookRow:
    member_id: str
    id: str
    url_ct: bytes  # sealed: a URL may carry a credential in its path or query
    secret_ct: bytes
    created_at: float


_CORRESPONDENT = "id, member_id, alias, address_index, address_ct, name_ct, created_at"


def _correspondent(row: Row) -> CorrespondentRow:
    return CorrespondentRow(row["id"], row["member_id"], row["alias"], bytes(row["address_index"]),
                            bytes(row["address_ct"]), bytes(row["name_ct"]), row["created_at"])


class GatewayStore:
    db: Database

    # ------------------------------------------------------------------ reply tokens

    async def live_reply_token(self, member_id: str, thread_id: str) -> bytes | None:
        """The sealed live reply token of (member, thread), if one was made."""
        row = await self.db.fetchrow(
            "SELECT token_ct FROM reply_tokens WHERE member_id = $1 AND thread_id = $2 "
            "AND NOT revoked", member_id, thread_id)
        return None if row is None else bytes(row["token_ct"])

    async def add_reply_token(self, digest: bytes, member_id: str, thread_id: str,
                              token_ct: bytes, now: float) -> bytes:
        """Store a new live token unless another writer made one first; the live one's
        sealed token is returned either way."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO reply_tokens (digest, member_id, thread_id, token_ct, created_at) "
                "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                digest, member_id, thread_id, token_ct, now)
            row = await tx.fetchrow(
                "SELECT token_ct FROM reply_tokens WHERE member_id = $1 AND thread_id = $2 "
                "AND NOT revoked", member_id, thread_id)
        return bytes(row["token_ct"])

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

    # ------------------------------------------------------------------ correspondents

    async def correspondent(self, row: CorrespondentRow) -> CorrespondentRow:
        """The correspondent (member, alias, address) already known, or `row` stored anew."""
        async with self.db.transaction() as tx:
            await tx.execute(
                f"INSERT INTO correspondents ({_CORRESPONDENT}) VALUES ($1, $2, $3, $4, $5, $6, "
                "$7) ON CONFLICT DO NOTHING", row.id, row.member_id, row.alias, row.address_index,
                row.address_ct, row.name_ct, row.created_at)
            found = await tx.fetchrow(
                f"SELECT {_CORRESPONDENT} FROM correspondents WHERE member_id = $1 AND alias = $2 "
                "AND address_index = $3", row.member_id, row.alias, row.address_index)
        return _correspondent(found)

    async def correspondents_by_ids(self, ids: Sequence[str]) -> dict[str, CorrespondentRow]:
        if not ids:
            return {}
        rows = await self.db.fetch(
            f"SELECT {_CORRESPONDENT} FROM correspondents WHERE id IN ({in_list(1, len(ids))})",
            *ids)
        return {r["id"]: _correspondent(r) for r in rows}

    async def alias_owner(self, address: str) -> tuple[str, bool] | None:
        """(member id, enabled) of an alias address, or None."""
        row = await self.db.fetchrow(
            "SELECT member_id, enabled FROM aliases WHERE address = $1", address)
        return None if row is None else (row["member_id"], bool(row["enabled"]))

    async def set_alias_enabled(self, member_id: str, address: str,
                                enabled: bool) -> bool | None:
        """True when done; False when it would leave the member no enabled alias; None when
        the alias is not the member's. One change per member at a time (row lock)."""
        lock = " FOR UPDATE" if self.db.dialect == "postgres" else ""
        async with self.db.transaction() as tx:
            await tx.fetch(f"SELECT id FROM members WHERE id = $1{lock}", member_id)
            rows = await tx.fetch("SELECT address, enabled FROM aliases WHERE member_id = $1",
                                  member_id)
            if address not in {r["address"] for r in rows}:
                return None
            if not enabled and not any(r["enabled"] and r["address"] != address for r in rows):
                return False
            await tx.execute("UPDATE aliases SET enabled = $3 WHERE member_id = $1 "
                             "AND address = $2", member_id, address, enabled)
        return True

    async def add_alias(self, member_id: str, address: str, now: float, limit: int) -> bool:
        """Give the member another alias unless they hold `limit` already."""
        lock = " FOR UPDATE" if self.db.dialect == "postgres" else ""
        async with self.db.transaction() as tx:
            await tx.fetch(f"SELECT id FROM members WHERE id = $1{lock}", member_id)
            if await tx.fetchval("SELECT count(*) FROM aliases WHERE member_id = $1",
                                 member_id) >= limit:
                return False
            await tx.execute("INSERT INTO aliases (address, member_id, enabled, created_at) "
                             "VALUES ($1, $2, TRUE, $3)", address, member_id, now)
        return True

    async def notifications_off(self, member_id: str) -> bool:
        async with self.db.transaction() as tx:
            rows = await tx.fetch("UPDATE members SET notify = 'off' WHERE id = $1 RETURNING id",
                                  member_id)
        return bool(rows)

    async def outbox_member(self, outbox_id: str) -> str | None:
        return await self.db.fetchval("SELECT member_id FROM outbox WHERE id = $1", outbox_id)

    # ------------------------------------------------------------------ incoming mail

    async def inbound_mail_seen(self, member_id: str, digest: bytes) -> bool:
        """Whether a mail with this keyed digest was already taken for the member."""
        return bool(await self.db.fetchval(
            "SELECT 1 FROM inbound_mail WHERE member_id = $1 AND digest = $2",
            member_id, digest))

    # ------------------------------------------------------------------ notices

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

    async def count_notices(self, member_id: str, kind: str, since: float) -> int:
        return int(await self.db.fetchval(
            "SELECT COUNT(*) FROM mail_notices WHERE member_id = $1 AND kind = $2 "
            "AND created_at >= $3", member_id, kind, since))

    # ------------------------------------------------------------------ webhooks

    async def add_webhook(self, hook: WebhookRow, limit: int) -> bool:
        async with self.db.transaction() as tx:
            count = await tx.fetchval("SELECT COUNT(*) FROM webhooks WHERE member_id = $1",
                                      hook.member_id)
            if count >= limit:
                return False
            await tx.execute(
                "INSERT INTO webhooks (member_id, id, url_ct, secret_ct, created_at) "
                "VALUES ($1, $2, $3, $4, $5)", hook.member_id, hook.id, hook.url_ct,
                hook.secret_ct, hook.created_at)
        return True

    async def webhooks_of(self, member_ids: Sequence[str]) -> list[WebhookRow]:
        if not member_ids:
            return []
        rows = await self.db.fetch(
            "SELECT member_id, id, url_ct, secret_ct, created_at FROM webhooks "
            f"WHERE member_id IN ({in_list(1, len(member_ids))}) ORDER BY member_id, id",
            *member_ids)
        return [WebhookRow(r["member_id"], r["id"], bytes(r["url_ct"]), bytes(r["secret_ct"]),
                           r["created_at"]) for r in rows]

    async def delete_webhook(self, member_id: str, hook_id: str) -> bool:
        async with self.db.transaction() as tx:
            rows = await tx.fetch("DELETE FROM webhooks WHERE member_id = $1 AND id = $2 "
                                  "RETURNING id", member_id, hook_id)
        return bool(rows)
