"""Argon2id password hashing in a bounded worker pool, never on the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

HASHING_NICENESS = 10


def _yield_to_the_event_loop() -> None:
    """Run this hashing thread (and the lanes Argon2 starts from it) at a lower priority
    than the event loop, so a storm of sign-ins takes the spare CPU and leaves every other
    request its time. On Linux a thread has a niceness of its own; elsewhere this would
    lower the whole process, so it is left alone."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


class PasswordHasher:
    """Hash and verify with Argon2id; at most `workers` hashes (and their memory) at once."""

    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int, workers: int) -> None:
        self._argon2 = _Argon2(time_cost=time_cost, memory_cost=memory_kib,
                               parallelism=parallelism, type=Type.ID)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2",
                                        initializer=_yield_to_the_event_loop)
        # Verified when the username is unknown, so a miss costs what a hit costs.
        self._decoy = self._argon2.hash(secrets.token_urlsafe(24))

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self._argon2.hash, password)

    async def verify(self, stored: str | None, password: str) -> tuple[bool, str | None]:
        """(matches, new hash when the stored one used other parameters)."""
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self._verify, stored, password)

    def _verify(self, stored: str | None, password: str) -> tuple[bool, str | None]:
        try:
            self._argon2.verify(stored or self._decoy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False, None
        if stored is None:
            return False, None
        if self._argon2.check_needs_rehash(stored):
            return True, self._argon2.hash(password)
        return True, None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
