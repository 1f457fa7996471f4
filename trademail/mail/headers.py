"""The email package's policies, with header classes made once.

`email.headerregistry.HeaderRegistry` builds a new class each time it is asked for a
header's class (`type(...)` on every header parsed or set), which is most of the cost of
reading or writing a small mail. The classes it builds are stateless, so one per header
name is enough; otherwise these are exactly `policy.default` and `policy.SMTP`.
"""

from __future__ import annotations

import re
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from functools import lru_cache

# Values that say nothing of anyone (MIME bookkeeping, TradeMail's fixed headers) are
# parsed once and shared: a parsed header is not changed by reading or writing it. A
# Content-Type is shared only when it has no parameter but a charset (a `name` or a
# `boundary` is a message's own).
_SHARED = frozenset({"mime-version", "content-transfer-encoding", "auto-submitted",
                     "x-auto-response-suppress", "list-unsubscribe-post"})
_PLAIN_TYPE = re.compile(r'[a-z]+/[a-z0-9.+-]+(; charset="?[a-z0-9_-]+"?)?', re.I)
# TradeMail's own Message-IDs name the message they carry: "<tm.MESSAGE.RANDOM@DOMAIN>".
_OUR_MESSAGE_ID = re.compile(r"<tm\.([0-9a-f]{32})\.[0-9a-f]+@([^>\s]+)>")
# A Message-ID fit to be written back in a header: one msg-id of printable ASCII.
_THEIR_MESSAGE_ID = re.compile(r"<[!-;=?-~]{1,240}@[!-;=?-~]{1,240}>")


def our_message_id(message_id: str, random: str, domain: str) -> str:
    """The Message-ID of a mail that carries message `message_id`."""
    return f"<tm.{message_id}.{random}@{domain}>"


def message_answered(references: str, domain: str) -> str:
    """The message of ours that a mail's In-Reply-To and References (joined) name last,
    or "": what a mail from outside answers."""
    answered = ""
    for ref in references.split():
        match = _OUR_MESSAGE_ID.fullmatch(ref)
        if match and match.group(2).lower() == domain.lower():
            answered = match.group(1)
    return answered


def reusable_message_id(value: str) -> str:
    """A mail's Message-ID if it is one that can be named in a header again, else ""."""
    found = value.strip()
    return found if _THEIR_MESSAGE_ID.fullmatch(found) and len(found) <= 250 else ""


class CachedHeaders(HeaderRegistry):
    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}
        self._shared = lru_cache(maxsize=256)(super().__call__)

    def __call__(self, name: str, value: object) -> BaseHeader:
        key = name.lower()
        if isinstance(value, str) and (key in _SHARED or (
                key == "content-type" and _PLAIN_TYPE.fullmatch(value))):
            return self._shared(name, value)  # type: ignore[no-any-return]
        return super().__call__(name, value)  # type: ignore[no-any-return]

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(key)
        return made


HEADERS = CachedHeaders()
DEFAULT = policy.default.clone(header_factory=HEADERS)
SMTP = policy.SMTP.clone(header_factory=HEADERS)
