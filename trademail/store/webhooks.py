"""Members' webhook endpoints; the URL and the secret stay sealed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trademail.store.caps import insert_capped
from trademail.store.db import Database, in_list


@dataclass(frozen=True)
class WebhookRow:
    member_id: str
    id: str
    url_ct: bytes  # sealed: a URL may carry a credential in its path or query
    secret_ct: bytes
    created_at: float


class WebhookStore:
    """Webhook endpoints, a few per member."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add_webhook(self, hook: WebhookRow, limit: int) -> bool:
        """Whether the webhook was added: not when the member has `limit` already."""
        return await insert_capped(
            self.db, "webhooks", hook.member_id, limit,
            "INSERT INTO webhooks (member_id, id, url_ct, secret_ct, created_at) "
            "VALUES ($1, $2, $3, $4, $5)", hook.member_id, hook.id, hook.url_ct,
            hook.secret_ct, hook.created_at)

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
