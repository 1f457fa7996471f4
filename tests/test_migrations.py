"""Upgrading a database that holds members: migration 0005 keeps every row and every
foreign key (SQLite rebuilds `members` for it), and the members keep their standing."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.helpers import MASTER_KEY
from tests.process_helpers import run_cli
from trademail.store import open_stores
from trademail.store.schema import migrations as _migrations

NOW = 1_790_000_000.0
BEFORE = 4  # the schema version before accounts proved their address
ROWS = [
    ("INSERT INTO members (id, username, email_ct, email_index, company, country, "
     "password_hash, member_key, notify, created_at) VALUES "
     "($1, $2, $3, $4, 'Co', 'Peru', 'h', $5, 'summary', $6)",
     ("0" * 31 + "1", "ann", b"ct-ann", b"idx-ann", b"mk", NOW)),
    ("INSERT INTO aliases (address, member_id, enabled, created_at) VALUES ($1, $2, TRUE, $3)",
     ("ann-x@relay.test", "0" * 31 + "1", NOW)),
    ("INSERT INTO api_tokens (member_id, id, digest, name, scopes, created_at) "
     "VALUES ($1, $2, $3, 'crm', 'messages:read', $4)",
     ("0" * 31 + "1", "0" * 31 + "2", b"digest", NOW)),
    ("INSERT INTO signin_failures (subject, failures, last_failure_at) VALUES ($1, 1, $2)",
     ("account:typed-as-is", NOW)),
]


async def _sqlite_at_v4(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("CREATE TABLE schema_migrations "
                     "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL)")
        for version, name, sql in _migrations("sqlite")[:BEFORE]:
            conn.executescript(sql)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (version, name))
        conn.execute("PRAGMA foreign_keys=ON")
        for sql, args in ROWS:
            conn.execute(sql.replace("$", "?").replace("TRUE", "1"), args)
    finally:
        conn.close()


async def _postgres_at_v4(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                           "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        for version, name, sql in _migrations("postgres")[:BEFORE]:
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                               version, name)
        for sql, args in ROWS:
            await conn.execute(sql, *args)
    finally:
        await conn.close()


async def test_migrating_keeps_members_their_rows_and_their_keys(
        store_url: str, tmp_path: Path) -> None:
    if store_url.startswith("sqlite:///"):
        await _sqlite_at_v4(Path(store_url[len("sqlite:///"):]))
    else:
        await _postgres_at_v4(store_url)
    store = await open_stores(store_url)
    try:
        ann = await store.members.member_by_username("ann")
        assert ann is not None and ann.email_confirmed and ann.address_since == NOW
        assert (await store.members.confirmed_member_by_email(b"idx-ann")).id == ann.id  # type: ignore[union-attr]
        assert await store.accounts.past_addresses(ann.id) == [b"ct-ann"]
        (token,) = await store.tokens.tokens_of(ann.id)
        assert token.name == "crm" and token.expires_at is not None  # none lives for ever
        assert [a.address for a in await store.members.aliases_of([ann.id])] == ["ann-x@relay.test"]
        # Kept as typed before: gone now that throttles are kept keyed.
        assert await store.db.fetchval("SELECT COUNT(*) FROM signin_failures") == 0
        # The rebuilt table still anchors the others: removing a member removes their rows.
        await store.db.execute("DELETE FROM members WHERE id = $1", ann.id)
        for table in ("aliases", "api_tokens", "member_addresses"):
            count: Any = await store.db.fetchval(f"SELECT COUNT(*) FROM {table}")  # noqa: S608
            assert count == 0, table
        assert await store.db.migrate() == 0
    finally:
        await store.close()


async def test_a_migration_that_breaks_a_foreign_key_changes_nothing(tmp_path: Path) -> None:
    """SQLite migrations run with foreign keys off (a table rebuild needs it), so they are
    checked before the commit: a migration that leaves a dangling row is rolled back."""
    path = tmp_path / "broken.sqlite3"
    await _sqlite_at_v4(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("INSERT INTO aliases VALUES ('ghost@relay.test', 'no-such-member', 1, 0)")
    conn.close()
    with pytest.raises(Exception, match="foreign key"):
        await open_stores(f"sqlite:///{path}")
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone() == (BEFORE,)
    assert conn.execute("SELECT COUNT(*) FROM members").fetchone() == (1,)
    conn.close()



async def test_migrate_shows_progress_on_a_terminal_only(tmp_path: Path, store_url: str) -> None:
    """`trademail migrate` draws a bar on a terminal as each migration is applied; in a
    pipe, and when there is nothing to do, it writes none."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEMAIL_")} | {
        "TRADEMAIL_DATA_DIR": str(tmp_path / "var"), "TRADEMAIL_STORE_URL": store_url,
        "TRADEMAIL_CRYPTO_MASTER_KEY": MASTER_KEY}
    total = len(_migrations("sqlite" if store_url.startswith("sqlite") else "postgres"))
    # The second run finds the schema up to date.
    runs = [await run_cli("migrate", env=env, terminal=terminal) for terminal in (True, False)]
    outputs, errors = [out for out, _ in runs], [err for _, err in runs]
    assert "applying migrations [" in errors[0] and f"] {total}/{total}" in errors[0]
    assert "applying migrations" not in errors[1]
    assert all("is up to date" in out for out in outputs)
