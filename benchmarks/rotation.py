"""Online master-key rotation at scale: `trademail keys rotate-master` while a real server
serves API sends and reads, then every message of every member read back.

    python3 -m benchmarks.rotation --dsn postgresql://postgres@127.0.0.1/postgres
    python3 -m benchmarks.rotation --dsn ... --members 500 --messages 5000   # a quick run

Members sign up and messages are sent through the services (real keys, real ciphertexts,
a real word index), many at once. The rotation runs as its own process, is killed (SIGKILL)
once half the member keys are under the new key, and is run again to the end; the figures
are the wall time of both runs, member keys per second, the API requests served meanwhile,
and every mailbox entry read back (none lost: as many as the database holds, and as many
as were sent).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import asyncpg

from benchmarks.run import RAISED
from tests.process_helpers import Server
from trademail.app import open_core
from trademail.configfile import load_config
from trademail.crypto import read_keyring_file
from trademail.services.messages import Draft
from trademail.testing import FakeClock

PASSWORD = "benchmark harbour crane pallet"  # noqa: S105 - throwaway benchmark members


def _environ(data: Path, url: str) -> dict[str, str]:
    return {"TRADEMAIL_DATA_DIR": str(data), "TRADEMAIL_STORE_URL": url,
            "TRADEMAIL_CRYPTO_MASTER_KEY_FILE": str(data / "master.key"),
            "TRADEMAIL_CRYPTO_KEY_RELOAD_SECONDS": "2",
            "TRADEMAIL_AUTH_ARGON2_MEMORY_KIB": "64", "TRADEMAIL_AUTH_ARGON2_TIME_COST": "1",
            "TRADEMAIL_AUTH_ARGON2_PARALLELISM": "1", "TRADEMAIL_STORE_POOL_SIZE": "8",
            "TRADEMAIL_AUTH_CLIENT_FREE_SIGNUPS": "1000000",
            "TRADEMAIL_LOG_LEVEL": "warning"} | RAISED


async def seed(environ: dict[str, str], members: int, messages: int,
               ) -> tuple[list[tuple[str, str]], int]:
    """Members (name, API token of the first 50) and messages through the services."""
    core = await open_core(load_config(None, environ), FakeClock())
    gate = asyncio.Semaphore(16)
    try:
        async def one(n: int) -> str:
            async with gate:
                return (await core.signup.register(
                    username=f"bench{n:05d}", password=PASSWORD,
                    email=f"b{n}@real-bench.example", company=f"Bench {n}", country="Peru",
                    client=f"10.0.{n // 250}.{n % 250}")).id
        ids = await asyncio.gather(*(one(n) for n in range(members)))
        print(f"{members:,} members signed up", file=sys.stderr)

        async def send(k: int) -> None:
            async with gate:
                await core.sending.send(ids[k % members], Draft(
                    (f"bench{(k * 7 + 1) % members:05d}",), f"Lot {k}", f"cashew lot {k}"))
        for start in range(0, messages, 5000):
            await asyncio.gather(*(send(k) for k in range(start, min(start + 5000, messages))))
            print(f"\r{min(start + 5000, messages):,} messages sent", end="", file=sys.stderr)
        print(file=sys.stderr)
        tokens = [(f"bench{n:05d}", (await core.tokens.issue(
            ids[n], name="bench", scopes=None, expires_in=None))[1]) for n in range(50)]
    finally:
        await core.close()
    return tokens, messages


async def traffic(url: str, tokens: list[tuple[str, str]], stop: asyncio.Event) -> int:
    done = 0
    async with aiohttp.ClientSession(url) as http:
        while not stop.is_set():
            for n, (_, token) in enumerate(tokens):
                auth = {"Authorization": f"Bearer {token}"}
                async with http.post("/api/v1/messages", headers=auth, json={
                        "to": [tokens[(n + 1) % len(tokens)][0]], "subject": "During",
                        "body": "sent while rotating"}) as resp:
                    assert resp.status == 201, await resp.text()
                async with http.get("/api/v1/messages?limit=20", headers=auth) as resp:
                    assert resp.status == 200, await resp.text()
                    for item in (await resp.json())["messages"][:2]:
                        async with http.get(f"/api/v1/messages/{item['id']}",
                                            headers=auth) as one:
                            assert one.status == 200
                done += 4
    return done


async def read_back(environ: dict[str, str]) -> tuple[int, int]:
    """(members, mailbox entries) read: every entry of every member opened."""
    core = await open_core(load_config(None, environ), FakeClock())
    try:
        ids = [m.member_id for m in await core.stores.keys.member_keys_after("", 10**9)]
        entries = 0
        for member_id in ids:
            for folder in ("inbox", "sent"):
                cursor = None
                while True:
                    page = await core.reading.page(member_id, folder=folder, cursor=cursor,
                                                   limit=200)
                    entries += len(page.items)
                    if not (cursor := page.next_cursor):
                        break
    finally:
        await core.close()
    return len(ids), entries


async def rotate_killed_half_way(environ: dict[str, str], batch: int, db: asyncpg.Connection,
                                  schema: str, key: Path, members: int) -> int:
    """Start `keys rotate-master`, SIGKILL it once half the member keys are under the new
    key (read from the database), and say how many were."""
    old = read_keyring_file(key)[0].id
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "trademail", "keys", "rotate-master", "--batch", str(batch),
        env=environ, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    while True:
        moved = await db.fetchval(f"SELECT count(*) FROM {schema}.members "
                                  "WHERE substring(member_key from 2 for 8) <> $1", old)
        if moved >= members // 2 or proc.returncode is not None:
            break
        await asyncio.sleep(0.05)
    assert proc.returncode is None, "the rotation ended before it was half-way"
    proc.kill()
    await proc.wait()
    return int(moved)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dsn", required=True, help="a PostgreSQL database to use a schema of")
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    schema = f"bench_rotation_{os.getpid()}"
    admin = await asyncpg.connect(args.dsn)
    await admin.execute(f"CREATE SCHEMA {schema}")
    url = f"{args.dsn}{'&' if '?' in args.dsn else '?'}options=-csearch_path%3D{schema}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp)
            environ = _environ(data, url)
            t0 = time.monotonic()
            tokens, sent = await seed(environ, args.members, args.messages)
            print(f"seeded in {time.monotonic() - t0:.0f} s", file=sys.stderr)
            server = Server(data, url, 9, **{k: v for k, v in environ.items()
                                              if k != "TRADEMAIL_DATA_DIR"},
                            TRADEMAIL_CRYPTO_MASTER_KEY="", TRADEMAIL_RELAY_SMARTHOST="")
            await server.start()
            stop = asyncio.Event()
            load = asyncio.create_task(traffic(server.url, tokens, stop))
            env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEMAIL_")}
            started = time.monotonic()
            killed_at = await rotate_killed_half_way(
                env | environ, args.batch, admin, schema, data / "master.key", args.members)
            first = time.monotonic() - started
            rotation = await asyncio.to_thread(subprocess.run, [
                sys.executable, "-m", "trademail", "keys", "rotate-master", "--batch",
                str(args.batch)], env=env | environ, capture_output=True, text=True, check=False)
            took = time.monotonic() - started
            stop.set()
            requests = await load
            server.stop()
            assert rotation.returncode == 0, rotation.stderr
            members, entries = await read_back(environ)
            stored = await admin.fetchval(f"SELECT count(*) FROM {schema}.mailbox")
            assert entries == stored == 2 * (sent + requests // 4), (entries, stored, sent)
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()
    print(f"rotate-master: {args.members:,} members, {sent:,} messages seeded; killed with "
          f"{killed_at:,} member keys re-wrapped after {first:.1f} s, run again to the end: "
          f"{took:.1f} s wall in all (of which two reload waits ~6 s), "
          f"{args.members / took:,.0f} members/s; {requests:,} API requests served "
          f"meanwhile ({requests / took:,.0f}/s); read back {entries:,} mailbox entries "
          f"of {members:,} members, every one opened")


if __name__ == "__main__":
    asyncio.run(main())
