"""Master key rotation: re-wrap member keys and system keys; messages are not touched."""

from __future__ import annotations

from collections.abc import Callable

from trademail.crypto import Key, Keyring
from trademail.store import KeyStore

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
