"""`trademail keys …`: the master keys in use, online master-key rotation, retiring a key,
rotating one member's key, and a new key printed for a vault."""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import signal
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import structlog

from trademail.config import Config
from trademail.errors import TradeMailError

log = structlog.get_logger("trademail")


def add_key_commands(sub: Any) -> None:
    """The `keys` command and its subcommands, on the main parser's subparsers."""
    hidden = {"default": argparse.SUPPRESS, "help": argparse.SUPPRESS}
    keys = sub.add_parser("keys", help="master keys and member keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    commands = {
        "status": "the master keys in use and what each protects",
        "rotate-master": "a new master key, every member key and system key re-wrapped "
                         "under it while the servers run (run again to resume)",
        "retire": "drop a retired master key from the key file once nothing needs it",
        "rotate-member": "a new key for one member, their content keys re-wrapped and "
                         "their search index rebuilt (run again to resume)",
        "generate": "print a new random master key, for a keyring kept in a vault"}
    parsers = {}
    for name, help_text in commands.items():
        parsers[name] = keys_sub.add_parser(name, help=help_text)
        parsers[name].add_argument("--config", metavar="FILE", **hidden)
    for name in ("rotate-master", "rotate-member"):
        parsers[name].add_argument("--batch", type=_batch, default=500, metavar="N",
                                   help="keys re-wrapped per batch (default 500)")
        parsers[name].add_argument(
            "--pause", type=float, default=0.0, metavar="SECONDS",
            help="wait this long between batches, to go easy on a busy database (default 0)")
    parsers["retire"].add_argument("key_id", metavar="KEY_ID",
                                   help="the id `trademail keys status` shows")
    parsers["rotate-member"].add_argument("username", metavar="USERNAME")
    parsers["rotate-member"].add_argument(
        "--settle", type=float, default=60.0, metavar="SECONDS",
        help="how long the previous key is kept once nothing is under it, for a send that "
             "read it before the rotation began to land and be re-wrapped (default 60)")


