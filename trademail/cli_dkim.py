"""`trademail dkim …`: the DKIM selectors and their records (status), and a new pair of
selectors (rotate) that signs once its records are published."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from typing import Any

from trademail.clock import SystemClock
from trademail.config import Config
from trademail.crypto import Keyring
from trademail.services.dkim import Dkim, DkimKey
from trademail.store import Stores


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


def dkim_service(config: Config, stores: Stores, keyring: Keyring) -> Dkim:
    """The DKIM service as the command line uses it, asking [dns] nameserver if one is set."""
    from trademail.core import dns_resolver

    return Dkim(stores.dkim, keyring, SystemClock(), relay_domain=config.smtp.relay_domain,
                grace_seconds=config.relay.dkim_grace_seconds, resolver=dns_resolver(config))


async def _dkim(config: Config, command: str) -> int:
    from trademail.core import open_store_and_keys

    stores, keyring = await open_store_and_keys(config)
    try:
        dkim = dkim_service(config, stores, keyring)
        await dkim.ensure_keys()
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
            # A TXT string holds 255 characters at most: an RSA record is several.
            chunks = [key.value[i:i + 255] for i in range(0, len(key.value), 255)]
            print(f"  {key.name}. IN TXT " + " ".join(f'"{c}"' for c in chunks))
