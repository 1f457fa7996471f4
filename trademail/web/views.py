"""Pages of the web inbox: sign-up, sign-in, folders, messages, compose, search.

Each view parses the request, calls one service and renders; the middleware in door.py has
checked the session and the CSRF token, and turns domain errors into pages.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from trademail.appkeys import (
    CONDUCT,
    MEMBERS,
    NOTIFICATIONS,
    READING,
    SENDING,
    SESSIONS,
    UPLOADS,
    WRITING,
)
from trademail.clientaddr import client_address
from trademail.downloads import stream_file
from trademail.errors import Forbidden, NotFound, TradeMailError
from trademail.services.forwarding import forward_subject, with_forwarded
from trademail.services.messages import Draft, Upload, draft_key, recipient_list
from trademail.services.sessions import SecondStep
from trademail.services.writing import SIGNATURE_SEPARATOR
from trademail.web.factors import second_step
from trademail.web.pages import field_errors, form_status, page
from trademail.web.render import STATIC_DIR, quoted
from trademail.web.request import (
    FORM_ERRORS,
    device_cookie,
    end_session,
    public,
    read_form,
    redirect,
    safe_next,
    session_token,
    start_session,
    visit_of,
)
from trademail.web.undo import decode_filed, with_undo

routes = web.RouteTableDef()
MOST_PICKED = 100  # conversations one action in a list takes
FOLDER_TITLES = {"inbox": "Inbox", "sent": "Sent", "archive": "Archive", "trash": "Trash",
                 "spam": "Spam"}
SIGNIN_REASONS = {
    "timeout": "Your session timed out, so you were signed out to keep your mail safe. Sign in "
               "again to continue where you were.",
    "signed-out": "You have signed out.",
    "second-step": "That took too long: sign in again, and have your authenticator app or "
                   "passkey ready.",
    "password-reset": "Your new password is set. Every session was signed out and every API "
                      "token revoked: sign in with the new password.",
}
# Kept when a sign-up is refused: what the person typed, shown back to them alone (never
# the password).
SIGNUP_FIELDS = ("username", "email", "company", "country")


def _text(form: MultiDictProxy[Any], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


# ---------------------------------------------------------------- signing in and out


@routes.get("/")
@public
async def home(request: web.Request) -> web.Response:
    """A member's inbox; for a visitor, what TradeMail is (no form, so no cookie)."""
    if session_token(request):
        return redirect("/inbox")
    return await page(request, "landing.html")


@routes.get("/favicon.ico")
@public
async def favicon(request: web.Request) -> web.Response:
    return web.Response(body=(STATIC_DIR / "favicon.svg").read_bytes(),
                        content_type="image/svg+xml",
                        headers={"Cache-Control": "public, max-age=86400"})


@routes.get("/signin")
@public
async def signin_form(request: web.Request) -> web.Response:
    reason = request.query.get("reason", "")
    return await page(request, "signin.html", {
        "next": safe_next(request.query.get("next")), "values": {},
        "reason": SIGNIN_REASONS.get(reason), "reason_key": reason})


@routes.post("/signin")
@public
async def signin(request: web.Request) -> web.Response:
    form = await read_form(request)
    next_path = safe_next(form.get("next"))
    try:
        started = await request.app[SESSIONS].sign_in(
            form.get("username"), form.get("password"), client=client_address(request),
            user_agent=request.headers.get("User-Agent", ""), replacing=session_token(request),
            device=device_cookie(request))
    except FORM_ERRORS as exc:
        return await page(request, "signin.html", {
            "next": next_path, "values": {"username": _text(form, "username")},
            "errors": field_errors(exc)}, status=form_status(exc))
    if isinstance(started, SecondStep):
        return second_step(request, started, next_path)
    response = redirect(next_path)
    start_session(request, response, started)
    return response


@routes.get("/signup")
@public
async def signup_form(request: web.Request) -> web.Response:
    return await page(request, "signup.html", {"values": {}})


