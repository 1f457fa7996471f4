"""The shapes a message takes between doors and services: a draft to send, what was sent,
and an attachment as it comes in."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from trademail.crypto import StreamSealer


@dataclass(frozen=True)
class Upload:
    """An attachment as a member or a mail brings it: name, type and bytes; or, for a file
    streamed in (see `uploads`), its sealed chunks, already stored."""

    filename: str
    content_type: str
    data: bytes = b""
    streamed: StreamSealer | None = None

    @property
    def size(self) -> int:
        return self.streamed.size if self.streamed is not None else len(self.data)


@dataclass(frozen=True)
class Draft:
    """A message a member wants to send, as a door parsed it. `to` holds usernames or
    aliases; left empty on a reply, it answers the other side of `in_reply_to` (with
    `reply_all`, everyone in it). `forward_of` names a message of the sender's to send on,
    with its attachments, below the body (see `forwarding`)."""

    to: tuple[str, ...]
    subject: str
    body: str
    attachments: tuple[Upload, ...] = ()
    in_reply_to: str | None = None
    idempotency_key: str | None = None
    forward_of: str | None = None
    reply_all: bool = False


def draft_key() -> str:
    """An idempotency key for a compose form: sent with the form, so a form sent twice (a
    double click, a reload) sends one message."""
    return secrets.token_urlsafe(24)


def recipient_list(text: str) -> tuple[str, ...]:
    """The names a form's To field holds: separated by commas or semicolons."""
    return tuple(part.strip() for part in text.replace(";", ",").split(",") if part.strip())


@dataclass(frozen=True)
class Sent:
    id: str
    thread_id: str
    replayed: bool = False
