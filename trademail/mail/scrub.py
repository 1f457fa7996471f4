"""A reply by mail with the member's own address taken out, in every spelling and every part.

Text is rewritten: every spelling of the address (see `forms`) becomes the alias, and
text parts are stored as UTF-8. Forwarded mail is rewritten header by header and part by part,
and winmail.dat is unpacked into its attachments (its own body, Outlook's rich text, never goes
on). A part that names the address and cannot be rewritten (keys, signatures, certificates,
archives, documents, images, a file uuencoded in text, or a rewrite that still names it) is
removed, and the reader is told so in the body. Nothing here raises on hostile input: what
cannot be read is removed.

Pure functions of their input, meant to run in a worker process (see `reader`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import Any

from trademail.errors import InvalidInput, MailRefused, TooLarge
from trademail.mail.bounds import INSPECT_SECONDS, Budget, TooSlow
from trademail.mail.extract import MAX_PARTS, clean_text
from trademail.mail.forms import Forms, forms, normalised, spans
from trademail.mail.headers import DEFAULT
from trademail.mail.parse import check_raw
from trademail.mail.scan import (
    container_kind,
    decode_text,
    legacy_text,
    mentions,
    textual,
)
from trademail.mail.tnef import TNEF_MAGIC, read_winmail
from trademail.mail.uuencoded import uuencoded
from trademail.services.incoming import Extracted, Part, Scrubbed

REMOVED_NOTICE = ("[TradeMail: an attachment was removed because it contained the sender's "
                  "email address: {}]")
TEXT_REMOVED = ("[TradeMail: the text was removed because it contained the sender's email "
                "address]")
SUBJECT_REMOVED = "[subject removed]"
# Longest text rewritten; a longer part naming the address is removed.
MAX_TEXT_CHARS = 16 * 1024 * 1024
# How deep forwarded mail may nest inside forwarded mail.
MAX_MAIL_DEPTH = 8
# Rewriting is checked, and done again if a spelling shows only once another is replaced.
REWRITE_ROUNDS = 3

_TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
_MAIL_TYPES = frozenset({"message/rfc822", "message/global"})
# Parts never rewritten, only kept or removed: their bytes are signed, compressed or laid out.
_SEALED_TYPES = frozenset({
    "application/pgp-keys", "application/pgp-signature", "application/pgp-encrypted",
    "application/pkcs7-signature", "application/x-pkcs7-signature", "application/pkcs7-mime",
    "application/x-pkcs7-mime", "application/pkcs10", "application/pkix-cert",
    "application/x-x509-ca-cert", "application/x-x509-user-cert", "application/x-pem-file",
    "application/x-pkcs12", "application/pdf", "application/zip", "application/gzip",
    "application/x-gzip", "application/x-zip-compressed", "application/x-7z-compressed",
    "application/x-rar-compressed", "application/vnd.rar", "application/x-tar",
    "application/x-bzip2", "application/x-xz", "application/msword",
    "application/vnd.ms-excel", "application/vnd.ms-powerpoint", "application/vnd.ms-outlook",
})
_SEALED_PREFIXES = ("image/", "audio/", "video/", "font/", "model/",
                    "application/vnd.openxmlformats", "application/vnd.oasis.opendocument")
_SEALED_EXTENSIONS = frozenset({
    "asc", "gpg", "pgp", "key", "sig", "p7s", "p7m", "p7c", "p7b", "cer", "crt", "der", "pem",
    "p12", "pfx", "csr", "pdf", "zip", "gz", "tgz", "bz2", "xz", "7z", "rar", "tar", "docx",
    "xlsx", "pptx", "odt", "ods", "odp", "doc", "xls", "ppt", "msg", "png", "jpg", "jpeg",
    "gif", "webp", "tif", "tiff", "bmp", "heic",
})
_TEXT_TYPES = frozenset({
    "application/vcard", "application/x-vcard", "application/json", "application/xml",
    "application/ics", "application/rtf", "application/csv", "application/x-csv",
    "application/javascript", "application/x-sh", "application/mbox",
})
_TEXT_EXTENSIONS = frozenset({
    "txt", "text", "csv", "tsv", "vcf", "vcard", "ics", "ical", "ifb", "vcs", "htm", "html",
    "xhtml", "xml", "json", "md", "log", "ini", "cfg", "conf", "yaml", "yml", "rtf", "mbox",
})
_TYPES_BY_EXTENSION = {
    "txt": "text/plain", "csv": "text/csv", "htm": "text/html", "html": "text/html",
    "vcf": "text/vcard", "ics": "text/calendar", "eml": "message/rfc822", "pdf":
    "application/pdf", "zip": "application/zip", "png": "image/png", "jpg": "image/jpeg",
    "jpeg": "image/jpeg", "gif": "image/gif", "xml": "application/xml", "rtf": "application/rtf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def mentions_address(data: bytes | str, addresses: Sequence[str]) -> bool:
    """Whether `data` names one of `addresses` in any spelling, inside any container that
    can be opened; True too when it cannot be fully inspected within the bounds."""
    return mentions(data, forms(addresses))


def scrub_mail(text: Extracted, addresses: Sequence[str], replacement: str, *,
               cautious: bool = True) -> Scrubbed:
    """The mail with every spelling of `addresses` replaced by `replacement` where the
    format allows, and the parts that still name one removed (a line in the body says so).
    `cautious`: a part that cannot be fully inspected counts as naming one (for a member's
    own addresses); otherwise only what is found counts (for the addresses outside mail
    came from, which are the sender's own to show in the files they send)."""
    scrubber = _Scrubber(forms(addresses), replacement, cautious=cautious)
    try:
        subject = scrubber.line(text.subject, SUBJECT_REMOVED)[:255]
        attachments = [kept for part in text.attachments for kept in scrubber.part(part)]
        body = scrubber.line(text.body, TEXT_REMOVED)
    except TooSlow:
        raise MailRefused("too_complex") from None
    if scrubber.removed:
        notices = "\n".join(REMOVED_NOTICE.format(name) for name in scrubber.removed)
        body = f"{body}\n\n{notices}" if body else notices
    return Scrubbed(subject, body, tuple(attachments), tuple(scrubber.removed))


class _TooComplex(Exception):
    """A forwarded mail that cannot be rewritten within the bounds."""


@dataclass
class _Rewrite:
    """The progress of rewriting one forwarded mail."""

    label: str
    parts: int = 0
    changed: bool = False
    removed: list[str] = field(default_factory=list)


class _Scrubber:
    def __init__(self, found: Forms, replacement: str, *, cautious: bool = True) -> None:
        self.forms = found
        self.replacement = replacement
        self.cautious = cautious
        self.removed: list[str] = []
        self.deadline = time.process_time() + INSPECT_SECONDS  # for all of the mail

    def _mentions(self, data: bytes | str, charset: str = "") -> bool:
        return mentions(data, self.forms, charset=charset, unreadable=self.cautious,
                        budget=Budget(deadline=self.deadline))

    # ------------------------------------------------------------------ text

    def _rewrite(self, text: str) -> str | None:
        """`text` with every spelling of the addresses replaced, as written; None when one
        is still there (inside base64, say)."""
        for _ in range(REWRITE_ROUNDS):
            if not self._mentions(text):
                return text
            found = spans(text, self.forms) if len(text) <= MAX_TEXT_CHARS else []
            if not found:
                return None
            pieces, position = [], 0
            for start, end in found:
                pieces += [text[position:start], self.replacement]
                position = end
            text = "".join([*pieces, text[position:]])
        return None if self._mentions(text) else text

    def line(self, text: str, fallback: str) -> str:
        """Text that cannot be removed (a subject, the body, a name): rewritten as written,
        else in its decoded form, else `fallback`. A file uuencoded in it that names an
        address is taken out (and the reader told)."""
        text, dropped = self._without_uuencoded(text, "")
        rewritten = self._rewrite(text)
        if rewritten is None and len(text) <= MAX_TEXT_CHARS:
            flat = self.forms.pattern.sub(lambda _match: self.replacement, normalised(text))
            rewritten = None if self._mentions(flat) else flat
        if rewritten is None:
            return fallback
        self.removed += dropped
        return rewritten

    def _without_uuencoded(self, text: str, inside: str) -> tuple[str, list[str]]:
        """`text` without the files uuencoded in it that name an address, and their labels."""
        if "begin " not in text:
            return text, []
        pieces, labels, position = [], [], 0
        for file in uuencoded(text):
            if self._mentions(file.data) or self._mentions(file.name):
                pieces.append(text[position:file.start])
                position = file.end
                name = self._filename(file.name)
                labels.append(f"{name} (in {inside})" if inside else name)
        return "".join([*pieces, text[position:]]), labels

    def _filename(self, name: str) -> str:
        clean = self.line(name, "")
        if not clean:
            extension = _extension(name)
            clean = "attachment" + (f".{extension}" if extension and not self._mentions(
                extension) else "")
        return clean_text(clean)[:200].strip() or "attachment"

    # ------------------------------------------------------------------ parts

    def part(self, part: Part, depth: int = 0, inside: str = "") -> list[Part]:
        """What is kept of one part: itself (renamed), rewritten, unpacked, or nothing."""
        name = self._filename(part.filename)
        label = f"{name} (in {inside})" if inside else name
        kind = _kind(part)
        if kind == "tnef" and depth == 0:
            unpacked = self._winmail(part.data, label, depth)
            if unpacked is not None:
                return unpacked
        if kind == "mail":
            rewritten = self._mail(part.data, depth, label)
            if rewritten is not None:
                return [Part(name, part.content_type, rewritten)]
            kind = "text"
        if not self._mentions(part.data, part.charset):
            return [replace(part, filename=name)]
        if kind == "text":
            text, dropped = self._without_uuencoded(_text(part) or "", label)
            rewritten_text = self._rewrite(text) if text else None
            if rewritten_text is not None:
                data = rewritten_text.encode("utf-8")
                if not self._mentions(data):
                    self.removed += dropped
                    return [Part(name, part.content_type, data, "utf-8")]
        self.removed.append(label)
        return []

    def _winmail(self, data: bytes, label: str, depth: int) -> list[Part] | None:
        """What is kept of a winmail.dat that carries files: the files, each scrubbed (only
        Outlook reads winmail.dat, so what it carries goes on as attachments). Its bodies
        (Outlook's rich text, with the signature) never go on; when one names the address,
        the reader and the sender are told it was removed. None when it carries no files or
        cannot be read: then it is kept or removed whole, as any part."""
        winmail = read_winmail(data)
        if winmail is None or not winmail.files:
            return None
        if (winmail.rtf_unread and self.cautious) or any(
                self._mentions(body) for body in winmail.bodies):
            self.removed.append(label)
        kept = []
        for number, (written, content) in enumerate(winmail.files, start=1):
            name = clean_text(written)[:200].strip() or f"winmail-{number}"
            kept += self.part(Part(name, _TYPES_BY_EXTENSION.get(
                _extension(name), "application/octet-stream"), content), depth + 1)
        return kept

    # ------------------------------------------------------------------ forwarded mail

    def _mail(self, data: bytes, depth: int, label: str) -> bytes | None:
        """A forwarded mail rewritten, or None when it cannot be (then it is read as text)."""
        if depth >= MAX_MAIL_DEPTH:
            return None
        try:
            check_raw(data)
            message = BytesParser(policy=DEFAULT).parsebytes(data)
        except (TooLarge, InvalidInput):
            return None
        except Exception:  # the parser's whole range of failures on hostile headers
            return None
        if not isinstance(message, EmailMessage) or not message.keys():
            return None
        progress = _Rewrite(label)
        try:
            self._entity(message, depth + 1, progress)
            rewritten = message.as_bytes() if progress.changed else data
        except _TooComplex:
            return None
        except TooSlow:
            raise
        except Exception:  # the email package fails on hostile structure in many ways
            return None
        if self._mentions(rewritten):
            return None
        self.removed += progress.removed
        return rewritten

    def _entity(self, entity: Message, depth: int, progress: _Rewrite) -> None:
        progress.parts += 1
        if progress.parts > MAX_PARTS or depth > MAX_MAIL_DEPTH:
            raise _TooComplex()
        self._headers(entity, progress)
        if entity.is_multipart():
            inner = depth + 1 if entity.get_content_maintype() == "message" else depth
            for attribute in ("preamble", "epilogue"):
                value = getattr(entity, attribute)
                clean = self.line(value, "") if value else value
                if clean != value:
                    setattr(entity, attribute, clean)
                    progress.changed = True
            for sub in entity.get_payload():
                if not isinstance(sub, Message):
                    raise _TooComplex()
                self._entity(sub, inner, progress)
            return
        self._leaf(entity, depth, progress)

    def _headers(self, entity: Message, progress: _Rewrite) -> None:
        fields = entity.items()
        cleaned: list[tuple[str, Any]] = []
        changed = False
        for name, value in fields:
            text = str(value)
            clean = self.line(text, "")
            if clean == text:
                cleaned.append((name, value))  # as parsed: written back as it came
                continue
            changed = True
            if clean:  # a field that cannot be rewritten is dropped
                cleaned.append((name, " ".join(clean.split())))
        if not changed:
            return
        for name in dict.fromkeys(name for name, _ in fields):
            del entity[name]
        for name, value in cleaned:
            entity[name] = value
        progress.changed = True

    def _leaf(self, entity: Message, depth: int, progress: _Rewrite) -> None:
        data = entity.get_payload(decode=True)
        if not isinstance(data, bytes) or not isinstance(entity, EmailMessage):
            return
        filename = entity.get_filename()
        part = Part(filename or f"part.{entity.get_content_subtype()}",
                    entity.get_content_type(), data, entity.get_content_charset() or "")
        mark = len(self.removed)
        kept = self.part(part, depth, progress.label)
        progress.removed += self.removed[mark:]
        del self.removed[mark:]
        if kept and kept[0].data == data:
            return
        disposition = entity.get_content_disposition()
        if kept:
            maintype, subtype = part.content_type.split("/", 1)
            entity.set_content(kept[0].data, maintype, subtype, disposition=disposition,
                               filename=filename,
                               params={"charset": "utf-8"} if kept[0].charset else None)
        else:
            entity.set_content(REMOVED_NOTICE.format(part.filename), subtype="plain",
                               charset="utf-8")
        progress.changed = True


def _extension(filename: str) -> str:
    stem, dot, extension = filename.strip().lower().rpartition(".")
    return extension.strip() if dot and stem else ""


def _declared_text(part: Part) -> bool:
    content_type = part.content_type.lower()
    return content_type.startswith("text/") or content_type in _TEXT_TYPES or \
        content_type.endswith(("+xml", "+json"))


def _kind(part: Part) -> str:
    """tnef, mail, text or binary: how a part can be scrubbed."""
    content_type, extension = part.content_type.lower(), _extension(part.filename)
    if content_type in _TNEF_TYPES or part.filename.strip().lower() == "winmail.dat" or \
            part.data.startswith(TNEF_MAGIC):
        return "tnef"
    if content_type in _MAIL_TYPES or extension == "eml":
        return "mail"
    if content_type in _SEALED_TYPES or content_type.startswith(_SEALED_PREFIXES) or \
            extension in _SEALED_EXTENSIONS or container_kind(part.data) not in (
                "", "zip-appended"):
        return "binary"
    return "text" if _text(part) is not None else "binary"


def _text(part: Part) -> str | None:
    """The text of a part that is text: declared so (then, when no charset reads it cleanly,
    in a legacy one), named so (when it reads as text), or decoding cleanly."""
    text = decode_text(part.data, part.charset)
    if text is not None:
        return text
    legacy = legacy_text(part.data)
    if _declared_text(part) or (_extension(part.filename) in _TEXT_EXTENSIONS and
                                textual(legacy)):
        return legacy
    return None
