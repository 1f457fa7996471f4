"""DKIM signatures of incoming mail checked (dkimpy): which domains signed a mail, with
the public keys looked up through the TXT look-up the caller hands in."""

from __future__ import annotations

from collections.abc import Callable

import dkim

# A signature's key is looked up at most this many times per mail: a sender cannot make
# one mail cost us unbounded DNS.
MAX_SIGNATURES = 5


def _signing_domain(header_value: bytes) -> str:
    try:
        tags = dkim.util.parse_tag_value(b"".join(header_value.split()))
    except Exception:  # an unreadable signature names no domain
        return ""
    return bytes(tags.get(b"d", b"")).decode("ascii", "replace").lower()


def dkim_domains(raw: bytes, txt: Callable[[str], str]) -> set[str]:
    """The d= domains of the mail's DKIM signatures that verify. `txt(name)` answers a TXT
    look-up (the strings joined; "" when there is none); whatever it raises (a DNS time-out)
    is raised from here, so the caller can defer the mail rather than call it unsigned."""

    def lookup(name: bytes, timeout: int = 5) -> bytes:
        return txt(name.decode("ascii", "replace").rstrip(".")).encode("utf-8")

    try:
        checker = dkim.DKIM(raw, minkey=1024)
        signatures = [value for name, value in checker.headers
                      if name.lower() == b"dkim-signature"][:MAX_SIGNATURES]
    except dkim.DKIMException:
        return set()
    found: set[str] = set()
    for index, value in enumerate(signatures):
        try:
            ok = checker.verify(idx=index, dnsfunc=lookup)
        except dkim.DKIMException:
            ok = False
        if ok:
            found.add(_signing_domain(value))
    found.discard("")
    return found
