"""API tokens: found by the digest of their secret, never the secret itself."""

from __future__ import annotations

from dataclasses import dataclass

from trademail.store.db import Connection, Database, Row


@dataclass(frozen=True)
class TokenRow:
    member_id: str
    id: str
    name: str
    scopes: tuple[str, ...]
    created_at: float
    expires_at: float | None
    last_used_at: float | None


def _api_token(row: Row) -> TokenRow:
    return TokenRow(member_id=row["member_id"], id=row["id"], name=row["name"],
                    scopes=tuple(row["scopes"].split()), created_at=row["created_at"],
                    expires_at=row["expires_at"], last_used_at=row["last_used_at"])


async def revoke_api_tokens(tx: Connection, member_id: str) -> None:
    """Revoke every API token of the member's."""
    await tx.execute("DELETE FROM api_tokens WHERE member_id = $1", member_id)


class TokenStore:
    """A member's API tokens."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_token(self, token: TokenRow, digest: bytes) -> None:
        await self.db.execute(
            "INSERT INTO api_tokens (member_id, id, digest, name, scopes, created_at, expires_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)", token.member_id, token.id, digest, token.name,
            " ".join(token.scopes), token.created_at, token.expires_at)

    async def token_by_digest(self, digest: bytes) -> TokenRow | None:
        row = await self.db.fetchrow(
            "SELECT t.member_id, t.id, t.name, t.scopes, t.created_at, t.expires_at, "
            "t.last_used_at FROM api_tokens t JOIN members m ON m.id = t.member_id "
            "WHERE t.digest = $1 AND m.status <> 'banned'", digest)  # a ban revokes them
        return None if row is None else _api_token(row)

    async def tokens_of(self, member_id: str) -> list[TokenRow]:
        rows = await self.db.fetch(
            "SELECT member_id, id, name, scopes, created_at, expires_at, last_used_at "
            "FROM api_tokens WHERE member_id = $1 ORDER BY created_at DESC, id", member_id)
        return [_api_token(r) for r in rows]

    async def touch_token(self, member_id: str, token_id: str, now: float) -> None:
        await self.db.execute(
            "UPDATE api_tokens SET last_used_at = $3 WHERE member_id = $1 AND id = $2",
            member_id, token_id, now)

    async def delete_token(self, member_id: str, token_id: str) -> bool:
        async with self.db.transaction() as tx:
            gone = await tx.fetch("DELETE FROM api_tokens WHERE member_id = $1 AND id = $2 "
                                  "RETURNING id", member_id, token_id)
        return bool(gone)
