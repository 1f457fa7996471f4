"""The message API end to end through aiohttp's client, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import FormData

from tests.helpers import PASSWORD, make_config, register, register_all, send
from trademail.app import CORE, build_app
from trademail.testing import FakeClock


async def problem(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/problem+json"
    body = await resp.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


async def inbox(client: Any, member: Any, **params: str) -> dict[str, Any]:
    resp = await client.get("/api/v1/messages", headers=member.auth, params=params)
    assert resp.status == 200, await resp.text()
    return await resp.json()


# ---------------------------------------------------------------- members and tokens


async def test_register_shows_alias_never_email(client: Any) -> None:
    resp = await client.post("/api/v1/members", json={
        "username": "Amina.K", "password": PASSWORD, "email": "Amina@Real-Mail.example",
        "company": "Amina Cashews", "country": "Tanzania"})
    text = await resp.text()
    assert resp.status == 201, text
    body = await resp.json()
    assert body["username"] == "amina.k"
    (alias,) = body["aliases"]
    assert alias["enabled"] and alias["address"].endswith("@relay.localhost")
    assert "amina@real-mail.example" not in text.lower()
    assert body["email_masked"] == "A•••@real-mail.example"


async def test_register_rejects_bad_fields_by_name(client: Any) -> None:
    resp = await client.post("/api/v1/members", json={
        "username": "x", "password": "short", "email": "not-an-address", "company": "",
        "country": "K"})
    body = await problem(resp, 422)
    assert {e["field"] for e in body["errors"]} == {
        "username", "password", "email", "company", "country"}


async def test_register_refuses_common_and_guessable_passwords(client: Any) -> None:
    for weak in ("1234567890123456", "passwordpassword", "aaaaaaaaaaaaaaaa"):
        resp = await client.post("/api/v1/members", json={
            "username": "bob", "password": weak, "email": "bob@real.example",
            "company": "Bob Co", "country": "Peru"})
        body = await problem(resp, 422)
        assert [e["field"] for e in body["errors"]] == ["password"]


async def test_register_refuses_a_taken_username_but_not_a_taken_address(client: Any) -> None:
    """A username is public, so a taken one may be refused; whether an address is taken is
    nobody's business (tests/test_signup.py shows the answers are the same)."""
    await register(client, "carla", email="carla@real.example")
    resp = await client.post("/api/v1/members", json={
        "username": "CARLA", "password": PASSWORD, "email": "other@real.example",
        "company": "C", "country": "Chile"})
    assert (await problem(resp, 409))["errors"][0]["field"] == "username"
    resp = await client.post("/api/v1/members", json={
        "username": "carla2", "password": PASSWORD, "email": "Carla@REAL.example",
        "company": "C", "country": "Chile"})
    assert resp.status == 201
    assert (await resp.json())["email_confirmed"] is False
    assert "carla@" not in (await resp.text()).lower()


async def test_wrong_password_and_unknown_user_look_the_same(client: Any) -> None:
    await register(client, "dara")
    wrong = await client.post("/api/v1/tokens", json={"username": "dara", "password": "x" * 20})
    unknown = await client.post("/api/v1/tokens", json={"username": "nobody", "password": "x"})
    assert (await problem(wrong, 401))["detail"] == (await problem(unknown, 401))["detail"]


async def test_sign_in_is_throttled_then_recovers(client: Any, clock: FakeClock) -> None:
    await register(client, "eli")
    for _ in range(5):
        resp = await client.post("/api/v1/tokens", json={"username": "eli", "password": "no"})
        await problem(resp, 401)
    resp = await client.post("/api/v1/tokens", json={"username": "eli", "password": PASSWORD})
    await problem(resp, 429)
    assert int(resp.headers["Retry-After"]) >= 1
    clock.advance(int(resp.headers["Retry-After"]))
    resp = await client.post("/api/v1/tokens", json={"username": "eli", "password": PASSWORD})
    assert resp.status == 201


async def test_an_account_locks_after_100_consecutive_failures(client: Any,
                                                               clock: FakeClock) -> None:
    await register(client, "fern")
    failures = 0
    while failures < 100:
        resp = await client.post("/api/v1/tokens", json={"username": "fern", "password": "no"},
                                 headers={"X-Test": str(failures)})
        if resp.status == 429:
            clock.advance(int(resp.headers["Retry-After"]))
            continue
        await problem(resp, 401)
        failures += 1
    clock.advance(900)
    resp = await client.post("/api/v1/tokens", json={"username": "fern", "password": PASSWORD})
    await problem(resp, 429)  # even the right password waits out the lockout
    clock.advance(86400)
    resp = await client.post("/api/v1/tokens", json={"username": "fern", "password": PASSWORD})
    assert resp.status == 201


