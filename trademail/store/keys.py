"""The keys the master key wraps: system keys, and member keys for a rotation to walk.
Every change to a wrapped key is a compare-and-set on the value it replaces, so two
rotations, or a rotation and a sign-up, never overwrite each other's work."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from trademail.store.db import Database


@dataclass(frozen=True)
class KeyedMessage:
    """A message in a member's mailbox as a member-key rotation sees it: its content key
    (wrapped under the member key) and what its word index is made of, sealed."""

    message_id: str
    content_key: bytes
    subject_ct: bytes
    body_ct: bytes
    sender_id: str
    recipient_ids: tuple[str, ...]


@dataclass(frozen=True)
class WrappedMemberKey:
    member_id: str
    wrapped: bytes
    previous: bytes | None  # the key before a member-key rotation still running


def _id_of(column: str) -> str:
    """SQL for the master key id inside a wrapped key (bytes 2 to 9; see crypto/aead.py)."""
    return f"substr({column}, 2, 8)"


class KeyStore:
    """Wrapped keys only; nothing here can open them."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def system_keys(self) -> dict[str, bytes]:
        rows = await self.db.fetch("SELECT name, wrapped FROM system_keys")
        return {r["name"]: bytes(r["wrapped"]) for r in rows}

    async def swap_system_keys(self, swaps: Sequence[tuple[str, bytes, bytes]]) -> None:
        """(name, old, new): each key replaced only if it is still `old`."""
        if swaps:
            await self.db.executemany(
                "UPDATE system_keys SET wrapped = $3 WHERE name = $1 AND wrapped = $2", swaps)

    async def init_system_keys(self, wrapped: dict[str, bytes]) -> dict[str, bytes]:
        """Store new system keys unless another process already did; return what is stored."""
        await self.db.executemany(
            "INSERT INTO system_keys (name, wrapped) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            list(wrapped.items()))
        return await self.system_keys()

    async def member_count(self) -> int:
        return int(await self.db.fetchval("SELECT count(*) FROM members"))

    async def member_keys_after(self, after: str, limit: int) -> list[WrappedMemberKey]:
        """Wrapped member keys in id order, for a rotation that walks them in batches."""
        rows = await self.db.fetch("SELECT id, member_key, previous_member_key FROM members "
                                   "WHERE id > $1 ORDER BY id LIMIT $2", after, limit)
        return [WrappedMemberKey(r["id"], bytes(r["member_key"]),
                                 None if r["previous_member_key"] is None
                                 else bytes(r["previous_member_key"])) for r in rows]

    async def member_keys_not_under(self, master_id: bytes) -> int:
        """How many member keys (and previous keys of rotating members) are wrapped under
        another master than `master_id`."""
        return int(await self.db.fetchval(
            f"SELECT count(*) FROM members WHERE {_id_of('member_key')} <> $1 OR "
            f"(previous_member_key IS NOT NULL AND {_id_of('previous_member_key')} <> $1)",
            master_id))

    async def swap_member_keys(self, swaps: Sequence[tuple[str, bytes, bytes]], *,
                               previous: bool = False) -> None:
        """(member id, old, new): each member key (or, with `previous`, the previous key of
        a rotating member) replaced only if it is still `old`."""
        column = "previous_member_key" if previous else "member_key"
        if swaps:
            await self.db.executemany(
                f"UPDATE members SET {column} = $3 WHERE id = $1 AND {column} = $2", swaps)

    async def begin_member_rotation(self, member_id: str, old: bytes, new: bytes) -> bool:
        """Make `new` the member's key and keep `old` as the previous one, unless the key
        changed meanwhile or a rotation of theirs is already running."""
        return bool(await self.db.write(
            "UPDATE members SET previous_member_key = member_key, member_key = $3 "
            "WHERE id = $1 AND member_key = $2 AND previous_member_key IS NULL RETURNING id",
            member_id, old, new))

    async def finish_member_rotation(self, member_id: str, previous: bytes) -> bool:
        """Forget the previous key: nothing is wrapped or indexed under it any more."""
        return bool(await self.db.write(
            "UPDATE members SET previous_member_key = NULL WHERE id = $1 AND "
            "previous_member_key = $2 RETURNING id", member_id, previous))

    async def rotating_members(self) -> list[WrappedMemberKey]:
        """The members whose key rotation has not finished."""
        rows = await self.db.fetch("SELECT id, member_key, previous_member_key FROM members "
                                   "WHERE previous_member_key IS NOT NULL ORDER BY id")
        return [WrappedMemberKey(r["id"], bytes(r["member_key"]),
                                 bytes(r["previous_member_key"])) for r in rows]

    # ---------------------------------------------- what a member key wraps and keys

    async def messages_after(self, member_id: str, after: str,
                             limit: int) -> list[KeyedMessage]:
        """The member's mailbox in message id order, for a member-key rotation's batches."""
        rows = await self.db.fetch(
            "SELECT e.message_id, e.content_key, m.subject_ct, m.body_ct, m.sender_id, "
            "m.recipient_ids FROM mailbox e JOIN messages m ON m.id = e.message_id "
            "WHERE e.member_id = $1 AND e.message_id > $2 ORDER BY e.message_id LIMIT $3",
            member_id, after, limit)
        return [KeyedMessage(r["message_id"], bytes(r["content_key"]), bytes(r["subject_ct"]),
                             bytes(r["body_ct"]), r["sender_id"],
                             tuple(json.loads(r["recipient_ids"]))) for r in rows]

    async def message_count(self, member_id: str) -> int:
        return int(await self.db.fetchval("SELECT count(*) FROM mailbox WHERE member_id = $1",
                                          member_id))

    async def rekey_messages(self, member_id: str,
                             swaps: Sequence[tuple[str, bytes, bytes, Sequence[bytes]]]) -> int:
        """(message id, old wrapped content key, new, the word tokens under the new member
        key): each entry's key replaced if it is still `old`, and its word index with it,
        in one transaction; how many were."""
        done = 0
        async with self.db.transaction() as tx:
            for message_id, old, new, tokens in swaps:
                if not await tx.fetch(
                        "UPDATE mailbox SET content_key = $3 WHERE member_id = $1 AND "
                        "message_id = $2 AND content_key = $4 RETURNING message_id",
                        member_id, message_id, new, old):
                    continue
                await tx.execute("DELETE FROM word_index WHERE member_id = $1 AND "
                                 "message_id = $2", member_id, message_id)
                if tokens:
                    await tx.executemany(
                        "INSERT INTO word_index (member_id, token, message_id) "
                        "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                        [(member_id, token, message_id) for token in tokens])
                done += 1
        return done

    async def draft_keys(self, member_id: str) -> list[tuple[str, bytes]]:
        """(draft id, its content key wrapped under the member key) of the member's drafts."""
        rows = await self.db.fetch("SELECT id, content_key FROM drafts WHERE member_id = $1",
                                   member_id)
        return [(r["id"], bytes(r["content_key"])) for r in rows]

    async def swap_draft_keys(self, member_id: str,
                              swaps: Sequence[tuple[str, bytes, bytes]]) -> None:
        if swaps:
            await self.db.executemany(
                "UPDATE drafts SET content_key = $4 WHERE member_id = $1 AND id = $2 AND "
                "content_key = $3", [(member_id, *swap) for swap in swaps])

    async def keys_not_under(self, member_id: str, member_key_id: bytes) -> int:
        """How many of the member's content keys (mailbox and drafts) are wrapped under
        another member key than `member_key_id`."""
        return int(await self.db.fetchval(
            f"SELECT (SELECT count(*) FROM mailbox WHERE member_id = $1 AND "
            f"{_id_of('content_key')} <> $2) + (SELECT count(*) FROM drafts WHERE "
            f"member_id = $1 AND {_id_of('content_key')} <> $2)", member_id, member_key_id))
