"""The audit log, append-only and chained: each entry has its place (`seq`, 1, 2, 3, … with no
gap) and a MAC over the previous entry's MAC and all of its own columns, so an entry changed,
removed or moved breaks the chain. The MAC function is the keyring's, handed in by whoever
opened the keys: stores hold no key."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from trademail.errors import StoreError
from trademail.store.db import Connection, Database, Row

Mac = Callable[[bytes, bytes], bytes]  # (the previous entry's MAC, this entry's bytes) -> MAC


@dataclass(frozen=True)
class AuditRow:
    id: str
    actor_id: str | None  # the member or staff member, or None for the system, the command
    actor: str            # line or someone not signed in; shown as a username, "system", …
    action: str
    member_id: str | None
    detail: str
    created_at: float


@dataclass(frozen=True)
class ChainedRow:
    """An entry in its place in the chain, with the MAC stored for it."""

    seq: int
    row: AuditRow
    mac: bytes | None  # None only for entries from before the chain (its legacy prefix)


@dataclass(frozen=True)
class Head:
    """The chain's last place and MAC (empty while it holds nothing), and how many entries
    from before the chain (no MAC) come first."""

    seq: int
    mac: bytes
    legacy: int


AUDIT_COLUMNS = "id, actor_id, actor, action, member_id, detail, created_at"


def audit_row(r: Row) -> AuditRow:
    return AuditRow(**{k: r[k] for k in AuditRow.__dataclass_fields__})


def entry_bytes(seq: int, row: AuditRow) -> bytes:
    """What an entry's MAC covers: its place and every column, each length-prefixed (a
    missing value marked apart from an empty one), so no two entries encode alike."""
    out = bytearray()
    for part in (str(seq), row.id, row.actor_id, row.actor, row.action, row.member_id,
                 row.detail, repr(float(row.created_at))):
        if part is None:
            out += b"\xff\xff\xff\xff"
        else:
            raw = part.encode("utf-8", "surrogatepass")
            out += len(raw).to_bytes(4, "big") + raw
    return bytes(out)


class AuditChain:
    """Appends entries in order, each MACed over the one before. Without a key (stores opened
    without the keyring) it refuses to write rather than write an entry outside the chain."""

    def __init__(self, mac: Mac | None = None) -> None:
        self._mac = mac

    def mac(self, previous: bytes, seq: int, row: AuditRow) -> bytes:
        if self._mac is None:
            raise StoreError("the audit log cannot be written without its key: open the "
                             "keyring and key the stores first")
        return self._mac(previous, entry_bytes(seq, row))

    async def append(self, tx: Connection, entries: Sequence[AuditRow]) -> None:
        """Write `entries` at the end of the chain, in `tx`. The head's row is updated first:
        on PostgreSQL its lock holds every other append back until `tx` ends."""
        if not entries:
            return
        self.mac(b"", 0, entries[0])  # no key: refused before anything is written
        head = await tx.fetchrow("UPDATE audit_head SET seq = seq + $1 WHERE id = 1 "
                                 "RETURNING seq, mac", len(entries))
        if head is None:
            raise StoreError("the audit log's head is missing")
        first = int(head["seq"]) - len(entries) + 1
        # The head's MAC is the last entry's; one someone emptied or changed makes the
        # next entry's MAC disagree with the entry before it, which `verify` shows.
        previous = bytes(head["mac"])
        values = []
        for seq, a in enumerate(entries, start=first):
            previous = self.mac(previous, seq, a)
            values.append((a.id, a.actor_id, a.actor, a.action, a.member_id, a.detail,
                           a.created_at, seq, previous))
        await tx.executemany(f"INSERT INTO audit_log ({AUDIT_COLUMNS}, seq, mac) "
                             "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", values)
        await tx.execute("UPDATE audit_head SET mac = $1 WHERE id = 1", previous)


async def audit_entries(db: Connection, *, member_id: str | None = None,
                        actions: Sequence[str] | None = None, before: str | None = None,
                        limit: int = 100) -> list[AuditRow]:
    """Entries newest first (by id, which is time-ordered), optionally only one member's,
    only some actions, only older than the entry `before`."""
    where: list[str] = []
    args: list[object] = []
    if member_id is not None:
        args.append(member_id)
        where.append(f"member_id = ${len(args)}")
    if actions is not None:
        marks = ", ".join(f"${len(args) + i + 1}" for i in range(len(actions)))
        args += actions
        where.append(f"action IN ({marks})" if actions else "FALSE")
    if before is not None:
        args.append(before)
        where.append(f"id < ${len(args)}")
    clause = f"WHERE {' AND '.join(where)} " if where else ""
    rows = await db.fetch(f"SELECT {AUDIT_COLUMNS} FROM audit_log {clause}"
                          f"ORDER BY id DESC LIMIT {int(limit)}", *args)
    return [audit_row(r) for r in rows]


class AuditStore:
    """The chain itself: appending, reading a member's or everyone's entries, and walking
    it in order to verify it."""

    def __init__(self, db: Database, chain: AuditChain) -> None:
        self.db = db
        self.chain = chain

    async def append(self, *entries: AuditRow) -> None:
        async with self.db.transaction() as tx:
            await self.chain.append(tx, entries)

    async def entries(self, *, member_id: str | None = None,
                      actions: Sequence[str] | None = None, before: str | None = None,
                      limit: int = 100) -> list[AuditRow]:
        return await audit_entries(self.db, member_id=member_id, actions=actions,
                                   before=before, limit=limit)

    async def hold_head(self) -> None:
        """The round trips of an append, writing nothing."""
        async with self.db.transaction() as tx:
            await tx.fetchrow("UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, mac")
            await tx.execute("UPDATE audit_head SET mac = mac WHERE id = 1")

    async def head(self) -> Head:
        row = await self.db.fetchrow("SELECT seq, mac, legacy FROM audit_head WHERE id = 1")
        if row is None:
            raise StoreError("the audit log's head is missing")
        return Head(int(row["seq"]), bytes(row["mac"]), int(row["legacy"]))

    async def count(self) -> int:
        return int(await self.db.fetchval("SELECT count(*) FROM audit_log"))

    async def outside_chain(self) -> int:
        """Entries with no place in the chain as it stands: none, or one past its head."""
        return int(await self.db.fetchval(
            "SELECT count(*) FROM audit_log WHERE seq IS NULL OR seq < 1 "
            "OR seq > (SELECT seq FROM audit_head WHERE id = 1)"))

    async def walk(self, after: int, upto: int, limit: int) -> list[ChainedRow]:
        """Entries in chain order from place `after` + 1 to `upto`, at most `limit`."""
        rows = await self.db.fetch(
            f"SELECT seq, mac, {AUDIT_COLUMNS} FROM audit_log WHERE seq > $1 AND seq <= $2 "
            f"ORDER BY seq LIMIT {int(limit)}", after, upto)
        return [ChainedRow(int(r["seq"]), audit_row(r),
                           None if r["mac"] is None else bytes(r["mac"])) for r in rows]