async def test_sign_ups_from_one_address_are_throttled(aiohttp_client: Any, tmp_path: Any,
                                                       store_url: str,
                                                       clock: FakeClock) -> None:
    config = make_config(tmp_path, store_url, TRADEMAIL_AUTH_CLIENT_FREE_SIGNUPS="3")
    client = await aiohttp_client(await build_app(config, clock))
    await register_all(client, "su1", "su2")
    taken = await client.post("/api/v1/members", json={
        "username": "su1", "password": PASSWORD, "email": "x@real.example", "company": "C",
        "country": "Peru"})
    await problem(taken, 409)  # refused sign-ups count too: they answer a question
    resp = await client.post("/api/v1/members", json={
        "username": "su4", "password": PASSWORD, "email": "su4@real.example", "company": "C",
        "country": "Peru"})
    await problem(resp, 429)
    clock.advance(int(resp.headers["Retry-After"]))
    await register(client, "su4")


async def test_tokens_list_revoke_expire_and_scope(client: Any, clock: FakeClock) -> None:
    gus = await register(client, "gus")
    resp = await client.post("/api/v1/tokens", json={
        "username": "gus", "password": PASSWORD, "name": "reader", "scopes": ["messages:read"],
        "expires_in": 3600})
    assert resp.status == 201
    reader = await resp.json()
    assert reader["token"].startswith("tm_") and reader["scopes"] == ["messages:read"]

    resp = await client.get("/api/v1/tokens", headers=gus.auth)
    listed = (await resp.json())["tokens"]
    assert {t["name"] for t in listed} == {"tests", "reader"}
    assert all("token" not in t for t in listed)

    read_only = {"Authorization": f"Bearer {reader['token']}"}
    resp = await client.post("/api/v1/messages", headers=read_only,
                             json={"to": ["gus"], "subject": "s", "body": "b"})
    await problem(resp, 403)
    assert (await client.get("/api/v1/me", headers=read_only)).status == 200

    await register(client, "gwen")
    message = await send(client, gus, ["gwen"])
    full = next(t["id"] for t in listed if t["name"] == "tests")
    for method, path in (("patch", f"/api/v1/messages/{message['id']}"),
                         ("delete", f"/api/v1/messages/{message['id']}"),
                         ("get", "/api/v1/tokens"),
                         ("delete", f"/api/v1/tokens/{full}"),
                         ("get", "/api/v1/webhooks")):
        resp = await client.request(method, path, headers=read_only, json={"unread": True})
        assert "lacks the" in (await problem(resp, 403))["detail"]

    clock.advance(3600)
    await problem(await client.get("/api/v1/me", headers=read_only), 401)

    resp = await client.delete(f"/api/v1/tokens/{listed[0]['id']}", headers=gus.auth)
    assert resp.status == 204
    revoked = gus.auth if listed[0]["name"] == "tests" else read_only
    await problem(await client.get("/api/v1/me", headers=revoked), 401)


async def test_any_token_may_revoke_itself(client: Any) -> None:
    await register(client, "hedy", scopes=["messages:read"])
    resp = await client.post("/api/v1/tokens", json={
        "username": "hedy", "password": PASSWORD, "scopes": ["messages:send"]})
    token = await resp.json()
    auth = {"Authorization": f"Bearer {token['token']}"}
    assert (await client.delete(f"/api/v1/tokens/{token['id']}", headers=auth)).status == 204
    await problem(await client.get("/api/v1/me", headers=auth), 401)


async def test_requests_without_a_valid_token_are_refused(client: Any) -> None:
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer tm_nope"},
                    {"Authorization": "Bearer " + "x" * 500}):
        resp = await client.get("/api/v1/messages", headers=headers)
        await problem(resp, 401)
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")


async def test_me_shows_profile_and_aliases(client: Any) -> None:
    hana = await register(client, "hana")
    resp = await client.get("/api/v1/me", headers=hana.auth)
    body = await resp.json()
    assert body["username"] == "hana" and body["aliases"][0]["address"] == hana.alias
    assert hana.email not in await resp.text()
    assert resp.headers["Cache-Control"] == "no-store"


