"""Fakes for testing TradeMail and apps built on it, as httpx ships its mock transport: a
clock that only moves when told, and outbound transports that keep what they are given
(hand them to `build_app(..., transport=...)` or to a `Relay`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from trademail.errors import PermanentFailure, TemporaryFailure
from trademail.services.delivery import OutboundMail, Webhook


class FakeClock:
    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds


@dataclass
class SentMail:
    """One mail a MemoryTransport took: its envelope and its bytes."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class MemoryTransport:
    """A mail transport that keeps every mail in `mails`; `refuse` makes it answer like a
    smarthost that refuses ("4…" temporarily, "5…" for good)."""

    mails: list[SentMail] = field(default_factory=list)
    refuse: str = ""

    async def send(self, mail: OutboundMail) -> None:
        if self.refuse:
            failure = PermanentFailure if self.refuse.startswith("5") else TemporaryFailure
            code, _, rest = self.refuse.partition(" ")
            raise failure(self.refuse, rest.split(" ")[0] if rest[:2] in ("4.", "5.")
                          else f"{code[:1]}.0.0")
        self.mails.append(SentMail(mail.envelope_from, list(mail.recipients), mail.data))


@dataclass
class MemoryWebhooks:
    """A webhook sender that keeps every post in `posts`."""

    posts: list[Webhook] = field(default_factory=list)

    async def post(self, hook: Webhook) -> None:
        self.posts.append(hook)
