"""Wake-ups across the server: "member X has new mail", "the outbox has work".

Only opaque ids travel here, never content. In one process the hub fans out in memory;
on PostgreSQL it goes through LISTEN/NOTIFY, so every server process hears every event.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import structlog

log = structlog.get_logger(__name__)

CHANNELS = ("mailbox", "outbox")


class Events:
    """In-process fan-out; the base of the PostgreSQL hub."""

    def __init__(self) -> None:
        self._queues: dict[tuple[str, str], set[asyncio.Queue[str]]] = defaultdict(set)

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def publish(self, channel: str, key: str) -> None:
        self._fan_out(channel, key)

    def _fan_out(self, channel: str, key: str) -> None:
        if key == "*":  # everyone on the channel should look again
            groups = [qs for (ch, _), qs in self._queues.items() if ch == channel]
        else:
            groups = [self._queues.get((channel, key), set()),
                      self._queues.get((channel, "*"), set())]
        for queues in groups:
            for queue in list(queues):
                if queue.qsize() < 100:  # a stalled listener loses wake-ups, never memory
                    queue.put_nowait(key)

    @asynccontextmanager
    async def subscribe(self, channel: str, key: str = "*") -> AsyncIterator[asyncio.Queue[str]]:
        """A queue that receives the key of every event on `channel` for `key` (or all)."""
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._queues[(channel, key)].add(queue)
        try:
            yield queue
        finally:
            self._queues[(channel, key)].discard(queue)
            if not self._queues[(channel, key)]:
                del self._queues[(channel, key)]


class PostgresEvents(Events):
    """LISTEN on one dedicated connection; NOTIFY from any. Reconnects when the link drops."""

    def __init__(self, dsn: str, prefix: str = "trademail_") -> None:
        super().__init__()
        self._dsn = dsn
        self._prefix = prefix
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        # Events waiting to be sent, and the one task that sends them: an asyncpg
        # connection runs one query at a time.
        self._pending: dict[tuple[str, str], None] = {}
        self._sender: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="pg-listen")
        await asyncio.wait_for(self._ready.wait(), timeout=30)

    async def _listen_forever(self) -> None:
        delay = 0.5
        while True:
            try:
                self._conn = await asyncpg.connect(self._dsn)
                lost = asyncio.Event()
                self._conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
                for channel in CHANNELS:
                    await self._conn.add_listener(self._prefix + channel, self._on_notify)
                self._ready.set()
                delay = 0.5
                await lost.wait()
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("event listener lost its connection", error=exc.__class__.__name__)
            # Whatever happened while we were away, listeners should look again.
            for channel in CHANNELS:
                self._fan_out(channel, "*")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30)

    def _on_notify(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        self._fan_out(channel.removeprefix(self._prefix), payload)

    async def publish(self, channel: str, key: str) -> None:
        """Best effort and in the background: a wake-up is never worth a failed request.
        Events published while one batch is on its way go together in the next one (and
        the same event twice, once)."""
        self._pending[(channel, key)] = None
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_pending())

    async def _send_pending(self) -> None:
        while self._pending:
            batch = list(self._pending)
            self._pending.clear()
            if not await self._notify(batch):
                for channel, key in batch:  # at least this process hears them
                    self._fan_out(channel, key)

    async def _notify(self, batch: list[tuple[str, str]]) -> bool:
        conn = self._conn
        if conn is None or conn.is_closed():
            return False
        try:
            await conn.execute("SELECT pg_notify(c, k) FROM unnest($1::text[], $2::text[]) "
                               "AS u(c, k)", [self._prefix + c for c, _ in batch],
                               [k for _, k in batch], timeout=5)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            log.warning("could not publish events; listeners poll as a fallback")
            return False
        return True

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, *filter(None, [self._sender]),
                                 return_exceptions=True)
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close(timeout=5)  # then cut: stopping never waits for ever
