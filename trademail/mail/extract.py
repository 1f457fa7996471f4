"""What TradeMail keeps of an incoming mail's MIME structure: its subject, its body as text
(HTML made safe text by nh3, quoted history cut at the markup that starts it), and its
attachments, a forwarded mail as one. Parsing never trusts the mail: every part's text is
capped before it is read, and nothing here can backtrack.
"""

from __future__ import annotations

import base64
import binascii
import html
import quopri
import re
import unicodedata
from email import policy
from email.errors import HeaderParseError
from email.header import decode_header
from email.message import EmailMessage, Message

import nh3

from trademail.errors import InvalidInput
from trademail.mail.headers import DEFAULT
from trademail.mail.scan import decode_text
from trademail.services.incoming import Extracted, Part

MAX_PARTS = 200
# Tags whose end makes a line break in the text.
_BREAK_TAGS = frozenset({"br", "hr", "/p", "/div", "/li", "/tr", "/blockquote",
                         "/h1", "/h2", "/h3", "/h4", "/h5", "/h6"})
# Gmail's quote container, Apple's and Thunderbird's cited blockquotes, Outlook's reply
# header block: (tag, a marker in its attributes with quotes removed, lower case).
_QUOTE_TAGS = (("div", "gmail_quote"), ("blockquote", "type=cite"),
               ("div", "id=divrplyfwdmsg"), ("div", "id=appendonsend"),
               ("div", "id=mail-editor-reference-message"), ("hr", "id=stopspelling"))
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Subjects and file names are kept this long until the scrubber has read them whole and
# cut them to what is stored (255 and 200): a cut here could halve an address it must find.
MAX_NAME_CHARS = 2048
MAX_CONTENT_TYPE_CHARS = 127
_CUT_WINDOW = 4096  # how far back a cut looks for a place where no address is cut in two
_BLANK = re.compile(r"\s")
# A mail attached whole: kept as one attachment, for its parts only make sense together.
_ATTACHED_MAIL = frozenset({"message/rfc822", "message/global"})


def header(message: Message, name: str) -> str:
    """A header as clean text, however broken its encoding; empty when missing or when
    even its source cannot be read. Control characters go (NULs between the letters of an
    address must not turn into spaces that hide it)."""
    try:
        value = message.get(name)
        text = "" if value is None else str(value)
        if "\ufffd" in text:
            text = _mended_header(message, name) or text
    except Exception:  # the header parser raises anything on hostile input, RecursionError too
        text = next(iter(lenient_values(message, name)), "")
    return " ".join(_CONTROL.sub("", text).split())


def raw_values(message: Message, name: str) -> list[str]:
    """The header's values as the mail wrote them, encoded words and folding and all."""
    return [v for k, v in message.raw_items() if k.lower() == name.lower() and isinstance(v, str)]


def lenient_values(message: Message, name: str) -> list[str]:
    """The header's values read as far as they can be, for when the email package gives up
    on one (an encoded word that decodes to a line break or half a UTF-16 pair)."""
    return [lenient_text(value) for value in raw_values(message, name)]


def lenient_text(value: str) -> str:
    """Header text with its encoded words decoded leniently: what a charset cannot read,
    and lone surrogates, become U+FFFD."""
    try:
        chunks = decode_header(value)
    except Exception:  # decode_header's own failures on hostile input
        return _SURROGATE.sub("\ufffd", value)
    text = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            text.append(chunk)
            continue
        try:
            text.append(chunk.decode(charset or "raw-unicode-escape", "replace"))
        except (LookupError, UnicodeError):
            text.append(chunk.decode("utf-8", "replace"))
    return _SURROGATE.sub("\ufffd", "".join(text))


def _mended_header(message: Message, name: str) -> str:
    """A header in raw UTF-8 that is not clean read again: folded inside a character, it
    reads cleanly once unfolded there (see `decode_text`). Empty when it does not."""
    raw = next((v for k, v in message.raw_items() if k.lower() == name.lower()), None)
    if not isinstance(raw, str):
        return ""
    text = decode_text(raw.encode("utf-8", "surrogateescape"), "utf-8")
    return "" if text is None else str(message.policy.header_fetch_parse(name, text))


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
    if "\ufffd" in content:
        content = _cleaner(part, content, limit)
    content = cut(content, limit)  # before anything reads it, so work stays bounded
    return html_to_text(content) if part.get_content_subtype() == "html" else content


