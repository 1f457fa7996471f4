"""Sign-up proves the address and tells nobody whether it is taken: the API and the web,
the link mailed to the address, and no other mail before it is followed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser_helpers import Browser, csrf_of
from tests.helpers import (
    PASSWORD,
    confirm,
    link_token,
    outbox_rows,
    register,
    send,
    take_mail,
)
from trademail.app import CORE
from trademail.testing import FakeClock

SIGNUP = {"password": PASSWORD, "company": "Nile Sesame", "country": "Egypt"}


async def sign_up(client: Any, username: str, email: str) -> Any:
    return await client.post("/api/v1/members",
                             json={"username": username, "email": email, **SIGNUP})


def same_shape(one: dict[str, Any], other: dict[str, Any]) -> None:
    """Two sign-up answers that differ only where two accounts must."""
    assert one.keys() == other.keys()
    for key in ("id", "username", "email_masked", "aliases", "created_at"):
        one.pop(key), other.pop(key)
    assert one == other


async def test_a_taken_address_gets_the_same_answer_and_its_owner_is_told(
        client: Any) -> None:
    await register(client, "amina", email="amina@real-amina.example")
    taken = await sign_up(client, "mallory", "Amina@REAL-amina.example")
    fresh = await sign_up(client, "newcomer", "newcomer@real-new.example")
    assert taken.status == fresh.status == 201
    assert taken.headers["Location"] == fresh.headers["Location"]
    same_shape(await taken.json(), await fresh.json())
    assert (await taken.json())["email_confirmed"] is False
    # The owner hears of it, with the way back into their account; no link is sent.
    warning = await take_mail(client, "amina@real-amina.example", "tried to make a new")
    assert "/password/forgot" in warning and "/signup/confirm" not in warning
    await take_mail(client, "newcomer@real-new.example", "/signup/confirm?token=")


async def test_the_squatter_can_use_the_account_but_never_claim_the_address(
        client: Any) -> None:
    owner = await register(client, "amina", email="amina@real-amina.example")
    squatter = await register(client, "mallory", email="amina@real-amina.example",
                              confirmed=False)
    await take_mail(client, owner.email, "tried to make a new")
    # Usable at once: sign in, write, read.
    await send(client, squatter, [owner.username], subject="Hello", body="Hi there")
    page = await (await client.get("/api/v1/messages?folder=sent",
                                   headers=squatter.auth)).json()
    assert [m["subject"] for m in page["messages"]] == ["Hello"]
    # Asking again warns the owner again, never sends the squatter a link.
    resp = await client.post("/api/v1/me/confirmation", headers=squatter.auth)
    assert resp.status == 202
    await take_mail(client, owner.email, "tried to make a new")
    me = await (await client.get("/api/v1/me", headers=squatter.auth)).json()
    assert me["email_confirmed"] is False


async def test_the_link_confirms_once_and_in_time(client: Any, clock: FakeClock) -> None:
    member = await register(client, "amina", confirmed=False)
    token = link_token(await take_mail(client, member.email, "/signup/confirm?token="),
                       "/signup/confirm")
    # The page behind the link confirms nothing by itself: a link scanner may fetch it.
    page = await client.get(f"/signup/confirm?token={token}")
    assert page.status == 200 and 'action="/signup/confirm"' in await page.text()
    me = await (await client.get("/api/v1/me", headers=member.auth)).json()
    assert me["email_confirmed"] is False
    resp = await client.post("/api/v1/members/confirm", json={"token": token})
    assert resp.status == 204
    me = await (await client.get("/api/v1/me", headers=member.auth)).json()
    assert me["email_confirmed"] is True
    again = await client.post("/api/v1/members/confirm", json={"token": token})
    assert again.status == 422

    late = await register(client, "bakari", confirmed=False)
    token = link_token(await take_mail(client, late.email, "/signup/confirm?token="),
                       "/signup/confirm")
    clock.advance(48 * 3600)
    resp = await client.post("/api/v1/members/confirm", json={"token": token})
    assert resp.status == 422


async def test_a_new_link_replaces_the_old_and_resends_are_limited(client: Any) -> None:
    member = await register(client, "amina", confirmed=False)
    first = link_token(await take_mail(client, member.email, "/signup/confirm?token="),
                       "/signup/confirm")
    resp = await client.post("/api/v1/me/confirmation", headers=member.auth)
    assert resp.status == 202 and (await resp.json())["sent_to"] == "a•••@real-amina.example"
    second = link_token(await take_mail(client, member.email, "/signup/confirm?token="),
                        "/signup/confirm")
    assert (await client.post("/api/v1/members/confirm", json={"token": first})).status == 422
    assert (await client.post("/api/v1/members/confirm", json={"token": second})).status == 204
    resp = await client.post("/api/v1/me/confirmation", headers=member.auth)
    assert resp.status == 422  # confirmed already


async def test_one_address_gets_at_most_three_sign_up_mails_a_day(
        client: Any, clock: FakeClock) -> None:
    for n in range(5):
        assert (await sign_up(client, f"flood{n}", "victim@real-victim.example")).status == 201
    store = client.app[CORE].stores
    assert await store.db.fetchval("SELECT COUNT(*) FROM outbox") == 3
    for _ in range(3):
        await take_mail(client, "victim@real-victim.example", "/signup/confirm?token=")
    # A sign-up refused for its username spends none of the address's mail.
    assert (await sign_up(client, "flood0", "victim@real-victim.example")).status == 409
    clock.advance(86401)
    assert (await sign_up(client, "flood9", "victim@real-victim.example")).status == 201
    await take_mail(client, "victim@real-victim.example", "/signup/confirm?token=")
    assert await store.db.fetchval("SELECT COUNT(*) FROM outbox") == 4


async def test_nothing_but_the_link_goes_to_an_unconfirmed_address(client: Any) -> None:
    sender = await register(client, "amina")
    member = await register(client, "bakari", confirmed=False)
    await client.post("/api/v1/members/confirm", json={"token": "x" * 43})  # a wrong token
    await send(client, sender, [member.username], subject="Before", body="first")
    assert await outbox_rows(client, "bakari") == 1  # the link, and nothing since
    await confirm(client, member.email)
    await send(client, sender, [member.username], subject="After", body="second")
    await take_mail(client, member.email, "Amina Trading Ltd")
    assert await outbox_rows(client, "bakari") == 2


async def test_uniqueness_holds_among_confirmed_addresses(client: Any) -> None:
    """Two unconfirmed accounts may name one address; the first to follow its link holds
    it, and the other's link then fails."""
    one = await register(client, "amina", email="shared@real.example", confirmed=False)
    two = await register(client, "bakari", email="shared@real.example", confirmed=False)
    first = link_token(await take_mail(client, one.email, "/signup/confirm?token="),
                       "/signup/confirm")
    second = link_token(await take_mail(client, two.email, "/signup/confirm?token="),
                        "/signup/confirm")
    assert (await client.post("/api/v1/members/confirm", json={"token": second})).status == 204
    resp = await client.post("/api/v1/members/confirm", json={"token": first})
    assert resp.status == 409
    store = client.app[CORE].stores
    assert await store.db.fetchval(
        "SELECT COUNT(*) FROM members WHERE email_confirmed") == 1


