"""What TradeMail keeps of an incoming mail: its text (HTML made safe text by nh3), with
quoted history and signatures trimmed, and its attachments. Parsing never trusts the mail.

Everything here that looks at mail text is linear in its input: no regular expression with
nested or overlapping quantifiers runs over text of unbounded length, and the text of each
part is capped before it is processed. CPython's own email parser is not linear on some
headers, so `check_raw` bounds the header fields on the raw bytes before it runs, and
`read_mail` (which runs it) is meant to run in a worker process (see `mailreader`).
"""

from __future__ import annotations

import base64
import binascii
import html
import quopri
import re
import unicodedata
from dataclasses import dataclass
from email import policy
from email.errors import HeaderParseError
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses

import nh3

from trademail.errors import InvalidInput, MailRefused, TooLarge
from trademail.services.dsn import bounce_status

MAX_HEADER_BYTES = 64 * 1024
MAX_HEADERS = 500
MAX_PARTS = 200
# CPython's address parser is quadratic in the length of some address fields ("a"a"a…),
# and its parameter parser in the length of some Content-Type fields: both are bounded on
# the raw bytes, before the parser sees them.
MAX_ADDRESS_FIELD_BYTES = 4 * 1024
ADDRESS_FIELDS = frozenset({b"from", b"reply-to", b"to", b"cc", b"sender"})
MAX_MIME_FIELD_BYTES = 2 * 1024
# How many times max_body_bytes of text one part may hold before it is cut, unread: enough
# for quoted history and HTML markup around a body that fits.
TEXT_CAP_FACTOR = 4

# Where quoted history starts, in the reply styles of common mail clients.
_ATTRIBUTION = [
    re.compile(r"^\s*On\b.{0,300}\bwrote:\s*$", re.I | re.S),  # Gmail, Apple Mail, Thunderbird
    re.compile(r"^\s*Le\b.{0,300}\ba écrit\s*:\s*$", re.I | re.S),
    re.compile(r"^\s*Am\b.{0,300}\bschrieb\b.{0,100}:\s*$", re.I | re.S),
    re.compile(r"^\s*El\b.{0,300}\bescribió:\s*$", re.I | re.S),
    re.compile(r"^\s*Em\b.{0,300}\bescreveu:\s*$", re.I | re.S),
    re.compile(r"^\s*在.{0,300}写道[:：]\s*$", re.S),
]
_SEPARATOR = re.compile(
    r"^\s*(-{2,}\s*(Original Message|Forwarded message|Ursprüngliche Nachricht|"
    r"Message d'origine)\s*-{2,}|_{20,}|Begin forwarded message:)\s*$", re.I)
_OUTLOOK_HEADER = re.compile(r"^\s*\*?(From|Von|De|Van)\s*:\*?\s", re.I)
_OUTLOOK_NEXT = re.compile(r"^\s*\*?(Sent|Date|Gesendet|Datum|Envoyé|Verzonden|To|An|À|Aan|"
                           r"Subject|Betreff|Objet|Onderwerp)\s*:", re.I)
_OUTLOOK_SENT = re.compile(r"^\s*\*?(Sent|Date|Gesendet|Datum|Envoyé|Verzonden)\s*:", re.I)
_SIGNATURE = re.compile(
    r"^(Sent from my (iPhone|iPad|Android|phone|mobile).*|Get Outlook for (iOS|Android).*|"
    r"Sent from (Mail|Outlook) for .*|Envoyé de mon iPhone.*|Von meinem iPhone gesendet.*)$",
    re.I)
# A lone "--" (the delimiter with its space lost) starts a signature only this close to
# the end; "-- " does wherever it is.
SHORT_SIGNATURE_LINES = 6
# Tags whose end makes a line break in the text.
_BREAK_TAGS = frozenset({"br", "hr", "/p", "/div", "/li", "/tr", "/blockquote",
                         "/h1", "/h2", "/h3", "/h4", "/h5", "/h6"})
# Gmail's quote container, Apple's and Thunderbird's cited blockquotes, Outlook's reply
# header block: (tag, a marker in its attributes with quotes removed, lower case).
_QUOTE_TAGS = (("div", "gmail_quote"), ("blockquote", "type=cite"),
               ("div", "id=divrplyfwdmsg"), ("div", "id=appendonsend"),
               ("div", "id=mail-editor-reference-message"), ("hr", "id=stopspelling"))
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A mail attached whole: kept as one attachment, for its parts only make sense together.
_ATTACHED_MAIL = frozenset({"message/rfc822", "message/global"})


