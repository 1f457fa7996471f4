"""People outside TradeMail who wrote to a member's alias; their address stays sealed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trademail.store.db import Database, Row, in_list


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


_CORRESPONDENT = "id, member_id, alias, address_index, address_ct, name_ct, created_at"


def _correspondent(row: Row) -> CorrespondentRow:
    return CorrespondentRow(row["id"], row["member_id"], row["alias"], bytes(row["address_index"]),
                            bytes(row["address_ct"]), bytes(row["name_ct"]), row["created_at"])


class CorrespondentStore:
    """Outside correspondents, one per (member, alias, address)."""

    def __init__(self, db: Database) -> None:
        self.db = db

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