# ---------------------------------------------------------------- messages


async def test_send_read_and_only_parties_see_it(client: Any) -> None:
    ivy, jon, kai = await register_all(client, "ivy", "jon", "kai")
    sent = await send(client, ivy, [jon.alias], "Sesame seeds", "40 tonnes, CIF Mombasa")

    page = await inbox(client, jon)
    (item,) = page["messages"]
    assert item["id"] == sent["id"] and item["unread"] and item["subject"] == "Sesame seeds"
    assert item["from"] == {"username": "ivy", "company": "Ivy Trading Ltd",
                            "country": "Kenya", "alias": ivy.alias, "external": False,
                            "address": "", "staff": False, "account_closed": False,
                            "former_member": False}

    resp = await client.get(f"/api/v1/messages/{sent['id']}", headers=jon.auth)
    message = await resp.json()
    assert message["body"] == "40 tonnes, CIF Mombasa" and message["thread_id"] == sent["id"]
    assert message["unread"] is False  # the read that marks it read says so
    assert not (await inbox(client, jon))["messages"][0]["unread"]

    assert [m["id"] for m in (await inbox(client, ivy, folder="sent"))["messages"]] == [
        sent["id"]]
    assert (await inbox(client, kai))["messages"] == []
    stranger = await client.get(f"/api/v1/messages/{sent['id']}", headers=kai.auth)
    missing = await client.get(f"/api/v1/messages/{'0' * 32}", headers=kai.auth)
    assert await problem(stranger, 404) == await problem(missing, 404)
    for method in ("patch", "delete"):
        resp = await getattr(client, method)(f"/api/v1/messages/{sent['id']}", headers=kai.auth,
                                             json={"folder": "archive"})
        await problem(resp, 404)
    await problem(await client.get(f"/api/v1/threads/{sent['thread_id']}", headers=kai.auth),
                  404)
    for member in (ivy, jon):
        assert member.email not in await resp.text()


async def test_unknown_recipient_is_named_and_nothing_is_sent(client: Any) -> None:
    lea, max_ = await register(client, "lea"), await register(client, "max")
    resp = await client.post("/api/v1/messages", headers=lea.auth, json={
        "to": ["max", "ghost-xyz@relay.localhost"], "subject": "Hi", "body": "there"})
    body = await problem(resp, 422)
    assert body["errors"] == [{"field": "to",
                               "message": "no member or alias 'ghost-xyz@relay.localhost'"}]
    assert (await inbox(client, max_))["messages"] == []
    assert (await inbox(client, lea, folder="sent"))["messages"] == []


async def test_a_retried_send_with_the_same_idempotency_key_stores_one_message(
        client: Any) -> None:
    nia, oto = await register(client, "nia"), await register(client, "oto")
    payload = {"to": ["oto"], "subject": "Invoice 42", "body": "Attached soon"}
    headers = nia.auth | {"Idempotency-Key": "retry-1"}
    first = await client.post("/api/v1/messages", headers=headers, json=payload)
    again = await client.post("/api/v1/messages", headers=headers, json=payload)
    assert first.status == again.status == 201
    assert await first.json() == await again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len((await inbox(client, oto))["messages"]) == 1

    other = await client.post("/api/v1/messages", headers=headers,
                              json=payload | {"body": "different"})
    assert (await problem(other, 422))["errors"][0]["field"] == "Idempotency-Key"
    assert len((await inbox(client, oto))["messages"]) == 1


async def test_a_replay_is_answered_before_anything_is_composed_or_queued(
        client: Any) -> None:
    """The idempotency key is looked at first: a retry queues no second notification and
    makes no second reply token, and the reply token of the first is written with it."""
    nia, _ = await register_all(client, "nia", "oto")
    db = client.app[CORE].stores.db
    counts = "SELECT (SELECT COUNT(*) FROM outbox), (SELECT COUNT(*) FROM reply_tokens)"
    before = tuple(await db.fetchrow(counts))
    headers = nia.auth | {"Idempotency-Key": "order-7"}
    payload = {"to": ["oto"], "subject": "Sesame", "body": "40 t?"}
    assert (await client.post("/api/v1/messages", headers=headers, json=payload)).status == 201
    sent = tuple(await db.fetchrow(counts))
    assert sent == (before[0] + 1, before[1] + 1)  # the notification and its reply token
    for _ in range(3):
        resp = await client.post("/api/v1/messages", headers=headers, json=payload)
        assert resp.headers["Idempotent-Replayed"] == "true"
    assert tuple(await db.fetchrow(counts)) == sent


