"""A member's whole mailbox, handed to them as an mbox file that mail clients import
(Thunderbird's ImportExportTools among them): written a message at a time, so a mailbox of
any size costs the memory of one message.

The same walk over the mailbox serves a lawful request (`Operator.mailbox`). The parties
are named by company and alias, never by a real address; the gateway's composer writes
each message (only the gateway builds mail).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from trademail.services.audit import MAILBOX_EXPORTED, Audit
from trademail.services.identities import Party
from trademail.services.reading import FOLDERS, AttachmentInfo, Message, Reading

PAGE = 200


@dataclass(frozen=True)
class Archived:
    """One message of a mailbox as handed over: the message and its attachments' bytes."""

    message: Message
    attachments: tuple[tuple[AttachmentInfo, bytes], ...]


class ArchiveWriter(Protocol):
    """Writes one archived message as an mbox entry (the gateway's composer)."""

    def mbox_entry(self, archived: Archived) -> bytes: ...


async def archived_messages(reading: Reading, member_id: str) -> AsyncIterator[Archived]:
    """Every message in the member's mailbox, folder by folder, oldest page last, one at a
    time with its attachments."""
    for folder in FOLDERS:
        cursor = None
        while True:
            page = await reading.page(member_id, folder=folder, cursor=cursor, limit=PAGE)
            for summary in page.items:
                message = await reading.read(member_id, summary.id, mark_read=False)
                yield Archived(message, tuple(
                    [await reading.attachment(member_id, message.id, info.n)
                     for info in message.attachments]))
            cursor = page.next_cursor
            if cursor is None:
                break


class MailboxExport:
    def __init__(self, reading: Reading, writer: ArchiveWriter, audit: Audit) -> None:
        self._audit = audit
        self._reading = reading
        self._writer = writer

    async def mbox(self, member_id: str) -> AsyncIterator[bytes]:
        """The member's mailbox as mbox, an entry at a time."""
        await self._audit.by_member(member_id, MAILBOX_EXPORTED, "mbox")
        async for archived in archived_messages(self._reading, member_id):
            yield self._writer.mbox_entry(archived)

    async def as_json(self, member_id: str) -> AsyncIterator[bytes]:
        """The member's mailbox as one JSON document, `{"messages": [...]}`, a message at a
        time, attachments in base64."""
        await self._audit.by_member(member_id, MAILBOX_EXPORTED, "JSON")
        yield b'{"messages": ['
        first = True
        async for archived in archived_messages(self._reading, member_id):
            yield (b"" if first else b",") + b"\n" + json.dumps(
                message_record(archived), ensure_ascii=False).encode()
            first = False
        yield b"\n]}\n"


def _party(party: Party) -> dict[str, object]:
    return {"company": party.company, "username": party.username, "alias": party.alias,
            "outside_trademail": party.external}


def message_record(archived: Archived) -> dict[str, object]:
    """One message as the JSON export writes it: parties by name and alias, never by a
    real address; times in UTC."""
    message = archived.message
    return {
        "id": message.id, "thread_id": message.thread_id, "folder": message.folder,
        "in_reply_to": message.in_reply_to,
        "created_at": dt.datetime.fromtimestamp(message.created_at, dt.UTC).isoformat(),
        "from": _party(message.sender), "to": [_party(p) for p in message.recipients],
        "subject": message.subject, "body": message.body,
        "attachments": [{"filename": info.filename, "content_type": info.content_type,
                         "size": info.size, "base64": base64.b64encode(data).decode()}
                        for info, data in archived.attachments]}
