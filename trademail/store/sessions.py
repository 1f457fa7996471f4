"""Queries of the web inbox: sessions and account settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trademail.errors import Conflict
from trademail.store.accounts import PURPOSE_RESET, remember_address
from trademail.store.db import Database, Duplicate, Row
from trademail.store.outbox import NewOutboxRow, insert_outbox


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


@dataclass(frozen=True)
class EmailChangeRow:
    member_id: str
    email_ct: bytes
    email_index: bytes
    created_at: float
    expires_at: float


_SESSION = "s.member_id, s.id, s.device, s.created_at, s.last_seen_at"
_EMAIL_CHANGE = "member_id, email_ct, email_index, created_at, expires_at"


def _session(row: Row) -> SessionRow:
    return SessionRow(row["member_id"], row["id"], row["device"], row["created_at"],
                      row["last_seen_at"])


def _email_change(row: Row) -> EmailChangeRow:
    return EmailChangeRow(row["member_id"], bytes(row["email_ct"]), bytes(row["email_index"]),
                          row["created_at"], row["expires_at"])


class SessionStore:
    db: Database

    # ------------------------------------------------------------------ sessions

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
            f"SELECT {_SESSION}, m.username, m.company FROM web_sessions s "
            "JOIN members m ON m.id = s.member_id WHERE s.digest = $1", digest)
        if row is None:
            return None
        return ActiveSession(row["member_id"], row["id"], row["device"], row["created_at"],
                             row["last_seen_at"], row["username"], row["company"])

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

    # ------------------------------------------------------------------ account settings

    async def change_password(self, member_id: str, password_hash: str, keep_session: str) -> None:
        """A new password hash; every other session, every API token and every reset link
        of the member ends with the old one (a token may be what a thief took)."""
        async with self.db.transaction() as tx:
            await tx.execute("UPDATE members SET password_hash = $2 WHERE id = $1",
                             member_id, password_hash)
            await tx.execute("DELETE FROM web_sessions WHERE member_id = $1 AND id <> $2",
                             member_id, keep_session)
            await tx.execute("DELETE FROM api_tokens WHERE member_id = $1", member_id)
            await tx.execute("DELETE FROM account_tokens WHERE member_id = $1 AND purpose = $2",
                             member_id, PURPOSE_RESET)

    async def set_notify(self, member_id: str, notify: str) -> None:
        await self.db.execute("UPDATE members SET notify = $2 WHERE id = $1", member_id, notify)

    async def start_email_change(self, change: EmailChangeRow, digest: bytes,
                                 mail: Sequence[NewOutboxRow]) -> None:
        """Remember the pending address (replacing an earlier one) and queue its check mail."""
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM email_changes WHERE member_id = $1", change.member_id)
            await tx.execute(
                "INSERT INTO email_changes (member_id, digest, email_ct, email_index, "
                "created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)", change.member_id,
                digest, change.email_ct, change.email_index, change.created_at, change.expires_at)
            await insert_outbox(tx, mail)

    async def pending_email_change(self, member_id: str) -> EmailChangeRow | None:
        row = await self.db.fetchrow(
            f"SELECT {_EMAIL_CHANGE} FROM email_changes WHERE member_id = $1", member_id)
        return None if row is None else _email_change(row)

    async def email_change_by_digest(self, member_id: str,
                                     digest: bytes) -> EmailChangeRow | None:
        row = await self.db.fetchrow(
            f"SELECT {_EMAIL_CHANGE} FROM email_changes WHERE member_id = $1 AND digest = $2",
            member_id, digest)
        return None if row is None else _email_change(row)

    async def finish_email_change(self, member_id: str, email_ct: bytes, email_index: bytes,
                                  now: float, mail: Sequence[NewOutboxRow]) -> None:
        """The new address, proven by its link, replaces the old one (which is remembered);
        the pending row and every link mailed to the old address go; mail is queued."""
        async with self.db.transaction() as tx:
            try:
                await tx.execute("UPDATE members SET email_ct = $2, email_index = $3, "
                                 "email_confirmed = TRUE, address_since = $4 WHERE id = $1",
                                 member_id, email_ct, email_index, now)
            except Duplicate:
                raise Conflict("this address belongs to another account", "email") from None
            await remember_address(tx, member_id, now)
            await tx.execute("DELETE FROM email_changes WHERE member_id = $1", member_id)
            # Links mailed to the old address (a reset among them) must not outlive it.
            await tx.execute("DELETE FROM account_tokens WHERE member_id = $1", member_id)
            await insert_outbox(tx, mail)

    async def forget_email_changes(self, expired_before: float) -> None:
        """A pending address nobody confirmed in time goes (it is sealed, but not kept)."""
        await self.db.execute("DELETE FROM email_changes WHERE expires_at < $1", expired_before)

    async def cancel_email_change(self, member_id: str) -> None:
        await self.db.execute("DELETE FROM email_changes WHERE member_id = $1", member_id)

    async def unread_count(self, member_id: str, cap: int = 1000) -> int:
        return int(await self.db.fetchval(
            "SELECT COUNT(*) FROM (SELECT 1 FROM mailbox WHERE member_id = $1 "
            "AND folder = 'inbox' AND unread LIMIT $2) AS u", member_id, cap))
