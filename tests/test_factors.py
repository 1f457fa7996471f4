"""Two-step sign-in through the web door and the API: an authenticator app added in
settings, the second step after the password, recovery codes, codes that work once, the
factor asked again before every sensitive change, and API tokens that need it too."""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path
from typing import Any

import pyotp
import pytest

from tests.browser_helpers import Browser, csrf_of
from tests.helpers import PASSWORD, make_config
from trademail.app import build_app
from trademail.testing import FakeClock

SETUP = re.compile(r'name="setup" value="([^"]+)"')
SECRET = re.compile(r"<code data-totp-secret>([^<]+)</code>")
CODES = re.compile(r"<li><code>([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})</code></li>")


def totp(secret: str, clock: FakeClock, offset: int = 0) -> str:
    return pyotp.TOTP(secret).at(clock.now() + offset)


async def add_app(browser: Browser, clock: FakeClock, *,
                  second_factor: str | None = None) -> tuple[str, list[str]]:
    """Scan the QR code (read its key), confirm with a code; the secret and the recovery
    codes the page shows this once."""
    page = await browser.page("/settings/two-step")
    setup, secret = SETUP.search(page), SECRET.search(page)
    assert setup and secret
    key = secret.group(1).replace(" ", "")
    form = {"setup": html.unescape(setup.group(1)), "code": totp(key, clock),
            "name": "Work phone", "password": PASSWORD}
    if second_factor is not None:
        form["second_factor"] = second_factor
    resp = await browser.post("/settings/totp", form, csrf=csrf_of(page))
    text = await resp.text()
    assert resp.status in (200, 303), text
    return key, CODES.findall(text)


async def signed_in_with_app(browsers: Any, clock: FakeClock,
                             name: str = "amina") -> tuple[Browser, str, list[str]]:
    browser = browsers()
    await browser.sign_up(name)
    key, codes = await add_app(browser, clock)
    clock.advance(30)  # the code that confirmed the app is spent: the next one is due
    return browser, key, codes


async def verify(browser: Browser, code: str, form_page: str = "/signin/verify") -> Any:
    return await browser.post("/signin/verify", {"code": code}, form_page=form_page)


async def test_an_app_is_added_with_ten_recovery_codes_shown_once(
        browsers: Any, clock: FakeClock) -> None:
    browser, _, codes = await signed_in_with_app(browsers, clock)
    assert len(codes) == 10 and len(set(codes)) == 10
    page = await browser.page("/settings/two-step")
    assert "Work phone" in page and "10 unused recovery codes" in page
    assert not CODES.findall(page)  # never shown again


async def test_signing_in_asks_for_the_code_after_the_password(
        browsers: Any, clock: FakeClock) -> None:
    _, key, _ = await signed_in_with_app(browsers, clock)
    browser = browsers()
    resp = await browser.sign_in("amina", next_path="/settings")
    assert resp.status == 303 and resp.headers["Location"].startswith("/signin/verify")
    assert browser.cookie("tm_session") is None  # no session on the password alone
    assert (await browser.get("/inbox", allow_redirects=False)).status == 303
    wrong = await verify(browser, "000000" if totp(key, clock) != "000000" else "111111")
    assert wrong.status == 422 and "not right" in await wrong.text()
    page = await browser.page(resp.headers["Location"])
    assert 'name="next" value="/settings"' in page  # where the sign-in was going
    ok = await browser.post("/signin/verify", {"code": totp(key, clock), "next": "/settings"},
                            csrf=csrf_of(page))
    assert ok.status == 303 and ok.headers["Location"] == "/settings"
    assert browser.cookie("tm_session") and browser.cookie("tm_pending") in (None, "")
    assert (await browser.get("/inbox", allow_redirects=False)).status == 200


async def test_a_code_works_once_and_the_next_one_after_it(
        browsers: Any, clock: FakeClock) -> None:
    _, key, _ = await signed_in_with_app(browsers, clock)
    first = browsers()
    await first.sign_in("amina")
    code = totp(key, clock)
    assert (await verify(first, code)).status == 303
    again = browsers()
    await again.sign_in("amina")
    refused = await verify(again, code)  # the same code, seen by the server already
    assert refused.status == 422
    clock.advance(30)
    assert (await verify(again, totp(key, clock))).status == 303


