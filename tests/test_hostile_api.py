"""What a deeper fuzzing run of the JSON API found (schemathesis with every check, many
seeds, and hand-made hostile requests), each through the real HTTP door on both backends:
server errors where a clear 4xx was due, and a refused request that changed data."""

from __future__ import annotations

import asyncio
import zlib
from typing import Any

import pytest

from tests.helpers import PASSWORD, Member, register, send
from trademail.app import CORE
from trademail.services import conduct, writing
from trademail.services.webhooks import MAX_WEBHOOKS

BAD_HOSTS = ["https://[", "x]", "http://[::1", "https://]x.example", "a@[127.0.0.1]",
             "https://[127.0.0.1]/"]


async def problem(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/problem+json"
    return dict(await resp.json())


@pytest.mark.parametrize("website", BAD_HOSTS)
async def test_a_website_or_webhook_url_with_broken_brackets_is_a_422(
        client: Any, website: str) -> None:
    amina = await register(client, "amina")
    resp = await client.put("/api/v1/me/profile", headers=amina.auth, json={
        "about": "", "business_type": "", "contact": {"website": website}})
    assert (await problem(resp, 422))["errors"][0]["field"] == "contact.website"
    resp = await client.post("/api/v1/webhooks", headers=amina.auth, json={"url": website})
    assert (await problem(resp, 422))["errors"][0]["field"] == "url"


async def test_a_body_its_content_encoding_does_not_decode_is_a_400(client: Any) -> None:
    amina = await register(client, "amina")
    broken = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    for method, path, headers in (("PUT", "/api/v1/me/signature", amina.auth),
                                  ("POST", "/api/v1/tokens", {})):
        resp = await client.request(method, path, data=b"abcd",
                                    headers={**headers, **broken})
        await problem(resp, 400)
    resp = await client.post("/api/v1/messages", data=b"abcd", headers={
        **amina.auth, "Content-Type": "multipart/form-data; boundary=b",
        "Content-Encoding": "gzip"})
    await problem(resp, 400)
    # Broken deflate is refused by aiohttp's own HTTP parser, before any door sees it.
    resp = await client.put("/api/v1/me/signature", data=b"abcd", headers={
        **amina.auth, **broken, "Content-Encoding": "deflate"})
    assert resp.status == 400
    good = zlib.compress(b'{"signature": "Amina, Nairobi"}')
    resp = await client.put("/api/v1/me/signature", data=good, headers={
        **amina.auth, "Content-Type": "application/json", "Content-Encoding": "deflate"})
    assert resp.status == 200, await resp.text()  # a body that does decode is read


@pytest.mark.parametrize("path", ["/api/v1/directory/%00", "/api/v1/directory/amina%00",
                                  "/api/v1/directory/%00/contact", "/directory/%00"])
async def test_a_username_with_a_nul_is_not_found(client: Any, path: str) -> None:
    amina = await register(client, "amina")
    resp = await client.get(path, headers=amina.auth if path.startswith("/api") else {})
    assert resp.status == 404, await resp.text()


async def test_a_refused_filing_moves_nothing(client: Any) -> None:
    amina, bakari = await register(client, "amina"), await register(client, "bakari")
    sent = await send(client, amina, [bakari.username])
    url = f"/api/v1/messages/{sent['id']}"
    for body in ({"folder": "spam", "unread": "maybe"}, {"folder": "archive", "unread": []}):
        await problem(await client.patch(url, headers=bakari.auth, json=body), 422)
        assert (await (await client.get(url, headers=bakari.auth)).json())["folder"] == "inbox"
    await _moved(client, bakari, url)


async def _moved(client: Any, member: Member, url: str) -> None:
    resp = await client.patch(url, headers=member.auth, json={"folder": "spam"})
    assert resp.status == 200 and (await resp.json())["folder"] == "spam"
    await problem(await client.patch(url, headers=member.auth,
                                     json={"folder": "inbox", "unread": 0}), 422)
    assert (await (await client.get(url, headers=member.auth)).json())["folder"] == "spam"


HELD = {name: f"SELECT COUNT(*) FROM {table}"  # noqa: S608 - the test's own table names
        for name, table in (("drafts", "drafts"), ("items", "blocks"),
                            ("webhooks", "webhooks"))}


async def test_limits_hold_when_the_requests_come_all_at_once(
        client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Low limits, so a few requests at once cross them: each is counted and written in one
    # transaction, and none slips in beside another.
    monkeypatch.setattr(writing, "MAX_DRAFTS", 4)
    monkeypatch.setattr(conduct, "MAX_BLOCKS", 4)
    amina = await register(client, "amina")

    async def post(path: str, body: dict[str, Any]) -> int:
        return (await client.post(path, headers=amina.auth, json=body)).status

    for path, body, listed, cap in (
            ("/api/v1/drafts", lambda n: {"body": f"draft {n}"}, "drafts", 4),
            ("/api/v1/me/blocks", lambda n: {"who": f"spam{n}@bulk.example",
                                             "mode": "refuse"}, "items", 4),
            ("/api/v1/webhooks", lambda n: {"url": f"https://crm{n}.amina.example/tm"},
             "webhooks", MAX_WEBHOOKS)):
        statuses = await asyncio.gather(*(post(path, body(n)) for n in range(12)))
        assert statuses.count(201) == cap and len(set(statuses)) == 2, statuses
        assert all(s in (201, 409, 422) for s in statuses)
        held = await client.app[CORE].stores.db.fetchval(HELD[listed])
        assert held == cap


async def test_fields_of_the_wrong_type_are_refused_not_taken_for_empty(client: Any) -> None:
    amina = await register(client, "amina")
    for body in ({"to": 0}, {"subject": []}, {"body": False}):
        resp = await client.post("/api/v1/drafts", headers=amina.auth, json=body)
        assert (await problem(resp, 422))["errors"][0]["field"] == next(iter(body))
    resp = await client.post("/api/v1/drafts", headers=amina.auth, json={"body": None})
    assert resp.status == 201  # absent and null are the schema's default, empty
    for value in (False, 0, {}, []):
        resp = await client.put("/api/v1/me/profile", headers=amina.auth, json={
            "about": "", "business_type": "", "contact": {"address": value}})
        assert (await problem(resp, 422))["errors"][0]["field"] == "contact.address"
    assert (await client.put("/api/v1/me/signature", headers=amina.auth,
                             json={"signature": "Amina, Nairobi"})).status == 200
    for body in ({}, {"signature": None}, {"signature": 5}):
        resp = await client.put("/api/v1/me/signature", headers=amina.auth, json=body)
        assert (await problem(resp, 422))["errors"][0]["field"] == "signature"
    kept = await (await client.get("/api/v1/me/signature", headers=amina.auth)).json()
    assert kept == {"signature": "Amina, Nairobi"}


async def test_an_audit_cursor_not_handed_out_is_a_422(client: Any) -> None:
    amina = await register(client, "amina")
    for cursor in ("garbage", "0" * 31, "g" * 32):
        resp = await client.get(f"/api/v1/me/audit?cursor={cursor}", headers=amina.auth)
        assert (await problem(resp, 422))["errors"][0]["field"] == "cursor"
    page = await (await client.get("/api/v1/me/audit?limit=1", headers=amina.auth)).json()
    assert page["next_cursor"]  # signing up and confirming left more than one entry
    resp = await client.get(f"/api/v1/me/audit?limit=1&cursor={page['next_cursor']}",
                            headers=amina.auth)
    assert resp.status == 200 and (await resp.json())["entries"]


@pytest.mark.parametrize(("path", "content_type"), [
    ("/api/v1/tokens", "application/json"), ("/signin", "application/x-www-form-urlencoded")])
async def test_after_a_broken_body_the_answer_comes_and_the_connection_closes(
        client: Any, path: str, content_type: str) -> None:
    url = client.make_url("/")
    reader, writer = await asyncio.open_connection(url.host, url.port)
    writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
                 "Content-Encoding: gzip\r\nContent-Length: 4\r\n\r\nabcd".encode())
    answer = await asyncio.wait_for(reader.read(), 10)  # to the end: the server closes
    writer.close()
    head = answer.partition(b"\r\n\r\n")[0].lower()
    assert head.startswith(b"http/1.1 400 ") and b"connection: close" in head, answer


async def test_a_whole_number_written_with_a_point_is_an_integer_as_json_schema_says(
        client: Any) -> None:
    amina = await register(client, "amina")
    lead = {"kind": "buy", "title": "Wanted: sesame seeds", "category": "agriculture"}
    for days, status in ((30.0, 201), (30.5, 422), (True, 422), (0.0, 422)):
        resp = await client.post("/api/v1/me/leads", headers=amina.auth,
                                 json={**lead, "expires_in_days": days})
        assert resp.status == status, (days, await resp.text())
    for seconds, status in ((3600.0, 201), (3600.5, 422), (False, 422)):
        resp = await client.post("/api/v1/tokens", json={
            "username": "amina", "password": PASSWORD, "name": "ci", "expires_in": seconds})
        assert resp.status == status, (seconds, await resp.text())
