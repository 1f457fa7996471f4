"""The access control matrix as one table: every route of the app, the door it belongs to,
what it needs (nothing, a session, staff, a token scope), the kind of object its `{id}`
names and a body that passes validation; and the rule that turns (route, role, object)
into the outcome the app must give. tests/test_hostile_access.py builds the world and
checks every case through the real app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.helpers import PASSWORD

# Who asks. SESSION_ROLES hold a live web session and a token with every scope; the rest
# hold what was theirs before it stopped working (or nothing at all).
SESSION_ROLES = ("free", "premium", "restricted", "staff", "unconfirmed")
DEAD_ROLES = ("visitor", "half_signed_in", "noscope", "expired_token", "revoked_token",
              "timed_out", "banned", "erased")
ROLES = SESSION_ROLES + DEAD_ROLES
# Whose object the route's `{id}` names: the role's own, another member's, nobody's.
OBJECTS = ("own", "other", "missing")

# Outcomes: OK is any answer that is not a refusal (2xx, 3xx other than to sign-in, and
# 4xx of validation: the request got past every check of who may do it).
OK, SIGNIN, UNAUTHORIZED, FORBIDDEN, NOT_FOUND = "ok", "signin", "401", "403", "404"
# Wrong credentials in the body: refused, or slowed once they keep coming.
BAD_CREDENTIALS = "401|429"

# Doors.
PAGE, FORM, FETCH, PUBLIC, API, API_OPEN = "page", "form", "fetch", "public", "api", "api_open"

PRODUCT = {"name": "Sesame seeds", "description": "Hulled, 99% pure", "category": "agriculture"}
LEAD = {"kind": "buy", "title": "Wanted: sesame seeds", "category": "agriculture",
        "expires_in_days": 10}
DRAFT = {"to": "vera", "subject": "Draft on hold", "body": "Not yet"}


@dataclass(frozen=True)
class Route:
    """One row: `door`, what it `needs` beyond the door's own credential (a token scope,
    "staff"; None: the door's credential alone), the kind of object `{id}` (or
    `{username}`, `{n}`'s message) names, the body sent, and outcomes that differ for some
    roles when the role is admitted (`standing`: role -> outcome)."""

    door: str
    needs: str | None = None
    obj: str | None = None
    body: dict[str, Any] | None = None
    standing: dict[str, str] = field(default_factory=dict)
    # Objects a member can see that are not theirs (directory entries): "other" is OK.
    shared: bool = False
    # What the route answers once every check is passed (signing out sends to sign-in).
    admitted: str = OK
    # A token is optional, but a dead one is refused.
    optional_token: bool = False
    # Only the browser half way through signing in is let in; the rest get `refused`.
    pending: bool = False
    refused: str = SIGNIN
    # Own directory entries the directory does not show (not listed).
    unlisted_own: bool = False
    # The object is named in this field of the body, not in the path.
    body_field: str | None = None
    # The object is looked up before the standing is checked (the directory is public:
    # whether an entry exists is no secret).
    lookup_first: bool = False


# Scopes.
READ, SEND, WRITE, MANAGE, LISTINGS, DIRECTORY = (
    "messages:read", "messages:send", "messages:write", "account:manage", "listings:write",
    "directory:read")

# A restricted member may only answer; an unconfirmed one may not open contact sections.
NOT_GOOD_STANDING = {"restricted": FORBIDDEN, "unconfirmed": FORBIDDEN}

TABLE: dict[str, Route] = {
    # ------------------------------------------------------------ web: public pages
    "GET /": Route(PUBLIC),
    "GET /favicon.ico": Route(PUBLIC),
    "GET /signin": Route(PUBLIC),
    "POST /signin": Route(PUBLIC, body={"username": "nobody", "password": "wrong"}),
    "GET /signup": Route(PUBLIC),
    "POST /signup": Route(PUBLIC, body={}),
    "GET /signup/confirm": Route(PUBLIC),
    "POST /signup/confirm": Route(PUBLIC, body={"token": "nope"}),
    "GET /password/forgot": Route(PUBLIC),
    "POST /password/forgot": Route(PUBLIC, body={"account": "nobody"}),
    "GET /password/reset": Route(PUBLIC),
    "POST /password/reset": Route(PUBLIC, body={"token": "nope", "password": "x"}),
    "GET /signin/verify": Route(PUBLIC, pending=True),
    "POST /signin/verify": Route(PUBLIC, body={"code": "000000"}, pending=True),
    "POST /signin/verify/passkey": Route(PUBLIC, body={}, pending=True, refused=UNAUTHORIZED),
    "GET /directory": Route(PUBLIC),
    "GET /directory/{username}": Route(PUBLIC, obj="member", shared=True, unlisted_own=True),
    # ------------------------------------------------------------ web: the mailbox
    "POST /signout": Route(FORM, admitted=SIGNIN),
    "GET /{folder}": Route(PAGE),
    "GET /search": Route(PAGE),
    "GET /messages/{id}": Route(PAGE, obj="message"),
    "POST /messages/{id}/file": Route(FORM, obj="message", body={"folder": "archive"}),
    "POST /threads/{id}/file": Route(FORM, obj="thread", body={"action": "archive"}),
    "POST /threads/file": Route(FORM, body={"action": "archive"}),
    "POST /threads/restore": Route(FORM, body={}),
    "POST /messages/{id}/delete": Route(FORM, obj="message"),
    "GET /messages/{id}/attachments/{n}": Route(PAGE, obj="attachment"),
    "GET /compose": Route(PAGE),
    "POST /compose": Route(FORM, body={}),
    "GET /drafts": Route(PAGE),
    "POST /drafts/{id}/delete": Route(FORM, obj="draft"),
    "GET /settings/signature": Route(PAGE),
    "POST /settings/signature": Route(FORM, body={"signature": "Regards"}),
    "POST /messages/{id}/report": Route(FORM, obj="message", body={"reason": "spam offer"}),
    "POST /messages/{id}/spam": Route(FORM, obj="message"),
    "POST /messages/{id}/not-spam": Route(FORM, obj="message"),
    "POST /messages/{id}/block": Route(FORM, obj="message", body={"mode": "refuse"}),
    "GET /export/mailbox.mbox": Route(PAGE),
    "GET /export/mailbox.json": Route(PAGE),
    "GET /events": Route(FETCH),
    "POST /session/keepalive": Route(FETCH),
    # ------------------------------------------------------------ web: settings
    "GET /settings/two-step": Route(PAGE),
    "POST /settings/totp": Route(FORM, body={}),
    "POST /settings/passkeys/options": Route(FORM, body={}),
    "POST /settings/passkeys": Route(FORM, body={}),
    "POST /settings/factors/{id}/remove": Route(FORM, obj="factor",
                                                body={"password": PASSWORD}),
    "POST /settings/recovery-codes": Route(FORM, body={}),
    "GET /settings/activity": Route(PAGE),
    "GET /settings": Route(PAGE),
    "GET /settings/{section}": Route(PAGE),
    "POST /settings/password": Route(FORM, body={}),
    "POST /settings/email": Route(FORM, body={}),
    "POST /settings/email/cancel": Route(FORM, body={}),
    "GET /settings/email/confirm": Route(PAGE),
    "POST /settings/email/confirm": Route(FORM, body={"token": "nope"}),
    "POST /settings/aliases": Route(FORM, obj="alias", body_field="address",
                                    body={"enabled": "false"}),
    "POST /settings/aliases/new": Route(FORM, body={}),
    "POST /settings/notify": Route(FORM, body={}),
    "POST /settings/tokens": Route(FORM, body={}),
    "POST /settings/tokens/{id}/revoke": Route(FORM, obj="token"),
    "POST /settings/sessions/{id}/end": Route(FORM, obj="session"),
    "POST /settings/sessions/end-others": Route(FORM),
    "POST /settings/delete": Route(FORM, body={}),
    "POST /settings/confirmation": Route(FORM),
    "POST /settings/blocks": Route(FORM, body={}),
    "POST /settings/blocks/{id}/remove": Route(FORM, obj="block"),
    # ------------------------------------------------------------ web: listings, directory
    "POST /directory/{username}/contact": Route(FORM, obj="member", shared=True,
                                                standing=NOT_GOOD_STANDING,
                                                unlisted_own=True, lookup_first=True),
    "GET /listings": Route(PAGE),
    "POST /listings/profile": Route(FORM, body={}),
    "POST /listings/products/{id}": Route(FORM, obj="product", body=PRODUCT),
    "POST /listings/products": Route(FORM, body={}),
    "POST /listings/leads/{id}": Route(FORM, obj="lead",
                                       body={**LEAD, "expires_in_days": "10"}),
    "POST /listings/leads": Route(FORM, body={}),
    "POST /listings/products/{id}/delete": Route(FORM, obj="product"),
    "POST /listings/leads/{id}/delete": Route(FORM, obj="lead"),
    # ------------------------------------------------------------ web: the staff console
    "GET /staff": Route(PAGE, needs="staff"),
    "POST /staff/search": Route(FORM, needs="staff", body={"q": "vera"}),
    "POST /staff/flags/{id}/dismiss": Route(FORM, needs="staff", obj="flag"),
    "GET /staff/members/{id}": Route(PAGE, needs="staff", obj="member_id"),
    "POST /staff/members/{id}/status": Route(FORM, needs="staff", obj="member_id",
                                             body={"status": "active", "reason": "checked"}),
    "POST /staff/members/{id}/tier": Route(FORM, needs="staff", obj="member_id",
                                           body={"tier": "free", "reason": "checked"}),
    "GET /staff/audit": Route(PAGE, needs="staff"),
    "GET /staff/viewers": Route(PAGE, needs="staff"),
    "GET /staff/reports": Route(PAGE, needs="staff"),
    "GET /staff/reports/{id}": Route(PAGE, needs="staff", obj="report"),
    "POST /staff/reports/{id}/close": Route(FORM, needs="staff", obj="report",
                                            body={"outcome": "looked into"}),
    # ------------------------------------------------------------ API: accounts
    "POST /api/v1/members": Route(API_OPEN, body={}),
    "POST /api/v1/members/confirm": Route(API_OPEN, body={"token": "nope"}),
    "POST /api/v1/me/confirmation": Route(API, MANAGE),
    "POST /api/v1/password-resets": Route(API_OPEN, body={"account": "nobody"}),
    "POST /api/v1/password-resets/complete": Route(API_OPEN, body={"token": "x"}),
    "POST /api/v1/tokens": Route(API_OPEN, body={"username": "nobody", "password": "wrong"},
                                 admitted=BAD_CREDENTIALS),
    "GET /api/v1/tokens": Route(API, MANAGE),
    "DELETE /api/v1/tokens/{id}": Route(API, MANAGE, obj="token"),
    "GET /api/v1/me": Route(API),
    "DELETE /api/v1/me": Route(API, MANAGE, body={}),
    "GET /api/v1/me/audit": Route(API, MANAGE),
    # ------------------------------------------------------------ API: mail
    "POST /api/v1/messages": Route(API, SEND, body={}),
    "GET /api/v1/messages": Route(API, READ),
    "GET /api/v1/messages/{id}": Route(API, READ, obj="message"),
    "PATCH /api/v1/messages/{id}": Route(API, WRITE, obj="message", body={"folder": "archive"}),
    "DELETE /api/v1/messages/{id}": Route(API, WRITE, obj="message"),
    "GET /api/v1/messages/{id}/attachments/{n}": Route(API, READ, obj="attachment"),
    "GET /api/v1/me/mailbox.mbox": Route(API, READ),
    "GET /api/v1/me/mailbox.json": Route(API, READ),
    "GET /api/v1/threads/{id}": Route(API, READ, obj="thread"),
    "GET /api/v1/conversations": Route(API, READ),
    "POST /api/v1/conversations/{id}/file": Route(API, WRITE, obj="thread",
                                                  body={"action": "archive"}),
    "POST /api/v1/conversations/{id}/restore": Route(API, WRITE, obj="thread", body={
        "undo": [{"message_id": "0" * 32, "folder": "inbox", "unread": False}]}),
    "POST /api/v1/messages/{id}/report": Route(API, WRITE, obj="message",
                                               body={"reason": "spam offer"}),
    "POST /api/v1/messages/{id}/spam": Route(API, WRITE, obj="message", body={"spam": True}),
    "GET /api/v1/me/signature": Route(API, READ),
    "PUT /api/v1/me/signature": Route(API, MANAGE, body={"signature": "Regards"}),
    "GET /api/v1/drafts": Route(API, READ),
    "POST /api/v1/drafts": Route(API, SEND, body={}),
    "GET /api/v1/drafts/{id}": Route(API, READ, obj="draft"),
    "PUT /api/v1/drafts/{id}": Route(API, SEND, obj="draft", body=DRAFT),
    "DELETE /api/v1/drafts/{id}": Route(API, SEND, obj="draft"),
    # ------------------------------------------------------------ API: webhooks, blocks
    "POST /api/v1/webhooks": Route(API, MANAGE, body={}),
    "GET /api/v1/webhooks": Route(API, MANAGE),
    "DELETE /api/v1/webhooks/{id}": Route(API, MANAGE, obj="webhook"),
    "GET /api/v1/me/blocks": Route(API, MANAGE),
    "POST /api/v1/me/blocks": Route(API, MANAGE, body={}),
    "DELETE /api/v1/me/blocks/{id}": Route(API, MANAGE, obj="block"),
    # ------------------------------------------------------------ API: listings, directory
    "GET /api/v1/me/profile": Route(API, LISTINGS),
    "PUT /api/v1/me/profile": Route(API, LISTINGS, body={"about": "We trade sesame."}),
    "GET /api/v1/me/products": Route(API, LISTINGS),
    "POST /api/v1/me/products": Route(API, LISTINGS, body={}),
    "PUT /api/v1/me/products/{id}": Route(API, LISTINGS, obj="product", body=PRODUCT),
    "GET /api/v1/me/products/{id}": Route(API, LISTINGS, obj="product"),
    "DELETE /api/v1/me/products/{id}": Route(API, LISTINGS, obj="product"),
    "GET /api/v1/me/leads": Route(API, LISTINGS),
    "POST /api/v1/me/leads": Route(API, LISTINGS, body={}),
    "PUT /api/v1/me/leads/{id}": Route(API, LISTINGS, obj="lead", body=LEAD),
    "GET /api/v1/me/leads/{id}": Route(API, LISTINGS, obj="lead"),
    "DELETE /api/v1/me/leads/{id}": Route(API, LISTINGS, obj="lead"),
    # A token is optional; a wrong one is refused (checked apart, in the test module).
    "GET /api/v1/directory": Route(API_OPEN, optional_token=True),
    "GET /api/v1/directory/{username}": Route(API_OPEN, obj="member", shared=True,
                                              optional_token=True, unlisted_own=True),
    "GET /api/v1/directory/{username}/contact": Route(API, DIRECTORY, obj="member",
                                                      shared=True, unlisted_own=True,
                                                      standing=NOT_GOOD_STANDING,
                                                      lookup_first=True),
    "GET /api/v1/openapi.json": Route(API_OPEN),
    # The token in the path is the credential: a made-up one is not found.
    # Asking is harmless: the page only offers the button.
    "GET /api/v1/unsubscribe/{token}": Route(API_OPEN),
    "POST /api/v1/unsubscribe/{token}": Route(API_OPEN, obj="unsubscribe"),
    # ------------------------------------------------------------ probes, static files
    "GET /healthz": Route(API_OPEN),
    "GET /readyz": Route(API_OPEN),
    "GET /metrics": Route(API_OPEN),
    "GET /static": Route(API_OPEN),
    "GET /.well-known/mta-sts.txt": Route(API_OPEN),
}

WITH_SESSION = {PAGE, FORM, FETCH}
# Roles holding a bearer token that no longer works.
DEAD_TOKENS = ("expired_token", "revoked_token", "banned", "erased")
# Members the directory does not list: hidden by status or tier, or not yet confirmed.
UNLISTED = ("restricted", "staff", "unconfirmed")


def expected(route: Route, role: str, obj: str | None) -> str:
    """The outcome the app must give `role` asking `route` about `obj`: the rule of the
    matrix. Credentials first (nothing is looked up for whoever is not let in), then what
    the route needs, then whose object it is (another member's is never found)."""
    if route.pending:
        if role != "half_signed_in":
            return route.refused
        admitted = True
    elif route.door in (PUBLIC, API_OPEN):
        if route.optional_token and role in DEAD_TOKENS:
            return UNAUTHORIZED
        admitted = True
    elif route.door in WITH_SESSION:
        if role not in SESSION_ROLES:
            return UNAUTHORIZED if route.door == FETCH else SIGNIN
        admitted = True
    else:  # a bearer token
        if role == "noscope" and route.needs is not None:
            return FORBIDDEN
        if role not in SESSION_ROLES and role != "noscope":
            return UNAUTHORIZED
        admitted = True
    assert admitted
    if route.needs == "staff" and role != "staff":
        return FORBIDDEN
    if role in route.standing and not route.lookup_first:
        return route.standing[role]  # standing is checked before anything is looked up
    if route.obj is not None and obj == "missing":
        return NOT_FOUND
    if route.obj is not None and obj == "other" and not route.shared and route.needs != "staff":
        return NOT_FOUND
    if obj == "own" and route.unlisted_own and role in UNLISTED:
        return NOT_FOUND
    return route.standing.get(role, route.admitted)


def route_key(method: str, path: str) -> str:
    return f"{method} {path}"
