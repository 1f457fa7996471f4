"""Incoming mail as the inbound service sees it: already read by the gateway (which alone
knows MIME), as plain data, and the worker that takes a member's address out of one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


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
    recipients."""

    received: int  # Received fields: hops so far
    fields: dict[str, str]  # clean single values of some fields, by lower-case name
    addresses: dict[str, tuple[tuple[str, str], ...]]  # (name, address) of the address fields
    text: Extracted | None  # None when the MIME structure cannot be read
    problem: str = ""  # why `text` is None
    bounce_status: str = ""  # a bounce's enhanced status code (RFC 3463), see `bounces`
    is_report: bool = False  # a multipart/report (a bounce or a read receipt)
    dmarc_pass: str = ""  # the From domain the trusted upstream says passed DMARC, if any

    def get(self, name: str) -> str:
        return self.fields.get(name.lower(), "")


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
