"""DNS look-ups for the gateway's own sender checks (SPF, DKIM keys, DMARC policies):
dnspython against the configured name server (or the system's), each answer cached for its
TTL, a time-out raised as MailDeferred so the mail is deferred, never lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import dns.exception
import dns.resolver

from trademail.errors import MailDeferred

# How long a name with no records of a type is remembered (no SOA minimum is read).
NEGATIVE_TTL = 60
# Entries kept at most: the cache is bounded whatever names senders make us look up.
MAX_ENTRIES = 10000


class CachingResolver:
    """Synchronous (the checks run off the loop, in a thread) and safe to share between
    threads. `nameserver` is "host:port", "" for the system's resolvers."""

    def __init__(self, nameserver: str = "", *, timeout: float = 5.0,
                 now: Callable[[], float] = time.monotonic) -> None:
        if nameserver:
            host, _, port = nameserver.rpartition(":")
            self._resolver = dns.resolver.Resolver(configure=False)
            self._resolver.nameservers = [host.strip("[]")]
            self._resolver.port = int(port)
        else:
            self._resolver = dns.resolver.Resolver()
        self._resolver.lifetime = timeout
        self._now = now
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], tuple[float, list[Any]]] = {}

    def lookup(self, name: str, rdtype: str) -> list[Any]:
        """The rdata of `name`'s `rdtype` records ([] for none or NXDOMAIN), from the cache
        while their TTL lasts; MailDeferred("dns_timeout") when DNS does not answer."""
        key = (name.lower().rstrip("."), rdtype.upper())
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached[0] > self._now():
                return cached[1]
        try:
            answer = self._resolver.resolve(key[0], key[1], search=False,
                                            raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            records, ttl = [], NEGATIVE_TTL
        except (dns.exception.Timeout, dns.resolver.NoNameservers,
                dns.resolver.LifetimeTimeout):
            raise MailDeferred("dns_timeout") from None
        except dns.exception.DNSException:  # a name that cannot be asked for: no records
            return []
        else:
            rrset = answer.rrset
            records = list(rrset) if rrset is not None else []
            ttl = rrset.ttl if rrset is not None else NEGATIVE_TTL
        with self._lock:
            if len(self._cache) >= MAX_ENTRIES:
                self._cache.clear()
            self._cache[key] = (self._now() + ttl, records)
        return records

    def txt(self, name: str) -> list[str]:
        """Each TXT record's strings joined."""
        return [b"".join(r.strings).decode("utf-8", "replace")
                for r in self.lookup(name, "TXT")]
