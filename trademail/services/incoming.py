"""Incoming mail as the inbound service sees it: already read by the gateway (which alone
knows MIME), as plain data, and the worker that takes a member's address out of one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from trademail.errors import InvalidInput
from trademail.services.messages import Upload


@dataclass(frozen=True)
class Part:
    filename: str
    content_type: str
    data: bytes
    charset: str = ""  # as declared by the mail, for text; "" when it declares none


@dataclass(frozen=True)
class Extracted:
    subject: str
    body: str
    attachments: tuple[Part, ...]


@dataclass(frozen=True)
class ReadMail:
    """All the inbound service uses of one mail: read once, whatever the number of
    recipients, with what its headers mean already worked out by the gateway."""

    received: int  # Received fields: hops so far
    addresses: dict[str, tuple[tuple[str, str], ...]]  # (name, address) of the address fields
    text: Extracted | None  # None when the MIME structure cannot be read
    problem: str = ""  # why `text` is None
    message_id: str = ""  # its Message-ID as written ("" when it has none): its identity
    reply_ref: str = ""  # its Message-ID when fit to name in an answer's headers, else ""
    answers: str = ""  # the id of the message of ours it answers, if it names one
    automatic: bool = False  # an auto-reply, a list's mail or a report (RFC 3834, 3462)
    bounce_status: str = ""  # a bounce's enhanced status code (RFC 3463), see `bounces`
    dmarc_pass: str = ""  # the From domain the trusted upstream says passed DMARC, if any
    # DMARC failed by the gateway's own checks and the From domain publishes p=reject
    dmarc_reject: bool = False


@dataclass(frozen=True)
class Scrubbed:
    """A mail's text with addresses taken out, and the parts that had to go."""

    subject: str
    body: str
    attachments: tuple[Part, ...]
    removed: tuple[str, ...]  # (scrubbed) names of the parts removed for naming an address


class MailWorker(Protocol):
    """Takes addresses out of a mail, in every spelling and every part (the gateway's)."""

    async def scrub(self, text: Extracted, addresses: Sequence[str], replacement: str, *,
                    cautious: bool = True) -> Scrubbed: ...


def is_automatic(mail: ReadMail, mail_from: str) -> bool:
    """Mail nobody is ever mailed about: the null sender's, and what the mail says is
    automatic (auto-replies, lists' mail, reports)."""
    return not mail_from or mail.automatic


def readable(mail: ReadMail) -> Extracted:
    """The mail's text, or InvalidInput saying why it cannot be read."""
    if mail.text is None:
        raise InvalidInput.one("message", mail.problem or "the MIME structure cannot be read")
    return mail.text


def uploads(parts: Sequence[Part]) -> tuple[Upload, ...]:
    """A mail's (scrubbed) attachments, as the mailbox takes them."""
    return tuple(Upload(part.filename, part.content_type, part.data) for part in parts)
