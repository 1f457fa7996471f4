"""The `trademail` command: serve, migrate, config, rotate-master-key."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import structlog
from aiohttp import web

from trademail.config import Config
from trademail.configfile import load_config, render_config
from trademail.errors import ConfigError, TradeMailError

log = structlog.get_logger("trademail")


async def _serve(config: Config) -> None:
    from trademail.app import build_app

    app = await build_app(config)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.http.host, config.http.port)
        try:
            await site.start()
        except OSError as exc:
            raise TradeMailError(f"cannot listen on {config.http.host}:{config.http.port}: "
                                 f"{exc.strerror or exc}") from None
        from trademail.appkeys import SMTP_GATEWAY

        smtp_host, smtp_port = app[SMTP_GATEWAY].address
        log.info("TradeMail is serving", url=config.public_url, smtp=f"{smtp_host}:{smtp_port}",
                 store=config.store_url.split(":", 1)[0])
        if not config.relay.smarthost:
            log.warning("no [relay] smarthost: outbound mail, with real addresses and (for "
                        "members who chose full notifications) message text, is written in "
                        "clear to a Maildir for inspection; set a smarthost in production",
                        maildir=str(config.maildir_path))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("TradeMail is stopping")
    finally:
        await runner.cleanup()


async def _migrate(config: Config) -> None:
    from trademail.app import open_keyring
    from trademail.store import open_stores

    stores = await open_stores(config.store_url, pool_size=1)
    try:
        await open_keyring(config, stores.keys)  # a wrong master key is refused here too
    finally:
        await stores.close()
    print(f"the {stores.db.dialect} database is up to date")


async def _rotate(config: Config, new_key_file: str) -> None:
    from trademail.app import open_keyring
    from trademail.crypto import key_file
    from trademail.services.rotation import rotate_master_key
    from trademail.store import open_stores

    stores = await open_stores(config.store_url, pool_size=1)
    try:
        new = key_file(Path(new_key_file))
        keyring = await open_keyring(config, stores.keys, also=[new])
        count = await rotate_master_key(stores.keys, keyring, new)
    finally:
        await stores.close()
    print(f"re-wrapped the system keys and {count} member keys under key {new.id.hex()}.\n"
          f"Now make {new_key_file} the [crypto] master_key_file (or give it in "
          "TRADEMAIL_CRYPTO_MASTER_KEY) and start the servers; keep the old key until they "
          "all run with the new one.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trademail", description=__doc__)
    parser.add_argument("--config", metavar="FILE",
                        help="TOML config file (default: $TRADEMAIL_CONFIG, else built-in "
                             "defaults); TRADEMAIL_<SECTION>_<KEY> variables override it")
    sub = parser.add_subparsers(dest="command", required=True)
    commands = {}
    for name, help_text in (("serve", "run the web inbox, the API and the SMTP gateway"),
                            ("migrate", "bring the database schema up to date"),
                            ("config", "print the effective config, secrets masked")):
        commands[name] = sub.add_parser(name, help=help_text)
        commands[name].add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                                    help=argparse.SUPPRESS)
    commands["config"].add_argument("--defaults", action="store_true",
                                    help="print every key with its default and documentation")
    rotate = sub.add_parser(
        "rotate-master-key", help="re-wrap every key under a new master key (servers stopped)")
    rotate.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                        help=argparse.SUPPRESS)
    rotate.add_argument("new_key_file", metavar="NEW_KEY_FILE",
                        help="the new master key; made (mode 0600) when the file is missing")
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    environ = os.environ if environ is None else environ
    try:
        config = load_config(args.config, environ)
    except ConfigError as exc:
        print(f"trademail: config error: {exc}", file=sys.stderr)
        return 2
    if args.command == "config":
        sys.stdout.write(render_config(Config(), documented=True) if args.defaults
                         else render_config(config))
        return 0
    from trademail.logs import configure_logging

    configure_logging(config.log.level, config.log.format)
    try:
        if args.command == "serve":
            asyncio.run(_serve(config))
        elif args.command == "migrate":
            asyncio.run(_migrate(config))
        else:
            asyncio.run(_rotate(config, args.new_key_file))
    except ConfigError as exc:
        print(f"trademail: config error: {exc}", file=sys.stderr)
        return 2
    except TradeMailError as exc:
        print(f"trademail: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