async def test_parallel_sends_with_one_idempotency_key_write_one_message(
        client: Any) -> None:
    """The key is claimed before anything is composed: requests racing with it either
    replay the first or hear it is still being sent, and one message is written."""
    nia, oto = await register_all(client, "nia", "oto")
    headers = nia.auth | {"Idempotency-Key": "race-1"}
    payload = {"to": ["oto"], "subject": "Sesame", "body": "40 t?"}
    answers = await asyncio.gather(*(client.post("/api/v1/messages", headers=headers,
                                                 json=payload) for _ in range(6)))
    assert {r.status for r in answers} <= {201, 409} and 201 in {r.status for r in answers}
    for resp in answers:
        if resp.status == 409:
            assert "still being sent" in (await problem(resp, 409))["detail"]
    assert len((await inbox(client, oto))["messages"]) == 1
    again = await client.post("/api/v1/messages", headers=headers, json=payload)
    assert again.status == 201 and again.headers["Idempotent-Replayed"] == "true"


async def test_a_replay_after_the_sender_deleted_their_copy_sends_nothing_twice(
        client: Any, clock: FakeClock) -> None:
    nia, oto = await register_all(client, "nia", "oto")
    headers = nia.auth | {"Idempotency-Key": "order-9"}
    payload = {"to": ["oto"], "subject": "Sesame", "body": "40 t?"}
    first = await (await client.post("/api/v1/messages", headers=headers, json=payload)).json()
    assert (await client.delete(f"/api/v1/messages/{first['id']}",
                                headers=nia.auth)).status == 204
    clock.advance(120)  # past the lease a claim waits for its message
    again = await client.post("/api/v1/messages", headers=headers, json=payload)
    assert again.status == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert (await again.json())["id"] == first["id"]
    assert len((await inbox(client, oto))["messages"]) == 1


async def test_a_draft_may_be_as_long_as_a_message(client: Any) -> None:
    (nia,) = await register_all(client, "nia")
    body = "Specification line.\n" * 6000  # over 100 KB, within a message's 256 KiB
    resp = await client.post("/api/v1/drafts", headers=nia.auth, json={"body": body})
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["body"] == body


async def test_a_refused_send_gives_its_idempotency_key_back(client: Any) -> None:
    nia, oto = await register_all(client, "nia", "oto")
    resp = await client.post("/api/v1/me/blocks", headers=oto.auth,
                             json={"who": "nia", "mode": "refuse"})
    assert resp.status == 201, await resp.text()
    headers = nia.auth | {"Idempotency-Key": "after-block"}
    payload = {"to": ["oto"], "body": "Hello again"}
    assert (await client.post("/api/v1/messages", headers=headers, json=payload)).status == 422
    (block,) = (await (await client.get("/api/v1/me/blocks", headers=oto.auth)).json())["items"]
    assert (await client.delete(f"/api/v1/me/blocks/{block['id']}",
                                headers=oto.auth)).status == 204
    sent = await client.post("/api/v1/messages", headers=headers, json=payload)
    assert sent.status == 201 and "Idempotent-Replayed" not in sent.headers
    assert len((await inbox(client, oto))["messages"]) == 1


async def test_replies_join_the_thread(client: Any) -> None:
    pia, quin = await register(client, "pia"), await register(client, "quin")
    first = await send(client, pia, ["quin"], "Coffee beans", "Grade AA?")
    resp = await client.post("/api/v1/messages", headers=quin.auth, json={
        "subject": "Re: Coffee beans", "body": "Price follows", "in_reply_to": first["id"]})
    assert resp.status == 201
    answer = await resp.json()
    assert answer["thread_id"] == first["id"]

    resp = await client.get(f"/api/v1/threads/{first['id']}", headers=pia.auth)
    thread = await resp.json()
    assert [m["body"] for m in thread["messages"]] == ["Grade AA?", "Price follows"]
    assert thread["messages"][-1]["in_reply_to"] == first["id"]
    assert {m["from"]["username"] for m in thread["messages"]} == {"pia", "quin"}


