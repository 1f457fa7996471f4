"""The email package's policies, with header classes made once.

`email.headerregistry.HeaderRegistry` builds a new class each time it is asked for a
header's class (`type(...)` on every header parsed or set), which is most of the cost of
reading or writing a small mail. The classes it builds are stateless, so one per header
name is enough; otherwise these are exactly `policy.default` and `policy.SMTP`.
"""

from __future__ import annotations

from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry


class CachedHeaders(HeaderRegistry):
    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(key)
        return made


HEADERS = CachedHeaders()
DEFAULT = policy.default.clone(header_factory=HEADERS)
SMTP = policy.SMTP.clone(header_factory=HEADERS)
