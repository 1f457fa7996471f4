"""What `benchmarks/run.py` measures TradeMail against, and the set-up it needs: a bare
asyncpg loop committing a send's rows, a bare aiosmtpd sink, a private Postfix instance
delivering to a Maildir, a quick inbox filler, paced inbox requests, web sessions."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import asyncpg
from inbox_page import fill

from trademail.app import open_core
from trademail.cli import progress_bar
from trademail.configfile import load_config
from trademail.testing import FakeClock


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_for_port(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port}")


async def bare_commit_rate(dsn: str, seconds: int, *, tasks: int = 32, pool: int = 10) -> float:
    """Commits/s of a loop that writes what one send writes (a message, two mailbox
    entries, an outbox row, sizes alike), with the server's pool size and 32 writers."""
    schema = f"bare_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f"""
        CREATE SCHEMA {schema};
        CREATE TABLE {schema}.messages (id text PRIMARY KEY, thread_id text, sender_id text,
            recipient_ids text, created_at double precision, subject_ct bytea, body_ct bytea,
            snippet_ct bytea);
        CREATE TABLE {schema}.mailbox (member_id text, message_id text, thread_id text,
            folder text, unread boolean, content_key bytea, PRIMARY KEY (member_id, message_id));
        CREATE TABLE {schema}.outbox (id text PRIMARY KEY, kind text, member_id text,
            created_at double precision, payload_ct bytea, state text,
            next_attempt_at double precision);
        CREATE INDEX ON {schema}.outbox (next_attempt_at) WHERE state = 'pending';""")
    done = 0
    stop = time.monotonic() + seconds

    async def writer(connections: asyncpg.Pool) -> None:
        nonlocal done
        while time.monotonic() < stop:
            mid = secrets.token_hex(13)
            async with connections.acquire() as conn, conn.transaction():
                await conn.execute(
                    f"INSERT INTO {schema}.messages VALUES ($1, $1, 'a', '[\"b\"]', $2, $3, $4, "
                    "$5)", mid, time.time(), os.urandom(60), os.urandom(120), os.urandom(100))
                await conn.executemany(
                    f"INSERT INTO {schema}.mailbox VALUES ($1, $2, $2, $3, $4, $5)",
                    [("a", mid, "sent", False, os.urandom(60)),
                     ("b", mid, "inbox", True, os.urandom(60))])
                await conn.execute(
                    f"INSERT INTO {schema}.outbox VALUES ($1, 'mail', 'b', $2, $3, 'pending', "
                    "$2)", mid, time.time(), os.urandom(1500))
            done += 1

    try:
        async with asyncpg.create_pool(dsn, min_size=pool, max_size=pool) as connections:
            started = time.monotonic()
            await asyncio.gather(*(writer(connections) for _ in range(tasks)))
            return done / (time.monotonic() - started)
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


def _core_environ(store_url: str, data_dir: Path) -> dict[str, str]:
    from run import MASTER_KEY

    return {"TRADEMAIL_DATA_DIR": str(data_dir), "TRADEMAIL_STORE_URL": store_url,
            "TRADEMAIL_CRYPTO_MASTER_KEY": MASTER_KEY, "TRADEMAIL_LOG_LEVEL": "warning"}


async def fill_inbox(store_url: str, data_dir: Path, sender: str, recipient: str,
                     count: int) -> int:
    """`count` more messages from `sender` in `recipient`'s inbox, written straight into
    the database (real ciphertexts; see inbox_page.py)."""
    if count <= 0:
        return 0
    core = await open_core(load_config(None, _core_environ(store_url, data_dir)), FakeClock())
    try:
        ids = [(await core.stores.members.member_by_username(name)) for name in
               (sender, recipient)]
        assert ids[0] and ids[1]
        started = time.perf_counter()
        await fill(core, ids[0].id, ids[1].id, count, time.time() - count,
                   progress_bar(f"    filling an inbox with {count:,} messages"))
        print(f"    filled {count:,} messages in {time.perf_counter() - started:.0f} s",
              flush=True)
    finally:
        await core.close()
    return count


async def count_inbox(store_url: str, data_dir: Path, username: str) -> int:
    core = await open_core(load_config(None, _core_environ(store_url, data_dir)), FakeClock())
    try:
        member = await core.stores.members.member_by_username(username)
        assert member
        return int(await core.stores.db.fetchval(
            "SELECT count(*) FROM mailbox WHERE member_id = $1 AND folder = 'inbox'", member.id))
    finally:
        await core.close()


@contextlib.asynccontextmanager
async def sink() -> AsyncIterator[int]:
    """aiosmtpd's own Sink handler: accepts every mail and throws it away."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c",
         "aiosmtpd.handlers.Sink"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await _wait_for_port(port)
        yield port
    finally:
        proc.terminate()
        proc.wait()