@routes.post("/signup")
@public
async def signup(request: web.Request) -> web.Response:
    form = await read_form(request)
    try:
        started = await request.app[SESSIONS].sign_up(
            username=form.get("username"), password=form.get("password"),
            email=form.get("email"), company=form.get("company"), country=form.get("country"),
            user_agent=request.headers.get("User-Agent", ""), client=client_address(request))
    except FORM_ERRORS as exc:
        return await page(request, "signup.html", {
            "values": {f: _text(form, f) for f in SIGNUP_FIELDS},
            "errors": field_errors(exc)}, status=form_status(exc))
    response = redirect("/inbox", "welcome", request=request)
    start_session(request, response, started)
    return response


@routes.post("/signout")
async def signout(request: web.Request) -> web.Response:
    await request.app[SESSIONS].sign_out(session_token(request) or "")
    # Said in the address, not in a cookie: the sign-in page sets none but its form's.
    response = redirect("/signin?reason=signed-out")
    end_session(request, response)
    return response


# ---------------------------------------------------------------- folders and search


@routes.get("/{folder:inbox|sent|archive|trash|spam}")
async def folder(request: web.Request) -> web.Response:
    name, member_id = request.match_info["folder"], visit_of(request).member_id
    listing = await request.app[READING].conversations(
        member_id, folder=name, cursor=request.query.get("cursor") or None)
    first_page = not request.query.get("cursor")
    # A new member's empty inbox says where to start, and shows the alias to share; an
    # inbox emptied by filing is no start.
    starting = (name == "inbox" and first_page and not listing.items
                and await request.app[READING].is_new(member_id))
    return await page(request, "folder.html", {
        "folder": name, "title": FOLDER_TITLES[name], "listing": listing,
        "first_page": first_page,
        "me": await request.app[MEMBERS].profile(member_id) if starting else None,
        "notifications_paused": await request.app[NOTIFICATIONS].paused_for(member_id)})


@routes.get("/search")
async def search(request: web.Request) -> web.Response:
    query = request.query.get("q", "").strip()
    listing, error = None, None
    if query:
        try:
            listing = await request.app[READING].conversations(
                visit_of(request).member_id, folder=None, query=query,
                cursor=request.query.get("cursor") or None)
        except FORM_ERRORS as exc:
            error = next(iter(field_errors(exc).values()))
    return await page(request, "search.html", {"q": query, "listing": listing, "error": error,
                                               "first_page": not request.query.get("cursor")})


# ---------------------------------------------------------------- one message and its thread


async def message_page(request: web.Request, *, status: int = 200,
                       **context: Any) -> web.Response:
    """A message in its thread; `context` carries a refused form's errors (report, block)."""
    visit = visit_of(request)
    opened, thread = await request.app[READING].conversation(visit.member_id,
                                                             request.match_info["id"])
    return await page(request, "message.html", {
        "message": opened, "thread": thread, "values": {
            "idempotency_key": draft_key(), "body": await _signed(request, "")},
        "section": "", "errors": {}, **context}, status=status)


@routes.get("/messages/{id}")
async def message(request: web.Request) -> web.Response:
    return await message_page(request)


@routes.post("/messages/{id}/file")
async def file_message(request: web.Request) -> web.Response:
    form = await read_form(request)
    folder = _text(form, "folder") or None
    unread = True if form.get("unread") == "true" else None
    await request.app[READING].file(visit_of(request).member_id, request.match_info["id"],
                                    folder=folder, unread=unread)
    notice = folder if folder in ("archive", "inbox") else "trashed" if folder else "unread"
    back = safe_next(form.get("back"), "/inbox")
    return redirect(back, "archived" if notice == "archive" else notice, request=request)


@routes.post("/threads/{id}/file")
async def file_thread(request: web.Request) -> web.Response:
    """A whole conversation archived, trashed, moved back or marked, from its page."""
    form = await read_form(request)
    return await _file_threads(request, form, [request.match_info["id"]])


