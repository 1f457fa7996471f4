"""Storage: one Store over SQLite (embedded default) or PostgreSQL, with numbered migrations."""

from trademail.store.db import Database, Duplicate, open_database
from trademail.store.store import (
    AliasRow,
    AttachmentRow,
    EntryRow,
    MemberRow,
    NewAttachment,
    NewEntry,
    NewMessage,
    NewOutboxRow,
    OutboxRow,
    Store,
    TokenRow,
)

__all__ = [
    "AliasRow",
    "AttachmentRow",
    "Database",
    "Duplicate",
    "EntryRow",
    "MemberRow",
    "NewAttachment",
    "NewEntry",
    "NewMessage",
    "NewOutboxRow",
    "OutboxRow",
    "Store",
    "TokenRow",
    "open_store",
]


async def open_store(url: str, *, pool_size: int = 10, migrate: bool = True) -> Store:
    """Connect, bring the schema up to date, and hand back the Store."""
    db = await open_database(url, pool_size)
    try:
        if migrate:
            await db.migrate()
    except BaseException:
        await db.close()
        raise
    return Store(db)
