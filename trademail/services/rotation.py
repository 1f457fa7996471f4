"""Master keys: which are in use and what each protects, online rotation (member keys and
system keys re-wrapped under a new key while the servers serve; messages are not touched),
and retiring a key nothing needs any more."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from trademail.crypto import Key, Keyring
from trademail.errors import MasterKeyError
from trademail.store import KeyStore, MailboxStore

BATCH = 500
PASSES = 5  # a last pass finds keys a server still wrapped under the old key meanwhile

Progress = Callable[[int, int], None]


class KeySource(Protocol):
    """Where the master keys come from (trademail/keysource.py)."""

    kind: str

    @property
    def writable(self) -> bool: ...

    @property
    def settle_seconds(self) -> float: ...

    async def load(self) -> list[Key]: ...

    def save(self, keys: list[Key]) -> None: ...


@dataclass(frozen=True)
class Rotated:
    """What a run of rotate-master did: the key everything is (or goes) under, whether it
    went on with a rotation begun before, how many member keys it re-wrapped, and whether
    it finished (not when told to stop between batches)."""

    key_id: str
    resumed: bool
    member_keys: int
    finished: bool


async def between_batches(walked: int, total: int, progress: Progress | None,
                          stopping: Callable[[], bool], pause: float,
                          sleep: Callable[[float], Awaitable[None]]) -> bool:
    """After a batch of a walk: tell `progress`, then whether to stop; else pause."""
    if progress:
        progress(walked, max(total, walked))
    if stopping():
        return True
    if pause:
        await sleep(pause)
    return False


@dataclass
class MasterRotation:
    """Rotate the master key with the servers running. The new key is written to the key
    file (current, the old one kept as retired) before anything is wrapped under it; the
    servers load it within one reload interval, and the rotation waits that long before it
    re-wraps, so every process can open what it re-wraps. Member keys are re-wrapped in
    batches, each a compare-and-set on the old value, so a sign-up or a second run
    meanwhile is never overwritten; then the system keys; then passes until nothing is
    left under another key. A run that stops (or is killed) is finished by the next."""

    store: KeyStore
    keyring: Keyring
    source: KeySource
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    # Told (old key ids, new key id) when a rotation finishes: the audit log's hook.
    on_rotated: Callable[[tuple[str, ...], str], Awaitable[None]] | None = None

    async def run(self, *, batch: int = BATCH, pause: float = 0.0,
                  progress: Progress | None = None,
                  stopping: Callable[[], bool] = lambda: False,
                  say: Callable[[str], None] = lambda _: None) -> Rotated:
        """Rotate (or finish a rotation begun before), `batch` member keys at a time with
        `pause` seconds between batches (to go easy on a busy database); stops after the
        batch it is in when `stopping()` says so."""
        masters = await self.source.load()
        self.keyring.replace_masters(masters)
        resumed = await self._left(masters[0]) > 0
        if resumed:
            say(f"a rotation to master key {masters[0].id.hex()} is unfinished: going on "
                "with it")
        elif not self.source.writable:
            raise MasterKeyError(
                f"everything is already under the current master key {masters[0].id.hex()}, "
                f"and the keys come from the {self.source.kind}, which TradeMail cannot "
                "write. Put a new key first in the keyring it gives (keep the old one after "
                "it; `trademail keys generate` prints a new key), let the servers load it, "
                "and run this again.")
        else:
            masters = [Key.generate(), *masters]
            self.source.save(masters)  # on disk before anything is wrapped under it
            self.keyring.replace_masters(masters)
            say(f"new master key {masters[0].id.hex()} written to the key file; the old one "
                "is kept as retired")
        say(f"waiting {self.source.settle_seconds:g} s for every server to load it")
        await self.sleep(self.source.settle_seconds)
        count = 0
        for _ in range(PASSES):
            walked, stopped = await self._walk(batch, pause, progress, stopping)
            count += walked
            if stopped:
                return Rotated(masters[0].id.hex(), resumed, count, finished=False)
            await self._system_keys()
            if not await self._left(masters[0]):
                break
        else:
            raise MasterKeyError(f"keys are still being wrapped under another master key "
                                 f"after {PASSES} passes: a server without key "
                                 f"{masters[0].id.hex()} is running; run this again")
        if self.on_rotated is not None:
            await self.on_rotated(tuple(k.id.hex() for k in masters[1:]), masters[0].id.hex())
        return Rotated(masters[0].id.hex(), resumed, count, finished=True)

    async def _left(self, current: Key) -> int:
        """How many keys (member keys, and system keys) are not under `current`."""
        system = await self.store.system_keys()
        return await self.store.member_keys_not_under(current.id) + sum(
            Keyring.wrapped_by(blob) != current.id.hex() for blob in system.values())

    async def _walk(self, size: int, pause: float, progress: Progress | None,
                    stopping: Callable[[], bool]) -> tuple[int, bool]:
        """One pass over every member: (keys re-wrapped, whether told to stop)."""
        total = await self.store.member_count()
        walked, count, after = 0, 0, ""
        while batch := await self.store.member_keys_after(after, size):
            keys = [(k.member_id, k.wrapped, new) for k in batch
                    if (new := self.keyring.rewrap_member_key(k.member_id, k.wrapped))]
            previous = [(k.member_id, k.previous, new) for k in batch if k.previous
                        and (new := self.keyring.rewrap_member_key(k.member_id, k.previous))]
            await self.store.swap_member_keys(keys)
            await self.store.swap_member_keys(previous, previous=True)
            count += len(keys)
            after = batch[-1].member_id
            walked += len(batch)
            if await between_batches(walked, total, progress, stopping, pause, self.sleep):
                return count, True
        return count, False

    async def _system_keys(self) -> None:
        stored = await self.store.system_keys()
        fresh = self.keyring.rewrap_system_keys(stored)
        await self.store.swap_system_keys([(name, stored[name], fresh[name]) for name in fresh])


@dataclass(frozen=True)
class KeyUse:
    """One master key and what it protects: the member keys wrapped under it (and through
    them every message in those mailboxes), the previous keys of members whose key is
    being rotated, and the system keys."""

    key_id: str
    state: str  # "current", "retired" (held, in the keyring) or "unknown" (not held)
    member_keys: int
    messages: int
    system_keys: tuple[str, ...]
    rotating_members: int = 0

    @property
    def needed(self) -> bool:
        return bool(self.member_keys or self.system_keys or self.rotating_members)


async def key_status(store: KeyStore, mailbox_store: MailboxStore, keyring: Keyring, *,
                     progress: Progress | None = None) -> list[KeyUse]:
    """Which master keys are in use and how much each protects; a key no longer used
    by anything can be retired. Walks the member keys in batches (`progress` as rotation)."""
    held = keyring.master_ids()
    members: dict[str, int] = {}
    messages: dict[str, int] = {}
    rotating: dict[str, int] = {}
    per_member = await mailbox_store.entries_per_member()
    walked, after = 0, ""
    total = await store.member_count() if progress else 0
    while batch := await store.member_keys_after(after, BATCH):
        for key in batch:
            key_id = keyring.wrapped_by(key.wrapped)
            members[key_id] = members.get(key_id, 0) + 1
            messages[key_id] = messages.get(key_id, 0) + per_member.get(key.member_id, 0)
            if key.previous:
                previous_id = keyring.wrapped_by(key.previous)
                rotating[previous_id] = rotating.get(previous_id, 0) + 1
        after = batch[-1].member_id
        walked += len(batch)
        if progress:
            progress(walked, max(total, walked))
    system: dict[str, list[str]] = {}
    for name, wrapped in sorted((await store.system_keys()).items()):
        system.setdefault(keyring.wrapped_by(wrapped), []).append(name)
    ids = list(dict.fromkeys([*held, *members, *system, *rotating]))
    return [KeyUse(i, "current" if i == held[0] else "retired" if i in held else "unknown",
                   members.get(i, 0), messages.get(i, 0), tuple(system.get(i, ())),
                   rotating.get(i, 0))
            for i in ids]


async def retire_master_key(store: KeyStore, mailbox_store: MailboxStore, keyring: Keyring,
                            source: KeySource, key_id: str, *,
                            progress: Progress | None = None) -> None:
    """Drop a retired master key from the keyring, once nothing is wrapped under it. The
    current key is never retired, and a key something still needs is refused, naming it."""
    masters = await source.load()
    keyring.replace_masters(masters)
    ids = [k.id.hex() for k in masters]
    if key_id.lower() not in ids:
        raise MasterKeyError(f"the keyring holds no master key {key_id} (it holds "
                             f"{', '.join(ids)})")
    if key_id.lower() == ids[0]:
        raise MasterKeyError(f"{key_id} is the current master key; rotate first "
                             "(`trademail keys rotate-master`), then retire the old one")
    use = next(u for u in await key_status(store, mailbox_store, keyring, progress=progress)
               if u.key_id == key_id.lower())
    if use.needed:
        needs = [f"{use.member_keys:,} member keys ({use.messages:,} messages)"
                 if use.member_keys else "", f"the system keys {', '.join(use.system_keys)}"
                 if use.system_keys else "", f"{use.rotating_members:,} members whose own "
                 "key rotation is unfinished" if use.rotating_members else ""]
        raise MasterKeyError(f"master key {key_id} is still needed by "
                             f"{'; '.join(n for n in needs if n)}: finish the rotation "
                             "(`trademail keys rotate-master`, and `trademail keys "
                             "rotate-member` for those members) and retire it then")
    if not source.writable:
        raise MasterKeyError(f"nothing needs master key {key_id} any more; the keys come "
                             f"from the {source.kind}: remove it there")
    source.save([k for k in masters if k.id.hex() != key_id.lower()])
