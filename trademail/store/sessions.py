"""Web sign-in sessions: found by a digest of their cookie token, which is never stored."""

from __future__ import annotations

from dataclasses import dataclass

from trademail.store.db import Connection, Database, Row


@dataclass(frozen=True)
class SessionRow:
    member_id: str
    id: str
    device: str
    created_at: float
    last_seen_at: float


@dataclass(frozen=True)
class ActiveSession(SessionRow):
    """A session found by its token, with what every signed-in page shows of its member."""

    username: str
    company: str
    tier: str = "free"


_SESSION = "s.member_id, s.id, s.device, s.created_at, s.last_seen_at"


def _session(row: Row) -> SessionRow:
    return SessionRow(row["member_id"], row["id"], row["device"], row["created_at"],
                      row["last_seen_at"])


async def end_sessions(tx: Connection, member_id: str, *, keep: str = "") -> None:
    """End every web session of the member's (but `keep`, by id), and every sign-in of
    theirs still waiting for its second factor: a new password, or a ban, ends those too."""
    await tx.execute("DELETE FROM web_sessions WHERE member_id = $1 AND id <> $2",
                     member_id, keep)
    await tx.execute("DELETE FROM pending_signins WHERE member_id = $1", member_id)


class SessionStore:
    """Sign-in sessions."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_session(self, session: SessionRow, digest: bytes,
                             replacing: bytes | None = None) -> None:
        """Store a new session; the one it replaces (the same browser's) ends with it."""
        async with self.db.transaction() as tx:
            if replacing is not None:
                await tx.execute("DELETE FROM web_sessions WHERE digest = $1", replacing)
            await tx.execute(
                "INSERT INTO web_sessions (member_id, id, digest, device, created_at, "
                "last_seen_at) VALUES ($1, $2, $3, $4, $5, $6)", session.member_id, session.id,
                digest, session.device, session.created_at, session.last_seen_at)

    async def session_by_digest(self, digest: bytes) -> ActiveSession | None:
        row = await self.db.fetchrow(
            f"SELECT {_SESSION}, m.username, m.company, m.tier FROM web_sessions s "
            "JOIN members m ON m.id = s.member_id WHERE s.digest = $1 "
            "AND m.status <> 'banned'", digest)  # a ban ends its sessions; never one more
        if row is None:
            return None
        return ActiveSession(row["member_id"], row["id"], row["device"], row["created_at"],
                             row["last_seen_at"], row["username"], row["company"], row["tier"])

    async def touch_session(self, member_id: str, session_id: str, now: float) -> None:
        await self.db.execute(
            "UPDATE web_sessions SET last_seen_at = $3 WHERE member_id = $1 AND id = $2 "
            "AND last_seen_at < $3", member_id, session_id, now)

    async def sessions_of(self, member_id: str) -> list[SessionRow]:
        rows = await self.db.fetch(
            f"SELECT {_SESSION} FROM web_sessions s WHERE s.member_id = $1 "
            "ORDER BY s.last_seen_at DESC, s.id", member_id)
        return [_session(r) for r in rows]

    async def delete_session(self, member_id: str, session_id: str) -> bool:
        async with self.db.transaction() as tx:
            gone = await tx.fetch("DELETE FROM web_sessions WHERE member_id = $1 AND id = $2 "
                                  "RETURNING id", member_id, session_id)
        return bool(gone)

    async def delete_session_by_digest(self, digest: bytes) -> None:
        await self.db.execute("DELETE FROM web_sessions WHERE digest = $1", digest)

    async def delete_sessions_except(self, member_id: str, keep_id: str) -> int:
        async with self.db.transaction() as tx:
            gone = await tx.fetch("DELETE FROM web_sessions WHERE member_id = $1 AND id <> $2 "
                                  "RETURNING id", member_id, keep_id)
        return len(gone)

    async def forget_sessions(self, idle_before: float, created_before: float, *,
                              member_id: str | None = None) -> None:
        """Drop sessions that have ended by time (of one member, or everyone's)."""
        if member_id is None:
            await self.db.execute("DELETE FROM web_sessions WHERE last_seen_at <= $1 "
                                  "OR created_at <= $2", idle_before, created_before)
            return
        await self.db.execute("DELETE FROM web_sessions WHERE member_id = $3 AND "
                              "(last_seen_at <= $1 OR created_at <= $2)",
                              idle_before, created_before, member_id)
