"""Webhooks for apps: a member registers an HTTPS endpoint; new-message events go to it
through the outbox, signed with HMAC-SHA256 over timestamp and body."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from trademail.clock import Clock
from trademail.crypto import Keyring, new_token, webhook_signature
from trademail.errors import Conflict, InvalidInput, NotFound
from trademail.ids import is_id, new_id
from trademail.services.delivery import Outbox, Webhook
from trademail.services.notifications import event_body
from trademail.store import NewOutboxRow, WebhookRow, WebhookStore

MAX_WEBHOOKS = 5
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
_HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+\.?")
# A last label a URL parser or inet_aton reads as a number: decimal, octal or hex.
_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)")


@dataclass(frozen=True)
class Endpoint:
    id: str
    url: str
    created_at: float


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a webhook may be delivered to this address: globally routable, and neither
    loopback, private, link-local, multicast, reserved nor unspecified; an IPv6 address
    that carries an IPv4 one (mapped, 6to4, Teredo) is judged by that one too."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour or (
            address.teredo[1] if address.teredo else None)
        if inner is not None and not is_public_address(inner):
            return False
    return address.is_global and not (
        address.is_loopback or address.is_private or address.is_link_local
        or address.is_multicast or address.is_reserved or address.is_unspecified)


def _numeric_host(host: str) -> bool:
    """Whether some parser would read this host as an IP address (127.1, 0x7f000001, 0)."""
    try:
        socket.inet_aton(host)
        return True
    except OSError:
        pass
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    return bool(_NUMERIC_LABEL.fullmatch(host.rstrip(".").rsplit(".", 1)[-1]))


def _check_host(host: str) -> None:
    local = InvalidInput.one("url", "must not point at a private or local address")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        if str(address) != host:
            raise InvalidInput.one("url", "must write an IP address in its usual form")
        if not is_public_address(address):
            raise local
        return
    try:  # judged as resolvers see it: full-width digits and dots are 127.0.0.1 too
        host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InvalidInput.one("url", "must name a host by its full domain name") from None
    if _numeric_host(host):
        raise InvalidInput.one("url", "must write an IP address in its usual form")
    name = host.rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        raise local
    if not _HOST_NAME.fullmatch(host):  # one label ("intranet") is a local name too
        raise InvalidInput.one("url", "must name a host by its full domain name")


def _check_url(url: object, *, allow_http: bool) -> str:
    if not isinstance(url, str) or len(url) > 2000 or not url.isprintable():
        raise InvalidInput.one("url", "must be an https:// URL of at most 2000 characters")
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:  # brackets that hold no IPv6 address: "https://[", "https://]x"
        raise InvalidInput.one("url", "must be an https:// URL with a valid host") from None
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not host or parts.username or parts.password:
        raise InvalidInput.one("url", "must be an https:// URL without credentials")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        raise InvalidInput.one("url", "must have a valid port number") from None
    if not allow_http:  # tests talk to a local plain-HTTP receiver
        _check_host(host)
    return url.strip()


class Webhooks:
    def __init__(self, store: WebhookStore, keyring: Keyring, outbox: Outbox, clock: Clock, *,
                 allow_http: bool = False) -> None:
        self._store = store
        self._keyring = keyring
        self._outbox = outbox
        self._clock = clock
        self._allow_http = allow_http  # tests talk to a local plain-HTTP receiver

    def _field(self, hook_id: str) -> str:
        return f"webhook secret {hook_id}"

    def _url(self, hook: WebhookRow) -> str:
        return self._keyring.open_field(hook.member_id, f"webhook url {hook.id}", hook.url_ct)

    async def register(self, member_id: str, *, url: object) -> tuple[Endpoint, str]:
        """A new endpoint and its signing secret; the secret is shown this once."""
        clean = _check_url(url, allow_http=self._allow_http)
        now = self._clock.now()
        hook_id = new_id(now)
        secret = new_token(SECRET_PREFIX)
        row = WebhookRow(member_id, hook_id,
                         self._keyring.seal_field(member_id, f"webhook url {hook_id}", clean),
                         self._keyring.seal_field(member_id, self._field(hook_id), secret), now)
        if not await self._store.add_webhook(row, MAX_WEBHOOKS):
            raise Conflict(f"at most {MAX_WEBHOOKS} webhooks per member", "url")
        return Endpoint(hook_id, clean, now), secret

    async def endpoints(self, member_id: str) -> list[Endpoint]:
        return [Endpoint(r.id, self._url(r), r.created_at)
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
            rows.append(self._outbox.seal(Webhook(self._url(hook), headers, body),
                                          hook.member_id))
        return rows
