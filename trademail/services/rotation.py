"""Master keys: which are in use and what each protects, and rotation (re-wrap member keys
and system keys; messages are not touched)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from trademail.crypto import Key, Keyring
from trademail.store import KeyStore, MailboxStore

BATCH = 500


async def rotate_master_key(store: KeyStore, keyring: Keyring, new: Key, *,
                            progress: Callable[[int, int], None] | None = None) -> int:
    """Wrap every member key and the system keys under `new`; the number of member keys
    re-wrapped. Work grows with members, not messages. Run it with the servers stopped: a
    member signing up meanwhile could keep a key under the old master. If it stops early,
    run it again before starting a server: keys already under `new` are skipped, but a
    server with only the old key cannot open the members already re-wrapped. `progress` is
    told (members walked, members in all) after each batch."""
    rotated = keyring.rotating_to(new)
    count, walked, after = 0, 0, ""
    total = await store.member_count() if progress else 0
    while batch := await store.member_keys_after(after, BATCH):
        changed = [(member_id, rewrapped) for member_id, wrapped in batch
                   if (rewrapped := rotated.rewrap_member_key(member_id, wrapped)) is not None]
        await store.set_member_keys(changed)
        count += len(changed)
        after = batch[-1][0]
        walked += len(batch)
        if progress:
            progress(walked, max(total, walked))
    # Last, so a run that stops early leaves the database opening with the old key.
    await store.replace_system_keys(rotated.wrapped_system_keys())
    return count


@dataclass(frozen=True)
class KeyUse:
    """One master key and what it protects: the member keys wrapped under it (and through
    them every message in those mailboxes) and the system keys."""

    key_id: str
    state: str  # "active", "retired" (configured, still held) or "unknown" (not held)
    member_keys: int
    messages: int
    system_keys: tuple[str, ...]


async def key_status(store: KeyStore, mailbox_store: MailboxStore, keyring: Keyring, *,
                     progress: Callable[[int, int], None] | None = None) -> list[KeyUse]:
    """Which master keys are in use and how much each protects; a key no longer used
    by anything can be retired. Walks the member keys in batches (`progress` as rotation)."""
    held = keyring.master_ids()
    members: dict[str, int] = {}
    messages: dict[str, int] = {}
    per_member = await mailbox_store.entries_per_member()
    walked, after = 0, ""
    total = await store.member_count() if progress else 0
    while batch := await store.member_keys_after(after, BATCH):
        for member_id, wrapped in batch:
            key_id = keyring.wrapped_by(wrapped)
            members[key_id] = members.get(key_id, 0) + 1
            messages[key_id] = messages.get(key_id, 0) + per_member.get(member_id, 0)
        after = batch[-1][0]
        walked += len(batch)
        if progress:
            progress(walked, max(total, walked))
    system: dict[str, list[str]] = {}
    for name, wrapped in sorted((await store.system_keys()).items()):
        system.setdefault(keyring.wrapped_by(wrapped), []).append(name)
    ids = list(dict.fromkeys([*held, *members, *system]))
    return [KeyUse(i, "active" if i == held[0] else "retired" if i in held else "unknown",
                   members.get(i, 0), messages.get(i, 0), tuple(system.get(i, ())))
            for i in ids]
