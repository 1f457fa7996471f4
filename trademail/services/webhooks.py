"""Webhooks for apps: a member registers an HTTPS endpoint; new-message events go to it
through the outbox, signed with HMAC-SHA256 over timestamp and body."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from trademail.clock import Clock
from trademail.crypto import Keyring, new_token, webhook_signature
from trademail.errors import Conflict, InvalidInput, NotFound
from trademail.ids import is_id, new_id
from trademail.services.notifications import event_body
from trademail.services.outbox import Outbox, Webhook
from trademail.store import NewOutboxRow, Store
from trademail.store.gateway import WebhookRow

MAX_WEBHOOKS = 5
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


@dataclass(frozen=True)
class Endpoint:
    id: str
    url: str
    created_at: float


def _check_url(url: object, *, allow_http: bool) -> str:
    if not isinstance(url, str) or len(url) > 2000 or not url.isprintable():
        raise InvalidInput.one("url", "must be an https:// URL of at most 2000 characters")
    parts = urlsplit(url.strip())
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not parts.hostname or parts.username or parts.password:
        raise InvalidInput.one("url", "must be an https:// URL without credentials")
    host = parts.hostname
    try:
        local = not ipaddress.ip_address(host).is_global
    except ValueError:
        local = host == "localhost" or host.endswith(".localhost")
    if local and not allow_http:
        raise InvalidInput.one("url", "must not point at a private or local address")
    return url.strip()


class Webhooks:
    def __init__(self, store: Store, keyring: Keyring, outbox: Outbox, clock: Clock, *,
                 allow_http: bool = False) -> None:
        self._store = store
        self._keyring = keyring
        self._outbox = outbox
        self._clock = clock
        self._allow_http = allow_http  # tests talk to a local plain-HTTP receiver

    def _field(self, hook_id: str) -> str:
        return f"webhook secret {hook_id}"

    async def register(self, member_id: str, *, url: object) -> tuple[Endpoint, str]:
        """A new endpoint and its signing secret; the secret is shown this once."""
        clean = _check_url(url, allow_http=self._allow_http)
        now = self._clock.now()
        hook_id = new_id(now)
        secret = new_token(SECRET_PREFIX)
        row = WebhookRow(member_id, hook_id, clean,
                         self._keyring.seal_field(member_id, self._field(hook_id), secret), now)
        if not await self._store.add_webhook(row, MAX_WEBHOOKS):
            raise Conflict(f"at most {MAX_WEBHOOKS} webhooks per member", "url")
        return Endpoint(hook_id, clean, now), secret

    async def endpoints(self, member_id: str) -> list[Endpoint]:
        return [Endpoint(r.id, r.url, r.created_at)
                for r in await self._store.webhooks_of([member_id])]

    async def delete(self, member_id: str, hook_id: str) -> None:
        if not is_id(hook_id) or not await self._store.delete_webhook(member_id, hook_id):
            raise NotFound()

    async def for_event(self, member_ids: Sequence[str],
                        event: dict[str, object]) -> list[NewOutboxRow]:
        """Signed deliveries of one event to each endpoint of these members."""
        rows = []
        now = self._clock.now()
        for hook in await self._store.webhooks_of(member_ids):
            secret = self._keyring.open_field(hook.member_id, self._field(hook.id),
                                              hook.secret_ct)
            event_id = new_id(now)
            body = event_body(event, event_id, now)
            timestamp = int(now)
            headers = (("Content-Type", "application/json"),
                       ("X-TradeMail-Event", str(event.get("type", ""))),
                       ("X-TradeMail-Delivery", event_id),
                       ("X-TradeMail-Timestamp", str(timestamp)),
                       ("X-TradeMail-Signature", webhook_signature(secret, timestamp, body)))
            rows.append(self._outbox.seal(Webhook(hook.url, headers, body), hook.member_id))
        return rows
