"""`trademail dkim …`: the DKIM selectors and their records (status), and a new pair of
selectors (rotate) that signs once its records are published."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from typing import Any

from trademail.clock import SystemClock
from trademail.config import Config
from trademail.services.dkim import DkimKey
from trademail.services.dnsrecords import txt_rdata


def add_dkim_commands(sub: Any) -> None:
    """The `dkim` command and its subcommands, on the main parser's subparsers."""
    dkim = sub.add_parser("dkim", help="DKIM selectors: their records, and rotation")
    dkim_sub = dkim.add_subparsers(dest="dkim_command", required=True)
    for name, help_text in (
            ("status", "every selector, its state and the TXT record to publish; a pending "
                       "selector whose record is published becomes active"),
            ("rotate", "a new pair of selectors (Ed25519 and RSA), signing once published")):
        parser = dkim_sub.add_parser(name, help=help_text)
        parser.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                            help=argparse.SUPPRESS)


def run_dkim_command(config: Config, args: argparse.Namespace) -> int:
    return asyncio.run(_dkim(config, args.dkim_command))


async def _dkim(config: Config, command: str) -> int:
    from trademail.core import open_dkim, open_store_and_keys

    stores, keyring = await open_store_and_keys(config)
    try:
        dkim = await open_dkim(config, stores, keyring, SystemClock())
        if command == "rotate":
            _print(await dkim.rotate())
            print("publish these records; they sign once `trademail dkim status` (or a "
                  "running server, within the hour) sees them")
        else:
            await dkim.advance()
            _print(await dkim.status())
    finally:
        await stores.close()
    return 0


def _when(at: float | None) -> str:
    return "-" if at is None else dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M")


def _print(keys: list[DkimKey]) -> None:
    for key in keys:
        print(f"{key.selector}\t{key.algorithm}\t{key.state}\tmade {_when(key.created_at)}"
              f"\tactive {_when(key.activated_at)}\tretiring {_when(key.retiring_at)}")
        if key.state != "retired":
            print(f"  {key.name}. IN TXT {txt_rdata(key.value)}")
