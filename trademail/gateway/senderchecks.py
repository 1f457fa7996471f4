"""The gateway's own SPF, DKIM and DMARC checks, for when no upstream MTA is trusted to make
them: SPF with pyspf (the session's client IP, HELO and MAIL FROM), its DNS through the
caching resolver; DKIM and the DMARC rules in `services.senderauth`. Run in a thread, for
pyspf and dkimpy block."""

from __future__ import annotations

import asyncio
from typing import Any

import spf
import structlog

from trademail.errors import MailDeferred
from trademail.gateway.dnscache import CachingResolver
from trademail.services.senderauth import Verdict, verdict

log = structlog.get_logger(__name__)


def _spf_value(rdtype: str, rdata: Any) -> Any:
    """One record as pyspf's own dnspython look-up hands it over."""
    if rdtype in ("A", "AAAA"):
        return rdata.address
    if rdtype == "MX":
        return rdata.preference, rdata.exchange
    if rdtype == "PTR":
        return rdata.target.to_text(True)
    return rdata.strings  # TXT, SPF


class _SpfQuery(spf.query):  # type: ignore[misc]  # pyspf has no type hints
    """pyspf's query with its DNS asked through our resolver (and its cache)."""

    def __init__(self, resolver: CachingResolver, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._resolver = resolver

    def dns(self, name: Any, qtype: str, cnames: Any = None,
            ignore_void: bool = False) -> list[Any]:
        name = str(name).rstrip(".").lower()
        if not name or not all(0 < len(label) < 64 for label in name.split(".")):
            return []
        result = [_spf_value(qtype, r) for r in self._resolver.lookup(name, qtype)]
        if not result and not ignore_void:
            self.void_lookups += 1
            if self.void_lookups > spf.MAX_VOID_LOOKUPS:
                raise spf.PermError(f"Void lookup limit of {spf.MAX_VOID_LOOKUPS} exceeded")
        return result


class SenderChecks:
    """SPF, DKIM and DMARC of one mail, by TradeMail itself."""

    def __init__(self, resolver: CachingResolver) -> None:
        self._resolver = resolver

    def spf_pass_domain(self, ip: str, helo: str, mail_from: str) -> str:
        """The MAIL FROM domain when SPF passes for it, else ""; MailDeferred when SPF's
        DNS timed out (a temperror)."""
        domain = mail_from.rpartition("@")[2].lower()
        if not domain:
            return ""
        result = _SpfQuery(self._resolver, i=ip, s=mail_from, h=helo or domain,
                           timeout=30).check()[0]
        if result == "temperror":
            raise MailDeferred("dns_timeout")
        return domain if result == "pass" else ""

    def check(self, raw: bytes, ip: str, helo: str, mail_from: str,
              from_domain: str) -> Verdict:
        spf_domain = self.spf_pass_domain(ip, helo, mail_from)
        found = verdict(raw, from_domain, spf_domain, self._resolver.txt)
        log.info("sender checked", spf="pass" if spf_domain else "no pass",
                 dmarc="pass" if found.dmarc_pass else "no pass", reject=found.reject)
        return found

    async def check_off_loop(self, raw: bytes, ip: str, helo: str, mail_from: str,
                             from_domain: str) -> Verdict:
        return await asyncio.to_thread(self.check, raw, ip, helo, mail_from, from_domain)
