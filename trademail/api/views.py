"""The JSON message API, /api/v1: thin handlers that parse, call one service, render."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from trademail.api.problems import Problem
from trademail.appkeys import (
    CONFIG,
    HEALTH,
    MEMBERS,
    READING,
    RECOVERY,
    SENDING,
    SIGNUP,
    TOKENS,
    WEBHOOKS,
)
from trademail.clientaddr import client_address
from trademail.errors import AuthenticationFailed, InvalidInput
from trademail.services.members import Party, Profile
from trademail.services.messages import Draft, Upload, recipient_list
from trademail.services.reading import Message, Summary
from trademail.services.tokens import Caller, TokenInfo
from trademail.services.webhooks import Endpoint

routes = web.RouteTableDef()
JSON_LIMIT = 64 * 1024
SEND_FIELDS = ("to", "subject", "body", "in_reply_to")  # the text parts of a multipart send
RESET_REQUESTED = ("If an account matches, a link to reset its password was mailed to the "
                   "account's address.")


# ---------------------------------------------------------------- parsing and rendering


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


async def read_at_most(request: web.Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes `limit` (declared length or not)."""
    if request.content_length is not None and request.content_length > limit:
        raise Problem(413, f"the request body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            raise Problem(413, f"the request body is larger than {limit} bytes")
    return bytes(body)


async def read_json(request: web.Request, limit: int = JSON_LIMIT) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise Problem(415, "send the request body as application/json")
    raw = await read_at_most(request, limit)
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise Problem(400, "the request body is not valid UTF-8") from None
    except (ValueError, RecursionError):  # JSONDecodeError, and ints past Python's digit limit
        raise Problem(400, "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise Problem(400, "the request body must be a JSON object")
    return data


async def caller(request: web.Request, scope: str | None = None) -> Caller:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise AuthenticationFailed("send Authorization: Bearer tm_… with an API token")
    who = await request.app[TOKENS].authenticate(secret.strip())
    if scope:
        who.require(scope)
    return who


def party_json(party: Party) -> dict[str, Any]:
    return {"username": party.username, "company": party.company, "country": party.country,
            "alias": party.alias, "external": party.external}


def profile_json(profile: Profile) -> dict[str, Any]:
    return {
        "id": profile.id, "username": profile.username, "company": profile.company,
        "country": profile.country, "email_masked": profile.email_masked,
        "email_confirmed": profile.email_confirmed, "notify": profile.notify,
        "created_at": _iso(profile.created_at),
        "aliases": [{"address": a.address, "enabled": a.enabled} for a in profile.aliases],
    }


def token_json(token: TokenInfo) -> dict[str, Any]:
    return {"id": token.id, "name": token.name, "scopes": list(token.scopes),
            "created_at": _iso(token.created_at), "expires_at": _iso(token.expires_at),
            "last_used_at": _iso(token.last_used_at)}


def summary_json(m: Summary) -> dict[str, Any]:
    return {
        "id": m.id, "thread_id": m.thread_id, "in_reply_to": m.in_reply_to,
        "folder": m.folder, "unread": m.unread, "from": party_json(m.sender),
        "to": [party_json(p) for p in m.recipients], "subject": m.subject,
        "snippet": m.snippet, "created_at": _iso(m.created_at),
        "attachment_count": m.attachment_count,
    }


def message_json(m: Message) -> dict[str, Any]:
    return summary_json(m) | {
        "body": m.body,
        "attachments": [{"n": a.n, "filename": a.filename, "content_type": a.content_type,
                         "size": a.size,
                         "url": f"/api/v1/messages/{m.id}/attachments/{a.n}"}
                        for a in m.attachments],
    }


def _bool_param(request: web.Request, name: str) -> bool:
    value = request.query.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise Problem(422, "must be true or false", field=name)
    return value in ("true", "1")


def _int_param(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 6:
        raise Problem(422, "must be a whole number", field=name)
    return int(value)


# ---------------------------------------------------------------- members and tokens


@routes.post("/api/v1/members")
async def register(request: web.Request) -> web.Response:
    data = await read_json(request)
    profile = await request.app[SIGNUP].register(
        username=data.get("username"), password=data.get("password"), email=data.get("email"),
        company=data.get("company"), country=data.get("country"),
        client=client_address(request))
    return web.json_response(profile_json(profile), status=201,
                             headers={"Location": "/api/v1/me"})


@routes.post("/api/v1/members/confirm")
async def confirm_address(request: web.Request) -> web.Response:
    data = await read_json(request)
    await request.app[SIGNUP].confirm(data.get("token"))
    return web.Response(status=204)


@routes.post("/api/v1/me/confirmation")
async def resend_confirmation(request: web.Request) -> web.Response:
    who = await caller(request, "account:manage")
    masked = await request.app[SIGNUP].resend(who.member_id)
    return web.json_response({"sent_to": masked}, status=202)


@routes.post("/api/v1/password-resets")
async def request_password_reset(request: web.Request) -> web.Response:
    data = await read_json(request)
    account = data.get("account", data.get("username", data.get("email")))
    await request.app[RECOVERY].request(account, client=client_address(request))
    return web.json_response({"detail": RESET_REQUESTED}, status=202)


@routes.post("/api/v1/password-resets/complete")
async def complete_password_reset(request: web.Request) -> web.Response:
    data = await read_json(request)
    await request.app[RECOVERY].complete(data.get("token"), data.get("password"),
                                         client=client_address(request))
    return web.Response(status=204)


@routes.post("/api/v1/tokens")
async def create_token(request: web.Request) -> web.Response:
    data = await read_json(request)
    member = await request.app[MEMBERS].sign_in(
        data.get("username"), data.get("password"), client_address(request))
    token, secret = await request.app[TOKENS].issue(
        member.id, name=data.get("name"), scopes=data.get("scopes"),
        expires_in=data.get("expires_in"))
    return web.json_response(token_json(token) | {"token": secret}, status=201)


@routes.get("/api/v1/tokens")
async def list_tokens(request: web.Request) -> web.Response:
    who = await caller(request, "account:manage")
    tokens = await request.app[TOKENS].list(who.member_id)
    return web.json_response({"tokens": [token_json(t) for t in tokens]})


@routes.delete("/api/v1/tokens/{id}")
async def revoke_token(request: web.Request) -> web.Response:
    who = await caller(request)
    if request.match_info["id"] != who.token_id:  # any token may revoke itself
        who.require("account:manage")
    await request.app[TOKENS].revoke(who.member_id, request.match_info["id"])
    return web.Response(status=204)


@routes.get("/api/v1/me")
async def me(request: web.Request) -> web.Response:
    who = await caller(request)
    return web.json_response(profile_json(await request.app[MEMBERS].profile(who.member_id)))


# ---------------------------------------------------------------- messages


async def _read_part(part: BodyPartReader, limit: int, field: str) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(64 * 1024):
        data += chunk
        if len(data) > limit:
            raise Problem(413, f"larger than {limit} bytes", field=field)
    return bytes(part.decode(bytes(data)))


async def _read_multipart(request: web.Request) -> tuple[dict[str, Any], list[Upload]]:
    try:
        return await _parse_multipart(request)
    except (ValueError, RuntimeError, AssertionError, HttpProcessingError):
        # aiohttp's reader on a missing boundary, a truncated body, bad part headers
        raise Problem(400, "the multipart/form-data body is malformed") from None


async def _parse_multipart(request: web.Request) -> tuple[dict[str, Any], list[Upload]]:
    """Form fields (`to` may repeat) and file parts of a multipart/form-data send."""
    limits = request.app[CONFIG].messages
    fields: dict[str, Any] = {}
    uploads: list[Upload] = []
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise Problem(400, "nested multipart bodies are not accepted")
        if part.filename is not None:
            if len(uploads) >= limits.max_attachments:
                raise Problem(422, f"at most {limits.max_attachments} allowed",
                              field="attachments")
            data = await _read_part(part, limits.max_attachment_bytes,
                                    f"attachments[{len(uploads) + 1}]")
            content_type = part.headers.get("Content-Type", "application/octet-stream")
            uploads.append(Upload(part.filename, content_type, data))
            continue
        if part.name not in SEND_FIELDS or (part.name in fields and part.name != "to"):
            raise Problem(422, "is not a field of a message, or is given twice",
                          field=part.name or "field")
        if len(fields.get("to", ())) >= limits.max_recipients:
            raise Problem(422, f"at most {limits.max_recipients} recipients", field="to")
        raw = await _read_part(part, limits.max_body_bytes, part.name)
        try:
            value = raw.decode(part.get_charset("utf-8"))
        except (UnicodeDecodeError, LookupError):
            raise Problem(400, "is not valid text", field=part.name) from None
        if part.name == "to":
            fields.setdefault("to", []).append(value)
        else:
            fields[part.name] = value
    return fields, uploads


def _draft(data: dict[str, Any], uploads: list[Upload], key: str | None) -> Draft:
    """A send request as the typed draft the service takes; a field of the wrong type is
    named in the problem."""
    to = data.get("to")
    if isinstance(to, str):
        to = list(recipient_list(to))
    if not (to is None or (isinstance(to, list) and all(isinstance(t, str) for t in to))):
        raise InvalidInput.one("to", "must be a list of usernames or aliases")
    in_reply_to = data.get("in_reply_to") or None
    if in_reply_to is not None and not isinstance(in_reply_to, str):
        raise InvalidInput.one("in_reply_to", "must be a message id")
    subject, body = data.get("subject", ""), data.get("body")
    for name, value in (("subject", subject), ("body", body)):
        if not isinstance(value, str):
            raise InvalidInput.one(name, "must be a string")
    assert isinstance(subject, str) and isinstance(body, str)
    return Draft(tuple(to or ()), subject, body, tuple(uploads), in_reply_to=in_reply_to,
                 idempotency_key=key)


@routes.post("/api/v1/messages")
async def send(request: web.Request) -> web.Response:
    who = await caller(request, "messages:send")
    if request.content_type == "multipart/form-data":
        data, uploads = await _read_multipart(request)
    else:
        data = await read_json(request, limit=6 * request.app[CONFIG].messages.max_body_bytes
                               + JSON_LIMIT)
        uploads = []
    sent = await request.app[SENDING].send(who.member_id, _draft(
        data, uploads, request.headers.get("Idempotency-Key")))
    headers = {"Location": f"/api/v1/messages/{sent.id}"}
    if sent.replayed:
        headers["Idempotent-Replayed"] = "true"
    return web.json_response({"id": sent.id, "thread_id": sent.thread_id}, status=201,
                             headers=headers)


@routes.get("/api/v1/messages")
async def list_messages(request: web.Request) -> web.Response:
    who = await caller(request, "messages:read")
    query = request.query
    page = await request.app[READING].page(
        who.member_id, folder=query.get("folder") or (None if "q" in query else "inbox"),
        unread_only=_bool_param(request, "unread"), query=query.get("q"),
        cursor=query.get("cursor") or None, limit=_int_param(request, "limit"))
    return web.json_response({"messages": [summary_json(m) for m in page.items],
                              "next_cursor": page.next_cursor})


@routes.get("/api/v1/messages/{id}")
async def read_message(request: web.Request) -> web.Response:
    who = await caller(request, "messages:read")
    message = await request.app[READING].read(who.member_id, request.match_info["id"])
    return web.json_response(message_json(message))


@routes.patch("/api/v1/messages/{id}")
async def file_message(request: web.Request) -> web.Response:
    who = await caller(request, "messages:write")
    data = await read_json(request)
    message = await request.app[READING].file(
        who.member_id, request.match_info["id"], folder=data.get("folder"),
        unread=data.get("unread"))
    return web.json_response(message_json(message))


@routes.delete("/api/v1/messages/{id}")
async def delete_message(request: web.Request) -> web.Response:
    who = await caller(request, "messages:write")
    await request.app[READING].delete(who.member_id, request.match_info["id"])
    return web.Response(status=204)


@routes.get("/api/v1/messages/{id}/attachments/{n:[0-9]{1,3}}")
async def attachment(request: web.Request) -> web.Response:
    who = await caller(request, "messages:read")
    info, data = await request.app[READING].attachment(
        who.member_id, request.match_info["id"], int(request.match_info["n"]))
    return web.Response(body=data, headers={
        "Content-Type": info.content_type if "/" in info.content_type
        else "application/octet-stream",
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(info.filename, safe='')}",
        "Content-Security-Policy": "sandbox; default-src 'none'",
    })


@routes.get("/api/v1/threads/{id}")
async def thread(request: web.Request) -> web.Response:
    who = await caller(request, "messages:read")
    messages = await request.app[READING].thread(who.member_id, request.match_info["id"])
    return web.json_response({"thread_id": request.match_info["id"],
                              "messages": [message_json(m) for m in messages]})


# ---------------------------------------------------------------- webhooks


def webhook_json(hook: Endpoint) -> dict[str, Any]:
    return {"id": hook.id, "url": hook.url, "created_at": _iso(hook.created_at)}


@routes.post("/api/v1/webhooks")
async def create_webhook(request: web.Request) -> web.Response:
    who = await caller(request, "account:manage")
    data = await read_json(request)
    hook, secret = await request.app[WEBHOOKS].register(who.member_id, url=data.get("url"))
    return web.json_response(webhook_json(hook) | {"secret": secret}, status=201)


@routes.get("/api/v1/webhooks")
async def list_webhooks(request: web.Request) -> web.Response:
    who = await caller(request, "account:manage")
    hooks = await request.app[WEBHOOKS].endpoints(who.member_id)
    return web.json_response({"webhooks": [webhook_json(h) for h in hooks]})


@routes.delete("/api/v1/webhooks/{id}")
async def delete_webhook(request: web.Request) -> web.Response:
    who = await caller(request, "account:manage")
    await request.app[WEBHOOKS].delete(who.member_id, request.match_info["id"])
    return web.Response(status=204)


# ---------------------------------------------------------------- service


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    await request.app[HEALTH].check()
    return web.json_response({"status": "ok"})