async def test_a_recovery_code_signs_in_once(browsers: Any, clock: FakeClock) -> None:
    _, _, codes = await signed_in_with_app(browsers, clock)
    one = browsers()
    await one.sign_in("amina")
    assert (await verify(one, codes[3].upper().replace("-", " "))).status == 303
    two = browsers()
    await two.sign_in("amina")
    assert (await verify(two, codes[3])).status == 422
    assert (await verify(two, codes[4])).status == 303
    page = await two.page("/settings/two-step")
    assert "8 unused recovery codes" in page


async def test_the_second_step_waits_ten_minutes_and_no_longer(
        browsers: Any, clock: FakeClock) -> None:
    _, key, _ = await signed_in_with_app(browsers, clock)
    browser = browsers()
    await browser.sign_in("amina")
    page = await browser.page("/signin/verify")
    clock.advance(601)
    resp = await browser.post("/signin/verify", {"code": totp(key, clock)},
                              csrf=csrf_of(page))
    assert resp.status == 303 and resp.headers["Location"] == "/signin?reason=second-step"
    assert browser.cookie("tm_session") is None
    assert "took too long" in await browser.page("/signin?reason=second-step")


async def test_wrong_codes_are_throttled(browsers: Any, clock: FakeClock) -> None:
    _, key, _ = await signed_in_with_app(browsers, clock)
    browser = browsers()
    await browser.sign_in("amina")
    wrong = f"{(int(totp(key, clock)) + 500000) % 1000000:06d}"
    statuses = [(await verify(browser, wrong)).status for _ in range(12)]
    assert statuses[:10] == [422] * 10 and statuses[-1] == 429
    # The right code waits its turn too, then works.
    clock.advance(3600)
    browser2 = browsers()
    await browser2.sign_in("amina")
    assert (await verify(browser2, totp(key, clock))).status == 303


async def test_sensitive_changes_ask_for_the_second_factor_again(
        browsers: Any, clock: FakeClock) -> None:
    browser, key, codes = await signed_in_with_app(browsers, clock)
    page = await browser.page("/settings/security")
    assert 'name="second_factor"' in page
    new_password = "quay ledger tariff monsoon"
    missing = await browser.post("/settings/password", {
        "current_password": PASSWORD, "new_password": new_password}, csrf=csrf_of(page))
    assert missing.status == 422 and "authenticator app" in await missing.text()
    email = await browser.post("/settings/email", {
        "email": "new@amina-new.example", "password": PASSWORD, "second_factor": "123"},
        csrf=csrf_of(page))
    assert email.status == 422
    ok = await browser.post("/settings/password", {
        "current_password": PASSWORD, "new_password": new_password,
        "second_factor": codes[0]}, csrf=csrf_of(page))
    assert ok.status == 303
    # Adding another factor, or removing one, asks again too.
    two_step = await browser.page("/settings/two-step")
    setup, secret = SETUP.search(two_step), SECRET.search(two_step)
    assert setup and secret
    refused_add = await browser.post("/settings/totp", {
        "setup": html.unescape(setup.group(1)), "password": new_password,
        "code": totp(secret.group(1).replace(" ", ""), clock)}, csrf=csrf_of(two_step))
    assert refused_add.status == 422 and "recovery codes" in await refused_add.text()
    assert two_step.count('data-factor="totp"') == 1
    factor_id = re.search(r'/settings/factors/([0-9a-f]+)/remove', two_step)
    assert factor_id
    refused = await browser.post(f"/settings/factors/{factor_id.group(1)}/remove", {
        "password": new_password}, csrf=csrf_of(two_step))
    assert refused.status == 422
    clock.advance(30)
    removed = await browser.post(f"/settings/factors/{factor_id.group(1)}/remove", {
        "password": new_password, "second_factor": totp(key, clock)}, csrf=csrf_of(two_step))
    assert removed.status == 303
    # With no factor left, the recovery codes are gone and a password signs in alone.
    other = browsers()
    resp = await other.sign_in("amina", new_password)
    assert resp.status == 303 and resp.headers["Location"] == "/inbox"


async def test_api_tokens_need_the_second_factor_too(
        client: Any, browsers: Any, clock: FakeClock) -> None:
    _, key, codes = await signed_in_with_app(browsers, clock)
    body = {"username": "amina", "password": PASSWORD, "name": "CRM"}
    missing = await client.post("/api/v1/tokens", json=body)
    problem = await missing.json()
    assert missing.status == 422 and missing.content_type == "application/problem+json"
    assert [e["field"] for e in problem["errors"]] == ["second_factor"]
    wrong = await client.post("/api/v1/tokens", json=body | {"second_factor": "12-34"})
    assert wrong.status == 422
    clock.advance(30)
    made = await client.post("/api/v1/tokens", json=body | {"second_factor": totp(key, clock)})
    assert made.status == 201, await made.text()
    by_code = await client.post("/api/v1/tokens", json=body | {"second_factor": codes[9]})
    assert by_code.status == 201
    spent = await client.post("/api/v1/tokens", json=body | {"second_factor": codes[9]})
    assert spent.status == 422


