"""Presentation helpers for the templates: dates, sizes, avatars, message bodies made safe,
and flagged listing text cut into pieces the templates mark up."""

from __future__ import annotations

import datetime as dt
import math
import re
import zlib
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from trademail.services.contactsection import KIND_LABELS
from trademail.services.directory import compose_url, listing_subject
from trademail.services.standing import STATUS_LABELS, STATUS_MEANINGS, TIER_LABELS

STATIC_DIR = Path(__file__).with_name("static")
TEMPLATE_DIR = Path(__file__).with_name("templates")
_URL = re.compile(r"\bhttps?://[^\s<>\"'`]+[^\s<>\"'`.,;:!?)\]}]", re.IGNORECASE)
_QUOTE = re.compile(r"^(?:&gt; ?)+")
AVATAR_COLOURS = 8


# Line icons (after Feather, MIT), inlined so they need no extra request and no CSP source.
ICONS = {
    "search": '<circle cx="11" cy="11" r="7"/><line x1="20" y1="20" x2="16.2" y2="16.2"/>',
    "inbox": '<polyline points="22 12 16 12 14 15 10 15 8 12 2 12"/><path d="M5.45 5.11 2 12v6'
             'a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2v-6l-3.45-6.89A2 2 0 0 0 16.76 4H7.24a2 2 0 0 0-1.79 '
             '1.11z"/>',
    "send": '<line x1="22" y1="2" x2="11" y2="13"/><polygon points="22 2 15 22 11 13 2 9 22 2"/>',
    "archive": '<polyline points="21 8 21 21 3 21 3 8"/><rect x="1" y="3" width="22" height="5"/>'
               '<line x1="10" y1="12" x2="14" y2="12"/>',
    "trash": '<polyline points="3 6 5 6 21 6"/><path d="M19 6v14a2 2 0 0 1-2 2H7a2 2 0 0 1-2-2V6'
             'm3 0V4a2 2 0 0 1 2-2h4a2 2 0 0 1 2 2v2"/>',
    "settings": '<line x1="4" y1="21" x2="4" y2="14"/><line x1="4" y1="10" x2="4" y2="3"/>'
                '<line x1="12" y1="21" x2="12" y2="12"/><line x1="12" y1="8" x2="12" y2="3"/>'
                '<line x1="20" y1="21" x2="20" y2="16"/><line x1="20" y1="12" x2="20" y2="3"/>'
                '<line x1="1" y1="14" x2="7" y2="14"/><line x1="9" y1="8" x2="15" y2="8"/>'
                '<line x1="17" y1="16" x2="23" y2="16"/>',
    "pen": '<path d="M17 3a2.83 2.83 0 1 1 4 4L7.5 20.5 2 22l1.5-5.5L17 3z"/>',
    "logout": '<path d="M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4"/>'
              '<polyline points="16 17 21 12 16 7"/><line x1="21" y1="12" x2="9" y2="12"/>',
    "check": '<polyline points="20 6 9 17 4 12"/>',
    "clip": '<path d="m21.44 11.05-9.19 9.19a6 6 0 0 1-8.49-8.49l9.19-9.19a4 4 0 0 1 5.66 5.66'
            'l-9.2 9.19a2 2 0 0 1-2.83-2.83l8.49-8.48"/>',
    "back": '<line x1="19" y1="12" x2="5" y2="12"/><polyline points="12 19 5 12 12 5"/>',
    "reply": '<polyline points="9 14 4 9 9 4"/><path d="M20 20v-7a4 4 0 0 0-4-4H4"/>',
    "forward": '<polyline points="15 14 20 9 15 4"/><path d="M4 20v-7a4 4 0 0 1 4-4h12"/>',
    "mail": '<path d="M4 4h16c1.1 0 2 .9 2 2v12c0 1.1-.9 2-2 2H4'
            'c-1.1 0-2-.9-2-2V6c0-1.1.9-2 2-2z"/><polyline points="22,6 12,13 2,6"/>',
    "device": '<rect x="2" y="3" width="20" height="14" rx="2" ry="2"/>'
              '<line x1="8" y1="21" x2="16" y2="21"/><line x1="12" y1="17" x2="12" y2="21"/>',
    "globe": '<circle cx="12" cy="12" r="10"/><line x1="2" y1="12" x2="22" y2="12"/>'
             '<path d="M12 2a15.3 15.3 0 0 1 4 10 15.3 15.3 0 0 1-4 10 15.3 15.3 0 0 1-4-10 '
             '15.3 15.3 0 0 1 4-10z"/>',
    "list": '<line x1="8" y1="6" x2="21" y2="6"/><line x1="8" y1="12" x2="21" y2="12"/>'
            '<line x1="8" y1="18" x2="21" y2="18"/><line x1="3" y1="6" x2="3.01" y2="6"/>'
            '<line x1="3" y1="12" x2="3.01" y2="12"/><line x1="3" y1="18" x2="3.01" y2="18"/>',
    "shield": '<path d="M12 22s8-4 8-10V5l-8-3-8 3v7c0 6 8 10 8 10z"/>',
    "flag": '<path d="M4 15s1-1 4-1 5 2 8 2 4-1 4-1V3s-1 1-4 1-5-2-8-2-4 1-4 1z"/>'
            '<line x1="4" y1="22" x2="4" y2="15"/>',
}


