"""TradeMail's benchmark: real servers, loaded from other processes, each figure printed
beside the limit it is measured against in the same run.

    python3 benchmarks/run.py                    # PostgreSQL and SQLite, every part
    python3 benchmarks/run.py --quick            # short runs, a 10,000-message inbox only
    python3 benchmarks/run.py --only send smtp   # some parts

Needs PostgreSQL (`--dsn`, default postgresql://postgres@127.0.0.1:5432/postgres; each run
uses a schema of its own and drops it), and from Debian's packages `wrk` (the HTTP load)
and `postfix` (`smtp-source` for the SMTP load, and Postfix itself as the peer). Servers
are started with `trademail serve` as an operator would, with the sending limits raised
(the benchmark measures throughput, not refusals) and info logs off.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import unquote

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_peers

PASSWORD = "benchmark harbour crane pallet"  # noqa: S105 - throwaway benchmark members
MASTER_KEY = base64.b64encode(b"B" * 32).decode()
RAISED = {  # what the benchmark lifts so it measures work, not refusals
    "TRADEMAIL_LIMITS_MEMBER_MESSAGES_PER_HOUR": "0",
    "TRADEMAIL_LIMITS_MEMBER_NEW_CORRESPONDENTS_PER_DAY": "0",
    "TRADEMAIL_LIMITS_NEW_ACCOUNT_MESSAGES_PER_HOUR": "0",
    "TRADEMAIL_LIMITS_NEW_ACCOUNT_NEW_CORRESPONDENTS_PER_DAY": "0",
    "TRADEMAIL_SMTP_MAX_CONNECTIONS_PER_CLIENT": "1000",
    "TRADEMAIL_SMTP_MAX_MESSAGES_PER_MINUTE": "100000",
    "TRADEMAIL_AUTH_CLIENT_FREE_FAILURES": "10000",  # sign-ins in flight count until checked
    "TRADEMAIL_AUTH_ACCOUNT_FREE_FAILURES": "100",
    "TRADEMAIL_AUTH_CLIENT_FREE_SIGNUPS": "100000",
    "TRADEMAIL_LOG_LEVEL": "warning",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Row:
    part: str
    store: str
    figure: str
    limit: str = ""
    note: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    def add(self, *args: str) -> None:
        row = Row(*args)
        self.rows.append(row)
        print(f"  {row.part} [{row.store}]: {row.figure}   {row.limit}   {row.note}",
              flush=True)

    def table(self) -> str:
        lines = ["| part | store | TradeMail | limit in the same run | note |",
                 "|---|---|---|---|---|"]
        lines += [f"| {r.part} | {r.store} | {r.figure} | {r.limit} | {r.note} |"
                  for r in self.rows]
        return "\n".join(lines)


# ---------------------------------------------------------------- a real server


class Server:
    """`trademail serve` in processes of its own, on a fresh database."""

    def __init__(self, store_url: str, data_dir: Path, *, workers: int = 1,
                 **env: str) -> None:
        self.http, self.smtp = free_port(), free_port()
        self.data_dir = data_dir
        self.workers = workers
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEMAIL_")} | {
            "TRADEMAIL_DATA_DIR": str(data_dir), "TRADEMAIL_STORE_URL": store_url,
            "TRADEMAIL_CRYPTO_MASTER_KEY": MASTER_KEY, "TRADEMAIL_HTTP_PORT": str(self.http),
            "TRADEMAIL_SMTP_PORT": str(self.smtp),
            "TRADEMAIL_SMTP_RELAY_DOMAIN": "relay.bench.example"} | RAISED | env
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.http}"

    async def __aenter__(self) -> Server:
        args = ["--workers", str(self.workers)] if self.workers > 1 else []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "trademail", "serve", *args], env=self.env,
            stdout=subprocess.DEVNULL)
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{self.url}/readyz") as resp:
                        if resp.status == 200:
                            return self
                if self.proc.poll() is not None:
                    raise SystemExit("the server did not start")
                await asyncio.sleep(0.1)
        raise SystemExit("the server did not start in a minute")

    async def __aexit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)

    def pids(self) -> list[int]:
        """The server process, or its workers."""
        assert self.proc is not None
        if self.workers == 1:
            return [self.proc.pid]
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in children.read_text().split()]

    def rss_mib(self) -> float:
        return sum(_status_kib(pid, "VmRSS") for pid in self.pids()) / 1024

    def peak_rss_mib(self) -> float:
        return sum(_status_kib(pid, "VmHWM") for pid in self.pids()) / 1024

    async def member(self, http: aiohttp.ClientSession, username: str) -> tuple[str, str]:
        """A confirmed member (the link read from the Maildir the relay writes) and a
        token for them: (token, alias)."""
        email = f"{username}@members.bench.example"
        async with http.post(f"{self.url}/api/v1/members", json={
                "username": username, "password": PASSWORD, "email": email,
                "company": f"{username.title()} Ltd", "country": "Kenya"}) as resp:
            assert resp.status == 201, await resp.text()
            alias = (await resp.json())["aliases"][0]["address"]
        token = await self._confirm_link(username)
        async with http.post(f"{self.url}/api/v1/members/confirm",
                             json={"token": token}) as resp:
            assert resp.status == 204, await resp.text()
        async with http.post(f"{self.url}/api/v1/tokens", json={
                "username": username, "password": PASSWORD, "name": "bench"}) as resp:
            assert resp.status == 201, await resp.text()
            return (await resp.json())["token"], alias

    async def _confirm_link(self, username: str) -> str:
        maildir = self.data_dir / "outbound-mail" / "new"
        for _ in range(600):
            for path in maildir.glob("*") if maildir.exists() else ():
                mail = message_from_bytes(path.read_bytes(), policy=policy.default)
                body = mail.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
                text = body.get_content() if body is not None else ""
                found = re.search(r"signup/confirm\?token=([^\s&]+)", text)
                if f"{username}@members" in str(mail["To"]) and found:
                    return unquote(found[1])
            await asyncio.sleep(0.05)
        raise SystemExit(f"no confirmation mail for {username}")


def _status_kib(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return float(line.split()[1])
    return 0.0


@contextlib.asynccontextmanager
async def database(kind: str, dsn: str) -> AsyncIterator[str]:
    """A fresh store: a PostgreSQL schema (dropped afterwards) or an SQLite file."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.sqlite3"
        return
    schema = f"bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{dsn}{'&' if '?' in dsn else '?'}search_path={schema}"
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


