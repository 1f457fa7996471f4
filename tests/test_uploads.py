"""Attachments streamed in and out: sealed a chunk at a time as they upload, stored as
chunks, sent back a chunk at a time, and any chunk dropped, moved or cut off refused."""

from __future__ import annotations

import os
from typing import Any

import aiohttp
import pytest
from aiohttp import FormData

from tests.helpers import make_config, register_all
from trademail.app import CORE, build_app
from trademail.crypto import CHUNK_BYTES
from trademail.testing import FakeClock

FILE = os.urandom(2 * CHUNK_BYTES + 12_345)  # three chunks, the last a short one


def upload_form(to: str, data: bytes = FILE, filename: str = "specs.bin") -> FormData:
    form = FormData()
    for name, value in (("to", to), ("subject", "Specs"), ("body", "Attached.")):
        form.add_field(name, value)
    form.add_field("attachments", data, filename=filename,
                   content_type="application/octet-stream")
    return form


async def chunk_rows(client: Any) -> list[Any]:
    return list(await client.app[CORE].stores.db.fetch(
        "SELECT upload_id, seq, data_ct FROM upload_chunks ORDER BY upload_id, seq"))


async def sent_file(client: Any) -> tuple[Any, Any, str]:
    ada, bob = await register_all(client, "ada", "bob")
    resp = await client.post("/api/v1/messages", headers=ada.auth, data=upload_form("bob"))
    assert resp.status == 201, await resp.text()
    message = await (await client.get(f"/api/v1/messages/{(await resp.json())['id']}",
                                      headers=bob.auth)).json()
    (att,) = message["attachments"]
    return ada, bob, att["url"]


async def test_a_file_is_stored_in_sealed_chunks_and_sent_back_whole(client: Any) -> None:
    ada, bob, url = await sent_file(client)
    rows = await chunk_rows(client)
    assert [r["seq"] for r in rows] == [0, 1, 2]
    assert all(FILE[:64] not in bytes(r["data_ct"]) for r in rows)
    stored = await client.app[CORE].stores.db.fetchrow(
        "SELECT size, upload_id, data_ct FROM attachments")
    assert stored["size"] == len(FILE) and stored["upload_id"] == rows[0]["upload_id"]
    assert len(bytes(stored["data_ct"])) < 200  # the file's key, sealed: not the file
    for member in (ada, bob):
        resp = await client.get(url, headers=member.auth)
        assert resp.status == 200 and resp.headers["Content-Length"] == str(len(FILE))
        assert await resp.read() == FILE
    # The message gone from both mailboxes, its chunks go with it.
    for member in (ada, bob):
        message_id = url.split("/")[4]
        assert (await client.delete(f"/api/v1/messages/{message_id}",
                                    headers=member.auth)).status == 204
    assert await chunk_rows(client) == []


@pytest.mark.parametrize("tamper", ["drop the last", "swap two", "from another file"])
async def test_a_chunk_dropped_moved_or_swapped_in_is_refused(client: Any,
                                                              tamper: str) -> None:
    _, bob, url = await sent_file(client)
    db = client.app[CORE].stores.db
    rows = await chunk_rows(client)
    if tamper == "drop the last":
        await db.execute("DELETE FROM upload_chunks WHERE seq = 2")
    elif tamper == "swap two":
        await db.execute("UPDATE upload_chunks SET data_ct = $1 WHERE seq = 0",
                         bytes(rows[1]["data_ct"]))
    else:
        ada = (await register_all(client, "cyd"))[0]
        resp = await client.post("/api/v1/messages", headers=ada.auth,
                                 data=upload_form("bob", os.urandom(CHUNK_BYTES + 1)))
        assert resp.status == 201
        other = [r for r in await chunk_rows(client) if r["upload_id"] != rows[0]["upload_id"]]
        await db.execute("UPDATE upload_chunks SET data_ct = $1 WHERE upload_id = $2 "
                         "AND seq = 0", bytes(other[0]["data_ct"]), rows[0]["upload_id"])
    resp = await client.get(url, headers=bob.auth)
    if resp.status == 200:  # refused part-way: the download is cut short, never whole
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()
    else:
        assert resp.status >= 400


@pytest.fixture
async def tight(aiohttp_client: Any, tmp_path: Any, store_url: str,
                clock: FakeClock) -> tuple[Any, Any]:
    """A server whose attachment limit is a little over one chunk, and Ada (Bob is there
    to write to)."""
    config = make_config(tmp_path, store_url,
                         TRADEMAIL_MESSAGES_MAX_ATTACHMENT_BYTES=str(CHUNK_BYTES + 10))
    client = await aiohttp_client(await build_app(config, clock))
    ada, _ = await register_all(client, "ada", "bob")
    return client, ada


async def test_a_file_over_the_limit_or_a_refused_send_keeps_nothing(
        tight: tuple[Any, Any]) -> None:
    client, ada = tight
    resp = await client.post("/api/v1/messages", headers=ada.auth, data=upload_form("bob"))
    assert resp.status == 413, await resp.text()
    assert (await resp.json())["errors"][0]["field"] == "attachments[1]"
    resp = await client.post("/api/v1/messages", headers=ada.auth,
                             data=upload_form("nobody-here", os.urandom(CHUNK_BYTES)))
    assert resp.status == 422
    assert await chunk_rows(client) == []


async def test_files_of_a_send_refused_before_it_is_sent_are_not_kept(
        tight: tuple[Any, Any]) -> None:
    client, ada = tight
    # A good file, then one over the limit: the first goes as well.
    form = upload_form("bob", os.urandom(CHUNK_BYTES))
    form.add_field("attachments", os.urandom(CHUNK_BYTES + 11), filename="big.bin",
                   content_type="application/octet-stream")
    resp = await client.post("/api/v1/messages", headers=ada.auth, data=form)
    assert resp.status == 413
    # A file sent with a forward of a message that is not there.
    form = upload_form("bob", os.urandom(1000))
    form.add_field("forward_of", "0" * 32)
    resp = await client.post("/api/v1/messages", headers=ada.auth, data=form)
    assert resp.status == 422
    assert await chunk_rows(client) == []
