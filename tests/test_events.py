"""Wake-ups across processes on PostgreSQL: LISTEN/NOTIFY between two hubs, events sent in
batches, and a hub whose connection is cut still telling its own listeners."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg

from tests.conftest import PG_DSN
from trademail.events import PostgresEvents


async def _keys(queue: asyncio.Queue[str], count: int) -> set[str]:
    got: set[str] = set()
    while len(got) < count:
        got.add(await asyncio.wait_for(queue.get(), 10))
    return got


async def test_events_reach_another_hub_in_batches(postgres_url: str) -> None:
    prefix = f"t{secrets.token_hex(4)}_"  # this test's own channels
    one, two = PostgresEvents(PG_DSN, prefix), PostgresEvents(PG_DSN, prefix)
    await one.start()
    await two.start()
    try:
        async with two.subscribe("mailbox") as mailbox, two.subscribe("outbox") as outbox:
            for n in range(50):  # published at once: they travel together
                await one.publish("mailbox", f"m{n}")
                await one.publish("mailbox", f"m{n}")
            await one.publish("outbox", "")
            assert await _keys(mailbox, 50) == {f"m{n}" for n in range(50)}
            assert await asyncio.wait_for(outbox.get(), 10) == ""
    finally:
        await one.close()
        await two.close()


async def test_a_hub_that_lost_its_connection_still_tells_its_own(postgres_url: str) -> None:
    hub = PostgresEvents(PG_DSN, f"t{secrets.token_hex(4)}_")
    await hub.start()
    try:
        async with hub.subscribe("mailbox", "m1") as queue:
            admin = await asyncpg.connect(PG_DSN)
            try:
                pid = hub._conn.get_server_pid()  # type: ignore[union-attr]
                await admin.execute("SELECT pg_terminate_backend($1)", pid)
            finally:
                await admin.close()
            # The hub notices, asks its listeners to look again, and waits before it
            # reconnects: what it publishes meanwhile is heard here all the same.
            assert await asyncio.wait_for(queue.get(), 10) == "*"
            await hub.publish("mailbox", "m1")
            assert await asyncio.wait_for(queue.get(), 10) == "m1"
    finally:
        await hub.close()
