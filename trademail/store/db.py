"""Two database backends behind one small async interface: SQLite and PostgreSQL.

SQL is written once, in PostgreSQL's `$1` placeholder style; the SQLite backend turns
`$1` into SQLite's own numbered `?1`. SQLite writes go through one writer thread (one
transaction at a time, off the event loop); reads run on a small pool of reader threads.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import asyncpg

from trademail.errors import StoreError
from trademail.store.failures import Duplicate, pg_failures, sqlite_failure
from trademail.store.schema import apply_sqlite_migration, migrations, newer_schema

_PLACEHOLDER = re.compile(r"\$(\d+)")
_TABLE_NAME = re.compile(r"[a-z_][a-z0-9_]*")

Row = Any  # sqlite3.Row or asyncpg.Record: both index by column name
Progress = Callable[[int, int], None]  # (done, total)


class Connection(Protocol):
    dialect: str

    async def execute(self, sql: str, *args: Any) -> None: ...
    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...
    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...
    async def fetchrow(self, sql: str, *args: Any) -> Row | None: ...
    async def fetchval(self, sql: str, *args: Any) -> Any: ...


class Database(Connection, Protocol):
    async def write(self, sql: str, *args: Any) -> list[Row]: ...

    def transaction(self) -> Any: ...  # an async context manager yielding a Connection
    async def migrate(self, progress: Progress | None = None) -> int: ...
    async def scrub(self, tables: Sequence[str]) -> None: ...
    async def close(self) -> None: ...


# --------------------------------------------------------------------------- SQLite


class _SQLiteConnection:
    """Statements of one transaction, each run on the writer thread."""

    dialect = "sqlite"

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db

    async def execute(self, sql: str, *args: Any) -> None:
        await self._db._write(lambda c: c.execute(_to_sqlite(sql), args))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._db._write(lambda c: c.executemany(_to_sqlite(sql), rows))

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return await self._db._write(lambda c: c.execute(_to_sqlite(sql), args).fetchall())

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        return await self._db._write(lambda c: c.execute(_to_sqlite(sql), args).fetchone())

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return None if row is None else row[0]


def in_list(start: int, count: int) -> str:
    """`$start, …` for an IN list: the same SQL on both backends."""
    return ", ".join(f"${i}" for i in range(start, start + count))


def _to_sqlite(sql: str) -> str:
    return _PLACEHOLDER.sub(r"?\1", sql)


def _rollback_if_open(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


class SQLiteDatabase:
    dialect = "sqlite"

    def __init__(self, path: Path, readers: int = 4) -> None:
        self.path = path
        self._writer_pool = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._reader_pool = ThreadPoolExecutor(readers, thread_name_prefix="sqlite-reader")
        self._write_lock = asyncio.Lock()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._writer: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               timeout=10.0)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # a committed message survives a power cut
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=10000")
        # Deleted rows are overwritten with zeros, in the file and in the WAL: an erased
        # member's wrapped key and sealed rows leave no bytes behind (crypto-shredding).
        conn.execute("PRAGMA secure_delete=ON")
        self._connections.append(conn)
        return conn

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        try:
            self._writer = await loop.run_in_executor(self._writer_pool, self._connect)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite database {self.path}: {exc}") from None

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    async def _write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        def run() -> Any:
            assert self._writer is not None
            try:
                return fn(self._writer)
            except (sqlite3.IntegrityError, sqlite3.OperationalError) as exc:
                raise sqlite_failure(exc) from None

        return await asyncio.get_running_loop().run_in_executor(self._writer_pool, run)

    async def _read(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        def run() -> Any:
            try:
                return fn(self._reader())
            except sqlite3.OperationalError as exc:
                raise sqlite_failure(exc) from None

        return await asyncio.get_running_loop().run_in_executor(self._reader_pool, run)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_SQLiteConnection]:
        async with self._write_lock:
            try:
                await self._write(lambda c: c.execute("BEGIN IMMEDIATE"))
                yield _SQLiteConnection(self)
                await self._write(lambda c: c.execute("COMMIT"))
            except BaseException:
                # Queued behind whatever the writer thread still runs (a BEGIN this task
                # stopped waiting for, say), so the connection never stays in a transaction.
                await asyncio.shield(self._write(_rollback_if_open))
                raise

    async def execute(self, sql: str, *args: Any) -> None:
        async with self.transaction() as tx:
            await tx.execute(sql, *args)

    async def write(self, sql: str, *args: Any) -> list[Row]:
        """One statement that writes, and the rows it returns (RETURNING)."""
        async with self.transaction() as tx:
            return await tx.fetch(sql, *args)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        async with self.transaction() as tx:
            await tx.executemany(sql, rows)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return await self._read(lambda c: c.execute(_to_sqlite(sql), args).fetchall())

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        return await self._read(lambda c: c.execute(_to_sqlite(sql), args).fetchone())

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return None if row is None else row[0]

    async def migrate(self, progress: Progress | None = None) -> int:
        def run(conn: sqlite3.Connection) -> int:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                         "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL)")
            applied = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            known = migrations("sqlite")
            if applied and max(applied) > known[-1][0]:
                raise newer_schema(max(applied), known[-1][0])
            pending = [m for m in known if m[0] not in applied]
            for done, (version, name, sql) in enumerate(pending, start=1):
                apply_sqlite_migration(conn, version, name, sql)
                if progress is not None:
                    progress(done, len(pending))
            return len(pending)

        async with self._write_lock:
            return int(await self._write(run))

    async def scrub(self, tables: Sequence[str]) -> None:
        """After rows were deleted for good: the WAL checkpointed into the file (where
        secure_delete zeroed them) and truncated, so no earlier copy of a page stays in it.
        Best effort: a reader holding an old snapshot leaves the WAL as it is."""
        async with self._write_lock:
            await self._write(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall())

    async def close(self) -> None:
        def close_all() -> None:
            for conn in self._connections:
                conn.close()

        # Reads still running finish first: a connection is never closed under one.
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: self._reader_pool.shutdown(wait=True))
        await loop.run_in_executor(self._writer_pool, close_all)
        self._writer_pool.shutdown(wait=True)


# --------------------------------------------------------------------------- PostgreSQL


class _PGConnection:
    dialect = "postgres"

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> None:
        try:
            await self._conn.execute(sql, *args)
        except asyncpg.UniqueViolationError as exc:
            raise Duplicate(str(exc)) from None

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            await self._conn.executemany(sql, rows)
        except asyncpg.UniqueViolationError as exc:
            raise Duplicate(str(exc)) from None

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        try:
            return list(await self._conn.fetch(sql, *args))
        except asyncpg.UniqueViolationError as exc:
            raise Duplicate(str(exc)) from None

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return None if row is None else row[0]


# Every statement the stores send stays prepared on each connection (there are about 200,
# some built per call); asyncpg's default of 100 would evict and prepare them again.
STATEMENT_CACHE = 1024
CLOSE_SECONDS = 10.0


async def _nothing_to_reset(conn: asyncpg.Connection) -> None:
    """Besides the ROLLBACK asyncpg always sends for a transaction left open, a released
    connection needs nothing: the stores set no session state (no SET, no session advisory
    lock, no LISTEN), so RESET ALL and the rest would be a round trip per release."""


class PostgresDatabase:
    dialect = "postgres"

    def __init__(self, dsn: str, pool_size: int, wait_seconds: float = 30.0) -> None:
        self._dsn = dsn
        self._pool_size = pool_size
        self._wait_seconds = wait_seconds
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "open() first"
        return self._pool

    def _acquire(self) -> Any:
        """A pooled connection, waited for at most wait_seconds (then TimeoutError)."""
        return self.pool.acquire(timeout=self._wait_seconds)

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self._dsn, min_size=1, max_size=self._pool_size, command_timeout=60,
                reset=_nothing_to_reset, statement_cache_size=STATEMENT_CACHE)
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            where = urlsplit(self._dsn)
            raise StoreError(f"cannot connect to PostgreSQL at {where.hostname}:"
                             f"{where.port or 5432}/{unquote(where.path.lstrip('/'))}: "
                             f"{exc.__class__.__name__}: {exc}") from None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_PGConnection]:
        async with pg_failures(), self._acquire() as conn, conn.transaction():
            yield _PGConnection(conn)

    @pg_failures()
    async def execute(self, sql: str, *args: Any) -> None:
        async with self._acquire() as conn:
            await _PGConnection(conn).execute(sql, *args)

    @pg_failures()
    async def write(self, sql: str, *args: Any) -> list[Row]:
        """One statement that writes, and the rows it returns (RETURNING): one round trip."""
        async with self._acquire() as conn:
            return await _PGConnection(conn).fetch(sql, *args)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        async with self.transaction() as tx:
            await tx.executemany(sql, rows)

    @pg_failures()
    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        async with self._acquire() as conn:
            return list(await conn.fetch(sql, *args))

    @pg_failures()
    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        async with self._acquire() as conn:
            return await conn.fetchrow(sql, *args)

    @pg_failures()
    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self._acquire() as conn:
            return await conn.fetchval(sql, *args)

    async def migrate(self, progress: Progress | None = None) -> int:
        known = migrations("postgres")
        async with self._acquire() as conn, conn.transaction():
            # One process migrates at a time; the others wait here, then find nothing to do.
            await conn.execute("SELECT pg_advisory_xact_lock(7452001)")
            await conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER "
                               "PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ "
                               "NOT NULL DEFAULT now())")
            applied = {r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            if applied and max(applied) > known[-1][0]:
                raise newer_schema(max(applied), known[-1][0])
            pending = [m for m in known if m[0] not in applied]
            for done, (version, name, sql) in enumerate(pending, start=1):
                try:
                    await conn.execute(sql)
                except asyncpg.PostgresError as exc:
                    raise StoreError(f"migration {name} failed: {exc}") from None
                await conn.execute("INSERT INTO schema_migrations (version, name) "
                                   "VALUES ($1, $2)", version, name)
                if progress is not None:
                    progress(done, len(pending))
        return len(pending)

    async def scrub(self, tables: Sequence[str]) -> None:
        """After rows were deleted for good: VACUUM the tables, so their dead tuples' space
        is reused (each outside a transaction, as VACUUM must be). Best effort: old bytes
        stay in the WAL and in free space until PostgreSQL writes over them."""
        async with self._acquire() as conn:
            for table in tables:
                if not _TABLE_NAME.fullmatch(table):
                    raise ValueError(f"not a table name: {table!r}")
                try:
                    if await conn.fetchval("SELECT to_regclass($1)", table) is not None:
                        await conn.execute(f"VACUUM {table}")
                except asyncpg.PostgresError as exc:
                    raise StoreError(f"VACUUM {table} failed: {exc}") from None

    async def close(self) -> None:
        """Close gracefully; a connection not given back in time is cut (never a hang)."""
        if self._pool is not None:
            try:
                await asyncio.wait_for(self._pool.close(), CLOSE_SECONDS)
            except TimeoutError:
                self._pool.terminate()


async def open_database(url: str, pool_size: int = 10,
                        wait_seconds: float = 30.0) -> SQLiteDatabase | PostgresDatabase:
    parts = urlsplit(url)
    db: SQLiteDatabase | PostgresDatabase
    if parts.scheme == "sqlite":
        # sqlite:///relative/path or sqlite:////absolute/path
        path = unquote(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else ""
        if not path:
            raise StoreError("[store] url: sqlite:///PATH needs a path")
        db = SQLiteDatabase(Path(path))
    elif parts.scheme in ("postgresql", "postgres"):
        db = PostgresDatabase(url, pool_size, wait_seconds)
    else:
        raise StoreError(f"[store] url: unknown scheme {parts.scheme!r}")
    await db.open()
    return db