@routes.post("/threads/file")
async def file_threads(request: web.Request) -> web.Response:
    """The conversations picked in a list, filed at once."""
    form = await read_form(request)
    picked = [t for t in form.getall("thread", []) if isinstance(t, str)]
    if not picked:
        return redirect(safe_next(form.get("back"), "/inbox"), "none-picked", request=request)
    return await _file_threads(request, form, list(dict.fromkeys(picked))[:MOST_PICKED])


async def _file_threads(request: web.Request, form: MultiDictProxy[Any],
                        thread_ids: list[str]) -> web.Response:
    """File each conversation; the page the member returns to offers to undo it all."""
    action, member_id = _text(form, "action"), visit_of(request).member_id
    filed = {}
    for thread_id in thread_ids:
        try:
            filed[thread_id] = await request.app[READING].file_thread(member_id, thread_id,
                                                                      action)
        except NotFound:
            if len(thread_ids) == 1:
                raise
            continue  # picked in a page that is out of date: gone meanwhile
    return redirect(with_undo(safe_next(form.get("back"), "/inbox"), action, filed))


@routes.post("/threads/restore")
async def restore_threads(request: web.Request) -> web.Response:
    form = await read_form(request)
    member_id = visit_of(request).member_id
    for thread_id, filed in decode_filed(_text(form, "was")).items():
        await request.app[READING].restore(member_id, thread_id, filed)
    return redirect(safe_next(form.get("back"), "/inbox"), "restored", request=request)


@routes.post("/messages/{id}/delete")
async def delete_message(request: web.Request) -> web.Response:
    await request.app[READING].delete(visit_of(request).member_id, request.match_info["id"])
    return redirect("/trash", "deleted", request=request)


@routes.get("/messages/{id}/attachments/{n:[0-9]{1,3}}")
async def attachment(request: web.Request) -> web.StreamResponse:
    info, chunks = await request.app[READING].attachment_stream(
        visit_of(request).member_id, request.match_info["id"], int(request.match_info["n"]))
    return await stream_file(request, info, chunks)


async def _staged(request: web.Request, files: list[web.FileField]) -> tuple[Upload, ...]:
    """The form's files (aiohttp keeps each in a temporary file), sealed and stored a chunk
    at a time, never read whole."""
    staged: list[Upload] = []
    try:
        for n, f in enumerate(files, start=1):
            streamed = await request.app[UPLOADS].stage(
                visit_of(request).member_id, _file_pieces(f), field=f"attachments[{n}]")
            staged.append(Upload(f.filename, f.content_type or "application/octet-stream",
                                 streamed=streamed))
    except BaseException:
        await asyncio.shield(request.app[UPLOADS].discard_all(staged))
        raise
    return tuple(staged)


async def _file_pieces(field: web.FileField) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    while piece := await loop.run_in_executor(None, field.file.read, 256 * 1024):
        yield piece


# ---------------------------------------------------------------- compose and reply


@routes.get("/compose")
async def compose_form(request: web.Request) -> web.Response:
    member_id, query = visit_of(request).member_id, request.query
    values = {"to": query.get("to", ""), "subject": query.get("subject", ""), "body": "",
              "idempotency_key": draft_key(), "draft_id": ""}
    reply_to, forward = query.get("reply_to"), query.get("forward")
    if query.get("draft"):
        saved = await request.app[WRITING].draft(member_id, query["draft"])
        values.update(to=saved.to, subject=saved.subject, body=saved.body, draft_id=saved.id)
        reply_to, forward = saved.in_reply_to, saved.forward_of
    else:
        values["body"] = await _signed(request, "")
    parent, forwarding = None, None
    with contextlib.suppress(NotFound):  # what a draft answers or forwards may be gone
        parent = await request.app[READING].read(member_id, reply_to,
                                                 mark_read=False) if reply_to else None
        forwarding = await request.app[READING].read(member_id, forward,
                                                     mark_read=False) if forward else None
    if forwarding and not values["subject"]:
        values["subject"] = forward_subject(forwarding.subject)
    return await page(request, "compose.html", {
        "parent": parent, "forwarding": forwarding, "values": values,
        "people": await _people(request)})


