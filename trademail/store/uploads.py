"""Chunks of files streamed in, sealed, kept as they arrive: a file is written a chunk at a
time while it uploads, and read a chunk at a time when it is downloaded."""

from __future__ import annotations

from trademail.store.db import Connection, Database


async def forget_chunks_of(tx: Connection, message_id: str) -> None:
    """The chunks of a message's streamed files, as the message goes."""
    await tx.execute(
        "DELETE FROM upload_chunks WHERE upload_id IN (SELECT upload_id FROM attachments "
        "WHERE message_id = $1 AND upload_id IS NOT NULL)", message_id)


class UploadStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add_chunk(self, upload_id: str, seq: int, member_id: str, data_ct: bytes,
                        now: float) -> None:
        await self.db.execute(
            "INSERT INTO upload_chunks (upload_id, seq, member_id, data_ct, created_at) "
            "VALUES ($1, $2, $3, $4, $5)", upload_id, seq, member_id, data_ct, now)

    async def last_seq(self, upload_id: str) -> int | None:
        value = await self.db.fetchval(
            "SELECT MAX(seq) FROM upload_chunks WHERE upload_id = $1", upload_id)
        return None if value is None else int(value)

    async def chunk(self, upload_id: str, seq: int) -> bytes | None:
        value = await self.db.fetchval(
            "SELECT data_ct FROM upload_chunks WHERE upload_id = $1 AND seq = $2",
            upload_id, seq)
        return None if value is None else bytes(value)

    async def discard(self, upload_id: str) -> None:
        """A file that will not be sent after all (its message was refused)."""
        await self.db.execute("DELETE FROM upload_chunks WHERE upload_id = $1 AND NOT EXISTS "
                              "(SELECT 1 FROM attachments WHERE upload_id = $1)", upload_id)

    async def forget_unsent(self, older_than: float) -> None:
        """Files streamed in that no message took (a send that never finished)."""
        await self.db.execute(
            "DELETE FROM upload_chunks WHERE created_at < $1 AND upload_id NOT IN "
            "(SELECT upload_id FROM attachments WHERE upload_id IS NOT NULL)", older_than)