@contextlib.contextmanager
def data_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="trademail-bench-") as tmp:
        yield Path(tmp)


# ---------------------------------------------------------------- load: wrk and smtp-source


@dataclass
class Load:
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int


WRK_SCRIPT = """
wrk.method = "{method}"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
local errors = 0
response = function(status, headers, body)
  if status >= 300 then errors = errors + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %f %f %f %d\\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
"""


def wrk(url: str, token: str, *, method: str = "GET", body: object = None,
        connections: int = 32, seconds: int = 10) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT.format(method=method, token=token, body=json.dumps(
            json.dumps(body)) if body is not None else "nil"))
    try:
        out = subprocess.run(
            [shutil.which("wrk") or "wrk", "-t", "2", "-c", str(connections), "-d",
             f"{seconds}s", "--timeout", "10s", "-s", script.name, url],
            capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    found = re.search(r"RESULT (\S+) (\S+) (\S+) (\d+)", out)
    if not found:
        raise SystemExit(f"wrk said: {out}")
    return Load(float(found[1]), float(found[2]), float(found[3]), int(found[4]))


def smtp_source(port: int, to: str, *, count: int, reuse: bool) -> float:
    """Messages/s that smtp-source (8 sessions, 1 KB messages) got accepted."""
    args = ["smtp-source", "-s", "8", "-m", str(count), "-l", "1024", "-f",
            "trader@outside.bench.example", "-t", to, "-c"]
    if reuse:
        args.append("-d")
    started = time.perf_counter()
    subprocess.run([bench_peers.SMTP_SOURCE or "smtp-source", *args[1:],
                    f"127.0.0.1:{port}"], check=True, capture_output=True)
    return count / (time.perf_counter() - started)


# ---------------------------------------------------------------- the parts


async def part_send(report: Report, kind: str, dsn: str, seconds: int,
                    profile: Path | None = None) -> None:
    workers_list = (1, 2) if kind == "postgres" else (1,)
    limit = await bench_peers.bare_commit_rate(dsn, seconds) if kind == "postgres" else 0.0
    for workers in workers_list:
        async with database(kind, dsn) as url:
            with data_dir() as tmp:
                async with Server(url, tmp, workers=workers) as server, \
                        aiohttp.ClientSession() as http:
                    token, _ = await server.member(http, "amina")
                    await server.member(http, "bakari")
                    with bench_peers.profiled(server.pids()[0], seconds, profile and (
                            profile / f"send-{kind}-{workers}.txt")):
                        load = wrk(f"{server.url}/api/v1/messages", token, method="POST",
                                   body={"to": ["bakari"], "subject": "Cashew prices",
                                         "body": "Can you quote 20 tonnes of W320, CIF "
                                                 "Mombasa?"},
                                   connections=32, seconds=seconds)
                    behind = await outbox_depth(http, server)
                    drained = await drain_seconds(http, server)
        # Sustained: every message sent and its notification delivered, load and catching
        # up together (what the server keeps up with for as long as the load lasts).
        sustained = load.rate * seconds / (seconds + drained)
        report.add(f"send, {workers} process{'es' if workers > 1 else ''}", kind,
                   f"{load.rate:,.0f} msg/s, p50 {load.p50_ms:.0f} ms, "
                   f"p99 {load.p99_ms:.0f} ms @32; sustained {sustained:,.0f} msg/s",
                   f"bare asyncpg: {limit:,.0f} commits/s ({sustained / limit:.2f})"
                   if limit else "", ", ".join(filter(None, [
                       f"{load.errors} errors" if load.errors else "",
                       f"{behind:,} notifications still queued when the load stopped, "
                       f"delivered {drained:.1f} s later"])))


async def drain_seconds(http: aiohttp.ClientSession, server: Server) -> float:
    """How long the outbox takes to empty once the load has stopped (at most ten minutes)."""
    started = time.perf_counter()
    for _ in range(3000):  # another process's figure: polled
        if await outbox_depth(http, server) <= 0:
            break
        await asyncio.sleep(0.2)
    return time.perf_counter() - started


async def outbox_depth(http: aiohttp.ClientSession, server: Server) -> int:
    """How many deliveries wait in the outbox (from /metrics, summed over processes)."""
    async with http.get(f"{server.url}/metrics") as resp:
        text = await resp.text()
    found = re.search(r"^trademail_outbox_depth(?:\{[^}]*\})? (\S+)$", text, re.M)
    return int(float(found[1])) if found else -1


async def part_inbox(report: Report, kind: str, dsn: str, seconds: int,
                     sizes: list[int]) -> None:
    async with database(kind, dsn) as url:
        with data_dir() as tmp:
            async with Server(url, tmp) as server, aiohttp.ClientSession() as http:
                await server.member(http, "amina")
                token, _ = await server.member(http, "bakari")
                have = 0
                for size in sorted(sizes):
                    have += await bench_peers.fill_inbox(url, tmp, "amina", "bakari",
                                                         size - have)
                    load = wrk(f"{server.url}/api/v1/messages?folder=inbox&limit=50",
                               token, connections=8, seconds=seconds)
                    report.add(f"inbox page, {size:,} messages", kind,
                               f"{load.rate:,.0f} pages/s, p50 {load.p50_ms:.1f} ms, "
                               f"p99 {load.p99_ms:.1f} ms @8", "",
                               f"{load.errors} errors" if load.errors else "")


async def part_smtp(report: Report, kind: str, dsn: str, count: int) -> None:
    async with database(kind, dsn) as url:
        with data_dir() as tmp:
            async with Server(url, tmp) as server, aiohttp.ClientSession() as http:
                _, alias = await server.member(http, "amina")
                ours = {reuse: smtp_source(server.smtp, alias, count=count, reuse=reuse)
                        for reuse in (True, False)}
                stored = await bench_peers.count_inbox(url, tmp, "amina")
    async with bench_peers.sink() as sink_port:
        sink = {reuse: smtp_source(sink_port, "x@sink.example", count=count, reuse=reuse)
                for reuse in (True, False)}
    async with bench_peers.postfix() as (postfix_port, rcpt):
        peer = {reuse: smtp_source(postfix_port, rcpt, count=count, reuse=reuse)
                for reuse in (True, False)} if postfix_port else {}
    for reuse in (True, False):
        how = "reused connections" if reuse else "a connection per mail"
        report.add(f"SMTP in, {how}", kind, f"{ours[reuse]:,.0f} msg/s",
                   f"aiosmtpd sink {sink[reuse]:,.0f}/s ({ours[reuse] / sink[reuse]:.2f}); "
                   + (f"Postfix {peer[reuse]:,.0f}/s ({ours[reuse] / peer[reuse]:.2f})"
                      if peer else "Postfix: not installed"),
                   f"{stored:,} of {2 * count:,} stored" if reuse else "")


async def part_signin(report: Report, kind: str, dsn: str, seconds: int) -> None:
    async with database(kind, dsn) as url:
        with data_dir() as tmp:
            async with Server(url, tmp) as server, aiohttp.ClientSession() as http:
                token, _ = await server.member(http, "amina")
                storm = asyncio.create_task(asyncio.to_thread(
                    wrk, f"{server.url}/api/v1/tokens", "", method="POST",
                    body={"username": "amina", "password": PASSWORD, "name": "storm"},
                    connections=16, seconds=seconds))
                await asyncio.sleep(1)
                during = await bench_peers.paced_latencies(
                    f"{server.url}/api/v1/messages?limit=50", token, seconds - 2)
                load = await storm
    during.sort()
    p99 = during[int(len(during) * 0.99) - 1]
    report.add("sign-in storm @16", kind,
               f"{load.rate:,.1f} sign-ins/s (Argon2id as configured)",
               f"inbox p99 during it: {p99:.1f} ms (target < 50)",
               f"{len(during)} inbox requests; {load.errors} sign-ins refused")


async def part_memory(report: Report, kind: str, dsn: str, sessions: int) -> None:
    async with database(kind, dsn) as url:
        with data_dir() as tmp:
            async with Server(url, tmp, TRADEMAIL_AUTH_ARGON2_MEMORY_KIB="64",
                              TRADEMAIL_AUTH_ARGON2_TIME_COST="1",
                              TRADEMAIL_MESSAGES_MAX_ATTACHMENT_BYTES=str(12 << 20)) as server, \
                    aiohttp.ClientSession() as http:
                token, _ = await server.member(http, "amina")
                await server.member(http, "bakari")
                idle = server.rss_mib()
                made = await bench_peers.web_sessions(server.url, "amina", PASSWORD, sessions)
                with_sessions = server.rss_mib()
                peak_before = server.peak_rss_mib()
                form = aiohttp.FormData()
                form.add_field("to", "bakari")
                form.add_field("subject", "Specification")
                form.add_field("body", "Attached.")
                form.add_field("attachment", os.urandom(10 << 20), filename="spec.bin",
                               content_type="application/octet-stream")
                async with http.post(f"{server.url}/api/v1/messages", data=form,
                                     headers={"Authorization": f"Bearer {token}"}) as resp:
                    status = resp.status
                peak = server.peak_rss_mib()
    report.add("memory", kind, f"{idle:.0f} MiB idle; {with_sessions:.0f} MiB with "
               f"{made:,} sessions", "",
               f"10 MB upload (HTTP {status}): peak {max(peak, peak_before):.0f} MiB, "
               f"+{max(0.0, peak - peak_before):.0f} MiB")


async def main(args: argparse.Namespace) -> None:
    report = Report()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    seconds = 5 if args.quick else args.seconds
    sizes = [10_000] if args.quick else args.inbox_sizes
    for kind in args.stores:
        print(f"{kind}:", flush=True)
        if "send" in args.only:
            await part_send(report, kind, args.dsn, seconds, args.profile)
        if "inbox" in args.only:
            await part_inbox(report, kind, args.dsn, seconds, sizes)
        if "smtp" in args.only:
            await part_smtp(report, kind, args.dsn, 1000 if args.quick else 4000)
        if "signin" in args.only:
            await part_signin(report, kind, args.dsn, max(seconds, 8))
        if "memory" in args.only:
            await part_memory(report, kind, args.dsn, 2_000 if args.quick else 10_000)
    print()
    print(bench_peers.machine())
    print()
    print(report.table())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--stores", nargs="+", default=["postgres", "sqlite"],
                        choices=["postgres", "sqlite"])
    parser.add_argument("--only", nargs="+", default=["send", "inbox", "smtp", "signin",
                                                      "memory"],
                        choices=["send", "inbox", "smtp", "signin", "memory"])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--inbox-sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="sample the server with py-spy during each send run; raw "
                             "stacks go to DIR, the top functions are printed")
    asyncio.run(main(parser.parse_args()))
