"""What TradeMail keeps of an incoming mail: its text (HTML made safe text by nh3), with
quoted history and signatures trimmed, and its attachments. Parsing never trusts the mail."""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from email.message import EmailMessage, Message

import nh3

from trademail.errors import InvalidInput, TooLarge

MAX_HEADER_BYTES = 64 * 1024
MAX_HEADERS = 500
MAX_PARTS = 200

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
_OUTLOOK_NEXT = re.compile(r"^\s*\*?(Sent|Date|Gesendet|Envoyé|To|An|À|Subject)\s*:", re.I)
_SIGNATURE = re.compile(
    r"^(-- ?|Sent from my (iPhone|iPad|Android|phone|mobile).*|Get Outlook for (iOS|Android).*|"
    r"Sent from (Mail|Outlook) for .*|Envoyé de mon iPhone.*|Von meinem iPhone gesendet.*)$",
    re.I)
_BLOCK_TAGS = re.compile(r"<\s*(br|/p|/div|/li|/tr|/h[1-6]|/blockquote|hr)\b[^>]*>", re.I)
_QUOTE_BLOCKS = [
    # Gmail's quote container, Apple's and Thunderbird's cited blockquotes, Outlook's reply
    # header block and everything after it.
    re.compile(r"<div[^>]*class=\"?[^\">]*gmail_quote.*", re.I | re.S),
    re.compile(r"<blockquote[^>]*type=\"?cite.*", re.I | re.S),
    re.compile(r"<div[^>]*id=\"?(divRplyFwdMsg|appendonsend|mail-editor-reference-message).*",
               re.I | re.S),
    re.compile(r"<hr[^>]*id=\"?stopSpelling.*", re.I | re.S),
]
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Part:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Extracted:
    subject: str
    body: str
    attachments: tuple[Part, ...]


def check_headers(raw: bytes) -> None:
    """Refuse mail whose header section is huge or has absurdly many fields."""
    end = raw.find(b"\r\n\r\n")
    end = raw.find(b"\n\n") if end < 0 else end
    head = raw if end < 0 else raw[:end]
    if len(head) > MAX_HEADER_BYTES:
        raise TooLarge.one("headers", f"the header section is larger than "
                                      f"{MAX_HEADER_BYTES} bytes")
    fields = sum(1 for line in head.split(b"\n") if line[:1] not in (b" ", b"\t", b""))
    if fields > MAX_HEADERS:
        raise TooLarge.one("headers", f"more than {MAX_HEADERS} header fields")


def header(message: Message, name: str) -> str:
    """A header as clean text, however broken its encoding; empty when missing."""
    try:
        value = message.get(name)
    except (ValueError, LookupError, TypeError, IndexError, AttributeError):
        return ""
    if value is None:
        return ""
    return " ".join(_CONTROL.sub(" ", str(value)).split())


def html_to_text(markup: str) -> str:
    """Visible text of an HTML mail body: quoted history cut, every tag dropped by nh3."""
    for quote in _QUOTE_BLOCKS:
        markup = quote.sub("", markup)
    markup = _BLOCK_TAGS.sub("\n", markup)
    text = nh3.clean(markup, tags=set(), clean_content_tags={"script", "style", "head", "title"})
    return html.unescape(text)


def _text_of(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError, AssertionError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        content = content.decode("utf-8", "replace") if isinstance(content, bytes) else ""
    return html_to_text(content) if part.get_content_subtype() == "html" else content


def trim_reply(text: str) -> str:
    """The new text of a reply: quoted history, attribution lines and signature cut off."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        following = lines[i + 1] if i + 1 < len(lines) else ""
        wrapped = following.rstrip().endswith(":") and not line.lstrip().startswith(">")
        if (_SEPARATOR.match(line) or _SIGNATURE.match(line)
                or any(p.match(line) for p in _ATTRIBUTION)
                or (wrapped and any(p.match(line + " " + following) for p in _ATTRIBUTION))
                or (_OUTLOOK_HEADER.match(line) and any(
                    _OUTLOOK_NEXT.match(n) for n in lines[i + 1:i + 3]))):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


def scrub(text: str, addresses: list[str], replacement: str) -> str:
    """Replace every spelling of these addresses (any case, in mailto: or <…>) in `text`."""
    for address in addresses:
        if address:
            text = re.sub(re.escape(address), replacement, text, flags=re.I)
    return text


def display_name(text: str) -> str:
    """A sender's display name fit to show: one line, no address in it, bounded."""
    name = " ".join(_CONTROL.sub(" ", text).split())
    name = re.sub(r"\S+@\S+", "", name).strip(" \"'<>")
    return name[:100]


def clean_text(text: str) -> str:
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n"))
    return _CONTROL.sub("", text.replace("\t", "    "))


def extract(message: EmailMessage, *, trim: bool) -> Extracted:
    """Subject, body text and attachments of a mail, or InvalidInput when it is unreadable."""
    try:
        parts = list(message.walk())
        if len(parts) > MAX_PARTS:
            raise InvalidInput.one("message", f"more than {MAX_PARTS} MIME parts")
        body_part = message.get_body(preferencelist=("plain", "html"))
        text = _text_of(body_part) if isinstance(body_part, EmailMessage) else ""
        if body_part is None and not message.is_multipart():
            # A multipart type without a usable boundary: its payload is all there is.
            body_part = message
            payload = message.get_payload(decode=True)
            text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        attachments: list[Part] = []
        for part in parts:
            if part.is_multipart() or part is body_part:
                continue
            disposition = part.get_content_disposition()
            filename = part.get_filename()
            if part.get_content_maintype() == "text" and not filename and disposition != \
                    "attachment":
                continue  # an alternative rendering of the body
            data = part.get_payload(decode=True)
            if not isinstance(data, bytes):
                continue
            name = clean_text(filename or "")[:200].strip() or \
                f"part-{len(attachments) + 1}.{part.get_content_subtype()}"
            attachments.append(Part(name, part.get_content_type(), data))
    except InvalidInput:
        raise
    except (ValueError, LookupError, TypeError, IndexError, AttributeError, UnicodeError,
            AssertionError):
        raise InvalidInput.one("message", "the MIME structure cannot be read") from None
    body = clean_text(text)
    if trim:
        body = trim_reply(body)
    subject = clean_text(header(message, "Subject"))[:255].strip()
    return Extracted(subject, body, tuple(attachments))
