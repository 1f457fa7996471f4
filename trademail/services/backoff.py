"""How long a throttled action waits: the pure arithmetic of sign-in back-off and lockout,
apart from the counts the store keeps (services/members.py counts and asks)."""

from __future__ import annotations

from collections.abc import Sequence

from trademail.config import AuthConfig

State = dict[str, tuple[int, float]]  # subject: (failures, last attempt)
Decision = tuple[float, set[str]]     # (seconds to wait, subjects whose count starts over)


def backoff_until(failures: int, last: float, *, free: int, longest: float) -> float:
    """Each failure past the free ones doubles the wait, up to `longest`."""
    if failures < free:
        return 0.0
    return last + min(2.0 ** min(failures - free, 32), longest)


def subject_wait(entry: tuple[int, float], subject: str, now: float, auth: AuthConfig, *,
                 free: int, most: int | None = None) -> Decision:
    """One subject's wait: `free` failures, then back-off; past `most`, none for
    lockout_seconds; a count quiet for lockout_seconds starts over."""
    count, last = entry
    lockout = auth.lockout_seconds
    if count and now > last + lockout:
        return 0.0, {subject}
    if most is not None and count >= most:
        return last + lockout - now, set()
    until = backoff_until(count, last, free=free, longest=auth.max_backoff_seconds)
    return max(0.0, until - now), set()


def signin_wait(state: State, subjects: Sequence[str], now: float,
                auth: AuthConfig) -> Decision:
    """A password try's wait: the account's (or a device cookie's) back-off and lock, and
    the client address's back-off when there is one."""
    account, client = subjects[0], subjects[-1]
    wait, resets = subject_wait(state[account], account, now, auth,
                                free=auth.account_free_failures,
                                most=auth.account_max_failures)
    if client != account:
        client_wait, client_resets = subject_wait(state[client], client, now, auth,
                                                  free=auth.client_free_failures)
        wait, resets = max(wait, client_wait), resets | client_resets
    return wait, resets