async def test_the_pending_step_is_no_session_and_forms_need_their_token(
        browsers: Any, clock: FakeClock) -> None:
    _, key, _ = await signed_in_with_app(browsers, clock)
    browser = browsers()
    await browser.sign_in("amina")
    forged = await browser.post("/signin/verify", {"code": totp(key, clock)}, csrf="forged")
    assert forged.status == 403
    # A browser that never gave the password has nothing to finish.
    stranger = browsers()
    resp = await stranger.get("/signin/verify", allow_redirects=False)
    assert resp.status == 303 and "second-step" in resp.headers["Location"]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_the_authenticator_secret_is_sealed_at_rest(
        client: Any, browsers: Any, clock: FakeClock, config: Any) -> None:
    _, key, codes = await signed_in_with_app(browsers, clock)
    raw = Path(config.store_url.removeprefix("sqlite:///"))
    data = b"".join(p.read_bytes() for p in (raw, raw.with_name(raw.name + "-wal"))
                    if p.exists())
    assert key.encode() not in data and key.lower().encode() not in data
    for code in codes:
        assert code.encode() not in data and code.replace("-", "").encode() not in data


async def test_a_malformed_passkey_answer_is_refused_not_a_crash(
        aiohttp_client: Any, browsers: Any, tmp_path: Path, store_url: str,
        clock: FakeClock) -> None:
    """Answers to a real challenge that are not what a browser sends (no id, the wrong
    type, a broken attestation, not JSON): a 422 naming the field, never a 500."""
    origin = "http://localhost:8080"
    config = make_config(tmp_path, store_url, TRADEMAIL_HTTP_PUBLIC_URL=origin)
    browser = browsers(await aiohttp_client(await build_app(config, clock)))
    await browser.sign_up("amina")

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    answers = [
        lambda cd: json.dumps({"rawId": "AAAA", "response": {"clientDataJSON": cd}}),
        lambda cd: json.dumps({"id": "AAAA", "rawId": "AAAA", "type": "password",
                               "response": {"clientDataJSON": cd}}),
        lambda cd: json.dumps({"id": "AAAA", "rawId": "AAAA", "type": "public-key",
                               "response": {"clientDataJSON": cd,
                                            "attestationObject": b64(b"\xa0")}}),
        lambda cd: "{not json",
    ]
    for answer in answers:
        page = await browser.page("/settings/two-step")
        options = await (await browser.session.post(
            "/settings/passkeys/options?for=new", headers={"X-CSRF-Token": csrf_of(page)})).json()
        client_data = b64(json.dumps({"type": "webauthn.create", "origin": origin,
                                      "challenge": options["challenge"]}).encode())
        resp = await browser.post("/settings/passkeys", {
            "credential": answer(client_data), "password": PASSWORD, "name": "Key"},
            csrf=csrf_of(page))
        text = await resp.text()
        assert resp.status == 422, text[:500]
        assert "not accepted" in text or "not a WebAuthn answer" in text
    assert 'data-factor="passkey"' not in await browser.page("/settings/two-step")


async def test_a_hundred_wrong_codes_lock_the_second_step_for_a_day(
        client: Any, browsers: Any, clock: FakeClock) -> None:
    """However slowly they come, wrong codes stop at a hundred (NIST SP 800-63B): then
    even the right code waits out the lockout."""
    _, key, _ = await signed_in_with_app(browsers, clock)
    body = {"username": "amina", "password": PASSWORD}

    def wrong() -> str:
        return f"{(int(totp(key, clock)) + 500000) % 1000000:06d}"

    for _ in range(100):
        clock.advance(900)  # past every back-off: only the count can stop them
        resp = await client.post("/api/v1/tokens", json=body | {"second_factor": wrong()})
        assert resp.status == 422, await resp.text()
    clock.advance(900)
    locked = await client.post("/api/v1/tokens", json=body | {"second_factor": totp(key, clock)})
    assert locked.status == 429 and int(locked.headers["Retry-After"]) > 80000
    clock.advance(86400)
    again = await client.post("/api/v1/tokens", json=body | {"second_factor": totp(key, clock)})
    assert again.status == 201, await again.text()
