"""The `trademail` command: serve, migrate, config, keys (in cli_keys.py), audit (in
cli_audit.py), dns (in cli_dns.py), staff, export."""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import os
import resource
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from trademail.cli_audit import add_audit_commands, run_audit_command
from trademail.cli_dkim import add_dkim_commands, run_dkim_command
from trademail.cli_dns import add_dns_command, run_dns_command
from trademail.cli_keys import add_key_commands, run_key_command
from trademail.clock import SystemClock
from trademail.config import Config
from trademail.configfile import load_config, render_config
from trademail.errors import ConfigError, NotFound, TradeMailError

log = structlog.get_logger("trademail")
SHUTDOWN_GRACE_SECONDS = 10.0
# Every wait of a stop is bounded (requests 10 s, the database pool 10 s, the event
# listener 5 s); a stop still running after this has met a wait that is not, and is cut.
STOP_DEADLINE_SECONDS = 30.0


def _stop_watchdog(seconds: float) -> None:
    """A process told to stop ends in `seconds` whatever it waits for: past that, every
    thread's stack goes to standard error (to find what hung) and the process exits."""
    def give_up() -> None:
        log.error("still stopping; exiting now (the stacks follow)", after_seconds=seconds)
        faulthandler.dump_traceback(all_threads=True)
        os._exit(70)  # EX_SOFTWARE: a supervisor sees the stop was not clean

    timer = threading.Timer(seconds, give_up)
    timer.daemon = True
    timer.start()