async def test_a_reply_to_someone_new_starts_a_new_thread(client: Any) -> None:
    kim, lou, mo = await register_all(client, "kim", "lou", "mo1")
    first = await send(client, kim, ["lou"], "Private terms", "Only for Lou")
    forward = await send(client, lou, ["mo1"], "Fwd", "Mo, have a look", in_reply_to=first["id"])
    assert forward["thread_id"] == forward["id"] != first["thread_id"]
    resp = await client.get(f"/api/v1/messages/{forward['id']}", headers=mo.auth)
    assert (await resp.json())["in_reply_to"] is None
    both = await send(client, lou, ["kim"], "Re: Private terms", "Fine",
                      in_reply_to=first["id"])
    assert both["thread_id"] == first["thread_id"]


async def test_pages_are_newest_first_with_cursors(client: Any, clock: FakeClock) -> None:
    ray, sol = await register(client, "ray"), await register(client, "sol")
    ids = []
    for n in range(7):
        clock.advance(1)
        ids.append((await send(client, ray, ["sol"], f"Offer {n}", "details"))["id"])
    seen, cursor = [], None
    while True:
        page = await inbox(client, sol, limit="3", **({"cursor": cursor} if cursor else {}))
        seen += [m["id"] for m in page["messages"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]

    for bad in ("nonsense", "AAAA", "%%%", "a" * 300):
        await problem(await client.get("/api/v1/messages", headers=sol.auth,
                                       params={"cursor": bad}), 422)
    for bad in ({"limit": "0"}, {"limit": "-1"}, {"limit": "x"}, {"folder": "junk"},
                {"unread": "maybe"}):
        await problem(await client.get("/api/v1/messages", headers=sol.auth, params=bad), 422)


async def test_unread_filter_and_filing(client: Any) -> None:
    tao, uma = await register(client, "tao"), await register(client, "uma")
    one = await send(client, tao, ["uma"], "One")
    two = await send(client, tao, ["uma"], "Two")
    await client.get(f"/api/v1/messages/{one['id']}", headers=uma.auth)
    assert [m["id"] for m in (await inbox(client, uma, unread="true"))["messages"]] == [
        two["id"]]

    resp = await client.patch(f"/api/v1/messages/{two['id']}", headers=uma.auth,
                              json={"folder": "archive", "unread": False})
    assert resp.status == 200 and (await resp.json())["folder"] == "archive"
    assert [m["id"] for m in (await inbox(client, uma))["messages"]] == [one["id"]]
    assert [m["id"] for m in (await inbox(client, uma, folder="archive"))["messages"]] == [
        two["id"]]
    resp = await client.patch(f"/api/v1/messages/{one['id']}", headers=uma.auth,
                              json={"folder": "sent"})
    await problem(resp, 422)
    resp = await client.patch(f"/api/v1/messages/{one['id']}", headers=uma.auth,
                              json={"unread": "yes"})
    await problem(resp, 422)


async def test_delete_removes_only_the_callers_copy(client: Any) -> None:
    vic, wes = await register(client, "vic"), await register(client, "wes")
    sent = await send(client, vic, ["wes"], "Delete me", "only mine")
    assert (await client.delete(f"/api/v1/messages/{sent['id']}", headers=wes.auth)).status == 204
    await problem(await client.get(f"/api/v1/messages/{sent['id']}", headers=wes.auth), 404)
    resp = await client.get(f"/api/v1/messages/{sent['id']}", headers=vic.auth)
    assert (await resp.json())["body"] == "only mine"
    await problem(await client.delete(f"/api/v1/messages/{sent['id']}", headers=wes.auth), 404)


async def test_search_finds_own_mail_by_word(client: Any) -> None:
    xia, yan, _zed = await register_all(client, "xia", "yan", "zed")
    await send(client, xia, ["yan"], "Frozen shrimp", "Vannamei 21/25, FOB Guayaquil")
    await send(client, xia, ["yan"], "Cocoa", "Ivory Coast origin")
    await send(client, xia, ["zed"], "Shrimp for Zed", "vannamei too")

    found = (await inbox(client, yan, q="VANNAMEI guayaquil"))["messages"]
    assert [m["subject"] for m in found] == ["Frozen shrimp"]
    assert [m["subject"] for m in (await inbox(client, yan, q="shrimp"))["messages"]] == [
        "Frozen shrimp"]
    sent = (await inbox(client, xia, q="vannamei"))["messages"]
    assert {m["subject"] for m in sent} == {"Frozen shrimp", "Shrimp for Zed"}
    assert (await inbox(client, yan, q="xia"))["messages"][0]["from"]["username"] == "xia"
    await problem(await client.get("/api/v1/messages", headers=yan.auth, params={"q": "!"}),
                  422)


async def test_attachments_round_trip_encrypted(client: Any) -> None:
    ada, bo = await register(client, "ada"), await register(client, "bo1")
    form = FormData(quote_fields=False)  # as browsers send it: the filename in raw UTF-8
    form.add_field("to", "bo1")
    form.add_field("subject", "Certificate")
    form.add_field("body", "Phytosanitary certificate attached")
    pdf = b"%PDF-1.7 secret certificate bytes " * 100
    form.add_field("attachments", pdf, filename="certificat d’origine.pdf",
                   content_type="application/pdf")
    resp = await client.post("/api/v1/messages", headers=ada.auth, data=form)
    assert resp.status == 201, await resp.text()
    sent = await resp.json()
    message = await (await client.get(f"/api/v1/messages/{sent['id']}", headers=bo.auth)).json()
    (att,) = message["attachments"]
    assert att["filename"] == "certificat d’origine.pdf" and att["size"] == len(pdf)
    resp = await client.get(att["url"], headers=bo.auth)
    assert resp.status == 200 and await resp.read() == pdf
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert resp.headers["Content-Type"] == "application/pdf"
    await problem(await client.get(att["url"].replace("/1", "/2"), headers=bo.auth), 404)


async def test_a_message_forwarded_inside_trademail_carries_its_text_and_attachments(
        client: Any) -> None:
    ada, bob, cyd = await register_all(client, "ada", "bob", "cyd")
    form = FormData()
    for name, value in (("to", "bob"), ("subject", "Offer 7"), ("body", "40 t at $900/t")):
        form.add_field(name, value)
    pdf = b"%PDF-1.7 price list " * 50
    form.add_field("attachments", pdf, filename="prices.pdf", content_type="application/pdf")
    offer = await (await client.post("/api/v1/messages", headers=ada.auth, data=form)).json()
    resp = await client.post("/api/v1/messages", headers=bob.auth, json={
        "to": ["cyd"], "body": "What do you think?", "forward_of": offer["id"]})
    assert resp.status == 201, await resp.text()
    sent = await (await client.get(f"/api/v1/messages/{(await resp.json())['id']}",
                                   headers=cyd.auth)).json()
    assert sent["subject"] == "Fwd: Offer 7"
    head, _, forwarded = sent["body"].partition("---------- Forwarded message ----------")
    assert head.strip() == "What do you think?"
    assert "From: Ada Trading Ltd (ada)" in forwarded and "40 t at $900/t" in forwarded
    assert "@real-" not in sent["body"]  # parties by name, never an address
    (att,) = sent["attachments"]
    assert att["filename"] == "prices.pdf"
    assert await (await client.get(att["url"], headers=cyd.auth)).read() == pdf
    # Only a message in the sender's own mailbox, read with a token that may read it.
    mine = await send(client, cyd, ["ada"], "Private", "for ada only")
    resp = await client.post("/api/v1/messages", headers=bob.auth, json={
        "to": ["cyd"], "body": "x", "forward_of": mine["id"]})
    assert (await problem(resp, 422))["errors"][0]["field"] == "forward_of"
    send_only = await register(client, "dee", scopes=["messages:send"])
    resp = await client.post("/api/v1/messages", headers=send_only.auth, json={
        "to": ["cyd"], "body": "x", "forward_of": offer["id"]})
    assert resp.status == 403


async def test_attachment_limits(aiohttp_client: Any, tmp_path: Any, store_url: str,
                                 clock: FakeClock) -> None:
    config = make_config(tmp_path, store_url, TRADEMAIL_MESSAGES_MAX_ATTACHMENTS="1",
                         TRADEMAIL_MESSAGES_MAX_ATTACHMENT_BYTES="1000")
    client = await aiohttp_client(await build_app(config, clock))
    cy, di = await register(client, "cy1"), await register(client, "di1")

    def form(*sizes: int) -> FormData:
        data = FormData()
        data.add_field("to", "di1")
        data.add_field("body", "b")
        for n, size in enumerate(sizes):
            data.add_field("attachments", b"x" * size, filename=f"f{n}.bin")
        return data

    body = await problem(await client.post("/api/v1/messages", headers=cy.auth,
                                           data=form(1001)), 413)
    assert body["errors"][0]["field"] == "attachments[1]"
    await problem(await client.post("/api/v1/messages", headers=cy.auth, data=form(10, 10)), 422)
    assert (await inbox(client, di))["messages"] == []


# ---------------------------------------------------------------- bad input


async def test_bad_requests_get_problems_never_500(client: Any) -> None:
    eve, _ = await register(client, "eve"), await register(client, "fay")
    post = "/api/v1/messages"
    cases: list[tuple[dict[str, Any], int]] = [
        ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400),
        ({"data": b"\xff\xfe{}", "headers": {"Content-Type": "application/json"}}, 400),
        ({"data": b"[1, 2]", "headers": {"Content-Type": "application/json"}}, 400),
        ({"data": b"to=fay", "headers": {"Content-Type": "text/plain"}}, 415),
        ({"json": {"to": 5, "subject": "s", "body": "b"}}, 422),
        ({"json": {"to": [], "subject": "s", "body": "b"}}, 422),
        ({"json": {"to": ["fay"], "subject": ["s"], "body": "b"}}, 422),
        ({"json": {"to": ["fay"], "subject": "s" * 256, "body": "b"}}, 422),
        ({"json": {"to": ["fay"], "subject": "line\nbreak", "body": "b"}}, 422),
        ({"json": {"to": ["fay"], "subject": "s", "body": None}}, 422),
        ({"json": {"to": ["fay"], "subject": "s", "body": "\ud800"}}, 422),
        ({"json": {"to": ["fay"], "subject": "s", "body": "x" * (256 * 1024 + 1)}}, 413),
        ({"json": {"to": ["fay"] * 21, "subject": "s", "body": "b"}}, 422),
        ({"json": {"to": ["eve"], "subject": "s", "body": "b"}}, 422),
        ({"json": {"to": ["fay"], "body": "b", "in_reply_to": "nope"}}, 422),
        ({"json": {"to": ["fay"], "body": "b", "in_reply_to": "0" * 32}}, 422),
    ]
    for kwargs, status in cases:
        resp = await client.post(post, headers=eve.auth | kwargs.pop("headers", {}), **kwargs)
        await problem(resp, status)
    first = await send(client, eve, ["fay"])  # a reply names its recipients or leaves `to` out
    for empty in ([], "", ",;"):
        resp = await client.post(post, headers=eve.auth, json={
            "to": empty, "body": "b", "in_reply_to": first["id"]})
        assert (await problem(resp, 422))["errors"][0]["field"] == "to"
    huge = b'{"to": ["fay"], "body": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    resp = await client.post(post, data=huge, headers=eve.auth | {
        "Content-Type": "application/json"})
    await problem(resp, 413)
    await problem(await client.get("/api/v1/nowhere", headers=eve.auth), 404)
    await problem(await client.put("/api/v1/messages", headers=eve.auth), 405)
    await problem(await client.get("/api/v1/messages/%00", headers=eve.auth), 404)
    await problem(await client.get(f"/api/v1/threads/{'z' * 32}", headers=eve.auth), 404)


