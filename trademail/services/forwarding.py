"""Forwarding inside TradeMail: a message from the member's mailbox sent on to others,
its text below theirs and its attachments with it, as mail clients forward.

The forwarded message shows its parties as every member sees them (company and username,
an outsider's name), never an address.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from trademail.errors import InvalidInput, NotFound
from trademail.services.identities import Party
from trademail.services.messages import Draft, Upload
from trademail.services.reading import Message, Reading

SEPARATOR = "---------- Forwarded message ----------"


def _who(party: Party) -> str:
    if party.external:
        return f"{party.company or 'Someone'} (outside TradeMail)"
    return f"{party.company} ({party.username})" if party.company else party.username


def _date(ts: float) -> str:
    when = dt.datetime.fromtimestamp(ts, dt.UTC)
    return f"{when:%a} {when.day} {when:%b %Y, %H:%M} UTC"


def forwarded_text(message: Message) -> str:
    """The forwarded message as it goes below the sender's own text."""
    head = [SEPARATOR, f"From: {_who(message.sender)}", f"Date: {_date(message.created_at)}",
            f"Subject: {message.subject}",
            f"To: {', '.join(_who(p) for p in message.recipients)}"]
    return "\n".join(head) + "\n\n" + message.body


def forward_subject(subject: str) -> str:
    return subject if subject.lower().startswith(("fwd:", "fw:")) else f"Fwd: {subject}"


async def with_forwarded(reading: Reading, member_id: str, draft: Draft) -> Draft:
    """The draft with the message it forwards (one of the member's, or InvalidInput)
    written out below its body and its attachments added; as it was when it forwards
    nothing."""
    if draft.forward_of is None:
        return draft
    try:
        message = await reading.read(member_id, draft.forward_of, mark_read=False)
    except NotFound:
        raise InvalidInput.one("forward_of", "no such message in your mailbox") from None
    uploads = []
    for info in message.attachments:
        _, data = await reading.attachment(member_id, message.id, info.n)
        uploads.append(Upload(info.filename, info.content_type, data))
    body = draft.body.rstrip()
    return dataclasses.replace(
        draft, subject=draft.subject or forward_subject(message.subject),
        body=(body + "\n\n" if body else "") + forwarded_text(message),
        attachments=(*draft.attachments, *uploads), forward_of=None)
