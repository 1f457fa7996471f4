"""Counters of costly or revealing attempts (sign-ins, sign-ups, mail a stranger can
cause), under keyed subjects, with the decision to let one through made atomically."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from trademail.store.db import Connection, Database, Row, in_list


async def _lock(tx: Connection, ordered: Sequence[str]) -> list[Row]:
    """Make each subject's row if it is missing and lock it if it is not, in the order
    given (sorted: one lock order for every transaction), with one upsert. A lock on a
    row that exists is not enough: a transaction that meanwhile makes the missing one
    would then hold a lock out of order, and two of them deadlock."""
    return await tx.fetch(
        "INSERT INTO signin_failures (subject, failures, last_failure_at) VALUES "
        + ", ".join(f"(${n}, 0, 0)" for n in range(1, len(ordered) + 1))
        + " ON CONFLICT (subject) DO UPDATE SET subject = excluded.subject "
        "RETURNING subject, failures, last_failure_at", *ordered)


class ThrottleStore:
    """Attempt counters by subject; subjects are keyed digests, never as typed."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def signin_failures(self, subjects: Sequence[str]) -> dict[str, tuple[int, float]]:
        rows = await self.db.fetch(
            "SELECT subject, failures, last_failure_at FROM signin_failures "
            f"WHERE subject IN ({in_list(1, len(subjects))})", *subjects)
        return {r["subject"]: (r["failures"], r["last_failure_at"]) for r in rows}

    async def reserve_signin_attempt(
            self, subjects: Sequence[str], now: float,
            decide: Callable[[dict[str, tuple[int, float]]], tuple[float, set[str]]]) -> float:
        """Count an attempt against every subject unless `decide` says to wait first.

        `decide` sees the (failures, last attempt) of each subject, all rows locked, and
        answers (seconds to wait, subjects to start over); the count and the decision
        happen in one transaction, so concurrent attempts see each other.
        """
        ordered = sorted(set(subjects))
        async with self.db.transaction() as tx:
            rows = await _lock(tx, ordered)
            wait, resets = decide({r["subject"]: (r["failures"], r["last_failure_at"])
                                   for r in rows})
            if wait > 0:
                return wait
            await tx.executemany(
                "UPDATE signin_failures SET failures = CASE WHEN subject = $3 THEN 1 "
                "ELSE failures + 1 END, last_failure_at = $2 WHERE subject = $1",
                [(s, now, s if s in resets else "") for s in ordered])
        return 0.0

    async def signin_succeeded(self, account: str, client: str) -> None:
        """Forget the account's failures; the client's reserved attempt was no failure."""
        async with self.db.transaction() as tx:
            await _lock(tx, sorted({account, client}))
            await tx.execute("DELETE FROM signin_failures WHERE subject = $1", account)
            await tx.execute(
                "UPDATE signin_failures SET failures = CASE WHEN failures > 0 "
                "THEN failures - 1 ELSE 0 END WHERE subject = $1", client)

    async def count_in_window(self, subject: str, window_start: float, limit: int) -> bool:
        """Count one event against `subject` in the window starting at `window_start` (a
        new window starts the count again), unless `limit` were counted in it already;
        whether it was counted. One statement, so every process counts together."""
        rows = await self.db.fetch(
            "INSERT INTO signin_failures (subject, failures, last_failure_at) "
            "VALUES ($1, 1, $2) ON CONFLICT (subject) DO UPDATE SET failures = CASE "
            "WHEN signin_failures.last_failure_at = excluded.last_failure_at "
            "THEN signin_failures.failures + 1 ELSE 1 END, "
            "last_failure_at = excluded.last_failure_at "
            "WHERE signin_failures.last_failure_at <> excluded.last_failure_at "
            "OR signin_failures.failures < $3 RETURNING failures", subject, window_start, limit)
        return bool(rows)

    async def forget_signin_failures(self, older_than: float) -> None:
        await self.db.execute("DELETE FROM signin_failures WHERE last_failure_at < $1",
                              older_than)
