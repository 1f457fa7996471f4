"""DKIM for every mail the relay sends: an Ed25519 and an RSA-2048 signature together
(RFC 8463), the records the operator publishes, and key rotation. A new key signs only once
its record is seen in DNS; the key it replaces stays published for a grace period."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import structlog

from trademail.clock import Clock
from trademail.crypto import Keyring
from trademail.crypto.dkim import ALGORITHMS, generate, open_private, record, seal_private, sign
from trademail.ids import new_id
from trademail.store.dkim import DkimKeyRow, DkimStore

log = structlog.get_logger(__name__)

# What the signatures cover, those a mail holds (RFC 6376 section 5.4, and the one-click
# unsubscribe headers RFC 8058 asks to be signed).
SIGNED_HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "Reply-To", "List-Unsubscribe",
                  "List-Unsubscribe-Post", "MIME-Version", "Content-Type",
                  "Content-Transfer-Encoding", "Feedback-ID")
LIVE = ("pending", "active", "retiring")  # published: about to sign, signing, or just did
_SHORT = {"ed25519": "ed", "rsa": "rsa"}


@dataclass(frozen=True)
class DkimKey:
    """A key as the operator sees it: never its private part."""

    selector: str
    algorithm: str
    state: str
    created_at: float
    activated_at: float | None
    retiring_at: float | None
    name: str  # the record's owner name
    value: str  # the TXT record


class Dkim:
    def __init__(self, store: DkimStore, keyring: Keyring, clock: Clock, *, relay_domain: str,
                 grace_seconds: float,
                 resolver: dns.asyncresolver.Resolver | None = None) -> None:
        self._store = store
        self._keyring = keyring
        self._clock = clock
        self._domain = relay_domain
        self._grace = grace_seconds
        self._resolver = resolver
        self._private: dict[str, bytes] = {}  # opened keys, by id

    def _name(self, selector: str) -> str:
        return f"{selector}._domainkey.{self._domain}"

    def _view(self, row: DkimKeyRow) -> DkimKey:
        return DkimKey(row.selector, row.algorithm, row.state, row.created_at, row.activated_at,
                       row.retiring_at, self._name(row.selector),
                       record(row.algorithm, row.public_key))

    async def _new_pair(self, state: str) -> list[DkimKeyRow]:
        now = self._clock.now()
        # Each pair holds one RSA key: the count numbers the pairs.
        generation = 1 + sum(k.algorithm == "rsa" for k in await self._store.keys())
        day = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y%m%d")
        rows = []
        for algorithm in ALGORITHMS:
            fresh = await asyncio.get_running_loop().run_in_executor(None, generate, algorithm)
            key_id = new_id(now)
            rows.append(DkimKeyRow(
                key_id, f"{_SHORT[algorithm]}{generation}-{day}", algorithm,
                seal_private(self._keyring, key_id, fresh.private), fresh.public, state, now,
                now if state == "active" else None))
        return rows

    async def ensure_keys(self) -> None:
        """The first key pair, at the first start: active at once (nothing is published
        yet, and unsigned mail is worse than mail whose record is still missing)."""
        if not await self._store.keys():
            if await self._store.add(await self._new_pair("active"), only_if_none=True):
                log.warning("DKIM keys made: publish their records (trademail dkim status)")
        for row in await self._store.keys(("active",)):  # opened once, not on each mail
            self._private[row.id] = open_private(self._keyring, row.id, row.private_ct)

    async def rotate(self) -> list[DkimKey]:
        """A new pending pair of selectors; they sign once their records are published."""
        rows = await self._new_pair("pending")
        await self._store.add(rows)
        return [self._view(r) for r in rows]

    async def status(self) -> list[DkimKey]:
        """Every key, oldest first, with its state and record."""
        return [self._view(r) for r in await self._store.keys()]

    async def txt_records(self) -> list[tuple[str, str]]:
        """(owner name, TXT value) of every live selector: what the operator publishes."""
        return [(self._name(r.selector), record(r.algorithm, r.public_key))
                for r in await self._store.keys(LIVE)]

    async def advance(self) -> list[DkimKey]:
        """A pending key whose record is published becomes active (the one it replaces
        starts retiring); a key retiring longer than the grace period is retired. The keys
        that changed."""
        changed = []
        now = self._clock.now()
        for row in await self._store.keys(("pending",)):
            if await self._published(row) and await self._store.activate(row.id, now):
                log.info("DKIM selector active", selector=row.selector)
                changed.append(row.selector)
        if await self._store.retire(now - self._grace):
            log.info("DKIM selectors retired")
        return [k for k in await self.status() if k.selector in changed]

    async def _published(self, row: DkimKeyRow) -> bool:
        """Whether DNS answers the selector's name with its record (spaces aside)."""
        try:
            resolver = self._resolver or dns.asyncresolver.Resolver()
            answer = await resolver.resolve(self._name(row.selector), "TXT", search=False)
        except (dns.exception.DNSException, OSError):
            return False
        wanted = record(row.algorithm, row.public_key).replace(" ", "")
        for rdata in answer:
            text = b"".join(rdata.strings).decode("ascii", "replace")  # type: ignore[attr-defined]
            if text.replace(" ", "") == wanted:
                return True
        return False

    async def sign(self, data: bytes) -> bytes:
        """The mail with a DKIM-Signature of each active key prepended (Ed25519 first)."""
        active = {r.algorithm: r for r in await self._store.keys(("active",))}
        if not active:
            log.warning("no active DKIM key: mail leaves unsigned")
            return data
        loop = asyncio.get_running_loop()
        signatures = []
        for algorithm in ALGORITHMS:
            row = active.get(algorithm)
            if row is None:
                continue
            if row.id not in self._private:
                self._private[row.id] = open_private(self._keyring, row.id, row.private_ct)
            signatures.append(await loop.run_in_executor(None, self._sign_with, row, data))
        return b"".join(signatures) + data

    def _sign_with(self, row: DkimKeyRow, data: bytes) -> bytes:
        return sign(data, selector=row.selector, domain=self._domain, algorithm=row.algorithm,
                    private=self._private[row.id], headers=list(SIGNED_HEADERS))
