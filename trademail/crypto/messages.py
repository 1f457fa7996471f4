"""How the parts of one message are sealed under its content key: one codec, so the label
that binds each ciphertext to its message and field (the associated data) is written in one
place, for sealing and for opening alike."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from trademail.crypto.keyring import ContentKey
from trademail.crypto.streams import StreamSealer

SUBJECT = "subject"
BODY = "body"
SNIPPET = "snippet"


def _meta_label(n: int) -> str:
    return f"attachment {n} meta"


def _data_label(n: int) -> str:
    return f"attachment {n}"


def _key_label(n: int) -> str:
    return f"attachment {n} key"


@dataclass(frozen=True)
class SealedAttachment:
    n: int
    size: int
    meta_ct: bytes  # its filename and content type
    data_ct: bytes


@dataclass(frozen=True)
class SealedMessage:
    subject_ct: bytes
    body_ct: bytes
    snippet_ct: bytes
    attachments: tuple[SealedAttachment, ...]


class MessageCipher:
    """Seals and opens the fields of message `message_id` under its content key."""

    __slots__ = ("_key", "_message_id")

    def __init__(self, key: ContentKey, message_id: str) -> None:
        self._key = key
        self._message_id = message_id

    def _seal(self, label: str, data: bytes) -> bytes:
        return self._key.seal(self._message_id, label, data)

    def _open(self, label: str, blob: bytes) -> bytes:
        return self._key.open(self._message_id, label, blob)

    def seal(self, *, subject: str, body: str, snippet: str,
             attachments: Sequence[tuple[str, str, bytes | StreamSealer]]) -> SealedMessage:
        """Every field of a new message; attachments as (filename, content type, data),
        numbered from 1. A file streamed in (a StreamSealer) is sealed already, chunk by
        chunk: its key is sealed here in place of its data."""
        return SealedMessage(
            subject_ct=self._seal(SUBJECT, subject.encode()),
            body_ct=self._seal(BODY, body.encode()),
            snippet_ct=self._seal(SNIPPET, snippet.encode()),
            attachments=tuple(
                SealedAttachment(n, content.size if isinstance(content, StreamSealer)
                                 else len(content), self._seal(_meta_label(n), json.dumps(
                                     {"filename": filename,
                                      "content_type": content_type}).encode()),
                                 self._key.wrap_key(self._message_id, _key_label(n),
                                                    content.key)
                                 if isinstance(content, StreamSealer)
                                 else self._seal(_data_label(n), content))
                for n, (filename, content_type, content) in enumerate(attachments, start=1)))

    def subject(self, blob: bytes) -> str:
        return self._open(SUBJECT, blob).decode()

    def body(self, blob: bytes) -> str:
        return self._open(BODY, blob).decode()

    def snippet(self, blob: bytes) -> str:
        return self._open(SNIPPET, blob).decode()

    def attachment_meta(self, n: int, blob: bytes) -> tuple[str, str]:
        """(filename, content type) of attachment `n`."""
        meta = json.loads(self._open(_meta_label(n), blob))
        return str(meta["filename"]), str(meta["content_type"])

    def attachment(self, n: int, blob: bytes) -> bytes:
        return self._open(_data_label(n), blob)

    def stream_key(self, n: int, blob: bytes) -> ContentKey:
        """The key of attachment `n` when it was streamed in (see `streams`)."""
        return self._key.unwrap_key(self._message_id, _key_label(n), blob)
