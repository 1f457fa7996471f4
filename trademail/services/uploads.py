"""Files streamed in: sealed and stored a chunk at a time as they arrive, so a large
attachment is never held whole, and read back a chunk at a time when it is downloaded.

A door hands `stage` the file's bytes as they come; what it gets back goes into the draft
(`Upload.streamed`). A file whose message is refused is discarded; one whose send never
finished is forgotten by housekeeping.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Sequence

from trademail.clock import Clock
from trademail.crypto import CHUNK_BYTES, ContentKey, DecryptionFailed, StreamSealer, open_chunk
from trademail.errors import Damaged, TooLarge
from trademail.ids import new_id
from trademail.services.messages import Upload
from trademail.store import UploadStore


class Uploads:
    def __init__(self, upload_store: UploadStore, clock: Clock, *, max_bytes: int) -> None:
        self._store = upload_store
        self._clock = clock
        self._max_bytes = max_bytes

    async def stage(self, member_id: str, pieces: AsyncIterable[bytes], *,
                    field: str) -> StreamSealer:
        """Seal and store a file as its bytes arrive, in chunks of CHUNK_BYTES; TooLarge
        (and nothing kept) past the attachment limit."""
        sealer = StreamSealer(new_id(self._clock.now()))
        pending, seq = bytearray(), 0
        try:
            async for piece in pieces:
                pending += piece
                if sealer.size + len(pending) > self._max_bytes:
                    raise TooLarge.one(field, f"is larger than {self._max_bytes} bytes")
                while len(pending) > CHUNK_BYTES:  # one chunk kept back: the last is marked
                    await self._put(sealer, member_id, seq, bytes(pending[:CHUNK_BYTES]),
                                    last=False)
                    del pending[:CHUNK_BYTES]
                    seq += 1
            await self._put(sealer, member_id, seq, bytes(pending), last=True)
        except BaseException:
            await self.discard(sealer)
            raise
        return sealer

    async def _put(self, sealer: StreamSealer, member_id: str, seq: int, data: bytes, *,
                   last: bool) -> None:
        await self._store.add_chunk(sealer.upload_id, seq, member_id,
                                    sealer.seal(seq, data, last=last), self._clock.now())

    async def discard(self, sealer: StreamSealer) -> None:
        """A staged file that no message will take."""
        await self._store.discard(sealer.upload_id)

    async def discard_all(self, uploads: Sequence[Upload]) -> None:
        """The files streamed in for a draft that will not be sent."""
        for upload in uploads:
            if upload.streamed is not None:
                await self.discard(upload.streamed)

    async def chunks(self, upload_id: str, key: ContentKey) -> AsyncIterator[bytes]:
        """A streamed file's bytes, a chunk at a time; the last one must say it is last, so
        a file cut short fails rather than reads as complete."""
        last = await self._store.last_seq(upload_id)
        if last is None:
            raise Damaged("the file's chunks are gone")
        for seq in range(last + 1):
            blob = await self._store.chunk(upload_id, seq)
            if blob is None:
                raise Damaged(f"chunk {seq} of a file is missing")
            try:
                yield open_chunk(key, upload_id, seq, blob, last=seq == last)
            except DecryptionFailed:
                raise Damaged(f"chunk {seq} of a file is not the one sealed there") from None

    async def read_all(self, upload_id: str, key: ContentKey) -> bytes:
        """A streamed file whole: for the few uses that need it so (a mail to someone
        outside TradeMail carries it)."""
        return b"".join([chunk async for chunk in self.chunks(upload_id, key)])

    async def forget_unsent(self, older_than: float) -> None:
        await self._store.forget_unsent(older_than)
