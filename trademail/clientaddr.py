"""Which address a request came from, also behind reverse proxies the operator trusts."""

from __future__ import annotations

import ipaddress
from functools import cache

from aiohttp import web

from trademail.appkeys import CONFIG

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(net, strict=False) for net in trusted)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(request: web.Request) -> str:
    """The peer, or, when the peer is a trusted proxy, the last address in X-Forwarded-For
    that is not one of ours (the first hop we did not add ourselves). For throttling."""
    networks = _networks(request.app[CONFIG].http.trusted_proxies)
    address = request.remote or "unknown"
    if not networks or not _trusted(address, networks):
        return address
    for hop in reversed(request.headers.get("X-Forwarded-For", "").split(",")):
        hop = hop.strip()
        if hop and not _trusted(hop, networks):
            return hop[:64]
    return address