async def _signed(request: web.Request, body: str) -> str:
    """A new message's text with the member's signature below it, if they have one."""
    signature = await request.app[WRITING].signature(visit_of(request).member_id)
    return f"{body}{SIGNATURE_SEPARATOR}{signature}" if signature else body


async def _compose_again(request: web.Request, form: MultiDictProxy[Any],
                         exc: TradeMailError, reply_to: str | None, forward: str | None,
                         dropped_files: int) -> web.Response:
    """The compose page again, as it was sent, with what was wrong next to each field."""
    member_id, reading = visit_of(request).member_id, request.app[READING]
    parent, forwarding = None, None
    with contextlib.suppress(NotFound):  # what it answered or forwarded may be gone
        parent = await reading.read(member_id, reply_to, mark_read=False) if reply_to else None
        forwarding = await reading.read(member_id, forward,
                                        mark_read=False) if forward else None
    return await page(request, "compose.html", {
        "parent": parent, "forwarding": forwarding, "errors": field_errors(exc),
        "dropped_files": dropped_files,
        "values": {k: _text(form, k) for k in ("to", "subject", "body", "idempotency_key",
                                                "draft_id")},
        "people": await _people(request)}, status=form_status(exc))


async def _save_draft(request: web.Request, form: MultiDictProxy[Any], reply_to: str | None,
                      forward: str | None, dropped_files: int) -> web.Response:
    """Keep the compose form as a draft on the server (its files are not kept)."""
    try:
        await request.app[WRITING].save_draft(
            visit_of(request).member_id, _text(form, "draft_id") or None,
            to=_text(form, "to"), subject=_text(form, "subject"), body=_text(form, "body"),
            in_reply_to=reply_to, forward_of=forward)
    except FORM_ERRORS as exc:
        return await _compose_again(request, form, exc, reply_to, forward, dropped_files)
    return redirect("/drafts", "draft-saved", request=request)


async def _people(request: web.Request) -> list[tuple[str, str]]:
    """Whom the recipient field suggests: the members this one has written with."""
    return await request.app[CONDUCT].people_written_with(visit_of(request).member_id)


@routes.post("/compose")
async def compose(request: web.Request) -> web.Response:
    visit, form = visit_of(request), await read_form(request)
    files = [f for f in form.getall("attachments", []) if isinstance(f, web.FileField)
             and f.filename]
    reply_to = _text(form, "in_reply_to") or None
    forward = _text(form, "forward_of") or None
    body = _text(form, "body")
    if form.get("action") == "save-draft":
        return await _save_draft(request, form, reply_to, forward, len(files))
    staged: tuple[Upload, ...] = ()
    try:
        if reply_to and form.get("quote") == "1":
            body += quoted(await request.app[READING].read(visit.member_id, reply_to,
                                                           mark_read=False))
        staged = await _staged(request, files)
        draft = await with_forwarded(request.app[READING], visit.member_id, Draft(
            recipient_list(_text(form, "to")) if not reply_to else (),
            _text(form, "subject"), body, staged,
            in_reply_to=reply_to, idempotency_key=_text(form, "idempotency_key") or None,
            reply_all=form.get("reply_all") == "1", forward_of=forward))
        sent = await request.app[SENDING].send(visit.member_id, draft)
    except (*FORM_ERRORS, Forbidden) as exc:  # Forbidden: a Restricted member's new thread
        await request.app[UPLOADS].discard_all(staged)  # not sent: its files go
        return await _compose_again(request, form, exc, reply_to, forward, len(files))
    if _text(form, "draft_id"):
        with contextlib.suppress(NotFound):  # sent: the draft has done its work
            await request.app[WRITING].delete_draft(visit.member_id, _text(form, "draft_id"))
    return redirect(f"/messages/{sent.id}" if reply_to else "/sent", "sent", request=request)

