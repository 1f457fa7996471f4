"""The keys the master key wraps: system keys, and member keys for a rotation to walk."""

from __future__ import annotations

from collections.abc import Sequence

from trademail.store.db import Database


class KeyStore:
    """Wrapped keys only; nothing here can open them."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def system_keys(self) -> dict[str, bytes]:
        rows = await self.db.fetch("SELECT name, wrapped FROM system_keys")
        return {r["name"]: bytes(r["wrapped"]) for r in rows}

    async def replace_system_keys(self, wrapped: dict[str, bytes]) -> None:
        await self.db.executemany("UPDATE system_keys SET wrapped = $2 WHERE name = $1",
                                  list(wrapped.items()))

    async def init_system_keys(self, wrapped: dict[str, bytes]) -> dict[str, bytes]:
        """Store new system keys unless another process already did; return what is stored."""
        await self.db.executemany(
            "INSERT INTO system_keys (name, wrapped) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            list(wrapped.items()))
        return await self.system_keys()

    async def member_count(self) -> int:
        return int(await self.db.fetchval("SELECT count(*) FROM members"))

    async def member_keys_after(self, after: str, limit: int) -> list[tuple[str, bytes]]:
        """Wrapped member keys in id order, for a rotation that walks them in batches."""
        rows = await self.db.fetch("SELECT id, member_key FROM members WHERE id > $1 "
                                   "ORDER BY id LIMIT $2", after, limit)
        return [(r["id"], bytes(r["member_key"])) for r in rows]

    async def set_member_keys(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if keys:
            await self.db.executemany("UPDATE members SET member_key = $2 WHERE id = $1", keys)