async def test_healthz_answers_when_the_store_answers(client: Any) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200 and (await resp.json()) == {"status": "ok"}


async def test_multipart_sends_are_bounded_field_by_field(client: Any) -> None:
    gil, _ = await register(client, "gil"), await register(client, "hux")
    many = FormData(default_to_multipart=True)
    for _ in range(5000):
        many.add_field("to", "hux")
    body = await problem(await client.post("/api/v1/messages", headers=gil.auth, data=many),
                         422)
    assert body["errors"] == [{"field": "to", "message": "at most 20 recipients"}]
    odd = FormData(default_to_multipart=True)
    odd.add_field("to", "hux")
    odd.add_field("padding", "x" * 1000)
    body = await problem(await client.post("/api/v1/messages", headers=gil.auth, data=odd), 422)
    assert body["errors"][0]["field"] == "padding"
    for bad in (b"\xff.pdf", b"nul\x00.pdf"):
        raw = (b'--B\r\nContent-Disposition: form-data; name="to"\r\n\r\nhux\r\n'
               b'--B\r\nContent-Disposition: form-data; name="attachments"; filename="' + bad
               + b'"\r\n\r\ndata\r\n--B--\r\n')
        resp = await client.post("/api/v1/messages", data=raw, headers=gil.auth | {
            "Content-Type": "multipart/form-data; boundary=B"})
        assert resp.status in (400, 422), await resp.text()


