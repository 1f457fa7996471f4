"""What a member keeps for writing: a signature and drafts, sealed; never sent by itself."""

from __future__ import annotations

from dataclasses import dataclass

from trademail.store.caps import insert_capped
from trademail.store.db import Database, Row


@dataclass(frozen=True)
class DraftRow:
    member_id: str
    id: str
    content_key: bytes  # wrapped under the member's key
    draft_ct: bytes
    updated_at: float


def _draft(row: Row) -> DraftRow:
    return DraftRow(row["member_id"], row["id"], bytes(row["content_key"]),
                    bytes(row["draft_ct"]), row["updated_at"])


class WritingStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def signature(self, member_id: str) -> bytes | None:
        value = await self.db.fetchval(
            "SELECT signature_ct FROM signatures WHERE member_id = $1", member_id)
        return None if value is None else bytes(value)

    async def set_signature(self, member_id: str, signature_ct: bytes | None,
                            now: float) -> None:
        """Keep the member's signature (sealed), or forget it (None)."""
        if signature_ct is None:
            await self.db.execute("DELETE FROM signatures WHERE member_id = $1", member_id)
            return
        await self.db.execute(
            "INSERT INTO signatures (member_id, signature_ct, updated_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (member_id) DO UPDATE SET signature_ct = excluded.signature_ct, "
            "updated_at = excluded.updated_at", member_id, signature_ct, now)

    async def save_draft(self, row: DraftRow) -> None:
        """A draft replaced (or written, had it gone meanwhile)."""
        await self.db.execute(
            "INSERT INTO drafts (member_id, id, content_key, draft_ct, updated_at) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (member_id, id) DO UPDATE SET "
            "content_key = excluded.content_key, draft_ct = excluded.draft_ct, "
            "updated_at = excluded.updated_at", row.member_id, row.id, row.content_key,
            row.draft_ct, row.updated_at)

    async def add_draft(self, row: DraftRow, limit: int) -> bool:
        """Whether the new draft was written: not when the member has `limit` already."""
        return await insert_capped(
            self.db, "drafts", row.member_id, limit,
            "INSERT INTO drafts (member_id, id, content_key, draft_ct, updated_at) "
            "VALUES ($1, $2, $3, $4, $5)", row.member_id, row.id, row.content_key,
            row.draft_ct, row.updated_at)

    async def drafts(self, member_id: str, limit: int) -> list[DraftRow]:
        """The member's drafts, the one worked on last first."""
        rows = await self.db.fetch(
            "SELECT member_id, id, content_key, draft_ct, updated_at FROM drafts "
            f"WHERE member_id = $1 ORDER BY updated_at DESC, id DESC LIMIT {int(limit)}",
            member_id)
        return [_draft(r) for r in rows]

    async def draft(self, member_id: str, draft_id: str) -> DraftRow | None:
        row = await self.db.fetchrow(
            "SELECT member_id, id, content_key, draft_ct, updated_at FROM drafts "
            "WHERE member_id = $1 AND id = $2", member_id, draft_id)
        return None if row is None else _draft(row)

    async def delete_draft(self, member_id: str, draft_id: str) -> bool:
        gone = await self.db.fetch("DELETE FROM drafts WHERE member_id = $1 AND id = $2 "
                                   "RETURNING id", member_id, draft_id)
        return bool(gone)
