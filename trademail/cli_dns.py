"""`trademail dns`: the records to publish for the relay domain, as zone-file lines, and
`trademail dns --check`, each looked up and said to be ok, missing or different."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import dns.asyncresolver
import dns.resolver

from trademail.clock import SystemClock
from trademail.config import Config
from trademail.errors import ConfigError
from trademail.services import dnsrecords

# Exit statuses of --check: all published, something missing or different, DNS not asked.
CHECK_OK, CHECK_DIFFERENT, CHECK_NO_ANSWER = 0, 1, 3


def add_dns_command(sub: Any) -> None:
    """The `dns` command, on the main parser's subparsers."""
    parser = sub.add_parser("dns", help="the DNS records to publish for the relay domain")
    parser.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                        help=argparse.SUPPRESS)
    parser.add_argument("--check", action="store_true",
                        help="look each record up and say whether it is ok, missing or "
                             "different (exit 0 only when all are ok, 1 when one is not, 3 "
                             "when the name server did not answer)")


def run_dns_command(config: Config, args: argparse.Namespace) -> int:
    """Run `dns [--check]`; its exit status."""
    return asyncio.run(_dns(config, check=args.check))


async def _dns(config: Config, *, check: bool) -> int:
    domain = config.smtp.relay_domain
    expected = dnsrecords.records(config.dns, domain, await _dkim_records(config))
    if not check:
        _print_records(config, expected)
        return 0
    findings = await dnsrecords.check(_resolver(config), expected)
    for finding in findings:
        print(finding.line())
    outcomes = {finding.outcome for finding in findings}
    if outcomes & {dnsrecords.TIMEOUT, dnsrecords.FAILED}:
        print("trademail: the name server did not answer every question; nothing is known "
              "of those records", file=sys.stderr)
        return CHECK_NO_ANSWER
    return CHECK_OK if outcomes <= {dnsrecords.OK} else CHECK_DIFFERENT


def _print_records(config: Config, expected: list[dnsrecords.Record]) -> None:
    domain = config.smtp.relay_domain
    print(f"; DNS for the relay domain {domain}: publish these in its zone")
    if not config.dns.dmarc_rua:
        print("; DMARC asks for no reports: set [dns] dmarc_rua to receive them")
    if not config.dns.tlsrpt_rua:
        print("; no TLS-RPT record: set [dns] tlsrpt_rua to receive TLS reports")
    for record in expected:
        print(record.line())
    print(f"; MTA-STS: serve this policy at https://mta-sts.{domain}/.well-known/mta-sts.txt")
    print(f"; (TradeMail's web port serves it: give mta-sts.{domain} an address and a proxy")
    print("; with a valid HTTPS certificate for that name, passing /.well-known/ to TradeMail):")
    for line in dnsrecords.mta_sts_policy(config.dns, domain).splitlines():
        print(f";   {line}")


async def _dkim_records(config: Config) -> list[tuple[str, str]]:
    """The live DKIM selectors' TXT records (the first pair made if there is none yet, as
    `serve` would)."""
    from trademail.core import open_dkim, open_store_and_keys

    stores, keyring = await open_store_and_keys(config)
    try:
        dkim = await open_dkim(config, stores, keyring, SystemClock())
        return list(await dkim.txt_records())
    finally:
        await stores.close()


def _resolver(config: Config) -> dns.asyncresolver.Resolver:
    """The system's resolvers, or the one name server [dns] nameserver names."""
    from trademail.core import dns_resolver

    resolver = dns_resolver(config)
    if resolver is None:
        raise ConfigError("this system names no name server; set [dns] nameserver")
    return resolver
