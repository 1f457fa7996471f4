"""What an operator watches: /metrics (Prometheus, for the monitoring network only),
/readyz, and a request id on every answer and in every log line, with no personal data."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import structlog
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import OUTBOUND, PASSWORD, make_config, register
from trademail.app import CORE, build_app
from trademail.config import Config
from trademail.testing import FakeClock


async def _metrics(client: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = await client.get("/metrics")
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/plain; version=")
    assert resp.headers["Cache-Control"] == "no-store"
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(await resp.text())
            for s in family.samples}


def _value(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
           **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_requests_and_failed_sign_ins(client: Any) -> None:
    before = await _metrics(client)
    for _ in range(3):
        assert (await client.get("/healthz")).status == 200
    resp = await client.post("/api/v1/tokens", json={
        "username": "nobody", "password": "not the password at all", "name": "x"})
    assert resp.status == 401
    after = await _metrics(client)
    ok = {"door": "probe", "method": "GET", "status": "200"}
    assert _value(after, "trademail_http_requests_total", **ok) - _value(
        before, "trademail_http_requests_total", **ok) >= 3
    refused = {"door": "api", "method": "POST", "status": "401"}
    assert _value(after, "trademail_http_requests_total", **refused) - _value(
        before, "trademail_http_requests_total", **refused) == 1
    assert _value(after, "trademail_signin_failures_total", reason="password") - _value(
        before, "trademail_signin_failures_total", reason="password") == 1
    assert _value(after, "trademail_http_request_seconds_count", door="api") > 0


async def test_metrics_show_the_outbox_falling_behind(client: Any, clock: FakeClock) -> None:
    client.app[OUTBOUND].refuse = "451 4.3.0 try again later"  # the smarthost is down
    before = await _metrics(client)
    resp = await client.post("/api/v1/members", json={
        "username": "amina", "password": PASSWORD, "email": "amina@real-amina.example",
        "company": "Amina Ltd", "country": "Kenya"})
    assert resp.status == 201
    for _ in range(200):  # the relay tries once and defers
        now = await _metrics(client)
        if _value(now, "trademail_relay_failures_total", kind="mail", outcome="deferred") > \
                _value(before, "trademail_relay_failures_total", kind="mail", outcome="deferred"):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the relay never tried")
    clock.advance(600)
    now = await _metrics(client)
    assert _value(now, "trademail_outbox_depth") == 1
    assert _value(now, "trademail_outbox_oldest_seconds") >= 600


async def test_metrics_are_for_the_monitoring_network_only(
        aiohttp_client: Any, tmp_path: Path, store_url: str, clock: FakeClock) -> None:
    config = make_config(tmp_path, store_url, TRADEMAIL_HTTP_METRICS_FROM="10.9.0.0/16")
    client = await aiohttp_client(await build_app(config, clock))
    resp = await client.get("/metrics")
    assert resp.status == 403
    assert resp.content_type == "application/problem+json"
    assert "trademail_" not in await resp.text()


async def test_readyz_says_no_while_the_server_stops(client: Any) -> None:
    resp = await client.get("/readyz")
    assert (resp.status, await resp.json()) == (200, {"status": "ready"})
    client.app[CORE].health.serving(False)  # what the server says as it starts to stop
    resp = await client.get("/readyz")
    assert resp.status == 503
    assert resp.content_type == "application/problem+json"
    assert (await client.get("/healthz")).status == 200  # alive, just not taking work


async def test_every_answer_carries_a_request_id_and_the_log_names_routes_not_paths(
        client: Any, config: Config) -> None:
    member = await register(client, "amina")
    with structlog.testing.capture_logs() as logs:
        resp = await client.get("/directory/amina")
        given = await client.get("/api/v1/messages", headers=member.auth | {
            "X-Request-Id": "lb-4f1c2a9e77"})
        forged = await client.get("/healthz", headers={"X-Request-Id": "<script> id 42"})
    assert re.fullmatch(r"[0-9a-f]{16}", resp.headers["X-Request-Id"])
    assert given.headers["X-Request-Id"] == "lb-4f1c2a9e77"
    assert re.fullmatch(r"[0-9a-f]{16}", forged.headers["X-Request-Id"])
    lines = [entry for entry in logs if entry["event"] == "request"]
    assert [entry["route"] for entry in lines] == [
        "/directory/{username}", "/api/v1/messages", "/healthz"]
    assert all(isinstance(entry["ms"], float) for entry in lines)
    assert "amina" not in repr(logs) and member.email not in repr(logs)
