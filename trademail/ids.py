"""Time-ordered random ids (UUIDv7 layout, as 32 hex digits): unguessable and index-friendly."""

from __future__ import annotations

import os
import re
import threading

ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
_RAND_MASK = (1 << 74) - 1


class _Monotonic:
    """Ids from one process strictly increase, even within one millisecond (RFC 9562 §6.2)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = (0, 0)

    def next(self, millis: int) -> tuple[int, int]:
        rand = int.from_bytes(os.urandom(10), "big") & _RAND_MASK
        with self._lock:
            last_ms, last_rand = self._last
            if millis <= last_ms:
                # Same (or an earlier) millisecond: step the random part forward instead.
                millis, rand = last_ms, last_rand + 1 + (rand & 0xFFFFFFFF)
                if rand > _RAND_MASK:
                    millis, rand = last_ms + 1, rand & 0xFFFFFFFF
            self._last = (millis, rand)
        return millis, rand


_sequence = _Monotonic()


def new_id(now: float) -> str:
    """48 bits of milliseconds, version 7, variant, then 74 random bits."""
    millis, rand = _sequence.next(int(now * 1000) & ((1 << 48) - 1))
    value = (millis << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62)
    value |= rand & ((1 << 62) - 1)
    return f"{value:032x}"


def is_id(text: str) -> bool:
    return bool(ID_PATTERN.match(text))
