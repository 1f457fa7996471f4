"""Forgotten passwords and what a new password ends: a reset by mail through the API and
the web, the same answer for accounts that do not exist, and API tokens that do not
outlive a password or their lifetime."""

from __future__ import annotations

from typing import Any

from tests.browser_helpers import Browser, csrf_of
from tests.helpers import PASSWORD, jobs_done, link_token, outbox_rows, register, take_mail
from trademail.app import CORE
from trademail.testing import FakeClock

NEW_PASSWORD = "lantern harbour spice ledger"


async def ask_reset(client: Any, account: str) -> Any:
    resp = await client.post("/api/v1/password-resets", json={"account": account})
    assert resp.status == 202, await resp.text()
    return await resp.json()


async def reset_token(client: Any, email: str) -> str:
    return link_token(await take_mail(client, email, "/password/reset?token="),
                      "/password/reset")


async def test_a_member_signs_up_confirms_forgets_resets_and_loses_old_tokens(
        client: Any) -> None:
    member = await register(client, "amina")  # signed up, confirmed by mail
    assert (await client.get("/api/v1/me", headers=member.auth)).status == 200
    web = Browser(client)
    try:
        assert (await web.sign_in("amina")).status == 303
        answer = await ask_reset(client, "amina")
        token = await reset_token(client, member.email)
        resp = await client.post("/api/v1/password-resets/complete",
                                 json={"token": token, "password": NEW_PASSWORD})
        assert resp.status == 204
        assert (await client.get("/api/v1/me", headers=member.auth)).status == 401
        resp = await web.get("/inbox", allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"].startswith("/signin")
        old = await client.post("/api/v1/tokens", json={"username": "amina",
                                                        "password": PASSWORD})
        assert old.status == 401
        new = await client.post("/api/v1/tokens", json={"username": "amina",
                                                        "password": NEW_PASSWORD})
        assert new.status == 201
        await take_mail(client, member.email, "password of your TradeMail account was just")
        # The link worked once.
        resp = await client.post("/api/v1/password-resets/complete",
                                 json={"token": token, "password": PASSWORD + " again"})
        assert resp.status == 422
        # Nobody learns whether an account exists.
        assert await ask_reset(client, "nobody-here") == answer
        assert await ask_reset(client, "nobody@real-nobody.example") == answer
        assert await ask_reset(client, member.email.upper()) == answer
        await reset_token(client, member.email)
    finally:
        await web.close()


async def test_a_refused_password_keeps_the_link_and_links_expire(
        client: Any, clock: FakeClock) -> None:
    member = await register(client, "amina")
    await ask_reset(client, member.email)
    token = await reset_token(client, member.email)
    weak = await client.post("/api/v1/password-resets/complete",
                             json={"token": token, "password": "amina amina amina"})
    assert weak.status == 422
    assert [e["field"] for e in (await weak.json())["errors"]] == ["password"]
    resp = await client.post("/api/v1/password-resets/complete",
                             json={"token": token, "password": NEW_PASSWORD})
    assert resp.status == 204

    await ask_reset(client, "amina")
    token = await reset_token(client, member.email)
    clock.advance(3600)
    resp = await client.post("/api/v1/password-resets/complete",
                             json={"token": token, "password": "yet another long phrase"})
    assert resp.status == 422
    assert [e["field"] for e in (await resp.json())["errors"]] == ["token"]


async def test_no_reset_goes_to_an_address_someone_else_confirmed(client: Any) -> None:
    owner = await register(client, "amina", email="amina@real-amina.example")
    await register(client, "mallory", email="amina@real-amina.example", confirmed=False)
    await take_mail(client, owner.email, "tried to make a new")
    await ask_reset(client, "mallory")
    await jobs_done(client)
    assert await outbox_rows(client, "mallory") == 0
    assert await client.app[CORE].stores.db.fetchval("SELECT COUNT(*) FROM account_tokens") == 0


async def test_a_reset_link_also_proves_an_unconfirmed_address(client: Any) -> None:
    member = await register(client, "amina", confirmed=False)
    await take_mail(client, member.email, "/signup/confirm?token=")
    await ask_reset(client, "amina")
    token = await reset_token(client, member.email)
    resp = await client.post("/api/v1/password-resets/complete",
                             json={"token": token, "password": NEW_PASSWORD})
    assert resp.status == 204
    new = await client.post("/api/v1/tokens", json={"username": "amina",
                                                    "password": NEW_PASSWORD})
    me = await client.get("/api/v1/me", headers={
        "Authorization": f"Bearer {(await new.json())['token']}"})
    assert (await me.json())["email_confirmed"] is True


async def test_reset_in_the_web(client: Any) -> None:
    member = await register(client, "amina")
    browser = Browser(client)
    try:
        signin = await browser.page("/signin")
        assert 'href="/password/forgot"' in signin
        resp = await browser.post("/password/forgot", {"account": "amina"},
                                  form_page="/password/forgot")
        assert resp.status == 200 and "If an account matches" in await resp.text()
        token = await reset_token(client, member.email)
        page = await browser.page(f"/password/reset?token={token}")
        assert 'name="token"' in page
        resp = await browser.post("/password/reset", {"token": token, "password": "short"},
                                  csrf=csrf_of(page))
        assert resp.status == 422 and 'name="token"' in await resp.text()
        resp = await browser.post("/password/reset",
                                  {"token": token, "password": NEW_PASSWORD}, csrf=csrf_of(page))
        assert resp.status == 303
        assert resp.headers["Location"] == "/signin?reason=password-reset"
        assert (await browser.sign_in("amina", NEW_PASSWORD)).status == 303
        bad = await browser.get("/password/reset?token=" + "x" * 43)
        assert bad.status == 422 and 'href="/password/forgot"' in await bad.text()
    finally:
        await browser.close()


async def test_changing_the_password_revokes_every_api_token(client: Any) -> None:
    member = await register(client, "amina")
    browser = Browser(client)
    try:
        await browser.sign_in("amina")
        settings = await browser.page("/settings/security")
        assert "revokes every API token" in settings
        resp = await browser.post("/settings/password", {
            "current_password": PASSWORD, "new_password": NEW_PASSWORD}, csrf=csrf_of(settings))
        assert resp.status == 303
        assert (await client.get("/api/v1/me", headers=member.auth)).status == 401
    finally:
        await browser.close()


async def test_api_tokens_expire_by_default(client: Any, clock: FakeClock) -> None:
    member = await register(client, "amina")
    listed = await (await client.get("/api/v1/tokens", headers=member.auth)).json()
    (token,) = listed["tokens"]
    assert token["expires_at"] is not None
    clock.advance(90 * 86400 - 1)
    assert (await client.get("/api/v1/me", headers=member.auth)).status == 200
    clock.advance(1)
    assert (await client.get("/api/v1/me", headers=member.auth)).status == 401


async def test_a_reset_link_dies_with_the_address_and_the_password_it_was_for(
        client: Any) -> None:
    member = await register(client, "amina")
    browser = Browser(client)
    try:
        await ask_reset(client, "amina")
        old_address_link = await reset_token(client, member.email)
        assert (await browser.sign_in("amina")).status == 303
        settings = await browser.page("/settings/security")
        new = "amina@new-amina.example"
        await browser.post("/settings/email", {"email": new, "password": PASSWORD},
                           csrf=csrf_of(settings))
        token = link_token(await take_mail(client, new, "/settings/email/confirm"),
                           "/settings/email/confirm")
        page = await browser.page(f"/settings/email/confirm?token={token}")
        await browser.post("/settings/email/confirm", {"token": token}, csrf=csrf_of(page))
        resp = await client.post("/api/v1/password-resets/complete",
                                 json={"token": old_address_link, "password": NEW_PASSWORD})
        assert resp.status == 422  # whoever still reads the old mailbox cannot take over

        await ask_reset(client, "amina")
        unused = await reset_token(client, new)
        page = await browser.page("/settings/security")
        resp = await browser.post("/settings/password", {
            "current_password": PASSWORD, "new_password": NEW_PASSWORD}, csrf=csrf_of(page))
        assert resp.status == 303
        resp = await client.post("/api/v1/password-resets/complete",
                                 json={"token": unused, "password": "yet another long phrase"})
        assert resp.status == 422
    finally:
        await browser.close()