@dataclass(frozen=True)
class Part:
    filename: str
    content_type: str
    data: bytes
    charset: str = ""  # as declared by the mail, for text; "" when it declares none


@dataclass(frozen=True)
class Extracted:
    subject: str
    body: str
    attachments: tuple[Part, ...]


def _field_end(raw: bytes, start: int, limit: int) -> int:
    """Where the header field starting at `start` ends (its folded lines included), looking
    no further than `limit` bytes: -1 when it is longer."""
    pos = start
    stop = min(len(raw), start + limit + 1)
    while True:
        newline = raw.find(b"\n", pos, stop)
        if newline < 0:
            return len(raw) if stop == len(raw) else -1
        if raw[newline + 1:newline + 2] not in (b" ", b"\t"):
            return newline + 1
        pos = newline + 1


# Searched over the whole mail: no repeat in it, so it cannot backtrack.
_MIME_FIELD = re.compile(rb"^content-(?:type|disposition)", re.I | re.M)


def check_raw(raw: bytes) -> None:
    """Refuse, on the raw bytes and before any parser runs, mail whose header section is
    huge or has absurdly many fields, whose address fields are long, or whose MIME fields
    (in any part) are long or too many. Linear: each byte is looked at a bounded number of
    times."""
    end = raw.find(b"\r\n\r\n")
    end = raw.find(b"\n\n") if end < 0 else end
    head = raw if end < 0 else raw[:end]
    if len(head) > MAX_HEADER_BYTES:
        raise TooLarge.one("headers", f"the header section is larger than "
                                      f"{MAX_HEADER_BYTES} bytes")
    lines = head.split(b"\n")
    fields = sum(1 for line in lines if line[:1] not in (b" ", b"\t", b""))
    if fields > MAX_HEADERS:
        raise TooLarge.one("headers", f"more than {MAX_HEADERS} header fields")
    name, size = b"", 0
    for line in [*lines, b""]:
        if line[:1] in (b" ", b"\t"):
            size += len(line) + 1
            continue
        if name in ADDRESS_FIELDS and size > MAX_ADDRESS_FIELD_BYTES:
            raise TooLarge.one("headers", f"an address field ({name.decode().title()}) is "
                                          f"longer than {MAX_ADDRESS_FIELD_BYTES} bytes")
        name, size = line.partition(b":")[0].strip().lower(), len(line) + 1
    for count, match in enumerate(_MIME_FIELD.finditer(raw), start=1):
        if count > 2 * MAX_PARTS + 2:
            raise InvalidInput.one("message", f"more than {MAX_PARTS} MIME parts")
        if _field_end(raw, match.start(), MAX_MIME_FIELD_BYTES) < 0:
            raise TooLarge.one("headers", f"a MIME header field is longer than "
                                          f"{MAX_MIME_FIELD_BYTES} bytes")


def header(message: Message, name: str) -> str:
    """A header as clean text, however broken its encoding; empty when missing or when the
    parser gives up on it."""
    try:
        value = message.get(name)
    except Exception:  # the header parser raises anything on hostile input, RecursionError too
        return ""
    if value is None:
        return ""
    return " ".join(_CONTROL.sub(" ", str(value)).split())


def _quote_marker(name: str, attributes: str) -> bool:
    plain = attributes.replace('"', "").replace("'", "")
    return any(name == tag and marker in plain for tag, marker in _QUOTE_TAGS)


def _breaks_and_cut(markup: str) -> str:
    """The markup with break tags made newlines and everything from the first quote block
    on cut. One pass with str.find: every character is looked at a bounded number of times
    (a regular expression here was quadratic on "<div<div<div…")."""
    out: list[str] = []
    pos = 0
    while True:
        start = markup.find("<", pos)
        close = markup.find(">", start + 1) if start >= 0 else -1
        if close < 0:
            out.append(markup[pos:])  # no more complete tags; nh3 drops a broken one
            break
        inner = markup.rfind("<", start + 1, close)  # "a < b <br>": the tag is the last "<"
        start = inner if inner >= 0 else start
        body = markup[start + 1:close].lstrip().lower()
        end = 1 if body.startswith("/") else 0
        while end < len(body) and body[end].isalnum():
            end += 1
        name = body[:end]
        if _quote_marker(name, body[end:]):
            out.append(markup[pos:start])
            break
        if name in _BREAK_TAGS:
            out.append(markup[pos:start])
            out.append("\n")
        else:
            out.append(markup[pos:close + 1])
        pos = close + 1
    return "".join(out)


