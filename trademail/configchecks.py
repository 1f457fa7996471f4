"""The checks config keys use (each answers a problem, or None when the value is good)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from urllib.parse import urlsplit


def between(low: int, high: int) -> Callable[[int], str | None]:
    def check(value: int) -> str | None:
        if not low <= value <= high:
            return f"must be between {low} and {high}"
        return None

    return check


def one_of(*choices: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"

    return check


def store_url(value: str) -> str | None:
    if value and urlsplit(value).scheme not in ("sqlite", "postgresql", "postgres"):
        return "must be empty, sqlite:///PATH or postgresql://…"
    return None


def http_url(value: str) -> str | None:
    if value and (urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc):
        return "must be an absolute http:// or https:// URL"
    return None


def networks(value: tuple[str, ...]) -> str | None:
    for net in value:
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError:
            return f"{net!r} is not an IP address or network"
    return None


def domain(value: str) -> str | None:
    labels = value.split(".")
    if not value or any(not label or not label.replace("-", "").isalnum() for label in labels):
        return "must be a domain name such as relay.example.com"
    return None


def hostport(value: str) -> str | None:
    host, _, port = value.rpartition(":")
    if value and (not host or not port.isdigit() or not 0 < int(port) < 65536):
        return "must be empty or host:port"
    return None


def spf_hosts(value: tuple[str, ...]) -> str | None:
    for host in value:
        if host not in ("a", "mx") and networks((host,)) is not None:
            return f"{host!r} is not an IP address, a network, a or mx"
    return None


def mail_address(value: str) -> str | None:
    local, _, host = value.rpartition("@")
    if value and (not local or domain(host) is not None or any(c in value for c in " ;,!")):
        return "must be empty or an address such as dmarc-reports@example.com"
    return None


def nameserver(value: str) -> str | None:
    host = value.rpartition(":")[0]
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        host = ""
    if value and (not host or hostport(value) is not None):
        return "must be empty or IP-address:port, such as 127.0.0.1:53 or [::1]:53"
    return None