def svg_icon(name: str) -> Markup:
    return Markup(  # noqa: S704 - constant markup
        '<svg class="icon" aria-hidden="true" focusable="false" viewBox="0 0 24 24" '
        'width="20" height="20" fill="none" stroke="currentColor" stroke-width="2" '
        f'stroke-linecap="round" stroke-linejoin="round">{ICONS[name]}</svg>')


def static_versions() -> dict[str, str]:
    """A short content hash per static file, so browsers may cache them for good."""
    return {p.name: f"{zlib.crc32(p.read_bytes()):08x}"
            for p in STATIC_DIR.iterdir() if p.is_file()}


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def iso(ts: float | None) -> str:
    return "" if ts is None else _utc(ts).isoformat(timespec="seconds").replace("+00:00", "Z")


def short_date(ts: float, now: float) -> str:
    """14:05 today, 3 Mar this year, 3 Mar 2024 before (UTC; a script shows local time)."""
    when, today = _utc(ts), _utc(now)
    if when.date() == today.date():
        return when.strftime("%H:%M")
    if when.year == today.year:
        return f"{when.day} {when:%b}"
    return f"{when.day} {when:%b %Y}"


def long_date(ts: float | None) -> str:
    if ts is None:
        return "never"
    when = _utc(ts)
    return f"{when:%a} {when.day} {when:%b %Y, %H:%M} UTC"


def when(ts: float | None) -> Markup:
    """A moment as every page shows one: in UTC as written, and in the reader's own time
    (the zone in its tooltip) once the page's script has run."""
    if ts is None:
        return Markup("never")
    return Markup('<time datetime="{}" data-local="long">{}</time>').format(
        iso(ts), long_date(ts))


def ago(ts: float, now: float) -> str:
    seconds = max(0, int(now - ts))
    if seconds < 60:
        return "just now"
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"  # pragma: no cover


def file_size(size: int) -> str:
    for unit in ("bytes", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} bytes"  # pragma: no cover


def initials(name: str) -> str:
    words = [w for w in re.split(r"[\s._-]+", name) if w]
    return "".join(w[0] for w in words[:2]).upper() or "?"


def avatar(name: str) -> str:
    """A stable colour class per correspondent."""
    return f"av{zlib.crc32(name.encode()) % AVATAR_COLOURS}"


def _linkify(escaped: str) -> str:
    def link(match: re.Match[str]) -> str:
        url = match.group(0)
        return (f'<a href="{url}" rel="noopener noreferrer nofollow" target="_blank">'
                f"{url}</a>")

    return _URL.sub(link, escaped)