async def test_text_that_cannot_be_stored_is_refused_by_name(client: Any) -> None:
    ivo = await register(client, "ivo")
    for path, payload, field in (
            ("/api/v1/tokens", {"username": "ivo\u0000", "password": "x"}, "username"),
            ("/api/v1/tokens", {"username": "ivo", "password": "\ud800"}, "password"),
            ("/api/v1/members", {"username": "jo1", "password": "\ud800" * 20,
                                 "email": "j@x.example", "company": "C", "country": "Peru"},
             "password"),
            ("/api/v1/messages", {"to": ["ivo\u0000"], "body": "b"}, "to"),
            ("/api/v1/messages", {"to": ["x"], "subject": "\udfff", "body": "b"}, "subject")):
        resp = await client.post(path, json=payload, headers=ivo.auth)
        body = await problem(resp, 422)
        assert field in {e["field"] for e in body["errors"]}, body


async def test_addresses_are_kept_in_a_form_every_mail_server_takes(client: Any) -> None:
    resp = await client.post("/api/v1/members", json={
        "username": "jorg", "password": PASSWORD, "email": "jörg@example.de",
        "company": "Jörg GmbH", "country": "Germany"})
    assert (await problem(resp, 422))["errors"][0]["field"] == "email"
    resp = await client.post("/api/v1/members", json={
        "username": "jorg", "password": PASSWORD, "email": "j@Bücher.de",
        "company": "Jörg GmbH", "country": "Germany"})
    assert resp.status == 201
    assert (await resp.json())["email_masked"] == "j•••@xn--bcher-kva.de"


