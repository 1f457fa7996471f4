"""Members and their credentials through the API: sign-up and its confirmation, password
resets, API tokens, the caller's own profile, and deleting the caller's account."""

from __future__ import annotations

from aiohttp import web

from trademail.api.common import (
    caller,
    profile_json,
    read_json,
    token_json,
)
from trademail.appkeys import (
    ERASURE,
    FACTORS,
    MEMBERS,
    RECOVERY,
    SIGNUP,
    TOKENS,
)
from trademail.clientaddr import client_address

RESET_REQUESTED = ("If an account matches, a link to reset its password was mailed to the "
                   "account's address.")

routes = web.RouteTableDef()
@routes.post("/v1/members")
async def register(request: web.Request) -> web.Response:
    data = await read_json(request)
    profile = await request.app[SIGNUP].register(
        username=data.get("username"), password=data.get("password"), email=data.get("email"),
        company=data.get("company"), country=data.get("country"),
        client=client_address(request))
    return web.json_response(profile_json(profile), status=201,
                             headers={"Location": "/api/v1/me"})


@routes.post("/v1/members/confirm")
async def confirm_address(request: web.Request) -> web.Response:
    data = await read_json(request)
    await request.app[SIGNUP].confirm(data.get("token"))
    return web.Response(status=204)


@routes.post("/v1/me/confirmation")
async def resend_confirmation(request: web.Request) -> web.Response:
    who = await caller(request, "account:manage")
    masked = await request.app[SIGNUP].resend(who.member_id)
    return web.json_response({"sent_to": masked}, status=202)


@routes.post("/v1/password-resets")
async def request_password_reset(request: web.Request) -> web.Response:
    data = await read_json(request)
    account = data.get("account", data.get("username", data.get("email")))
    await request.app[RECOVERY].request(account, client=client_address(request))
    return web.json_response({"detail": RESET_REQUESTED}, status=202)


@routes.post("/v1/password-resets/complete")
async def complete_password_reset(request: web.Request) -> web.Response:
    data = await read_json(request)
    await request.app[RECOVERY].complete(data.get("token"), data.get("password"),
                                         client=client_address(request))
    return web.Response(status=204)


@routes.post("/v1/tokens")
async def create_token(request: web.Request) -> web.Response:
    data = await read_json(request)
    member = await request.app[MEMBERS].sign_in(
        data.get("username"), data.get("password"), client_address(request), door="API")
    # A member with a second factor gives it too: a code, or a recovery code.
    await request.app[FACTORS].confirm(member.id, code=data.get("second_factor"))
    token, secret = await request.app[TOKENS].issue(
        member.id, name=data.get("name"), scopes=data.get("scopes"),
        expires_in=data.get("expires_in"), signed_in=True)
    return web.json_response(token_json(token) | {"token": secret}, status=201)


@routes.get("/v1/tokens")
async def list_tokens(request: web.Request) -> web.Response:
    who = await caller(request, "account:manage")
    tokens = await request.app[TOKENS].list(who.member_id)
    return web.json_response({"tokens": [token_json(t) for t in tokens]})


@routes.delete("/v1/tokens/{id}")
async def revoke_token(request: web.Request) -> web.Response:
    who = await caller(request)
    if request.match_info["id"] != who.token_id:  # any token may revoke itself
        who.require("account:manage")
    await request.app[TOKENS].revoke(who.member_id, request.match_info["id"])
    return web.Response(status=204)


@routes.get("/v1/me")
async def me(request: web.Request) -> web.Response:
    who = await caller(request)
    return web.json_response(profile_json(await request.app[MEMBERS].profile(who.member_id)))


@routes.delete("/v1/me")
async def delete_me(request: web.Request) -> web.Response:
    """The caller's account deleted for good: their password and second factor say so."""
    who = await caller(request, "account:manage")
    data = await read_json(request)
    # The root app holds it (config_dict looks there), as for the settings' own form.
    await request.config_dict[ERASURE].erase(who.member_id, password=data.get("password"),
                                             second_factor=data.get("second_factor"),
                                             client=client_address(request))
    return web.Response(status=204)
