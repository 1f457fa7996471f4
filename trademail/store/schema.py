"""The schema's migrations: numbered SQL files per backend, read and (on SQLite) applied
one transaction each; db.py runs them."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from trademail.errors import StoreError

MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migrations(dialect: str) -> list[tuple[int, str, str]]:
    found = []
    for path in sorted((MIGRATIONS / dialect).iterdir()):
        match = _MIGRATION_FILE.match(path.name)
        if match:
            found.append((int(match.group(1)), path.name, path.read_text(encoding="utf-8")))
    return found


def newer_schema(applied: int, known: int) -> StoreError:
    return StoreError(f"the database schema is at version {applied}, newer than this "
                      f"TradeMail knows ({known}); upgrade TradeMail")


def statements(script: str) -> list[str]:
    """The statements of an SQL script, split where SQLite says one is complete."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending)
            pending = ""
    if any(line.strip() and not line.strip().startswith("--")
           for line in pending.splitlines()):
        raise StoreError(f"an SQL statement does not end: {pending.strip()[:60]!r}")
    return statements


def apply_sqlite_migration(conn: sqlite3.Connection, version: int, name: str,
                            sql: str) -> None:
    """One migration in one transaction. Foreign keys are off while it runs, as SQLite asks
    for a table rebuild (a DROP TABLE would otherwise cascade into every referring row),
    and checked before it commits."""
    conn.execute("PRAGMA foreign_keys=OFF")
    try:
        conn.execute("BEGIN IMMEDIATE")
        for statement in statements(sql):
            conn.execute(statement)
        broken = conn.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise sqlite3.IntegrityError(f"{len(broken)} rows break a foreign key")
        conn.execute("INSERT INTO schema_migrations VALUES "
                     "(?1, ?2, (julianday('now') - 2440587.5) * 86400.0)", (version, name))
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise StoreError(f"migration {name} failed: {exc}") from None
    finally:
        conn.execute("PRAGMA foreign_keys=ON")
