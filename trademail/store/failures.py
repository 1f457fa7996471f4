"""How the backends' own errors become TradeMail's: a unique key hit is `Duplicate`, a full
disk is `StorageFull`, and a database that cannot be reached (down, restarting, a
connection cut) is a `StoreError`, on SQLite and PostgreSQL alike, so every door can say
so cleanly instead of failing with a traceback."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from trademail.errors import StorageFull, StoreError

SQLITE_FULL = 13  # the primary result code of "database or disk is full"

# A PostgreSQL that is gone for now: refused or cut connections, a server shutting down or
# starting up, too many clients. Worth another try later; nothing of ours is wrong.
_PG_AWAY = (OSError, asyncpg.PostgresConnectionError, asyncpg.OperatorInterventionError,
            asyncpg.InsufficientResourcesError)


class Duplicate(StoreError):
    """An insert hit a unique constraint."""


def sqlite_failure(exc: sqlite3.Error) -> BaseException:
    """What an SQLite error stands for: a duplicate, a full disk, an unavailable database,
    or (any other integrity error, a bug) the error itself."""
    if isinstance(exc, sqlite3.IntegrityError):
        text = str(exc)
        return Duplicate(text) if "UNIQUE" in text or "PRIMARY KEY" in text else exc
    if getattr(exc, "sqlite_errorcode", None) == SQLITE_FULL or "disk is full" in str(exc):
        return StorageFull("the database's disk is full; nothing was written")
    return StoreError(f"the database is unavailable: {exc}")


@asynccontextmanager
async def pg_failures() -> AsyncIterator[None]:
    """Around a PostgreSQL call (or, as a decorator, a method): a lost database becomes a
    StoreError and a full disk StorageFull."""
    try:
        yield
    except asyncpg.DiskFullError:
        raise StorageFull("the database's disk is full; nothing was written") from None
    except _PG_AWAY as exc:
        raise StoreError(f"the database is unavailable: {exc.__class__.__name__}") from None
    except asyncpg.InterfaceError as exc:
        # The client's own errors are bugs (a wrong argument count, a value a column cannot
        # take) and stay so; only a connection found closed means the database went away.
        if not _closed(exc):
            raise
        raise StoreError("the database is unavailable: its connection closed") from None


def _closed(exc: asyncpg.InterfaceError) -> bool:
    text = str(exc)
    return "connection is closed" in text or "pool is closing" in text
