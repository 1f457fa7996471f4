"""Live inbox updates: server-sent events in one process, and across two on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import structlog.testing
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.browser_helpers import Browser
from tests.helpers import make_config
from trademail.app import build_app
from trademail.testing import FakeClock

WAIT = 10  # seconds: generous upper bound for an event that should take milliseconds


async def next_event(resp: Any) -> tuple[str, dict[str, Any]]:
    """The next named event on an SSE stream (comments and retry lines skipped)."""
    name, data = "", ""
    while True:
        line = (await resp.content.readline()).decode()
        if not line:
            raise AssertionError("the stream ended")
        line = line.rstrip("\n")
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and name:
            return name, json.loads(data or "{}")


async def test_new_mail_wakes_an_open_inbox(client: Any) -> None:
    amina, bako = Browser(client), Browser(client)
    try:
        await amina.sign_up("amina")
        await bako.sign_up("bako")
        stream = await bako.session.get("/events")
        assert stream.status == 200
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        assert stream.headers["Cache-Control"] == "no-store"
        await amina.send("bako", "Cashew prices", "Quote?")
        name, data = await asyncio.wait_for(next_event(stream), WAIT)
        assert (name, data) == ("mailbox", {"unread": 1})
        stream.close()
    finally:
        await amina.close()
        await bako.close()


async def test_stream_needs_a_session_and_says_when_it_ends(
        client: Any, clock: FakeClock, config: Any) -> None:
    anonymous, amina, bako = Browser(client), Browser(client), Browser(client)
    try:
        resp = await anonymous.session.get("/events", allow_redirects=False)
        assert resp.status == 401
        await amina.sign_up("amina")
        await bako.sign_up("bako")
        stream = await bako.session.get("/events")
        clock.advance(config.auth.idle_timeout_seconds + 1)
        await amina.sign_in("amina")
        await amina.send("bako", "Hello", "Still there?")
        name, _ = await asyncio.wait_for(next_event(stream), WAIT)
        assert name == "signed-out"
        assert await asyncio.wait_for(stream.content.read(), WAIT) == b""
    finally:
        for browser in (anonymous, amina, bako):
            await browser.close()


async def test_live_updates_cross_server_processes_on_postgres(
        aiohttp_client: Any, tmp_path: Path, postgres_url: str, clock: FakeClock) -> None:
    config = make_config(tmp_path, postgres_url)
    one = await aiohttp_client(await build_app(config, clock))
    two = await aiohttp_client(await build_app(config, clock))
    amina, bako = Browser(one), Browser(two)
    try:
        await amina.sign_up("amina")
        await bako.sign_up("bako")
        stream = await bako.session.get("/events")
        assert stream.status == 200
        await amina.send("bako", "Across processes", "LISTEN/NOTIFY carries the wake-up.")
        name, data = await asyncio.wait_for(next_event(stream), WAIT)
        assert (name, data) == ("mailbox", {"unread": 1})
        stream.close()
    finally:
        await amina.close()
        await bako.close()


class ServedLikeServe(TestServer):
    """The app behind the same runner `trademail serve` uses: a handler is not cancelled
    when its client goes away (aiohttp's test server cancels it), it finds out by writing."""

    async def _make_runner(self, **kwargs: Any) -> web.AppRunner:
        kwargs.pop("handler_cancellation", None)
        return web.AppRunner(self.app, access_log=None, **kwargs)


async def test_a_page_that_goes_away_is_no_error(aiohttp_client: Any, tmp_path: Path,
                                                 store_url: str, clock: FakeClock) -> None:
    """A member leaving a page while live updates run is normal: one debug line at most,
    never an error with a traceback. (The server learns the page is gone when a write
    fails, which may take a few messages on a busy machine: no sending limit here.)"""
    config = make_config(tmp_path, store_url, TRADEMAIL_LIMITS_MEMBER_MESSAGES_PER_HOUR="0",
                         TRADEMAIL_LIMITS_NEW_ACCOUNT_MESSAGES_PER_HOUR="0")
    client = await aiohttp_client(ServedLikeServe(await build_app(config, clock)))
    amina, bako = Browser(client), Browser(client)
    try:
        await amina.sign_up("amina")
        await bako.sign_up("bako")
        with structlog.testing.capture_logs() as logs:
            stream = await bako.session.get("/events")
            assert stream.status == 200
            await asyncio.wait_for(stream.content.readline(), WAIT)  # the stream is open
            stream.close()
            deadline = asyncio.get_running_loop().time() + WAIT
            while not any(e["event"] == "live updates: the page went away" for e in logs):
                assert asyncio.get_running_loop().time() < deadline, logs
                await amina.send("bako", "Hello", "Are you there?")  # wakes the stream
                await asyncio.sleep(0.05)
        assert [e for e in logs if e["log_level"] in ("error", "exception", "critical")] == []
    finally:
        await amina.close()
        await bako.close()


WEB_GETS = re.compile(
    r'trademail_http_requests_total\{door="web",method="GET",status="(\d+)"\} (\S+)')


async def web_gets_by_status(client: Any) -> dict[str, float]:
    """The web door's GET requests counted so far, by status, as /metrics says."""
    text = await (await client.get("/metrics")).text()
    return {m[1]: float(m[2]) for m in WEB_GETS.finditer(text)}


async def test_a_stream_the_client_closed_is_logged_and_counted_as_no_server_error(
        aiohttp_client: Any, config: Any, clock: FakeClock) -> None:
    """Behind a runner that cancels a handler when its client goes away, the access log
    and /metrics say 499 (the client left), never 500."""
    client = await aiohttp_client(await build_app(config, clock))
    bako = Browser(client)
    try:
        await bako.sign_up("bako")
        before = await web_gets_by_status(client)
        with structlog.testing.capture_logs() as logs:
            stream = await bako.session.get("/events")
            await asyncio.wait_for(stream.content.readline(), WAIT)
            stream.close()
            deadline = asyncio.get_running_loop().time() + WAIT
            while not (done := [e for e in logs if e["event"] == "request"
                                and e.get("route") == "/events"]):
                assert asyncio.get_running_loop().time() < deadline, logs
                await asyncio.sleep(0.05)
        assert [e["status"] for e in done] == [499]
        after = await web_gets_by_status(client)  # the registry is the process's: compare
        assert after.get("500", 0) == before.get("500", 0)
        assert after.get("499", 0) == before.get("499", 0) + 1
    finally:
        await bako.close()
