"""DKIM keys: their selectors, public records, sealed private keys and where each stands
(pending, active, retiring, retired). Nothing here can open a private key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from trademail.store.db import Database

_COLUMNS = ("id, selector, algorithm, private_ct, public_key, state, created_at, "
            "activated_at, retiring_at")


@dataclass(frozen=True)
class DkimKeyRow:
    id: str
    selector: str
    algorithm: str  # "ed25519" or "rsa"
    private_ct: bytes  # sealed by the keyring
    public_key: str  # the record's p=
    state: str  # pending, active, retiring, retired
    created_at: float
    activated_at: float | None = None
    retiring_at: float | None = None


def _row(r: Any) -> DkimKeyRow:
    return DkimKeyRow(r["id"], r["selector"], r["algorithm"], bytes(r["private_ct"]),
                      r["public_key"], r["state"], r["created_at"], r["activated_at"],
                      r["retiring_at"])


class _Taken(Exception):
    """A selector already stored (another process made the same first pair)."""


class DkimStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def keys(self, states: Sequence[str] = ()) -> list[DkimKeyRow]:
        """The keys in `states` (every key when none is named), oldest first."""
        if states:
            rows = await self.db.fetch(
                f"SELECT {_COLUMNS} FROM dkim_keys WHERE state IN "
                f"({', '.join(f'${i + 1}' for i in range(len(states)))}) "
                "ORDER BY created_at, selector", *states)
        else:
            rows = await self.db.fetch(
                f"SELECT {_COLUMNS} FROM dkim_keys ORDER BY created_at, selector")
        return [_row(r) for r in rows]

    async def add(self, keys: Sequence[DkimKeyRow], *, only_if_none: bool = False) -> bool:
        """Store new keys in one transaction; with `only_if_none`, only into a table that
        holds no key yet (the first start: two processes starting at once make one pair,
        the selectors being the same). Whether they were stored."""
        try:
            async with self.db.transaction() as tx:
                if only_if_none and await tx.fetchval("SELECT count(*) FROM dkim_keys"):
                    return False
                for k in keys:
                    inserted = await tx.fetchval(
                        f"INSERT INTO dkim_keys ({_COLUMNS}) VALUES "
                        "($1, $2, $3, $4, $5, $6, $7, $8, $9) "
                        "ON CONFLICT (selector) DO NOTHING RETURNING id",
                        k.id, k.selector, k.algorithm, k.private_ct, k.public_key, k.state,
                        k.created_at, k.activated_at, k.retiring_at)
                    if inserted is None:
                        raise _Taken  # rolls the pair back: all or nothing
        except _Taken:
            return False
        return True

    async def activate(self, key_id: str, now: float) -> bool:
        """A pending key becomes active and the active keys of its algorithm start
        retiring, in one transaction; whether the key was still pending."""
        async with self.db.transaction() as tx:
            algorithm = await tx.fetchval(
                "UPDATE dkim_keys SET state = 'active', activated_at = $2 "
                "WHERE id = $1 AND state = 'pending' RETURNING algorithm", key_id, now)
            if algorithm is None:
                return False
            await tx.execute(
                "UPDATE dkim_keys SET state = 'retiring', retiring_at = $3 "
                "WHERE algorithm = $1 AND state = 'active' AND id <> $2",
                algorithm, key_id, now)
        return True

    async def retire(self, retiring_before: float) -> int:
        """Retiring keys that began retiring at or before `retiring_before` are retired;
        how many."""
        rows = await self.db.write(
            "UPDATE dkim_keys SET state = 'retired' "
            "WHERE state = 'retiring' AND retiring_at <= $1 RETURNING id", retiring_before)
        return len(rows)
