"""Second factors: a member's authenticator apps and passkeys, their recovery codes (keyed
hashes), the one-time challenges of WebAuthn ceremonies, and sign-ins waiting for their
second factor. Every use that must happen once is a compare-and-set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trademail.store.db import Connection, Database, Row

TOTP = "totp"
PASSKEY = "passkey"


@dataclass(frozen=True)
class FactorRow:
    member_id: str
    id: str
    kind: str
    name: str
    secret_ct: bytes | None
    credential_id: bytes | None
    public_key: bytes | None
    counter: int
    created_at: float
    last_used_at: float | None = None


_FACTOR = ("member_id, id, kind, name, secret_ct, credential_id, public_key, counter, "
           "created_at, last_used_at")


def _blob(value: bytes | memoryview | None) -> bytes | None:
    return None if value is None else bytes(value)


def _factor(row: Row) -> FactorRow:
    return FactorRow(row["member_id"], row["id"], row["kind"], row["name"],
                     _blob(row["secret_ct"]), _blob(row["credential_id"]),
                     _blob(row["public_key"]), int(row["counter"]), row["created_at"],
                     row["last_used_at"])


async def forget_factors(tx: Connection, member_id: str) -> None:
    """Every factor, recovery code, challenge and waiting sign-in of a member."""
    for table in ("member_factors", "recovery_codes", "factor_challenges", "pending_signins"):
        await tx.execute(f"DELETE FROM {table} WHERE member_id = $1", member_id)


class FactorStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ the factors

    async def factors_of(self, member_id: str) -> list[FactorRow]:
        rows = await self.db.fetch(
            f"SELECT {_FACTOR} FROM member_factors WHERE member_id = $1 ORDER BY id",
            member_id)
        return [_factor(r) for r in rows]

    async def has_factors(self, member_id: str) -> bool:
        return await self.db.fetchval(
            "SELECT COUNT(*) FROM member_factors WHERE member_id = $1", member_id) > 0

    async def add_factor(self, row: FactorRow, recovery_digests: Sequence[bytes]) -> None:
        """Keep a new factor; with `recovery_digests` (the first factor), the member's
        recovery codes are replaced in the same transaction."""
        async with self.db.transaction() as tx:
            await tx.execute(
                f"INSERT INTO member_factors ({_FACTOR}) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                row.member_id, row.id, row.kind, row.name, row.secret_ct, row.credential_id,
                row.public_key, row.counter, row.created_at, row.last_used_at)
            if recovery_digests:
                await _replace_codes(tx, row.member_id, recovery_digests)

    async def remove_factor(self, member_id: str, factor_id: str) -> bool:
        """Forget one factor; with the last one go the recovery codes. False if none."""
        async with self.db.transaction() as tx:
            rows = await tx.fetch("DELETE FROM member_factors WHERE member_id = $1 AND id = $2 "
                                  "RETURNING id", member_id, factor_id)
            left = await tx.fetchval(
                "SELECT COUNT(*) FROM member_factors WHERE member_id = $1", member_id)
            if rows and not left:
                await tx.execute("DELETE FROM recovery_codes WHERE member_id = $1", member_id)
            if rows:  # a sign-in waiting for a factor starts again with what is left
                await tx.execute("DELETE FROM pending_signins WHERE member_id = $1", member_id)
        return bool(rows)

    async def passkey(self, credential_id: bytes) -> FactorRow | None:
        row = await self.db.fetchrow(
            f"SELECT {_FACTOR} FROM member_factors WHERE credential_id = $1", credential_id)
        return None if row is None else _factor(row)

    async def advance(self, member_id: str, factor_id: str, old: int, new: int,
                      now: float) -> bool:
        """Move a factor's counter (a TOTP step, a passkey's sign count) from `old` to `new`,
        once: a second use of the same code or answer finds it moved and gets False."""
        rows = await self.db.write(
            "UPDATE member_factors SET counter = $4, last_used_at = $5 "
            "WHERE member_id = $1 AND id = $2 AND counter = $3 RETURNING id",
            member_id, factor_id, old, new, now)
        return bool(rows)

    # ------------------------------------------------------------------ recovery codes

    async def replace_recovery_codes(self, member_id: str, digests: Sequence[bytes]) -> None:
        async with self.db.transaction() as tx:
            await _replace_codes(tx, member_id, digests)

    async def use_recovery_code(self, member_id: str, digest: bytes, now: float) -> bool:
        rows = await self.db.write(
            "UPDATE recovery_codes SET used_at = $3 WHERE member_id = $1 AND digest = $2 "
            "AND used_at IS NULL RETURNING digest", member_id, digest, now)
        return bool(rows)

    async def recovery_codes_left(self, member_id: str) -> int:
        return int(await self.db.fetchval(
            "SELECT COUNT(*) FROM recovery_codes WHERE member_id = $1 AND used_at IS NULL",
            member_id))

    # ------------------------------------------------------------------ challenges

    async def keep_challenge(self, digest: bytes, member_id: str, purpose: str,
                             challenge: bytes, expires_at: float, now: float) -> None:
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM factor_challenges WHERE expires_at < $1", now)
            await tx.execute(
                "INSERT INTO factor_challenges (digest, member_id, purpose, challenge, "
                "expires_at) VALUES ($1, $2, $3, $4, $5)",
                digest, member_id, purpose, challenge, expires_at)

    async def take_challenge(self, digest: bytes, member_id: str, purpose: str,
                             now: float) -> bytes | None:
        """The challenge, once: taking it deletes it. None when unknown, another member's,
        for another purpose, or expired."""
        rows = await self.db.write(
            "DELETE FROM factor_challenges WHERE digest = $1 AND member_id = $2 "
            "AND purpose = $3 AND expires_at >= $4 RETURNING challenge",
            digest, member_id, purpose, now)
        return bytes(rows[0]["challenge"]) if rows else None

    # ------------------------------------------------------------------ waiting sign-ins

    async def start_pending(self, digest: bytes, member_id: str, now: float) -> None:
        await self.db.execute(
            "INSERT INTO pending_signins (digest, member_id, created_at) VALUES ($1, $2, $3)",
            digest, member_id, now)

    async def pending(self, digest: bytes, since: float) -> str | None:
        """The member a waiting sign-in belongs to, if it started after `since`."""
        return await self.db.fetchval(
            "SELECT member_id FROM pending_signins WHERE digest = $1 AND created_at >= $2",
            digest, since)

    async def end_pending(self, digest: bytes, before: float) -> bool:
        """End a waiting sign-in (it succeeded, or was abandoned), and forget the ones that
        started before `before`. False when it was ended already."""
        async with self.db.transaction() as tx:
            rows = await tx.fetch("DELETE FROM pending_signins WHERE digest = $1 RETURNING "
                                  "member_id", digest)
            await tx.execute("DELETE FROM pending_signins WHERE created_at < $1", before)
        return bool(rows)


async def _replace_codes(tx: Connection, member_id: str, digests: Sequence[bytes]) -> None:
    await tx.execute("DELETE FROM recovery_codes WHERE member_id = $1", member_id)
    await tx.executemany(
        "INSERT INTO recovery_codes (member_id, digest, used_at) VALUES ($1, $2, NULL)",
        [(member_id, d) for d in digests])
