"""Messages through the API: send (JSON or multipart), list and search, read, file,
delete, download an attachment, read a thread."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from trademail.api.common import (
    JSON_LIMIT,
    bool_param,
    caller,
    folder_param,
    int_param,
    message_json,
    read_json,
    summary_json,
)
from trademail.api.problems import Problem
from trademail.appkeys import (
    CONFIG,
    EXPORT,
    READING,
    SENDING,
    SPAM_MARKS,
    UPLOADS,
)
from trademail.downloads import stream_export, stream_file
from trademail.errors import InvalidInput
from trademail.services.forwarding import with_forwarded
from trademail.services.messages import Draft, Upload, recipient_list

# The text parts of a multipart send.
SEND_FIELDS = ("to", "subject", "body", "in_reply_to", "reply_all", "forward_of")

routes = web.RouteTableDef()
# A file part sent with a transfer or content encoding is decoded whole: at most this.
MAX_ENCODED_FILE = 16 * 1024 * 1024


async def _read_part(part: BodyPartReader, limit: int, field: str) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(64 * 1024):
        data += chunk
        if len(data) > limit:
            raise Problem(413, f"larger than {limit} bytes", field=field)
    return bytes(part.decode(bytes(data)))


async def _file_pieces(part: BodyPartReader) -> AsyncIterator[bytes]:
    """A file part's bytes as they arrive; decoded whole only when it came with a transfer
    or content encoding (which a chunk boundary could split)."""
    if part.headers.get("Content-Transfer-Encoding") or part.headers.get("Content-Encoding"):
        data = bytearray()
        while chunk := await part.read_chunk(64 * 1024):
            data += chunk
            if len(data) > 2 * MAX_ENCODED_FILE:
                raise Problem(413, "an encoded file part is too large", field="attachments")
        yield bytes(part.decode(bytes(data)))
        return
    while chunk := await part.read_chunk(64 * 1024):
        yield chunk


async def _read_multipart(request: web.Request, member_id: str,
                          uploads: list[Upload]) -> dict[str, Any]:
    try:
        return await _parse_multipart(request, member_id, uploads)
    except (ValueError, RuntimeError, AssertionError, HttpProcessingError):
        # aiohttp's reader on a missing boundary, a truncated body, bad part headers
        raise Problem(400, "the multipart/form-data body is malformed") from None


async def _parse_multipart(request: web.Request, member_id: str,
                           uploads: list[Upload]) -> dict[str, Any]:
    """Form fields (`to` may repeat) of a multipart/form-data send, and its file parts
    added to `uploads`, each sealed and stored as it streams in, never held whole."""
    limits = request.app[CONFIG].messages
    fields: dict[str, Any] = {}
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise Problem(400, "nested multipart bodies are not accepted")
        if part.filename is not None:
            if len(uploads) >= limits.max_attachments:
                raise Problem(422, f"at most {limits.max_attachments} allowed",
                              field="attachments")
            content_type = part.headers.get("Content-Type", "application/octet-stream")
            streamed = await request.app[UPLOADS].stage(
                member_id, _file_pieces(part), field=f"attachments[{len(uploads) + 1}]")
            uploads.append(Upload(part.filename, content_type, streamed=streamed))
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
    return fields


def _draft(data: dict[str, Any], uploads: list[Upload], key: str | None) -> Draft:
    """A send request as the typed draft the service takes; a field of the wrong type is
    named in the problem."""
    to = data.get("to")
    if isinstance(to, str):
        to = list(recipient_list(to))
    if not (to is None or (isinstance(to, list) and all(isinstance(t, str) for t in to))):
        raise InvalidInput.one("to", "must be a list of usernames or aliases")
    if to is not None and not to:  # only leaving `to` out answers the other side of a reply
        raise InvalidInput.one("to", "name at least one recipient, or leave `to` out to "
                                     "answer the other side of the conversation")
    in_reply_to = data.get("in_reply_to") or None
    if in_reply_to is not None and not isinstance(in_reply_to, str):
        raise InvalidInput.one("in_reply_to", "must be a message id")
    forward_of = data.get("forward_of") or None
    if forward_of is not None and not isinstance(forward_of, str):
        raise InvalidInput.one("forward_of", "must be a message id")
    subject, body = data.get("subject", ""), data.get("body")
    for name, value in (("subject", subject), ("body", body)):
        if not isinstance(value, str):
            raise InvalidInput.one(name, "must be a string")
    assert isinstance(subject, str) and isinstance(body, str)
    reply_all = data.get("reply_all", False)
    if reply_all in ("true", "false"):  # as a multipart form sends it
        reply_all = reply_all == "true"
    if not isinstance(reply_all, bool):
        raise InvalidInput.one("reply_all", "must be true or false")
    return Draft(tuple(to or ()), subject, body, tuple(uploads), in_reply_to=in_reply_to,
                 idempotency_key=key, reply_all=reply_all, forward_of=forward_of)


@routes.post("/v1/messages")
async def send(request: web.Request) -> web.Response:
    who = await caller(request, "messages:send")
    uploads: list[Upload] = []
    try:
        if request.content_type == "multipart/form-data":
            data = await _read_multipart(request, who.member_id, uploads)
        else:
            data = await read_json(request, limit=6 * request.app[
                CONFIG].messages.max_body_bytes + JSON_LIMIT)
        draft = _draft(data, uploads, request.headers.get("Idempotency-Key"))
        if draft.forward_of is not None:  # it reads the message it forwards
            who.require("messages:read")
            draft = await with_forwarded(request.app[READING], who.member_id, draft)
    except BaseException:  # refused before it was sent: the files streamed in go
        await asyncio.shield(request.app[UPLOADS].discard_all(uploads))
        raise
    sent = await request.app[SENDING].send(who.member_id, draft)
    headers = {"Location": f"/api/v1/messages/{sent.id}"}
    if sent.replayed:
        headers["Idempotent-Replayed"] = "true"
    return web.json_response({"id": sent.id, "thread_id": sent.thread_id}, status=201,
                             headers=headers)


@routes.get("/v1/messages")
async def list_messages(request: web.Request) -> web.Response:
    who = await caller(request, "messages:read")
    query = request.query
    page = await request.app[READING].page(
        who.member_id, folder=folder_param(request),
        unread_only=bool_param(request, "unread"), query=query.get("q"),
        cursor=query.get("cursor") or None, limit=int_param(request, "limit"))
    return web.json_response({"messages": [summary_json(m) for m in page.items],
                              "next_cursor": page.next_cursor})


@routes.get("/v1/messages/{id}")
async def read_message(request: web.Request) -> web.Response:
    who = await caller(request, "messages:read")
    message = await request.app[READING].read(who.member_id, request.match_info["id"])
    return web.json_response(message_json(message))


@routes.patch("/v1/messages/{id}")
async def file_message(request: web.Request) -> web.Response:
    who = await caller(request, "messages:write")
    data = await read_json(request)
    message = await request.app[SPAM_MARKS].file(
        who.member_id, request.match_info["id"], folder=data.get("folder"),
        unread=data.get("unread"))
    return web.json_response(message_json(message))


@routes.post("/v1/messages/{id}/spam")
async def mark_spam(request: web.Request) -> web.Response:
    """A received message marked spam (to the Spam folder) or not (to the inbox); the spam
    filter learns from it."""
    who = await caller(request, "messages:write")
    spam = (await read_json(request)).get("spam")
    if not isinstance(spam, bool):
        raise InvalidInput.one("spam", "must be true or false")
    await request.app[SPAM_MARKS].mark(who.member_id, request.match_info["id"], spam=spam)
    message = await request.app[READING].read(who.member_id, request.match_info["id"],
                                              mark_read=False)
    return web.json_response(message_json(message))


@routes.delete("/v1/messages/{id}")
async def delete_message(request: web.Request) -> web.Response:
    who = await caller(request, "messages:write")
    await request.app[READING].delete(who.member_id, request.match_info["id"])
    return web.Response(status=204)


@routes.get("/v1/messages/{id}/attachments/{n:[0-9]{1,3}}")
async def attachment(request: web.Request) -> web.StreamResponse:
    who = await caller(request, "messages:read")
    info, chunks = await request.app[READING].attachment_stream(
        who.member_id, request.match_info["id"], int(request.match_info["n"]))
    return await stream_file(request, info, chunks, content_type=info.content_type
                             if "/" in info.content_type else "application/octet-stream")


@routes.get("/v1/me/mailbox.mbox")
async def export_mailbox(request: web.Request) -> web.StreamResponse:
    who = await caller(request, "messages:read")
    return await stream_export(request, request.app[EXPORT].mbox(who.member_id),
                               "trademail-mailbox.mbox", "application/mbox")


@routes.get("/v1/me/mailbox.json")
async def export_mailbox_json(request: web.Request) -> web.StreamResponse:
    who = await caller(request, "messages:read")
    return await stream_export(request, request.app[EXPORT].as_json(who.member_id),
                               "trademail-mailbox.json", "application/json")


@routes.get("/v1/threads/{id}")
async def thread(request: web.Request) -> web.Response:
    who = await caller(request, "messages:read")
    messages = await request.app[READING].thread(who.member_id, request.match_info["id"])
    return web.json_response({"thread_id": request.match_info["id"],
                              "messages": [message_json(m) for m in messages]})