def html_to_text(markup: str) -> str:
    """Visible text of an HTML mail body: quoted history cut, every tag dropped by nh3."""
    text = nh3.clean(_breaks_and_cut(markup), tags=set(),
                     clean_content_tags={"script", "style", "head", "title"})
    return html.unescape(text)


def _text_of(part: EmailMessage, limit: int) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError, AssertionError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        content = content.decode("utf-8", "replace") if isinstance(content, bytes) else ""
    content = content[:limit]  # cut before anything reads it, so work stays bounded
    return html_to_text(content) if part.get_content_subtype() == "html" else content


def _names_an_address(text: str, domain: str = "") -> bool:
    """Whether some word of `text` looks like an address (or names `domain`). Linear: a
    scan of words, no regular expression that can backtrack."""
    if domain and domain in text.lower():
        return True
    for word in text.split():
        local, at, host = word.strip("<>()[]\"',;:").rpartition("@")
        if at and local and "." in host.strip("."):
            return True
    return False


def _quoted_next(lines: list[str], start: int) -> bool:
    """Whether the first non-blank line from `start` on is quoted (or there is none)."""
    for line in lines[start:]:
        if line.strip():
            return line.lstrip().startswith(">")
    return True


def trim_reply(text: str, relay_domain: str = "") -> str:
    """The new text of a reply: quoted history, attribution lines and signature cut off.

    Each cue is strict enough not to eat real text: an Outlook header block counts only
    with an address or a Sent:/Date: line in it; an "On … wrote:" line only when quoted
    lines (or nothing) follow it or it names an address; "-- " always starts a signature,
    a lone "--" only when a few lines at most follow it.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if _SEPARATOR.match(line) or _SIGNATURE.match(line) or line == "-- ":
            break
        if line.strip() == "--" and len(lines) - i - 1 <= SHORT_SIGNATURE_LINES:
            break
        quoted = line.lstrip().startswith(">")
        wrapped = following.rstrip().endswith(":") and not quoted
        attribution = None
        if any(p.match(line) for p in _ATTRIBUTION):
            attribution = (line, i + 1)
        elif wrapped and any(p.match(line + " " + following) for p in _ATTRIBUTION):
            attribution = (line + " " + following, i + 2)
        if attribution is not None and (_quoted_next(lines, attribution[1])
                                        or _names_an_address(attribution[0], relay_domain)):
            break
        if _OUTLOOK_HEADER.match(line) and any(_OUTLOOK_NEXT.match(n) for n in lines[i + 1:i + 3]):
            block = lines[i:i + 5]
            if any(_OUTLOOK_SENT.match(n) for n in block) or _names_an_address(
                    "\n".join(block), relay_domain):
                break
        if quoted:
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


def display_name(text: str) -> str:
    """A sender's display name fit to show: one line, no address in it, bounded."""
    words = _CONTROL.sub(" ", text).split()
    name = " ".join(w for w in words if "@" not in w).strip(" \"'<>")
    return name[:100]


def clean_text(text: str) -> str:
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n"))
    return _CONTROL.sub("", text.replace("\t", "    "))


def _embedded_bytes(part: EmailMessage) -> bytes:
    """The bytes of a mail attached whole (message/rfc822). Some clients base64 it, which RFC
    2046 forbids and the parser then reads as a mail with no header: undone here."""
    inner = part.get_payload(0)
    if not isinstance(inner, Message):
        raise InvalidInput.one("message", "an attached mail cannot be read")
    try:
        data = inner.as_bytes(policy=policy.default.clone(refold_source="none"))
    except Exception:  # the generator fails on hostile headers; the old one writes them raw
        data = inner.as_bytes(policy=policy.compat32)
    encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    try:
        if encoding == "base64":
            return base64.b64decode(data)
        if encoding == "quoted-printable":
            return quopri.decodestring(data)
    except (ValueError, binascii.Error):
        pass  # not encoded after all: the bytes as parsed are the best there is
    return data


