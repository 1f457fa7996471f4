"""Files sealed as they stream in, a chunk at a time, so a large upload is never held whole.

Each file gets a key of its own. Every chunk is sealed under it with associated data that
names the upload, the chunk's place and whether it is the last one: a chunk dropped, moved,
swapped in from another file or cut off at the end fails to open. The key is then sealed as
a field of the message the file is attached to (`MessageCipher`), so a member opens the
file with the message.
"""

from __future__ import annotations

import hashlib

from trademail.crypto.keyring import ContentKey

CHUNK_BYTES = 256 * 1024


def _label(seq: int, last: bool) -> str:
    return f"chunk {seq} last" if last else f"chunk {seq}"


class StreamSealer:
    """Seals one file's chunks in order; knows its size and a digest of its bytes."""

    __slots__ = ("_digest", "key", "size", "upload_id")

    def __init__(self, upload_id: str) -> None:
        self.upload_id = upload_id
        self.key = ContentKey.generate()
        self.size = 0
        self._digest = hashlib.sha256()

    def seal(self, seq: int, data: bytes, *, last: bool) -> bytes:
        self.size += len(data)
        self._digest.update(data)
        return self.key.seal(self.upload_id, _label(seq, last), data)

    def digest(self) -> bytes:
        """SHA-256 of the bytes sealed so far (the whole file once the last is sealed)."""
        return self._digest.digest()


def open_chunk(key: ContentKey, upload_id: str, seq: int, blob: bytes, *, last: bool) -> bytes:
    """One chunk of a streamed file; DecryptionFailed if it is not that chunk of that file,
    or not the last one when `last` says it must be."""
    return key.open(upload_id, _label(seq, last), blob)
