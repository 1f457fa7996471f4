"""`trademail audit verify`: walk the audit log's chain, recompute every entry's MAC, and say
whether it is whole (and where it first breaks when it is not)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from trademail.config import Config
from trademail.errors import TradeMailError


def add_audit_commands(sub: Any) -> None:
    """The `audit` command and its subcommand, on the main parser's subparsers."""
    audit = sub.add_parser("audit", help="the chained audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser(
        "verify", help="check the chain of the audit log: every entry in its place, none "
                       "changed or missing; prints the head to note elsewhere")
    verify.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                        help=argparse.SUPPRESS)
    verify.add_argument("--noted", metavar="SEQ:MAC",
                        help="a head printed by an earlier verify and kept apart from the "
                             "database: it must still be in the chain (catches entries cut "
                             "off the end)")


def run_audit_command(config: Config, args: argparse.Namespace) -> int:
    """Run `audit verify`; 0 when the chain is whole, 1 when it is broken."""
    from trademail.services.audit import parse_noted

    noted = parse_noted(args.noted) if args.noted else None
    if args.noted and noted is None:
        raise TradeMailError("--noted takes SEQ:MAC, as `trademail audit verify` prints the "
                             "head")
    return asyncio.run(_verify(config, noted))


async def _verify(config: Config, noted: tuple[int, bytes] | None) -> int:
    from trademail.clock import SystemClock
    from trademail.core import open_store_and_keys
    from trademail.services.audit import Audit

    stores, keyring = await open_store_and_keys(config)
    try:
        report = await Audit(stores.audit, stores.members, keyring,
                             SystemClock()).verify(noted=noted)
    finally:
        await stores.close()
    if report.legacy:
        print(f"the first {report.legacy} entries were written before the chain began: no "
              "MAC covers them", file=sys.stderr)
    if report.ok:
        print(f"audit chain intact: {report.checked} entries checked; "
              f"head {report.head_seq}:{report.head_mac}")
        return 0
    where = f"entry {report.broken_at}" if report.broken_at is not None else "the log"
    print(f"audit chain BROKEN at {where}: {report.problem}; the {report.checked} entries "
          "before it check out", file=sys.stderr)
    return 1