# Debian puts Postfix's commands in /usr/sbin, which a user's PATH may not name.
SBIN = f"{os.environ.get('PATH', '')}:/usr/sbin:/usr/local/sbin"
POSTFIX = shutil.which("postfix", path=SBIN) or ""
SMTP_SOURCE = shutil.which("smtp-source", path=SBIN) or ""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {base}/spool
data_directory = {base}/lib
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = peer.bench.example
mydestination =
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = peer.bench.example
virtual_mailbox_base = {base}/mail
virtual_mailbox_maps = static:box/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
smtpd_client_connection_count_limit = 0
default_process_limit = 100
maillog_file = {base}/maillog
maillog_file_prefixes = {base}
"""


@contextlib.asynccontextmanager
async def postfix() -> AsyncIterator[tuple[int, str]]:
    """A private Postfix instance (Debian's package) taking mail for one address into a
    Maildir, as an operator would run it: queue files fsynced, then delivered. (0, "")
    when Postfix is not installed or cannot run here."""
    if not (POSTFIX and Path("/etc/postfix/master.cf").exists()):
        yield 0, ""
        return
    port = _free_port()
    base = Path(tempfile.mkdtemp(prefix="trademail-bench-postfix-"))
    base.chmod(0o755)  # Postfix's own users work in it
    etc = base / "etc"
    etc.mkdir()
    (etc / "main.cf").write_text(MAIN_CF.format(base=base))
    master = []
    for line in Path("/etc/postfix/master.cf").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 8 and not line.startswith(("#", " ")):
            if fields[0] == "smtp" and fields[1] == "inet":
                fields[0] = f"127.0.0.1:{port}"
            fields[4] = "n"  # no chroot: the private instance has no chroot jail
            line = "  ".join(fields)
        master.append(line)
    (etc / "master.cf").write_text("\n".join(master) + "\n")
    for name, owner in (("spool", None), ("lib", "postfix"), ("mail", "nobody")):
        (base / name).mkdir()
        if owner:
            shutil.chown(base / name, owner)
    try:
        subprocess.run([POSTFIX, "-c", str(etc), "start"], check=True,
                       capture_output=True)
    except (subprocess.CalledProcessError, OSError) as exc:
        log = base / "maillog"
        print(f"    Postfix did not start: {exc}; "
              f"{log.read_text()[-300:] if log.exists() else ''}", flush=True)
        shutil.rmtree(base, ignore_errors=True)
        yield 0, ""
        return
    try:
        await _wait_for_port(port)
        yield port, "bench@peer.bench.example"
    finally:
        subprocess.run([POSTFIX, "-c", str(etc), "stop"], check=False,
                       capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


async def paced_latencies(url: str, token: str, seconds: float, *,
                          every: float = 0.02) -> list[float]:
    """Milliseconds each of a steady trickle of requests took (one every `every` s)."""
    found: list[float] = []
    stop = time.monotonic() + seconds
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        while time.monotonic() < stop:
            started = time.perf_counter()
            async with http.get(url) as resp:
                await resp.read()
                assert resp.status == 200, resp.status
            took = time.perf_counter() - started
            found.append(took * 1000)
            await asyncio.sleep(max(0.0, every - took))
    return found


async def web_sessions(base: str, username: str, password: str, count: int, *,
                       at_once: int = 16) -> int:
    """`count` web sessions for one member, each signed in through the sign-in form by a
    browser of its own (cookie jar, CSRF token)."""
    gate = asyncio.Semaphore(at_once)
    made = 0

    async def one() -> None:
        nonlocal made
        async with gate, aiohttp.ClientSession(
                cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            async with browser.get(f"{base}/signin") as resp:
                csrf = re.search(r'name="csrf" value="([^"]+)"', await resp.text())
            assert csrf
            async with browser.post(f"{base}/signin", allow_redirects=False, data={
                    "username": username, "password": password, "csrf": csrf[1]}) as resp:
                if resp.status == 303:
                    made += 1

    await asyncio.gather(*(one() for _ in range(count)))
    return made


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text()
                   .splitlines() if line.startswith("MemTotal")), 0)
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True,
                        check=False).stdout.strip() if shutil.which("psql") else "?"
    return (f"Machine: {os.cpu_count()} cores ({cpu}), {memory / 1024 / 1024:.0f} GiB, "
            f"Linux {platform.release()}, Python {platform.python_version()}, {pg}; "
            f"date {time.strftime('%Y-%m-%d')}")


@contextlib.contextmanager
def profiled(pid: int, seconds: int, out: Path | None) -> Iterator[None]:
    """py-spy sampling process `pid` for `seconds` while the block runs (with --profile):
    the raw stacks are kept in `out` and the functions that took most of the time are
    printed. The sampler takes some CPU of its own, so figures of a profiled run are a
    little low."""
    py_spy = shutil.which("py-spy")
    if out is None or py_spy is None:
        if out is not None:
            print("    (no py-spy on PATH: pip install py-spy for a profile)", flush=True)
        yield
        return
    sampler = subprocess.Popen(
        [py_spy, "record", "-p", str(pid), "-d", str(seconds), "-r", "200", "-f", "raw",
         "-o", str(out), "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        sampler.wait(timeout=seconds + 60)
    if out.exists():
        print(profile_summary(out), flush=True)


# Frames under which everything runs: they would head every profile and say nothing.
_FRAMEWORK = re.compile(r"runpy|<module>|\(asyncio/|threading\.py|trademail/(cli|__main__)\.py")


def profile_summary(path: Path, top: int = 15) -> str:
    """The functions with the largest share of samples (the time in them and in what they
    call), from py-spy's raw output, TradeMail's own and the libraries' alike."""
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        frames = {re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")}
        for frame in frames:
            if frame and not _FRAMEWORK.search(frame):
                inclusive[frame] += int(count)
    rows = [f"      {100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(top)]
    return f"    profile ({total:,} samples; kept in {path}):\n" + "\n".join(rows)
