"""What a bounce says went wrong: the enhanced status code (RFC 3463) of a delivery status
notification (RFC 3464, read by the gateway), or of a refusal the relay met, and what that
means for the address.

Only a code that says the mailbox or address does not work pauses a member's
notifications. A spam filter's refusal (5.7.x) or a content refusal (5.6.x) says nothing
about the address: a sender name an outsider chose can trigger one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# An enhanced status code in a DSN's Status field or a reply line of the relay's smarthost.
_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")

ADDRESS = "address"  # 5.1.x: no such mailbox, bad address, no such domain
MAILBOX = "mailbox"  # 5.2.1 disabled, 5.2.2 full: counts once it happens again
REFUSED = "refused"  # any other permanent refusal: policy, content, size, routing
DELAYED = "delayed"  # a temporary failure (4.x.x): the mail is still being tried


def status_in(text: str) -> str:
    """The first enhanced status code in `text`, or ""."""
    match = _STATUS.search(text[:2000])
    return ".".join(match.groups()) if match else ""


def classify(status: str) -> str:
    """What a status code says about the address it was sent to."""
    klass, _, rest = status.partition(".")
    subject, _, _detail = rest.partition(".")
    if klass != "5":
        return DELAYED
    if subject == "1":
        return ADDRESS
    if rest in ("2.1", "2.2"):
        return MAILBOX
    return REFUSED


def worst(statuses: Sequence[str]) -> str:
    """Of several codes (one per recipient of a DSN), the one that says most against the
    address."""
    order = {ADDRESS: 0, MAILBOX: 1, REFUSED: 2, DELAYED: 3}
    return min(statuses, key=lambda s: (order[classify(s)], 0 if s.startswith("5") else 1))
