"""The one exception tree of TradeMail; each door maps these to its own protocol."""

from __future__ import annotations

import math
from dataclasses import dataclass


class TradeMailError(Exception):
    """Base of every error TradeMail raises on purpose."""


class ConfigError(TradeMailError):
    """A configuration value is missing or wrong; the message names the key."""


class MasterKeyError(TradeMailError):
    """The master key is missing, malformed or does not open this database."""


class StoreError(TradeMailError):
    """The store cannot be reached or is in a state this version cannot use."""


class StorageFull(StoreError):
    """The store's disk is full: nothing was written, what was committed before is whole,
    and writing works again once space is freed."""


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str


class InvalidInput(TradeMailError):
    """One or more fields of a request are wrong; nothing was changed."""

    def __init__(self, *problems: FieldProblem) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))

    @classmethod
    def one(cls, field: str, message: str) -> InvalidInput:
        return cls(FieldProblem(field, message))

    def __reduce__(self) -> tuple[type, tuple[FieldProblem, ...]]:
        # Whole across a process boundary (mail is read in worker processes).
        return (self.__class__, self.problems)


class UnknownRecipients(InvalidInput):
    """Some recipients do not exist or do not take mail; nothing was sent to anyone."""

    def __init__(self, field: str, names: list[str]) -> None:
        self.field = field
        self.names = names
        super().__init__(*(FieldProblem(field, f"no member or alias {n!r}") for n in names))

    def __reduce__(self) -> tuple[type, tuple[str, list[str]]]:  # type: ignore[override]
        return (self.__class__, (self.field, self.names))


class TooLarge(InvalidInput):
    """A body or attachment is over its configured size."""


class Conflict(TradeMailError):
    """The request clashes with existing state (a taken username, a reused key)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class Damaged(TradeMailError):
    """Stored data failed its integrity check (a chunk of a file missing, moved or altered):
    it is not handed out as if it were whole."""


class NotFound(TradeMailError):
    """Nothing the caller may see answers to that id. Never says which of the two."""


class AuthenticationFailed(TradeMailError):
    """Credentials are wrong, unknown, expired or revoked; the message is always generic."""

    def __init__(self, message: str = "username or password is incorrect") -> None:
        super().__init__(message)


class Throttled(TradeMailError):
    """Too many failed attempts; try again after `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(f"too many failed attempts; try again in {self.retry_after} seconds")


class LimitReached(Throttled):
    """A member's sending or viewing limit: what it is and when it frees up."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(retry_after)
        self.args = (message,)


class Forbidden(TradeMailError):
    """Authenticated, but this credential may not do this (a missing scope)."""


class SessionEnded(AuthenticationFailed):
    """A sign-in session is over: signed out, ended elsewhere, or timed out (`timed_out`)."""

    def __init__(self, *, timed_out: bool) -> None:
        self.timed_out = timed_out
        super().__init__("your session timed out" if timed_out else "you are not signed in")


class MailRefused(TradeMailError):
    """An incoming mail is refused for good. `reason` says why in the domain's words; the
    SMTP door alone knows which reply each one gets:

    unreadable          a header of the mail cannot be read
    too_complex         the mail takes too long to read
    mixed_recipients    one mail for a reply or bounce address and for others
    loop                too many hops: a mail loop
    forged_reply        a reply address written to from anywhere but its owner's address
    conversation_gone   a reply to a conversation that no longer exists
    sender_not_ascii    the sender's address cannot be answered (not ASCII)
    no_sender           the mail names no valid sender address
    dmarc_reject        mail failing DMARC from a domain that publishes p=reject
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)

    def __reduce__(self) -> tuple[type, tuple[str]]:
        return (self.__class__, (self.reason,))


class SpamRefused(MailRefused):
    """An incoming mail refused as spam: `summary` is the spam filter's reason, its action
    and the names of the rules that scored (never an address or a word of the mail)."""

    def __init__(self, summary: str) -> None:
        self.summary = summary
        super().__init__("spam")

    def __reduce__(self) -> tuple[type, tuple[str]]:
        return (self.__class__, (self.summary,))


class MailDeferred(TradeMailError):
    """An incoming mail cannot be taken now; the sender should try again later. `reason`:

    busy                the mail could not be read now (a reader was lost)
    dns_timeout         DNS did not answer the gateway's own SPF/DKIM/DMARC look-ups
    spam_unchecked      the spam filter could not be asked (mail is never taken unscored)
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)

    def __reduce__(self) -> tuple[type, tuple[str]]:
        return (self.__class__, (self.reason,))


class DeliveryFailed(TradeMailError):
    """An outbound delivery (a mail, a webhook) did not go through. `status` is the
    enhanced status code (RFC 3463) a mail server's refusal carried, or stands for, and ""
    when the failure was not a mail server's answer."""

    def __init__(self, reason: str, status: str = "") -> None:
        super().__init__(reason)
        self.status = status


class TemporaryFailure(DeliveryFailed):
    """Worth another try later: a 4xx reply, a refused or dropped connection, a timeout."""


class PermanentFailure(DeliveryFailed):
    """Not worth another try: a 5xx reply, an address that is not public."""
