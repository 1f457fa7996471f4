"""Helpers for the web inbox tests: a cookie-keeping "browser" over HTTP, forms with CSRF."""

from __future__ import annotations

import html
import re
from typing import Any

from aiohttp import ClientResponse, ClientSession, CookieJar, FormData

from tests.helpers import PASSWORD

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_IDEMPOTENCY = re.compile(r'name="idempotency_key" value="([^"]+)"')


def csrf_of(page: str) -> str:
    match = _CSRF.search(page)
    assert match, "no CSRF token on the page"
    return html.unescape(match.group(1))


class Browser:
    """One browser: its own cookie jar against the test server."""

    def __init__(self, client: Any, *, https: bool = False) -> None:
        """`https`: the app believes it is served over https (a https public_url), so the
        test server's plain http address gets its Secure cookies as a real https one would."""
        self.client = client
        origin = [str(client.make_url("/"))] if https else None
        self.session = ClientSession(base_url=str(client.make_url("/")), cookie_jar=CookieJar(
            unsafe=True, treat_as_secure_origin=origin))
        self.last_page = ""

    async def close(self) -> None:
        await self.session.close()

    async def get(self, path: str, **kw: Any) -> ClientResponse:
        resp = await self.session.get(path, **kw)
        if resp.content_type == "text/html":
            self.last_page = await resp.text()
        return resp

    async def page(self, path: str, status: int = 200) -> str:
        resp = await self.get(path)
        text = await resp.text()
        assert resp.status == status, (resp.status, resp.url, text[:2000])
        return text

    async def post(self, path: str, data: dict[str, Any] | FormData | None = None, *,
                   form_page: str | None = None, csrf: str | None = None,
                   **kw: Any) -> ClientResponse:
        """Submit a form with the CSRF token of `form_page` (fetched first when not given)."""
        if csrf is None:
            page = await self.page(form_page) if form_page else self.last_page
            csrf = csrf_of(page)
        if isinstance(data, FormData):
            data.add_field("csrf", csrf)
            body: Any = data
        else:
            body = {**(data or {}), "csrf": csrf}
        kw.setdefault("allow_redirects", False)
        return await self.session.post(path, data=body, **kw)

    def cookie(self, name: str) -> str | None:
        for cookie in self.session.cookie_jar:
            if cookie.key == name:
                return cookie.value
        return None

    async def sign_up(self, username: str, *, email: str | None = None) -> None:
        resp = await self.post("/signup", {
            "username": username, "password": PASSWORD,
            "email": email or f"{username}@real-{username}.example",
            "company": f"{username.title()} Trading Ltd", "country": "Kenya"},
            form_page="/signup")
        assert resp.status == 303, await resp.text()
        assert resp.headers["Location"] == "/inbox"

    async def sign_in(self, username: str, password: str = PASSWORD,
                      next_path: str | None = None) -> ClientResponse:
        data = {"username": username, "password": password}
        if next_path is not None:
            data["next"] = next_path
        return await self.post("/signin", data, form_page="/signin")

    async def reply(self, message_id: str, body: str, **fields: str) -> ClientResponse:
        """Answer with the reply form of a message's page, as its hidden fields say (the
        message answered, the subject, the form's idempotency key); `fields` adds ticked
        boxes (`reply_all`, `quote`)."""
        page = await self.page(f"/messages/{message_id}")
        hidden = dict(re.findall(r'<input type="hidden" name="(in_reply_to|subject|'
                                 r'idempotency_key)" value="([^"]*)"', page))
        return await self.post("/compose", {**{k: html.unescape(v) for k, v in hidden.items()},
                                            "body": body, **fields}, csrf=csrf_of(page))

    async def send_file(self, to: str, subject: str, body: str, filename: str, data: bytes,
                        content_type: str = "text/plain") -> ClientResponse:
        """Send a message with one attachment through the compose form, as a browser posts
        it (multipart)."""
        form = FormData()
        for name, value in (("to", to), ("subject", subject), ("body", body)):
            form.add_field(name, value)
        form.add_field("attachments", data, filename=filename, content_type=content_type)
        resp = await self.post("/compose", form, form_page="/compose")
        assert resp.status == 303, await resp.text()
        return resp

    async def send(self, to: str, subject: str, body: str) -> ClientResponse:
        page = await self.page("/compose")
        key = _IDEMPOTENCY.search(page)
        assert key
        resp = await self.post("/compose", {"to": to, "subject": subject, "body": body,
                                            "idempotency_key": key.group(1)}, csrf=csrf_of(page))
        assert resp.status == 303, await resp.text()
        return resp