def cut(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters where no address is cut in two, spelled
    out ("name at domain dot com") or not: at the last line break near the limit, else the
    last tag boundary, else the last blank. Half an address is one the scrubber cannot find."""
    if len(text) <= limit:
        return text
    text = text[:limit]
    tail = text[-_CUT_WINDOW:]
    for end in (tail.rfind("\n"), max(tail.rfind("<"), tail.rfind(">")),
                max((m.start() for m in _BLANK.finditer(tail)), default=-1)):
        if end >= 0:
            return text[:len(text) - len(tail) + end]
    return text[:len(text) - len(tail)]


def _cleaner(part: Message, content: str, limit: int) -> str:
    """Text that was not clean in its charset read again: a line folded inside a character
    (calendar and card clients do it) reads cleanly once unfolded there (see `decode_text`).
    `content` as it is when it does not."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return content
    clean = decode_text(payload[:limit * 4], part.get_content_charset() or "")
    return clean if clean is not None else content


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
        data = inner.as_bytes(policy=DEFAULT.clone(refold_source="none"))
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


def _inside_attached_mails(parts: list[EmailMessage]) -> set[int]:
    """The ids of the parts of every mail attached whole, which are not parts of this one."""
    inside: set[int] = set()
    for part in parts:
        if part.get_content_type() in _ATTACHED_MAIL and id(part) not in inside:
            inside.update(id(p) for p in part.walk() if p is not part)
    return inside


def _body(message: EmailMessage, max_text_chars: int) -> tuple[Message | None, str]:
    """The part that is the body, and its text cut at `max_text_chars`."""
    body_part = message.get_body(preferencelist=("plain", "html"))
    text = _text_of(body_part, max_text_chars) if isinstance(body_part, EmailMessage) \
        else ""
    if body_part is None and not message.is_multipart():
        # A multipart type without a usable boundary: its payload is all there is.
        payload = message.get_payload(decode=True)
        text = payload[:max_text_chars + _CUT_WINDOW].decode("utf-8", "replace") \
            if isinstance(payload, bytes) else ""
        if "\ufffd" in text:
            text = _cleaner(message, text, max_text_chars)
        return message, cut(text, max_text_chars)
    return body_part, text


def _name(filename: str | None) -> str:
    """A file's name on one line; cut only where no address could be cut in two (the
    scrubber reads it whole and shortens it after)."""
    return " ".join(clean_text(filename or "").split())[:MAX_NAME_CHARS]


def _attachments(parts: list[EmailMessage], inside: set[int],
                 body_part: Message | None) -> list[Part]:
    """Every part but the body, its alternative renderings and the parts of attached mails."""
    attachments: list[Part] = []
    forwarded = 0
    for part in parts:
        if id(part) in inside or part is body_part:
            continue
        filename = part.get_filename()
        if part.get_content_type() in _ATTACHED_MAIL and isinstance(part, EmailMessage) \
                and part.is_multipart():
            forwarded += 1
            name = _name(filename) or f"forwarded-message-{forwarded}.eml"
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
        content_type = part.get_content_type()
        if len(content_type) > MAX_CONTENT_TYPE_CHARS:
            content_type = "application/octet-stream"  # what it is cannot be told
        name = _name(filename) or f"part-{len(attachments) + 1}.{content_type.split('/')[1]}"
        attachments.append(Part(name, content_type, data, part.get_content_charset() or ""))
    return attachments


def extract(message: EmailMessage, *, max_text_chars: int = 1 << 20) -> Extracted:
    """Subject, body text and attachments of a mail, or InvalidInput when it is unreadable.
    The text of a part is cut at `max_text_chars` before it is read. A mail attached whole
    (forwarded) is one attachment, message/rfc822, not the parts inside it."""
    try:
        parts = list(message.walk())
        if len(parts) > MAX_PARTS:
            raise InvalidInput.one("message", f"more than {MAX_PARTS} MIME parts")
        inside = _inside_attached_mails(parts)
        body_part, text = _body(message, max_text_chars)
        attachments = _attachments(parts, inside, body_part)
    except InvalidInput:
        raise
    except (ValueError, LookupError, TypeError, IndexError, AttributeError, UnicodeError,
            AssertionError, RecursionError, HeaderParseError):
        raise InvalidInput.one("message", "the MIME structure cannot be read") from None
    subject = clean_text(header(message, "Subject"))[:MAX_NAME_CHARS].strip()
    return Extracted(subject, clean_text(text), tuple(attachments))
