"""Shared fixtures: a fresh store on SQLite and (when configured) PostgreSQL, a fake clock,
and the whole app behind aiohttp's test client."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import asyncpg
import pytest
import structlog

from tests.browser_helpers import Browser
from tests.helpers import OUTBOUND, make_config
from trademail.app import build_app
from trademail.config import Config
from trademail.testing import FakeClock, MemoryTransport

PG_DSN = os.environ.get("TRADEMAIL_TEST_POSTGRES_DSN", "")
REQUIRE_PG = os.environ.get("TRADEMAIL_TEST_REQUIRE_POSTGRES") == "1"
BACKENDS = ["sqlite", "postgres"]


def _with_search_path(dsn: str, schema: str) -> str:
    parts = urlsplit(dsn)
    query = "&".join(q for q in (parts.query, urlencode({"search_path": schema})) if q)
    return urlunsplit(parts._replace(query=query))


@pytest.fixture(autouse=True)
def _log_config() -> Iterator[None]:
    """A test that configures logging (the command line run in-process does, at info)
    leaves the next test the configuration it found: one that captures debug lines."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture(autouse=True)
def _schemas() -> Iterator[list[str]]:
    """Test schemas to drop once the test is over. Autouse fixtures are set up first and so
    torn down last: every app (`aiohttp_client` may be set up before `store_url`) has
    stopped, relay included, before its schema goes."""
    schemas: list[str] = []
    yield schemas
    if schemas:
        asyncio.run(_drop(schemas))


async def _drop(schemas: list[str]) -> None:
    conn = await asyncpg.connect(PG_DSN)
    try:
        for schema in schemas:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")
    finally:
        await conn.close()


async def _postgres_schema(schemas: list[str]) -> str:
    """A fresh schema in the test PostgreSQL, dropped after the test; skip or fail without
    one."""
    if not PG_DSN:
        if REQUIRE_PG:
            pytest.fail("TRADEMAIL_TEST_POSTGRES_DSN must be set when PostgreSQL is required")
        pytest.skip("set TRADEMAIL_TEST_POSTGRES_DSN to run against PostgreSQL")
    schema = f"test_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f"CREATE SCHEMA {schema}")
    finally:
        await conn.close()
    schemas.append(schema)
    return _with_search_path(PG_DSN, schema)


@pytest.fixture(params=BACKENDS)
async def store_url(request: pytest.FixtureRequest, tmp_path: Path, _schemas: list[str]) -> str:
    """An empty database: an SQLite file, or a fresh schema in the test PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'trademail.sqlite3'}"
    return await _postgres_schema(_schemas)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """For the tests that one backend shows as well as two."""
    return f"sqlite:///{tmp_path / 'trademail.sqlite3'}"


@pytest.fixture
async def postgres_url(_schemas: list[str]) -> str:
    """For the tests only PostgreSQL can run (several processes on one database)."""
    return await _postgres_schema(_schemas)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config(tmp_path: Path, store_url: str) -> Config:
    return make_config(tmp_path, store_url)


@pytest.fixture
async def client(aiohttp_client: Any, config: Config, clock: FakeClock) -> Any:
    """The whole app; the mail it sends is kept in memory (tests.helpers reads it there)."""
    transport = MemoryTransport()
    app = await build_app(config, clock, transport=transport)
    app[OUTBOUND] = transport
    return await aiohttp_client(app)


@pytest.fixture
async def browsers(client: Any) -> AsyncIterator[Callable[..., Browser]]:
    """Browsers with cookie jars of their own, against the whole app (or `on`, another
    test client), closed afterwards."""
    made: list[Browser] = []

    def make(on: Any = None) -> Browser:
        made.append(Browser(on or client))
        return made[-1]

    yield make
    for browser in made:
        await browser.close()
