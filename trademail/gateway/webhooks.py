"""The webhook sender: one signed POST per outbox row, through aiohttp's client.

Registration refuses URLs that name a local address, but a public name can resolve to one
(or start to, later: DNS rebinding), so the addresses are checked again at every connection
by the resolver below, and a delivery with no public address left fails for good.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from trademail.errors import ConfigError, PermanentFailure, TemporaryFailure
from trademail.services.delivery import Webhook
from trademail.services.webhooks import is_public_address

RETRYABLE = frozenset({408, 409, 425, 429})


class NoPublicAddress(OSError):
    """Every address a webhook's host resolved to is loopback, private or otherwise local."""


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])  # without an IPv6 zone
    except ValueError:
        return None


def _public(host: str) -> bool:
    address = _address(host)
    return address is not None and is_public_address(address)


class PublicOnlyResolver(AbstractResolver):
    """Wraps a resolver and drops every address that is not globally routable."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._owns_inner = inner is None
        self._inner = inner if inner is not None else aiohttp.DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = [r for r in await self._inner.resolve(host, port, family) if _public(r["host"])]
        if not found:
            raise NoPublicAddress("the webhook host has no public address")
        return found

    async def close(self) -> None:
        if self._owns_inner:
            await self._inner.close()


def _verifying_context(ca_file: str) -> ssl.SSLContext:
    """The system's CAs, and those of `ca_file` when one is named; certificates and host
    names always checked."""
    context = ssl.create_default_context()
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"[webhooks] ca_file: cannot be read as PEM certificates "
                              f"({exc.__class__.__name__})") from None
    return context


class AiohttpWebhookSender:
    """2xx delivered; 408/429 and 5xx and network errors retried (a certificate that does not
    verify among them: it may be renewed); other 4xx given up, and so is a host that
    resolves to no public address and a URL that is not https."""

    def __init__(self, timeout: float = 15.0, *, resolver: AbstractResolver | None = None,
                 allow_private: bool = False, ca_file: str = "") -> None:
        # allow_private is for tests only: their receiver listens on 127.0.0.1 (maybe in
        # plain HTTP).
        self._ssl = _verifying_context(ca_file)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._inner = resolver
        self._allow_private = allow_private
        self._resolver: AbstractResolver | None = None
        self._session: aiohttp.ClientSession | None = None

    async def _open(self) -> aiohttp.ClientSession:
        await self.close()
        self._resolver = self._inner if self._allow_private else PublicOnlyResolver(self._inner)
        if self._resolver is None:
            self._resolver = aiohttp.DefaultResolver()
        connector = aiohttp.TCPConnector(resolver=self._resolver, ssl=self._ssl)
        return aiohttp.ClientSession(timeout=self._timeout, connector=connector,
                                     trust_env=False)

    async def post(self, hook: Webhook) -> None:
        # The connector asks no resolver about an IP address written in the URL itself.
        url = URL(hook.url)
        host = url.raw_host or ""
        if not self._allow_private and _address(host) is not None and not _public(host):
            raise PermanentFailure("the webhook host is not a public address")
        if not self._allow_private and url.scheme != "https":
            raise PermanentFailure("webhooks are delivered over https only")
        if self._session is None or self._session.closed:
            self._session = await self._open()
        try:
            async with self._session.post(hook.url, data=hook.body, headers=dict(hook.headers),
                                          allow_redirects=False) as resp:
                status = resp.status
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, NoPublicAddress):
                raise PermanentFailure("the webhook host has no public address") from None
            raise TemporaryFailure(f"connection: {exc.__class__.__name__}") from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise TemporaryFailure(f"connection: {exc.__class__.__name__}") from None
        if 200 <= status < 300:
            return
        if status >= 500 or status in RETRYABLE:
            raise TemporaryFailure(f"HTTP {status}")
        raise PermanentFailure(f"HTTP {status}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._resolver is not None and self._resolver is not self._inner:
            await self._resolver.close()  # the connector closes only resolvers it made
        self._resolver = None
