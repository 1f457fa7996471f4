"""Helpers for testing TradeMail and apps built on it: a clock that only moves when told."""

from __future__ import annotations


class FakeClock:
    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds
