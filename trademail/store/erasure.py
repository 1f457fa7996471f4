"""Account erasure: a member's row and everything of theirs deleted in one transaction, the
shared message rows no other party still holds with them; what stays is a tombstone (the id
and when) and keyed digests of the names they used, so none is handed to anyone again."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from trademail.store.audit import AuditChain, AuditRow
from trademail.store.db import Connection, Database, in_list
from trademail.store.factors import forget_factors

NameIndex = Callable[[str, str], bytes]  # (kind of name, the name) -> its keyed digest
_BATCH = 500
# What an erasure writes to (or deletes from, by cascade): VACUUMed after it on PostgreSQL.
TOUCHED = (
    "members", "aliases", "mailbox", "word_index", "idempotency_keys", "messages",
    "attachments", "upload_chunks", "outside_refs", "outbox", "drafts", "signatures",
    "web_sessions", "api_tokens", "account_tokens", "email_changes", "member_addresses",
    "reply_tokens", "correspondents", "mail_notices", "webhooks", "inbound_mail", "profiles",
    "products", "leads", "directory_words", "contact_views", "listing_flags", "blocks",
    "reports", "send_log", "pairs", "member_factors", "recovery_codes", "factor_challenges",
    "pending_signins",
)


@dataclass(frozen=True)
class Erased:
    """What an erasure removed besides the member's own rows."""

    messages: int  # shared message rows that went with the member's entry, the last one


async def _retire_names(tx: Connection, indexes: Sequence[bytes], now: float) -> None:
    sql = ("INSERT INTO retired_names (name_index, retired_at) VALUES ($1, $2) "
           "ON CONFLICT (name_index) DO NOTHING")
    await tx.executemany(sql, [(index, now) for index in dict.fromkeys(indexes)])


async def _forget_mailbox(tx: Connection, member_id: str, *, lock: bool) -> int:
    """The member's entries, word index and idempotency keys; and each message (with its
    attachments and streamed chunks) whose entry was the last one. On PostgreSQL the
    messages are locked first, as `MailboxStore.delete_entry` does: another party deleting
    their entry at the same time sees this one gone, or this erasure sees theirs gone."""
    if lock:
        await tx.execute("SELECT m.id FROM messages m JOIN mailbox e ON e.message_id = m.id "
                         "WHERE e.member_id = $1 ORDER BY m.id FOR UPDATE OF m", member_id)
    orphans = [r["message_id"] for r in await tx.fetch(
        "SELECT e.message_id FROM mailbox e WHERE e.member_id = $1 AND NOT EXISTS "
        "(SELECT 1 FROM mailbox o WHERE o.message_id = e.message_id AND o.member_id <> $1)",
        member_id)]
    for table in ("word_index", "idempotency_keys", "mailbox"):
        await tx.execute(f"DELETE FROM {table} WHERE member_id = $1", member_id)
    for start in range(0, len(orphans), _BATCH):
        batch = orphans[start:start + _BATCH]
        marks = in_list(1, len(batch))
        await tx.execute(
            "DELETE FROM upload_chunks WHERE upload_id IN (SELECT upload_id FROM attachments "
            f"WHERE upload_id IS NOT NULL AND message_id IN ({marks}))", *batch)
        await tx.execute(f"DELETE FROM messages WHERE id IN ({marks})", *batch)  # cascades
    # Files the member streamed in that no message took (a send never finished).
    await tx.execute("DELETE FROM upload_chunks WHERE member_id = $1 AND upload_id NOT IN "
                     "(SELECT upload_id FROM attachments WHERE upload_id IS NOT NULL)",
                     member_id)
    return len(orphans)


async def _forget_the_rest(tx: Connection, member_id: str) -> None:
    """What no foreign key takes with the member's row: deliveries queued for them or on
    their behalf, and other members' rows that name them (who wrote with whom, blocks)."""
    await tx.execute("DELETE FROM outbox WHERE member_id = $1", member_id)
    await tx.execute("DELETE FROM pairs WHERE other_id = $1", member_id)
    await tx.execute("DELETE FROM blocks WHERE kind = 'member' AND target = $1", member_id)
    await forget_factors(tx, member_id)


class ErasureStore:
    def __init__(self, db: Database, chain: AuditChain) -> None:
        self.db = db
        self._chain = chain

    async def erase(self, member_id: str, now: float, *, name_index: NameIndex,
                    audit: AuditRow) -> Erased | None:
        """Delete the member (their wrapped key with their row) and everything of theirs,
        retire their username and aliases (by `name_index`), leave a tombstone and the audit
        entry; all in one transaction. None when there is no such member."""
        postgres = self.db.dialect == "postgres"
        async with self.db.transaction() as tx:
            lock = " FOR UPDATE" if postgres else ""
            member = await tx.fetchrow(f"SELECT username FROM members WHERE id = $1{lock}",
                                       member_id)
            if member is None:
                return None
            aliases = await tx.fetch("SELECT address FROM aliases WHERE member_id = $1",
                                     member_id)
            await _retire_names(tx, [name_index("username", member["username"]),
                                     *(name_index("alias", a["address"]) for a in aliases)],
                                now)
            orphans = await _forget_mailbox(tx, member_id, lock=postgres)
            await _forget_the_rest(tx, member_id)
            # The rest of theirs goes by ON DELETE CASCADE: aliases, sessions, tokens, links,
            # addresses, reply tokens, correspondents, webhooks, listings, drafts, signature.
            await tx.execute("DELETE FROM members WHERE id = $1", member_id)
            await tx.execute("INSERT INTO former_members (id, erased_at) VALUES ($1, $2)",
                             member_id, now)
            await self._chain.append(tx, [audit])  # last: the chain's head is locked till commit
        return Erased(orphans)

    async def sweep_late(self) -> None:
        """What a delivery racing an erasure wrote for the former member (it read their row
        a moment before the erasure committed) goes too, with a message no one else holds.
        Done after each erasure and by housekeeping, for one that lands later still."""
        async with self.db.transaction() as tx:
            late = await tx.fetch("DELETE FROM mailbox WHERE member_id IN "
                                  "(SELECT id FROM former_members) RETURNING message_id")
            for table in ("word_index", "outbox"):
                await tx.execute(f"DELETE FROM {table} WHERE member_id IN "
                                 "(SELECT id FROM former_members)")
            for row in late:
                await tx.execute("DELETE FROM messages WHERE id = $1 AND NOT EXISTS "
                                 "(SELECT 1 FROM mailbox WHERE message_id = $1)",
                                 row["message_id"])

    async def scrub(self) -> None:
        """After an erasure: the late sweep, then, best effort, what the deleted rows left
        in the database's files is made unreachable (see `Database.scrub`)."""
        await self.sweep_late()
        await self.db.scrub(TOUCHED)
