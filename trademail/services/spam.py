"""Spam scoring of mail to aliases: what a spam filter answers, and what the scores mean.

The filter itself (Rspamd over HTTP) is a door-side client behind `SpamFilter`; the rules
are here: at or above the reject score a mail is refused (nothing stored), from the spam
score it goes to the member's Spam folder (nobody told), below it to the inbox.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from trademail.errors import InvalidInput, SpamRefused
from trademail.services.reading import Message, Reading

# What a rule's name may be to be quoted in a refusal: Rspamd's are upper-case words.
_RULE_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_ACTIONS = ("reject", "soft reject", "rewrite subject", "add header", "greylist", "no action")


@dataclass(frozen=True)
class SpamEnvelope:
    """What the filter is told besides the mail: the client's address and greeting, the
    envelope sender and recipients."""

    ip: str
    helo: str
    mail_from: str
    recipients: tuple[str, ...]


@dataclass(frozen=True)
class SpamVerdict:
    """The filter's answer: its score, its own action, and the rules that scored (name,
    score)."""

    score: float
    action: str = ""
    rules: tuple[tuple[str, float], ...] = ()

    def summary(self) -> str:
        """The reason, in words safe to send back: the action and the highest rules."""
        action = self.action if self.action in _ACTIONS else "spam"
        names = [name for name, score in sorted(self.rules, key=lambda r: -r[1])
                 if score > 0 and _RULE_NAME.fullmatch(name)][:5]
        return f"{action} (score {self.score:.1f}" + (
            f": {', '.join(names)})" if names else ")")


class SpamFilter(Protocol):
    """A spam filter: scores a mail (raising MailDeferred("spam_unchecked") when it cannot
    answer) and learns from members' corrections."""

    async def score(self, raw: bytes, envelope: SpamEnvelope) -> SpamVerdict: ...

    async def learn(self, raw: bytes, *, spam: bool) -> bool: ...


@dataclass(frozen=True)
class SpamPolicy:
    """The thresholds, from config."""

    reject_score: float
    spam_score: float

    def judge(self, verdict: SpamVerdict) -> bool:
        """Whether the mail is spam to be filed (True) or clean (False); raises SpamRefused
        when it is to be refused."""
        if verdict.score >= self.reject_score:
            raise SpamRefused(verdict.summary())
        return verdict.score >= self.spam_score


class SpamMarks:
    """A member's "Spam" and "Not spam" on a message they received: it moves to the Spam
    folder or the inbox, and the filter learns from it (when there is one)."""

    def __init__(self, reading: Reading, spam_filter: SpamFilter | None) -> None:
        self._reading = reading
        self._filter = spam_filter

    async def mark(self, member_id: str, message_id: str, *, spam: bool) -> bool:
        """Move and train; whether the filter learned it. Only a message someone else sent
        the member can be marked (NotFound for another's, InvalidInput for their own)."""
        message = await self._reading.read(member_id, message_id, mark_read=False)
        if message.sender.id == member_id:
            raise InvalidInput.one("message", "your own messages cannot be marked as spam")
        await self._reading.file(member_id, message_id, folder="spam" if spam else "inbox")
        if self._filter is None:
            return False
        return await self._filter.learn(_as_mail(message.subject, message.body), spam=spam)

    async def file(self, member_id: str, message_id: str, *, folder: object = None,
                   unread: object = None) -> Message:
        """Filing by folder name (the API's PATCH): a move into Spam is the member's "Spam"
        and one from Spam to the inbox their "Not spam", each as `mark` does it, so the
        filter learns whichever way a message is moved."""
        if unread is not None and not isinstance(unread, bool):
            raise InvalidInput.one("unread", "must be true or false")  # before anything moves
        if folder in ("spam", "inbox"):
            before = await self._reading.read(member_id, message_id, mark_read=False)
            if (folder == "spam") != (before.folder == "spam"):
                await self.mark(member_id, message_id, spam=folder == "spam")
                folder = None
        return await self._reading.file(member_id, message_id, folder=folder, unread=unread)


def _as_mail(subject: str, body: str) -> bytes:
    """What the filter learns from: the message as the member read it (its addresses were
    hidden on arrival), as a plain mail."""
    subject = " ".join(subject.split())
    return (f"Subject: {subject}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            + body.replace("\r\n", "\n").replace("\n", "\r\n") + "\r\n").encode("utf-8")
