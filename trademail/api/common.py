"""What every handler of the JSON API shares: reading a request body, the caller behind a
bearer token, query parameters, and the JSON shape of each answer."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from aiohttp import web

from trademail.api.problems import Problem
from trademail.appkeys import (
    TOKENS,
)
from trademail.errors import AuthenticationFailed
from trademail.services.identities import Party, Profile
from trademail.services.reading import Message, Summary
from trademail.services.tokens import Caller, TokenInfo

JSON_LIMIT = 64 * 1024


def iso(ts: float | None) -> str | None:
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
            "alias": party.alias, "external": party.external, "address": party.address,
            "staff": party.staff, "account_closed": party.status == "banned",
            "former_member": party.status == "former"}


def profile_json(profile: Profile) -> dict[str, Any]:
    return {
        "id": profile.id, "username": profile.username, "company": profile.company,
        "country": profile.country, "email_masked": profile.email_masked,
        "email_confirmed": profile.email_confirmed, "notify": profile.notify,
        "created_at": iso(profile.created_at), "tier": profile.tier,
        "status": profile.status, "status_reason": profile.status_reason,
        "aliases": [{"address": a.address, "enabled": a.enabled} for a in profile.aliases],
    }


def token_json(token: TokenInfo) -> dict[str, Any]:
    return {"id": token.id, "name": token.name, "scopes": list(token.scopes),
            "created_at": iso(token.created_at), "expires_at": iso(token.expires_at),
            "last_used_at": iso(token.last_used_at)}


def summary_json(m: Summary) -> dict[str, Any]:
    return {
        "id": m.id, "thread_id": m.thread_id, "in_reply_to": m.in_reply_to,
        "folder": m.folder, "unread": m.unread, "from": party_json(m.sender),
        "to": [party_json(p) for p in m.recipients], "subject": m.subject,
        "snippet": m.snippet, "created_at": iso(m.created_at),
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


def bool_param(request: web.Request, name: str) -> bool:
    value = request.query.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise Problem(422, "must be true or false", field=name)
    return value in ("true", "1")


def folder_param(request: web.Request) -> str | None:
    """The folder a listing asks for: `folder`, else the inbox; a search (`q`) without one
    looks in every folder (None)."""
    query = request.query
    return query.get("folder") or (None if "q" in query else "inbox")


def int_param(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 6:
        raise Problem(422, "must be a whole number", field=name)
    return int(value)
