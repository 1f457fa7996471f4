"""The DNS records an operator publishes for the relay domain (MX, SPF, DKIM, DMARC, MTA-STS,
TLS-RPT) as zone-file lines, and each compared with what a name server answers."""

from __future__ import annotations

import asyncio
import ipaddress
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.rdtypes.ANY.TXT
import dns.resolver

from trademail.config import DnsConfig

MX_PREFERENCE = 10
OK, MISSING, DIFFERENT, TIMEOUT, FAILED = "ok", "missing", "different", "timeout", "failed"


@dataclass(frozen=True)
class Record:
    """One resource record: an absolute owner name (trailing dot), TTL, type and rdata."""

    name: str
    ttl: int
    rdtype: str
    value: str  # a TXT record's text, its strings joined; an MX's rdata

    @property
    def rdata(self) -> str:
        return txt_rdata(self.value) if self.rdtype == "TXT" else self.value

    def line(self) -> str:
        return f"{self.name} {self.ttl} IN {self.rdtype} {self.rdata}"


@dataclass(frozen=True)
class Finding:
    """What the name server says of one expected record."""

    record: Record
    outcome: str
    published: tuple[str, ...] = ()

    def line(self) -> str:
        if self.outcome == DIFFERENT:
            return (f"different: {self.record.name} {self.record.rdtype}: published "
                    f"{' | '.join(self.published)}, expected {self.record.rdata}")
        if self.outcome == TIMEOUT:
            return (f"timeout: no answer for {self.record.name} {self.record.rdtype} from "
                    "the name server in time; DNS could not be checked")
        if self.outcome == FAILED:
            return f"failed: the name server could not answer for {self.record.name} " \
                   f"{self.record.rdtype}"
        return f"{self.outcome}: {self.record.line()}"


def _zone_escaped(chunk: bytes) -> str:
    """Bytes as a zone file's quoted string: quotes and backslashes escaped, and anything
    not printable ASCII as \\DDD, so no published value can drive a terminal."""
    return "".join("\\" + chr(b) if chr(b) in '"\\' else chr(b) if 0x20 <= b < 0x7f
                   else f"\\{b:03d}" for b in chunk)


def txt_rdata(value: str) -> str:
    """A TXT value as zone-file rdata: quoted strings of at most 255 bytes each."""
    data = value.encode()
    chunks = [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]
    return " ".join(f'"{_zone_escaped(chunk)}"' for chunk in chunks)


def mail_host(settings: DnsConfig, relay_domain: str) -> str:
    return (settings.mail_host or relay_domain).rstrip(".")


def spf_value(settings: DnsConfig) -> str:
    terms = []
    for host in settings.sending_hosts:
        if host in ("a", "mx"):
            terms.append(host)
        else:
            net = ipaddress.ip_network(host, strict=False)
            text = str(net.network_address) if net.num_addresses == 1 else str(net)
            terms.append(f"ip{net.version}:{text}")
    return " ".join(["v=spf1", *terms, "-all"])


def mta_sts_policy(settings: DnsConfig, relay_domain: str) -> str:
    """The policy file served at https://mta-sts.<domain>/.well-known/mta-sts.txt."""
    max_age = 86400 if settings.mta_sts_mode == "none" else 604800
    return (f"version: STSv1\r\nmode: {settings.mta_sts_mode}\r\n"
            f"mx: {mail_host(settings, relay_domain)}\r\nmax_age: {max_age}\r\n")


def mta_sts_id(policy: str) -> str:
    """An id that changes whenever the policy does (RFC 8461 asks for a new one then)."""
    return f"{zlib.crc32(policy.encode()):08x}"


def records(settings: DnsConfig, relay_domain: str,
            dkim: Iterable[tuple[str, str]] = ()) -> list[Record]:
    """Every record to publish, in the order an operator publishes them."""
    domain, ttl = relay_domain.rstrip("."), settings.ttl

    def txt(owner: str, value: str) -> Record:
        return Record(f"{owner.rstrip('.')}.", ttl, "TXT", value)

    found = [Record(f"{domain}.", ttl, "MX",
                    f"{MX_PREFERENCE} {mail_host(settings, domain)}."),
             txt(domain, spf_value(settings))]
    found += [txt(owner, value) for owner, value in dkim]
    rua = f"; rua=mailto:{settings.dmarc_rua}" if settings.dmarc_rua else ""
    found.append(txt(f"_dmarc.{domain}", f"v=DMARC1; p=quarantine{rua}"))
    policy = mta_sts_policy(settings, domain)
    found.append(txt(f"_mta-sts.{domain}", f"v=STSv1; id={mta_sts_id(policy)}"))
    if settings.tlsrpt_rua:
        found.append(txt(f"_smtp._tls.{domain}", f"v=TLSRPTv1; rua=mailto:{settings.tlsrpt_rua}"))
    return found


def _normal(rdtype: str, value: str) -> str:
    """A value as compared: case and spacing that do not matter taken out."""
    if rdtype == "MX":
        return " ".join(value.lower().rstrip(".").split())
    return "; ".join(" ".join(tag.split()) for tag in value.split(";") if tag.strip())


def _tag(value: str) -> str:
    """The version tag a TXT value starts with (v=spf1, v=DMARC1, ...)."""
    return value.split(";")[0].split(" ")[0].strip().lower()


def compare(record: Record, published: list[str]) -> Finding:
    """The finding for one record, given the values published at its name and type."""
    if record.rdtype == "TXT":  # other TXT records may share the name (SPF's does)
        published = [value for value in published if _tag(value) == _tag(record.value)]
    if not published:
        return Finding(record, MISSING)
    expected = _normal(record.rdtype, record.value)
    if any(_normal(record.rdtype, value) == expected for value in published):
        return Finding(record, OK)
    shown = tuple(txt_rdata(v) if record.rdtype == "TXT" else v for v in published)
    return Finding(record, DIFFERENT, shown)


def _value(rdata: Any) -> str:
    if isinstance(rdata, dns.rdtypes.ANY.TXT.TXT):
        return b"".join(rdata.strings).decode("utf-8", "replace")
    return str(rdata.to_text())


async def _published(resolver: Any, record: Record) -> Finding:
    try:
        answer = await resolver.resolve(record.name, record.rdtype, search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return compare(record, [])
    except dns.exception.Timeout:
        return Finding(record, TIMEOUT)
    except dns.exception.DNSException:
        return Finding(record, FAILED)
    return compare(record, [_value(rdata) for rdata in answer])


async def check(resolver: Any, expected: list[Record]) -> list[Finding]:
    """Each expected record looked up (all at once: a silent server costs one time-out,
    not one per record) and compared."""
    return list(await asyncio.gather(*(_published(resolver, r) for r in expected)))