def _batch(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 100_000:
        raise argparse.ArgumentTypeError("must be a whole number from 1 to 100000")
    return int(value)


def run_key_command(config: Config, args: argparse.Namespace) -> int:
    """Run `keys SUBCOMMAND`; its exit status."""
    if args.keys_command == "generate":
        from trademail.crypto import Key

        key = Key.generate()
        print(key.export_base64())
        print(f"master key {key.id.hex()}: put it first in the keyring, the current key "
              "after it", file=sys.stderr)
        return 0
    command: Callable[[Config, argparse.Namespace], Any] = {
        "status": _status, "rotate-master": _rotate_master, "retire": _retire,
        "rotate-member": _rotate_member}[args.keys_command]
    if args.keys_command in ("rotate-master", "retire"):
        with _alone(config):
            return int(asyncio.run(command(config, args)) or 0)
    return int(asyncio.run(command(config, args)) or 0)


@contextmanager
def _alone(config: Config) -> Iterator[None]:
    """One command that writes the key file at a time: two rotations run at once would
    each write a new key, and the second file would leave the first one's key out."""
    path = config.master_key_path.with_name(f".{config.master_key_path.name}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as held:
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TradeMailError("another `trademail keys rotate-master` or `keys retire` "
                                 "is running on this key file; let it finish") from None
        yield


@asynccontextmanager
async def _opened(config: Config) -> AsyncIterator[Any]:
    """(stores, keyring, key source), closed at the end."""
    from trademail.core import open_keyring
    from trademail.keysource import MasterKeySource
    from trademail.store import open_stores

    stores = await open_stores(config.store_url, pool_size=2)
    try:
        source = MasterKeySource(config)
        keyring = await open_keyring(config, stores.keys, source=source)
        yield stores.keyed(keyring.audit_mac), keyring, source
    finally:
        await stores.close()


async def _audited(stores: Any, keyring: Any, member_id: str | None, detail: str) -> None:
    """A key rotation in the audit log, as the command line's doing."""
    from trademail.clock import SystemClock
    from trademail.services.audit import COMMAND_LINE, KEY_ROTATED, Audit

    audit = Audit(stores.audit, stores.members, keyring, SystemClock())
    await audit.record(COMMAND_LINE, KEY_ROTATED, member_id, detail)


def _stop_flag() -> Callable[[], bool]:
    """Whether Ctrl-C (or a SIGTERM) came: the work stops after the batch it is in."""
    told: list[int] = []
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, told.append, sig)
    return lambda: bool(told)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def _status(config: Config, args: argparse.Namespace) -> int:
    from trademail.cli import progress_bar
    from trademail.services.rotation import key_status

    async with _opened(config) as (stores, keyring, _):
        uses = await key_status(stores.keys, stores.mailbox, keyring,
                                progress=progress_bar("reading member keys"))
    for use in uses:
        system = ", ".join(use.system_keys) or "none"
        rotating = f"; previous key of {use.rotating_members:,} members rotating their " \
                   "own key" if use.rotating_members else ""
        print(f"master key {use.key_id} ({use.state}): {use.member_keys:,} member keys, "
              f"protecting {use.messages:,} messages; system keys: {system}{rotating}")
        if use.state == "retired" and not use.needed:
            print(f"  nothing needs it any more: `trademail keys retire {use.key_id}`")
    return 0


async def _rotate_master(config: Config, args: argparse.Namespace) -> int:
    from trademail.cli import progress_bar
    from trademail.services.rotation import MasterRotation

    async with _opened(config) as (stores, keyring, source):
        async def rotated(old: tuple[str, ...], new: str) -> None:
            log.info("master key rotated", new_key=new, old_keys=list(old))
            await _audited(stores, keyring, None, f"master key {new} current; retired: "
                                                  f"{', '.join(old) or 'none'}")

        result = await MasterRotation(stores.keys, keyring, source, on_rotated=rotated).run(
            batch=args.batch, pause=max(0.0, args.pause),
            progress=progress_bar("re-wrapping member keys"),
            stopping=_stop_flag(), say=_say)
    if not result.finished:
        print(f"stopped after re-wrapping {result.member_keys:,} member keys; run "
              "`trademail keys rotate-master` again to finish", file=sys.stderr)
        return 130
    print(f"every member key and system key is under master key {result.key_id} "
          f"({result.member_keys:,} member keys re-wrapped by this run). The old key stays "
          "in the keyring as retired until `trademail keys retire` drops it; keep a backup "
          "of it while backups made before now are kept.")
    return 0


async def _retire(config: Config, args: argparse.Namespace) -> int:
    from trademail.cli import progress_bar
    from trademail.services.rotation import retire_master_key

    async with _opened(config) as (stores, keyring, source):
        await retire_master_key(stores.keys, stores.mailbox, keyring, source, args.key_id,
                                progress=progress_bar("reading member keys"))
    print(f"master key {args.key_id} is retired: the key file no longer holds it. Backups "
          "made while it was in use still need it.")
    return 0


async def _rotate_member(config: Config, args: argparse.Namespace) -> int:
    from trademail.cli import progress_bar
    from trademail.services.memberrotation import MemberRotation

    async with _opened(config) as (stores, keyring, _):
        result = await MemberRotation(stores.keys, stores.members, stores.mailbox,
                                      stores.correspondents, keyring).run(
            args.username, batch=args.batch, pause=max(0.0, args.pause),
            settle=max(0.0, args.settle), progress=progress_bar("re-wrapping messages"),
            stopping=_stop_flag())
        member = await stores.members.member_by_username(args.username)
        if result.finished and member is not None:
            await _audited(stores, keyring, member.id, "member key rotated")
    if not result.finished:
        print(f"stopped after {result.messages:,} messages; run `trademail keys "
              f"rotate-member {args.username}` again to finish", file=sys.stderr)
        return 130
    print(f"{args.username} has a new member key: {result.messages:,} messages and "
          f"{result.drafts:,} drafts re-wrapped, their search index rebuilt.")
    return 0
