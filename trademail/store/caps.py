"""Rows a member may hold only so many of (drafts, blocks, webhooks): counted and written
in one transaction, the member's row locked first on PostgreSQL (SQLite has one writer),
so requests made at once count each other and never pass the cap together."""

from __future__ import annotations

from typing import Any

from trademail.store.db import Database


async def insert_capped(db: Database, table: str, member_id: str, cap: int, insert: str,
                        *args: Any) -> bool:
    """Run `insert` unless the member holds `cap` rows of `table` already; whether it ran."""
    async with db.transaction() as tx:
        if db.dialect == "postgres":
            await tx.fetch("SELECT id FROM members WHERE id = $1 FOR UPDATE", member_id)
        held = await tx.fetchval(f"SELECT COUNT(*) FROM {table} WHERE member_id = $1",
                                 member_id)
        if held >= cap:
            return False
        await tx.execute(insert, *args)
    return True