async def test_the_web_sign_up_and_confirmation(client: Any) -> None:
    await register(client, "amina", email="amina@real-amina.example")
    browser = Browser(client)
    try:
        await browser.sign_up("mallory", email="amina@real-amina.example")  # as any sign-up
        settings = await browser.page("/settings/security")
        assert "data-unconfirmed" in settings and "amina@real-amina.example" not in settings
        await take_mail(client, "amina@real-amina.example", "tried to make a new")

        fresh = Browser(client)
        await fresh.sign_up("bakari", email="bakari@real-bakari.example")
        token = link_token(await take_mail(client, "bakari@real-bakari.example",
                                           "/signup/confirm?token="), "/signup/confirm")
        anonymous = Browser(client)
        page = await anonymous.page(f"/signup/confirm?token={token}")
        resp = await anonymous.post("/signup/confirm", {"token": token, "csrf": csrf_of(page)})
        assert resp.status == 200 and "Your address is confirmed" in await resp.text()
        assert "data-unconfirmed" not in await fresh.page("/settings/security")
        await fresh.close()
        await anonymous.close()
    finally:
        await browser.close()


@pytest.mark.parametrize("username, company", [
    ("tradestaff", "Acme Trading"),
    ("trade-staff", "Acme Trading"),
    ("support", "Acme Trading"),
    ("amina", "TradeStaff Security Team"),
    ("amina", "Trade Staff"),
    ("amina", "Security Team"),
])
async def test_names_that_claim_the_staff_are_refused(client: Any, username: str,
                                                      company: str) -> None:
    resp = await client.post("/api/v1/members", json={
        "username": username, "email": "someone@real.example", "password": PASSWORD,
        "company": company, "country": "Kenya"})
    assert resp.status == 422
    fields = {e["field"] for e in (await resp.json())["errors"]}
    assert fields <= {"username", "company"} and fields


async def test_asking_again_and_again_for_the_link_is_throttled(client: Any) -> None:
    member = await register(client, "amina", confirmed=False)
    statuses = [(await client.post("/api/v1/me/confirmation", headers=member.auth)).status
                for _ in range(8)]
    assert statuses[0] == 202 and statuses[-1] == 429
    assert set(statuses) == {202, 429} and statuses.index(429) > 1
    assert statuses[statuses.index(429):] == [429] * (len(statuses) - statuses.index(429))
    # However often it is asked, the address gets at most three sign-up mails a day.
    store = client.app[CORE].stores
    assert await store.db.fetchval("SELECT COUNT(*) FROM outbox") <= 3
