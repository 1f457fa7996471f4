"""Moderation: members' statuses and tiers, the audit log, staff's member search, and the
conversations members reported. Every change of status is written with its audit entry in
one transaction; a ban ends the member's sessions, API tokens and account links with it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trademail.store.accounts import forget_links
from trademail.store.audit import AuditChain, AuditRow, audit_entries
from trademail.store.db import Connection, Database, Duplicate
from trademail.store.members import MEMBER_COLUMNS, MemberRow, member_row
from trademail.store.notifications import revoke_reply_tokens
from trademail.store.sessions import end_sessions
from trademail.store.tokens import revoke_api_tokens


@dataclass(frozen=True)
class ReportRow:
    id: str
    reporter_id: str
    message_id: str
    thread_id: str
    reason: str
    created_at: float
    closed_at: float | None = None


_REPORT = "id, reporter_id, message_id, thread_id, reason, created_at, closed_at"


async def end_access(tx: Connection, member_id: str) -> None:
    """Sign the member out everywhere and revoke every credential they hold."""
    await end_sessions(tx, member_id)
    await revoke_api_tokens(tx, member_id)
    await forget_links(tx, member_id)
    await revoke_reply_tokens(tx, member_id)


async def change_status(tx: Connection, member_id: str, status: str, reason: str,
                        audit: AuditRow, *, chain: AuditChain,
                        only_from: Sequence[str] = ()) -> bool:
    """Set a member's status with its audit entry (`only_from`: only while the status is
    one of these); a ban ends their access in the same transaction. A status staff set is
    marked theirs (the contact-details rule lifts only what the system set). False when
    nothing changed."""
    by = "system" if audit.actor_id is None else "staff"
    args: list[object] = [member_id, status, reason, audit.created_at, by]
    guard = ""
    if only_from:
        guard = " AND status IN (" + ", ".join(f"${i + 6}" for i in range(len(only_from))) + ")"
        args += only_from
    rows = await tx.fetch(
        "UPDATE members SET status = $2, status_reason = $3, status_at = $4, status_by = $5 "
        f"WHERE id = $1{guard} RETURNING id", *args)
    if not rows:
        return False
    if status == "banned":
        await end_access(tx, member_id)
    await chain.append(tx, [audit])  # last: the chain's head stays locked until the commit
    return True


class ModerationStore:
    def __init__(self, db: Database, chain: AuditChain) -> None:
        self.db = db
        self._chain = chain

    async def set_status(self, member_id: str, status: str, reason: str, audit: AuditRow, *,
                         only_from: Sequence[str] = ()) -> bool:
        async with self.db.transaction() as tx:
            return await change_status(tx, member_id, status, reason, audit,
                                       chain=self._chain, only_from=only_from)

    async def set_tier(self, member_id: str, tier: str, audit: AuditRow) -> bool:
        async with self.db.transaction() as tx:
            rows = await tx.fetch("UPDATE members SET tier = $2 WHERE id = $1 AND tier <> $2 "
                                  "RETURNING id", member_id, tier)
            if rows:
                await self._chain.append(tx, [audit])
        return bool(rows)

    async def record(self, *entries: AuditRow) -> None:
        async with self.db.transaction() as tx:
            await self._chain.append(tx, entries)

    async def audit_log(self, *, member_id: str | None = None, before: str | None = None,
                        limit: int = 100) -> list[AuditRow]:
        return await audit_entries(self.db, member_id=member_id, before=before, limit=limit)

    async def find_members(self, *, username: str = "", alias: str = "", company: str = "",
                           email_index: bytes | None = None, limit: int = 50) -> list[MemberRow]:
        """Members by username prefix, exact alias, company words or the blind index of an
        address (staff never search by the address itself)."""
        if email_index is not None:
            sql = f"SELECT {MEMBER_COLUMNS} FROM members WHERE email_index = $1"
            args: list[object] = [email_index]
        elif alias:
            sql = (f"SELECT {MEMBER_COLUMNS} FROM members WHERE id IN "
                   "(SELECT member_id FROM aliases WHERE address = $1)")
            args = [alias]
        elif username:  # a prefix range, in code-point order on both backends
            name = 'username COLLATE "C"' if self.db.dialect == "postgres" else "username"
            sql = f"SELECT {MEMBER_COLUMNS} FROM members WHERE {name} >= $1 AND {name} < $2"
            args = [username, username + "\U0010ffff"]
        else:
            sql = f"SELECT {MEMBER_COLUMNS} FROM members WHERE lower(company) LIKE $1"
            escaped = company.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            args = [f"%{escaped}%"]
            sql += " ESCAPE '\\'"
        rows = await self.db.fetch(f"{sql} ORDER BY username LIMIT {int(limit)}", *args)
        return [m for r in rows if (m := member_row(r))]

    async def members_with(self, *, statuses: Sequence[str], limit: int = 100) -> list[MemberRow]:
        marks = ", ".join(f"${i + 1}" for i in range(len(statuses)))
        rows = await self.db.fetch(
            f"SELECT {MEMBER_COLUMNS} FROM members WHERE status IN ({marks}) "
            f"ORDER BY status_at DESC, id LIMIT {int(limit)}", *statuses)
        return [m for r in rows if (m := member_row(r))]

    # ------------------------------------------------------------------ reports

    async def file_report(self, report: ReportRow) -> bool:
        """False when the member has this conversation open with staff already."""
        try:
            async with self.db.transaction() as tx:
                await tx.execute(
                    f"INSERT INTO reports ({_REPORT}) VALUES ($1, $2, $3, $4, $5, $6, NULL)",
                    report.id, report.reporter_id, report.message_id, report.thread_id,
                    report.reason, report.created_at)
        except Duplicate:
            return False
        return True

    async def reports(self, *, open_only: bool = True, limit: int = 100) -> list[ReportRow]:
        clause = "WHERE closed_at IS NULL " if open_only else ""
        rows = await self.db.fetch(
            f"SELECT {_REPORT} FROM reports {clause}ORDER BY created_at, id LIMIT {int(limit)}")
        return [ReportRow(**{k: r[k] for k in ReportRow.__dataclass_fields__}) for r in rows]

    async def report(self, report_id: str) -> ReportRow | None:
        row = await self.db.fetchrow(f"SELECT {_REPORT} FROM reports WHERE id = $1", report_id)
        return None if row is None else ReportRow(
            **{k: row[k] for k in ReportRow.__dataclass_fields__})

    async def close_report(self, report_id: str, audit: AuditRow) -> bool:
        async with self.db.transaction() as tx:
            rows = await tx.fetch("UPDATE reports SET closed_at = $2 WHERE id = $1 AND "
                                  "closed_at IS NULL RETURNING id", report_id, audit.created_at)
            if rows:
                await self._chain.append(tx, [audit])
        return bool(rows)
