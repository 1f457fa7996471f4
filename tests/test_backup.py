"""Backups: a database dump and the master key restore a working server; a dump alone
holds nothing readable. PostgreSQL through pg_dump and psql, SQLite through its backup
API, as README's "Backups" says."""

from __future__ import annotations

import asyncio
import base64
import secrets
import shutil
import sqlite3
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import PG_DSN, REQUIRE_PG, _with_search_path
from tests.helpers import PASSWORD, make_config
from trademail.app import open_core
from trademail.errors import MasterKeyError
from trademail.services.messages import Draft, Upload
from trademail.testing import FakeClock

KEY = base64.b64encode(b"b" * 32).decode()
OTHER_KEY = base64.b64encode(b"x" * 32).decode()
SECRETS = ("Backup subject QZ-7", "Hidden body about cloves", "bk1@real-bk1.example",
           "cloves-offer.txt")


async def _fill(url: str, tmp_path: Path, clock: FakeClock) -> tuple[str, str]:
    core = await open_core(make_config(tmp_path, url, TRADEMAIL_CRYPTO_MASTER_KEY=KEY), clock)
    try:
        ids = [(await core.signup.register(
            username=name, password=PASSWORD, email=f"{name}@real-{name}.example",
            company="Co", country="Peru", client="test")).id for name in ("bk1", "bk2")]
        sent = await core.sending.send(ids[0], Draft(
            ("bk2",), SECRETS[0], SECRETS[1],
            (Upload(SECRETS[3], "text/plain", b"40 t at USD 3.10/kg"),)))
    finally:
        await core.close()
    return ids[1], sent.id


async def _dump_and_restore(url: str, tmp_path: Path, schemas: list[str]) -> tuple[str, bytes]:
    """A copy of the database made the way an operator backs it up: (its URL, the dump)."""
    if url.startswith("sqlite"):
        source = urlsplit(url).path
        copy = tmp_path / "restored.sqlite3"
        with sqlite3.connect(source) as src, sqlite3.connect(copy) as dst:
            src.backup(dst)
        return f"sqlite:///{copy}", copy.read_bytes()
    if shutil.which("pg_dump") is None or shutil.which("psql") is None:
        if REQUIRE_PG:
            pytest.fail("pg_dump and psql (postgresql-client) are needed to test backups")
        pytest.skip("pg_dump and psql (postgresql-client) are not installed")
    schema = parse_qs(urlsplit(url).query)["search_path"][0]
    dump = await _run("pg_dump", f"--dbname={PG_DSN}", f"--schema={schema}", "--no-owner")
    restored = f"test_{secrets.token_hex(6)}"
    schemas.append(restored)
    await _run("psql", f"--dbname={PG_DSN}", "-v", "ON_ERROR_STOP=1", "-q",
               stdin=dump.replace(schema.encode(), restored.encode()))
    return _with_search_path(PG_DSN, restored), dump


async def _run(*command: str, stdin: bytes | None = None) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
    assert proc.returncode == 0, err.decode()
    return out


async def test_a_dump_and_the_key_restore_a_working_server_and_a_dump_alone_reads_nothing(
        store_url: str, tmp_path: Path, clock: FakeClock, _schemas: list[str]) -> None:
    reader, message_id = await _fill(store_url, tmp_path, clock)
    restored, dump = await _dump_and_restore(store_url, tmp_path, _schemas)
    for secret in SECRETS:
        assert secret.encode() not in dump and secret.encode("utf-16-le") not in dump
    core = await open_core(make_config(tmp_path / "restored", restored,
                                       TRADEMAIL_CRYPTO_MASTER_KEY=KEY), clock)
    try:
        message = await core.reading.read(reader, message_id)
        assert (message.subject, message.body) == SECRETS[:2]
        _, data = await core.reading.attachment(reader, message_id, 1)
        assert data == b"40 t at USD 3.10/kg"
    finally:
        await core.close()
    with pytest.raises(MasterKeyError):  # without its key the copy opens nothing
        await open_core(make_config(tmp_path / "thief", restored,
                                    TRADEMAIL_CRYPTO_MASTER_KEY=OTHER_KEY), clock)
