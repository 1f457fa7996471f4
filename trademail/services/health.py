"""Whether this server can do its work: the database answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable


class Health:
    def __init__(self, ping_database: Callable[[], Awaitable[None]]) -> None:
        self._ping_database = ping_database

    async def check(self) -> None:
        """Nothing, or StoreError saying what does not answer."""
        await self._ping_database()
