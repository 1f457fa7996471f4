"""Whether this server can do its work: alive (the database answers), ready (and it is
not stopping, and its SMTP gateway listens), and how far behind its outbox is."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from trademail.clock import Clock
from trademail.errors import StoreError


class Health:
    def __init__(self, ping_database: Callable[[], Awaitable[None]],
                 backlog: Callable[[], Awaitable[tuple[int, float | None]]],
                 clock: Clock) -> None:
        self._ping_database = ping_database
        self._backlog = backlog
        self._clock = clock
        self._serving = False

    def serving(self, yes: bool) -> None:
        """Said by the server when it has started everything, and when it starts to stop."""
        self._serving = yes

    async def check(self) -> None:
        """Nothing, or StoreError saying what does not answer."""
        await self._ping_database()

    async def ready(self) -> None:
        """Nothing, or StoreError: a load balancer should send this server no work now."""
        if not self._serving:
            raise StoreError("this server is starting or stopping")
        await self._ping_database()

    async def outbox(self) -> tuple[int, float]:
        """(rows waiting, seconds the oldest of them has waited)."""
        depth, oldest = await self._backlog()
        return depth, 0.0 if oldest is None else max(0.0, self._clock.now() - oldest)
