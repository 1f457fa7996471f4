"""The rows of a mailbox as the mailbox store takes and gives them: a new message, its
entries and attachments, an entry as read, and an idempotency key's claim."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NewAttachment:
    n: int
    size: int
    meta_ct: bytes
    data_ct: bytes  # the file, sealed; or, with `upload_id`, the key of its chunks
    upload_id: str | None = None  # a file streamed in (see store/uploads.py)


@dataclass(frozen=True)
class NewMessage:
    id: str
    thread_id: str
    in_reply_to: str | None
    sender_id: str
    recipient_ids: tuple[str, ...]
    created_at: float
    subject_ct: bytes
    body_ct: bytes
    snippet_ct: bytes
    attachments: tuple[NewAttachment, ...] = ()


@dataclass(frozen=True)
class NewEntry:
    member_id: str
    folder: str
    unread: bool
    content_key: bytes


@dataclass(frozen=True)
class EntryRow:
    """One message as it stands in one member's mailbox."""

    member_id: str
    message_id: str
    thread_id: str
    in_reply_to: str | None
    folder: str
    unread: bool
    content_key: bytes
    sender_id: str
    recipient_ids: tuple[str, ...]
    created_at: float
    subject_ct: bytes
    snippet_ct: bytes
    body_ct: bytes | None
    attachment_count: int


@dataclass(frozen=True)
class AttachmentRow:
    n: int
    size: int
    meta_ct: bytes
    data_ct: bytes | None
    upload_id: str | None = None


@dataclass(frozen=True)
class Idempotent:
    message_id: str
    thread_id: str
    fingerprint: bytes
    delivered: bool = True  # False while the first request is still writing it


@dataclass(frozen=True)
class Claim:
    """An idempotency key claimed for a message about to be written."""

    member_id: str
    key: str  # keyed: a client may put anything in it
    fingerprint: bytes  # a keyed digest of what the request asks to send
    message_id: str
    thread_id: str