def extract(message: EmailMessage, *, max_text_chars: int = 1 << 20) -> Extracted:
    """Subject, body text and attachments of a mail, or InvalidInput when it is unreadable.
    The text of a part is cut at `max_text_chars` before it is read. A mail attached whole
    (forwarded) is one attachment, message/rfc822, not the parts inside it."""
    try:
        parts = list(message.walk())
        if len(parts) > MAX_PARTS:
            raise InvalidInput.one("message", f"more than {MAX_PARTS} MIME parts")
        inside: set[int] = set()  # parts of a mail attached whole
        for part in parts:
            if part.get_content_type() in _ATTACHED_MAIL and id(part) not in inside:
                inside.update(id(p) for p in part.walk() if p is not part)
        body_part = message.get_body(preferencelist=("plain", "html"))
        text = _text_of(body_part, max_text_chars) if isinstance(body_part, EmailMessage) \
            else ""
        if body_part is None and not message.is_multipart():
            # A multipart type without a usable boundary: its payload is all there is.
            body_part = message
            payload = message.get_payload(decode=True)
            text = payload[:max_text_chars].decode("utf-8", "replace") \
                if isinstance(payload, bytes) else ""
        attachments: list[Part] = []
        forwarded = 0
        for part in parts:
            if id(part) in inside or part is body_part:
                continue
            filename = part.get_filename()
            if part.get_content_type() in _ATTACHED_MAIL and isinstance(part, EmailMessage) \
                    and part.is_multipart():
                forwarded += 1
                name = clean_text(filename or "")[:200].strip() or \
                    f"forwarded-message-{forwarded}.eml"
                attachments.append(Part(name, "message/rfc822", _embedded_bytes(part)))
                continue
            if part.is_multipart():
                continue
            disposition = part.get_content_disposition()
            if part.get_content_maintype() == "text" and not filename and disposition != \
                    "attachment":
                continue  # an alternative rendering of the body
            data = part.get_payload(decode=True)
            if not isinstance(data, bytes):
                continue
            name = clean_text(filename or "")[:200].strip() or \
                f"part-{len(attachments) + 1}.{part.get_content_subtype()}"
            attachments.append(Part(name, part.get_content_type(), data,
                                    part.get_content_charset() or ""))
    except InvalidInput:
        raise
    except (ValueError, LookupError, TypeError, IndexError, AttributeError, UnicodeError,
            AssertionError, RecursionError, HeaderParseError):
        raise InvalidInput.one("message", "the MIME structure cannot be read") from None
    subject = clean_text(header(message, "Subject"))[:255].strip()
    return Extracted(subject, clean_text(text), tuple(attachments))


# ---------------------------------------------------------------------- one mail, read once

_FIELDS = ("auto-submitted", "precedence", "x-autoreply", "x-autorespond", "in-reply-to",
           "references", "message-id")
_ADDRESS_FIELDS = ("from", "sender", "reply-to", "to", "cc")


@dataclass(frozen=True)
class ReadMail:
    """All the gateway uses of one incoming mail, as plain data: read once, in a worker
    process, whatever the number of recipients."""

    content_type: str
    received: int
    fields: dict[str, str]  # clean single values of _FIELDS, by lower-case name
    addresses: dict[str, tuple[tuple[str, str], ...]]  # (name, address) of _ADDRESS_FIELDS
    authentication_results: tuple[str, ...]  # every Authentication-Results, topmost first
    text: Extracted | None  # None when the MIME structure cannot be read
    problem: str = ""  # why `text` is None
    bounce_status: str = ""  # a bounce's enhanced status code (RFC 3463), see services.dsn

    def get(self, name: str) -> str:
        return self.fields.get(name.lower(), "")


def _addresses(message: EmailMessage, name: str) -> tuple[tuple[str, str], ...]:
    values = [str(v) for v in message.get_all(name) or []]
    return tuple((n, a) for n, a in getaddresses(values) if a)


def read_mail(raw: bytes, *, max_text_chars: int, bounce: bool = False) -> ReadMail:
    """Check, parse and read one mail. Raises TooLarge or InvalidInput for mail over the
    header limits and MailRefused for headers the parser cannot read (RecursionError on
    "((((…" among them); never anything else."""
    check_raw(raw)
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        addresses = {name: _addresses(message, name) for name in _ADDRESS_FIELDS}
        results = tuple(str(v) for v in message.get_all("Authentication-Results") or [])
        received = len(message.get_all("Received") or [])
        content_type = message.get_content_type()
    except Exception:  # the parser's whole range of failures on hostile headers
        raise MailRefused("a header of the message cannot be read", "5.6.0") from None
    fields = {name: header(message, name) for name in _FIELDS}
    text: Extracted | None = None
    problem = ""
    try:
        text = extract(message, max_text_chars=max_text_chars)
    except InvalidInput as exc:
        problem = "; ".join(p.message for p in exc.problems)
    status = ""
    if bounce:
        try:
            status = bounce_status(message)
        except Exception:  # a detector choking on hostile input is no reason to fail
            status = ""
    return ReadMail(content_type, received, fields, addresses, results, text, problem,
                    status)
