"""How long one inbox page takes as a mailbox grows: keyset pagination should keep it flat.

    python3 benchmarks/inbox_page.py                      # SQLite, up to 100,000 messages
    python3 benchmarks/inbox_page.py --sizes 100 1000000  # the issue's 1,000,000
    python3 benchmarks/inbox_page.py --store-url postgresql://postgres@127.0.0.1/postgres

Rows are written straight into the database (real ciphertexts, one content key reused
to save set-up time); pages are read through the Reading service, decryption included.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import tempfile
import time

import asyncpg

from trademail.app import open_core
from trademail.cli import progress_bar
from trademail.configfile import load_config
from trademail.crypto import ContentKey, MessageCipher
from trademail.ids import new_id
from trademail.services.reading import encode_cursor
from trademail.testing import FakeClock

PASSWORD = "benchmark harbour crane pallet"  # noqa: S105 - a throwaway benchmark member


async def fill(core, sender, recipient, count: int, start: float,  # type: ignore[no-untyped-def]
               progress=None) -> None:
    """`count` messages into `recipient`'s inbox, telling `progress(done, count)` after
    each batch."""
    members = await core.stores.members.members_by_ids([sender, recipient])
    keys = {mid: core.keyring.member_key(mid, m.member_key) for mid, m in members.items()}
    ck = ContentKey.generate()
    batch = 2000
    for offset in range(0, count, batch):
        async with core.stores.db.transaction() as tx:
            messages, entries = [], []
            for n in range(offset, min(offset + batch, count)):
                mid = new_id(start + n)
                sealed = MessageCipher(ck, mid).seal(subject="Offer", body="b", snippet="b",
                                                     attachments=())
                messages.append((mid, mid, None, sender, f'["{recipient}"]', start + n,
                                 sealed.subject_ct, sealed.body_ct, sealed.snippet_ct, 0))
                entries.append((recipient, mid, mid, "inbox", True,
                                keys[recipient].wrap_content_key(ck, mid)))
            await tx.executemany(
                "INSERT INTO messages (id, thread_id, in_reply_to, sender_id, recipient_ids, "
                "created_at, subject_ct, body_ct, snippet_ct, attachment_count) VALUES "
                "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", messages)
            await tx.executemany(
                "INSERT INTO mailbox (member_id, message_id, thread_id, folder, unread, "
                "content_key) VALUES ($1, $2, $3, $4, $5, $6)", entries)
        if progress is not None:
            progress(min(offset + batch, count), count)


async def main(url: str | None, sizes: list[int], repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        environ = {"TRADEMAIL_DATA_DIR": tmp,
                   "TRADEMAIL_CRYPTO_MASTER_KEY": base64.b64encode(b"b" * 32).decode(),
                   "TRADEMAIL_AUTH_ARGON2_MEMORY_KIB": "64", "TRADEMAIL_AUTH_ARGON2_TIME_COST": "1",
                   "TRADEMAIL_AUTH_ARGON2_PARALLELISM": "1"}
        schema = None
        if url:
            # A schema of its own, dropped afterwards, so the benchmark leaves nothing behind.
            schema = f"bench_{new_id(time.time())[-12:]}"
            admin = await asyncpg.connect(url)
            await admin.execute(f"CREATE SCHEMA {schema}")
            joiner = "&" if "?" in url else "?"
            environ["TRADEMAIL_STORE_URL"] = f"{url}{joiner}search_path={schema}"
        clock = FakeClock()
        core = await open_core(load_config(None, environ), clock)
        try:
            suffix = new_id(clock.now())[-6:]
            ids = []
            for name in ("bench-a", "bench-b"):
                profile = await core.signup.register(
                    username=f"{name}{suffix}", password=PASSWORD,
                    email=f"{name}{suffix}@example.com", company="Bench", country="Peru",
                    client="benchmark")
                ids.append(profile.id)
            have = 0
            start_time = clock.now()
            print(f"{'messages':>10}  {'first page ms':>14}  {'middle page ms':>14}")
            for size in sorted(sizes):
                await fill(core, ids[0], ids[1], size - have, start_time + have,
                           progress_bar(f"filling to {size:,} messages"))
                middle = encode_cursor(new_id(start_time + size / 2))
                have = size
                first, deep = [], []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    await core.reading.page(ids[1], folder="inbox", limit=50)
                    first.append((time.perf_counter() - t0) * 1000)
                    t0 = time.perf_counter()
                    await core.reading.page(ids[1], folder="inbox", limit=50, cursor=middle)
                    deep.append((time.perf_counter() - t0) * 1000)
                print(f"{size:>10,}  {statistics.median(first):>14.2f}  "
                      f"{statistics.median(deep):>14.2f}")
        finally:
            await core.close()
            if schema:
                await admin.execute(f"DROP SCHEMA {schema} CASCADE")
                await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store-url", default=None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.store_url, args.sizes, args.repeats))
