"""DMARC worked out by TradeMail itself when no upstream MTA is trusted to say it: the From
domain's policy, and whether an SPF pass or a DKIM signature is aligned with that domain
(RFC 7489). The gateway does the DNS and SPF; this module holds the rules."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from publicsuffixlist import PublicSuffixList

from trademail.crypto.dkimverify import dkim_domains

# A TXT look-up: the records of one name, each one's strings joined; [] when there are
# none. A DNS time-out is raised as MailDeferred, so the mail is deferred, never lost.
TxtLookup = Callable[[str], list[str]]


@dataclass(frozen=True)
class Verdict:
    """What our own checks say of one mail."""

    dmarc_pass: str  # the From domain when DMARC passed, else ""
    reject: bool  # DMARC failed and the From domain publishes p=reject


@functools.cache
def _public_suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # the list the package ships, private suffixes included


def organizational_domain(domain: str) -> str:
    """The registered domain under the Public Suffix List (RFC 7489 s. 3.2): example.co.uk
    for mail.example.co.uk. A name that is itself a public suffix is its own, so two
    strangers' domains under co.uk or github.io are never aligned with each other."""
    domain = domain.lower().rstrip(".")
    return _public_suffixes().privatesuffix(domain) or domain


def aligned(identifier: str, from_domain: str, mode: str) -> bool:
    identifier, from_domain = identifier.lower().rstrip("."), from_domain.lower().rstrip(".")
    if not identifier or not from_domain:
        return False
    if mode == "s":
        return identifier == from_domain
    return organizational_domain(identifier) == organizational_domain(from_domain)


def _tags(record: str) -> dict[str, str]:
    tags = {}
    for part in record.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            tags[name.strip().lower()] = value.strip()
    return tags


def dmarc_policy(from_domain: str, txt: TxtLookup) -> dict[str, str] | None:
    """The DMARC record's tags for `from_domain` (its own, else its organizational domain's,
    where `sp` is the policy); None when neither publishes exactly one record."""
    for domain in dict.fromkeys((from_domain, organizational_domain(from_domain))):
        records = [r for r in txt(f"_dmarc.{domain}")
                   if r.replace(" ", "").lower().startswith("v=dmarc1")]
        if len(records) == 1:
            tags = _tags(records[0])
            if domain != from_domain and "sp" in tags:
                tags["p"] = tags["sp"]
            return tags
        if records:
            return None  # several records: none applies (RFC 7489 s. 6.6.3)
    return None


def verdict(raw: bytes, from_domain: str, spf_pass_domain: str, txt: TxtLookup) -> Verdict:
    """DMARC for a mail whose one From is at `from_domain`, given the domain SPF passed
    for (its MAIL FROM's; "" when SPF did not pass)."""
    policy = dmarc_policy(from_domain, txt) if from_domain else None
    if policy is None:
        return Verdict("", False)
    spf_ok = aligned(spf_pass_domain, from_domain, policy.get("aspf", "r").lower())
    if spf_ok or any(aligned(d, from_domain, policy.get("adkim", "r").lower())
                     for d in dkim_domains(raw, lambda name: "".join(txt(name)[:1]))):
        return Verdict(from_domain.lower(), False)
    return Verdict("", policy.get("p", "none").lower() == "reject")