def plain_body(text: str) -> Markup:
    """A plain-text body as HTML: every character escaped, web links made clickable, and
    each run of quoted lines ("> …") folded away under "Quoted text"."""
    out: list[str] = []
    quoted: list[str] = []
    for line in [*str(escape(text)).split("\n"), None]:
        if line is not None and _QUOTE.match(line):
            quoted.append(f'<span class="quoted">{_linkify(line)}</span>')
            continue
        if quoted:
            out.append(f'<details class="quoted-text"><summary>Quoted text ({len(quoted)} '
                       f'line{"s" if len(quoted) != 1 else ""})</summary>'
                       + "\n".join(quoted) + "</details>")
            quoted = []
        if line is not None:
            out.append(_linkify(line))
    return Markup("\n".join(out))  # noqa: S704 - built from escaped text only


def quoted(message: Any) -> str:
    """The message answered, quoted below a reply ("> " before each line), as mail
    clients quote: shown folded in the conversation."""
    who = message.sender.company or message.sender.username or "They"
    lines = "\n".join(f"> {line}" if line else ">" for line in message.body.splitlines())
    return f"\n\nOn {long_date(message.created_at)}, {who} wrote:\n{lines}"


def message_body(message: Any) -> Markup:
    """The body of a message, always text (mail that arrives as HTML was turned into text
    by the gateway when it came in)."""
    return plain_body(message.body)


def marked(text: str, spans: Any) -> list[tuple[str, str]]:
    """A flagged text cut into pieces for a template to show: (piece, "") as it is, and
    (piece, what was found) for the contact details the detector found there, so the
    template marks them up and autoescaping still covers every character."""
    pieces: list[tuple[str, str]] = []
    at = 0
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        start, end = max(span.start, at), min(span.end, len(text))
        if end <= start:
            continue  # overlaps one already marked, or lies outside the text
        if start > at:
            pieces.append((text[at:start], ""))
        pieces.append((text[start:end], KIND_LABELS.get(span.kind, span.kind)))
        at = end
    if at < len(text) or not pieces:
        pieces.append((text[at:], ""))
    return pieces


def kinds_found(spans: Any) -> str:
    """What was found, in words: "a phone number, a web address"."""
    return ", ".join(dict.fromkeys(KIND_LABELS.get(s.kind, s.kind) for s in spans))


def days_left(ts: float, now: float) -> int:
    """Whole days until a moment (at least 1): how long a trade lead has left."""
    return max(1, math.ceil((ts - now) / 86400))


def sentence(text: str) -> str:
    """A service's message as a sentence: its first letter capital, the rest as written
    (names such as TradeStaff keep their capitals), one full stop at the end."""
    text = text.strip()
    if not text:
        return text
    return text[0].upper() + text[1:] + ("" if text[-1] in ".!?" else ".")


# What each API token scope lets a token do, in words people use.
SCOPE_LABELS = {
    "messages:read": "Read messages", "messages:send": "Send messages",
    "messages:write": "File and delete messages",
    "account:manage": "Manage tokens, webhooks and blocks",
    "listings:write": "Edit your listings",
    "directory:read": "Open contact sections in the directory",
}


def reply_subject(subject: str) -> str:
    return subject if subject.lower().startswith("re:") else f"Re: {subject}".strip()


def configure(env: jinja2.Environment) -> None:
    versions = static_versions()
    env.globals["static"] = lambda name: f"/static/{name}?v={versions.get(name, '0')}"
    env.globals.update(svg_icon=svg_icon, compose_url=compose_url, when=when,
                       listing_subject=listing_subject, STATUS_LABELS=STATUS_LABELS,
                       STATUS_MEANINGS=STATUS_MEANINGS, TIER_LABELS=TIER_LABELS,
                       SCOPE_LABELS=SCOPE_LABELS)
    env.filters.update(iso=iso, short_date=short_date, long_date=long_date, ago=ago,
                       file_size=file_size, initials=initials, avatar=avatar,
                       message_body=message_body, reply_subject=reply_subject,
                       marked=marked, kinds_found=kinds_found, days_left=days_left,
                       sentence=sentence)
    env.trim_blocks = True
    env.lstrip_blocks = True
