"""The leak scanner of tests/test_hostile_leaks.py: the secrets planted, who may see each,
everything the doors gave back to whom, and every secret found where its viewer may not."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from urllib.parse import quote, quote_plus

# Who a capture was shown to: a member's username, or one of these.
VISITOR, OUTSIDER, LOG, DATABASE, CONFIG_OUTPUT, WEBHOOK = (
    "visitor", "outsider", "log", "database", "config output", "webhook receiver")


@dataclass(frozen=True)
class Secret:
    """A value that must show only to the viewers in `seen_by` (nobody when empty)."""

    label: str
    value: str
    seen_by: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Capture:
    """What one viewer got back from one door: a page, a response, a mail, log lines."""

    viewer: str
    where: str
    data: bytes


@dataclass(frozen=True)
class Finding:
    secret: str
    viewer: str
    where: str


@dataclass
class Secrets:
    """The secrets planted in one run, added as they are made."""

    items: list[Secret] = field(default_factory=list)

    def add(self, label: str, value: str, *seen_by: str) -> str:
        assert len(value) >= 8, f"{label}: too short to find without false alarms"
        self.items.append(Secret(label, value, frozenset(seen_by)))
        return value


def forms(value: str) -> set[bytes]:
    """The ways a value can be written into a page, a URL, JSON or a database file."""
    found = {value, html.escape(value), quote(value, safe=""), quote_plus(value),
             json.dumps(value)[1:-1]}
    encoded = {f.lower().encode() for f in found}
    return encoded | {value.lower().encode("utf-16-le")}


def scan(captures: Iterable[Capture], secrets: Iterable[Secret]) -> list[Finding]:
    """Every secret found in a capture whose viewer is not one that may see it."""
    table = [(s, forms(s.value)) for s in secrets]
    findings = []
    for capture in captures:
        data = capture.data.lower()
        for secret, written in table:
            if capture.viewer not in secret.seen_by and any(w in data for w in written):
                findings.append(Finding(secret.label, capture.viewer, capture.where))
    return findings


def readable_mail(data: bytes) -> bytes:
    """A mail as it is sent and as its reader sees it: the raw bytes, then every header
    decoded and every part's payload decoded (base64, quoted-printable, RFC 2047)."""
    mail = message_from_bytes(data, policy=policy.default)
    out = [data]
    for part in mail.walk():
        out.extend(f"{k}: {v}".encode() for k, v in part.items())
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            out.append(payload)
    return b"\n".join(out)


def response_bytes(status: int, headers: Iterable[tuple[bytes, bytes]], body: bytes) -> bytes:
    """A response as it went over the wire: status, every header (cookies too), body."""
    head = b"\n".join(k + b": " + v for k, v in headers)
    return str(status).encode() + b"\n" + head + b"\n\n" + body


def unseen(captures: Iterable[Capture], secrets: Iterable[Secret]) -> list[str]:
    """The secrets meant for someone that no capture of theirs holds: a scan that finds
    nothing must have read the places where the secrets are."""
    captures = list(captures)
    return [s.label for s in secrets if s.seen_by and not any(
        c.viewer in s.seen_by and any(w in c.data.lower() for w in forms(s.value))
        for c in captures)]
