"""Whatever a client sends, the API answers with a status and a problem, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import Member, register

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10)
FIELDS = st.fixed_dictionaries({}, optional={
    "to": JSON | st.lists(st.text(), max_size=3), "subject": JSON | st.text(),
    "body": JSON | st.text(), "in_reply_to": JSON, "username": JSON | st.text(),
    "password": JSON | st.text(), "email": JSON | st.text(), "company": JSON,
    "country": JSON, "scopes": JSON, "expires_in": JSON, "folder": JSON, "unread": JSON,
})
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
async def member(client: Any) -> Member:
    return await register(client, "fuzzer")


async def _check(resp: Any, allowed: set[int]) -> None:
    assert resp.status in allowed, (resp.status, await resp.text())
    if resp.status >= 400:
        assert resp.content_type == "application/problem+json"
        assert (await resp.json())["status"] == resp.status


@FUZZ
@given(body=FIELDS | JSON, raw=st.binary(max_size=64))
async def test_any_json_to_any_endpoint(client: Any, member: Member, body: Any,
                                        raw: bytes) -> None:
    for method, path, status in (("post", "/api/v1/messages", 201),
                                 ("post", "/api/v1/members", 201),
                                 ("post", "/api/v1/tokens", 201),
                                 ("patch", "/api/v1/messages/" + "0" * 32, 200)):
        resp = await client.request(method, path, headers=member.auth, json=body)
        await _check(resp, {status, 400, 401, 404, 409, 413, 415, 422, 429})
        resp = await client.request(method, path, headers=member.auth | {
            "Content-Type": "application/json"}, data=raw)
        await _check(resp, {status, 400, 401, 404, 409, 413, 415, 422, 429})


@FUZZ
@given(params=st.dictionaries(st.sampled_from(["folder", "limit", "cursor", "unread", "q"]),
                              st.text(max_size=40), max_size=5))
async def test_any_query_to_the_listing(client: Any, member: Member,
                                        params: dict[str, str]) -> None:
    resp = await client.get("/api/v1/messages", headers=member.auth,
                            params={k: v.replace("\x00", "") for k, v in params.items()})
    await _check(resp, {200, 422})
    if resp.status == 200:
        json.dumps(await resp.json())
