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