def _raise_open_file_limit(config: Config) -> None:
    """Every SMTP connection is an open file, and so is every HTTP one: with the usual soft
    limit (1024) idle SMTP clients could use up the process's files and starve the web
    door. Raise the soft limit to the hard one, as nginx and Go do, and warn when even that
    leaves too little beside [smtp] max_connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass  # some systems refuse RLIM_INFINITY: keep the soft limit
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    wanted = config.smtp.max_connections + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        log.warning("the open-file limit is low for [smtp] max_connections: raise the hard "
                    "limit (ulimit -Hn, LimitNOFILE=) or lower max_connections",
                    open_files=soft, wanted=wanted)


async def _serve(config: Config) -> None:
    from trademail.app import build_app
    from trademail.workers import inherited_sockets

    _raise_open_file_limit(config)
    sockets = inherited_sockets()
    app = await build_app(config, smtp_socket=sockets[1] if sockets else None)
    # Requests still running when the server is told to stop get this long to finish.
    # aiohttp's keep-alive timer also runs from a connection's start until a request's
    # headers are in, so it bounds how long a slow client may take to send them.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE_SECONDS,
                           keepalive_timeout=config.http.header_timeout_seconds)
    await runner.setup()
    try:
        site: web.BaseSite = web.SockSite(runner, sockets[0]) if sockets else web.TCPSite(
            runner, config.http.host, config.http.port)
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
        _stop_watchdog(STOP_DEADLINE_SECONDS)
    finally:
        await runner.cleanup()


async def _migrate(config: Config) -> None:
    from trademail.core import open_dkim, open_keyring
    from trademail.store import open_stores

    stores = await open_stores(config.store_url, pool_size=1,
                               progress=progress_bar("applying migrations"))
    try:
        keyring = await open_keyring(config, stores.keys)  # a wrong master key is refused
        await open_dkim(config, stores, keyring, SystemClock())  # the first DKIM pair
    finally:
        await stores.close()
    print(f"the {stores.db.dialect} database is up to date")


def progress_bar(label: str) -> Callable[[int, int], None] | None:
    """A progress bar on standard error when it is a terminal, with the time left at the
    pace so far; nothing in a pipe or a log."""
    if not sys.stderr.isatty():
        return None
    started = time.monotonic()

    def show(done: int, total: int) -> None:
        filled = int(30 * done / total) if total else 30
        elapsed = time.monotonic() - started
        left = int(elapsed * (total - done) / done) if 0 < done < total else 0
        eta = f" ETA {left // 60}:{left % 60:02d}" if done < total else " done"
        sys.stderr.write(f"\r{label} [{'#' * filled:<30}] {done:,}/{total:,}{eta}  "
                         + ("\n" if done >= total else ""))
        sys.stderr.flush()

    return show


async def _staff_create(config: Config, args: argparse.Namespace) -> None:
    from trademail.core import open_core

    password = _read_password(args.password_file)
    core = await open_core(config)
    try:
        profile = await core.market.operator.create_staff(
            username=args.username, password=password, email=args.email,
            company=args.company, country=args.country)
    finally:
        await core.close()
    print(f"staff account {profile.username} is ready; its alias is "
          f"{profile.aliases[0].address if profile.aliases else '(none)'}")


def _read_password(path: str | None) -> str:
    """A new password: from a file, from standard input when it is not a terminal, or asked
    for twice. Never from the command line, where other users and the shell history see it."""
    if path:
        return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("Password for the staff account: ")
    if getpass.getpass("Again: ") != first:
        raise TradeMailError("the two passwords differ")
    return first


async def _export(config: Config, args: argparse.Namespace) -> None:
    import json

    from trademail.core import open_core
    from trademail.gateway.compose import archived_mail

    mbox = _export_paths(args)
    core = await open_core(config)
    try:
        if args.kind == "banned":
            export = await core.market.operator.banned(args.username)
        else:
            export = await core.market.operator.lawful_request(args.username, args.reference,
                                                                messages=mbox is not None)
        mails = [archived_mail(m) for m in await core.market.operator.mailbox(
            export.member_id)] if mbox else []
    finally:
        await core.close()
    text = json.dumps(export.record, indent=2, ensure_ascii=False) + "\n"
    if args.output:
        with os.fdopen(_new_private_file(args.output), "w", encoding="utf-8") as out:
            out.write(text)
    else:
        sys.stdout.write(text)
    if mbox:
        _write_mbox(mbox, mails)


def _export_paths(args: argparse.Namespace) -> str | None:
    """The mbox an export writes, if any; files that exist are refused before anything is
    exported or audited."""
    mbox = (args.mbox or f"{args.username}.mbox") \
        if args.kind == "lawful-request" and args.messages else None
    for path in (args.output, mbox):
        if path and os.path.lexists(path):
            raise TradeMailError(f"{path} exists already; name a new file")
    return mbox


def _new_private_file(path: str) -> int:
    """A new file only its owner may read (what it holds is personal data): never one
    that exists, and never through a symbolic link."""
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise TradeMailError(f"{path} exists already; name a new file") from None


def _write_mbox(path: str, mails: list[Any]) -> None:
    import mailbox

    os.close(_new_private_file(path))
    box = mailbox.mbox(path)
    try:
        for mail in mails:
            box.add(mail)
        box.flush()
    finally:
        box.close()
    print(f"wrote {len(mails)} messages to {path}", file=sys.stderr)


def _admin_parsers(sub: Any) -> None:
    hidden = {"default": argparse.SUPPRESS, "help": argparse.SUPPRESS}
    staff = sub.add_parser("staff", help="TradeStaff accounts")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    create = staff_sub.add_parser("create", help="make a staff account (its address is "
                                                 "taken as confirmed)")
    create.add_argument("--config", metavar="FILE", **hidden)
    create.add_argument("username")
    create.add_argument("--email", required=True, help="the staff member's own address")
    create.add_argument("--company", default="TradeMail Staff")
    create.add_argument("--country", default="ZZ")
    create.add_argument("--password-file", metavar="FILE",
                        help="read the password from FILE (default: standard input, or ask)")
    export = sub.add_parser("export", help="a member's records for the authorities, audited")
    kinds = export.add_subparsers(dest="kind", required=True)
    banned = kinds.add_parser("banned", help="a BANNED member's business and contact "
                                             "information, for a fraud referral")
    lawful = kinds.add_parser("lawful-request", help="any member's records for a lawful "
                                                     "request")
    lawful.add_argument("--reference", required=True, help="the request's reference")
    lawful.add_argument("--messages", action="store_true",
                        help="also write the member's mail as mbox")
    lawful.add_argument("--mbox", metavar="FILE", help="where the mbox goes "
                                                       "(default: USERNAME.mbox)")
    for parser in (banned, lawful):
        parser.add_argument("--config", metavar="FILE", **hidden)
        parser.add_argument("username")
        parser.add_argument("--output", metavar="FILE",
                            help="write the JSON to a new FILE (default: standard output)")


def _positive(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 64:
        raise argparse.ArgumentTypeError("must be a whole number from 1 to 64")
    return int(value)


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
    commands["serve"].add_argument(
        "--workers", type=_positive, default=1, metavar="N",
        help="run N server processes sharing the ports (PostgreSQL only; default 1)")
    commands["config"].add_argument("--defaults", action="store_true",
                                    help="print every key with its default and documentation")
    add_key_commands(sub)
    add_dns_command(sub)
    add_dkim_commands(sub)
    add_audit_commands(sub)
    _admin_parsers(sub)
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
        if args.command == "serve" and args.workers > 1:
            from trademail.workers import Supervisor

            return Supervisor(config, args.workers, ["serve", *(
                ["--config", args.config] if args.config else [])]).run()
        if args.command == "serve":
            asyncio.run(_serve(config))
        elif args.command == "migrate":
            asyncio.run(_migrate(config))
        elif args.command == "staff":
            asyncio.run(_staff_create(config, args))
        elif args.command == "export":
            asyncio.run(_export(config, args))
        runners = {"dns": run_dns_command, "dkim": run_dkim_command, "keys": run_key_command,
                   "audit": run_audit_command}
        if args.command in runners:
            return runners[args.command](config, args)
    except ConfigError as exc:
        print(f"trademail: config error: {exc}", file=sys.stderr)
        return 2
    except NotFound:
        print("trademail: no member has that username", file=sys.stderr)
        return 1
    except TradeMailError as exc:
        print(f"trademail: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # an output file that cannot be written
        print(f"trademail: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
