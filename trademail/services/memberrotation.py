"""Rotating one member's key online: a new member key, every content key of theirs (mailbox
entries, drafts) re-wrapped under it, and their word index rebuilt under it, while mail
keeps arriving and they keep reading and searching."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from trademail.crypto import Keyring, MemberKey, MessageCipher
from trademail.errors import Conflict, NotFound
from trademail.services import validation
from trademail.services.rotation import between_batches
from trademail.store import CorrespondentStore, KeyStore, MailboxStore, MemberStore

BATCH = 500
PASSES = 5
# A send that read the member's key just before the rotation began may still write under
# the previous key; the last check waits this long for it before the previous key goes.
SETTLE_SECONDS = 60.0  # longer than any send that read the old key can take to land


@dataclass(frozen=True)
class MemberRotated:
    messages: int
    drafts: int
    finished: bool


@dataclass
class MemberRotation:
    """While it runs the member's row holds both keys (`previous_member_key`): every
    content key opens under the key its wrap names, new mail is wrapped and indexed under
    the new key, and search looks each word up under both. Batches re-wrap each entry's
    content key by compare-and-set and rewrite its word tokens in the same transaction;
    when nothing is left under the previous key, it is forgotten. Run again, it resumes."""

    keys: KeyStore
    members: MemberStore
    mailbox: MailboxStore
    correspondents: CorrespondentStore
    keyring: Keyring
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def run(self, username: str, *, batch: int = BATCH, pause: float = 0.0,
                  settle: float = SETTLE_SECONDS,
                  progress: Callable[[int, int], None] | None = None,
                  stopping: Callable[[], bool] = lambda: False) -> MemberRotated:
        """Rotate the member's key (or finish a rotation begun before), `batch` messages
        at a time with `pause` seconds between batches; stops after the batch it is in
        when `stopping()` says so. The previous key goes only once nothing has been under
        it for `settle` seconds: a send that read it before the rotation began lands, and
        is re-wrapped, within that."""
        member = await self.members.member_by_username(username)
        if member is None:
            raise NotFound()
        if member.previous_member_key is None:
            _, wrapped = self.keyring.new_member_key(member.id)
            if not await self.keys.begin_member_rotation(member.id, member.member_key,
                                                         wrapped):
                raise Conflict("the member's key changed meanwhile; run this again")
            member = await self.members.member_by_id(member.id)
        assert member is not None and member.previous_member_key is not None
        key = self.keyring.member_key(member.id, member.member_key, member.previous_member_key)
        messages = drafts = 0
        for _ in range(PASSES):
            done, stopped = await self._walk(key, batch, pause, progress, stopping)
            messages += done
            if stopped:
                return MemberRotated(messages, drafts, finished=False)
            drafts += await self._drafts(key)
            if not await self.keys.keys_not_under(member.id, key.key_id):
                await self.sleep(settle)
                if not await self.keys.keys_not_under(member.id, key.key_id):
                    break
        else:
            raise Conflict("content keys are still being wrapped under the member's "
                           "previous key; run this again")
        if not await self.keys.finish_member_rotation(member.id, member.previous_member_key):
            raise Conflict("the member's previous key was re-wrapped meanwhile (a master-key "
                           "rotation); run this again to finish")
        return MemberRotated(messages, drafts, finished=True)

    async def _walk(self, key: MemberKey, size: int, pause: float,
                    progress: Callable[[int, int], None] | None,
                    stopping: Callable[[], bool]) -> tuple[int, bool]:
        """One pass over the member's mailbox: (entries re-keyed, whether told to stop)."""
        total = await self.keys.message_count(key.member_id)
        walked, count, after = 0, 0, ""
        while rows := await self.keys.messages_after(key.member_id, after, size):
            names = await self._names({i for r in rows for i in (r.sender_id,
                                                                 *r.recipient_ids)})
            metas = await self.mailbox.attachment_lists(key.member_id,
                                                        [r.message_id for r in rows])
            swaps = []
            for row in rows:
                new = key.rewrap_content_key(row.content_key, row.message_id)
                if new is None:
                    continue
                cipher = MessageCipher(key.unwrap_content_key(row.content_key,
                                                              row.message_id), row.message_id)
                words = validation.words(
                    cipher.subject(row.subject_ct), cipher.body(row.body_ct),
                    *(cipher.attachment_meta(a.n, a.meta_ct)[0]
                      for a in metas.get(row.message_id, ())),
                    *(names.get(i, "") for i in (row.sender_id, *row.recipient_ids)))
                swaps.append((row.message_id, row.content_key, new,
                              [key.word_token(w) for w in sorted(words)]))
            count += await self.keys.rekey_messages(key.member_id, swaps)
            after = rows[-1].message_id
            walked += len(rows)
            if await between_batches(walked, total, progress, stopping, pause, self.sleep):
                return count, True
        return count, False

    async def _names(self, ids: set[str]) -> dict[str, str]:
        """What the word index holds of each party, as sending indexed it: a member's
        username and company, an outside correspondent's name."""
        members = await self.members.members_by_ids(sorted(ids))
        names = {i: f"{m.username} {m.company}" for i, m in members.items()}
        outside = await self.correspondents.correspondents_by_ids(sorted(ids - set(names)))
        names |= {i: self.keyring.open_field(i, "name", c.name_ct) for i, c in outside.items()}
        return names

    async def _drafts(self, key: MemberKey) -> int:
        swaps: Sequence[tuple[str, bytes, bytes]] = [
            (draft_id, wrapped, new) for draft_id, wrapped in await self.keys.draft_keys(
                key.member_id)
            if (new := key.rewrap_content_key(wrapped, f"draft {draft_id}")) is not None]
        await self.keys.swap_draft_keys(key.member_id, swaps)
        return len(swaps)