async def test_behind_a_trusted_proxy_the_forwarded_client_is_throttled(
        aiohttp_client: Any, tmp_path: Any, store_url: str, clock: FakeClock) -> None:
    async def guesses(client: Any, forwarded: str, count: int) -> list[int]:
        statuses = []
        for n in range(count):
            resp = await client.post("/api/v1/tokens", headers={"X-Forwarded-For": forwarded},
                                     json={"username": f"nobody{n}", "password": "x"})
            statuses.append(resp.status)
        return statuses

    behind = await aiohttp_client(await build_app(make_config(
        tmp_path / "a", store_url, TRADEMAIL_AUTH_CLIENT_FREE_FAILURES="2",
        TRADEMAIL_HTTP_TRUSTED_PROXIES="127.0.0.0/8, ::1"), clock))
    assert await guesses(behind, "198.51.100.7, 127.0.0.1", 3) == [401, 401, 429]
    assert await guesses(behind, "203.0.113.9", 1) == [401]  # another client, not throttled

    direct = await aiohttp_client(await build_app(make_config(
        tmp_path / "b", store_url, TRADEMAIL_AUTH_CLIENT_FREE_FAILURES="2"), clock))
    assert await guesses(direct, "198.51.100.8", 2) == [401, 401]
    assert await guesses(direct, "203.0.113.10", 1) == [429]  # the header is not believed


async def test_a_reply_to_all_reaches_everyone_in_the_message(client: Any) -> None:
    ivy, jon, kim = await register_all(client, "ivy", "jon", "kim")
    sent = await send(client, ivy, [jon.username, kim.username], subject="Tender")
    resp = await client.post("/api/v1/messages", headers=jon.auth, json={
        "in_reply_to": sent["id"], "body": "Ours: USD 1,350 / t.", "reply_all": True})
    assert resp.status == 201, await resp.text()
    for member in (ivy, kim):
        page = await (await client.get("/api/v1/messages", headers=member.auth)).json()
        assert page["messages"][0]["id"] == (await resp.json())["id"]
    resp = await client.post("/api/v1/messages", headers=jon.auth, json={
        "in_reply_to": sent["id"], "body": "x", "reply_all": "yes"})
    assert resp.status == 422 and "reply_all" in await resp.text()
